"""POST /api/v1/models/{slug}/predictions/batch: one result per row, bulk writes."""

import pytest

from audit.models import AuditEvent
from reviewapp.models import Prediction, ReviewItem
from tests.reviewapp.helpers import BATCH_URL, good_prediction, send

pytestmark = pytest.mark.django_db


def test_a_batch_with_good_and_bad_rows_stores_the_good_and_reports_each(
    service_client, loan_model
):
    send(service_client, good_prediction("old-1"))
    send(service_client, good_prediction("old-2"))
    rows = [
        good_prediction("new-1"),
        good_prediction("new-2", confidence=0.1),
        {"external_id": "bad-1", "inputs": {}, "output": "approve", "confidence": "x"},
        good_prediction("old-1"),
        good_prediction("old-2", output="decline"),
        good_prediction("new-1"),
        good_prediction("new-2", confidence=0.11),
        "not an object",
        good_prediction("new-3", inputs={"applicant_age": 5}),
    ]
    response = send(service_client, {"predictions": rows}, url=BATCH_URL)
    assert response.status_code == 200
    body = response.json()
    statuses = [(r["index"], r["external_id"], r["status"]) for r in body["results"]]
    assert statuses == [
        (0, "new-1", "created"),
        (1, "new-2", "created"),
        (2, "bad-1", "invalid"),
        (3, "old-1", "duplicate"),
        (4, "old-2", "conflict"),
        (5, "new-1", "duplicate"),
        (6, "new-2", "conflict"),
        (7, None, "invalid"),
        (8, "new-3", "created"),
    ]
    results = body["results"]
    assert results[2]["errors"] == {"confidence": ["A number is required (got str)."]}
    assert results[4]["errors"] == {"differing_fields": ["output"]}
    assert results[6]["errors"] == {"differing_fields": ["confidence"]}
    assert results[5]["id"] == results[0]["id"]
    assert body["summary"] == {
        "created": 3,
        "duplicate": 2,
        "conflict": 2,
        "rejected": 0,
        "invalid": 2,
        "total": 9,
    }
    assert Prediction.objects.count() == 5
    assert ReviewItem.objects.count() == 2  # new-2 (low confidence), new-3 (contract)
    assert AuditEvent.objects.filter(action="prediction.refused").count() == 2


def test_a_batch_writes_with_bulk_statements_not_a_query_per_row(
    service_client, loan_model, django_assert_max_num_queries
):
    rows = [good_prediction(f"bulk-{i}", confidence=0.1 if i % 2 else 0.9) for i in range(500)]
    with django_assert_max_num_queries(12):
        response = send(service_client, {"predictions": rows}, url=BATCH_URL)
    assert response.json()["summary"]["created"] == 500
    assert ReviewItem.objects.count() == 250
    assert AuditEvent.objects.filter(action__startswith="prediction.").count() == 1000


def test_a_batch_over_the_limit_is_refused_with_413_and_the_limit(service_client, loan_model):
    rows = [good_prediction(f"x-{i}") for i in range(1001)]
    response = send(service_client, {"predictions": rows}, url=BATCH_URL)
    assert response.status_code == 413
    assert response.json()["limit"] == 1000
    assert "1001" in response.json()["detail"]
    assert not Prediction.objects.exists()


@pytest.mark.parametrize("body", [{}, {"predictions": "x"}, {"predictions": []}, [1, 2]])
def test_a_batch_without_a_list_of_predictions_is_refused(service_client, loan_model, body):
    response = send(service_client, body, url=BATCH_URL)
    assert response.status_code == 400
    assert "predictions" in response.json()
    assert AuditEvent.objects.filter(action="prediction.refused").exists()


def test_rejected_rows_carry_their_violations(service_client, loan_model):
    loan_model.versions.get().routing_policy.__class__.objects.update(
        on_contract_violation="reject"
    )
    rows = [good_prediction("r-1", inputs={"applicant_age": 1})]
    result = send(service_client, {"predictions": rows}, url=BATCH_URL).json()["results"][0]
    assert result["status"] == "rejected"
    assert {v["path"] for v in result["errors"]["contract_violations"]} == {
        "inputs.applicant_age",
        "inputs.employment",
        "inputs.income",
    }
    assert Prediction.objects.get().status == "rejected"
