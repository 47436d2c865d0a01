"""Dashboards, alert actions and /metrics."""

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from models_registry.models import Alert, AlertStatus
from models_registry.monitoring.alerts import alert_rules_ensure_defaults
from models_registry.monitoring.snapshots import snapshots_run
from reviewapp.models import ReviewItem
from tests.models_registry.monitoring_data import (
    a_closed_hour,
    current_frame,
    store_predictions,
    upload_baseline,
)

pytestmark = pytest.mark.django_db


def client_for(user):
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def measured_model(loan_model):
    upload_baseline(loan_model)
    for hours_ago, shift in ((3, 0), (2, 5000), (1, 10_000)):
        store_predictions(
            loan_model,
            current_frame(rows=200, seed=hours_ago, income_shift=shift),
            a_closed_hour(hours_ago),
            prefix=f"h{hours_ago}",
        )
    snapshots_run(windows=["hourly"], backfill=3)
    return loan_model


def test_the_model_page_shows_charts_drift_and_economics(measured_model, owner):
    response = client_for(owner).get("/models/loan-default/")
    assert response.status_code == 200
    html = response.content.decode()
    assert html.count('<svg class="chart"') >= 6
    assert "Predictions per window" in html and "PSI per feature" in html
    assert "income" in html and "drifted" in html
    assert "Review economics" in html
    assert "no baseline uploaded yet" not in html.lower()
    chosen = client_for(owner).get("/models/loan-default/?feature=employment").content.decode()
    assert "employment: baseline vs hourly window" in chosen


def test_a_model_without_data_says_what_is_missing(loan_model, owner):
    html = client_for(owner).get("/models/loan-default/").content.decode()
    assert "No baseline uploaded yet" in html
    assert "No monitoring snapshots yet" in html
    assert '<svg class="chart"' not in html


def test_the_overview_lists_visible_models_with_their_state(measured_model, other_model, owner):
    ReviewItem.objects.create(
        prediction=measured_model.predictions.first(),
        model=measured_model,
        due_at=timezone.now() + timedelta(hours=1),
    )
    html = client_for(owner).get("/models/").content.decode()
    assert "loan-default" in html and "claim-fraud" not in html
    assert 'class="light amber"' in html
    assert 'class="sparkline"' in html


def test_outsiders_and_strangers_cannot_see_a_model(measured_model, outsider):
    assert client_for(outsider).get("/models/loan-default/").status_code == 403
    assert client_for(outsider).get("/models/unknown/").status_code == 404
    response = Client().get("/models/loan-default/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def _an_alert(model):
    alert_rules_ensure_defaults(model=model)
    rule = model.alert_rules.get(metric="drift_share")
    return Alert.objects.create(
        model=model,
        rule=rule,
        summary="Share of drifted features was 0.67",
        value=0.67,
        threshold=0.3,
        opened_at=timezone.now(),
    )


def test_the_owner_acknowledges_and_resolves_from_the_page(loan_model, owner):
    alert = _an_alert(loan_model)
    client = client_for(owner)
    assert (
        "Share of drifted features was 0.67" in client.get("/models/loan-default/").content.decode()
    )
    client.post(f"/models/loan-default/alerts/{alert.pk}/acknowledge/")
    alert.refresh_from_db()
    assert alert.status == AlertStatus.ACKNOWLEDGED and alert.acknowledged_by == owner
    client.post(f"/models/loan-default/alerts/{alert.pk}/resolve/", {"note": "retrained"})
    alert.refresh_from_db()
    assert alert.status == AlertStatus.RESOLVED and alert.resolution == "retrained"
    response = client.post(f"/models/loan-default/alerts/{alert.pk}/resolve/", follow=True)
    assert "already resolved" in response.content.decode()


def test_a_reviewer_may_look_but_not_act_on_alerts(loan_model, reviewer):
    loan_model.reviewers.add(reviewer)
    alert = _an_alert(loan_model)
    client = client_for(reviewer)
    page = client.get("/models/loan-default/").content.decode()
    assert "Acknowledge" not in page
    assert client.post(f"/models/loan-default/alerts/{alert.pk}/acknowledge/").status_code == 403
    alert.refresh_from_db()
    assert alert.status == AlertStatus.OPEN


def test_metrics_are_read_from_the_database(measured_model, settings):
    ReviewItem.objects.create(
        prediction=measured_model.predictions.first(),
        model=measured_model,
        due_at=timezone.now() + timedelta(hours=1),
        created_at=timezone.now() - timedelta(seconds=120),
    )
    _an_alert(measured_model)
    response = Client().get("/metrics")
    assert response.status_code == 200
    text = response.content.decode()
    assert (
        'countersign_predictions_received_total{model="loan-default",status="auto_accepted"} 600.0'
        in text
    )
    assert 'countersign_review_queue_depth{model="loan-default"} 1.0' in text
    assert 'countersign_open_alerts{model="loan-default"} 1.0' in text
    assert "countersign_review_queue_oldest_age_seconds" in text
    assert "countersign_task_failures_total" in text
    oldest = [
        line for line in text.splitlines() if line.startswith("countersign_review_queue_oldest")
    ]
    assert 119 < float(oldest[0].split()[-1]) < 200


def test_metrics_need_the_token_when_one_is_set(loan_model, settings):
    settings.METRICS_TOKEN = "s3cret"
    assert Client().get("/metrics").status_code == 401
    assert Client().get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 401
    assert Client().get("/metrics", HTTP_AUTHORIZATION="Bearer s3cret").status_code == 200
