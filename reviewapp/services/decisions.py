"""Decisions on review items: one person's action, two-person review, adjudication, SLA.

``review_action_record`` is the one path for a person's action (approve, override, reject,
escalate). It locks the item row, checks the caller holds the lease, records a
``ReviewAction`` and either finishes the item with a ``Decision`` or moves it to its next
stage (second review, adjudication by the owner, escalation to the owner). Everything it does
is audited in the same transaction; the webhook delivery is enqueued on commit.

``review_sla_sweep`` is the scheduled side: items past due are escalated to the owner (told,
and listed for them) and, where the policy says so, decided by the system with reason
``sla_expired`` so a caller waiting on a decision always gets one.
"""

from __future__ import annotations

import contextlib
import json
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from audit.actors import Actor
from audit.services import EventSpec, audit_events_record
from models_registry.models import MLModel, RoutingPolicy
from reviewapp.models import (
    OWNER_STAGES,
    Decision,
    DecisionAction,
    PredictionStatus,
    ReviewAction,
    ReviewActionKind,
    ReviewItem,
    ReviewItemStatus,
    ReviewStage,
)
from reviewapp.services.queue import (
    AlreadyDecided,
    NotAllowed,
    NotLeaseHolder,
    ReviewError,
    item_event,
)
from reviewapp.services.webhooks import webhook_delivery_create_for

logger = logging.getLogger(__name__)

FALLBACK_POLICIES = ("accept_model_output", "reject")
COMMENT_REQUIRED = {ReviewActionKind.OVERRIDE, ReviewActionKind.REJECT, ReviewActionKind.ESCALATE}


@dataclass(frozen=True)
class ActionResult:
    """What an action did: ``decision`` is set when the item is finished."""

    item: ReviewItem
    action: ReviewAction
    decision: Decision | None
    next_stage: str | None


def policy_of(item: ReviewItem) -> RoutingPolicy:
    try:
        return item.prediction.version.routing_policy
    except RoutingPolicy.DoesNotExist:
        return RoutingPolicy(version=item.prediction.version)


def reviews_required(item: ReviewItem) -> int:
    """2 when the prediction's value is at or above the policy's second-review threshold, the
    policy flags one of its routing rules for two people, or the scoring service flagged it
    (``context.two_person_review``); else 1."""
    prediction = item.prediction
    policy = policy_of(item)
    flagged = set(policy.two_person_review_rules or ())
    if flagged & {reason.get("rule") for reason in prediction.routing_reasons or ()}:
        return 2
    threshold = policy.second_review_value_threshold
    if (
        threshold is not None
        and prediction.value_amount is not None
        and prediction.value_amount >= threshold
    ):
        return 2
    if isinstance(prediction.context, dict) and prediction.context.get("two_person_review") is True:
        return 2
    return 1


def parse_output(raw: Any, item: ReviewItem) -> Any:
    """The corrected output a person typed, checked against the version's output spec.

    A form sends text: ``decline`` is the string, ``0.3`` the number. The text is tried as
    it is and as JSON; the first reading the spec accepts wins, else the spec's complaint is
    raised against the ``output`` field.
    """
    if not isinstance(raw, str):
        readings = [raw]
    else:
        text = raw.strip()
        if not text:
            raise ReviewError("Give the corrected output.", field="output")
        readings = []
        with contextlib.suppress(ValueError):
            readings.append(json.loads(text))
        readings.append(text)
    validator = item.prediction.version.validator
    problems = None
    for reading in readings:
        violations = validator.output_violations(reading)
        if not violations:
            return reading
        problems = problems or violations
    allowed = (item.prediction.version.output_spec or {}).get("enum")
    hint = f" Allowed: {', '.join(map(str, allowed))}." if allowed else ""
    raise ReviewError(
        "Not a valid output for this model: " + "; ".join(v.message for v in problems) + "." + hint,
        field="output",
    )


def _event(action, actor, item, payload) -> EventSpec:
    return item_event(action, actor, item, {"prediction_id": item.prediction_id, **payload})


def _final_output(action: str, prediction, output):
    if action == ReviewActionKind.APPROVE:
        return prediction.output
    if action == ReviewActionKind.OVERRIDE:
        return output
    return None


def _decision_record(
    *, item, action, final_output, decided_by, comment, reason, actor, events, now
) -> Decision:
    """Finish the item: the Decision row, statuses, audit, webhook.

    The caller holds the item's row lock and saw it pending, so no other decision can be
    under way; the unique constraint on the prediction is the backstop (the error aborts the
    whole transaction, which is what we want then).
    """
    try:
        decision = Decision.objects.create(
            prediction=item.prediction,
            action=action,
            final_output=final_output,
            decided_by=decided_by,
            decided_at=now,
            comment=comment,
            reason=reason,
        )
    except IntegrityError as error:
        raise AlreadyDecided("This prediction has already been decided.") from error
    prediction = item.prediction
    prediction.status = PredictionStatus.DECIDED
    prediction.save(update_fields=["status"])
    item.status = ReviewItemStatus.DECIDED
    item.decided_at = now
    item.lease_expires_at = None
    item.save(
        update_fields=["status", "decided_at", "lease_expires_at", "stage", "required_reviews"]
    )
    events.append(
        _event(
            "decision.recorded",
            actor,
            item,
            {
                "external_id": prediction.external_id,
                "action": action,
                "final_output": final_output,
                "decided_by": decided_by,
                "reason": reason,
                "comment": comment,
            },
        )
    )
    webhook_delivery_create_for(decision=decision, prediction=prediction, model=item.model)
    return decision


def _locked_item(item_id: int, user) -> ReviewItem:
    """The item with its row lock, its prediction and policy, and whether ``user`` is one of
    the model's reviewers: one round trip, which matters when eight people decide at once."""
    reviewers = MLModel.reviewers.through.objects.filter(
        mlmodel_id=OuterRef("model_id"), user_id=user.pk
    )
    return (
        ReviewItem.objects.select_for_update(of=("self",))
        .select_related("prediction__version__routing_policy", "model")
        .annotate(user_is_reviewer=Exists(reviewers))
        .get(pk=item_id)
    )


def _may_decide(user, item: ReviewItem) -> bool:
    model = item.model
    if user.pk in (model.owner_id, model.backup_owner_id):
        return True
    return item.stage not in OWNER_STAGES and item.user_is_reviewer


@transaction.atomic
def review_action_record(
    *,
    user,
    item: ReviewItem,
    action: str,
    output: Any = None,
    comment: str = "",
) -> ActionResult:
    """Record what ``user`` decided on an item they hold (see the module docstring)."""
    now = timezone.now()
    comment = (comment or "").strip()
    if action not in ReviewActionKind.values:
        raise ReviewError(f"Unknown action '{action}'.", field="action")
    if action in COMMENT_REQUIRED and not comment:
        raise ReviewError(f"A comment is required to {action}.", field="comment")

    item = _locked_item(item.pk, user)
    if item.status != ReviewItemStatus.PENDING:
        raise AlreadyDecided("This item has already been decided.")
    if not item.lease_held_by(user, now):
        raise NotLeaseHolder("Only the reviewer holding this item's lease can decide it.")
    if not _may_decide(user, item):
        raise NotAllowed("You may not work this item.")
    prediction = item.prediction
    output = parse_output(output, item) if action == ReviewActionKind.OVERRIDE else None
    chosen = _final_output(action, prediction, output)
    actor = Actor.user(user)
    stage = item.stage
    if action == ReviewActionKind.ESCALATE and stage in (
        ReviewStage.ESCALATED,
        ReviewStage.ADJUDICATION,
    ):
        raise ReviewError("This item is already with the owner; decide it.", field="action")
    if action == ReviewActionKind.ESCALATE and user.pk == item.model.owner_id:
        raise ReviewError("You are the model's owner: decide it yourself.", field="action")
    # Under the item's row lock nobody else can add an opinion meanwhile; the partial unique
    # constraint (one opinion per person per item) is the database's backstop.
    # An item still in its first review has no earlier opinions (any action moves it on).
    earlier = (
        []
        if stage == ReviewStage.REVIEW
        else list(ReviewAction.objects.filter(item=item).select_related("user"))
    )
    if stage in (ReviewStage.REVIEW, ReviewStage.SECOND_REVIEW) and any(
        a.user_id == user.pk and a.stage in (ReviewStage.REVIEW, ReviewStage.SECOND_REVIEW)
        for a in earlier
    ):
        raise NotAllowed(
            "You have already reviewed this item; the second review must be someone else's."
        )
    recorded = ReviewAction.objects.create(
        item=item,
        model=item.model,
        user=user,
        stage=stage,
        action=action,
        output=chosen,
        comment=comment,
        claimed_at=item.claimed_at,
        created_at=now,
    )
    involved = []
    for person in [a.user for a in earlier] + [user]:
        if person.get_username() not in involved:
            involved.append(person.get_username())

    events: list[EventSpec] = [
        _event(
            "review.acted",
            actor,
            item,
            {"stage": stage, "action": action, "output": chosen, "comment": comment},
        )
    ]
    decision = None
    next_stage = None
    if stage == ReviewStage.REVIEW and action != ReviewActionKind.ESCALATE:
        item.required_reviews = reviews_required(item)

    if action == ReviewActionKind.ESCALATE:
        next_stage = ReviewStage.ESCALATED
        item.escalation_reason = comment
        events.append(_event("review.escalated", actor, item, {"reason": comment, "by": "person"}))
        _notify_owner(item, f"escalated by {user.get_username()}: {comment}")
    elif stage == ReviewStage.REVIEW and item.required_reviews >= 2:
        next_stage = ReviewStage.SECOND_REVIEW
        events.append(_event("review.second_review_needed", actor, item, {"first": action}))
    elif stage == ReviewStage.SECOND_REVIEW:
        first = next((a for a in earlier if a.stage == ReviewStage.REVIEW), None)
        if first is not None and (first.action, first.output) == (action, chosen):
            decision = _decision_record(
                item=item,
                action=action,
                final_output=chosen,
                decided_by=[first.user.get_username(), user.get_username()],
                comment=comment or first.comment,
                reason="two_person_agreed",
                actor=actor,
                events=events,
                now=now,
            )
        else:
            next_stage = ReviewStage.ADJUDICATION
            events.append(
                _event(
                    "review.disagreement",
                    actor,
                    item,
                    {
                        "first": {
                            "by": first.user.get_username() if first else None,
                            "action": first.action if first else None,
                            "output": first.output if first else None,
                        },
                        "second": {"by": user.get_username(), "action": action, "output": chosen},
                    },
                )
            )
            _notify_owner(item, "two reviewers disagree; please adjudicate")
    else:
        # A single review, an adjudication, or the owner deciding an escalated item.
        reason = {
            ReviewStage.ADJUDICATION: "adjudicated",
            ReviewStage.ESCALATED: "escalated",
        }.get(stage, "")
        if stage == ReviewStage.ADJUDICATION:
            events.append(
                _event("review.adjudicated", actor, item, {"action": action, "output": chosen})
            )
        decision = _decision_record(
            item=item,
            action=action,
            final_output=chosen,
            decided_by=involved,
            comment=comment,
            reason=reason,
            actor=actor,
            events=events,
            now=now,
        )

    if next_stage is not None:
        item.stage = next_stage
        item.claimed_by = None
        item.claimed_at = None
        item.lease_expires_at = None
        item.save(
            update_fields=[
                "stage",
                "claimed_by",
                "claimed_at",
                "lease_expires_at",
                "required_reviews",
                "escalation_reason",
            ]
        )
    audit_events_record(events)
    return ActionResult(item=item, action=recorded, decision=decision, next_stage=next_stage)


def _notify_owner(item: ReviewItem, what: str) -> None:
    """Email the owner (and backup owner) after commit; mail trouble never undoes a review."""
    model = item.model
    recipients = [u.email for u in (model.owner, model.backup_owner) if u is not None and u.email]
    if not recipients:
        return
    subject = f"[Countersign] {model.slug}: review item {item.pk} needs you"
    link = f"/review/items/{item.pk}/"
    body = f"Item {item.pk} (prediction {item.prediction.external_id}): {what}.\n\n{link}\n"

    def send():
        try:
            send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, recipients)
        except Exception:  # noqa: BLE001 - mail is a courtesy; the queue page shows it anyway
            logger.exception("could not email the owner of %s", model.slug)

    transaction.on_commit(send)


@dataclass(frozen=True)
class SweepResult:
    escalated: int
    decided: int


def review_sla_sweep(*, now: datetime | None = None, limit: int = 500) -> SweepResult:
    """Escalate overdue items to the owner once, and apply the policy's SLA fallback.

    Each item is handled in its own transaction with its row locked (SKIP LOCKED), so the
    sweep is safe to run twice or concurrently, and a reviewer working another item is never
    blocked. An item whose lease is still held is escalated but not decided until the lease
    ends: the person may be about to decide it.
    """
    now = now or timezone.now()
    escalated = decided = 0
    # Not yet escalated, or escalated but still owed a fallback decision; items that were
    # escalated and whose policy only escalates are done with, so they never crowd the batch.
    candidates = list(
        ReviewItem.objects.open()
        .filter(due_at__lte=now)
        .filter(
            Q(sla_breached_at__isnull=True)
            | Q(prediction__version__routing_policy__on_sla_breach__in=FALLBACK_POLICIES)
        )
        .order_by("due_at")
        .values_list("pk", flat=True)[:limit]
    )
    for pk in candidates:
        outcome = _sweep_one(pk, now)
        escalated += outcome[0]
        decided += outcome[1]
    return SweepResult(escalated, decided)


@transaction.atomic
def _sweep_one(pk: int, now: datetime) -> tuple[int, int]:
    item = (
        ReviewItem.objects.select_for_update(of=("self",), skip_locked=True)
        .select_related("prediction__version__routing_policy", "model")
        .filter(pk=pk, status=ReviewItemStatus.PENDING, due_at__lte=now)
        .first()
    )
    if item is None:
        return 0, 0
    actor = Actor.system("SLA sweep")
    policy = policy_of(item)
    events: list[EventSpec] = []
    escalated = decided = 0
    if item.sla_breached_at is None:
        # The item stays workable by its reviewers (someone may hold it right now); the owner
        # is told and sees it among the items waiting for them.
        item.sla_breached_at = now
        item.save(update_fields=["sla_breached_at"])
        events.append(
            _event(
                "review.escalated",
                actor,
                item,
                {
                    "reason": "sla_expired",
                    "due_at": item.due_at.isoformat(),
                    "on_sla_breach": policy.on_sla_breach,
                },
            )
        )
        _notify_owner(item, "it is past its SLA")
        escalated = 1
    lease_held = item.lease_expires_at is not None and item.lease_expires_at > now
    if policy.on_sla_breach in FALLBACK_POLICIES and not lease_held:
        accept = policy.on_sla_breach == "accept_model_output"
        involved = []
        for earlier in ReviewAction.objects.filter(item=item).select_related("user"):
            if earlier.user.get_username() not in involved:
                involved.append(earlier.user.get_username())
        _decision_record(
            item=item,
            action=DecisionAction.FALLBACK if accept else DecisionAction.REJECT,
            final_output=item.prediction.output if accept else None,
            decided_by=[*involved, "system"],
            comment=f"No decision within the SLA; policy: {policy.on_sla_breach}.",
            reason="sla_expired",
            actor=actor,
            events=events,
            now=now,
        )
        decided = 1
    audit_events_record(events)
    return escalated, decided
