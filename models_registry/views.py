"""Monitoring dashboards: an overview of every model, and a page per model. Thin: the figures
come from ``monitoring.selectors``, the charts from ``monitoring.charts``."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from models_registry.monitoring import charts
from models_registry.monitoring import selectors as monitoring
from models_registry.monitoring.alerts import AlertStateError, alert_acknowledge, alert_resolve

ECONOMICS_PERIODS = {"1": 1, "7": 7, "30": 30, "90": 90}


@login_required
def models_overview(request):
    rows = monitoring.overview_rows(request.user)
    for row in rows:
        row["accuracy_spark"] = charts.sparkline(row["accuracy_series"])
        row["drift_spark"] = charts.sparkline(row["drift_series"])
    return render(request, "models_registry/overview.html", {"rows": rows})


def _charts(data: dict) -> dict:
    snaps = data["chart_snapshots"]
    drift_rows = data["drift_rows"]
    feature_lines = []
    for row in drift_rows[:5]:
        name = row["name"]
        feature_lines.append(
            (
                name,
                [
                    (s.window_start, (s.drift.get("features") or {}).get(name, {}).get("psi"))
                    for s in snaps
                ],
            )
        )
    result = {
        "traffic": charts.line_chart(
            "Predictions per window",
            [("predictions", monitoring.series(snaps, "volume"))],
            y_min=0,
        ),
        "confidence": charts.line_chart(
            "Confidence",
            [
                ("mean", monitoring.series(snaps, "confidence", "mean")),
                ("median", monitoring.series(snaps, "confidence", "quantiles", "0.5")),
                (
                    "share under threshold",
                    monitoring.series(snaps, "confidence", "under_threshold_share"),
                ),
            ],
            percent=True,
            y_min=0,
            y_max=1,
        ),
        "review": charts.line_chart(
            "Review rate and override rate",
            [
                ("sent to review", monitoring.series(snaps, "review", "rate")),
                ("overridden or rejected", monitoring.series(snaps, "decisions", "override_rate")),
            ],
            percent=True,
            y_min=0,
        ),
        "accuracy": charts.line_chart(
            "Accuracy",
            [
                ("against outcomes", monitoring.series(snaps, "accuracy", "outcomes", "accuracy")),
                (
                    "against decisions",
                    monitoring.series(snaps, "accuracy", "decisions", "accuracy"),
                ),
                ("MAE (outcomes)", monitoring.series(snaps, "accuracy", "outcomes", "mae")),
            ],
        ),
        "drift": charts.line_chart("PSI per feature (most drifted first)", feature_lines, y_min=0),
        "drift_share": charts.line_chart(
            "Share of drifted features",
            [("drifted", [(s.window_start, s.drift_share) for s in snaps])],
            percent=True,
            y_min=0,
            y_max=1,
        ),
    }
    result["distribution"] = _distribution(data)
    return result


def _distribution(data: dict):
    feature, baseline, latest = data["feature"], data["baseline"], data["latest"]
    if not feature or baseline is None or latest is None:
        return None
    row = (latest.drift.get("features") or {}).get(feature) or {}
    profile = baseline.profile.get(feature, {})
    if row.get("kind") == "numeric" and "histogram" in profile and "current_histogram" in row:
        edges = profile["histogram"]["edges"]
        labels = [charts.compact(edges[i]) for i in range(len(edges) - 1)]
        base, cur = profile["histogram"]["counts"], row["current_histogram"]
    elif row.get("kind") == "categorical":
        base_freq = profile.get("frequencies", {})
        cur_freq = row.get("current_frequencies", {})
        labels = sorted(set(base_freq) | set(cur_freq), key=lambda c: -base_freq.get(c, 0))[:20]
        base = [base_freq.get(c, 0) for c in labels]
        cur = [cur_freq.get(c, 0) for c in labels]
    else:
        return None
    base_total, cur_total = sum(base) or 1, sum(cur) or 1
    return charts.paired_bars(
        f"{feature}: baseline vs {latest.window} window of {latest.window_start:%Y-%m-%d %H:%M}",
        labels,
        [b / base_total for b in base],
        [c / cur_total for c in cur],
    )


@login_required
def model_dashboard(request, slug: str):
    model = monitoring.dashboard_model_for(request.user, slug)
    days = ECONOMICS_PERIODS.get(request.GET.get("days", "7"), 7)
    data = monitoring.model_dashboard(model, feature=request.GET.get("feature"), days=days)
    return render(
        request,
        "models_registry/model_dashboard.html",
        {
            "model": model,
            **data,
            "charts": _charts(data) if data["chart_snapshots"] else None,
            "can_manage": monitoring.can_manage_alerts(request.user, model),
            "periods": sorted(ECONOMICS_PERIODS.values()),
        },
    )


@login_required
@require_POST
def alert_acknowledge_view(request, slug: str, alert_id: int):
    alert = monitoring.alert_for_manager(request.user, slug, alert_id)
    try:
        alert_acknowledge(alert=alert, user=request.user)
        messages.success(request, f"Acknowledged: {alert.rule.name}.")
    except AlertStateError as error:
        messages.error(request, str(error))
    return redirect("models_registry:dashboard", slug=slug)


@login_required
@require_POST
def alert_resolve_view(request, slug: str, alert_id: int):
    alert = monitoring.alert_for_manager(request.user, slug, alert_id)
    try:
        alert_resolve(alert=alert, user=request.user, note=request.POST.get("note", "")[:500])
        messages.success(request, f"Resolved: {alert.rule.name}.")
    except AlertStateError as error:
        messages.error(request, str(error))
    return redirect("models_registry:dashboard", slug=slug)
