"""Reads shared by the API and the reviewer UI."""

from __future__ import annotations

from reviewapp.models import Prediction


def prediction_get(*, model, external_id: str) -> Prediction | None:
    """The production prediction with this external id; shadow predictions never answer."""
    return (
        Prediction.objects.filter(model=model, external_id=external_id, is_shadow=False)
        .select_related("version", "decision")
        .first()
    )
