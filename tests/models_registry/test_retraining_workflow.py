"""The whole path: the button, labels, the pipeline webhook, a candidate, validation,
two sign-offs and promotion, with every step in the audit log with its actor."""

import io

import pyarrow.parquet as pq
import pytest

from audit.models import AuditEvent
from models_registry.models import (
    ModelVersion,
    RetrainingRequest,
    RetrainingStatus,
    VersionStatus,
)
from models_registry.retraining.notifications import SIGNATURE_HEADER, signature_verify
from models_registry.retraining.selectors import REQUEST_OBJECT_TYPE
from reviewapp.models import Prediction
from tests.models_registry.retraining_support import (
    VERSIONS_URL,
    candidate_body,
    decide,
    send_outcome,
    send_prediction,
)

pytest_plugins = ["tests.models_registry.retraining_fixtures"]
pytestmark = pytest.mark.django_db


@pytest.fixture
def labelled_traffic(service_client, loan_model):
    """Four production predictions with labels (two outcomes, two human decisions), one
    decided by the SLA fallback and one untouched, all after v1 went live."""
    for i in range(6):
        send_prediction(service_client, f"loan-{i}", output="approve")
    send_outcome(service_client, "loan-0", "approve")
    send_outcome(service_client, "loan-1", "decline")
    decide("loan-2", "decline")
    decide("loan-3", None, action="approve")  # an approval confirms the model's output
    decide("loan-4", "approve", action="fallback", by="system")  # not a human judgement


def test_the_whole_path_from_the_button_to_promotion(
    client,
    owner,
    backup_owner,
    loan_model,
    labelled_traffic,
    pipeline_client,
    service_client,
    receiver,
    tasks_inline,
    mailoutbox,
):
    loan_model.pipeline_webhook_url = receiver.url
    loan_model.pipeline_webhook_secret = "whsec-test"
    loan_model.save()
    v1 = loan_model.active_version

    client.force_login(owner)
    with tasks_inline():
        response = client.post(
            "/models/loan-default/retraining/", {"reason": "Income drift since October"}
        )
    request = RetrainingRequest.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/retraining/{request.pk}/"
    assert request.status == RetrainingStatus.TRAINING
    assert request.requested_by == owner
    assert request.base_version == v1
    assert request.labels_rows == 4

    # The pipeline got a signed POST naming the request and where its labels are.
    call = receiver.requests[0]
    assert signature_verify("whsec-test", call["body"], call["headers"][SIGNATURE_HEADER])
    assert not signature_verify("wrong", call["body"], call["headers"][SIGNATURE_HEADER])
    assert call["headers"]["Countersign-Event-Id"] == f"retraining-request-{request.pk}"
    sent = receiver.json()["retraining_request"]
    assert sent["id"] == request.pk
    assert sent["labels_uri"].endswith(f"/api/v1/retraining-requests/{request.pk}/labels")

    # ...and fetches the labels with its key.
    labels = pipeline_client.get(f"/api/v1/retraining-requests/{request.pk}/labels")
    assert labels.status_code == 200
    table = pq.read_table(io.BytesIO(b"".join(labels.streaming_content)))
    from models_registry.retraining.labels import COLUMNS, LABEL_COLUMNS

    assert table.column_names == [c.name for c in LABEL_COLUMNS] == list(COLUMNS)
    rows = {r["external_id"]: r for r in table.to_pylist()}
    assert set(rows) == {"loan-0", "loan-1", "loan-2", "loan-3"}
    assert rows["loan-3"]["label_json"] == '"approve"'
    assert rows["loan-3"]["decision_output_json"] is None
    assert rows["loan-1"]["label_json"] == '"decline"'
    assert rows["loan-1"]["label_source"] == "outcome"
    assert rows["loan-2"]["label_source"] == "decision"
    assert rows["loan-2"]["decided_by"] == "carol"
    assert rows["loan-2"]["decided_at"] is not None and rows["loan-0"]["decided_at"] is None

    # The pipeline registers its candidate; validation runs and asks for sign-off.
    with tasks_inline():
        response = pipeline_client.post(
            VERSIONS_URL,
            candidate_body(
                "v2", request_id=request.pk, routing_policy={"confidence_threshold": 0.95}
            ),
            format="json",
        )
    assert response.status_code == 201, response.content
    assert response.json()["status"] == "candidate"
    assert response.json()["routing_policy"]["value_threshold"] == "10000.00"
    assert response.json()["routing_policy"]["confidence_threshold"] == 0.95
    request.refresh_from_db()
    assert request.status == RetrainingStatus.AWAITING_SIGNOFF
    assert request.validation_report.passed
    signoff_mail = [m for m in mailoutbox if "awaits your sign-off" in m.subject]
    assert sorted(signoff_mail[0].to) == ["alice@example.com", "bob@example.com"]
    from models_registry.retraining import tasks

    assert tasks.email_send(request.pk, "awaiting_signoff") == "0 sent"  # a retry sends nothing
    assert len(mailoutbox) == 1

    # Two different people approve; the second approval enqueues the promotion.
    response = client.post(f"/retraining/{request.pk}/sign", {"decision": "approve"})
    assert response.status_code == 302
    request.refresh_from_db()
    assert request.status == RetrainingStatus.AWAITING_SIGNOFF
    client.force_login(backup_owner)
    with tasks_inline():
        client.post(
            f"/retraining/{request.pk}/sign", {"decision": "approve", "comment": "Looks right"}
        )
    request.refresh_from_db()
    assert request.status == RetrainingStatus.PROMOTED
    v2 = ModelVersion.objects.get(label="v2")
    v1.refresh_from_db()
    assert v2.status == VersionStatus.ACTIVE
    assert v1.status == VersionStatus.RETIRED
    assert request.previous_version == v1

    # New predictions go to v2 under its own routing policy.
    send_prediction(service_client, "after-promotion", confidence=0.93)
    after = Prediction.objects.get(external_id="after-promotion")
    assert after.version == v2
    assert after.needs_review  # 0.93 is below v2's threshold of 0.95 (v1's was 0.6)

    # Every step is in the audit log with who did it.
    steps = list(
        AuditEvent.objects.filter(object_type=REQUEST_OBJECT_TYPE, object_id=str(request.pk))
        .order_by("id")
        .values_list("action", "actor_type", "actor_label")
    )
    assert steps == [
        ("retraining.requested", "user", "alice (Alice Owner)"),
        ("retraining.labels_prepared", "system", "system: retraining labels"),
        ("retraining.pipeline_notified", "system", "system: pipeline webhook"),
        (
            "retraining.candidate_registered",
            "service",
            f"service key trainer ({pipeline_client_prefix(request)}…)",
        ),
        ("retraining.validating", "system", "system: retraining validation"),
        ("retraining.validated", "system", "system: retraining validation"),
        ("retraining.email_sent", "system", "system: retraining email"),
        ("retraining.signed_off", "user", "alice (Alice Owner)"),
        ("retraining.signed_off", "user", "bob (Bob Backup)"),
        ("retraining.approved", "user", "bob (Bob Backup)"),
        ("retraining.promoted", "system", "system: promotion after sign-off"),
    ]
    activated = AuditEvent.objects.get(action="version.activated", object_id=str(v2.pk))
    assert activated.payload["retired"] == ["v1"]
    assert AuditEvent.objects.filter(action="version.registered", actor_type="service").exists()


def pipeline_client_prefix(request):
    from models_registry.models import ServiceKey

    return ServiceKey.objects.get(name="trainer").prefix


def test_a_pipeline_that_polls_finds_the_request_and_its_labels(
    owner, loan_model, pipeline_client, tasks_inline
):
    with tasks_inline():
        request = open_request_now(owner, loan_model)
    response = pipeline_client.get("/api/v1/retraining-requests?status=requested")
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 1
    assert body["results"][0] == {
        "id": request.pk,
        "model": "loan-default",
        "status": "requested",
        "reason": "Accuracy is sliding",
        "requested_by": "alice (Alice Owner)",
        "created_at": body["results"][0]["created_at"],
        "labels_uri": f"http://127.0.0.1:8000/api/v1/retraining-requests/{request.pk}/labels",
        "labels_rows": 0,
        "labels_sha256": body["results"][0]["labels_sha256"],
        "candidate": None,
    }
    assert pipeline_client.get("/api/v1/retraining-requests?status=training").json()["count"] == 0


def open_request_now(owner, model):
    from tests.models_registry.retraining_support import open_request

    return open_request(owner, model)


def test_a_failed_webhook_is_recorded_and_retried_later(
    owner, loan_model, receiver, tasks_inline, settings
):
    from django_q.models import Schedule

    receiver.answers = [503, 200]
    loan_model.pipeline_webhook_url = receiver.url
    loan_model.save()
    with tasks_inline():
        request = open_request_now(owner, loan_model)
    request.refresh_from_db()
    assert request.status == RetrainingStatus.REQUESTED
    assert request.pipeline_last_error == "HTTP 503"
    retry = Schedule.objects.get(name=f"retraining {request.pk}: webhook attempt 2")
    assert retry.func == "models_registry.retraining.tasks.pipeline_notify"

    from models_registry.retraining import tasks

    with tasks_inline():
        assert tasks.pipeline_notify(request.pk, 2) == "delivered"
        assert tasks.pipeline_notify(request.pk, 3) == "delivered"  # idempotent
    request.refresh_from_db()
    assert request.status == RetrainingStatus.TRAINING
    assert len(receiver.requests) == 2
    failed = AuditEvent.objects.get(action="retraining.pipeline_notification_failed")
    assert failed.payload["will_retry"] is True


def test_the_webhook_gives_up_after_the_last_attempt_and_says_so(
    owner, loan_model, receiver, tasks_inline, settings
):
    from django_q.models import Schedule

    settings.RETRAINING_WEBHOOK_MAX_ATTEMPTS = 2
    receiver.answers = [500]
    loan_model.pipeline_webhook_url = receiver.url
    loan_model.save()
    with tasks_inline():
        request = open_request_now(owner, loan_model)

    from models_registry.retraining import tasks

    with tasks_inline():
        assert tasks.pipeline_notify(request.pk, 2) == "not delivered"
    request.refresh_from_db()
    assert request.pipeline_attempts == 2
    assert not Schedule.objects.filter(name__contains="attempt 3").exists()
    last = AuditEvent.objects.filter(action="retraining.pipeline_notification_failed").last()
    assert (last.payload["attempt"], last.payload["will_retry"]) == (2, False)
    assert request.status == RetrainingStatus.REQUESTED  # the pipeline can still poll


def test_automatic_retries_stop_once_the_pipeline_registered_its_candidate(
    owner, loan_model, receiver, tasks_inline, pipeline_client
):
    receiver.answers = [503]
    loan_model.pipeline_webhook_url = receiver.url
    loan_model.save()
    with tasks_inline():
        request = open_request_now(owner, loan_model)
    assert len(receiver.requests) == 1  # failed; attempt 2 is scheduled
    registered = pipeline_client.post(
        VERSIONS_URL, candidate_body("v2", request_id=request.pk), format="json"
    )
    assert registered.status_code == 201, registered.content

    from models_registry.retraining import tasks

    with tasks_inline():
        assert tasks.pipeline_notify(request.pk, 2) == "not delivered"
    assert len(receiver.requests) == 1  # nothing posted again
    assert not AuditEvent.objects.filter(
        action="retraining.pipeline_notification_failed", payload__attempt=2
    ).exists()
