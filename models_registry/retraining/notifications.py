"""Telling others: the training pipeline (a signed webhook) and the approvers (email).

The webhook is signed like decision callbacks (``reviewapp.services.webhooks.sign``):
``Countersign-Signature: t=<unix>,v1=<hex>`` where ``v1`` is HMAC-SHA256 of ``"<t>.<body>"``
with the model's pipeline webhook secret, so the pipeline can check origin and freshness
before acting; ``Countersign-Event-Id`` stays the same across retries.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import requests
from django.conf import settings
from django.core.mail import send_mail

from reviewapp.services import webhooks

SIGNATURE_HEADER = "Countersign-Signature"
EVENT_ID_HEADER = "Countersign-Event-Id"


def signature_header(secret: str, body: bytes, timestamp: int | None = None) -> str:
    """The same signature as decision callbacks (one recipe for every receiver)."""
    return webhooks.sign(secret, body, timestamp)


def signature_verify(secret: str, body: bytes, header: str, tolerance_seconds: int = 300) -> bool:
    """What a receiver does; used by the tests and documented for pipeline authors."""
    return webhooks.verify(secret, body, header, tolerance_seconds)


@dataclass(frozen=True)
class Delivery:
    ok: bool
    status_code: int | None
    error: str


def webhook_post(*, url: str, secret: str, payload: dict, event_id: str) -> Delivery:
    """One signed POST. ``event_id`` is the same on every retry: receivers dedupe on it."""
    body = json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()
    headers = {"Content-Type": "application/json", EVENT_ID_HEADER: event_id}
    if secret:
        headers[SIGNATURE_HEADER] = signature_header(secret, body)
    try:
        response = requests.post(
            url,
            data=body,
            headers=headers,
            timeout=settings.RETRAINING_WEBHOOK_TIMEOUT_SECONDS,
            allow_redirects=False,
        )
    except requests.RequestException as error:
        return Delivery(False, None, f"{type(error).__name__}: {error}"[:500])
    if 200 <= response.status_code < 300:
        return Delivery(True, response.status_code, "")
    return Delivery(False, response.status_code, f"HTTP {response.status_code}")


def email_send(*, recipients: list[str], subject: str, body: str) -> int:
    recipients = sorted({r for r in recipients if r})
    if not recipients:
        return 0
    return send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, recipients, fail_silently=False)
