"""Audit rows can't be changed or deleted through plain SQL: the database refuses."""

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import connection, transaction
from django.db.utils import DatabaseError

from audit.actors import Actor
from audit.models import AuditCheckpoint, AuditEvent
from audit.services import audit_chains_seal, audit_event_record
from audit.triggers import PG_TRIGGERS, SQLITE_TRIGGERS, append_only_triggers_present

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.django_db


@pytest.fixture
def event(db):
    return audit_event_record(
        action="model.changed", actor=Actor.system("test"), payload={"field": "name"}
    )


def run_sql(sql, params=()):
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, params)


def test_an_update_by_raw_sql_is_refused(event):
    with pytest.raises(DatabaseError, match="append-only"):
        run_sql("UPDATE audit_auditevent SET action = 'nothing.happened' WHERE id = %s", [event.id])
    event.refresh_from_db()
    assert event.action == "model.changed"


def test_a_delete_by_raw_sql_is_refused(event):
    with pytest.raises(DatabaseError, match="append-only"):
        run_sql("DELETE FROM audit_auditevent WHERE id = %s", [event.id])
    assert AuditEvent.objects.filter(pk=event.pk).exists()


def test_truncate_is_refused(event):
    with pytest.raises(DatabaseError, match="append-only"):
        run_sql("TRUNCATE audit_auditevent")
    assert AuditEvent.objects.count() == 1


def test_the_orm_cannot_delete_either(event):
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        AuditEvent.objects.filter(pk=event.pk).delete()


def test_the_sealer_may_fill_the_chain_fields_once_and_never_again(event):
    audit_chains_seal(grace_seconds=0)
    event.refresh_from_db()
    assert event.position == 1 and len(event.hash) == 64
    with pytest.raises(DatabaseError, match="append-only"):
        run_sql("UPDATE audit_auditevent SET hash = %s WHERE id = %s", ["0" * 64, event.id])


def test_filling_the_chain_fields_cannot_smuggle_in_a_content_change(event):
    with pytest.raises(DatabaseError, match="append-only"):
        run_sql(
            "UPDATE audit_auditevent SET hash = %s, position = 1, payload = '{}' WHERE id = %s",
            ["a" * 64, event.id],
        )


def test_checkpoints_are_append_only_too(event):
    audit_chains_seal(grace_seconds=0)
    checkpoint = AuditCheckpoint.objects.get()
    with pytest.raises(DatabaseError, match="append-only"):
        run_sql("UPDATE audit_auditcheckpoint SET head_hash = 'x' WHERE id = %s", [checkpoint.id])
    with pytest.raises(DatabaseError, match="append-only"):
        run_sql("DELETE FROM audit_auditcheckpoint")


def test_a_trigger_dropped_behind_the_trails_back_is_restored_by_the_next_migrate(event):
    run_sql("DROP TRIGGER audit_event_append_only ON audit_auditevent")
    assert "audit_event_append_only" not in append_only_triggers_present(connection)

    call_command("migrate", verbosity=0)

    assert append_only_triggers_present(connection) >= set(PG_TRIGGERS)
    with pytest.raises(DatabaseError, match="append-only"):
        run_sql("DELETE FROM audit_auditevent WHERE id = %s", [event.id])


def _manage(database: Path, *args: str) -> subprocess.CompletedProcess:
    env = dict(
        os.environ,
        DATABASE_URL=f"sqlite:///{database}",
        SECRET_KEY=os.environ.get("SECRET_KEY", "test-only-secret-key"),
    )
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True
    )


def test_on_the_sqlite_demo_database_a_table_rebuild_cannot_leave_the_trail_unguarded(tmp_path):
    """SQLite alters a table by copying it into a new one, which drops its triggers."""
    database = tmp_path / "demo.sqlite3"
    assert _manage(database, "migrate", "--verbosity", "0").returncode == 0
    with sqlite3.connect(database) as db:
        db.execute(
            "INSERT INTO audit_auditevent (occurred_at, actor_type, actor_id, actor_label, "
            "action, object_type, object_id, chain, payload, prev_hash) VALUES "
            "('2026-12-02', 'system', '', 'test', 'model.changed', '', '', 'global', '{}', '')"
        )
        db.execute("DROP TRIGGER audit_event_no_update")
        db.execute("DROP TRIGGER audit_event_no_delete")

    migrated = _manage(database, "migrate", "--verbosity", "0")

    assert migrated.returncode == 0, migrated.stderr
    assert "restored append-only triggers" in migrated.stderr
    with sqlite3.connect(database) as db:
        names = {
            row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type='trigger'")
        }
        assert names >= set(SQLITE_TRIGGERS)
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            db.execute("UPDATE audit_auditevent SET action = 'nothing.happened'")
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            db.execute("DELETE FROM audit_auditevent")
