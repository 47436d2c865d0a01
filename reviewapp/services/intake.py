"""Where a prediction enters: check it, route it, store it once, audit it.

One path serves the single and the batch endpoint. Per row it does only pure work (contract
check with the version's compiled validator, routing, a content hash); the database sees one
``INSERT ... ON CONFLICT DO NOTHING RETURNING`` for the predictions, one bulk INSERT for review
items and one for audit events, all in one transaction. Replays are recognised by the unique
(model, external_id) constraint, never by reading first, so concurrent retries store one row.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from audit.actors import Actor
from audit.bulk import copy_insert
from audit.services import EventSpec, audit_events_record
from models_registry.models import MLModel, ModelVersion, RoutingPolicy, VersionStatus
from reviewapp import routing
from reviewapp.models import Prediction, PredictionStatus, ReviewItem

COMPARED_FIELDS = (
    "version",
    "inputs",
    "output",
    "confidence",
    "value_amount",
    "occurred_at",
    "context",
)


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


def _normalise(value: Any) -> Any:
    """JSON value with key order and 1 vs 1.0 made irrelevant, for replay comparison."""
    if isinstance(value, dict):
        return {str(k): _normalise(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_normalise(v) for v in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, Decimal):
        return _normalise(float(value))
    return value


def _comparable(
    *, version_label: str, inputs, output, confidence, value_amount, occurred_at, context
) -> dict:
    return {
        "version": version_label,
        "inputs": _normalise(inputs),
        "output": _normalise(output),
        "confidence": _normalise(float(confidence)),
        "value_amount": None if value_amount is None else f"{Decimal(value_amount):.2f}",
        "occurred_at": None if occurred_at is None else occurred_at.astimezone(UTC).isoformat(),
        "context": _normalise(context or {}),
    }


def _content_hash(comparable: dict) -> str:
    blob = json.dumps(comparable, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(blob.encode()).hexdigest()


def _stored_comparable(prediction: Prediction) -> dict:
    return _comparable(
        version_label=prediction.version.label,
        inputs=prediction.inputs,
        output=prediction.output,
        confidence=prediction.confidence,
        value_amount=prediction.value_amount,
        occurred_at=prediction.occurred_at,
        context=prediction.context,
    )


def _differing_fields(a: dict, b: dict) -> list[str]:
    return [name for name in COMPARED_FIELDS if a.get(name) != b.get(name)]


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
    comparable = _comparable(
        version_label=version.label,
        inputs=envelope.inputs,
        output=envelope.output,
        confidence=envelope.confidence,
        value_amount=envelope.value_amount,
        occurred_at=envelope.occurred_at,
        context=envelope.context,
    )
    return _Prepared(
        index, envelope, version, comparable, _content_hash(comparable), violations, route
    )


_INSERT_FIELDS = (
    "model",
    "version",
    "external_id",
    "inputs",
    "output",
    "confidence",
    "value_amount",
    "occurred_at",
    "received_at",
    "context",
    "status",
    "is_shadow",
    "needs_review",
    "routing_reasons",
    "contract_violations",
    "content_hash",
    "submitted_by_key",
)


def _insert_new(predictions: list[Prediction], *, shadow: bool) -> dict[tuple, int]:
    """INSERT ... ON CONFLICT DO NOTHING RETURNING: the ids of the rows this call stored.

    A row whose identity already exists, committed or in a concurrent transaction, is
    skipped by the database; the caller treats it as a replay. The conflict target names
    the partial unique index of production or of shadow rows.
    """
    if not predictions:
        return {}
    quote = connection.ops.quote_name
    target = (
        f"({quote('version_id')}, {quote('external_id')}) WHERE {quote('is_shadow')}"
        if shadow
        else f"({quote('model_id')}, {quote('external_id')}) WHERE NOT {quote('is_shadow')}"
    )
    insert = _insert_unnest if connection.vendor == "postgresql" else _insert_values
    with connection.cursor() as cursor:
        rows = insert(cursor, predictions, target)
    return {
        (version_id if shadow else None, external_id): pk for pk, version_id, external_id in rows
    }


def _insert_values(cursor, predictions: list[Prediction], target: str) -> list[tuple]:
    """Portable path (SQLite): one multi-row VALUES list."""
    opts = Prediction._meta
    quote = connection.ops.quote_name
    fields = [opts.get_field(name) for name in _INSERT_FIELDS]
    row_sql = "(" + ", ".join(["%s"] * len(fields)) + ")"
    cursor.execute(
        f"INSERT INTO {quote(opts.db_table)} ({', '.join(quote(f.column) for f in fields)}) "
        f"VALUES {', '.join([row_sql] * len(predictions))} ON CONFLICT {target} DO NOTHING "
        "RETURNING id, version_id, external_id",
        [
            f.get_db_prep_save(getattr(p, f.attname), connection)
            for p in predictions
            for f in fields
        ],
    )
    return cursor.fetchall()


_UNNEST_COLUMNS = (
    # column, array type, how to read it off a Prediction
    ("version_id", "bigint", lambda p: p.version_id),
    ("external_id", "text", lambda p: p.external_id),
    ("inputs", "jsonb", lambda p: json.dumps(p.inputs, ensure_ascii=False)),
    ("output", "jsonb", lambda p: json.dumps(p.output, ensure_ascii=False)),
    ("confidence", "float8", lambda p: p.confidence),
    ("value_amount", "numeric", lambda p: p.value_amount),
    ("occurred_at", "timestamptz", lambda p: p.occurred_at),
    ("context", "jsonb", lambda p: json.dumps(p.context, ensure_ascii=False)),
    ("status", "text", lambda p: p.status),
    ("needs_review", "boolean", lambda p: p.needs_review),
    ("routing_reasons", "jsonb", lambda p: json.dumps(p.routing_reasons)),
    ("contract_violations", "jsonb", lambda p: json.dumps(p.contract_violations)),
    ("content_hash", "text", lambda p: p.content_hash),
)


def _insert_unnest(cursor, predictions: list[Prediction], target: str) -> list[tuple]:
    """PostgreSQL path: one array per column through unnest(), so a 1,000-row batch is a
    statement with 17 parameters instead of 17,000 for the driver to parse and bind."""
    first = predictions[0]
    columns = ", ".join(c for c, _, _ in _UNNEST_COLUMNS)
    arrays = ", ".join(
        f"%s::{'text' if kind == 'jsonb' else kind}[]" for _, kind, _ in _UNNEST_COLUMNS
    )
    selected = ", ".join(
        f"r.{c}::jsonb" if kind == "jsonb" else f"r.{c}" for c, kind, _ in _UNNEST_COLUMNS
    )
    cursor.execute(
        f"INSERT INTO reviewapp_prediction (model_id, received_at, is_shadow, "
        f"submitted_by_key_id, {columns}) "
        f"SELECT %s, %s, %s, %s, {selected} FROM unnest({arrays}) AS r({columns}) "
        f"ON CONFLICT {target} DO NOTHING RETURNING id, version_id, external_id",
        [first.model_id, first.received_at, first.is_shadow, first.submitted_by_key_id]
        + [[read(p) for p in predictions] for _, _, read in _UNNEST_COLUMNS],
    )
    return cursor.fetchall()


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
        differing = _differing_fields(stored_fields, prepared.comparable)
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
) -> list[RowResult]:
    """Store a batch of predictions (a single request is a batch of one).

    ``rows`` holds an ``Envelope`` for each row whose envelope is valid and the field errors
    (a dict) for each that is not; ``raw_rows`` carries what was sent, for the refusal record.
    Returns one result per row, in order. Invalid rows are refused and audited; they never
    stop the valid ones.
    """
    now = timezone.now()
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
        inserted |= _insert_new([c for c in ordered if c.is_shadow is shadow], shadow=shadow)

    stored_now: list[tuple[_Prepared, Prediction]] = []
    for identity, pk in inserted.items():
        prediction = candidates[identity]
        prediction.pk = pk
        prediction._state.adding = False
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
        results[prepared.index] = _replay_result(prepared, stored, _stored_comparable(stored))

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
    copy_insert(items, ["prediction", "model", "status", "priority", "due_at", "created_at"])


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
