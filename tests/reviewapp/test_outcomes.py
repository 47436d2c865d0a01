"""POST /api/v1/models/{slug}/outcomes: ground truth, replaced with history kept."""

import pytest

from audit.models import AuditEvent
from reviewapp.models import Outcome
from tests.reviewapp.helpers import good_prediction, send

pytestmark = pytest.mark.django_db
URL = "/api/v1/models/loan-default/outcomes"


def test_one_outcome_is_stored(service_client, loan_model):
    send(service_client, good_prediction("loan-1"))
    response = service_client.post(
        URL,
        {"external_id": "loan-1", "actual": "decline", "observed_at": "2026-11-20T10:00:00Z"},
        format="json",
    )
    assert response.status_code == 200
    assert response.json() == {"stored": 1, "unknown_external_ids": []}
    assert Outcome.objects.get().actual == "decline"


def test_a_batch_reports_unknown_external_ids(service_client, loan_model):
    send(service_client, good_prediction("loan-1"))
    response = service_client.post(
        URL,
        {
            "outcomes": [
                {"external_id": "loan-1", "actual": "approve"},
                {"external_id": "ghost", "actual": "approve"},
            ]
        },
        format="json",
    )
    assert response.json() == {"stored": 1, "unknown_external_ids": ["ghost"]}


def test_a_later_outcome_replaces_the_earlier_with_history_and_audit(service_client, loan_model):
    send(service_client, good_prediction("loan-1"))
    service_client.post(URL, {"external_id": "loan-1", "actual": "approve"}, format="json")
    service_client.post(URL, {"external_id": "loan-1", "actual": "decline"}, format="json")
    outcome = Outcome.objects.get()
    assert outcome.actual == "decline"
    assert [h.actual for h in outcome.history.order_by("history_date")] == ["approve", "decline"]
    replaced = AuditEvent.objects.get(action="outcome.replaced")
    assert replaced.payload["before"]["actual"] == "approve"
    assert replaced.payload["after"]["actual"] == "decline"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"actual": "approve"}, "external_id"),
        ({"external_id": "loan-1"}, "actual"),
        ({"external_id": "loan-1", "actual": "x", "observed_at": "soon"}, "observed_at"),
        ({"outcomes": []}, "outcomes"),
        ({"outcomes": "x"}, "outcomes"),
    ],
)
def test_bad_outcomes_are_refused_per_field(service_client, loan_model, body, field):
    response = service_client.post(URL, body, format="json")
    assert response.status_code == 400
    assert field in response.json()
    assert not Outcome.objects.exists()
