"""The standing cast of the permission tests: two models, their people, and one of each
thing a page can show (an export, a review item, a webhook delivery, an alert, a baseline, a
retraining request) for loan-default."""

import pytest
from django.utils import timezone

from audit.models import AuditEvent
from audit.services_exports import export_request, export_run
from models_registry.models import Alert, AlertRule, ServiceKeyScope
from models_registry.retraining.services import retraining_request_open
from reviewapp.models import WebhookDelivery
from tests.audit.conftest import grant_role, record_events
from tests.models_registry.monitoring_data import baseline_frame, upload_baseline
from tests.reviewapp.review_items import make_item


@pytest.fixture(autouse=True)
def fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def world(owner, backup_owner, reviewer, compliance, loan_model, other_model, make_key):
    for user in (owner, backup_owner, compliance):
        user.is_staff = True
        user.save()
    other_model.reviewers.add(reviewer)
    grant_role(compliance, "compliance officer")
    record_events(loan_model, owner, count=3)
    export = export_request(principal=compliance, kind="events", format="csv", enqueue=False)
    export_run(export_id=export.pk)
    other_key = make_key(
        [other_model], scopes=list(ServiceKeyScope.values), name="fraud everything"
    )
    # What the reviewer, monitoring and retraining pages show of loan-default.
    item = make_item(loan_model)
    delivery = WebhookDelivery.objects.create(
        model=loan_model,
        prediction=item.prediction,
        url="https://scoring.example.com/decisions",
        payload={"model": "loan-default"},
    )
    rule = AlertRule.objects.create(
        model=loan_model, name="drift", metric="drift_share", comparison="gt", threshold=0.3
    )
    alert = Alert.objects.create(
        model=loan_model,
        rule=rule,
        summary="Share of drifted features was 0.67",
        value=0.67,
        threshold=0.3,
        opened_at=timezone.now(),
    )
    upload_baseline(loan_model, baseline_frame(rows=200))
    retraining = retraining_request_open(model=loan_model, user=owner, reason="drift on income")
    users = {
        "owner": owner,
        "backup": backup_owner,
        "other_reviewer": reviewer,
        "compliance": compliance,
    }
    return {
        "users": users,
        "other_key": other_key,
        "ids": {
            "export": export.pk,
            "loan": loan_model.pk,
            "fraud": other_model.pk,
            "event": AuditEvent.objects.filter(chain="loan-default").first().pk,
            "item": item.pk,
            "delivery": delivery.pk,
            "alert": alert.pk,
            "retraining": retraining.pk,
        },
    }
