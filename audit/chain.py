"""How an audit event is hashed. Pure functions shared by the sealer, ``verify_audit`` and
offline export verification, so all three agree byte for byte.

hash = sha256( prev_hash "\n" position "\n" canonical_json(event) )

where canonical JSON has sorted keys, no spaces, UTF-8, and times in UTC ISO 8601 with
microseconds. The first event of a chain has prev_hash = 64 zeros.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any

GENESIS_HASH = "0" * 64


def iso_utc(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def canonical_event(
    *,
    seq: int,
    chain: str,
    occurred_at: datetime | str,
    actor_type: str,
    actor_id: str,
    actor_label: str,
    action: str,
    object_type: str,
    object_id: str,
    payload: Any,
) -> str:
    document = {
        "seq": seq,
        "chain": chain,
        "occurred_at": occurred_at if isinstance(occurred_at, str) else iso_utc(occurred_at),
        "actor": {"type": actor_type, "id": actor_id, "label": actor_label},
        "action": action,
        "object": {"type": object_type, "id": object_id},
        "payload": payload,
    }
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def link_hash(prev_hash: str, position: int, canonical: str) -> str:
    digest = hashlib.sha256()
    digest.update(f"{prev_hash}\n{position}\n".encode())
    digest.update(canonical.encode())
    return digest.hexdigest()


def event_canonical(event) -> str:
    """Canonical JSON of an AuditEvent instance (or any object with the same attributes)."""
    return canonical_event(
        seq=event.id,
        chain=event.chain,
        occurred_at=event.occurred_at,
        actor_type=event.actor_type,
        actor_id=event.actor_id,
        actor_label=event.actor_label,
        action=event.action,
        object_type=event.object_type,
        object_id=event.object_id,
        payload=event.payload,
    )
