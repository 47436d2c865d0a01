"""Exports: what goes in the file equals the database, the manifest matches, PII is masked."""

import json
from datetime import UTC, datetime

import pandas as pd
import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.management import CommandError, call_command

from audit.exports.columns import EVENT_COLUMNS, PREDICTION_COLUMNS
from audit.exports.manifest import manifest_read, signature_ok
from audit.exports.verify import export_verify
from audit.exports.writers import file_sha256
from audit.models import AuditEvent, Export, ExportStatus
from audit.services_exports import export_request, export_run, exports_monthly_run
from models_registry.pii import mask_value
from reviewapp.models import Prediction
from tests.audit.conftest import record_events

FORMATS = ["csv", "jsonl", "parquet"]


def read_back(path, fmt):
    if fmt == "csv":
        return pd.read_csv(path, dtype=str, keep_default_na=False)
    if fmt == "jsonl":
        return pd.read_json(path, lines=True, dtype=False, precise_float=True)
    return pd.read_parquet(path)


def run(principal, **kwargs):
    export = export_request(principal=principal, enqueue=False, **kwargs)
    return export_run(export_id=export.pk)


def text(value) -> str:
    """A cell as text; pandas spells a missing value None, NaN or '' depending on the format."""
    return "" if value is None or (isinstance(value, float) and value != value) else str(value)


def as_json(value, fmt):
    return json.loads(value) if fmt in ("csv", "parquet") else value


@pytest.mark.parametrize("fmt", FORMATS)
def test_an_events_export_reads_back_equal_to_the_database(sealed_events, compliance_officer, fmt):
    export = run(compliance_officer, kind="events", format=fmt, models=["loan-default"])

    frame = read_back(export.file_path, fmt)
    events = list(AuditEvent.objects.filter(chain="loan-default").order_by("position"))
    assert list(frame.columns) == [c.name for c in EVENT_COLUMNS]
    assert len(frame) == len(events) == export.manifest["row_count"]
    for (_, row), event in zip(frame.iterrows(), events, strict=True):
        assert int(row["seq"]) == event.id
        assert int(row["position"]) == event.position
        assert row["hash"] == event.hash
        assert row["prev_hash"] == event.prev_hash
        assert row["action"] == event.action
        assert row["actor_label"] == event.actor_label
        assert as_json(row["payload"], fmt) == event.payload
        occurred = row["occurred_at"]
        if fmt == "parquet":
            assert occurred.to_pydatetime() == event.occurred_at
        else:
            assert occurred == event.occurred_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_predictions_export_carries_reasons_decisions_and_outcomes(
    predictions, compliance_officer, fmt
):
    export = run(compliance_officer, kind="predictions", format=fmt, models=["loan-default"])

    frame = read_back(export.file_path, fmt)
    assert list(frame.columns) == [c.name for c in PREDICTION_COLUMNS]
    rows = {row["external_id"]: row for _, row in frame.iterrows()}
    assert len(rows) == Prediction.objects.count() == export.manifest["row_count"]
    for prediction in Prediction.objects.select_related("version"):
        row = rows[prediction.external_id]
        assert row["version"] == "v1"
        assert as_json(row["routing_reasons"], fmt) == prediction.routing_reasons
        expected_amount = "" if prediction.value_amount is None else str(prediction.value_amount)
        assert text(row["value_amount"]) == expected_amount
        decision = getattr(prediction, "decision", None)
        if decision:
            assert row["decision_action"] == "override"
            assert as_json(row["decision_decided_by"], fmt) == ["carol"]
            assert row["decision_comment"] == decision.comment
            assert as_json(row["decision_final_output"], fmt) == "decline"
        else:
            assert text(row["decision_action"]) == ""
    assert as_json(rows["p-3"]["outcome_actual"], fmt) == "decline"


@pytest.mark.parametrize("fmt", FORMATS)
def test_the_manifest_is_signed_and_matches_the_file(sealed_events, compliance_officer, fmt):
    export = run(compliance_officer, kind="events", format=fmt)
    manifest = manifest_read(f"{export.file_path}.manifest.json")

    assert manifest == export.manifest
    assert manifest["sha256"] == file_sha256(export.file_path)
    assert manifest["file"] == export.file_path.name
    assert signature_ok(manifest, "test-signing-key")
    assert not signature_ok(manifest, "another key")
    assert manifest["verify_audit"]["ok"] is True
    chains = {c["chain"]: c for c in manifest["chains"]}
    assert set(chains) == {"loan-default", "_global"}
    assert chains["loan-default"]["last_position"] == chains["loan-default"]["sealed_rows"]
    assert manifest["generated_by"].startswith("erin")
    assert export_verify(
        file=export.file_path,
        manifest_file=f"{export.file_path}.manifest.json",
        key="test-signing-key",
    ).ok


def test_a_period_export_starts_mid_chain_and_still_verifies(loan_model, owner, compliance_officer):
    record_events(loan_model, owner, count=5)
    middle = AuditEvent.objects.filter(chain="loan-default").order_by("position")[2]
    record_events(loan_model, owner, count=5)

    export = run(
        compliance_officer,
        kind="events",
        format="jsonl",
        models=["loan-default"],
        since=middle.occurred_at,
    )
    coverage = export.manifest["chains"][0]
    assert coverage["first_position"] == middle.position > 1
    assert coverage["start_prev_hash"] == middle.prev_hash
    result = export_verify(
        file=export.file_path,
        manifest_file=f"{export.file_path}.manifest.json",
        key="test-signing-key",
    )
    assert result.ok, result.lines()


def test_pii_is_masked_unless_the_audited_raw_path_is_used(predictions, compliance_officer):
    masked = run(compliance_officer, kind="predictions", format="jsonl")
    frame = read_back(masked.file_path, "jsonl")
    emails = [inputs["email"] for inputs in frame["inputs"]]
    assert all(e.startswith("pii:") for e in emails)
    assert mask_value("person0@example.com") in emails
    assert masked.manifest["pii_masked_fields"] == ["email"]
    assert masked.manifest["filters"]["pii"] == "masked"

    with pytest.raises(ValidationError) as refused:
        export_request(
            principal=compliance_officer, kind="predictions", format="jsonl", raw_pii=True
        )
    assert "raw_pii_reason" in refused.value.message_dict

    raw = run(
        compliance_officer,
        kind="predictions",
        format="jsonl",
        raw_pii=True,
        raw_pii_reason="Subject access request #42",
    )
    emails = [inputs["email"] for inputs in read_back(raw.file_path, "jsonl")["inputs"]]
    assert "person0@example.com" in emails
    event = AuditEvent.objects.filter(action="export.requested", object_id=str(raw.pk)).get()
    assert event.payload["raw_pii"] is True
    assert event.payload["raw_pii_reason"] == "Subject access request #42"
    assert event.actor_label.startswith("erin")


def test_only_a_compliance_officer_may_ask_for_raw_personal_data(predictions, owner):
    with pytest.raises(PermissionDenied):
        export_request(
            principal=owner, kind="predictions", format="csv", raw_pii=True, raw_pii_reason="x"
        )


def test_an_export_and_its_completion_are_audit_events(sealed_events, compliance_officer):
    export = run(compliance_officer, kind="events", format="csv")
    actions = list(
        AuditEvent.objects.filter(object_type="audit.export", object_id=str(export.pk))
        .order_by("id")
        .values_list("action", flat=True)
    )
    assert actions == ["export.requested", "export.completed"]


def test_running_an_export_twice_writes_it_once(sealed_events, compliance_officer):
    export = run(compliance_officer, kind="events", format="parquet")
    again = export_run(export_id=export.pk)
    assert again.status == ExportStatus.DONE
    assert again.manifest["sha256"] == export.manifest["sha256"]
    assert AuditEvent.objects.filter(action="export.completed").count() == 1


def test_the_monthly_schedule_exports_each_model_once_per_month(sealed_events, settings):
    today = datetime(2026, 12, 3, tzinfo=UTC).date()
    first = exports_monthly_run(today=today)
    second = exports_monthly_run(today=today)

    assert len(first) == 2 and second == []
    for export in first:
        assert export.status == ExportStatus.DONE
        assert export.schedule_period == "2026-11"
        assert export.file_path.parent == settings.EXPORT_SCHEDULE_DIR / "loan-default" / "2026-11"
        assert export.since == datetime(2026, 11, 1, tzinfo=UTC)
        assert export.until == datetime(2026, 12, 1, tzinfo=UTC)
    assert Export.objects.count() == 2


def test_the_command_prints_the_file_and_its_manifest(sealed_events, tmp_path, capsys):
    call_command(
        "export_audit",
        "--kind",
        "events",
        "--format",
        "csv",
        "--model",
        "loan-default",
        "--since",
        "2000-01-01",
        "--out",
        str(tmp_path / "out"),
    )
    out, err = capsys.readouterr()
    file_line, manifest_line = out.strip().splitlines()
    assert file_line.endswith(".csv.gz") and manifest_line == f"{file_line}.manifest.json"
    assert "100%" in err
    assert export_verify(file=file_line, manifest_file=manifest_line, key="test-signing-key").ok


def test_the_command_names_an_unknown_model(sealed_events, tmp_path):
    with pytest.raises(CommandError, match="--model: Unknown model slug"):
        call_command(
            "export_audit",
            "--kind",
            "events",
            "--format",
            "csv",
            "--model",
            "nope",
            "--out",
            str(tmp_path),
            "--no-progress",
        )


def test_the_command_refuses_an_unreadable_date(tmp_path, db):
    with pytest.raises(CommandError, match="--since: 'yesterday' is not a date"):
        call_command(
            "export_audit",
            "--kind",
            "events",
            "--format",
            "csv",
            "--since",
            "yesterday",
            "--out",
            str(tmp_path),
        )


def test_events_not_sealed_yet_are_exported_without_chain_fields(
    sealed_events, owner, compliance_officer
):
    from audit.actors import Actor
    from audit.services import audit_event_record

    late = audit_event_record(
        action="model.changed", actor=Actor.user(owner), model=sealed_events, payload={"a": 1}
    )
    export = export_request(
        principal=compliance_officer, kind="events", format="csv", enqueue=False
    )
    export = export_run(export_id=export.pk)  # seals with the 2-second grace: too young

    frame = read_back(export.file_path, "csv")
    row = frame[frame["seq"] == str(late.pk)].iloc[0]
    assert row["hash"] == "" and row["position"] == ""
    chains = {c["chain"]: c for c in export.manifest["chains"]}
    assert chains["loan-default"]["unsealed_rows"] == 1
    result = export_verify(
        file=export.file_path,
        manifest_file=f"{export.file_path}.manifest.json",
        key="test-signing-key",
    )
    assert result.ok and result.unsealed_rows >= 1
