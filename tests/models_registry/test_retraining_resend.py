"""Sending a request to the pipeline again: after the webhook's automatic attempts gave up
(or instead of waiting for the next one), the model's owners start a fresh, audited round of
deliveries with the same event id; nobody else may, and the page says why it can't."""

import pytest
from django_q.models import Schedule
from rest_framework.test import APIClient

from audit.models import AuditEvent
from models_registry.models import RetrainingRequest, RetrainingStatus, ServiceKeyScope
from models_registry.retraining import services, tasks
from models_registry.retraining.notifications import (
    EVENT_ID_HEADER,
    SIGNATURE_HEADER,
    signature_verify,
)
from models_registry.retraining.selectors import REQUEST_OBJECT_TYPE
from tests.audit.conftest import grant_role
from tests.models_registry.retraining_support import offered, open_request

pytest_plugins = ["tests.models_registry.retraining_fixtures"]
pytestmark = pytest.mark.django_db

SECRET = "whsec-test"


def page_url(request) -> str:
    return f"/retraining/{request.pk}/"


def resend_url(request) -> str:
    return f"/retraining/{request.pk}/resend"


def api_resend_url(request) -> str:
    return f"/api/v1/retraining-requests/{request.pk}/resend"


def steps(request) -> list[tuple[str, str]]:
    return list(
        AuditEvent.objects.filter(object_type=REQUEST_OBJECT_TYPE, object_id=str(request.pk))
        .order_by("id")
        .values_list("action", "actor_label")
    )


@pytest.fixture
def webhook(loan_model, receiver):
    loan_model.pipeline_webhook_url = receiver.url
    loan_model.pipeline_webhook_secret = SECRET
    loan_model.save()
    return receiver


@pytest.fixture
def gave_up(owner, loan_model, webhook, tasks_inline, settings) -> RetrainingRequest:
    """A request whose two automatic deliveries both got HTTP 500; no retry is left."""
    settings.RETRAINING_WEBHOOK_MAX_ATTEMPTS = 2
    webhook.answers = [500, 500, 200]  # the pipeline is fixed after the second attempt
    with tasks_inline():
        request = open_request(owner, loan_model)
    # django-q2's scheduler deletes the one-off schedule as it hands out attempt 2
    Schedule.objects.get(name=f"retraining {request.pk}: webhook attempt 2").delete()
    with tasks_inline():
        assert tasks.pipeline_notify(request.pk, 2) == "not delivered"
    request.refresh_from_db()
    assert (request.pipeline_attempts, request.pipeline_last_error) == (2, "HTTP 500")
    assert not Schedule.objects.filter(name__startswith=f"retraining {request.pk}:").exists()
    return request


@pytest.fixture
def acknowledged(owner, loan_model, webhook, tasks_inline) -> RetrainingRequest:
    with tasks_inline():
        request = open_request(owner, loan_model)
    request.refresh_from_db()
    assert request.pipeline_notified_at is not None
    return request


# --- The owner sends it again ------------------------------------------------------------------


def test_the_owner_sends_it_again_after_the_automatic_attempts_gave_up(
    client, owner, gave_up, webhook, tasks_inline
):
    client.force_login(owner)
    with tasks_inline():
        response = client.post(resend_url(gave_up))
    assert response.status_code == 302
    assert response["Location"] == page_url(gave_up)

    # The pipeline got the same signed request, under the same event id, a third time.
    assert len(webhook.requests) == 3
    first, again = webhook.requests[0], webhook.requests[-1]
    assert again["headers"][EVENT_ID_HEADER] == f"retraining-request-{gave_up.pk}"
    assert again["headers"][EVENT_ID_HEADER] == first["headers"][EVENT_ID_HEADER]
    assert signature_verify(SECRET, again["body"], again["headers"][SIGNATURE_HEADER])
    assert webhook.json()["event"] == "retraining.requested"
    assert webhook.json()["retraining_request"]["id"] == gave_up.pk

    # ...and the request moves on as on a first successful delivery, attempts counted anew.
    gave_up.refresh_from_db()
    assert gave_up.status == RetrainingStatus.TRAINING
    assert gave_up.pipeline_notified_at is not None
    assert (gave_up.pipeline_attempts, gave_up.pipeline_last_error) == (1, "")
    assert steps(gave_up)[-4:] == [
        ("retraining.pipeline_notification_failed", "system: pipeline webhook"),
        ("retraining.pipeline_notification_failed", "system: pipeline webhook"),
        ("retraining.pipeline_resend_requested", "alice (Alice Owner)"),
        ("retraining.pipeline_notified", "system: pipeline webhook"),
    ]
    resent = AuditEvent.objects.get(action="retraining.pipeline_resend_requested")
    assert resent.actor_type == "user"
    assert resent.payload == {
        "status": "requested",
        "url": webhook.url,
        "resend": 1,
        "previous_attempts": 2,
        "previous_error": "HTTP 500",
        "dropped_retries": 0,
    }
    notified = AuditEvent.objects.get(action="retraining.pipeline_notified")
    assert (notified.payload["attempt"], notified.payload["resend"]) == (1, 1)
    page = client.get(page_url(gave_up)).content.decode()
    assert "Sent to the pipeline again" in page
    assert "(attempt 1, after 1 resend)" in page
    assert "Send to the pipeline again</button>" not in page


def test_the_resend_and_its_delivery_task_are_one_commit(
    owner, backup_owner, gave_up, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as enqueued:
        services.retraining_pipeline_resend(request=gave_up, user=backup_owner)
    assert len(enqueued) == 1  # pipeline_notify(request, attempt 1, resend 1) on commit
    assert AuditEvent.objects.get(action="retraining.pipeline_resend_requested").actor_label == (
        "bob (Bob Backup)"
    )


def test_a_failing_resend_is_retried_with_attempts_counted_from_one(
    owner, gave_up, webhook, tasks_inline
):
    webhook.answers = [503]
    with tasks_inline():
        services.retraining_pipeline_resend(request=gave_up, user=owner)
    gave_up.refresh_from_db()
    assert (gave_up.pipeline_attempts, gave_up.pipeline_last_error) == (1, "HTTP 503")
    retry = Schedule.objects.get(name=f"retraining {gave_up.pk}: webhook attempt 2 (resend 1)")
    assert retry.args == f"({gave_up.pk}, 2, 1)"
    failed = AuditEvent.objects.filter(action="retraining.pipeline_notification_failed").last()
    assert (failed.payload["attempt"], failed.payload["resend"]) == (1, 1)
    assert failed.payload["will_retry"] is True


def test_a_resend_replaces_the_waiting_automatic_retry(
    owner, loan_model, webhook, tasks_inline, django_capture_on_commit_callbacks
):
    webhook.answers = [503, 200]
    with tasks_inline():
        request = open_request(owner, loan_model)
    assert Schedule.objects.filter(name=f"retraining {request.pk}: webhook attempt 2").exists()

    with django_capture_on_commit_callbacks():  # the new round's task waits in the broker
        services.retraining_pipeline_resend(request=request, user=owner)
    assert not Schedule.objects.filter(name__startswith=f"retraining {request.pk}:").exists()
    resent = AuditEvent.objects.get(action="retraining.pipeline_resend_requested")
    assert resent.payload["dropped_retries"] == 1

    # A task of the replaced round that was already handed out changes nothing...
    assert tasks.pipeline_notify(request.pk, 2, 0) == "not delivered"
    assert len(webhook.requests) == 1
    # ...the new round delivers.
    assert tasks.pipeline_notify(request.pk, 1, 1) == "delivered"
    request.refresh_from_db()
    assert request.status == RetrainingStatus.TRAINING
    assert len(webhook.requests) == 2


# --- Refusals, with their reason ---------------------------------------------------------------


def test_it_is_refused_once_the_pipeline_acknowledged(client, owner, acknowledged, webhook):
    client.force_login(owner)
    response = client.post(resend_url(acknowledged))
    assert response.status_code == 409
    assert "The pipeline already acknowledged this request" in response.content.decode()
    assert len(webhook.requests) == 1
    assert not AuditEvent.objects.filter(action="retraining.pipeline_resend_requested").exists()


def test_it_is_refused_without_a_webhook(client, owner, loan_model, tasks_inline):
    with tasks_inline():
        request = open_request(owner, loan_model)
    client.force_login(owner)
    response = client.post(resend_url(request))
    assert response.status_code == 409
    assert "No pipeline webhook is configured for loan-default" in response.content.decode()
    assert not AuditEvent.objects.filter(action="retraining.pipeline_resend_requested").exists()


def test_it_is_refused_for_a_closed_request(client, owner, gave_up, webhook):
    services.retraining_cancel(request=gave_up, user=owner, reason="Wrong month")
    client.force_login(owner)
    response = client.post(resend_url(gave_up))
    assert response.status_code == 409
    assert "is cancelled; a closed request is not sent" in response.content.decode()
    assert len(webhook.requests) == 2


def test_it_waits_for_the_labels_that_trigger_the_first_delivery(owner, loan_model, webhook):
    request = open_request(owner, loan_model)  # labels_prepare has not run
    with pytest.raises(services.InvalidTransition, match="labels are still being written"):
        services.retraining_pipeline_resend(request=request, user=owner)


def test_a_compliance_officer_gets_403_and_a_reviewer_too(
    client, compliance, reviewer, loan_model, gave_up, webhook
):
    grant_role(compliance, "compliance officer")
    loan_model.reviewers.add(reviewer)
    for person in (compliance, reviewer):
        client.force_login(person)
        response = client.post(resend_url(gave_up))
        assert response.status_code == 403, person
        assert "owner or backup owner may send" in response.content.decode()
    assert len(webhook.requests) == 2
    assert not AuditEvent.objects.filter(action="retraining.pipeline_resend_requested").exists()


def test_an_outsider_gets_404_like_the_other_actions(client, outsider, gave_up, webhook):
    client.force_login(outsider)
    assert client.post(resend_url(gave_up)).status_code == 404
    client.logout()
    assert client.post(resend_url(gave_up))["Location"].startswith("/accounts/login/")
    assert len(webhook.requests) == 2


# --- The request page ----------------------------------------------------------------------


def test_the_page_shows_the_attempts_the_error_and_the_next_automatic_attempt(
    client, owner, loan_model, webhook, tasks_inline
):
    webhook.answers = [503]
    with tasks_inline():
        request = open_request(owner, loan_model)
    client.force_login(owner)
    status = client.get(page_url(request)).content.decode()
    assert "attempt 1 of 6 failed (HTTP 503)" in status
    retry = Schedule.objects.get(name=f"retraining {request.pk}: webhook attempt 2")
    assert f"Next automatic attempt at {retry.next_run:%Y-%m-%d %H:%M:%S}" in status
    assert "No more automatic attempts." not in status


def test_the_page_says_when_the_automatic_attempts_gave_up(client, owner, gave_up):
    client.force_login(owner)
    page = client.get(page_url(gave_up)).content.decode()
    assert "attempt 2 of 2 failed (HTTP 500)" in page
    assert "No more automatic attempts." in page
    assert "Next automatic attempt" not in page


def test_only_the_owners_are_offered_the_resend(
    client, owner, backup_owner, compliance, reviewer, loan_model, gave_up
):
    grant_role(compliance, "compliance officer")
    loan_model.reviewers.add(reviewer)
    url = page_url(gave_up)
    for person in (owner, backup_owner):
        assert offered(client, person, url) == {
            resend_url(gave_up),
            f"/retraining/{gave_up.pk}/cancel",
        }
    assert offered(client, compliance, url) == set()
    assert offered(client, reviewer, url) == set()
    assert "No more automatic attempts." in client.get(url).content.decode()  # they still read it


def test_the_resend_is_not_offered_once_acknowledged(client, owner, acknowledged):
    assert resend_url(acknowledged) not in offered(client, owner, page_url(acknowledged))


# --- The API -------------------------------------------------------------------------------


def test_the_api_sends_it_again_for_an_owner(owner, gave_up, webhook, tasks_inline):
    api = APIClient()
    api.force_authenticate(owner)
    with tasks_inline():
        response = api.post(api_resend_url(gave_up))
    assert response.status_code == 202, response.content
    assert response.json()["id"] == gave_up.pk
    assert len(webhook.requests) == 3
    gave_up.refresh_from_db()
    assert gave_up.status == RetrainingStatus.TRAINING


def test_the_api_refuses_with_the_reason_in_json(
    owner, compliance, outsider, acknowledged, loan_model, other_model, make_key, pipeline_client
):
    grant_role(compliance, "compliance officer")
    api = APIClient()
    api.force_authenticate(owner)
    response = api.post(api_resend_url(acknowledged))
    assert response.status_code == 409
    assert "already acknowledged" in response.json()["detail"]

    api.force_authenticate(compliance)
    response = api.post(api_resend_url(acknowledged))
    assert response.status_code == 403
    assert "owner or backup owner" in response.json()["detail"]

    api.force_authenticate(outsider)
    assert api.post(api_resend_url(acknowledged)).status_code == 404

    response = pipeline_client.post(api_resend_url(acknowledged))  # keys may not
    assert response.status_code == 403
    assert "owners" in response.json()["detail"]
    other = APIClient()
    other_key = make_key([loan_model], scopes=(ServiceKeyScope.INTAKE,), name="scorer")
    other.credentials(HTTP_AUTHORIZATION=f"Bearer {other_key.secret}")
    assert other.post(api_resend_url(acknowledged)).status_code == 403
    foreign = APIClient()
    foreign_key = make_key([other_model], scopes=(ServiceKeyScope.PIPELINE,), name="fraud")
    foreign.credentials(HTTP_AUTHORIZATION=f"Bearer {foreign_key.secret}")
    assert foreign.post(api_resend_url(acknowledged)).status_code == 404
    assert APIClient().post(api_resend_url(acknowledged)).status_code == 401
    assert not AuditEvent.objects.filter(action="retraining.pipeline_resend_requested").exists()


def test_the_api_names_a_missing_webhook(owner, loan_model, tasks_inline):
    with tasks_inline():
        request = open_request(owner, loan_model)
    api = APIClient()
    api.force_authenticate(owner)
    response = api.post(api_resend_url(request))
    assert response.status_code == 409
    assert response.json() == {
        "detail": "No pipeline webhook is configured for loan-default; set its URL in the "
        "admin, or let the pipeline poll the API."
    }
