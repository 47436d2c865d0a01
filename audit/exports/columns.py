"""The stable, documented columns of each export kind (docs/exports.md mirrors this file).

Column names and order are a contract with the auditors' tools: add columns at the end, never
rename or reorder. Each column has one logical type, written per format as follows:

=========  ======================================  ===================  =========================
type       CSV                                     JSON Lines           Parquet
=========  ======================================  ===================  =========================
int        decimal digits                          number               int64
string     text                                    string               string (UTF-8)
float      shortest round-trip repr                number               float64
bool       ``true`` / ``false``                    true / false         bool
decimal    ``12345.00``                            string "12345.00"    decimal128(18, 2)
timestamp  ``2026-01-31T23:59:59.123456Z`` (UTC)   same string          timestamp[us, tz=UTC]
json       JSON text                               nested JSON value    string, JSON text
=========  ======================================  ===================  =========================

A missing value is an empty CSV field, JSON ``null`` or a Parquet null. A JSON column holding
JSON ``null`` is the text ``null`` in CSV and Parquet. JSON text is as PostgreSQL prints it
(masked inputs: sorted keys, no spaces); parse it, don't compare it as text.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

EVENTS = "events"
PREDICTIONS = "predictions"
KINDS = (EVENTS, PREDICTIONS)


@dataclass(frozen=True)
class Column:
    name: str
    type: str  # int | string | float | bool | decimal | timestamp | json
    nullable: bool
    description: str


def canonical_json(value: Any) -> str:
    """JSON text with sorted keys and no spaces: the form used in files and in hashes."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


EVENT_COLUMNS: tuple[Column, ...] = (
    Column("seq", "int", False, "Global sequence number of the event (AuditEvent.id)."),
    Column("chain", "string", False, "Hash chain: the model's slug, or _global."),
    Column("position", "int", True, "Position in the chain (1-based); empty if not sealed yet."),
    Column("prev_seq", "int", True, "seq of the previous event in the chain."),
    Column("prev_hash", "string", True, "hash of the previous event (64 zeros for the first)."),
    Column("hash", "string", True, "sha256(prev_hash \\n position \\n canonical event)."),
    Column("sealed_at", "timestamp", True, "When the sealer chained the event."),
    Column("occurred_at", "timestamp", False, "When it happened."),
    Column("actor_type", "string", False, "user, service or system."),
    Column("actor_id", "string", False, "User id or service key id; empty for the system."),
    Column("actor_label", "string", False, "Who, readable (username or key name)."),
    Column("action", "string", False, "What happened, e.g. prediction.received."),
    Column("object_type", "string", False, "Kind of object acted on, e.g. reviewapp.prediction."),
    Column("object_id", "string", False, "Its id."),
    Column("payload", "json", False, "Details of the event, exactly as hashed."),
)

PREDICTION_COLUMNS: tuple[Column, ...] = (
    Column("prediction_id", "int", False, "Countersign's id of the prediction."),
    Column("model", "string", False, "Model slug."),
    Column("version", "string", False, "Version label that made the prediction."),
    Column("external_id", "string", False, "The scoring service's id (unique per model)."),
    Column("received_at", "timestamp", False, "When Countersign stored it."),
    Column("occurred_at", "timestamp", True, "When the scoring service says it was made."),
    Column("inputs", "json", False, "Inputs; x-pii fields masked unless a raw export."),
    Column("output", "json", True, "The model's output."),
    Column("confidence", "float", False, "The model's confidence, 0..1."),
    Column("value_amount", "decimal", True, "Money at stake, two decimals."),
    Column("status", "string", False, "auto_accepted, in_review, decided or rejected."),
    Column("needs_review", "bool", False, "Whether routing sent it to a person."),
    Column("routing_reasons", "json", False, "Why it was routed: rule and numbers, a list."),
    Column("contract_violations", "json", False, "Input contract violations, a list."),
    Column("content_hash", "string", False, "SHA-256 of the normalised content."),
    Column("decision_action", "string", True, "approve, override, reject or fallback."),
    Column("decision_final_output", "json", True, "The output that stands after review."),
    Column("decision_decided_by", "json", True, "Everyone who decided: a list of usernames."),
    Column("decision_decided_at", "timestamp", True, "When the decision was made."),
    Column("decision_comment", "string", True, "The reviewer's comment."),
    Column("decision_reason", "string", True, "Reason code of the decision."),
    Column("outcome_actual", "json", True, "Ground truth reported later."),
    Column("outcome_observed_at", "timestamp", True, "When the outcome was observed."),
    Column("outcome_recorded_at", "timestamp", True, "When Countersign recorded it."),
)

COLUMNS = {EVENTS: EVENT_COLUMNS, PREDICTIONS: PREDICTION_COLUMNS}


def columns_for(kind: str) -> tuple[Column, ...]:
    return COLUMNS[kind]


def describe(kind: str) -> list[dict]:
    """The column list as it appears in a manifest."""
    return [{"name": c.name, "type": c.type, "nullable": c.nullable} for c in COLUMNS[kind]]
