"""Where a prediction enters: check it, route it, store it once, audit it.

One path serves the single and the batch endpoint. Per row it does only pure work (contract
check with the version's compiled validator, routing, a content hash); the database sees one
``INSERT ... ON CONFLICT DO NOTHING RETURNING`` for the predictions, one bulk INSERT for review
items and one for audit events, all in one transaction. Replays are recognised by the unique
(model, external_id) constraint, never by reading first, so concurrent retries store one row.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils import timezone

from audit.actors import Actor
from audit.bulk import copy_insert
from audit.services import EventSpec, audit_events_record
from models_registry.models import MLModel, ModelVersion, RoutingPolicy, VersionStatus
from reviewapp import replays, routing
from reviewapp.models import Prediction, PredictionStatus, ReviewItem
from reviewapp.services.prediction_rows import predictions_insert_new


class RowOutcome:
    CREATED = "created"
    DUPLICATE = "duplicate"
    CONFLICT = "conflict"
    REJECTED = "rejected"
    INVALID = "invalid"


@dataclass
class Envelope:
    """A prediction whose envelope passed validation (types and shapes, not the contract)."""

    external_id: str
    inputs: dict
    output: Any
    confidence: float
    version: str | None = None
    value_amount: Decimal | None = None
    occurred_at: datetime | None = None
    context: dict = field(default_factory=dict)


@dataclass
class RowResult:
    index: int
    external_id: str | None
    outcome: str
    prediction: Prediction | None = None
    errors: Any = None


SHADOW_ROUTING = routing.Routing(
    status=PredictionStatus.SHADOW, needs_review=False, reasons=[], priority=0
)


@dataclass
class _Prepared:
    index: int
    envelope: Envelope
    version: ModelVersion
    comparable: dict
    content_hash: str
    violations: list[dict]
    route: routing.Routing

    @property
    def is_shadow(self) -> bool:
        return self.route is SHADOW_ROUTING

    @property
    def identity(self) -> tuple:
        """What makes a row unique: (model, external id), or (candidate, external id)."""
        return (self.version.pk if self.is_shadow else None, self.envelope.external_id)


def _policy(version: ModelVersion) -> routing.Policy:
    try:
        policy = version.routing_policy
    except RoutingPolicy.DoesNotExist:
        policy = RoutingPolicy(version=version)  # the documented defaults
    return routing.Policy(
        confidence_threshold=policy.confidence_threshold,
        value_threshold=policy.value_threshold,
        sample_rate=policy.sample_rate,
        on_contract_violation=policy.on_contract_violation,
        priorities={
            "high_value": policy.high_value_priority,
            "contract_violation": policy.contract_violation_priority,
            "low_confidence": policy.low_confidence_priority,
            "random_sample": policy.random_sample_priority,
        },
    ), policy.sla_seconds


class _VersionResolver:
    """Finds the version a row names (or the active one), loading the model's versions once."""

    def __init__(self, model: MLModel):
        self.model = model
        self._by_label = None
        self.policies: dict[int, tuple[routing.Policy, int]] = {}

    def _load(self):
        if self._by_label is None:
            versions = ModelVersion.objects.filter(model=self.model).select_related(
                "routing_policy"
            )
            self._by_label = {v.label: v for v in versions}
            for version in versions:
                self.policies[version.pk] = _policy(version)

    def resolve(self, label: str | None) -> tuple[ModelVersion | None, dict | None]:
        self._load()
        if label is None:
            active = [v for v in self._by_label.values() if v.status == VersionStatus.ACTIVE]
            if not active:
                return None, {
                    "version": [
                        f"Model '{self.model.slug}' has no active version; "
                        "name a version explicitly."
                    ]
                }
            return active[0], None
        version = self._by_label.get(label)
        if version is None:
            return None, {"version": [f"Model '{self.model.slug}' has no version '{label}'."]}
        return version, None


def _prepare(
    model: MLModel, index: int, envelope: Envelope, version: ModelVersion, policy: routing.Policy
) -> _Prepared:
    violations = [
        v.as_dict() for v in version.validator.violations(envelope.inputs, envelope.output)
    ]
    if version.status == VersionStatus.CANDIDATE:
        route = SHADOW_ROUTING
    else:
        route = routing.route(
            policy,
            model_slug=model.slug,
            external_id=envelope.external_id,
            confidence=envelope.confidence,
            value_amount=envelope.value_amount,
            violation_count=len(violations),
        )
    comparable = replays.comparable(
        version_label=version.label,
        inputs=envelope.inputs,
        output=envelope.output,
        confidence=envelope.confidence,
        value_amount=envelope.value_amount,
        occurred_at=envelope.occurred_at,
        context=envelope.context,
    )
    return _Prepared(
        index, envelope, version, comparable, replays.content_hash(comparable), violations, route
    )


def _new_prediction(model, prepared: _Prepared, key, now) -> Prediction:
    envelope = prepared.envelope
    return Prediction(
        model=model,
        version=prepared.version,
        external_id=envelope.external_id,
        inputs=envelope.inputs,
        output=envelope.output,
        confidence=envelope.confidence,
        value_amount=envelope.value_amount,
        occurred_at=envelope.occurred_at,
        received_at=now,
        context=envelope.context,
        status=prepared.route.status,
        is_shadow=prepared.is_shadow,
        needs_review=prepared.route.needs_review,
        routing_reasons=prepared.route.reasons,
        contract_violations=prepared.violations,
        content_hash=prepared.content_hash,
        submitted_by_key=key,
    )


def _existing(model, identities: list[tuple]) -> dict[tuple, Prediction]:
    """Stored predictions for identities the insert skipped (replays), in two queries at most."""
    found: dict[tuple, Prediction] = {}
    production = [external_id for version_id, external_id in identities if version_id is None]
    if production:
        for p in Prediction.objects.filter(
            model=model, is_shadow=False, external_id__in=production
        ).select_related("version", "decision"):
            found[(None, p.external_id)] = p
    shadow = [(v, e) for v, e in identities if v is not None]
    if shadow:
        for p in Prediction.objects.filter(
            model=model,
            is_shadow=True,
            version_id__in={v for v, _ in shadow},
            external_id__in={e for _, e in shadow},
        ).select_related("version"):
            found[(p.version_id, p.external_id)] = p
    return found


def _received_events(model, actor, stored: list[tuple[_Prepared, Prediction]]) -> list[EventSpec]:
    router = Actor.system("router")
    specs = []
    for prepared, prediction in stored:
        envelope = prepared.envelope
        common = {"external_id": envelope.external_id, "version": prepared.version.label}
        specs.append(
            EventSpec(
                action="prediction.received",
                actor=actor,
                object_type="reviewapp.prediction",
                object_id=prediction.pk,
                model=model,
                payload={
                    **common,
                    "shadow": prepared.is_shadow,
                    "content_hash": prepared.content_hash,
                    "output": envelope.output,
                    "confidence": envelope.confidence,
                    "value_amount": prepared.comparable["value_amount"],
                    "occurred_at": prepared.comparable["occurred_at"],
                },
            )
        )
        if prepared.is_shadow:
            continue  # a shadow prediction is never routed
        specs.append(
            EventSpec(
                action="prediction.routed",
                actor=router,
                object_type="reviewapp.prediction",
                object_id=prediction.pk,
                model=model,
                payload={
                    **common,
                    "status": prediction.status,
                    "needs_review": prediction.needs_review,
                    "reasons": prediction.routing_reasons,
                    "contract_violations": prediction.contract_violations,
                },
            )
        )
    return specs


def _refused_event(model, actor, index, errors, raw_external_id) -> EventSpec:
    return EventSpec(
        action="prediction.refused",
        actor=actor,
        object_type="reviewapp.prediction",
        object_id="",
        model=model,
        payload={"index": index, "external_id": raw_external_id, "errors": errors},
    )


def _raw_external_id(raw: Any) -> str | None:
    if isinstance(raw, dict) and isinstance(raw.get("external_id"), str | int):
        return str(raw["external_id"])[:200]
    return None


def _replay_result(prepared: _Prepared, stored: Prediction, stored_fields: dict) -> RowResult:
    external_id = prepared.envelope.external_id
    if stored.content_hash != prepared.content_hash:
        differing = replays.differing_fields(stored_fields, prepared.comparable)
        return RowResult(
            prepared.index,
            external_id,
            RowOutcome.CONFLICT,
            stored,
            errors={"differing_fields": differing},
        )
    outcome = (
        RowOutcome.REJECTED if stored.status == PredictionStatus.REJECTED else RowOutcome.DUPLICATE
    )
    return RowResult(prepared.index, external_id, outcome, stored)


@transaction.atomic
def predictions_ingest(
    *,
    model: MLModel,
    actor: Actor,
    rows: list[Envelope | dict],
    raw_rows: list[Any] | None = None,
    key=None,
    received_at: datetime | None = None,
) -> list[RowResult]:
    """Store a batch of predictions (a single request is a batch of one).

    ``rows`` holds an ``Envelope`` for each row whose envelope is valid and the field errors
    (a dict) for each that is not; ``raw_rows`` carries what was sent, for the refusal record.
    Returns one result per row, in order. Invalid rows are refused and audited; they never
    stop the valid ones. ``received_at`` is for importing history (the demo's past day);
    the audit events still record when the import happened.
    """
    now = received_at or timezone.now()
    resolver = _VersionResolver(model)
    results: list[RowResult | None] = [None] * len(rows)
    refusals: list[EventSpec] = []
    prepared_rows: list[_Prepared] = []

    for index, row in enumerate(rows):
        raw = raw_rows[index] if raw_rows is not None else None
        if isinstance(row, Envelope):
            version, errors = resolver.resolve(row.version)
            if errors is None:
                policy, _ = resolver.policies[version.pk]
                prepared_rows.append(_prepare(model, index, row, version, policy))
                continue
            external_id = row.external_id
        else:
            errors, external_id = row, _raw_external_id(raw)
        results[index] = RowResult(index, external_id, RowOutcome.INVALID, errors=errors)
        refusals.append(_refused_event(model, actor, index, errors, external_id))

    # The first row with an identity is the one to store; later rows in the same batch are
    # replays of it and are compared like any other replay.
    first: dict[tuple, _Prepared] = {}
    for prepared in prepared_rows:
        first.setdefault(prepared.identity, prepared)
    candidates = {identity: _new_prediction(model, p, key, now) for identity, p in first.items()}
    inserted: dict[tuple, int] = {}
    # Rows go in sorted by external id, so two overlapping batches lock the unique index in
    # the same order and cannot deadlock each other.
    ordered = sorted(candidates.values(), key=lambda p: (p.version_id, p.external_id))
    for shadow in (False, True):
        inserted |= predictions_insert_new(
            [c for c in ordered if c.is_shadow is shadow], shadow=shadow
        )

    stored_now: list[tuple[_Prepared, Prediction]] = []
    no_decision_yet = Prediction.decision.related
    for identity, pk in inserted.items():
        prediction = candidates[identity]
        prediction.pk = pk
        prediction._state.adding = False
        no_decision_yet.set_cached_value(prediction, None)  # saves a query when answering
        stored_now.append((first[identity], prediction))
    existing = _existing(model, [i for i in first if i not in inserted])

    for prepared in prepared_rows:
        identity = prepared.identity
        if identity in inserted:
            prediction = candidates[identity]
            if first[identity] is prepared:
                outcome = (
                    RowOutcome.REJECTED
                    if prediction.status == PredictionStatus.REJECTED
                    else RowOutcome.CREATED
                )
                results[prepared.index] = RowResult(
                    prepared.index, prepared.envelope.external_id, outcome, prediction
                )
            else:
                results[prepared.index] = _replay_result(
                    prepared, prediction, first[identity].comparable
                )
            continue
        stored = existing[identity]
        results[prepared.index] = _replay_result(
            prepared, stored, replays.stored_comparable(stored)
        )

    _create_review_items(model, stored_now, resolver, now)
    audit_events_record(_received_events(model, actor, stored_now) + refusals)
    return results


def _create_review_items(model, stored_now, resolver: _VersionResolver, now) -> None:
    items = []
    for prepared, prediction in stored_now:
        if prediction.status != PredictionStatus.IN_REVIEW:
            continue
        _, sla_seconds = resolver.policies[prepared.version.pk]
        items.append(
            ReviewItem(
                prediction=prediction,
                model=model,
                priority=prepared.route.priority,
                due_at=now + timedelta(seconds=sla_seconds),
                created_at=now,
            )
        )
    copy_insert(items)


@transaction.atomic
def request_refusal_record(
    *, actor: Actor, model: MLModel | None, reason: str, detail: Any, path: str
) -> None:
    """Audit a request refused as a whole (unknown model, key not scoped, malformed body)."""
    audit_events_record(
        [
            EventSpec(
                action="prediction.refused",
                actor=actor,
                object_type="reviewapp.prediction",
                model=model,
                payload={"reason": reason, "detail": detail, "path": path},
            )
        ]
    )
