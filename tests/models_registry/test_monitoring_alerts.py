"""Alerts: open once, tell the owner, escalate to the backup owner, resolve on recovery."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import Group
from django.core import mail
from django.test import Client
from django.utils import timezone

from audit.models import AuditEvent
from models_registry.models import (
    Alert,
    AlertMetric,
    AlertRule,
    AlertStatus,
    Comparison,
    MonitoringSnapshot,
)
from models_registry.monitoring import alerts
from models_registry.monitoring.alerts import (
    alert_acknowledge,
    alert_resolve,
    alert_rules_ensure_defaults,
    alerts_escalate,
    alerts_evaluate,
    notifications_deliver,
)

pytestmark = pytest.mark.django_db


def rule_for(model, **fields) -> AlertRule:
    """Contract violations above 5% over four hours, once 100 predictions are in (unsaved)."""
    return AlertRule(
        model=model,
        name="Contract violations above 5%",
        metric=AlertMetric.CONTRACT_VIOLATION_RATE,
        comparison=Comparison.GT,
        threshold=0.05,
        window_seconds=4 * 3600,
        min_sample_size=100,
        **fields,
    )


@pytest.fixture
def violation_rule(loan_model):
    rule = rule_for(loan_model)
    rule.save()
    return rule


def snapshot(model, start, *, volume, violating):
    return MonitoringSnapshot.objects.create(
        model=model,
        window="hourly",
        window_start=start,
        window_end=start + timedelta(hours=1),
        prediction_count=volume,
        metrics={"volume": volume, "contract": {"violating": violating}},
    )


def hour(now, back):
    return now.replace(minute=0, second=0, microsecond=0) - timedelta(hours=back)


def test_a_breaching_rule_opens_one_alert_not_one_per_snapshot(loan_model, violation_rule):
    now = timezone.now()
    snapshot(loan_model, hour(now, 2), volume=200, violating=30)
    assert alerts_evaluate(model=loan_model, now=now)["opened"] == 1
    snapshot(loan_model, hour(now, 1), volume=200, violating=40)
    again = alerts_evaluate(model=loan_model, now=now + timedelta(minutes=10))
    assert again == {"opened": 0, "resolved": 0, "still_open": 1}
    alert = Alert.objects.get(rule=violation_rule)
    assert alert.value == pytest.approx(0.15)
    assert alert.last_value == pytest.approx(70 / 400)
    assert "Contract-violation rate was 0.15" in alert.summary
    assert "based on 200 observations" in alert.summary
    assert AuditEvent.objects.filter(action="alert.opened", object_id=str(alert.pk)).count() == 1


def test_too_small_a_sample_neither_opens_nor_resolves(loan_model, violation_rule):
    now = timezone.now()
    snapshot(loan_model, hour(now, 1), volume=20, violating=20)
    alerts_evaluate(model=loan_model, now=now)
    assert not Alert.objects.exists()


def test_the_owner_is_told_by_email(loan_model, violation_rule, owner):
    now = timezone.now()
    snapshot(loan_model, hour(now, 1), volume=200, violating=30)
    alerts_evaluate(model=loan_model, now=now)
    assert notifications_deliver() == 1
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == [owner.email]
    assert "loan-default" in message.subject and violation_rule.name in message.subject
    assert "Contract-violation rate was 0.15" in message.body
    assert notifications_deliver() == 0  # sent once


def test_the_email_says_what_was_true_when_the_alert_opened(loan_model, violation_rule, owner):
    now = timezone.now()
    snapshot(loan_model, hour(now, 1), volume=200, violating=30)
    alerts_evaluate(model=loan_model, now=now)
    alert_resolve(alert=Alert.objects.get(), user=owner, note="Fixed upstream.")

    notifications_deliver()

    [message] = mail.outbox
    assert message.subject.startswith("[Countersign] Alert:")
    assert "Resolution" not in message.body and "Fixed upstream" not in message.body


def test_an_unacknowledged_alert_escalates_to_the_backup_owner(
    loan_model, violation_rule, backup_owner
):
    loan_model.alert_escalation_seconds = 1800
    loan_model.save()
    now = timezone.now()
    snapshot(loan_model, hour(now, 1), volume=200, violating=30)
    alerts_evaluate(model=loan_model, now=now)
    assert alerts_escalate(now=now + timedelta(seconds=1799)) == 0
    assert alerts_escalate(now=now + timedelta(seconds=1800)) == 1
    assert alerts_escalate(now=now + timedelta(seconds=3600)) == 0  # once
    notifications_deliver()
    assert [m.to for m in mail.outbox] == [["alice@example.com"], [backup_owner.email]]
    assert "Escalated" in mail.outbox[1].subject
    event = AuditEvent.objects.get(action="alert.escalated")
    assert event.payload["to"] == "bob"


def test_an_acknowledged_alert_does_not_escalate(loan_model, violation_rule, owner):
    now = timezone.now()
    snapshot(loan_model, hour(now, 1), volume=200, violating=30)
    alerts_evaluate(model=loan_model, now=now)
    alert_acknowledge(alert=Alert.objects.get(), user=owner)
    assert alerts_escalate(now=now + timedelta(days=1)) == 0
    assert AuditEvent.objects.filter(action="alert.acknowledged", actor_id=str(owner.pk)).exists()


def test_it_resolves_itself_when_the_metric_recovers(loan_model, violation_rule):
    now = timezone.now()
    snapshot(loan_model, hour(now, 1), volume=200, violating=30)
    alerts_evaluate(model=loan_model, now=now)
    later = now + timedelta(hours=4)
    snapshot(loan_model, hour(later, 1), volume=300, violating=3)
    assert alerts_evaluate(model=loan_model, now=later)["resolved"] == 1
    alert = Alert.objects.get()
    assert alert.status == AlertStatus.RESOLVED and alert.resolved_by is None
    assert alert.resolution.startswith("Recovered")
    assert AuditEvent.objects.filter(action="alert.resolved", payload__automatic=True).exists()
    # A new breach after recovery is a new alert.
    even_later = later + timedelta(hours=4)
    snapshot(loan_model, hour(even_later, 1), volume=300, violating=100)
    assert alerts_evaluate(model=loan_model, now=even_later)["opened"] == 1
    assert Alert.objects.count() == 2


def test_no_predictions_for_two_hours_opens_an_alert(loan_model):
    from tests.models_registry.monitoring_data import current_frame, store_predictions

    alert_rules_ensure_defaults(model=loan_model)
    now = timezone.now()
    store_predictions(loan_model, current_frame(rows=5), now - timedelta(hours=5))
    alerts_evaluate(model=loan_model, now=now)
    alert = Alert.objects.get()
    assert alert.rule.metric == AlertMetric.PREDICTION_VOLUME
    assert alert.value == 0


def test_default_rules_are_created_once(loan_model):
    created = alert_rules_ensure_defaults(model=loan_model)
    assert len(created) == 5
    assert alert_rules_ensure_defaults(model=loan_model) == []
    assert AlertRule.objects.filter(model=loan_model).count() == 5
    names = set(AlertRule.objects.values_list("name", flat=True))
    assert "Accuracy below 90% over 7 days" in names and "No predictions for 2 hours" in names


def test_a_model_created_in_the_admin_gets_the_default_rules(owner):
    owner.is_staff = True
    owner.save()
    owner.groups.add(Group.objects.get(name="model owner"))  # may register new models
    client = Client()
    client.force_login(owner)
    response = client.post(
        "/admin/models_registry/mlmodel/add/",
        {
            "slug": "new-model",
            "name": "New model",
            "owner": owner.pk,
            "required_signoffs": 2,
            "lease_seconds": 600,
            "alert_escalation_seconds": 3600,
            "review_hourly_cost": "60.00",
        },
    )
    assert response.status_code == 302, response.content[:2000]
    assert AlertRule.objects.filter(model__slug="new-model", is_default=True).count() == 5


def test_a_rule_marked_to_open_retraining_asks_for_it_once(loan_model, violation_rule, monkeypatch):
    calls = []
    monkeypatch.setattr(alerts, "_open_retraining_request", lambda alert: calls.append(alert))
    violation_rule.opens_retraining = True
    violation_rule.save()
    now = timezone.now()
    snapshot(loan_model, hour(now, 1), volume=200, violating=30)
    alerts_evaluate(model=loan_model, now=now)
    alerts_evaluate(model=loan_model, now=now + timedelta(minutes=5))
    assert [a.rule_id for a in calls] == [violation_rule.pk]


def test_without_the_retraining_app_the_request_is_logged_and_skipped(
    loan_model, violation_rule, caplog
):
    now = timezone.now()
    snapshot(loan_model, hour(now, 1), volume=200, violating=30)
    alerts_evaluate(model=loan_model, now=now)
    alert = Alert.objects.get()
    try:
        import models_registry.retraining.services  # noqa: F401
    except ImportError:
        assert alerts._open_retraining_request(alert) is None
        assert "retraining is not installed" in caplog.text
