"""Telling others: the training pipeline (a signed webhook) and the approvers (email).

The webhook is posted by ``reviewapp.services.webhooks.signed_post``, like every outbound
webhook, and signed like decision callbacks:
``Countersign-Signature: t=<unix>,v1=<hex>`` where ``v1`` is HMAC-SHA256 of ``"<t>.<body>"``
with the model's pipeline webhook secret, so the pipeline can check origin and freshness
before acting; ``Countersign-Event-Id`` stays the same across retries.
"""

from __future__ import annotations

from django.conf import settings
from django.core.mail import send_mail

from reviewapp.services import webhooks
from reviewapp.services.webhooks import EVENT_ID_HEADER, SIGNATURE_HEADER

__all__ = ["EVENT_ID_HEADER", "SIGNATURE_HEADER", "email_send", "signature_verify"]


def signature_verify(secret: str, body: bytes, header: str, tolerance_seconds: int = 300) -> bool:
    """What a receiver does; used by the tests and documented for pipeline authors."""
    return webhooks.verify(secret, body, header, tolerance_seconds)


def email_send(*, recipients: list[str], subject: str, body: str) -> int:
    recipients = sorted({r for r in recipients if r})
    if not recipients:
        return 0
    return send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, recipients, fail_silently=False)
