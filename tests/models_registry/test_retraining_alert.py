"""An alert rule marked for retraining opens a request; at most one is open per model.

The first test goes through the monitoring app's real ``alert_open``; the others use a
stand-in carrying exactly the attributes the service reads (model, rule, pk, summary).
"""

from dataclasses import dataclass

import pytest

from audit.models import AuditEvent
from models_registry.models import RetrainingRequest, RetrainingStatus
from models_registry.retraining.services import (
    InvalidTransition,
    retraining_request_open,
    retraining_request_open_for_alert,
)

pytest_plugins = ["tests.models_registry.retraining_fixtures"]
pytestmark = pytest.mark.django_db


@dataclass
class AlertStandIn:
    model: object
    rule: str
    pk: int
    summary: str


def test_an_alert_opens_a_request_as_the_system_with_its_summary(loan_model, tasks_inline):
    alert = AlertStandIn(loan_model, "accuracy below 0.85", 41, "Accuracy 0.81 over 7 days")
    with tasks_inline():
        request = retraining_request_open_for_alert(alert=alert)
    request.refresh_from_db()
    assert request.status == RetrainingStatus.REQUESTED
    assert request.reason == "Accuracy 0.81 over 7 days"
    assert request.requested_by is None
    assert request.alert_ref == "alert:41"
    assert request.labels_ready
    event = AuditEvent.objects.get(action="retraining.requested")
    assert (event.actor_type, event.actor_label) == (
        "system",
        "system: alert rule accuracy below 0.85",
    )
    assert event.payload["alert"] == "alert:41"


def test_a_second_alert_joins_the_open_request_instead_of_opening_another(loan_model, owner):
    first = retraining_request_open_for_alert(alert=AlertStandIn(loan_model, "drift", 1, "PSI 0.3"))
    second = retraining_request_open_for_alert(
        alert=AlertStandIn(loan_model, "drift", 2, "PSI 0.4")
    )
    assert second.pk == first.pk
    assert RetrainingRequest.objects.count() == 1
    assert AuditEvent.objects.filter(action="retraining.alert_joined").count() == 1
    # The same alert delivered twice changes nothing.
    retraining_request_open_for_alert(alert=AlertStandIn(loan_model, "drift", 1, "PSI 0.3"))
    retraining_request_open_for_alert(alert=AlertStandIn(loan_model, "drift", 2, "PSI 0.4"))
    assert AuditEvent.objects.filter(action="retraining.alert_joined").count() == 1
    # And the button says a request is already open.
    with pytest.raises(InvalidTransition, match="already open"):
        retraining_request_open(model=loan_model, user=owner, reason="me too")


def test_after_the_request_closes_an_alert_opens_a_new_one(loan_model, owner):
    from models_registry.retraining.services import retraining_cancel

    first = retraining_request_open_for_alert(alert=AlertStandIn(loan_model, "drift", 1, "PSI"))
    retraining_cancel(request=first, user=owner, reason="False alarm")
    second = retraining_request_open_for_alert(alert=AlertStandIn(loan_model, "drift", 2, "PSI"))
    assert second.pk != first.pk


def test_an_alert_opened_request_goes_all_the_way_to_promotion(
    loan_model, owner, pipeline_client, tasks_inline
):
    from models_registry.models import ModelVersion
    from models_registry.retraining.services import retraining_sign
    from tests.models_registry.retraining_support import VERSIONS_URL, candidate_body

    loan_model.required_signoffs = 1
    loan_model.save()
    with tasks_inline():
        request = retraining_request_open_for_alert(
            alert=AlertStandIn(loan_model, "accuracy", 7, "Accuracy 0.79")
        )
    with tasks_inline():
        pipeline_client.post(VERSIONS_URL, candidate_body("v2", request.pk), format="json")
    with tasks_inline():
        # Nobody asked in person, so the owner's one approval is enough.
        retraining_sign(request=request, user=owner, decision="approve")
    request.refresh_from_db()
    assert request.status == RetrainingStatus.PROMOTED
    assert ModelVersion.objects.get(label="v2").status == "active"
    actors = list(
        AuditEvent.objects.filter(action__startswith="retraining.")
        .order_by("id")
        .values_list("action", "actor_label")
    )
    assert actors[0] == ("retraining.requested", "system: alert rule accuracy")
    assert ("retraining.approved", "alice (Alice Owner)") in actors


def test_a_real_alert_rule_marked_for_retraining_opens_a_request(loan_model, tasks_inline):
    from django.utils import timezone

    from models_registry.models import Alert, AlertRule
    from models_registry.monitoring.alerts import Measurement, alert_open

    rule = AlertRule.objects.create(
        model=loan_model,
        name="Accuracy below 0.85",
        metric="accuracy",
        comparison="lt",
        threshold=0.85,
        opens_retraining=True,
    )
    with tasks_inline():
        alert, opened = alert_open(
            rule=rule, measurement=Measurement(0.79, 500, {}), now=timezone.now()
        )
    assert opened
    request = RetrainingRequest.objects.get()
    assert request.alert_ref == f"alert:{alert.pk}"
    assert request.reason == Alert.objects.get().summary
    assert request.labels_ready
    event = AuditEvent.objects.get(action="retraining.requested")
    assert event.actor_label == "system: alert rule Accuracy below 0.85"
