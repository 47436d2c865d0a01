"""Alert rules, and the alerts they open, escalate and resolve, all audited.

A rule is evaluated after each snapshot run against the stored snapshots of its window (the
volume rule against the prediction table itself, so a silent scoring service is noticed within
minutes). One unresolved alert per rule is enforced by a partial unique index, so a rule that
keeps firing opens one alert, not one per snapshot. Notifications are rows in
``AlertNotification``, delivered by a django-q2 task with retries and backoff; each attempt is
claimed in a short transaction, made outside any, and its outcome recorded in another. What a
notification says is fixed when it is created (``AlertNotification.payload``). Webhook
notifications are signed like decision callbacks (``reviewapp.services.webhooks.sign``) and
carry a ``Countersign-Event-Id``; id and body stay the same on every retry and replay
(docs/monitoring.md).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.utils import timezone

from audit.actors import Actor
from audit.services import audit_event_record
from models_registry.models import (
    Alert,
    AlertMetric,
    AlertNotification,
    AlertRule,
    AlertStatus,
    Comparison,
    MLModel,
    MonitoringSnapshot,
    NotificationStatus,
    SnapshotWindow,
)
from models_registry.monitoring import stats
from reviewapp.models import Prediction
from reviewapp.services import webhooks

logger = logging.getLogger(__name__)

SYSTEM = Actor.system("monitoring")
DAY = 86400

DEFAULT_RULES = (
    {
        "name": "Accuracy below 90% over 7 days",
        "metric": AlertMetric.ACCURACY_OUTCOMES,
        "comparison": Comparison.LT,
        "threshold": 0.9,
        "window_seconds": 7 * DAY,
        "min_sample_size": 200,
    },
    {
        "name": "More than 30% of features drifted",
        "metric": AlertMetric.DRIFT_SHARE,
        "comparison": Comparison.GT,
        "threshold": 0.3,
        "window_seconds": DAY,
        "min_sample_size": 100,
    },
    {
        "name": "Contract violations above 5%",
        "metric": AlertMetric.CONTRACT_VIOLATION_RATE,
        "comparison": Comparison.GT,
        "threshold": 0.05,
        "window_seconds": DAY,
        "min_sample_size": 100,
    },
    {
        "name": "Override rate above 20%",
        "metric": AlertMetric.OVERRIDE_RATE,
        "comparison": Comparison.GT,
        "threshold": 0.2,
        "window_seconds": 7 * DAY,
        "min_sample_size": 50,
    },
    {
        "name": "No predictions for 2 hours",
        "metric": AlertMetric.PREDICTION_VOLUME,
        "comparison": Comparison.LT,
        "threshold": 1,
        "window_seconds": 2 * 3600,
        "min_sample_size": 0,
    },
)


@transaction.atomic
def alert_rules_ensure_defaults(*, model: MLModel, actor: Actor = SYSTEM) -> list[AlertRule]:
    """Give a model the default rules once; safe to call on every save and every run.

    Rules are never deleted (the owner disables them), so "has default rules" is a reliable
    marker that this already happened, and an owner's edits are never overwritten.
    """
    # The model row lock serialises concurrent first calls (admin save vs. snapshot run).
    MLModel.objects.select_for_update().filter(pk=model.pk).first()
    if AlertRule.objects.filter(model=model, is_default=True).exists():
        return []
    AlertRule.objects.bulk_create(
        [AlertRule(model=model, is_default=True, **spec) for spec in DEFAULT_RULES],
        ignore_conflicts=True,  # an owner's own rule may already carry a default's name
    )
    created = list(AlertRule.objects.filter(model=model, is_default=True))
    for rule in created:
        audit_event_record(
            action="alert_rule.created",
            actor=actor,
            object_type="models_registry.alertrule",
            object_id=rule.pk,
            model=model,
            payload={"name": rule.name, "condition": rule.condition, "default": True},
        )
    return created


# --- Evaluating a rule -------------------------------------------------------------------


@dataclass(frozen=True)
class Measurement:
    value: float | None
    sample_size: int
    details: dict


def _snapshots_in(rule: AlertRule, now: datetime):
    since = now - timedelta(seconds=rule.window_seconds)
    base = MonitoringSnapshot.objects.filter(
        model=rule.model_id, window_start__gte=since, window_end__lte=now
    )
    hourly = base.filter(window=SnapshotWindow.HOURLY)
    chosen = hourly if hourly.exists() else base.filter(window=SnapshotWindow.DAILY)
    return list(
        chosen.order_by("window_start").values(
            "window_start", "metrics", "drift_share", "prediction_count", "window"
        )
    )


def _sum(snapshots, *path) -> float:
    total = 0
    for snap in snapshots:
        node = snap["metrics"]
        for key in path:
            node = node.get(key) if isinstance(node, dict) else None
        total += node or 0
    return total


def measure(rule: AlertRule, now: datetime) -> Measurement:
    """The rule's metric over its window, with the sample size it rests on."""
    metric = rule.metric
    since = now - timedelta(seconds=rule.window_seconds)
    if metric == AlertMetric.PREDICTION_VOLUME:
        predictions = Prediction.objects.filter(model=rule.model_id)
        if not predictions.filter(received_at__lt=since).exists():
            # A model that never had traffic is not "down"; it has not started.
            return Measurement(None, 0, {"note": "no traffic before the window"})
        count = predictions.filter(received_at__gte=since, received_at__lt=now).count()
        return Measurement(float(count), count, {"since": since.isoformat()})
    snapshots = _snapshots_in(rule, now)
    window = {"snapshots": len(snapshots), "since": since.isoformat()}
    if metric == AlertMetric.DRIFT_SHARE:
        with_drift = [s for s in snapshots if s["drift_share"] is not None]
        if not with_drift:
            return Measurement(None, 0, window)
        # Prefer the widest window's latest figure: drift tests need volume to mean anything.
        daily = [s for s in with_drift if s["window"] == SnapshotWindow.DAILY]
        latest = (daily or with_drift)[-1]
        return Measurement(
            latest["drift_share"],
            latest["prediction_count"],
            {**window, "window_start": latest["window_start"].isoformat()},
        )
    if metric in (AlertMetric.ACCURACY_OUTCOMES, AlertMetric.ACCURACY_DECISIONS):
        source = "outcomes" if metric == AlertMetric.ACCURACY_OUTCOMES else "decisions"
        parts = [
            s["metrics"].get("accuracy", {}).get(source, {}).get("counts", {}) for s in snapshots
        ]
        parts = [p for p in parts if "correct" in p]
        merged = stats.classification_merge(parts)
        if not merged["n"]:
            return Measurement(None, 0, window)
        return Measurement(merged["correct"] / merged["n"], merged["n"], window)
    if metric == AlertMetric.MAE_OUTCOMES:
        parts = [
            s["metrics"].get("accuracy", {}).get("outcomes", {}).get("counts", {})
            for s in snapshots
        ]
        merged = stats.regression_merge([p for p in parts if "sum_abs_error" in p])
        if not merged["n"]:
            return Measurement(None, 0, window)
        return Measurement(merged["sum_abs_error"] / merged["n"], merged["n"], window)
    if metric == AlertMetric.CONTRACT_VIOLATION_RATE:
        volume, violating = _sum(snapshots, "volume"), _sum(snapshots, "contract", "violating")
        return Measurement(violating / volume if volume else None, int(volume), window)
    if metric == AlertMetric.OVERRIDE_RATE:
        human = _sum(snapshots, "decisions", "human")
        disagreed = _sum(snapshots, "decisions", "disagreed")
        return Measurement(disagreed / human if human else None, int(human), window)
    if metric == AlertMetric.LOW_CONFIDENCE_SHARE:
        volume = _sum(snapshots, "volume")
        under = _sum(snapshots, "confidence", "under_threshold")
        return Measurement(under / volume if volume else None, int(volume), window)
    raise ValueError(f"unknown metric {metric}")


def _summary(rule: AlertRule, m: Measurement) -> str:
    window = timedelta(seconds=rule.window_seconds)
    return (
        f"{rule.get_metric_display()} was {m.value:.4g} over the last {window} "
        f"(rule: {rule.get_comparison_display()} {rule.threshold:g}; "
        f"based on {m.sample_size} observations)."
    )


def alerts_evaluate(*, model: MLModel, now: datetime | None = None) -> dict[str, int]:
    """Evaluate every enabled rule of ``model``: open, refresh or resolve its alert."""
    now = now or timezone.now()
    counts = {"opened": 0, "resolved": 0, "still_open": 0}
    for rule in model.alert_rules.filter(enabled=True).select_related("model"):
        m = measure(rule, now)
        if m.value is None or m.sample_size < rule.min_sample_size:
            continue
        if rule.breached_by(m.value):
            _, opened = alert_open(rule=rule, measurement=m, now=now)
            counts["opened" if opened else "still_open"] += 1
        else:
            counts["resolved"] += alerts_resolve_recovered(rule=rule, measurement=m, now=now)
    return counts


# --- Opening, acknowledging, resolving ---------------------------------------------------


def _unresolved(rule: AlertRule):
    return Alert.objects.filter(rule=rule).exclude(status=AlertStatus.RESOLVED)


@transaction.atomic
def alert_open(*, rule: AlertRule, measurement: Measurement, now: datetime) -> tuple[Alert, bool]:
    """Open the rule's alert unless one is already unresolved (then refresh its last value)."""
    existing = _unresolved(rule).first()
    if existing is None:
        try:
            with transaction.atomic():
                alert = Alert.objects.create(
                    model=rule.model,
                    rule=rule,
                    summary=_summary(rule, measurement),
                    value=measurement.value,
                    threshold=rule.threshold,
                    sample_size=measurement.sample_size,
                    details={"condition": rule.condition, **measurement.details},
                    opened_at=now,
                    last_value=measurement.value,
                    last_evaluated_at=now,
                )
        except IntegrityError:
            existing = _unresolved(rule).get()
        else:
            audit_event_record(
                action="alert.opened",
                actor=SYSTEM,
                object_type="models_registry.alert",
                object_id=alert.pk,
                model=rule.model,
                payload={
                    "rule": rule.name,
                    "condition": rule.condition,
                    "value": measurement.value,
                    "sample_size": measurement.sample_size,
                    "summary": alert.summary,
                },
            )
            _notify(alert, "opened", [rule.model.owner])
            if rule.opens_retraining:
                _open_retraining_request(alert)
            return alert, True
    Alert.objects.filter(pk=existing.pk).update(last_value=measurement.value, last_evaluated_at=now)
    return existing, False


def _open_retraining_request(alert: Alert):
    """Hand a firing rule to the retraining workflow, when that app is installed.

    Runs inside a savepoint: a failure there must not undo the alert, only be logged.
    """
    try:
        from models_registry.retraining.services import retraining_request_open_for_alert
    except ImportError:
        logger.warning("alert %s asks for retraining, but retraining is not installed", alert.pk)
        return None
    try:
        with transaction.atomic():
            return retraining_request_open_for_alert(alert=alert)
    except Exception:
        logger.exception("could not open a retraining request for alert %s", alert.pk)
        return None


@transaction.atomic
def alerts_resolve_recovered(*, rule: AlertRule, measurement: Measurement, now: datetime) -> int:
    resolved = 0
    for alert in _unresolved(rule).select_for_update():
        alert.status = AlertStatus.RESOLVED
        alert.resolved_at = now
        alert.last_value = measurement.value
        alert.last_evaluated_at = now
        alert.resolution = (
            f"Recovered: {rule.get_metric_display()} is {measurement.value:.4g} "
            f"({measurement.sample_size} observations)."
        )
        alert.save()
        audit_event_record(
            action="alert.resolved",
            actor=SYSTEM,
            object_type="models_registry.alert",
            object_id=alert.pk,
            model=rule.model,
            payload={"rule": rule.name, "value": measurement.value, "automatic": True},
        )
        _notify(alert, "resolved", [rule.model.owner])
        resolved += 1
    return resolved


class AlertStateError(ValueError):
    pass


@transaction.atomic
def alert_acknowledge(*, alert: Alert, user) -> Alert:
    """The owner has seen it: it stops escalating. Acknowledging twice changes nothing."""
    updated = Alert.objects.filter(pk=alert.pk, status=AlertStatus.OPEN).update(
        status=AlertStatus.ACKNOWLEDGED, acknowledged_at=timezone.now(), acknowledged_by=user
    )
    alert.refresh_from_db()
    if not updated:
        if alert.status == AlertStatus.RESOLVED:
            raise AlertStateError("This alert is already resolved.")
        return alert
    audit_event_record(
        action="alert.acknowledged",
        actor=Actor.user(user),
        object_type="models_registry.alert",
        object_id=alert.pk,
        model=alert.model,
        payload={"rule": alert.rule.name},
    )
    return alert


@transaction.atomic
def alert_resolve(*, alert: Alert, user, note: str = "") -> Alert:
    updated = (
        Alert.objects.filter(pk=alert.pk)
        .exclude(status=AlertStatus.RESOLVED)
        .update(
            status=AlertStatus.RESOLVED,
            resolved_at=timezone.now(),
            resolved_by=user,
            resolution=note or "Resolved by a person.",
        )
    )
    alert.refresh_from_db()
    if not updated:
        raise AlertStateError("This alert is already resolved.")
    audit_event_record(
        action="alert.resolved",
        actor=Actor.user(user),
        object_type="models_registry.alert",
        object_id=alert.pk,
        model=alert.model,
        payload={"rule": alert.rule.name, "note": note, "automatic": False},
    )
    return alert


def alerts_escalate(*, now: datetime | None = None) -> int:
    """Send alerts nobody acknowledged within the model's escalation time to the backup owner."""
    now = now or timezone.now()
    escalated = 0
    candidates = Alert.objects.filter(
        status=AlertStatus.OPEN, escalated_at__isnull=True
    ).select_related("model", "model__backup_owner", "rule")
    for alert in candidates:
        if alert.opened_at + timedelta(seconds=alert.model.alert_escalation_seconds) > now:
            continue
        with transaction.atomic():
            won = Alert.objects.filter(
                pk=alert.pk, status=AlertStatus.OPEN, escalated_at__isnull=True
            ).update(escalated_at=now)
            if not won:
                continue
            backup = alert.model.backup_owner
            audit_event_record(
                action="alert.escalated",
                actor=SYSTEM,
                object_type="models_registry.alert",
                object_id=alert.pk,
                model=alert.model,
                payload={
                    "rule": alert.rule.name,
                    "to": backup.get_username() if backup else None,
                    "after_seconds": alert.model.alert_escalation_seconds,
                },
            )
            if backup is not None:
                _notify(alert, "escalated", [backup])
            escalated += 1
    return escalated


# --- Notifications -----------------------------------------------------------------------


def _notify(alert: Alert, event: str, people) -> None:
    """Queue one notification per recipient, each with what it will say fixed now.

    A notification is an event: every attempt and every replay sends the stored ``payload``,
    so a receiver deduping on ``event_id`` never sees two bodies under one id, whatever
    happens to the alert in between.
    """
    now = timezone.now()
    rows = [
        AlertNotification(
            alert=alert,
            event=event,
            channel="email",
            recipient=person.email or f"user:{person.get_username()}",
            next_attempt_at=now,
        )
        for person in people
        if person is not None
    ]
    if alert.rule.webhook_url:
        rows.append(
            AlertNotification(
                alert=alert,
                event=event,
                channel="webhook",
                recipient=alert.rule.webhook_url,
                next_attempt_at=now,
            )
        )
    for n in rows:
        n.payload = _content(n)
    AlertNotification.objects.bulk_create(rows, ignore_conflicts=True)
    transaction.on_commit(_enqueue_delivery)


def _enqueue_delivery() -> None:
    from django_q.tasks import async_task

    try:
        async_task("models_registry.monitoring.tasks.deliver_alert_notifications")
    except Exception:  # the broker being down must not fail the caller; the sweep retries
        logger.exception("could not enqueue alert delivery; the minute sweep will send it")


def _content(n: AlertNotification) -> dict:
    """What ``n`` will say, from its alert as it is now; stored once, on the notification.

    Webhooks store their whole body (``event_id`` and ``type`` included). E-mails store
    their subject and body too, although no receiver dedupes them: a message retried after
    the alert was resolved would otherwise announce an opening with a resolution in it, and
    the row is the record of what the owner was told.
    """
    if n.channel == "email":
        subject, body = _message(n)
        return {"subject": subject, "body": body}
    return _payload(n)


def _message(n: AlertNotification) -> tuple[str, str]:
    alert = n.alert
    base = getattr(settings, "SITE_URL", "").rstrip("/")
    link = f"{base}/models/{alert.model.slug}/"
    verb = {
        "opened": "Alert",
        "escalated": "Escalated alert (not acknowledged in time)",
        "resolved": "Resolved",
    }.get(n.event, n.event)
    subject = f"[Countersign] {verb}: {alert.model.slug}: {alert.rule.name}"
    body = (
        f"{verb} on model {alert.model.name} ({alert.model.slug}).\n\n"
        f"{alert.summary}\n\n"
        f"Opened at {alert.opened_at:%Y-%m-%d %H:%M} UTC.\n"
        + (f"Resolution: {alert.resolution}\n" if alert.resolution else "")
        + f"\nDashboard: {link}\n"
    )
    return subject, body


def _payload(n: AlertNotification) -> dict:
    alert = n.alert
    return {
        "event_id": str(n.event_id),
        "type": f"alert.{n.event}",
        "event": f"alert.{n.event}",
        "alert_id": alert.pk,
        "model": alert.model.slug,
        "rule": alert.rule.name,
        "metric": alert.rule.metric,
        "condition": alert.rule.condition,
        "value": alert.value,
        "sample_size": alert.sample_size,
        "summary": alert.summary,
        "status": alert.status,
        "opened_at": alert.opened_at.isoformat(),
    }


@dataclass(frozen=True)
class Outcome:
    """How one attempt went: no error means delivered."""

    error: str = ""
    status_code: int | None = None


def _post_webhook(n: AlertNotification) -> Outcome:
    """One POST of the stored body, signed like decision callbacks; a non-2xx answer is a
    failed attempt."""
    secret = n.alert.rule.webhook_secret or None
    if secret is None:
        logger.warning(
            "alert webhook %s (rule %s) sent unsigned: the rule has no webhook secret",
            n.event_id,
            n.alert.rule_id,
        )
    result = webhooks.signed_post(
        url=n.recipient,
        payload=n.payload,
        event_id=str(n.event_id),
        secret=secret,
        timeout=settings.WEBHOOK_TIMEOUT_SECONDS,
    )
    return Outcome(error=result.error, status_code=result.status_code)


def _send_email(n: AlertNotification) -> Outcome:
    if "@" not in n.recipient:
        raise ValueError(f"{n.recipient.removeprefix('user:')} has no e-mail address")
    send_mail(n.payload["subject"], n.payload["body"], settings.DEFAULT_FROM_EMAIL, [n.recipient])
    return Outcome()


# --- Delivering: claim, send, record -----------------------------------------------------


def delivery_lease() -> timedelta:
    """How long a taken attempt keeps its notification away from other workers.

    Longer than a send can last, so a slow but live attempt is not made twice: ``requests``
    applies the timeout to connecting and to reading separately, hence twice the timeout,
    plus a margin. Short enough that an attempt whose worker died is made again within a
    minute or two. E-mail is covered by ``EMAIL_TIMEOUT`` when it is set.
    """
    timeout = max(settings.WEBHOOK_TIMEOUT_SECONDS, getattr(settings, "EMAIL_TIMEOUT", 0) or 0)
    return timedelta(seconds=2 * timeout + 30)


def _retry_wait(attempts: int) -> timedelta:
    """1, 2, 4, 8 minutes after the 1st, 2nd, 3rd, 4th failed attempt (docs/monitoring.md)."""
    return timedelta(seconds=60 * 2 ** (attempts - 1))


@transaction.atomic
def notification_claim_next(*, now: datetime) -> AlertNotification | None:
    """Take the right to make one attempt at the most overdue notification, and commit.

    The row lock (SKIP LOCKED: workers share the queue and never wait on each other) lasts
    only for this short transaction. What keeps a second worker off while the send is in
    flight is the lease: ``next_attempt_at`` moves past the longest a send can take. The
    attempt is counted here, before the send, so a worker killed mid-send still leaves a
    trace (``attempts`` and ``last_error``), and the notification is taken again, same event
    id, once the lease has run out; one whose last allowed attempt stopped like that is failed.

    A row created before payloads were stored gets its payload here, once, before its first
    send, and keeps it; that payload is read back so the send uses it as stored (a JSON round
    trip can change a number's spelling), like every later attempt.
    """
    while True:
        n = (
            AlertNotification.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(status=NotificationStatus.PENDING, next_attempt_at__lte=now)
            .select_related("alert", "alert__model", "alert__rule")
            .order_by("next_attempt_at")
            .first()
        )
        if n is None:
            return None
        if n.attempts < n.attempt_limit:
            break
        _give_up_unreported(n)
    n.attempts += 1
    n.next_attempt_at = now + delivery_lease()
    n.last_error = (
        f"attempt {n.attempts} taken at {now.isoformat()} has no outcome yet; if this stays, "
        "its worker stopped and it is retried when the lease runs out"
    )
    n.last_status_code = None
    fields = ["attempts", "next_attempt_at", "last_error", "last_status_code"]
    if not n.payload:
        n.payload = _content(n)
        fields.append("payload")
    n.save(update_fields=fields)
    if "payload" in fields:
        n.refresh_from_db(fields=["payload"])
    return n


def _give_up_unreported(n: AlertNotification) -> None:
    """Fail a notification whose last allowed attempt was taken and never reported: its worker
    stopped mid-send (killed, or crashed by this very notification). Taking it again once per
    lease, forever, would hide that."""
    n.status = NotificationStatus.FAILED
    n.last_error = (
        f"gave up after {n.attempts} attempts; the last one never reported an outcome "
        "(its worker stopped)"
    )
    n.save(update_fields=["status", "last_error"])
    logger.error("gave up delivering %s: %s", n, n.last_error)


def notification_send(n: AlertNotification) -> Outcome:
    """Make the claimed attempt, outside any transaction: a slow receiver or mail server
    then holds no lock and no open transaction. Never raises: whatever goes wrong is this
    attempt's outcome, to be recorded and retried."""
    try:
        if n.channel == "email":
            return _send_email(n)
        return _post_webhook(n)
    except Exception as error:
        return Outcome(error=str(error)[:2000])


def notification_attempt_record(
    *, notification: AlertNotification, attempt_at: datetime, outcome: Outcome
) -> bool:
    """Write down how a claimed attempt went, in one short conditional UPDATE; True if sent.

    Only the attempt that still holds the notification writes (``attempts`` unchanged since
    the claim). One that outlived its lease while another worker took the notification
    again leaves the row to that later attempt; the receiver may then get the event twice,
    which its ``event_id`` lets it ignore.
    """
    n = notification
    fields = {"last_error": outcome.error, "last_status_code": outcome.status_code}
    if not outcome.error:
        fields.update(status=NotificationStatus.SENT, sent_at=attempt_at)
    elif n.attempts >= n.attempt_limit:
        fields.update(status=NotificationStatus.FAILED)
    else:
        fields.update(next_attempt_at=attempt_at + _retry_wait(n.attempts))
    recorded = AlertNotification.objects.filter(
        pk=n.pk, status=NotificationStatus.PENDING, attempts=n.attempts
    ).update(**fields)
    if not recorded:
        logger.warning(
            "outcome of attempt %s of %s dropped: the notification was taken again after "
            "its lease ran out (%s)",
            n.attempts,
            n.event_id,
            outcome.error or "sent",
        )
        return False
    if fields.get("status") == NotificationStatus.FAILED:
        logger.error("gave up delivering %s: %s", n, outcome.error)
    return not outcome.error


def notifications_deliver(*, now: datetime | None = None, limit: int = 100) -> int:
    """Send due notifications, one attempt at a time, each in three steps: claim (a short
    transaction), send (no transaction), record the outcome (another short one). A slow
    receiver then holds neither a row lock nor an open transaction, and several workers
    share the queue. Returns how many were sent."""
    sent = 0
    for _ in range(limit):
        attempt_at = now or timezone.now()
        n = notification_claim_next(now=attempt_at)
        if n is None:
            break
        outcome = notification_send(n)
        sent += notification_attempt_record(notification=n, attempt_at=attempt_at, outcome=outcome)
    return sent


class NotificationReplayError(ValueError):
    pass


@transaction.atomic
def alert_notification_replay(*, notification: AlertNotification, user) -> AlertNotification:
    """Send a webhook notification again with the same event id and the same stored body,
    after it failed or even after it arrived (a receiver that lost it asks for it again); the
    receiver dedupes on the id.

    Attempts are kept, so the history stays true: a notification that had used up its
    attempts gets one more, and is failed again if that one fails.
    """
    n = (
        AlertNotification.objects.select_for_update()
        .select_related("alert", "alert__model")
        .get(pk=notification.pk)
    )
    if n.channel != "webhook":
        raise NotificationReplayError("Only webhook notifications can be replayed.")
    if n.status == NotificationStatus.PENDING:
        raise NotificationReplayError("This notification is still being delivered.")
    previous = n.status
    n.status = NotificationStatus.PENDING
    n.next_attempt_at = timezone.now()
    n.attempt_limit = max(n.attempt_limit, n.attempts + 1)
    n.save(update_fields=["status", "next_attempt_at", "attempt_limit"])
    audit_event_record(
        action="alert.notification_replayed",
        actor=Actor.user(user),
        object_type="models_registry.alertnotification",
        object_id=n.pk,
        model=n.alert.model,
        payload={
            "event_id": str(n.event_id),
            "event": f"alert.{n.event}",
            "alert_id": n.alert_id,
            "recipient": n.recipient,
            "previous_status": previous,
            "attempts": n.attempts,
        },
    )
    transaction.on_commit(_enqueue_delivery)
    return n
