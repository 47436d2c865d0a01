"""Reads shared by the API and the reviewer UI."""

from __future__ import annotations

from reviewapp.models import Prediction


def prediction_get(*, model, external_id: str) -> Prediction | None:
    return (
        Prediction.objects.filter(model=model, external_id=external_id)
        .select_related("version", "decision")
        .first()
    )
