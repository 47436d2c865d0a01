"""Helpers for the queue, decision, webhook and UI tests: review items made the real way."""

from __future__ import annotations

from decimal import Decimal
from itertools import count

from audit.actors import Actor
from reviewapp.models import ReviewItem
from reviewapp.services.intake import Envelope, predictions_ingest

_numbers = count(1)


def make_items(
    model, n: int = 1, *, confidence: float = 0.3, value_amount=None, output="approve", **extra
) -> list[ReviewItem]:
    """``n`` low-confidence predictions through the intake, returning their review items."""
    rows = [
        Envelope(
            external_id=f"it-{next(_numbers)}",
            inputs=extra.pop("inputs", None)
            or {"applicant_age": 40, "income": 50000, "employment": "employed"},
            output=output,
            confidence=confidence,
            value_amount=None if value_amount is None else Decimal(str(value_amount)),
            context=extra.pop("context", {}),
        )
        for _ in range(n)
    ]
    results = predictions_ingest(model=model, actor=Actor.system("tests"), rows=rows)
    ids = [r.prediction.pk for r in results]
    return list(ReviewItem.objects.filter(prediction_id__in=ids).order_by("id"))


def make_item(model, **kwargs) -> ReviewItem:
    return make_items(model, 1, **kwargs)[0]
