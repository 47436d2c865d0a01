"""django-q2 entry points of the retraining workflow: thin, idempotent, calling services."""

from __future__ import annotations

from audit.actors import Actor
from models_registry.models import RetrainingRequest
from models_registry.retraining import services


def _request(request_id: int) -> RetrainingRequest | None:
    return RetrainingRequest.objects.filter(pk=request_id).first()


def labels_prepare(request_id: int) -> str:
    request = _request(request_id)
    if request is None:
        return "gone"
    request = services.retraining_labels_prepare(request=request)
    return f"{request.labels_rows} label rows"


def pipeline_notify(request_id: int, attempt: int = 1, resend: int = 0) -> str:
    request = _request(request_id)
    if request is None:
        return "gone"
    ok = services.retraining_pipeline_notify(request=request, attempt=attempt, resend=resend)
    return "delivered" if ok else "not delivered"


def validate(request_id: int) -> str:
    request = _request(request_id)
    if request is None:
        return "gone"
    return services.retraining_validate(request=request).status


def promote(request_id: int) -> str:
    request = _request(request_id)
    if request is None:
        return "gone"
    try:
        request = services.retraining_promote(
            request=request, actor=Actor.system("promotion after sign-off")
        )
    except services.InvalidTransition as error:
        return f"not promoted: {error.message}"
    return request.status


def email_send(request_id: int, event: str) -> str:
    request = _request(request_id)
    if request is None:
        return "gone"
    return f"{services.retraining_email_send(request=request, event=event)} sent"


def resume_stalled() -> str:
    resumed = services.retraining_stalled_resume()
    return f"resumed {resumed}" if resumed else "nothing stalled"
