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


# --- The review queue: who sees which items, the queue overview, figures, history ---------

import statistics  # noqa: E402
from collections import defaultdict  # noqa: E402
from datetime import timedelta  # noqa: E402

from django.db.models import Count, Min, Q  # noqa: E402
from django.utils import timezone  # noqa: E402

from audit.models import AuditEvent  # noqa: E402
from models_registry.models import MLModel  # noqa: E402
from reviewapp.models import (  # noqa: E402
    Decision,
    ReviewAction,
    ReviewItem,
    ReviewStage,
    WebhookDelivery,
)


def review_models_for(user):
    """Models whose queue ``user`` may see and work: as reviewer, owner or backup owner."""
    if not user.is_authenticated:
        return MLModel.objects.none()
    return MLModel.objects.filter(
        Q(reviewers=user) | Q(owner=user) | Q(backup_owner=user)
    ).distinct()


def owned_models_for(user):
    if not user.is_authenticated:
        return MLModel.objects.none()
    return MLModel.objects.filter(Q(owner=user) | Q(backup_owner=user))


def review_items_visible_to(user):
    """The one access rule for review items, used by every page and action."""
    return ReviewItem.objects.filter(model__in=review_models_for(user).values("pk"))


def review_item_get(*, user, pk: int) -> ReviewItem | None:
    return (
        review_items_visible_to(user)
        .select_related(
            "prediction__version__routing_policy",
            "model__owner",
            "model__backup_owner",
            "claimed_by",
        )
        .filter(pk=pk)
        .first()
    )


def queue_overview(*, user, now=None) -> list[dict]:
    """Per model: items waiting, overdue, the oldest waiting and the next due time."""
    now = now or timezone.now()
    models = {m.pk: m for m in review_models_for(user)}
    rows = (
        ReviewItem.objects.open()
        .filter(model__in=list(models))
        .values("model")
        .annotate(
            waiting=Count("id"),
            overdue=Count("id", filter=Q(due_at__lte=now)),
            with_owner=Count("id", filter=Q(stage__in=[s.value for s in _owner_stages()])),
            oldest=Min("created_at"),
            next_due=Min("due_at"),
        )
    )
    by_model = {row["model"]: row for row in rows}
    overview = []
    for pk, model in sorted(models.items(), key=lambda kv: kv[1].slug):
        row = by_model.get(pk, {})
        overview.append(
            {
                "model": model,
                "waiting": row.get("waiting", 0),
                "overdue": row.get("overdue", 0),
                "with_owner": row.get("with_owner", 0),
                "oldest": row.get("oldest"),
                "next_due": row.get("next_due"),
                "is_owner": user.pk in (model.owner_id, model.backup_owner_id),
            }
        )
    return overview


def _owner_stages():
    return (ReviewStage.ADJUDICATION, ReviewStage.ESCALATED)


def items_for_owner(*, user, limit: int = 50):
    """Items escalated to this owner: by a reviewer, by a disagreement, or by the SLA."""
    return (
        ReviewItem.objects.open()
        .filter(model__in=owned_models_for(user).values("pk"))
        .filter(Q(stage__in=_owner_stages()) | Q(sla_breached_at__isnull=False))
        .select_related("prediction", "model", "claimed_by")
        .order_by("due_at")[:limit]
    )


def items_held_by(*, user, now=None):
    now = now or timezone.now()
    return (
        ReviewItem.objects.open()
        .filter(claimed_by=user, lease_expires_at__gt=now)
        .select_related("prediction", "model")
        .order_by("lease_expires_at")
    )


def item_history(*, item: ReviewItem) -> list[AuditEvent]:
    """The audit events of the item and of its prediction, oldest first."""
    return list(
        AuditEvent.objects.filter(
            Q(object_type="reviewapp.reviewitem", object_id=str(item.pk))
            | Q(object_type="reviewapp.prediction", object_id=str(item.prediction_id))
        ).order_by("id")[:200]
    )


def similar_decisions(*, item: ReviewItem, limit: int = 5) -> list[Decision]:
    """Earlier decisions of the same model whose inputs share the categorical fields.

    Cheap on purpose: equality on the contract's enum and boolean fields (key lookups the
    database answers on both PostgreSQL and SQLite), newest first, a handful of rows.
    """
    prediction = item.prediction
    contract = prediction.version.input_contract or {}
    inputs = prediction.inputs if isinstance(prediction.inputs, dict) else {}
    filters = {}
    for name, schema in (contract.get("properties") or {}).items():
        if not isinstance(schema, dict) or name not in inputs or schema.get("x-pii"):
            continue
        if "enum" in schema or schema.get("type") == "boolean":
            filters[f"prediction__inputs__{name}"] = inputs[name]
    if not filters:
        return []
    return list(
        Decision.objects.filter(prediction__model_id=item.model_id, **filters)
        .exclude(prediction_id=prediction.pk)
        .select_related("prediction")
        .order_by("-decided_at")[:limit]
    )


def reviewer_figures(*, users, model_ids=None, days: int = 30, now=None) -> dict[int, dict]:
    """Per person over the last ``days``: decisions per working hour, median time to
    decide, override rate, and agreement with the other reviewer on two-person items."""
    now = now or timezone.now()
    since = now - timedelta(days=days)
    actions = ReviewAction.objects.filter(user__in=users, created_at__gte=since)
    if model_ids is not None:
        actions = actions.filter(model_id__in=model_ids)
    actions = list(
        actions.values(
            "user_id", "item_id", "stage", "action", "output", "claimed_at", "created_at"
        )
    )
    by_user: dict[int, list[dict]] = defaultdict(list)
    for row in actions:
        by_user[row["user_id"]].append(row)
    two_person_items = {r["item_id"] for r in actions if r["stage"] == ReviewStage.SECOND_REVIEW}
    pairs: dict[int, list[dict]] = defaultdict(list)
    if two_person_items:
        for row in ReviewAction.objects.filter(
            item_id__in=two_person_items,
            stage__in=[ReviewStage.REVIEW, ReviewStage.SECOND_REVIEW],
        ).values("user_id", "item_id", "action", "output"):
            pairs[row["item_id"]].append(row)
    figures = {}
    for user in users:
        rows = by_user.get(user.pk, [])
        decisions = [r for r in rows if r["action"] != "escalate"]
        hours = {r["created_at"].replace(minute=0, second=0, microsecond=0) for r in rows}
        durations = [
            (r["created_at"] - r["claimed_at"]).total_seconds() for r in rows if r["claimed_at"]
        ]
        compared = agreed = 0
        for pair in pairs.values():
            mine = [p for p in pair if p["user_id"] == user.pk]
            others = [p for p in pair if p["user_id"] != user.pk]
            if mine and others:
                compared += 1
                agreed += (mine[0]["action"], mine[0]["output"]) == (
                    others[0]["action"],
                    others[0]["output"],
                )
        figures[user.pk] = {
            "user": user,
            "actions": len(rows),
            "decisions": len(decisions),
            "per_hour": round(len(rows) / len(hours), 1) if hours else None,
            "median_seconds": round(statistics.median(durations)) if durations else None,
            "override_rate": (
                sum(r["action"] == "override" for r in decisions) / len(decisions)
                if decisions
                else None
            ),
            "escalations": sum(r["action"] == "escalate" for r in rows),
            "agreement_rate": agreed / compared if compared else None,
            "compared": compared,
        }
    return figures


def deliveries_visible_to(user):
    """Webhook deliveries are the owners' business (they hold the callback settings)."""
    return WebhookDelivery.objects.filter(model__in=owned_models_for(user).values("pk"))
