"""Sealing chains events per model; verify_audit finds exactly what was altered underneath."""

from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection

from audit import chain as hashing
from audit.actors import Actor
from audit.models import AuditChain, AuditEvent
from audit.services import audit_chains_seal, audit_event_record

pytestmark = pytest.mark.django_db


def record(n, model=None, action="thing.happened"):
    return [
        audit_event_record(
            action=action,
            actor=Actor.system("test"),
            model=model,
            payload={"n": i, "note": "déjà vu"},
        )
        for i in range(n)
    ]


def verify(*args):
    out = StringIO()
    try:
        call_command("verify_audit", *args, stdout=out)
        code = 0
    except SystemExit as exit_:
        code = exit_.code
    return code, out.getvalue().splitlines()


def tamper(sql, params=()):
    """What a superuser (or a restored backup) can do underneath the application."""
    with connection.cursor() as cursor:
        cursor.execute("SET session_replication_role = replica")
        try:
            cursor.execute(sql, params)
        finally:
            cursor.execute("SET session_replication_role = origin")


def test_each_model_has_its_own_chain_and_events_about_no_model_share_one(loan_model, other_model):
    record(3, loan_model)
    record(2, other_model)
    record(2)
    results = {r.chain: r.sealed for r in audit_chains_seal(grace_seconds=0)}
    assert results["loan-default"] >= 3
    assert results["claim-fraud"] >= 2
    assert "_global" in results
    positions = list(
        AuditEvent.objects.filter(chain="loan-default")
        .order_by("position")
        .values_list("position", flat=True)
    )
    assert positions == list(range(1, len(positions) + 1))


def test_the_hash_links_each_event_to_the_one_before(loan_model):
    record(3, loan_model)
    audit_chains_seal(grace_seconds=0)
    events = list(AuditEvent.objects.filter(chain="loan-default").order_by("position"))
    assert events[0].prev_hash == hashing.GENESIS_HASH
    for before, after in zip(events, events[1:], strict=False):
        assert after.prev_hash == before.hash
        assert after.prev_seq == before.id
    head = AuditChain.objects.get(key="loan-default")
    assert head.head_hash == events[-1].hash


def test_sealing_twice_seals_nothing_new(loan_model):
    record(2, loan_model)
    audit_chains_seal(grace_seconds=0)
    assert audit_chains_seal(grace_seconds=0) == []


def test_events_younger_than_the_grace_period_wait(loan_model):
    record(2, loan_model)
    assert audit_chains_seal(grace_seconds=3600) == []
    assert AuditEvent.objects.unsealed().count() >= 2


def test_an_intact_trail_verifies_ok_with_counts_and_heads(loan_model):
    record(4, loan_model)
    audit_chains_seal(grace_seconds=0)
    record(1, loan_model)
    code, lines = verify()
    assert code == 0
    assert lines[0].startswith("OK")
    assert "1 not sealed yet" in lines[0]
    head = AuditChain.objects.get(key="loan-default").head_hash
    assert any("chain loan-default" in line and head in line for line in lines)


def test_a_changed_row_is_found_by_its_sequence_number(loan_model):
    events = record(5, loan_model)
    audit_chains_seal(grace_seconds=0)
    target = events[2]
    tamper("UPDATE audit_auditevent SET payload = '{\"n\": 99}' WHERE id = %s", [target.id])
    code, lines = verify()
    assert code == 1
    assert lines[0].startswith("FAILED")
    assert (
        f"seq {target.id}: changed (chain loan-default) its content no longer matches its hash"
        in lines
    )


def test_a_deleted_row_is_found_by_its_sequence_number(loan_model):
    events = record(5, loan_model)
    audit_chains_seal(grace_seconds=0)
    target = events[2]
    tamper("DELETE FROM audit_auditevent WHERE id = %s", [target.id])
    code, lines = verify("--model", "loan-default")
    assert code == 1
    assert any(line.startswith(f"seq {target.id}: missing (chain loan-default)") for line in lines)


def test_rows_cut_from_the_end_of_a_chain_are_found_by_the_checkpoint(loan_model):
    events = record(4, loan_model)
    audit_chains_seal(grace_seconds=0)
    last = AuditEvent.objects.filter(chain="loan-default").order_by("-position").first()
    tamper("DELETE FROM audit_auditevent WHERE id = %s", [last.id])
    code, lines = verify()
    assert code == 1
    assert any(line.startswith(f"seq {last.id}: missing") for line in lines)
    assert events


def test_an_inserted_row_is_found(loan_model):
    events = record(3, loan_model)
    audit_chains_seal(grace_seconds=0)
    original = AuditEvent.objects.get(pk=events[1].pk)
    tamper(
        "INSERT INTO audit_auditevent (occurred_at, actor_type, actor_id, actor_label, action,"
        " object_type, object_id, model_id, chain, payload, position, prev_seq, prev_hash, hash,"
        " sealed_at) SELECT occurred_at, actor_type, actor_id, actor_label, 'forged.event',"
        " object_type, object_id, model_id, chain, payload, position, prev_seq, prev_hash, hash,"
        " sealed_at FROM audit_auditevent WHERE id = %s",
        [original.id],
    )
    forged = AuditEvent.objects.get(action="forged.event")
    code, lines = verify()
    assert code == 1
    assert any(f"seq {forged.id}: inserted" in line for line in lines)
    assert any(f"seq {forged.id}: changed" in line for line in lines)


def test_two_swapped_rows_are_found_out_of_order(loan_model):
    events = record(4, loan_model)
    audit_chains_seal(grace_seconds=0)
    a, b = (AuditEvent.objects.get(pk=e.pk) for e in events[1:3])
    tamper("UPDATE audit_auditevent SET position = %s WHERE id = %s", [-1, a.id])
    tamper("UPDATE audit_auditevent SET position = %s WHERE id = %s", [a.position, b.id])
    tamper("UPDATE audit_auditevent SET position = %s WHERE id = %s", [b.position, a.id])
    code, lines = verify()
    assert code == 1
    assert any("out of order" in line for line in lines)


def test_verify_refuses_an_unknown_model(loan_model):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="unknown model slug"):
        call_command("verify_audit", "--model", "nope", stdout=StringIO())
