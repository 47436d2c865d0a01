"""Writing prediction rows: one statement for a whole batch, replays skipped by the database.

Two paths with one meaning: PostgreSQL gets one array per column through ``unnest()``;
other databases (the SQLite demo) a multi-row VALUES list.
"""

from __future__ import annotations

import json

from django.db import connection

from reviewapp.models import Prediction

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


def predictions_insert_new(predictions: list[Prediction], *, shadow: bool) -> dict[tuple, int]:
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
