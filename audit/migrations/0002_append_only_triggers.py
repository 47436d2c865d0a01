"""Make audit rows append-only in the database itself, on PostgreSQL and SQLite.

UPDATE is allowed once per row and only to fill the chain fields that the sealer computes;
every other UPDATE, every DELETE and (PostgreSQL) TRUNCATE raises an error. The trigger
definitions live in ``audit/triggers.py``, which every later ``migrate`` also runs so that a
trigger SQLite drops while rebuilding a table comes back.
"""

from django.db import migrations

from audit.triggers import PG_TRIGGERS, SQLITE_TRIGGERS, append_only_triggers_install


def forward(apps, schema_editor):
    append_only_triggers_install(schema_editor.connection)


def backward(apps, schema_editor):
    connection = schema_editor.connection
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            for name in PG_TRIGGERS:
                table = "audit_auditevent" if "_event_" in name else "audit_auditcheckpoint"
                cursor.execute(f"DROP TRIGGER IF EXISTS {name} ON {table}")
            cursor.execute("DROP FUNCTION IF EXISTS audit_refuse_change()")
        elif connection.vendor == "sqlite":
            for name in SQLITE_TRIGGERS:
                cursor.execute(f"DROP TRIGGER IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [("audit", "0001_initial")]
    operations = [migrations.RunPython(forward, backward)]
