"""Reads of retraining requests, and who may do what with them (one place for UI and API)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db.models import Q, QuerySet
from rest_framework.exceptions import NotFound, PermissionDenied

from audit.models import AuditEvent
from models_registry import access
from models_registry.authentication import ServicePrincipal
from models_registry.models import (
    MLModel,
    RetrainingRequest,
    RetrainingStatus,
    ServiceKeyScope,
)
from models_registry.selectors import models_visible_to

User = get_user_model()
REQUEST_OBJECT_TYPE = "models_registry.retrainingrequest"
PIPELINE_NOTIFY_TASK = "models_registry.retraining.tasks.pipeline_notify"


def approvers_of(model: MLModel) -> QuerySet:
    """The people who may sign off a candidate: owner, backup owner and named approvers."""
    ids = {model.owner_id, model.backup_owner_id} - {None}
    return User.objects.filter(
        Q(pk__in=ids) | Q(approvable_models=model), is_active=True
    ).distinct()


def user_may_approve(user, model: MLModel) -> bool:
    if not getattr(user, "is_authenticated", False) or isinstance(user, ServicePrincipal):
        return False
    return approvers_of(model).filter(pk=user.pk).exists()


def user_is_owner(user, model: MLModel) -> bool:
    return getattr(user, "pk", None) in {model.owner_id, model.backup_owner_id} - {None}


def user_may_reject(user, model: MLModel) -> bool:
    """Anyone who works on the model may reject a candidate; a compliance officer reads every
    model but acts on none (docs/roles.md)."""
    return access.models_operated_by(user).filter(pk=model.pk).exists()


def user_may_edit_gates(user, model: MLModel) -> bool:
    """What the admin's retraining policy page lets through (``OwnerScopedAdmin``): staff who
    own or back up the model, or administrators; the pages link there only for them."""
    return (
        access.is_person(user)
        and user.is_staff
        and access.models_administered_by(user).filter(pk=model.pk).exists()
    )


def user_may_request(user, model: MLModel) -> bool:
    """Owners, and the people the owner listed in the model's retraining policy."""
    if not getattr(user, "is_authenticated", False) or isinstance(user, ServicePrincipal):
        return False
    if user_is_owner(user, model):
        return True
    policy = getattr(model, "retraining_policy", None)
    return policy is not None and policy.requesters.filter(pk=user.pk).exists()


def retraining_requests_visible_to(principal) -> QuerySet[RetrainingRequest]:
    """Requests of the models a person may see, or a pipeline key is scoped to."""
    requests = RetrainingRequest.objects.select_related(
        "model", "candidate", "requested_by", "base_version"
    )
    if isinstance(principal, ServicePrincipal) and not principal.key.has_scope(
        ServiceKeyScope.PIPELINE
    ):
        return requests.none()
    return requests.filter(model__in=models_visible_to(principal))


def retraining_request_for(principal, pk) -> RetrainingRequest:
    """One request, or 404 for an unknown one and for one of a model the caller can't see
    (an outsider learns nothing about other owners' models)."""
    request = retraining_requests_visible_to(principal).filter(pk=pk).first()
    if request is None:
        if isinstance(principal, ServicePrincipal) and not principal.key.has_scope(
            ServiceKeyScope.PIPELINE
        ):
            raise PermissionDenied("This service key lacks the 'pipeline' scope.")
        raise NotFound(f"No retraining request {pk}.")
    return request


def retraining_timeline(request: RetrainingRequest) -> QuerySet[AuditEvent]:
    """The request's transitions as recorded in the audit trail, oldest first."""
    return AuditEvent.objects.filter(
        object_type=REQUEST_OBJECT_TYPE, object_id=str(request.pk)
    ).order_by("id")


def retraining_inbox_for(user) -> QuerySet[RetrainingRequest]:
    """Requests waiting for this person's sign-off (and not yet signed by them)."""
    if not getattr(user, "is_authenticated", False):
        return RetrainingRequest.objects.none()
    return (
        RetrainingRequest.objects.filter(status=RetrainingStatus.AWAITING_SIGNOFF)
        .filter(Q(model__owner=user) | Q(model__backup_owner=user) | Q(model__approvers=user))
        .exclude(signoffs__user=user)
        .select_related("model", "candidate", "requested_by")
        .distinct()
        .order_by("created_at")
    )


def open_request_for_model(model: MLModel) -> RetrainingRequest | None:
    return RetrainingRequest.objects.open().filter(model=model).first()


def rollback_target_for(model: MLModel) -> RetrainingRequest | None:
    """The latest promotion that can still be undone: its candidate is the active version
    and the version it retired is known."""
    return (
        RetrainingRequest.objects.filter(
            model=model,
            status=RetrainingStatus.PROMOTED,
            rolled_back_at__isnull=True,
            previous_version__isnull=False,
            candidate__status="active",
        )
        .select_related("candidate", "previous_version")
        .order_by("-promoted_at")
        .first()
    )


# --- The pipeline webhook's deliveries --------------------------------------------------------


def pipeline_retry_name(request_id: int, attempt: int, resend: int = 0) -> str:
    """The django-q2 schedule of one automatic retry; a resend's round is named apart."""
    name = f"retraining {request_id}: webhook attempt {attempt}"
    return f"{name} (resend {resend})" if resend else name


def pipeline_retries_pending(request_id: int) -> QuerySet:
    """The automatic retries waiting in django-q2's schedule (it deletes a one-off schedule
    once it has handed out its task), soonest first."""
    from django_q.models import Schedule

    return (
        Schedule.objects.filter(
            func=PIPELINE_NOTIFY_TASK,
            name__startswith=f"retraining {request_id}: webhook attempt ",
        )
        .exclude(repeats=0)
        .order_by("next_run")
    )


def pipeline_resend_refusal(request: RetrainingRequest) -> str | None:
    """Why the request can't be sent to the pipeline again, or None when it can (the page
    shows the button, and the service sends, on the same answer)."""
    model = request.model
    if not request.is_open:
        return (
            f"Request #{request.pk} is {request.get_status_display().lower()}; a closed "
            "request is not sent to the pipeline."
        )
    if request.pipeline_notified_at:
        return (
            "The pipeline already acknowledged this request on "
            f"{request.pipeline_notified_at:%Y-%m-%d %H:%M} UTC; there is nothing to send again."
        )
    if not model.pipeline_webhook_url:
        return (
            f"No pipeline webhook is configured for {model.slug}; set its URL in the admin, "
            "or let the pipeline poll the API."
        )
    if request.candidate_id:
        return (
            f"The pipeline already registered candidate {request.candidate.label} for this "
            "request; there is nothing to send again."
        )
    if not request.labels_ready:
        return "The training labels are still being written; the pipeline is told once they are."
    return None


@dataclass(frozen=True)
class PipelineDelivery:
    """What the request page says about the webhook: the current round's attempts, the last
    error, and when the next automatic attempt is due."""

    configured: bool
    notified_at: datetime | None
    attempts: int
    max_attempts: int
    last_error: str
    next_retry_at: datetime | None
    resends: int

    @property
    def gave_up(self) -> bool:
        return (
            self.notified_at is None
            and bool(self.last_error)
            and self.next_retry_at is None
            and self.attempts >= self.max_attempts
        )


def pipeline_delivery_for(request: RetrainingRequest) -> PipelineDelivery:
    next_retry_at = None
    if request.pipeline_notified_at is None and request.is_open:
        next_retry = pipeline_retries_pending(request.pk).filter(
            name=pipeline_retry_name(
                request.pk, request.pipeline_attempts + 1, request.pipeline_round
            )
        )
        next_retry_at = next_retry.values_list("next_run", flat=True).first()
    return PipelineDelivery(
        configured=bool(request.model.pipeline_webhook_url),
        notified_at=request.pipeline_notified_at,
        attempts=request.pipeline_attempts,
        max_attempts=settings.RETRAINING_WEBHOOK_MAX_ATTEMPTS,
        last_error=request.pipeline_last_error,
        next_retry_at=next_retry_at,
        resends=request.pipeline_round,
    )
