"""The pipeline's endpoints: register a candidate, poll requests, fetch labels; and who may."""

import pytest
from rest_framework.test import APIClient

from audit.models import AuditEvent
from models_registry.models import ModelVersion, RetrainingStatus, ServiceKeyScope, VersionStatus
from tests.models_registry.retraining_support import VERSIONS_URL, candidate_body, open_request

pytest_plugins = ["tests.models_registry.retraining_fixtures"]
pytestmark = pytest.mark.django_db


def test_a_candidate_is_registered_and_never_active_by_registering(pipeline_client, loan_model):
    response = pipeline_client.post(
        VERSIONS_URL,
        candidate_body(
            "v2",
            routing_policy={"confidence_threshold": 0.75},
            input_contract={"type": "object"},
        ),
        format="json",
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["status"] == "candidate"
    assert body["metrics"] == {"accuracy": 0.93}
    assert body["input_contract"] == {"type": "object"}
    assert body["output_spec"] == {"type": "string", "enum": ["approve", "decline"]}
    assert body["routing_policy"]["confidence_threshold"] == 0.75
    assert body["routing_policy"]["value_threshold"] == "10000.00"  # copied from v1
    assert loan_model.active_version.label == "v1"
    event = AuditEvent.objects.get(action="version.registered")
    assert event.actor_type == "service"
    assert event.payload["version"] == "v2"


def test_registering_a_label_twice_answers_409(pipeline_client, loan_model):
    assert (
        pipeline_client.post(VERSIONS_URL, candidate_body("v2"), format="json").status_code == 201
    )
    again = pipeline_client.post(VERSIONS_URL, candidate_body("v2"), format="json")
    assert again.status_code == 409
    assert "label" in again.json()
    taken = pipeline_client.post(VERSIONS_URL, candidate_body("v1"), format="json")
    assert taken.status_code == 409
    assert ModelVersion.objects.filter(model=loan_model).count() == 2


def test_an_intake_key_cant_register_versions(service_client, loan_model):
    response = service_client.post(VERSIONS_URL, candidate_body("v2"), format="json")
    assert response.status_code == 403
    assert "pipeline" in response.json()["detail"]
    assert not ModelVersion.objects.filter(label="v2").exists()


def test_another_models_key_cant_register_here_and_unknown_models_are_404(
    outsider, other_model, make_key, loan_model
):
    key = make_key([other_model], scopes=(ServiceKeyScope.PIPELINE,), name="fraud trainer")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key.secret}")
    assert client.post(VERSIONS_URL, candidate_body("v9"), format="json").status_code == 403
    assert (
        client.post("/api/v1/models/nope/versions", candidate_body(), format="json").status_code
        == 404
    )
    assert APIClient().post(VERSIONS_URL, candidate_body(), format="json").status_code == 401


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"metrics": {"accuracy": "high"}}, "metrics"),
        ({"label": "has spaces"}, "label"),
        ({"input_contract": {"type": "nonsense"}}, "input_contract"),
        ({"routing_policy": {"confidence_threshold": 2}}, "routing_policy"),
        ({"retraining_request": 999}, "retraining_request"),
    ],
)
def test_bad_fields_are_named_in_a_400(pipeline_client, loan_model, change, field):
    body = {**candidate_body("v2"), **change}
    response = pipeline_client.post(VERSIONS_URL, body, format="json")
    assert response.status_code == 400
    assert field in response.json()


def test_a_request_that_already_has_a_candidate_takes_no_other(
    owner, loan_model, pipeline_client, tasks_inline
):
    with tasks_inline():
        request = open_request(owner, loan_model)
        pipeline_client.post(VERSIONS_URL, candidate_body("v2", request.pk), format="json")
    response = pipeline_client.post(VERSIONS_URL, candidate_body("v3", request.pk), format="json")
    assert response.status_code == 409
    assert "retraining_request" in response.json()


def test_the_request_list_filters_by_status_and_refuses_unknown_ones(
    owner, loan_model, pipeline_client
):
    open_request(owner, loan_model)
    body = pipeline_client.get("/api/v1/retraining-requests?status=requested").json()
    assert (body["count"], body["next"], body["results"][0]["labels_uri"]) == (1, None, None)
    bad = pipeline_client.get("/api/v1/retraining-requests?status=bogus")
    assert bad.status_code == 400
    assert "status" in bad.json()


def test_keys_and_people_only_see_their_models_requests(
    owner, outsider, loan_model, other_model, make_key, service_client, client
):
    request = open_request(owner, loan_model)
    key = make_key([other_model], scopes=(ServiceKeyScope.PIPELINE,), name="fraud trainer")
    outsider_pipeline = APIClient()
    outsider_pipeline.credentials(HTTP_AUTHORIZATION=f"Bearer {key.secret}")
    assert outsider_pipeline.get("/api/v1/retraining-requests").json()["count"] == 0
    assert outsider_pipeline.get(f"/api/v1/retraining-requests/{request.pk}").status_code == 404
    labels = outsider_pipeline.get(f"/api/v1/retraining-requests/{request.pk}/labels")
    assert labels.status_code == 404
    validate = outsider_pipeline.post(f"/api/v1/retraining-requests/{request.pk}/validate")
    assert validate.status_code == 404
    # an intake key is not a pipeline
    assert service_client.get("/api/v1/retraining-requests").status_code == 403
    assert service_client.get(f"/api/v1/retraining-requests/{request.pk}/labels").status_code == 403
    client.force_login(outsider)
    assert client.get("/api/v1/retraining-requests").json()["count"] == 0
    client.force_login(owner)
    assert client.get(f"/api/v1/retraining-requests/{request.pk}").json()["status"] == "requested"


def test_labels_not_written_yet_answer_409(owner, loan_model, pipeline_client):
    request = open_request(owner, loan_model)
    response = pipeline_client.get(f"/api/v1/retraining-requests/{request.pk}/labels")
    assert response.status_code == 409


def test_labels_are_only_decisions_and_outcomes_since_the_active_version_went_live(
    owner, loan_model, pipeline_client, service_client, tasks_inline
):
    import io
    from datetime import timedelta

    import pyarrow.parquet as pq
    from django.utils import timezone

    from reviewapp.models import Outcome
    from tests.models_registry.retraining_support import send_outcome, send_prediction

    v1 = loan_model.active_version
    v1.activated_at = timezone.now() - timedelta(days=1)
    v1.save()
    send_prediction(service_client, "old")
    send_prediction(service_client, "new")
    send_outcome(service_client, "old", "decline")
    send_outcome(service_client, "new", "approve")
    Outcome.objects.filter(prediction__external_id="old").update(
        recorded_at=timezone.now() - timedelta(days=3)
    )
    from reviewapp.models import Decision, Prediction

    Decision.objects.create(
        prediction=Prediction.objects.get(external_id="old"),
        action="approve",
        final_output="decline",
        decided_by=["carol"],
        decided_at=timezone.now() - timedelta(days=2),
    )
    with tasks_inline():
        request = open_request(owner, loan_model)
    response = pipeline_client.get(f"/api/v1/retraining-requests/{request.pk}/labels")
    table = pq.read_table(io.BytesIO(b"".join(response.streaming_content)))
    assert table.column("external_id").to_pylist() == ["new"]
    request.refresh_from_db()
    assert response["X-Content-SHA256"] == request.labels_sha256
    assert request.status == RetrainingStatus.REQUESTED  # no webhook configured: the pipeline polls


def test_a_person_who_is_not_an_owner_cant_register_through_the_api(reviewer, loan_model, client):
    loan_model.reviewers.add(reviewer)
    client.force_login(reviewer)
    response = client.post(VERSIONS_URL, candidate_body("v2"), content_type="application/json")
    assert response.status_code == 403
    assert ModelVersion.objects.filter(status=VersionStatus.CANDIDATE).count() == 0


def test_labels_go_to_the_pipeline_owners_and_approvers_not_to_reviewers(
    owner, reviewer, second_reviewer, loan_model, client, tasks_inline
):
    with tasks_inline():
        request = open_request(owner, loan_model)
    url = f"/api/v1/retraining-requests/{request.pk}/labels"
    loan_model.reviewers.add(reviewer)
    client.force_login(reviewer)
    assert client.get(f"/api/v1/retraining-requests/{request.pk}").status_code == 200
    assert client.get(url).status_code == 403
    loan_model.approvers.add(second_reviewer)
    client.force_login(second_reviewer)
    assert client.get(url).status_code == 200
    client.force_login(owner)
    assert client.get(url).status_code == 200
