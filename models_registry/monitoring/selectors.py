"""Reads shared by the dashboards, /metrics and the API: access, series, economics."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from django.core.exceptions import PermissionDenied
from django.db.models import CharField, Count, Min, OuterRef, Q, Subquery, Sum
from django.db.models.functions import Cast
from django.http import Http404
from django.template.defaultfilters import pluralize
from django.utils import timezone

from audit.models import AuditEvent
from models_registry.models import (
    Alert,
    AlertStatus,
    MLModel,
    MonitoringSnapshot,
    SnapshotWindow,
)
from models_registry.monitoring.baseline import latest_baseline
from models_registry.selectors import models_visible_to
from reviewapp.models import Decision, Prediction, PredictionStatus, ReviewItem

CLAIM_ACTION = "review.claimed"
REVIEW_ITEM_TYPE = "reviewapp.reviewitem"
CAUGHT_ACTIONS = ("override", "reject")
CENTS = Decimal("0.01")


def dashboard_model_for(user, slug: str) -> MLModel:
    """The model behind a dashboard URL: 404 when unknown, 403 when not the user's to see."""
    model = MLModel.objects.select_related("owner", "backup_owner").filter(slug=slug).first()
    if model is None:
        raise Http404(f"No model with slug '{slug}'.")
    if not models_visible_to(user).filter(pk=model.pk).exists():
        raise PermissionDenied(f"You may not see model '{slug}'.")
    return model


def can_manage_alerts(user, model: MLModel) -> bool:
    return bool(
        user.is_authenticated
        and (user.is_superuser or user.pk in (model.owner_id, model.backup_owner_id))
    )


def alert_for_manager(user, slug: str, alert_id: int) -> Alert:
    model = dashboard_model_for(user, slug)
    if not can_manage_alerts(user, model):
        raise PermissionDenied("Only the model's owner or backup owner may act on its alerts.")
    alert = Alert.objects.filter(model=model, pk=alert_id).select_related("rule", "model").first()
    if alert is None:
        raise Http404("No such alert on this model.")
    return alert


def open_alerts(model: MLModel):
    return (
        Alert.objects.filter(model=model)
        .exclude(status=AlertStatus.RESOLVED)
        .select_related("rule", "acknowledged_by")
    )


def snapshots_for(model: MLModel, window: str, limit: int):
    rows = list(
        MonitoringSnapshot.objects.filter(model=model, window=window).order_by("-window_start")[
            :limit
        ]
    )
    rows.reverse()
    return rows


def _dig(node, *path):
    for key in path:
        node = node.get(key) if isinstance(node, dict) else None
    return node


def series(snapshots, *path) -> list[tuple[datetime, float | None]]:
    return [(s.window_start, _dig(s.metrics, *path)) for s in snapshots]


def review_economics(*, model: MLModel, start: datetime, end: datetime) -> dict:
    """What review cost and what it caught, for predictions and decisions in [start, end).

    Human time is the sum, over decisions made by people in the period, of the time between
    the latest ``review.claimed`` audit event of the decision's review item and the decision.
    Decisions without a recorded claim are counted but contribute no minutes.
    """
    predictions = Prediction.objects.filter(
        model=model, received_at__gte=start, received_at__lt=end
    )
    by_status = dict(predictions.values_list("status").annotate(n=Count("id")))
    total = sum(by_status.values())
    auto = by_status.get(PredictionStatus.AUTO_ACCEPTED, 0)
    claimed_at = (
        AuditEvent.objects.filter(
            action=CLAIM_ACTION,
            object_type=REVIEW_ITEM_TYPE,
            object_id=Cast(OuterRef("prediction__review_item__id"), CharField()),
            occurred_at__lte=OuterRef("decided_at"),
        )
        .order_by("-occurred_at")
        .values("occurred_at")[:1]
    )
    decisions = (
        Decision.objects.filter(prediction__model=model, decided_at__gte=start, decided_at__lt=end)
        .exclude(action="fallback")
        .annotate(claimed_at=Subquery(claimed_at))
    )
    seconds = 0.0
    measured = 0
    count = 0
    for decided_at, claimed in decisions.values_list("decided_at", "claimed_at").iterator():
        count += 1
        if claimed is not None:
            measured += 1
            seconds += max((decided_at - claimed).total_seconds(), 0.0)
    caught = decisions.filter(action__in=CAUGHT_ACTIONS).aggregate(
        n=Count("id"), value=Sum("prediction__value_amount")
    )
    minutes = Decimal(str(round(seconds / 60, 2)))
    hourly = model.review_hourly_cost
    cost = (minutes / 60 * hourly).quantize(CENTS, rounding=ROUND_HALF_UP)
    caught_n = caught["n"] or 0
    return {
        "start": start,
        "end": end,
        "predictions": total,
        "auto_accepted": auto,
        "auto_accepted_share": auto / total if total else None,
        "decisions": count,
        "decisions_with_claim_time": measured,
        "human_minutes": minutes,
        "hourly_cost": hourly,
        "cost": cost,
        "caught_count": caught_n,
        "caught_value": (caught["value"] or Decimal("0")).quantize(CENTS),
        "cost_per_caught_error": (cost / caught_n).quantize(CENTS) if caught_n else None,
    }


def status_light(model: MLModel, open_count: int, latest) -> tuple[str, str]:
    """green / amber / red with the reason, for the overview."""
    if open_count:
        return "red", f"{open_count} open alert{pluralize(open_count)}"
    if latest is None:
        return "grey", "not measured yet"
    share = latest.drift_share
    if share:
        return "amber", f"{share:.0%} of features drifted"
    return "green", "no open alerts"


def overview_rows(user) -> list[dict]:
    models = (
        models_visible_to(user)
        .annotate(
            open_alerts=Count(
                "alerts", filter=~Q(alerts__status=AlertStatus.RESOLVED), distinct=True
            )
        )
        .order_by("slug")
    )
    queue = dict(
        ReviewItem.objects.open()
        .filter(model__in=models)
        .values_list("model")
        .annotate(n=Count("id"))
        .values_list("model", "n")
    )
    rows = []
    for model in models:
        hourly = snapshots_for(model, SnapshotWindow.HOURLY, 48)
        daily = snapshots_for(model, SnapshotWindow.DAILY, 30)
        recent = hourly or daily
        latest = recent[-1] if recent else None
        light, why = status_light(model, model.open_alerts, latest)
        accuracy = [
            v for _, v in series(recent, "accuracy", "outcomes", "accuracy") if v is not None
        ]
        rows.append(
            {
                "model": model,
                "light": light,
                "light_reason": why,
                "open_alerts": model.open_alerts,
                "queue_depth": queue.get(model.pk, 0),
                "accuracy": accuracy[-1] if accuracy else None,
                "accuracy_series": accuracy,
                "drift_series": [s.drift_share for s in recent if s.drift_share is not None],
                "drift_share": latest.drift_share if latest else None,
            }
        )
    return rows


def model_dashboard(model: MLModel, *, feature: str | None, days: int = 7) -> dict:
    version = model.active_version
    baseline = latest_baseline(version)
    hourly = snapshots_for(model, SnapshotWindow.HOURLY, 72)
    daily = snapshots_for(model, SnapshotWindow.DAILY, 30)
    chart_snapshots = hourly if len(hourly) >= 2 else daily
    latest = next(
        (s for s in reversed(daily + hourly) if s.drift.get("features")),
        (hourly or daily or [None])[-1],
    )
    drift_features = (latest.drift.get("features") or {}) if latest else {}
    if feature not in drift_features:
        feature = next(iter(sorted(drift_features, key=lambda f: -_psi(drift_features[f]))), None)
    now = timezone.now()
    oldest = ReviewItem.objects.open().filter(model=model).aggregate(oldest=Min("created_at"))
    return {
        "version": version,
        "baseline": baseline,
        "hourly": hourly,
        "daily": daily,
        "chart_snapshots": chart_snapshots,
        "latest": latest,
        "drift_rows": sorted(
            ({"name": k, **v} for k, v in drift_features.items()),
            key=lambda r: (not r.get("drifted", False), -_psi(r)),
        ),
        "feature": feature,
        "open_alerts": list(open_alerts(model)),
        "recent_alerts": list(
            Alert.objects.filter(model=model, status=AlertStatus.RESOLVED)
            .select_related("rule")
            .order_by("-resolved_at")[:5]
        ),
        "queue_depth": ReviewItem.objects.open().filter(model=model).count(),
        "oldest_item": oldest["oldest"],
        "economics": review_economics(model=model, start=now - timedelta(days=days), end=now),
        "economics_days": days,
    }


def _psi(row: dict) -> float:
    return float(row.get("psi") or 0.0)
