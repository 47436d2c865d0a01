"""How a retraining request looks to programs: the API answer and the webhook body share it."""

from __future__ import annotations

from django.conf import settings
from django.urls import reverse

from models_registry.models import RetrainingRequest


def labels_uri_for(request: RetrainingRequest) -> str:
    path = reverse("api-retraining-labels", kwargs={"pk": request.pk})
    return settings.SITE_URL.rstrip("/") + path


def retraining_request_representation(request: RetrainingRequest) -> dict:
    return {
        "id": request.pk,
        "model": request.model.slug,
        "status": request.status,
        "reason": request.reason,
        "requested_by": request.requested_by_label,
        "created_at": request.created_at.isoformat().replace("+00:00", "Z"),
        "labels_uri": labels_uri_for(request) if request.labels_ready else None,
        "labels_rows": request.labels_rows,
        "labels_sha256": request.labels_sha256 or None,
        "candidate": request.candidate.label if request.candidate_id else None,
    }
