"""Writes to the audit trail: record events, and seal them into per-model hash chains.

Recording is a plain INSERT so it never serializes the intake; chaining happens afterwards in
``audit_chains_seal`` (a django-q2 schedule, every minute), which takes one chain's head row
lock at a time.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from audit import chain as hashing
from audit.actors import Actor
from audit.bulk import copy_rows
from audit.models import GLOBAL_CHAIN, AuditChain, AuditCheckpoint, AuditEvent

SEAL_BATCH_SIZE = 5000


@dataclass(frozen=True)
class EventSpec:
    """An event to record, for writers that record many at once."""

    action: str
    actor: Actor
    object_type: str = ""
    object_id: str = ""
    model: Any = None
    payload: dict | None = None


def _event(spec: EventSpec, now) -> AuditEvent:
    model = spec.model
    return AuditEvent(
        occurred_at=now,
        actor_type=spec.actor.type,
        actor_id=spec.actor.id,
        actor_label=spec.actor.label,
        action=spec.action,
        object_type=spec.object_type,
        object_id=str(spec.object_id) if spec.object_id is not None else "",
        model_id=model.pk if model is not None else None,
        chain=model.slug if model is not None else GLOBAL_CHAIN,
        payload=spec.payload or {},
    )


def audit_event_record(
    *,
    action: str,
    actor: Actor,
    object_type: str = "",
    object_id: Any = "",
    model=None,
    payload: dict | None = None,
) -> AuditEvent:
    """Record one event. Call it inside the transaction of the change it describes."""
    event = _event(EventSpec(action, actor, object_type, object_id, model, payload), timezone.now())
    event.save(force_insert=True)
    return event


EVENT_COLUMNS = (
    "occurred_at",
    "actor_type",
    "actor_id",
    "actor_label",
    "action",
    "object_type",
    "object_id",
    "model_id",
    "chain",
    "payload",
    "prev_hash",
)


def audit_events_record(specs: Iterable[EventSpec]) -> None:
    """Record many events at once (the batch intake's path); sequence numbers follow the
    order given. On PostgreSQL this is one COPY of plain rows, no model instances."""
    now = timezone.now()
    if connection.vendor != "postgresql":
        AuditEvent.objects.bulk_create([_event(spec, now) for spec in specs], batch_size=1000)
        return
    copy_rows(
        AuditEvent,
        EVENT_COLUMNS,
        (
            (
                now,
                spec.actor.type,
                spec.actor.id,
                spec.actor.label,
                spec.action,
                spec.object_type,
                "" if spec.object_id is None else str(spec.object_id),
                spec.model.pk if spec.model is not None else None,
                spec.model.slug if spec.model is not None else GLOBAL_CHAIN,
                json.dumps(spec.payload or {}, ensure_ascii=False),
                "",
            )
            for spec in specs
        ),
    )


@dataclass(frozen=True)
class SealResult:
    chain: str
    sealed: int
    head_position: int
    head_hash: str


def audit_chains_seal(*, grace_seconds: float | None = None) -> list[SealResult]:
    """Chain every unsealed event older than the grace period, chain by chain.

    Safe to run twice or concurrently: each chain's head row is locked while it is extended,
    and only rows whose hash is still empty are considered.
    """
    grace = settings.AUDIT_SEAL_GRACE_SECONDS if grace_seconds is None else grace_seconds
    cutoff = timezone.now() - timedelta(seconds=grace)
    chains = (
        AuditEvent.objects.unsealed()
        .order_by()
        .filter(occurred_at__lte=cutoff)
        .values_list("chain", flat=True)
        .distinct()
    )
    results = []
    for chain_key in sorted(set(chains)):
        while True:
            result = _seal_chain_batch(chain_key, cutoff)
            if result.sealed:
                results.append(result)
            if result.sealed < SEAL_BATCH_SIZE:
                break
    return results


@transaction.atomic
def _seal_chain_batch(chain_key: str, cutoff) -> SealResult:
    AuditChain.objects.get_or_create(key=chain_key)
    head = AuditChain.objects.select_for_update().get(key=chain_key)
    events = list(
        AuditEvent.objects.unsealed()
        .filter(chain=chain_key, occurred_at__lte=cutoff)
        .order_by("id")[:SEAL_BATCH_SIZE]
    )
    if not events:
        return SealResult(chain_key, 0, head.head_position, head.head_hash)

    now = timezone.now()
    position = head.head_position
    prev_hash = head.head_hash or hashing.GENESIS_HASH
    prev_seq = head.head_seq
    for event in events:
        position += 1
        event.position = position
        event.prev_seq = prev_seq
        event.prev_hash = prev_hash
        event.hash = hashing.link_hash(prev_hash, position, hashing.event_canonical(event))
        event.sealed_at = now
        prev_hash, prev_seq = event.hash, event.id
    AuditEvent.objects.bulk_update(
        events, ["position", "prev_seq", "prev_hash", "hash", "sealed_at"], batch_size=1000
    )
    head.head_position, head.head_hash, head.head_seq, head.sealed_at = (
        position,
        prev_hash,
        prev_seq,
        now,
    )
    head.save()
    AuditCheckpoint.objects.create(
        chain=chain_key,
        position=position,
        head_seq=prev_seq,
        head_hash=prev_hash,
        sealed_count=len(events),
        created_at=now,
    )
    return SealResult(chain_key, len(events), position, prev_hash)
