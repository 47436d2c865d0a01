"""Telling others: the training pipeline (a signed webhook) and the approvers (email).

The webhook is signed like decision callbacks: ``Countersign-Signature: t=<unix>,v1=<hex>``
where ``v1`` is HMAC-SHA256 of ``"<t>.<body>"`` with the model's pipeline webhook secret, so
the pipeline can check origin and freshness before acting.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from dataclasses import dataclass

import requests
from django.conf import settings
from django.core.mail import send_mail

SIGNATURE_HEADER = "Countersign-Signature"


def signature_header(secret: str, body: bytes, timestamp: int | None = None) -> str:
    timestamp = int(time.time()) if timestamp is None else timestamp
    signed = f"{timestamp}.".encode() + body
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def signature_verify(secret: str, body: bytes, header: str, tolerance_seconds: int = 300) -> bool:
    """What a receiver does; used by the tests and documented for pipeline authors."""
    try:
        parts = dict(item.split("=", 1) for item in header.split(","))
        timestamp = int(parts["t"])
    except (KeyError, ValueError):
        return False
    if abs(time.time() - timestamp) > tolerance_seconds:
        return False
    expected = signature_header(secret, body, timestamp)
    return hmac.compare_digest(expected, header)


@dataclass(frozen=True)
class Delivery:
    ok: bool
    status_code: int | None
    error: str


def webhook_post(*, url: str, secret: str, payload: dict) -> Delivery:
    body = json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()
    headers = {"Content-Type": "application/json"}
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
