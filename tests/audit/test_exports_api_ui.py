"""The exports API and the compliance UI, including one run through a real django-q2 worker."""

import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.db import connection
from rest_framework.test import APIClient

from audit.models import AuditEvent, Export, ExportStatus
from audit.services_exports import export_run
from models_registry.models import ServiceKeyScope
from tests.audit.conftest import grant_role, record_events
from tests.real_parts import qcluster_env

ROOT = Path(__file__).resolve().parents[2]


def test_a_compliance_officer_requests_follows_and_downloads_an_export(
    sealed_events, compliance_officer, django_capture_on_commit_callbacks
):
    client = APIClient()
    client.force_login(compliance_officer)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        answer = client.post(
            "/api/v1/exports",
            {"kind": "events", "format": "csv", "models": ["loan-default"]},
            format="json",
        )
    assert answer.status_code == 202, answer.json()
    assert len(callbacks) == 1  # the job is queued only once the request has committed
    body = answer.json()
    assert answer["Location"] == f"/api/v1/exports/{body['id']}"
    assert body["status"] == "queued" and body["download_url"] is None

    export_run(export_id=body["id"])
    detail = client.get(f"/api/v1/exports/{body['id']}").json()
    assert detail["status"] == "done" and detail["progress_percent"] == 100
    assert detail["manifest"]["row_count"] == detail["rows_done"]

    download = client.get(detail["download_url"])
    assert download.status_code == 200
    content = b"".join(download.streaming_content)
    assert content[:2] == b"\x1f\x8b"  # gzip
    manifest = client.get(detail["manifest_url"])
    assert manifest.status_code == 200
    downloads = AuditEvent.objects.filter(action="export.downloaded", object_id=str(body["id"]))
    assert sorted(downloads.values_list("payload__what", flat=True)) == ["file", "manifest"]


def test_the_api_names_the_field_that_is_wrong(compliance_officer, loan_model):
    client = APIClient()
    client.force_login(compliance_officer)
    answer = client.post(
        "/api/v1/exports",
        {"kind": "predictions", "format": "xml", "raw_pii": True},
        format="json",
    )
    assert answer.status_code == 400 and "format" in answer.json()
    answer = client.post(
        "/api/v1/exports",
        {"kind": "predictions", "format": "csv", "raw_pii": True},
        format="json",
    )
    assert answer.status_code == 400 and "raw_pii_reason" in answer.json()
    answer = client.post(
        "/api/v1/exports", {"kind": "events", "format": "csv", "models": ["nope"]}, format="json"
    )
    assert answer.status_code == 400 and "models" in answer.json()


def test_a_service_key_with_the_export_scope_exports_only_its_models(
    sealed_events, other_model, make_key
):
    key = make_key([sealed_events], scopes=[ServiceKeyScope.EXPORT], name="archiver")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key.secret}")
    answer = client.post("/api/v1/exports", {"kind": "events", "format": "jsonl"}, format="json")
    assert answer.status_code == 202
    assert answer.json()["models"] == ["loan-default"]
    refused = client.post(
        "/api/v1/exports",
        {"kind": "events", "format": "jsonl", "models": ["claim-fraud"]},
        format="json",
    )
    assert refused.status_code == 403


def test_a_key_without_the_export_scope_is_refused(scoring_service):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {scoring_service.secret}")
    answer = client.post("/api/v1/exports", {"kind": "events", "format": "csv"}, format="json")
    assert answer.status_code == 403 and "export" in answer.json()["detail"]


def test_the_compliance_form_shows_what_is_wrong(client, compliance_officer, loan_model):
    client.force_login(compliance_officer)
    page = client.post(
        "/compliance/",
        {"kind": "predictions", "format": "csv", "raw_pii": "on", "raw_pii_reason": " "},
    )
    assert page.status_code == 200
    assert b'data-error-for="raw_pii_reason"' in page.content
    assert Export.objects.count() == 0


@pytest.mark.django_db(transaction=True)
def test_the_compliance_page_runs_an_export_on_a_real_worker(
    client, owner, compliance, loan_model, settings, tmp_path
):
    export_dir = tmp_path / "worker-exports"
    settings.EXPORT_DIR = export_dir
    grant_role(compliance, "compliance officer")
    record_events(loan_model, owner)
    client.force_login(compliance)

    page = client.get("/compliance/")
    assert page.status_code == 200 and b"loan-default" in page.content
    answer = client.post(
        "/compliance/", {"models": ["loan-default"], "kind": "events", "format": "parquet"}
    )
    export = Export.objects.get()
    assert answer.status_code == 302 and answer["Location"] == f"/compliance/exports/{export.pk}/"
    assert b"<progress" in client.get(answer["Location"]).content

    env = qcluster_env(EXPORT_DIR=str(export_dir), EXPORT_SIGNING_KEY=settings.EXPORT_SIGNING_KEY)
    worker = subprocess.Popen(
        [sys.executable, "manage.py", "qcluster"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        status = {}
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            status = client.get(f"/compliance/exports/{export.pk}/status").json()
            if status["status"] in ("done", "failed"):
                break
            time.sleep(0.5)
    finally:
        worker.terminate()
        try:
            worker.wait(timeout=15)
        except subprocess.TimeoutExpired:
            worker.kill()
    assert status["status"] == "done", status
    assert status["progress_percent"] == 100

    detail = client.get(f"/compliance/exports/{export.pk}/")
    assert b"Manifest" in detail.content and b"signature" in detail.content
    download = client.get(f"/compliance/exports/{export.pk}/download")
    assert download.status_code == 200
    export.refresh_from_db()
    assert export.status == ExportStatus.DONE
    assert export.file_path.parent == export_dir
    home = client.get("/compliance/")
    assert export.file_name.encode() in home.content or b"manifest" in home.content


def test_an_export_on_a_database_other_than_postgresql_is_refused_clearly(
    compliance_officer, monkeypatch
):

    client = APIClient()
    client.force_login(compliance_officer)
    monkeypatch.setattr(connection, "vendor", "sqlite")
    response = client.post("/api/v1/exports", {"kind": "events", "format": "csv"}, format="json")
    assert response.status_code == 400
    assert "PostgreSQL" in response.json()["database"][0]
