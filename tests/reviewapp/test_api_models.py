"""GET /api/v1/models/ and /api/v1/models/{slug}: what a scoring service codes against."""

import pytest

pytestmark = pytest.mark.django_db


def test_a_model_shows_its_owner_and_active_contract_and_policy(service_client, loan_model):
    response = service_client.get("/api/v1/models/loan-default")
    assert response.status_code == 200
    body = response.json()
    assert body["slug"] == "loan-default"
    assert body["owner"] == {"username": "alice", "name": "Alice Owner"}
    assert body["backup_owner"] == {"username": "bob", "name": "Bob Backup"}
    version = body["active_version"]
    assert version["label"] == "v1"
    assert version["input_contract"]["required"] == ["applicant_age", "income", "employment"]
    assert version["output_spec"] == {"type": "string", "enum": ["approve", "decline"]}
    policy = version["routing_policy"]
    assert policy["confidence_threshold"] == 0.6
    assert policy["value_threshold"] == "10000.00"
    assert policy["sample_rate"] == 0.0
    assert policy["on_contract_violation"] == "review"
    assert policy["sla_seconds"] == 3600
    assert policy["priority"]["high_value"] == 100


def test_the_list_is_paginated(service_client, loan_model):
    body = service_client.get("/api/v1/models/").json()
    assert set(body) == {"count", "next", "previous", "results"}
    assert body["results"][0]["active_version"]["label"] == "v1"


def test_a_model_without_an_active_version_shows_null(service_client, loan_model):
    loan_model.versions.update(status="retired")
    assert service_client.get("/api/v1/models/loan-default").json()["active_version"] is None
