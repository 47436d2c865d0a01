"""django-q2 tasks of the review queue: thin, idempotent, calling services."""

from __future__ import annotations

from reviewapp.services.decisions import review_sla_sweep
from reviewapp.services.queue import review_leases_expire
from reviewapp.services.webhooks import webhook_deliveries_due, webhook_delivery_attempt


def deliver_webhook(delivery_id: int) -> str:
    """POST one delivery if it is still due (a second run finds it delivered and does nothing)."""
    delivery = webhook_delivery_attempt(delivery_id=delivery_id)
    if delivery is None:
        return "not due"
    return f"{delivery.status} after {delivery.attempts} attempt(s)"


def retry_webhook_deliveries() -> str:
    """Every minute: attempt the deliveries whose retry time has come."""
    results = [webhook_delivery_attempt(delivery_id=pk) for pk in webhook_deliveries_due()]
    sent = [r for r in results if r is not None]
    return f"{len(sent)} attempted"


def sweep_review_sla() -> str:
    """Every minute: escalate overdue items, apply SLA fallbacks, tidy expired leases."""
    result = review_sla_sweep()
    expired = review_leases_expire()
    return f"{result.escalated} escalated, {result.decided} decided, {expired} leases expired"
