"""/metrics in Prometheus text format, read from the database on each scrape.

Reading the database (rather than counting in process memory) keeps the figures right with any
number of gunicorn workers and across restarts. Open by default; when ``METRICS_TOKEN`` is set
a scrape must send ``Authorization: Bearer <token>``.
"""

from __future__ import annotations

import hmac
import time

from django.conf import settings
from django.db.models import Count, Min
from django.http import HttpResponse
from django.urls import path
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from models_registry.models import Alert, AlertStatus, MLModel
from reviewapp.models import Prediction, ReviewItem


class CountersignCollector:
    def collect(self):
        slugs = dict(MLModel.objects.values_list("pk", "slug"))
        received = CounterMetricFamily(
            "countersign_predictions_received",
            "Predictions stored, by model and status.",
            labels=["model", "status"],
        )
        rows = Prediction.objects.values_list("model", "status").annotate(n=Count("id"))
        for model_id, status, n in rows.values_list("model", "status", "n"):
            received.add_metric([slugs.get(model_id, str(model_id)), status], n)
        yield received

        depth = GaugeMetricFamily(
            "countersign_review_queue_depth", "Review items waiting.", labels=["model"]
        )
        oldest = GaugeMetricFamily(
            "countersign_review_queue_oldest_age_seconds",
            "Age of the oldest waiting review item.",
            labels=["model"],
        )
        now = time.time()
        queue = (
            ReviewItem.objects.open()
            .values_list("model")
            .annotate(n=Count("id"), oldest=Min("created_at"))
            .values_list("model", "n", "oldest")
        )
        seen = set()
        for model_id, n, first in queue:
            seen.add(model_id)
            depth.add_metric([slugs.get(model_id, str(model_id))], n)
            oldest.add_metric([slugs.get(model_id, str(model_id))], now - first.timestamp())
        for model_id, slug in slugs.items():
            if model_id not in seen:
                depth.add_metric([slug], 0)
                oldest.add_metric([slug], 0)
        yield depth
        yield oldest

        alerts = GaugeMetricFamily(
            "countersign_open_alerts", "Alerts not yet resolved.", labels=["model"]
        )
        open_counts = dict(
            Alert.objects.exclude(status=AlertStatus.RESOLVED)
            .values_list("model")
            .annotate(n=Count("id"))
            .values_list("model", "n")
        )
        for model_id, slug in slugs.items():
            alerts.add_metric([slug], open_counts.get(model_id, 0))
        yield alerts

        from django_q.models import Failure

        failures = CounterMetricFamily(
            "countersign_task_failures",
            "Background tasks that failed (as kept by django-q2), by function.",
            labels=["func"],
        )
        for func, n in (
            Failure.objects.values_list("func").annotate(n=Count("id")).values_list("func", "n")
        ):
            failures.add_metric([func], n)
        yield failures


def _authorized(request) -> bool:
    token = getattr(settings, "METRICS_TOKEN", "")
    if not token:
        return True
    header = request.headers.get("Authorization", "")
    return hmac.compare_digest(header.encode(), f"Bearer {token}".encode())


@require_GET
def metrics_view(request):
    if not _authorized(request):
        response = HttpResponse("A bearer token is required.\n", status=401)
        response["WWW-Authenticate"] = "Bearer"
        return response
    registry = CollectorRegistry(auto_describe=False)
    registry.register(CountersignCollector())
    return HttpResponse(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)


urlpatterns = [path("metrics", metrics_view, name="metrics")]
