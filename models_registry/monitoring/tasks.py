"""django-q2 tasks of monitoring: thin and safe to run twice (snapshots are written once per
window, alerts once per rule, notifications once per recipient and event)."""

from __future__ import annotations

import logging

from django.utils import timezone

from models_registry.monitoring.alerts import (
    alert_rules_ensure_defaults,
    alerts_escalate,
    alerts_evaluate,
    notifications_deliver,
)
from models_registry.monitoring.snapshots import monitored_models, snapshots_run

logger = logging.getLogger(__name__)


def monitoring_run(*, now=None, backfill: int = 1) -> dict:
    """Snapshot every active model's last closed windows, then evaluate its alert rules."""
    now = now or timezone.now()
    totals = {"snapshots": 0, "opened": 0, "resolved": 0}
    for model in monitored_models().select_related("owner", "backup_owner"):
        alert_rules_ensure_defaults(model=model)
        try:
            result = snapshots_run(now=now, models=[model], backfill=backfill)
        except Exception:
            # One model's broken data must not stop the others being watched.
            logger.exception("monitoring snapshot failed for %s", model.slug)
            continue
        totals["snapshots"] += result.created
        counts = alerts_evaluate(model=model, now=now)
        totals["opened"] += counts["opened"]
        totals["resolved"] += counts["resolved"]
    return totals


def take_monitoring_snapshots() -> str:
    totals = monitoring_run(backfill=2)
    return (
        f"{totals['snapshots']} snapshot(s), {totals['opened']} alert(s) opened, "
        f"{totals['resolved']} resolved"
    )


def sweep_alerts() -> str:
    escalated = alerts_escalate()
    sent = notifications_deliver()
    return f"{escalated} escalated, {sent} notification(s) sent"


def deliver_alert_notifications() -> str:
    return f"{notifications_deliver()} notification(s) sent"
