"""Make audit rows append-only in the database itself, on PostgreSQL and SQLite.

UPDATE is allowed once per row and only to fill the chain fields that the sealer computes;
every other UPDATE, every DELETE and (PostgreSQL) TRUNCATE raises an error.
"""

from django.db import migrations

CONTENT_COLUMNS = [
    "id", "occurred_at", "actor_type", "actor_id", "actor_label", "action", "object_type",
    "object_id", "model_id", "chain", "payload",
]
CHAIN_COLUMNS = ["position", "prev_seq", "prev_hash", "hash", "sealed_at"]

PG_FORWARD = """
CREATE OR REPLACE FUNCTION audit_refuse_change() RETURNS trigger AS $$
BEGIN
    -- Nested IFs: PL/pgSQL does not promise to short-circuit AND, and other tables
    -- guarded by this function have no hash column.
    IF TG_OP = 'UPDATE' AND TG_TABLE_NAME = 'audit_auditevent' THEN
        IF OLD.hash IS NULL AND NEW.hash IS NOT NULL
           AND (to_jsonb(NEW) - ARRAY[{chain}]) = (to_jsonb(OLD) - ARRAY[{chain}]) THEN
            RETURN NEW;
        END IF;
    END IF;
    RAISE EXCEPTION 'audit records are append-only: % on % is refused', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER audit_event_append_only BEFORE UPDATE OR DELETE ON audit_auditevent
    FOR EACH ROW EXECUTE FUNCTION audit_refuse_change();
CREATE TRIGGER audit_event_no_truncate BEFORE TRUNCATE ON audit_auditevent
    FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse_change();
CREATE TRIGGER audit_checkpoint_append_only BEFORE UPDATE OR DELETE ON audit_auditcheckpoint
    FOR EACH ROW EXECUTE FUNCTION audit_refuse_change();
CREATE TRIGGER audit_checkpoint_no_truncate BEFORE TRUNCATE ON audit_auditcheckpoint
    FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse_change();
""".format(chain=", ".join(f"'{c}'" for c in CHAIN_COLUMNS))

PG_BACKWARD = """
DROP TRIGGER IF EXISTS audit_event_append_only ON audit_auditevent;
DROP TRIGGER IF EXISTS audit_event_no_truncate ON audit_auditevent;
DROP TRIGGER IF EXISTS audit_checkpoint_append_only ON audit_auditcheckpoint;
DROP TRIGGER IF EXISTS audit_checkpoint_no_truncate ON audit_auditcheckpoint;
DROP FUNCTION IF EXISTS audit_refuse_change();
"""

_unchanged = " AND ".join(f"NEW.{c} IS OLD.{c}" for c in CONTENT_COLUMNS)
SQLITE_FORWARD = [
    f"""CREATE TRIGGER audit_event_no_update BEFORE UPDATE ON audit_auditevent
    WHEN NOT (OLD.hash IS NULL AND NEW.hash IS NOT NULL AND {_unchanged})
    BEGIN SELECT RAISE(ABORT, 'audit records are append-only: UPDATE on audit_auditevent is refused'); END""",
    """CREATE TRIGGER audit_event_no_delete BEFORE DELETE ON audit_auditevent
    BEGIN SELECT RAISE(ABORT, 'audit records are append-only: DELETE on audit_auditevent is refused'); END""",
    """CREATE TRIGGER audit_checkpoint_no_update BEFORE UPDATE ON audit_auditcheckpoint
    BEGIN SELECT RAISE(ABORT, 'audit records are append-only: UPDATE on audit_auditcheckpoint is refused'); END""",
    """CREATE TRIGGER audit_checkpoint_no_delete BEFORE DELETE ON audit_auditcheckpoint
    BEGIN SELECT RAISE(ABORT, 'audit records are append-only: DELETE on audit_auditcheckpoint is refused'); END""",
]
SQLITE_BACKWARD = [
    "DROP TRIGGER IF EXISTS audit_event_no_update",
    "DROP TRIGGER IF EXISTS audit_event_no_delete",
    "DROP TRIGGER IF EXISTS audit_checkpoint_no_update",
    "DROP TRIGGER IF EXISTS audit_checkpoint_no_delete",
]


def forward(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        # A raw cursor: the function body has '%' placeholders of PL/pgSQL's own.
        with schema_editor.connection.cursor() as cursor:
            cursor.execute(PG_FORWARD)
    elif vendor == "sqlite":
        for statement in SQLITE_FORWARD:
            schema_editor.execute(statement)
    else:
        raise RuntimeError(f"Countersign's audit triggers support PostgreSQL and SQLite, not {vendor}.")


def backward(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        with schema_editor.connection.cursor() as cursor:
            cursor.execute(PG_BACKWARD)
    elif vendor == "sqlite":
        for statement in SQLITE_BACKWARD:
            schema_editor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [("audit", "0001_initial")]
    operations = [migrations.RunPython(forward, backward)]
