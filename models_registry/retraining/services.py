"""The retraining state machine: every transition is one function here.

requested → training → candidate_registered → validating → awaiting_signoff → approved →
promoted, with rejected, failed and cancelled as ends. Each transition checks who may make it,
moves the status with a conditional UPDATE or under the request's row lock (so two workers or
two people can't both make it), and writes its audit event with the actor in the same
transaction. Slow work (labels, validation, promotion, webhooks, email) runs in django-q2
tasks enqueued on commit; each is safe to run twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from audit.actors import Actor
from audit.models import AuditEvent
from audit.services import audit_event_record
from models_registry.models import (
    RETRAINING_OPEN_STATUSES,
    MLModel,
    ModelVersion,
    RetrainingPolicy,
    RetrainingRequest,
    RetrainingStatus,
    RoutingPolicy,
    ServiceKey,
    SignOff,
    SignOffDecision,
    ValidationReport,
    VersionStatus,
)
from models_registry.retraining import labels as labels_file
from models_registry.retraining import notifications, validation
from models_registry.retraining.representations import (
    labels_uri_for,
    retraining_request_representation,
)
from models_registry.retraining.selectors import (
    PIPELINE_NOTIFY_TASK,
    REQUEST_OBJECT_TYPE,
    approvers_of,
    pipeline_resend_refusal,
    pipeline_retries_pending,
    pipeline_retry_name,
    rollback_target_for,
    user_is_owner,
    user_may_approve,
    user_may_reject,
    user_may_request,
)
from models_registry.services import version_activate
from reviewapp.services import webhooks

TASKS = "models_registry.retraining.tasks"


class RetrainingError(Exception):
    """A transition that can't be made; ``field`` names what to fix, for forms and the API."""

    status_code = 409
    field = "detail"

    def __init__(self, message: str, *, field: str | None = None):
        super().__init__(message)
        self.message = message
        if field:
            self.field = field


class NotAllowed(RetrainingError):
    status_code = 403


class InvalidTransition(RetrainingError):
    status_code = 409


class InvalidInput(RetrainingError):
    status_code = 400


def _record(request: RetrainingRequest, action: str, actor: Actor, **payload: Any) -> None:
    audit_event_record(
        action=f"retraining.{action}",
        actor=actor,
        object_type=REQUEST_OBJECT_TYPE,
        object_id=request.pk,
        model=request.model,
        payload={"status": request.status, **payload},
    )


def _enqueue(task: str, *args: Any) -> None:
    """Hand work to django-q2 once the transaction that asked for it has committed."""
    from django_q.tasks import async_task

    transaction.on_commit(lambda: async_task(f"{TASKS}.{task}", *args))


def _locked(request: RetrainingRequest) -> RetrainingRequest:
    return (
        RetrainingRequest.objects.select_for_update(of=("self",))
        .select_related("model", "candidate")
        .get(pk=request.pk)
    )


# --- Request -----------------------------------------------------------------------------


def _open(
    *, model: MLModel, reason: str, actor: Actor, requested_by=None, alert_ref: str = ""
) -> tuple[RetrainingRequest, bool]:
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput("Say why the model needs retraining.", field="reason")
    try:
        with transaction.atomic():
            request = RetrainingRequest.objects.create(
                model=model,
                reason=reason,
                requested_by=requested_by,
                requested_by_label=actor.label,
                alert_ref=alert_ref,
                base_version=model.active_version,
            )
            _record(request, "requested", actor, reason=reason, alert=alert_ref or None)
    except IntegrityError:
        existing = RetrainingRequest.objects.open().filter(model=model).first()
        if existing is None:  # closed between our insert and this read: try once more
            raise InvalidTransition("Another request was just opened; try again.") from None
        return existing, False
    _enqueue("labels_prepare", request.pk)
    return request, True


@transaction.atomic
def retraining_request_open(*, model: MLModel, user, reason: str) -> RetrainingRequest:
    """The "Request retraining" button: owners and the people they allowed."""
    if not user_may_request(user, model):
        raise NotAllowed("Only the model's owners, or people they allowed, may request this.")
    request, created = _open(model=model, reason=reason, actor=Actor.user(user), requested_by=user)
    if not created:
        raise InvalidTransition(
            f"Retraining request #{request.pk} is already open for this model "
            f"({request.get_status_display().lower()}).",
            field="model",
        )
    return request


@transaction.atomic
def retraining_request_open_for_alert(*, alert) -> RetrainingRequest:
    """An alert rule marked for retraining opens a request (or joins the open one).

    ``alert`` needs ``model``, ``rule``, ``pk`` and ``summary``. At most one request is open
    per model: when one exists it is returned and the alert is noted on its timeline.
    """
    model = alert.model
    alert_ref = f"alert:{alert.pk}"
    actor = Actor.system(f"alert rule {getattr(alert.rule, 'name', alert.rule)}")
    request, created = _open(
        model=model, reason=alert.summary or f"Alert {alert.pk}", actor=actor, alert_ref=alert_ref
    )
    if not created and request.alert_ref != alert_ref:
        joined = AuditEvent.objects.filter(
            object_type=REQUEST_OBJECT_TYPE,
            object_id=str(request.pk),
            action="retraining.alert_joined",
            payload__alert=alert_ref,
        )
        if not joined.exists():  # the same alert delivered twice is noted once
            _record(request, "alert_joined", actor, alert=alert_ref, summary=alert.summary)
    return request


@transaction.atomic
def retraining_cancel(*, request: RetrainingRequest, user, reason: str) -> RetrainingRequest:
    """Owners or the requester may withdraw a request until it is promoted."""
    request = _locked(request)
    if not (user_is_owner(user, request.model) or request.requested_by_id == user.pk):
        raise NotAllowed("Only the model's owners or the requester may cancel.")
    if request.status not in RETRAINING_OPEN_STATUSES:
        raise InvalidTransition(f"A request that is {request.status} can't be cancelled.")
    if not (reason or "").strip():
        raise InvalidInput("Say why the request is cancelled.", field="reason")
    request.status = RetrainingStatus.CANCELLED
    request.closed_at = timezone.now()
    request.save(update_fields=["status", "closed_at", "updated_at"])
    _record(request, "cancelled", Actor.user(user), reason=reason.strip())
    return request


# --- Labels and the pipeline ---------------------------------------------------------------


def retraining_labels_prepare(*, request: RetrainingRequest) -> RetrainingRequest:
    """Write the labels file (decisions and outcomes since the active version went live).

    The file is written outside any transaction (it can be large); recording it is one
    conditional UPDATE, so a second run writes the same file and records nothing new.
    """
    request = RetrainingRequest.objects.select_related("model", "base_version").get(pk=request.pk)
    if request.labels_path or not request.is_open:
        return request
    since = request.base_version.activated_at if request.base_version else None
    written = labels_file.labels_write(model=request.model, request_id=request.pk, since=since)
    with transaction.atomic():
        updated = RetrainingRequest.objects.filter(pk=request.pk, labels_path="").update(
            labels_path=str(written.path),
            labels_rows=written.rows,
            labels_sha256=written.sha256,
            labels_since=since,
            updated_at=timezone.now(),
        )
        request.refresh_from_db()
        if updated:
            _record(
                request,
                "labels_prepared",
                Actor.system("retraining labels"),
                rows=written.rows,
                sha256=written.sha256,
                since=since.isoformat() if since else None,
                labels_uri=labels_uri_for(request),
            )
            _enqueue("pipeline_notify", request.pk, 1)
    return request


def pipeline_payload(request: RetrainingRequest) -> dict:
    return {
        "event": "retraining.requested",
        "retraining_request": retraining_request_representation(request),
    }


def retraining_pipeline_notify(
    *, request: RetrainingRequest, attempt: int = 1, resend: int = 0
) -> bool:
    """POST the signed request to the model's pipeline webhook; on success the request moves
    to ``training``. A failure is recorded and retried later with a growing delay.

    ``resend`` is the round of deliveries this attempt belongs to (0 for the automatic one,
    then one per owner's "Send to the pipeline again"): an attempt of a round that a resend
    has replaced changes nothing, so only one round counts attempts and schedules retries.
    """
    request = RetrainingRequest.objects.select_related("model").get(pk=request.pk)
    model = request.model
    if not model.pipeline_webhook_url or request.pipeline_notified_at or not request.is_open:
        return bool(request.pipeline_notified_at)
    if request.candidate_id is not None:
        # The pipeline polled and registered its candidate: it has the request, and posting
        # "retraining.requested" again would only confuse it.
        return False
    if resend < request.pipeline_round:
        return False
    delivery = webhooks.signed_post(
        url=model.pipeline_webhook_url,
        payload=pipeline_payload(request),
        event_id=f"retraining-request-{request.pk}",
        secret=model.pipeline_webhook_secret or None,
        timeout=settings.RETRAINING_WEBHOOK_TIMEOUT_SECONDS,
    )
    actor = Actor.system("pipeline webhook")
    with transaction.atomic():
        request = _locked(request)
        if request.pipeline_notified_at:  # another delivery got there first
            return True
        if resend < request.pipeline_round:  # resent while this POST was under way
            return False
        request.pipeline_attempts = max(request.pipeline_attempts, attempt)
        if delivery.ok:
            request.pipeline_notified_at = timezone.now()
            request.pipeline_last_error = ""
            if request.status == RetrainingStatus.REQUESTED:
                request.status = RetrainingStatus.TRAINING
            request.save()
            _record(
                request,
                "pipeline_notified",
                actor,
                url=model.pipeline_webhook_url,
                attempt=attempt,
                resend=resend,
                http_status=delivery.status_code,
            )
            return True
        request.pipeline_last_error = delivery.error
        request.save(update_fields=["pipeline_attempts", "pipeline_last_error", "updated_at"])
        retry = attempt < settings.RETRAINING_WEBHOOK_MAX_ATTEMPTS
        _record(
            request,
            "pipeline_notification_failed",
            actor,
            url=model.pipeline_webhook_url,
            attempt=attempt,
            resend=resend,
            error=delivery.error,
            will_retry=retry,
        )
    if retry:
        _schedule_retry(request.pk, attempt + 1, resend)
    return False


def _schedule_retry(request_id: int, attempt: int, resend: int = 0) -> None:
    from django_q.models import Schedule

    delay = settings.RETRAINING_WEBHOOK_BACKOFF_SECONDS * 2 ** (attempt - 2)
    Schedule.objects.get_or_create(
        name=pipeline_retry_name(request_id, attempt, resend),
        defaults={
            "func": PIPELINE_NOTIFY_TASK,
            "args": f"({request_id}, {attempt}, {resend})",
            "schedule_type": Schedule.ONCE,
            "repeats": -1,
            "next_run": timezone.now() + timedelta(seconds=delay),
        },
    )


@transaction.atomic
def retraining_pipeline_resend(*, request: RetrainingRequest, user) -> RetrainingRequest:
    """An owner's "Send to the pipeline again", once the pipeline is fixed: after the
    automatic attempts gave up, or instead of waiting for the next one.

    It starts a fresh round of deliveries (attempts count from 1 again, retried as before)
    with the same event id, ``retraining-request-<id>``, so a pipeline that did receive an
    earlier delivery dedupes. The previous round's pending retries are dropped and a delivery
    of it still under way changes nothing, so one round runs at a time. Refused, with the
    reason, for a closed or acknowledged request, a model without a webhook, a request that
    already has its candidate, or labels not written yet (they trigger the first delivery).
    """
    request = _locked(request)
    if not user_is_owner(user, request.model):
        raise NotAllowed(
            "Only the model's owner or backup owner may send the request to the pipeline again."
        )
    refusal = pipeline_resend_refusal(request)
    if refusal:
        raise InvalidTransition(refusal)
    resend = request.pipeline_round + 1
    dropped = pipeline_retries_pending(request.pk).delete()[0]
    previous_attempts, previous_error = request.pipeline_attempts, request.pipeline_last_error
    request.pipeline_round = resend
    request.pipeline_attempts = 0
    request.pipeline_last_error = ""
    request.save(
        update_fields=["pipeline_round", "pipeline_attempts", "pipeline_last_error", "updated_at"]
    )
    _record(
        request,
        "pipeline_resend_requested",
        Actor.user(user),
        url=request.model.pipeline_webhook_url,
        resend=resend,
        previous_attempts=previous_attempts,
        previous_error=previous_error,
        dropped_retries=dropped,
    )
    _enqueue("pipeline_notify", request.pk, 1, resend)
    return request


# --- Candidate -----------------------------------------------------------------------------

ROUTING_FIELDS = [
    f.name
    for f in RoutingPolicy._meta.concrete_fields
    if f.name not in {"id", "version", "updated_at"}
]


@dataclass
class CandidateIn:
    label: str
    artifact_uri: str = ""
    training_data_ref: str = ""
    code_version: str = ""
    metrics: dict | None = None
    notes: str = ""
    retraining_request: int | None = None
    input_contract: dict | None = None
    output_spec: dict | None = None
    routing_policy: dict | None = None


@transaction.atomic
def version_candidate_register(
    *, model: MLModel, data: CandidateIn, key: ServiceKey | None = None, user=None
) -> ModelVersion:
    """The pipeline registers what it trained. A candidate never becomes active here."""
    if key is None and not user_is_owner(user, model):
        raise NotAllowed("Only the model's owners or a pipeline key may register a version.")
    actor = Actor.service(key) if key else Actor.user(user)
    MLModel.objects.select_for_update().get(pk=model.pk)
    if ModelVersion.objects.filter(model=model, label=data.label).exists():
        raise InvalidTransition(
            f"Model '{model.slug}' already has a version '{data.label}'.", field="label"
        )
    request = None
    if data.retraining_request is not None:
        request = (
            RetrainingRequest.objects.select_for_update()
            .filter(pk=data.retraining_request, model=model)
            .first()
        )
        if request is None:
            raise InvalidInput(
                f"No retraining request {data.retraining_request} for model '{model.slug}'.",
                field="retraining_request",
            )
        if request.status not in (RetrainingStatus.REQUESTED, RetrainingStatus.TRAINING):
            raise InvalidTransition(
                f"Retraining request {request.pk} is {request.status}; it no longer takes a "
                "candidate.",
                field="retraining_request",
            )
    active = model.active_version
    version = ModelVersion(
        model=model,
        label=data.label,
        status=VersionStatus.CANDIDATE,
        input_contract=data.input_contract
        if data.input_contract is not None
        else (active.input_contract if active else {"type": "object"}),
        output_spec=data.output_spec
        if data.output_spec is not None
        else (active.output_spec if active else {}),
        metrics=data.metrics or {},
        artifact_uri=data.artifact_uri,
        training_data_ref=data.training_data_ref,
        code_version=data.code_version,
        notes=data.notes,
        registered_by=user,
        registered_by_key=key,
    )
    version.save()
    policy_fields = {}
    active_policy = getattr(active, "routing_policy", None) if active else None
    if active_policy is not None:
        policy_fields = {f: getattr(active_policy, f) for f in ROUTING_FIELDS}
    policy_fields.update(data.routing_policy or {})
    policy = RoutingPolicy(version=version, **policy_fields)
    try:
        policy.full_clean(exclude=["version"])
    except ValidationError as error:
        raise InvalidInput(
            "; ".join(f"{k}: {' '.join(v)}" for k, v in error.message_dict.items()),
            field="routing_policy",
        ) from None
    policy.save()
    audit_event_record(
        action="version.registered",
        actor=actor,
        object_type="models_registry.modelversion",
        object_id=version.pk,
        model=model,
        payload={
            "version": version.label,
            "status": version.status,
            "metrics": version.metrics,
            "artifact_uri": version.artifact_uri,
            "training_data_ref": version.training_data_ref,
            "code_version": version.code_version,
            "retraining_request": request.pk if request else None,
            "routing_policy": policy.as_api_dict(),
        },
    )
    if request is not None:
        request.candidate = version
        request.status = RetrainingStatus.CANDIDATE_REGISTERED
        request.save(update_fields=["candidate", "status", "updated_at"])
        waits = shadow_gates_set(model)
        _record(
            request,
            "candidate_registered",
            actor,
            version=version.label,
            waiting_for_shadow_predictions=waits,
        )
        if not waits:
            _enqueue("validate", request.pk)
    return version


def shadow_gates_set(model: MLModel) -> bool:
    """With shadow gates, validation waits until someone says the shadow traffic is in."""
    policy = RetrainingPolicy.objects.filter(model=model).first()
    return bool(
        policy
        and (policy.min_shadow_accuracy is not None or policy.max_shadow_accuracy_drop is not None)
    )


@transaction.atomic
def retraining_validation_start(
    *, request: RetrainingRequest, user=None, key: ServiceKey | None = None
) -> RetrainingRequest:
    """Start validation of a registered candidate (after its shadow predictions are in)."""
    request = _locked(request)
    if key is None and not user_may_approve(user, request.model):
        raise NotAllowed("Only the model's owners, approvers or pipeline may start validation.")
    if request.status != RetrainingStatus.CANDIDATE_REGISTERED:
        raise InvalidTransition(
            f"Validation starts on a registered candidate; this request is {request.status}."
        )
    _record(
        request,
        "validation_requested",
        Actor.service(key) if key else Actor.user(user),
        version=request.candidate.label,
    )
    _enqueue("validate", request.pk)
    return request


# --- Validation ----------------------------------------------------------------------------


def retraining_validate(*, request: RetrainingRequest) -> RetrainingRequest:
    """Check the candidate against the gates; pass → awaiting_signoff, fail → failed.

    Claimed with a conditional UPDATE (candidate_registered → validating); a run killed
    after the claim is resumed by the next run, which accepts ``validating`` too.
    """
    actor = Actor.system("retraining validation")
    with transaction.atomic():
        claimed = RetrainingRequest.objects.filter(
            pk=request.pk, status=RetrainingStatus.CANDIDATE_REGISTERED
        ).update(status=RetrainingStatus.VALIDATING, updated_at=timezone.now())
        request = RetrainingRequest.objects.select_related("model", "candidate").get(pk=request.pk)
        if claimed:
            _record(request, "validating", actor, version=request.candidate.label)
    if request.status != RetrainingStatus.VALIDATING:
        return request

    model = request.model
    candidate = request.candidate
    baseline = model.active_version
    policy = RetrainingPolicy.objects.filter(model=model).first()
    report = validation.gates_evaluate(
        candidate_metrics=candidate.metrics or {},
        active_metrics=baseline.metrics if baseline else {},
        policy=policy,
        shadow=validation.shadow_accuracy(candidate),
    )
    with transaction.atomic():
        request = _locked(request)
        if request.status != RetrainingStatus.VALIDATING:
            return request
        ValidationReport.objects.update_or_create(
            request=request,
            defaults={
                "candidate": candidate,
                "baseline": baseline,
                "passed": report.passed,
                "gates": report.gates_as_json(),
                "metrics": report.metrics,
            },
        )
        failed = [f"{g.gate}:{g.metric}" for g in report.gates if not g.passed]
        if report.passed:
            request.status = RetrainingStatus.AWAITING_SIGNOFF
        else:
            request.status = RetrainingStatus.FAILED
            request.closed_at = timezone.now()
        request.save(update_fields=["status", "closed_at", "updated_at"])
        _record(
            request,
            "validated" if report.passed else "failed",
            actor,
            version=candidate.label,
            baseline=baseline.label if baseline else None,
            passed=report.passed,
            failed_gates=failed,
        )
        _enqueue("email_send", request.pk, "awaiting_signoff" if report.passed else "failed")
    return request


# --- Sign-off ------------------------------------------------------------------------------


def _approval_complete(request: RetrainingRequest) -> bool:
    """Enough approvals from different people, and not only the requester's (invariant 6)."""
    approvers = set(
        request.signoffs.filter(decision=SignOffDecision.APPROVE).values_list("user_id", flat=True)
    )
    others = approvers - {request.requested_by_id}
    return len(approvers) >= request.model.required_signoffs and bool(others)


@transaction.atomic
def retraining_sign(
    *, request: RetrainingRequest, user, decision: str, comment: str = ""
) -> RetrainingRequest:
    """One person's approval or rejection. Approvals come from the owner, the backup owner
    and the named approvers; anyone who works on the model may reject, with a comment (not a
    compliance officer: they read every model and change nothing, docs/roles.md)."""
    request = _locked(request)
    model = request.model
    comment = (comment or "").strip()
    if decision not in SignOffDecision.values:
        raise InvalidInput("Choose approve or reject.", field="decision")
    if decision == SignOffDecision.APPROVE and not user_may_approve(user, model):
        raise NotAllowed("Only the model's owners and named approvers may approve.")
    if decision == SignOffDecision.REJECT:
        if not user_may_reject(user, model):
            raise NotAllowed("You may not act on this model.")
        if not comment:
            raise InvalidInput("Say why you reject the candidate.", field="comment")
    if request.status != RetrainingStatus.AWAITING_SIGNOFF:
        raise InvalidTransition(
            f"This request is {request.get_status_display().lower()}; it takes no sign-offs."
        )
    try:
        with transaction.atomic():
            SignOff.objects.create(request=request, user=user, decision=decision, comment=comment)
    except IntegrityError:
        raise InvalidTransition("You have already signed this request.", field="user") from None
    actor = Actor.user(user)
    _record(
        request,
        "signed_off" if decision == SignOffDecision.APPROVE else "signoff_rejected",
        actor,
        decision=decision,
        comment=comment,
        version=request.candidate.label,
    )
    if decision == SignOffDecision.REJECT:
        request.status = RetrainingStatus.REJECTED
        request.closed_at = timezone.now()
        request.save(update_fields=["status", "closed_at", "updated_at"])
        _record(request, "rejected", actor, comment=comment)
    elif _approval_complete(request):
        request.status = RetrainingStatus.APPROVED
        request.save(update_fields=["status", "updated_at"])
        signers = list(
            request.signoffs.filter(decision=SignOffDecision.APPROVE).values_list(
                "user__username", flat=True
            )
        )
        _record(request, "approved", actor, approvers=signers)
        _enqueue("promote", request.pk)
    return request


# --- Promotion and rollback ----------------------------------------------------------------


@transaction.atomic
def retraining_promote(*, request: RetrainingRequest, actor: Actor, user=None) -> RetrainingRequest:
    """Make the approved candidate the active version, in one transaction.

    Locks the model row first (as ``version_activate`` and rollback do) so concurrent
    promotions and rollbacks queue up; a second run finds ``promoted`` and does nothing.
    """
    MLModel.objects.select_for_update().get(pk=request.model_id)
    request = _locked(request)
    if user is not None and not user_may_approve(user, request.model):
        raise NotAllowed("Only the model's owners and approvers may promote.")
    if request.status == RetrainingStatus.PROMOTED:
        return request
    if request.status != RetrainingStatus.APPROVED or not _approval_complete(request):
        raise InvalidTransition(
            f"Only an approved request can be promoted; this one is {request.status}."
        )
    previous = request.model.active_version
    report = ValidationReport.objects.filter(request=request).first()
    if report is not None and report.baseline_id != (previous.pk if previous else None):
        # A rollback or another activation since validation: the comparison is stale.
        raise InvalidTransition(
            f"The active version changed since validation (validated against "
            f"{report.baseline.label if report.baseline else 'none'}, now "
            f"{previous.label if previous else 'none'}); cancel and request again."
        )
    version_activate(
        version=request.candidate, actor=actor, reason=f"retraining request #{request.pk}"
    )
    request.status = RetrainingStatus.PROMOTED
    request.previous_version = previous
    request.promoted_at = request.closed_at = timezone.now()
    request.save(
        update_fields=["status", "previous_version", "promoted_at", "closed_at", "updated_at"]
    )
    _record(
        request,
        "promoted",
        actor,
        version=request.candidate.label,
        retired=previous.label if previous else None,
    )
    return request


@transaction.atomic
def version_rollback(*, model: MLModel, user, reason: str) -> RetrainingRequest:
    """The emergency path: return to the version the last promotion retired, at once.

    Needs no sign-off, but only an owner may do it, with a reason; it is audited and the
    approvers are told by email.
    """
    MLModel.objects.select_for_update().get(pk=model.pk)
    if not user_is_owner(user, model):
        raise NotAllowed("Only the model's owner or backup owner may roll back.")
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput("Say why you roll back.", field="reason")
    target = rollback_target_for(model)
    if target is None:
        raise InvalidTransition("There is no promotion to roll back for this model.")
    request = _locked(target)
    actor = Actor.user(user)
    version_activate(version=request.previous_version, actor=actor, reason=f"rollback: {reason}")
    request.rolled_back_at = timezone.now()
    request.rolled_back_by = user
    request.rollback_reason = reason
    request.save(
        update_fields=["rolled_back_at", "rolled_back_by", "rollback_reason", "updated_at"]
    )
    _record(
        request,
        "rolled_back",
        actor,
        reason=reason,
        from_version=request.candidate.label,
        to_version=request.previous_version.label,
    )
    _enqueue("email_send", request.pk, "rolled_back")
    return request


# --- Email and the stalled-work sweep ------------------------------------------------------

EMAILS = {
    "awaiting_signoff": (
        "[Countersign] {model}: candidate {version} awaits your sign-off",
        "Retraining request #{id} of {model} passed validation.\nReason: {reason}\n"
        "Review the validation report and sign off: {url}\n",
    ),
    "failed": (
        "[Countersign] {model}: candidate {version} failed validation",
        "Retraining request #{id} of {model} failed its validation gates.\nReport: {url}\n",
    ),
    "rolled_back": (
        "[Countersign] {model}: rolled back from {version}",
        "{who} rolled {model} back from {version} to {previous}.\nReason: {rollback_reason}\n"
        "Request: {url}\n",
    ),
}


def retraining_email_send(*, request: RetrainingRequest, event: str) -> int:
    request = RetrainingRequest.objects.select_related(
        "model", "candidate", "previous_version", "rolled_back_by"
    ).get(pk=request.pk)
    subject, body = EMAILS[event]
    if event == "failed":
        recipients = [request.model.owner.email]
        if request.requested_by:
            recipients.append(request.requested_by.email)
    else:
        recipients = list(approvers_of(request.model).values_list("email", flat=True))
    context = {
        "id": request.pk,
        "model": request.model.slug,
        "version": request.candidate.label if request.candidate else "-",
        "previous": request.previous_version.label if request.previous_version else "-",
        "reason": request.reason,
        "rollback_reason": request.rollback_reason,
        "who": request.rolled_back_by.get_username() if request.rolled_back_by else "",
        "url": settings.SITE_URL.rstrip("/")
        + reverse("retraining-request", kwargs={"pk": request.pk}),
    }
    already = AuditEvent.objects.filter(
        object_type=REQUEST_OBJECT_TYPE,
        object_id=str(request.pk),
        action="retraining.email_sent",
        payload__event=event,
    )
    if already.exists():  # a retried task sends nothing twice
        return 0
    sent = notifications.email_send(
        recipients=recipients, subject=subject.format(**context), body=body.format(**context)
    )
    _record(
        request,
        "email_sent",
        Actor.system("retraining email"),
        event=event,
        recipients=sorted({r for r in recipients if r}),
    )
    return sent


def retraining_stalled_resume(*, older_than_seconds: int = 600) -> list[int]:
    """Re-enqueue work a lost task left behind (the Redis broker does not redeliver)."""
    cutoff = timezone.now() - timedelta(seconds=older_than_seconds)
    stalled = RetrainingRequest.objects.filter(updated_at__lt=cutoff)
    resumed = []
    for request in stalled.filter(
        status__in=[RetrainingStatus.CANDIDATE_REGISTERED, RetrainingStatus.VALIDATING]
    ):
        _enqueue("validate", request.pk)
        resumed.append(request.pk)
    for request in stalled.filter(status=RetrainingStatus.APPROVED):
        _enqueue("promote", request.pk)
        resumed.append(request.pk)
    for request in stalled.filter(status=RetrainingStatus.REQUESTED, labels_path=""):
        _enqueue("labels_prepare", request.pk)
        resumed.append(request.pk)
    return resumed
