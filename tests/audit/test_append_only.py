"""Audit rows can't be changed or deleted through plain SQL: the database refuses."""

import pytest
from django.db import connection, transaction
from django.db.utils import DatabaseError

from audit.actors import Actor
from audit.models import AuditCheckpoint, AuditEvent
from audit.services import audit_chains_seal, audit_event_record

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
