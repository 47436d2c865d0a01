"""POST /api/v1/models/{slug}/predictions: check, route, store once, audit."""

import json

import pytest

from audit.models import AuditEvent
from models_registry.models import RoutingPolicy
from reviewapp.models import Prediction, ReviewItem
from tests.factories import ModelVersionFactory
from tests.reviewapp.helpers import PREDICTIONS_URL, good_prediction, send

pytestmark = pytest.mark.django_db


def test_a_confident_valid_prediction_is_auto_accepted_and_stored(service_client, loan_model):
    response = send(service_client, good_prediction())
    assert response.status_code == 201
    body = response.json()
    assert body["status"] == "auto_accepted"
    assert body["version"] == "v1"
    assert body["routing"] == {"needs_review": False, "reasons": []}
    assert body["contract_violations"] == []
    assert body["decision"] is None
    stored = Prediction.objects.get(pk=body["id"])
    assert stored.external_id == "loan-1"
    assert not ReviewItem.objects.exists()


def test_a_low_confidence_high_value_prediction_goes_to_review_with_both_reasons(
    service_client, loan_model
):
    response = send(service_client, good_prediction(confidence=0.41, value_amount="25000"))
    assert response.status_code == 201
    body = response.json()
    assert body["status"] == "in_review"
    assert body["routing"]["reasons"] == [
        {"rule": "high_value", "value_amount": "25000.00", "threshold": "10000.00"},
        {"rule": "low_confidence", "confidence": 0.41, "threshold": 0.6},
    ]
    item = ReviewItem.objects.get(prediction_id=body["id"])
    assert item.priority == 100
    assert item.status == "pending"
    assert (item.due_at - item.created_at).total_seconds() == 3600


def test_inputs_that_break_the_contract_are_stored_and_routed_not_lost(service_client, loan_model):
    body = good_prediction(inputs={"applicant_age": "forty", "income": -5})
    response = send(service_client, body)
    assert response.status_code == 201
    answer = response.json()
    assert answer["status"] == "in_review"
    assert answer["routing"]["reasons"] == [{"rule": "contract_violation", "violations": 3}]
    paths = [v["path"] for v in answer["contract_violations"]]
    assert paths == ["inputs.applicant_age", "inputs.employment", "inputs.income"]
    stored = Prediction.objects.get(pk=answer["id"])
    assert stored.inputs == {"applicant_age": "forty", "income": -5}
    assert ReviewItem.objects.filter(prediction=stored).exists()


def test_an_output_outside_the_output_spec_is_a_violation_at_path_output(
    service_client, loan_model
):
    answer = send(service_client, good_prediction(output="maybe")).json()
    assert answer["contract_violations"] == [
        {"path": "output", "message": "'maybe' is not one of ['approve', 'decline']"}
    ]


def test_a_reject_policy_stores_the_prediction_as_rejected_and_answers_422(
    service_client, loan_model
):
    RoutingPolicy.objects.filter(version__model=loan_model).update(on_contract_violation="reject")
    body = good_prediction(inputs={"applicant_age": 12, "income": 1, "employment": "employed"})
    response = send(service_client, body)
    assert response.status_code == 422
    answer = response.json()
    assert answer["status"] == "rejected"
    assert answer["contract_violations"][0]["path"] == "inputs.applicant_age"
    assert "rejects" in answer["detail"]
    assert Prediction.objects.get(pk=answer["id"]).status == "rejected"
    assert not ReviewItem.objects.exists()

    replay = send(service_client, body)
    assert replay.status_code == 422
    assert replay.json()["id"] == answer["id"]
    assert Prediction.objects.count() == 1


def test_the_same_prediction_sent_again_answers_200_and_stores_nothing_new(
    service_client, loan_model
):
    first = send(service_client, good_prediction(confidence=0.5))
    events_before = AuditEvent.objects.count()
    again = send(service_client, good_prediction(confidence=0.5))
    assert again.status_code == 200
    assert again.json() == first.json()
    assert Prediction.objects.count() == 1
    assert ReviewItem.objects.count() == 1
    assert AuditEvent.objects.count() == events_before


def test_a_replay_ignores_key_order_number_spelling_and_an_omitted_version(
    service_client, loan_model
):
    send(service_client, good_prediction(confidence=0.5, value_amount="2500"))
    raw = (
        '{"value_amount": 2500.00, "confidence": 0.50, "output": "approve", "version": "v1",'
        ' "inputs": {"employment": "employed", "income": 52000.0, "applicant_age": 40},'
        ' "external_id": "loan-1"}'
    )
    response = service_client.post(PREDICTIONS_URL, raw, content_type="application/json")
    assert response.status_code == 200
    assert Prediction.objects.count() == 1


def test_a_replay_with_different_content_answers_409_naming_the_fields(service_client, loan_model):
    send(service_client, good_prediction())
    response = send(service_client, good_prediction(confidence=0.2, output="decline"))
    assert response.status_code == 409
    body = response.json()
    assert body["differing_fields"] == ["output", "confidence"]
    assert body["prediction"]["confidence"] == 0.93
    assert Prediction.objects.get().confidence == 0.93


@pytest.mark.parametrize(
    ("change", "field", "fragment"),
    [
        ({"external_id": None}, "external_id", "null"),
        ({"external_id": 123}, "external_id", "valid string"),
        ({"external_id": "x" * 201}, "external_id", "200"),
        ({"confidence": "high"}, "confidence", "number"),
        ({"confidence": 1.5}, "confidence", "less than or equal to 1"),
        ({"confidence": True}, "confidence", "number"),
        ({"value_amount": "lots"}, "value_amount", "valid number"),
        ({"value_amount": "1.234"}, "value_amount", "decimal places"),
        ({"occurred_at": "yesterday"}, "occurred_at", "format"),
        ({"version": 2}, "version", "valid string"),
        ({"context": [1]}, "context", "object"),
        ({"inputs": [1, 2]}, "inputs", "object"),
        ({"inputs": None}, "inputs", "null"),
    ],
)
def test_a_malformed_envelope_is_refused_per_field_and_audited(
    service_client, loan_model, change, field, fragment
):
    body = good_prediction(**change)
    response = send(service_client, body)
    assert response.status_code == 400
    errors = response.json()
    assert list(errors) == [field]
    assert fragment in " ".join(errors[field])
    assert not Prediction.objects.exists()
    refusal = AuditEvent.objects.get(action="prediction.refused")
    assert refusal.model == loan_model
    assert field in refusal.payload["errors"]
    assert refusal.actor_type == "service"


def test_missing_fields_are_each_named(service_client, loan_model):
    response = send(service_client, {"inputs": {}})
    assert response.status_code == 400
    assert set(response.json()) == {"external_id", "output", "confidence"}


def test_a_body_that_is_not_json_is_refused_and_audited(service_client, loan_model):
    response = service_client.post(PREDICTIONS_URL, "{not json", content_type="application/json")
    assert response.status_code == 400
    assert "JSON parse error" in response.json()["detail"]
    assert AuditEvent.objects.filter(action="prediction.refused").count() == 1


def test_a_body_that_is_a_list_is_refused(service_client, loan_model):
    response = send(service_client, [good_prediction()])
    assert response.status_code == 400
    assert "non_field_errors" in response.json()


def test_an_unknown_version_is_refused_by_name(service_client, loan_model):
    response = send(service_client, good_prediction(version="v9"))
    assert response.status_code == 400
    assert response.json() == {"version": ["Model 'loan-default' has no version 'v9'."]}
    assert not Prediction.objects.exists()


def test_a_named_retired_version_is_accepted_and_routed_by_its_own_policy(
    service_client, loan_model
):
    old = ModelVersionFactory(model=loan_model, label="v0", status="retired")
    RoutingPolicy.objects.create(version=old, confidence_threshold=0.99)
    answer = send(service_client, good_prediction(version="v0")).json()
    assert answer["version"] == "v0"
    assert answer["routing"]["reasons"][0]["threshold"] == 0.99


def test_every_stored_prediction_is_audited_as_received_and_routed(service_client, loan_model):
    answer = send(service_client, good_prediction(confidence=0.3)).json()
    events = AuditEvent.objects.filter(object_id=str(answer["id"])).order_by("id")
    assert [e.action for e in events] == ["prediction.received", "prediction.routed"]
    received, routed = events
    assert received.actor_label.startswith("service key loan scoring")
    assert received.chain == "loan-default"
    assert len(received.payload["content_hash"]) == 64
    assert routed.payload["reasons"] == [
        {"rule": "low_confidence", "confidence": 0.3, "threshold": 0.6}
    ]


def test_polling_shows_the_stored_prediction(service_client, loan_model):
    created = send(service_client, good_prediction(external_id="a/b 1")).json()
    response = service_client.get(f"{PREDICTIONS_URL}/a/b 1")
    assert response.status_code == 200
    assert response.json() == created


def test_polling_an_unknown_external_id_is_404(service_client, loan_model):
    response = service_client.get(f"{PREDICTIONS_URL}/nope")
    assert response.status_code == 404
    assert "nope" in response.json()["detail"]


def test_a_prediction_for_a_candidate_version_is_a_shadow_kept_apart(service_client, loan_model):
    ModelVersionFactory(model=loan_model, label="v2", status="candidate")
    production = send(service_client, good_prediction(confidence=0.2)).json()
    response = send(service_client, good_prediction(version="v2", confidence=0.2))
    assert response.status_code == 201
    shadow = response.json()
    assert shadow["status"] == "shadow"
    assert shadow["routing"] == {"needs_review": False, "reasons": []}
    assert shadow["id"] != production["id"]
    assert ReviewItem.objects.count() == 1  # only the production one
    polled = service_client.get(f"{PREDICTIONS_URL}/loan-1").json()
    assert polled["id"] == production["id"]
    replay = send(service_client, good_prediction(version="v2", confidence=0.2))
    assert replay.status_code == 200
    assert replay.json()["id"] == shadow["id"]
    assert not AuditEvent.objects.filter(
        action="prediction.routed", object_id=str(shadow["id"])
    ).exists()


def test_a_model_without_an_active_version_asks_for_a_version(service_client, loan_model):
    loan_model.versions.update(status="retired")
    response = send(service_client, good_prediction())
    assert response.status_code == 400
    assert "no active version" in response.json()["version"][0]


def test_the_answer_is_json_even_for_errors(service_client, loan_model):
    response = send(service_client, good_prediction(confidence="x"))
    assert response["Content-Type"] == "application/json"
    json.loads(response.content)
