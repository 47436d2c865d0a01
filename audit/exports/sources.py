"""Rows for exports, read from PostgreSQL in chunks through server-side cursors.

PostgreSQL does the formatting: each column is selected already in the form its file format
needs (ISO 8601 text or epoch microseconds for times, JSON text for JSON, a whole JSON line for
JSON Lines), so Python only moves chunks from the cursor to the writer. That keeps a
million-row export in seconds and in bounded memory: one chunk is held at a time.

Each writer asks for one *rendering*:

- ``text`` (CSV): ints, floats and strings as they are; bools ``true``/``false``; decimals and
  times as text; JSON as JSON text. NULL is None.
- ``jsonl``: one JSON object per row, keys in column order, built by PostgreSQL.
- ``arrow`` (Parquet): ints, floats, bools and strings as they are; times as epoch
  microseconds; decimals and JSON as text (cast by pyarrow).

Personal data is masked in Python (``models_registry.pii.masked_inputs``, the same keyed hash
the reviewer UI uses), only for rows of versions whose contract marks fields ``x-pii``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection

from audit.exports.columns import EVENT_COLUMNS, PREDICTION_COLUMNS, Column, canonical_json
from models_registry.models import ModelVersion
from models_registry.pii import masked_inputs, pii_fields

CHUNK_SIZE = 10_000
RENDERINGS = ("text", "jsonl", "arrow")
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def from_micros(value: int | None) -> datetime | None:
    return None if value is None else EPOCH + timedelta(microseconds=value)


def _iso_sql(expr: str) -> str:
    return f"""to_char({expr} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')"""


def _micros_sql(expr: str) -> str:
    return f"(extract(epoch from {expr}) * 1000000)::bigint"


def _text_sql(column: Column, expr: str) -> str:
    if column.type == "timestamp":
        return _iso_sql(expr)
    if column.type == "json" or column.type == "decimal":
        return f"({expr})::text"
    if column.type == "bool":
        return f"CASE WHEN {expr} IS NULL THEN NULL WHEN {expr} THEN 'true' ELSE 'false' END"
    return expr


def _arrow_sql(column: Column, expr: str) -> str:
    if column.type == "timestamp":
        return _micros_sql(expr)
    if column.type in ("json", "decimal"):
        return f"({expr})::text"
    return expr


def _json_value_sql(column: Column, expr: str) -> str:
    if column.type == "json":
        value = f"({expr})::text"
    elif column.type == "timestamp":
        value = f"to_json({_iso_sql(expr)})::text"
    elif column.type == "decimal":
        value = f"to_json(({expr})::text)::text"
    else:
        value = f"to_json({expr})::text"
    return f"coalesce({value}, 'null')"


def _json_line_parts(columns, exprs: dict[str, str], split_at: str | None) -> list[str]:
    """SQL for the JSON line, as one expression, or three (head, the split column, tail)."""
    parts: list[list[str]] = [[]]
    for index, column in enumerate(columns):
        key = ("{" if index == 0 else ",") + json.dumps(column.name) + ":"
        if column.name == split_at:
            parts[-1].append(f"'{key}'")
            parts.append([f"({exprs[column.name]})::text"])
            parts.append([])
            continue
        parts[-1].append(f"'{key}'")
        parts[-1].append(_json_value_sql(column, exprs[column.name]))
    parts[-1].append("'}'")
    return [" || ".join(p) for p in parts]


def select_list(
    columns, exprs: dict[str, str], rendering: str, split_json_at: str | None = None
) -> list[str]:
    if rendering == "text":
        return [_text_sql(c, exprs[c.name]) for c in columns]
    if rendering == "arrow":
        return [_arrow_sql(c, exprs[c.name]) for c in columns]
    return _json_line_parts(columns, exprs, split_json_at)


def _stream(sql: str, params: list, chunk_size: int) -> Iterator[list[tuple]]:
    # A named (server-side) cursor: the rows stay in PostgreSQL until fetched.
    with connection.chunked_cursor() as cursor:
        cursor.execute(sql, params)
        while rows := cursor.fetchmany(chunk_size):
            yield rows


@dataclass
class ChainCoverage:
    """Which positions of one chain a file holds, and the link just before the first."""

    chain: str
    first_position: int | None = None
    first_seq: int | None = None
    start_prev_seq: int | None = None
    start_prev_hash: str = ""
    last_position: int | None = None
    last_seq: int | None = None
    last_hash: str = ""
    sealed_rows: int = 0
    unsealed_rows: int = 0
    chain_head_position: int = 0
    chain_head_hash: str = ""

    def as_manifest(self) -> dict[str, Any]:
        return {
            "chain": self.chain,
            "first_position": self.first_position,
            "first_seq": self.first_seq,
            "start_prev_seq": self.start_prev_seq,
            "start_prev_hash": self.start_prev_hash,
            "last_position": self.last_position,
            "last_seq": self.last_seq,
            "last_hash": self.last_hash,
            "sealed_rows": self.sealed_rows,
            "unsealed_rows": self.unsealed_rows,
            "chain_head_position_at_export": self.chain_head_position,
            "chain_head_hash_at_export": self.chain_head_hash,
        }


@dataclass
class SourceFacts:
    row_count: int = 0
    first_time: datetime | None = None
    last_time: datetime | None = None
    chains: dict[str, ChainCoverage] = field(default_factory=dict)

    def saw_time(self, value: datetime | None) -> None:
        if value is None:
            return
        if self.first_time is None or value < self.first_time:
            self.first_time = value
        if self.last_time is None or value > self.last_time:
            self.last_time = value


def _period_sql(expr: str, since, until, params: list) -> str:
    conditions = []
    if since is not None:
        conditions.append(f"{expr} >= %s")
        params.append(since)
    if until is not None:
        conditions.append(f"{expr} < %s")
        params.append(until)
    return " AND ".join(conditions) or "TRUE"


EVENT_EXPRS = {
    "seq": "e.id",
    "chain": "e.chain",
    "position": "e.position",
    "prev_seq": "e.prev_seq",
    "prev_hash": "e.prev_hash",
    "hash": "e.hash",
    "sealed_at": "e.sealed_at",
    "occurred_at": "e.occurred_at",
    "actor_type": "e.actor_type",
    "actor_id": "e.actor_id",
    "actor_label": "e.actor_label",
    "action": "e.action",
    "object_type": "e.object_type",
    "object_id": "e.object_id",
    "payload": "e.payload",
}
# Events that were not sealed when the export began are written without chain fields.
UNSEALED_EXPRS = {
    **EVENT_EXPRS,
    "position": "NULL::bigint",
    "prev_seq": "NULL::bigint",
    "prev_hash": "NULL::text",
    "hash": "NULL::text",
    "sealed_at": "NULL::timestamptz",
}


class EventSource:
    """Audit events of the chosen chains in a period, chain by chain in position order.

    For each chain the file holds the contiguous run of sealed positions from the first to the
    last sealed event of the period (so the chain can be recomputed without gaps), then the
    period's other events, not sealed when the export began, by sequence number.
    """

    def __init__(
        self,
        *,
        chains: list[str] | None,
        since,
        until,
        rendering: str,
        chunk_size: int = CHUNK_SIZE,
    ):
        self.chains = chains
        self.since, self.until = since, until
        self.rendering = rendering
        self.chunk_size = chunk_size
        self.facts = SourceFacts()
        self._ranges = self._sealed_ranges()

    def _where(self, params: list) -> str:
        where = _period_sql("e.occurred_at", self.since, self.until, params)
        if self.chains is not None:
            where += " AND e.chain = ANY(%s)"
            params.append(list(self.chains))
        return where

    def _sealed_ranges(self) -> dict[str, tuple[int, int]]:
        params: list = []
        where = self._where(params)
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT e.chain, min(e.position), max(e.position) FROM audit_auditevent e "
                f"WHERE e.hash IS NOT NULL AND {where} GROUP BY e.chain",
                params,
            )
            return {chain: (first, last) for chain, first, last in cursor.fetchall()}

    def estimated_rows(self) -> int:
        params: list = []
        where = self._where(params)
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT count(*) FROM audit_auditevent e WHERE {where}", params)
            in_period = cursor.fetchone()[0]
        return max(in_period, sum(last - first + 1 for first, last in self._ranges.values()))

    def _describe_chain(self, chain: str, first: int, last: int) -> ChainCoverage:
        coverage = ChainCoverage(chain=chain)
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT position, id, prev_seq, prev_hash, hash FROM audit_auditevent "
                "WHERE chain = %s AND position IN (%s, %s) AND hash IS NOT NULL "
                "ORDER BY position, id",
                [chain, first, last],
            )
            rows = cursor.fetchall()
            cursor.execute(
                "SELECT min(occurred_at), max(occurred_at) FROM audit_auditevent "
                "WHERE chain = %s AND position BETWEEN %s AND %s",
                [chain, first, last],
            )
            earliest, latest = cursor.fetchone()
            cursor.execute(
                "SELECT head_position, head_hash FROM audit_auditchain WHERE key = %s", [chain]
            )
            head = cursor.fetchone()
        head_rows = [r for r in rows if r[0] == first]
        tail_rows = [r for r in rows if r[0] == last]
        if head_rows:
            _, coverage.first_seq, coverage.start_prev_seq, coverage.start_prev_hash, _ = head_rows[
                0
            ]
            coverage.first_position = first
        if tail_rows:
            coverage.last_position, coverage.last_seq, _, _, coverage.last_hash = tail_rows[-1]
        if head:
            coverage.chain_head_position, coverage.chain_head_hash = head
        self.facts.saw_time(earliest)
        self.facts.saw_time(latest)
        return coverage

    def chunks(self) -> Iterator[list[tuple]]:
        columns = EVENT_COLUMNS
        sealed_select = ", ".join(select_list(columns, EVENT_EXPRS, self.rendering))
        for chain in sorted(self._ranges):
            first, last = self._ranges[chain]
            coverage = self._describe_chain(chain, first, last)
            self.facts.chains[chain] = coverage
            sql = (
                f"SELECT {sealed_select} FROM audit_auditevent e "
                "WHERE e.chain = %s AND e.position BETWEEN %s AND %s ORDER BY e.position, e.id"
            )
            for rows in _stream(sql, [chain, first, last], self.chunk_size):
                coverage.sealed_rows += len(rows)
                self.facts.row_count += len(rows)
                yield rows

        # The rest of the period: events not sealed yet, or sealed after the ranges were read.
        params: list = []
        where = self._where(params)
        covered = []
        for chain, (first, last) in self._ranges.items():
            covered.append("(e.chain = %s AND e.position BETWEEN %s AND %s)")
            params.extend([chain, first, last])
        not_covered = f"NOT (e.hash IS NOT NULL AND ({' OR '.join(covered)}))" if covered else ""
        tail_select = ", ".join(select_list(columns, UNSEALED_EXPRS, self.rendering))
        sql = (
            f"SELECT {tail_select}, e.chain, e.occurred_at FROM audit_auditevent e WHERE {where}"
            + (f" AND {not_covered}" if not_covered else "")
            + " ORDER BY e.chain, e.id"
        )
        for rows in _stream(sql, params, self.chunk_size):
            for row in rows:
                chain = row[-2]
                if chain not in self.facts.chains:
                    self.facts.chains[chain] = ChainCoverage(chain=chain)
                self.facts.chains[chain].unsealed_rows += 1
                self.facts.saw_time(row[-1])
            self.facts.row_count += len(rows)
            yield [row[:-2] for row in rows]


PREDICTION_EXPRS = {
    "prediction_id": "p.id",
    "model": "m.slug",
    "version": "v.label",
    "external_id": "p.external_id",
    "received_at": "p.received_at",
    "occurred_at": "p.occurred_at",
    "inputs": "p.inputs",
    "output": "p.output",
    "confidence": "p.confidence",
    "value_amount": "p.value_amount",
    "status": "p.status",
    "needs_review": "p.needs_review",
    "routing_reasons": "p.routing_reasons",
    "contract_violations": "p.contract_violations",
    "content_hash": "p.content_hash",
    "decision_action": "d.action",
    "decision_final_output": "d.final_output",
    "decision_decided_by": "d.decided_by",
    "decision_decided_at": "d.decided_at",
    "decision_comment": "d.comment",
    "decision_reason": "d.reason",
    "outcome_actual": "o.actual",
    "outcome_observed_at": "o.observed_at",
    "outcome_recorded_at": "o.recorded_at",
}
PREDICTION_FROM = (
    "reviewapp_prediction p "
    "JOIN models_registry_mlmodel m ON m.id = p.model_id "
    "JOIN models_registry_modelversion v ON v.id = p.version_id "
    "LEFT JOIN reviewapp_decision d ON d.prediction_id = p.id "
    "LEFT JOIN reviewapp_outcome o ON o.prediction_id = p.id"
)
INPUTS_INDEX = [c.name for c in PREDICTION_COLUMNS].index("inputs")


class PredictionSource:
    """Predictions of the chosen models received in a period, with decision and outcome.

    Inputs marked ``"x-pii": true`` in the version's contract are masked with PII_HASH_KEY
    unless ``raw_pii`` (an audited choice of a compliance officer).
    """

    def __init__(
        self,
        *,
        models: list[str] | None,
        since,
        until,
        rendering: str,
        raw_pii: bool = False,
        chunk_size: int = CHUNK_SIZE,
    ):
        self.models = models
        self.since, self.until = since, until
        self.rendering = rendering
        self.chunk_size = chunk_size
        self.raw_pii = raw_pii
        self.facts = SourceFacts()
        versions = ModelVersion.objects.all()
        if models is not None:
            versions = versions.filter(model__slug__in=models)
        self.contracts = {
            version.pk: version.input_contract
            for version in versions.only("pk", "input_contract")
            if pii_fields(version.input_contract)
        }
        self.masked_fields = sorted(
            {name for contract in self.contracts.values() for name in pii_fields(contract)}
        )
        self._pii_key = settings.PII_HASH_KEY  # read once, not once per row

    def _where(self, params: list) -> str:
        where = _period_sql("p.received_at", self.since, self.until, params)
        if self.models is not None:
            where += " AND m.slug = ANY(%s)"
            params.append(list(self.models))
        return where

    def estimated_rows(self) -> int:
        params: list = []
        where = self._where(params)
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM reviewapp_prediction p "
                f"JOIN models_registry_mlmodel m ON m.id = p.model_id WHERE {where}",
                params,
            )
            return cursor.fetchone()[0]

    def _mask(self, contract: dict, inputs_text: str) -> str:
        return canonical_json(masked_inputs(contract, json.loads(inputs_text), self._pii_key))

    def chunks(self) -> Iterator[list[tuple]]:
        params: list = []
        where = self._where(params)
        split = "inputs" if self.rendering == "jsonl" else None
        select = ", ".join(
            select_list(PREDICTION_COLUMNS, PREDICTION_EXPRS, self.rendering, split_json_at=split)
        )
        sql = (
            f"SELECT {select}, p.version_id, {_micros_sql('p.received_at')} "
            f"FROM {PREDICTION_FROM} WHERE {where} ORDER BY p.id"
        )
        contracts = {} if self.raw_pii else self.contracts
        facts = self.facts
        jsonl = self.rendering == "jsonl"
        for rows in _stream(sql, params, self.chunk_size):
            facts.row_count += len(rows)
            times = [row[-1] for row in rows]
            facts.saw_time(from_micros(min(times)))
            facts.saw_time(from_micros(max(times)))
            out = []
            for row in rows:
                contract = contracts.get(row[-2])
                if jsonl:
                    head, inputs, tail = row[0], row[1], row[2]
                    if contract is not None:
                        inputs = self._mask(contract, inputs)
                    out.append((head + inputs + tail,))
                elif contract is not None:
                    masked = self._mask(contract, row[INPUTS_INDEX])
                    out.append((*row[:INPUTS_INDEX], masked, *row[INPUTS_INDEX + 1 : -2]))
                else:
                    out.append(row[:-2])
            yield out
