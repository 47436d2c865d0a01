"""Baselines: read, checked against the contract per column, profiled, uploaded three ways."""

import io

import pandas as pd
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.test import Client
from rest_framework.test import APIClient

from audit.models import AuditEvent
from models_registry.models import Baseline, ServiceKeyScope
from models_registry.monitoring.baseline import sample_frame
from tests.models_registry.monitoring_data import baseline_frame, upload_baseline

pytestmark = pytest.mark.django_db

URL = "/api/v1/models/loan-default/versions/v1/baseline"


def csv_bytes(frame: pd.DataFrame) -> bytes:
    return frame.to_csv(index=False).encode()


def test_it_profiles_numbers_and_categories_and_leaves_personal_data_out(loan_model):
    baseline = upload_baseline(loan_model)
    income = baseline.profile["income"]
    assert income["kind"] == "numeric" and income["count"] == 2000
    assert income["missing_rate"] == 0
    assert income["quantiles"]["0.5"] == pytest.approx(baseline_frame()["income"].median())
    assert sum(income["histogram"]["counts"]) == 2000
    employment = baseline.profile["employment"]
    assert employment["kind"] == "categorical"
    assert sum(employment["frequencies"].values()) == 2000
    assert baseline.profile["email"]["kind"] == "pii"
    assert "frequencies" not in baseline.profile["email"]
    assert "email" not in sample_frame(baseline).columns
    assert baseline.profile["output"]["frequencies"].keys() == {"approve", "decline"}
    assert baseline.profile["postcode"] == {"kind": "categorical", "present": False}
    assert AuditEvent.objects.filter(
        action="baseline.uploaded", object_id=str(baseline.pk)
    ).exists()


def test_contract_violations_are_reported_per_column_not_dropped_silently(loan_model):
    frame = baseline_frame(rows=50)
    frame["income"] = frame["income"].astype(object)
    frame.loc[3, "income"] = -5
    frame.loc[4, "income"] = "lots"
    frame.loc[7, "employment"] = "astronaut"
    frame.loc[9, "applicant_age"] = None
    baseline = upload_baseline(loan_model, frame)
    report = baseline.contract_report
    assert report["violations"]["income"]["count"] == 2
    messages = [e["message"] for e in report["violations"]["income"]["examples"]]
    assert "'lots' is not a number" in messages
    assert any("minimum" in m for m in messages)
    assert report["violations"]["employment"]["count"] == 1
    assert report["violations"]["employment"]["examples"][0]["row"] == 8
    assert report["violations"]["applicant_age"]["examples"][0]["message"] == "is required"
    assert report["rows_with_violations"] == 4
    assert report["columns_missing"] == ["postcode"]
    # The offending values are not in the profile.
    assert baseline.profile["income"]["count"] == 48
    assert "astronaut" not in baseline.profile["employment"]["frequencies"]


def test_the_sample_kept_is_bounded(loan_model, settings):
    settings.MONITORING_BASELINE_SAMPLE_ROWS = 300
    baseline = upload_baseline(loan_model)
    assert baseline.row_count == 2000 and baseline.sample_row_count == 300
    assert len(sample_frame(baseline)) == 300


def test_the_owner_uploads_parquet_through_the_api(loan_model, owner):
    client = APIClient()
    client.force_login(owner)
    buffer = io.BytesIO()
    baseline_frame(rows=100).to_parquet(buffer)
    upload = SimpleUploadedFile("train.parquet", buffer.getvalue())
    response = client.post(URL, {"file": upload}, format="multipart")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["row_count"] == 100 and body["version"] == "v1"
    assert body["contract_report"]["violations"] == {}
    got = client.get(URL)
    assert got.status_code == 200 and got.json()["id"] == body["id"]


def test_a_pipeline_key_may_upload_and_an_intake_key_may_not(loan_model, make_key):
    pipeline = make_key([loan_model], scopes=[ServiceKeyScope.PIPELINE], name="pipeline")
    intake = make_key([loan_model], scopes=[ServiceKeyScope.INTAKE], name="intake")
    for key, expected in ((pipeline, 201), (intake, 403)):
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {key.secret}")
        upload = SimpleUploadedFile("train.csv", csv_bytes(baseline_frame(rows=40)))
        response = client.post(URL, {"file": upload}, format="multipart")
        assert response.status_code == expected, response.json()
    assert Baseline.objects.get().uploaded_by_key == pipeline


def test_reviewers_outsiders_and_strangers_may_not_upload(loan_model, reviewer, outsider_client):
    loan_model.reviewers.add(reviewer)
    client = APIClient()
    client.force_login(reviewer)
    upload = SimpleUploadedFile("train.csv", csv_bytes(baseline_frame(rows=10)))
    assert client.post(URL, {"file": upload}, format="multipart").status_code == 403
    upload = SimpleUploadedFile("train.csv", csv_bytes(baseline_frame(rows=10)))
    assert outsider_client.post(URL, {"file": upload}, format="multipart").status_code == 403
    upload = SimpleUploadedFile("train.csv", csv_bytes(baseline_frame(rows=10)))
    assert APIClient().post(URL, {"file": upload}, format="multipart").status_code in (401, 403)
    assert not Baseline.objects.exists()


def test_bad_files_and_unknown_versions_get_clear_errors(loan_model, owner):
    client = APIClient()
    client.force_login(owner)
    missing = client.post(URL, {}, format="multipart")
    assert missing.status_code == 400 and "file" in missing.json()
    garbage = SimpleUploadedFile("train.parquet", b"PAR1 not really parquet")
    response = client.post(URL, {"file": garbage}, format="multipart")
    assert response.status_code == 400
    assert "Could not read 'train.parquet' as Parquet" in response.json()["file"][0]
    unrelated = SimpleUploadedFile("other.csv", b"a,b\n1,2\n")
    response = client.post(URL, {"file": unrelated}, format="multipart")
    assert response.status_code == 400
    assert "None of the contract's fields" in response.json()["file"][0]
    upload = SimpleUploadedFile("train.csv", csv_bytes(baseline_frame(rows=10)))
    response = client.post(
        "/api/v1/models/loan-default/versions/v9/baseline", {"file": upload}, format="multipart"
    )
    assert response.status_code == 404 and "v9" in response.json()["detail"]


def test_the_command_loads_a_file_and_reports_violations(loan_model, tmp_path):
    frame = baseline_frame(rows=30)
    frame.loc[0, "employment"] = "astronaut"
    path = tmp_path / "train.csv"
    path.write_bytes(csv_bytes(frame))
    out = io.StringIO()
    call_command(
        "load_baseline", "--model", "loan-default", "--version", "v1", str(path), stdout=out
    )
    assert "30 rows" in out.getvalue()
    assert "employment: 1 contract violation(s)" in out.getvalue()
    with pytest.raises(CommandError, match="No version 'v7' of model 'loan-default'"):
        call_command("load_baseline", "--model", "loan-default", "--version", "v7", str(path))
    with pytest.raises(CommandError, match="No such file"):
        call_command("load_baseline", "--model", "loan-default", "--version", "v1", "/nope.csv")


def test_the_owner_uploads_through_the_admin(loan_model, owner):
    owner.is_staff = True
    owner.save()
    client = Client()
    client.force_login(owner)
    version = loan_model.active_version
    upload = SimpleUploadedFile("train.csv", csv_bytes(baseline_frame(rows=25)))
    response = client.post(
        "/admin/models_registry/baseline/add/", {"version": version.pk, "file": upload}
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    baseline = Baseline.objects.get()
    assert baseline.uploaded_by == owner and baseline.row_count == 25
    page = client.get(f"/admin/models_registry/baseline/{baseline.pk}/change/")
    assert page.status_code == 200
    bad = SimpleUploadedFile("bad.csv", b"a,b\n1,2\n")
    response = client.post(
        "/admin/models_registry/baseline/add/", {"version": version.pk, "file": bad}
    )
    assert response.status_code == 200
    assert "None of the contract" in response.content.decode()


def test_the_column_wise_prefilter_finds_exactly_what_row_by_row_validation_finds(
    loan_model, monkeypatch
):
    from models_registry.monitoring import baseline as module

    frame = baseline_frame(rows=300, seed=8)
    frame["postcode"] = "AB12"
    frame["income"] = frame["income"].astype(object)
    frame["applicant_age"] = frame["applicant_age"].astype(object)
    frame.loc[1, "income"] = -1.0
    frame.loc[2, "applicant_age"] = 12
    frame.loc[3, "applicant_age"] = 30.5
    frame.loc[4, "employment"] = "Employed"
    frame.loc[5, "email"] = "not-an-address"
    frame.loc[6, "postcode"] = "A"
    frame.loc[7, "postcode"] = "A" * 11
    frame.loc[8, "income"] = None
    frame.loc[9, "applicant_age"] = True
    version = loan_model.active_version
    fast = module.prepare_baseline(frame, version).contract_report
    monkeypatch.setattr(module, "_suspect_rows", lambda *args: None)
    slow = module.prepare_baseline(frame, version).contract_report
    assert fast == slow
    assert fast["rows_with_violations"] == 9


def test_boolean_categories_are_spelled_as_json_spells_them(owner):
    from tests.factories import ModelVersionFactory

    version = ModelVersionFactory(
        model__slug="flags",
        model__owner=owner,
        input_contract={"type": "object", "properties": {"repeat": {"type": "boolean"}}},
    )
    frame = pd.DataFrame({"repeat": [True, False, True]})
    baseline = upload_baseline(version.model, frame)
    assert baseline.profile["repeat"]["frequencies"] == {"true": 2, "false": 1}
