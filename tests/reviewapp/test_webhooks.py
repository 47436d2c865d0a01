"""Decisions reach the scoring service: signed, retried, replayable, at least once."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.db import connection
from django.utils import timezone

from audit.models import AuditEvent
from reviewapp.models import DeliveryStatus, WebhookDelivery
from reviewapp.services.decisions import review_action_record
from reviewapp.services.queue import review_item_claim_next
from reviewapp.services.webhooks import (
    backoff,
    sign,
    verify,
    webhook_deliveries_due,
    webhook_delivery_attempt,
    webhook_delivery_replay,
)
from reviewapp.tasks import retry_webhook_deliveries
from tests.real_parts import qcluster_env
from tests.reviewapp.review_items import make_item

SECRET = "whsec-test-0123456789"


@pytest.fixture
def hooked_model(loan_model, reviewer, receiver):
    loan_model.reviewers.add(reviewer)
    loan_model.callback_url = receiver.url
    loan_model.callback_secret = SECRET
    loan_model.save()
    return loan_model


def decide(model, user, **kwargs):
    make_item(model)
    item = review_item_claim_next(user=user)
    return review_action_record(user=user, item=item, **kwargs)


@pytest.mark.django_db
def test_a_decision_is_posted_signed_with_its_event_id(
    hooked_model, reviewer, receiver, service_client, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        result = decide(hooked_model, reviewer, action="override", output="decline", comment="no")
    delivery = WebhookDelivery.objects.get()

    webhook_delivery_attempt(delivery_id=delivery.pk)

    [request] = receiver.requests
    body, headers = request["body"], request["headers"]
    assert verify(SECRET, body, headers["Countersign-Signature"])
    assert not verify("another-secret", body, headers["Countersign-Signature"])
    assert not verify(SECRET, body + b" ", headers["Countersign-Signature"])
    payload = json.loads(body)
    assert headers["Countersign-Event-Id"] == payload["event_id"] == str(delivery.event_id)
    assert payload["type"] == "prediction.decided"
    assert payload["model"] == "loan-default"
    external_id = result.item.prediction.external_id
    assert payload["external_id"] == external_id
    polled = service_client.get(f"/api/v1/models/loan-default/predictions/{external_id}")
    assert payload["decision"] == polled.json()["decision"]
    assert payload["decision"]["final_output"] == "decline"
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.DELIVERED and delivery.last_status_code == 200
    assert AuditEvent.objects.filter(action="webhook.delivered").count() == 1


def test_a_signature_older_than_five_minutes_is_refused():
    body = b'{"x":1}'
    header = sign(SECRET, body, timestamp=int(time.time()) - 301)
    assert not verify(SECRET, body, header)
    assert verify(SECRET, body, sign(SECRET, body, timestamp=int(time.time()) - 299))
    assert not verify(SECRET, body, "garbage")


@pytest.mark.django_db
def test_a_failing_receiver_is_retried_with_backoff_and_the_same_event_id(
    hooked_model, reviewer, receiver
):
    decide(hooked_model, reviewer, action="approve")
    delivery = WebhookDelivery.objects.get()
    receiver.answers = [503]

    webhook_delivery_attempt(delivery_id=delivery.pk)

    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.FAILED and delivery.attempts == 1
    assert delivery.last_status_code == 503
    wait = (delivery.next_attempt_at - timezone.now()).total_seconds()
    assert 25 < wait <= 30
    assert webhook_deliveries_due() == []  # not before its time
    assert webhook_delivery_attempt(delivery_id=delivery.pk) is None

    WebhookDelivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())
    receiver.answers = [204]
    retry_webhook_deliveries()

    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.DELIVERED and delivery.attempts == 2
    ids = {r["headers"]["Countersign-Event-Id"] for r in receiver.requests}
    assert len(receiver.requests) == 2 and ids == {str(delivery.event_id)}
    assert [a.status_code for a in delivery.attempt_log.all()] == [503, 204]


@pytest.mark.django_db(transaction=True)
def test_an_attempt_that_outlived_its_lease_does_not_undo_a_later_delivery(
    hooked_model, reviewer, receiver
):
    decide(hooked_model, reviewer, action="approve")
    delivery = WebhookDelivery.objects.get()

    def meanwhile(request):
        if len(receiver.requests) == 1:
            # The first POST hangs past its lease; another worker takes the delivery over
            # and gets through before the first one hears back (a 503).
            WebhookDelivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())
            receiver.answers = [204]
            try:
                webhook_delivery_attempt(delivery_id=delivery.pk)
            finally:
                connection.close()
            receiver.answers = [503]

    receiver.on_request = meanwhile
    webhook_delivery_attempt(delivery_id=delivery.pk)

    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.DELIVERED and delivery.next_attempt_at is None
    assert delivery.attempts == 2
    assert sorted(a.status_code for a in delivery.attempt_log.all()) == [204, 503]


def test_backoff_doubles_and_is_capped():
    waits = [backoff(n).total_seconds() for n in range(1, 16)]
    assert waits[:4] == [30, 60, 120, 240]
    assert max(waits) == 4 * 3600
    # Retrying for the full window takes more than a dozen attempts, the last at 24 h.
    assert sum(waits) > 24 * 3600


@pytest.mark.django_db
def test_it_keeps_retrying_for_24_hours_then_marks_the_delivery_dead(
    hooked_model, reviewer, receiver
):
    decide(hooked_model, reviewer, action="approve")
    delivery = WebhookDelivery.objects.get()
    receiver.answers = [500]
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        created_at=timezone.now() - timedelta(hours=23, minutes=59)
    )
    webhook_delivery_attempt(delivery_id=delivery.pk)
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.FAILED
    # The next try is capped at the end of the 24 h window, not beyond it.
    assert delivery.next_attempt_at <= delivery.created_at + timedelta(hours=24)

    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        created_at=timezone.now() - timedelta(hours=24, seconds=1), next_attempt_at=timezone.now()
    )
    webhook_delivery_attempt(delivery_id=delivery.pk)

    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.DEAD and delivery.next_attempt_at is None
    assert AuditEvent.objects.filter(action="webhook.dead").exists()


@pytest.mark.django_db
def test_a_replay_is_delivered_again_with_the_same_event_id(
    hooked_model, reviewer, owner, receiver, django_capture_on_commit_callbacks
):
    decide(hooked_model, reviewer, action="approve")
    delivery = WebhookDelivery.objects.get()
    receiver.answers = [500]
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        created_at=timezone.now() - timedelta(days=2)
    )
    webhook_delivery_attempt(delivery_id=delivery.pk)
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.DEAD

    receiver.answers = [200]
    with django_capture_on_commit_callbacks(execute=False):
        webhook_delivery_replay(delivery=delivery, user=owner)
    webhook_delivery_attempt(delivery_id=delivery.pk)

    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.DELIVERED
    first, second = receiver.requests
    assert first["body"] == second["body"]
    assert (
        first["headers"]["Countersign-Event-Id"]
        == second["headers"]["Countersign-Event-Id"]
        == str(delivery.event_id)
    )
    replayed = AuditEvent.objects.get(action="webhook.replayed")
    assert replayed.actor_id == str(owner.pk)


@pytest.mark.django_db
def test_a_model_without_a_callback_url_gets_no_delivery(loan_model, reviewer):
    loan_model.reviewers.add(reviewer)
    decide(loan_model, reviewer, action="approve")
    assert not WebhookDelivery.objects.exists()


def stop_process_group(process: subprocess.Popen) -> None:
    """Stop the cluster and the workers it forked, and wait until none is left (they hold
    connections to the test database, which must be dropped at the end of the session)."""
    process.terminate()  # the cluster's own shutdown stops its workers
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=30)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            os.killpg(process.pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.1)
    os.killpg(process.pid, signal.SIGKILL)


@pytest.mark.django_db(transaction=True)
def test_a_real_worker_delivers_the_decision_after_commit(hooked_model, reviewer, receiver):
    """The on-commit task goes through django-q2: a qcluster process does the POST."""
    env = qcluster_env()
    root = Path(__file__).resolve().parents[2]
    decide(hooked_model, reviewer, action="approve")
    worker = subprocess.Popen(
        [sys.executable, "manage.py", "qcluster"],
        cwd=root,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # its own process group: the cluster forks workers
    )
    try:
        deadline = time.monotonic() + 60
        while not receiver.requests and time.monotonic() < deadline:
            time.sleep(0.2)
    finally:
        stop_process_group(worker)
    assert len(receiver.requests) >= 1
    delivery = WebhookDelivery.objects.get()
    assert receiver.requests[0]["headers"]["Countersign-Event-Id"] == str(delivery.event_id)
    assert verify(
        SECRET,
        receiver.requests[0]["body"],
        receiver.requests[0]["headers"]["Countersign-Signature"],
    )
