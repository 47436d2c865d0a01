"""Review economics from claim audit events and decisions."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.utils import timezone

from audit.actors import Actor
from audit.services import audit_event_record
from models_registry.monitoring.selectors import review_economics
from reviewapp.models import Decision, ReviewItem
from tests.models_registry.monitoring_data import current_frame, store_predictions

pytestmark = pytest.mark.django_db


def backdate(event, occurred_at):
    """Claims recorded by the queue happen at real times; here they are placed in the past,
    past the append-only trigger (as the test database's superuser, this session only)."""
    with connection.cursor() as cursor:
        cursor.execute("SET session_replication_role = replica")
        try:
            type(event).objects.filter(pk=event.pk).update(occurred_at=occurred_at)
        finally:
            cursor.execute("SET session_replication_role = origin")


def review(prediction, reviewer, *, claimed_at, decided_at, action, value):
    prediction.value_amount = Decimal(value)
    prediction.status = "decided"
    prediction.save()
    item = ReviewItem.objects.create(
        prediction=prediction,
        model=prediction.model,
        status="decided",
        due_at=decided_at,
        created_at=claimed_at - timedelta(minutes=30),
        claimed_by=reviewer,
    )
    if claimed_at is not None:
        event = audit_event_record(
            action="review.claimed",
            actor=Actor.user(reviewer),
            object_type="reviewapp.reviewitem",
            object_id=item.pk,
            model=prediction.model,
            payload={"prediction_id": prediction.pk},
        )
        backdate(event, claimed_at)
    Decision.objects.create(
        prediction=prediction,
        action=action,
        final_output="decline" if action == "override" else prediction.output,
        decided_by=[reviewer.username],
        decided_at=decided_at,
    )
    return item


def test_it_counts_human_minutes_cost_and_what_review_caught(loan_model, reviewer):
    loan_model.review_hourly_cost = Decimal("90.00")
    loan_model.save()
    now = timezone.now()
    start = now - timedelta(days=1)
    predictions = store_predictions(loan_model, current_frame(rows=10), start)
    t = start + timedelta(hours=2)
    # An earlier claim that lapsed, then the claim that led to the decision 6 minutes later.
    item = review(
        predictions[0],
        reviewer,
        claimed_at=t + timedelta(minutes=4),
        decided_at=t + timedelta(minutes=10),
        action="override",
        value="25000",
    )
    stale = audit_event_record(
        action="review.claimed",
        actor=Actor.user(reviewer),
        object_type="reviewapp.reviewitem",
        object_id=item.pk,
        model=loan_model,
    )
    backdate(stale, t - timedelta(hours=1))
    review(
        predictions[1],
        reviewer,
        claimed_at=t,
        decided_at=t + timedelta(minutes=4),
        action="approve",
        value="1000",
    )
    review(
        predictions[2],
        reviewer,
        claimed_at=t,
        decided_at=t + timedelta(minutes=2),
        action="reject",
        value="15000.50",
    )
    economics = review_economics(model=loan_model, start=start, end=now)
    assert economics["predictions"] == 10
    assert economics["auto_accepted"] == 7
    assert economics["auto_accepted_share"] == pytest.approx(0.7)
    assert economics["decisions"] == 3 and economics["decisions_with_claim_time"] == 3
    assert economics["human_minutes"] == Decimal("12.00")
    assert economics["cost"] == Decimal("18.00")  # 12 minutes at 90/h
    assert economics["caught_count"] == 2
    assert economics["caught_value"] == Decimal("40000.50")
    assert economics["cost_per_caught_error"] == Decimal("9.00")


def test_decisions_without_a_recorded_claim_add_no_minutes(loan_model, reviewer):
    now = timezone.now()
    start = now - timedelta(hours=3)
    predictions = store_predictions(loan_model, current_frame(rows=2), start)
    item = ReviewItem.objects.create(
        prediction=predictions[0], model=loan_model, status="decided", due_at=now
    )
    Decision.objects.create(
        prediction=item.prediction,
        action="approve",
        final_output="approve",
        decided_by=["carol"],
        decided_at=now - timedelta(minutes=1),
    )
    economics = review_economics(model=loan_model, start=start, end=now)
    assert economics["decisions"] == 1 and economics["decisions_with_claim_time"] == 0
    assert economics["human_minutes"] == 0 and economics["cost"] == 0
    assert economics["cost_per_caught_error"] is None
