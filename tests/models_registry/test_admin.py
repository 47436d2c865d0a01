"""The owners' admin: scoped to their models, every save audited with before and after."""

import json

import pytest
from django.db import connection

from audit.actors import Actor
from audit.models import AuditEvent
from audit.services import audit_event_record
from models_registry.models import MLModel

pytestmark = pytest.mark.django_db


def test_an_owner_sees_only_the_models_they_own_or_back_up(owner_client, loan_model, other_model):
    page = owner_client.get("/admin/models_registry/mlmodel/")
    assert page.status_code == 200
    assert b"loan-default" in page.content
    assert b"claim-fraud" not in page.content
    other = owner_client.get(f"/admin/models_registry/mlmodel/{other_model.pk}/change/")
    assert other.status_code == 302  # the admin sends it away: not found for this user


def test_an_admin_edit_is_audited_with_before_and_after(owner_client, loan_model, owner):
    url = f"/admin/models_registry/mlmodel/{loan_model.pk}/change/"
    form = {
        "name": "Loan default v2 name",
        "description": "",
        "owner": owner.pk,
        "backup_owner": loan_model.backup_owner_id,
        "required_signoffs": 3,
        "lease_seconds": 600,
        "alert_escalation_seconds": 3600,
        "review_hourly_cost": "60.00",
        "callback_url": "",
        "callback_secret": "",
        "pipeline_webhook_url": "",
        "pipeline_webhook_secret": "",
    }
    response = owner_client.post(url, form)
    assert response.status_code == 302, response.content[:2000]
    event = AuditEvent.objects.get(action="model.changed")
    assert event.actor_label == "alice (Alice Owner)"
    assert event.chain == "loan-default"
    assert event.payload["changes"]["required_signoffs"] == {"before": 2, "after": 3}
    assert event.payload["changes"]["name"]["after"] == "Loan default v2 name"
    assert MLModel.objects.get(pk=loan_model.pk).history.count() == 2


def test_webhook_secrets_are_masked_in_the_trail_and_kept_out_of_the_history(
    owner_client, loan_model, owner
):
    callback, pipeline = "cb-secret-5f1d2a9c", "pipe-secret-88e0b7"
    form = {
        "name": loan_model.name,
        "description": "",
        "owner": owner.pk,
        "backup_owner": loan_model.backup_owner_id,
        "required_signoffs": 2,
        "lease_seconds": 600,
        "alert_escalation_seconds": 3600,
        "review_hourly_cost": "60.00",
        "callback_url": "https://scoring.example.com/decisions",
        "callback_secret": callback,
        "pipeline_webhook_url": "https://pipeline.example.com/retrain",
        "pipeline_webhook_secret": pipeline,
    }
    url = f"/admin/models_registry/mlmodel/{loan_model.pk}/change/"
    response = owner_client.post(url, form)
    assert response.status_code == 302, response.content[:2000]

    event = AuditEvent.objects.get(action="model.changed")
    assert event.payload["changes"]["callback_secret"] == {"before": "", "after": "***"}
    assert event.payload["changes"]["pipeline_webhook_secret"]["after"] == "***"
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM models_registry_historicalmlmodel")
        history_rows = json.dumps(cursor.fetchall(), default=str)
    for secret in (callback, pipeline):
        assert secret not in json.dumps(event.payload)
        assert secret not in history_rows
    assert callback not in owner_client.get(f"{url.removesuffix('change/')}history/").text
    # Going back to the version before keeps the secret the scoring service has now.
    assert loan_model.history.earliest().instance.callback_secret == callback


def test_history_views_are_there(owner_client, loan_model):
    url = f"/admin/models_registry/mlmodel/{loan_model.pk}/history/"
    assert owner_client.get(url).status_code == 200


def test_nobody_can_delete_a_model_or_edit_audit_events(admin_client, loan_model):
    assert (
        admin_client.get(f"/admin/models_registry/mlmodel/{loan_model.pk}/delete/").status_code
        == 403
    )
    event = audit_event_record(action="model.changed", actor=Actor.system("test"), model=loan_model)
    assert admin_client.post(f"/admin/audit/auditevent/{event.pk}/change/", {}).status_code == 403
    assert admin_client.get("/admin/audit/auditevent/add/").status_code == 403
