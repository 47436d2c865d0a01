"""Ground truth for earlier predictions, for accuracy monitoring."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import transaction

from audit.actors import Actor
from audit.services import EventSpec, audit_events_record
from reviewapp.models import Outcome, Prediction


@dataclass(frozen=True)
class OutcomeIn:
    external_id: str
    actual: Any
    observed_at: datetime | None = None


@dataclass(frozen=True)
class OutcomesResult:
    stored: int
    unknown_external_ids: list[str]


@transaction.atomic
def outcomes_record(*, model, actor: Actor, outcomes: list[OutcomeIn]) -> OutcomesResult:
    """Store outcomes; a later one for the same prediction replaces the earlier one.

    simple-history keeps every earlier value, and the audit event carries before and after.
    """
    predictions = {
        p.external_id: p
        for p in Prediction.objects.filter(
            model=model, is_shadow=False, external_id__in={o.external_id for o in outcomes}
        ).select_related("outcome")
    }
    stored, unknown, events = 0, [], []
    for outcome in outcomes:
        prediction = predictions.get(outcome.external_id)
        if prediction is None:
            if outcome.external_id not in unknown:
                unknown.append(outcome.external_id)
            continue
        existing = Outcome.objects.select_for_update().filter(prediction=prediction).first()
        before = None
        if existing is None:
            existing = Outcome(prediction=prediction)
        else:
            before = {
                "actual": existing.actual,
                "observed_at": existing.observed_at.isoformat() if existing.observed_at else None,
            }
        existing.actual = outcome.actual
        existing.observed_at = outcome.observed_at
        existing._change_reason = "outcome reported"
        existing.save()
        stored += 1
        events.append(
            EventSpec(
                action="outcome.replaced" if before else "outcome.recorded",
                actor=actor,
                object_type="reviewapp.prediction",
                object_id=prediction.pk,
                model=model,
                payload={
                    "external_id": outcome.external_id,
                    "before": before,
                    "after": {
                        "actual": outcome.actual,
                        "observed_at": outcome.observed_at.isoformat()
                        if outcome.observed_at
                        else None,
                    },
                },
            )
        )
    audit_events_record(events)
    return OutcomesResult(stored=stored, unknown_external_ids=unknown)
