"""Decisions back to the scoring service: signed webhooks, retried, replayable.

Each final decision on a model with a callback URL gets one ``WebhookDelivery`` whose body is
frozen at creation. A django-q2 task POSTs it, signed
``Countersign-Signature: t=<unix time>,v1=<hex HMAC-SHA256 of "<t>.<body>">``, with
``Countersign-Event-Id``. A failure is retried with exponential backoff until
``WEBHOOK_GIVE_UP_SECONDS`` (default 24 h) after the event, then the delivery is dead; the owner
can replay it. Delivery is at least once: receivers dedupe on the event id (docs/review.md).

An attempt is claimed with a conditional UPDATE that pushes ``next_attempt_at`` forward, so
the on-commit task and the retry sweep never POST the same delivery at the same moment; the
HTTP call happens outside any transaction.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

import requests
from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from audit.actors import Actor
from audit.services import EventSpec, audit_events_record
from reviewapp.models import (
    DeliveryStatus,
    WebhookAttempt,
    WebhookDelivery,
)

SIGNATURE_HEADER = "Countersign-Signature"
EVENT_ID_HEADER = "Countersign-Event-Id"
EVENT_TYPE = "prediction.decided"
DELIVERY = "reviewapp.webhookdelivery"


def _setting(name: str, default):
    return getattr(settings, name, default)


def sign(secret: str, body: bytes, timestamp: int | None = None) -> str:
    """The signature header value for ``body``."""
    timestamp = int(time.time()) if timestamp is None else timestamp
    signed = f"{timestamp}.".encode() + body
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def verify(secret: str, body: bytes, header: str, tolerance_seconds: int = 300, now=None) -> bool:
    """The receiver's check (also the documented recipe): right HMAC, fresh timestamp."""
    try:
        parts = dict(part.split("=", 1) for part in header.split(","))
        timestamp = int(parts["t"])
    except (KeyError, ValueError):
        return False
    now = time.time() if now is None else now
    if abs(now - timestamp) > tolerance_seconds:
        return False
    expected = hmac.new(
        secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256
    ).hexdigest()
    return hmac.compare_digest(expected, parts.get("v1", ""))


@dataclass(frozen=True)
class PostResult:
    """How one POST went: ``error`` is empty when the receiver answered 2xx;
    ``status_code`` is None when it did not answer at all."""

    status_code: int | None
    error: str

    @property
    def ok(self) -> bool:
        return not self.error


def signed_post(
    *, url: str, payload: dict, event_id: str, secret: str | None, timeout: float
) -> PostResult:
    """One POST of ``payload`` as compact, key-sorted JSON with ``Countersign-Event-Id`` and,
    when there is a secret, ``Countersign-Signature``. Every outbound webhook goes through
    here: decision callbacks, alert webhooks and the retraining pipeline. Redirects are not
    followed (they count as failures); it never raises for a network failure."""
    body = json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "Countersign-Webhook/1",
        EVENT_ID_HEADER: event_id,
    }
    if secret is not None:
        headers[SIGNATURE_HEADER] = sign(secret, body)
    try:
        response = requests.post(
            url, data=body, headers=headers, timeout=timeout, allow_redirects=False
        )
    except requests.RequestException as exc:
        return PostResult(None, f"{type(exc).__name__}: {exc}"[:500])
    if 200 <= response.status_code < 300:
        return PostResult(response.status_code, "")
    answer = response.text[:200]
    return PostResult(
        response.status_code, f"HTTP {response.status_code}" + (f": {answer}" if answer else "")
    )


def backoff(attempts: int) -> timedelta:
    """Wait before the next try after ``attempts`` failures: 30 s, 1 min, 2 min ... capped."""
    base = _setting("WEBHOOK_BACKOFF_BASE_SECONDS", 30)
    cap = _setting("WEBHOOK_BACKOFF_MAX_SECONDS", 4 * 3600)
    return timedelta(seconds=min(cap, base * 2 ** max(0, attempts - 1)))


def _enqueue(delivery_id: int) -> None:
    from django_q.tasks import async_task

    async_task("reviewapp.tasks.deliver_webhook", delivery_id, task_name=f"webhook-{delivery_id}")


def webhook_delivery_create_for(*, decision, prediction, model) -> WebhookDelivery | None:
    """Create the decision's delivery (once) and enqueue it when the transaction commits.

    Called by the decision service inside its transaction; a model without a callback URL
    gets none.
    """
    if not model.callback_url:
        return None
    from reviewapp.api.serializers import decision_representation

    delivery = WebhookDelivery(model=model, prediction=prediction, url=model.callback_url)
    delivery.payload = {
        "event_id": str(delivery.event_id),
        "type": EVENT_TYPE,
        "model": model.slug,
        "external_id": prediction.external_id,
        "decision": decision_representation(decision),
    }
    delivery.next_attempt_at = timezone.now()
    try:
        with transaction.atomic():
            delivery.save(force_insert=True)
    except IntegrityError:
        return None
    transaction.on_commit(lambda: _enqueue(delivery.pk))
    return delivery


def _claim_attempt(delivery_id: int, now: datetime) -> WebhookDelivery | None:
    """Take the right to POST now: only a due, undelivered delivery, and only one caller."""
    timeout = _setting("WEBHOOK_TIMEOUT_SECONDS", 10)
    taken = WebhookDelivery.objects.filter(
        pk=delivery_id,
        status__in=[DeliveryStatus.PENDING, DeliveryStatus.FAILED],
        next_attempt_at__lte=now,
    ).update(next_attempt_at=now + timedelta(seconds=timeout * 3 + 30))
    if not taken:
        return None
    return WebhookDelivery.objects.select_related("model").get(pk=delivery_id)


def webhook_delivery_attempt(*, delivery_id: int) -> WebhookDelivery | None:
    """POST the delivery once if it is due; record the attempt and plan the next one.

    Returns None when it was not due (already delivered, or another worker has it).
    """
    started = timezone.now()
    delivery = _claim_attempt(delivery_id, started)
    if delivery is None:
        return None
    clock = time.monotonic()
    result = signed_post(
        url=delivery.url,
        payload=delivery.payload,
        event_id=str(delivery.event_id),
        secret=delivery.model.callback_secret or "",
        timeout=_setting("WEBHOOK_TIMEOUT_SECONDS", 10),
    )
    duration_ms = int((time.monotonic() - clock) * 1000)
    return _attempt_record(delivery, result.status_code, result.error, duration_ms)


@transaction.atomic
def _attempt_record(delivery, status_code, error, duration_ms) -> WebhookDelivery:
    now = timezone.now()
    delivery = (
        WebhookDelivery.objects.select_for_update().select_related("model").get(pk=delivery.pk)
    )
    WebhookAttempt.objects.create(
        delivery=delivery,
        attempted_at=now,
        status_code=status_code,
        error=error,
        duration_ms=duration_ms,
    )
    delivery.attempts += 1
    if delivery.status == DeliveryStatus.DELIVERED:
        # An attempt that outlived its lease while a later one got through: the POST
        # happened and is on record, but it must not turn a delivered event back into a
        # failed one (that would send it yet again).
        delivery.save(update_fields=["attempts"])
        return delivery
    delivery.last_status_code = status_code
    delivery.last_error = error
    give_up_at = (delivery.replayed_at or delivery.created_at) + timedelta(
        seconds=_setting("WEBHOOK_GIVE_UP_SECONDS", 24 * 3600)
    )
    if not error:
        delivery.status = DeliveryStatus.DELIVERED
        delivery.delivered_at = now
        delivery.next_attempt_at = None
        action = "webhook.delivered"
    elif now >= give_up_at:
        delivery.status = DeliveryStatus.DEAD
        delivery.next_attempt_at = None
        action = "webhook.dead"
    else:
        delivery.status = DeliveryStatus.FAILED
        # The last retry lands on the give-up time, so retries span at least the full window.
        delivery.next_attempt_at = min(now + backoff(delivery.attempts), give_up_at)
        action = "webhook.failed"
    delivery.save()
    audit_events_record(
        [
            EventSpec(
                action=action,
                actor=Actor.system("webhooks"),
                object_type=DELIVERY,
                object_id=delivery.pk,
                model=delivery.model,
                payload={
                    "event_id": str(delivery.event_id),
                    "attempt": delivery.attempts,
                    "status_code": status_code,
                    "error": error,
                    "next_attempt_at": delivery.next_attempt_at.isoformat()
                    if delivery.next_attempt_at
                    else None,
                },
            )
        ]
    )
    return delivery


def webhook_deliveries_due(*, now: datetime | None = None, limit: int = 200) -> list[int]:
    now = now or timezone.now()
    return list(
        WebhookDelivery.objects.filter(
            status__in=[DeliveryStatus.PENDING, DeliveryStatus.FAILED], next_attempt_at__lte=now
        )
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[:limit]
    )


@transaction.atomic
def webhook_delivery_replay(*, delivery: WebhookDelivery, user) -> WebhookDelivery:
    """Send a delivery again, same event id and body: after it died, failed or even arrived
    (a receiver that lost it asks for it again)."""
    delivery = (
        WebhookDelivery.objects.select_for_update().select_related("model").get(pk=delivery.pk)
    )
    previous = delivery.status
    delivery.status = DeliveryStatus.PENDING
    delivery.next_attempt_at = timezone.now()
    delivery.replayed_at = timezone.now()  # a fresh retry window
    delivery.save(update_fields=["status", "next_attempt_at", "replayed_at"])
    audit_events_record(
        [
            EventSpec(
                action="webhook.replayed",
                actor=Actor.user(user),
                object_type=DELIVERY,
                object_id=delivery.pk,
                model=delivery.model,
                payload={"event_id": str(delivery.event_id), "previous_status": previous},
            )
        ]
    )
    transaction.on_commit(lambda: _enqueue(delivery.pk))
    return delivery
