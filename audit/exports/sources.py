"""Rows for exports, read from the database in chunks through server-side cursors.

Django's ``.iterator(chunk_size=...)`` on PostgreSQL uses a named cursor, so a 10-million-row
export holds one chunk in memory at a time. Each source yields lists of tuples in the column
order of ``audit.exports.columns`` and keeps the running facts the manifest needs.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db.models import Max, Min, Q

from audit.models import AuditChain, AuditEvent
from models_registry.models import ModelVersion
from models_registry.pii import masked_inputs, pii_fields

CHUNK_SIZE = 5000


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


def _period(prefix: str, since: datetime | None, until: datetime | None) -> Q:
    condition = Q()
    if since is not None:
        condition &= Q(**{f"{prefix}__gte": since})
    if until is not None:
        condition &= Q(**{f"{prefix}__lt": until})
    return condition


EVENT_FIELDS = (
    "id",
    "chain",
    "position",
    "prev_seq",
    "prev_hash",
    "hash",
    "sealed_at",
    "occurred_at",
    "actor_type",
    "actor_id",
    "actor_label",
    "action",
    "object_type",
    "object_id",
    "payload",
)


class EventSource:
    """Audit events of the chosen chains in a period, chain by chain in position order.

    For each chain the file holds the contiguous run of sealed positions from the first to the
    last event of the period (so the chain can be recomputed without gaps), then the period's
    events that are not sealed yet, by sequence number.
    """

    def __init__(self, *, chains: list[str] | None, since, until, chunk_size: int = CHUNK_SIZE):
        self.chains = chains
        self.since, self.until = since, until
        self.chunk_size = chunk_size
        self.facts = SourceFacts()
        self._in_period = AuditEvent.objects.filter(_period("occurred_at", since, until))
        if chains is not None:
            self._in_period = self._in_period.filter(chain__in=chains)
        self._ranges = {
            row["chain"]: (row["first"], row["last"])
            for row in self._in_period.sealed()
            .values("chain")
            .annotate(first=Min("position"), last=Max("position"))
            .order_by()
        }

    def estimated_rows(self) -> int:
        sealed = sum(last - first + 1 for first, last in self._ranges.values())
        return sealed + self._in_period.unsealed().count()

    def _coverage(self, chain: str) -> ChainCoverage:
        if chain not in self.facts.chains:
            head = AuditChain.objects.filter(key=chain).first()
            self.facts.chains[chain] = ChainCoverage(
                chain=chain,
                chain_head_position=head.head_position if head else 0,
                chain_head_hash=head.head_hash if head else "",
            )
        return self.facts.chains[chain]

    def chunks(self) -> Iterator[list[tuple]]:
        for chain in sorted(self._ranges):
            first, last = self._ranges[chain]
            rows = (
                AuditEvent.objects.filter(chain=chain, position__gte=first, position__lte=last)
                .order_by("position")
                .values_list(*EVENT_FIELDS)
            )
            yield from self._chunked(rows)
        unsealed = self._in_period.unsealed().order_by("chain", "id").values_list(*EVENT_FIELDS)
        yield from self._chunked(unsealed)

    def _chunked(self, queryset) -> Iterator[list[tuple]]:
        chunk: list[tuple] = []
        for row in queryset.iterator(chunk_size=self.chunk_size):
            self._observe(row)
            chunk.append(row)
            if len(chunk) >= self.chunk_size:
                yield chunk
                chunk = []
        if chunk:
            yield chunk

    def _observe(self, row: tuple) -> None:
        seq, chain, position, prev_seq, prev_hash, hash_ = row[:6]
        facts = self.facts
        facts.row_count += 1
        facts.saw_time(row[7])
        coverage = self._coverage(chain)
        if hash_ is None:
            coverage.unsealed_rows += 1
            return
        if coverage.first_position is None:
            coverage.first_position, coverage.first_seq = position, seq
            coverage.start_prev_seq, coverage.start_prev_hash = prev_seq, prev_hash
        coverage.last_position, coverage.last_seq, coverage.last_hash = position, seq, hash_
        coverage.sealed_rows += 1


PREDICTION_FIELDS = (
    "id",
    "model__slug",
    "version__label",
    "external_id",
    "received_at",
    "occurred_at",
    "inputs",
    "output",
    "confidence",
    "value_amount",
    "status",
    "needs_review",
    "routing_reasons",
    "contract_violations",
    "content_hash",
    "decision__action",
    "decision__final_output",
    "decision__decided_by",
    "decision__decided_at",
    "decision__comment",
    "decision__reason",
    "outcome__actual",
    "outcome__observed_at",
    "outcome__recorded_at",
    "version_id",
)
INPUTS_INDEX = PREDICTION_FIELDS.index("inputs")


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
        raw_pii: bool = False,
        chunk_size: int = CHUNK_SIZE,
    ):
        self.chunk_size = chunk_size
        self.raw_pii = raw_pii
        self.facts = SourceFacts()
        from reviewapp.models import Prediction

        queryset = Prediction.objects.filter(_period("received_at", since, until))
        versions = ModelVersion.objects.all()
        if models is not None:
            queryset = queryset.filter(model__slug__in=models)
            versions = versions.filter(model__slug__in=models)
        self.queryset = queryset
        self.contracts = {
            version.pk: version.input_contract
            for version in versions.only("pk", "input_contract")
            if pii_fields(version.input_contract)
        }
        self.masked_fields = sorted(
            {name for contract in self.contracts.values() for name in pii_fields(contract)}
        )

    def estimated_rows(self) -> int:
        return self.queryset.count()

    def chunks(self) -> Iterator[list[tuple]]:
        rows = self.queryset.order_by("id").values_list(*PREDICTION_FIELDS)
        contracts = {} if self.raw_pii else self.contracts
        chunk: list[tuple] = []
        facts = self.facts
        for row in rows.iterator(chunk_size=self.chunk_size):
            facts.row_count += 1
            facts.saw_time(row[4])
            contract = contracts.get(row[-1])
            if contract is not None:
                row = (
                    *row[:INPUTS_INDEX],
                    masked_inputs(contract, row[INPUTS_INDEX]),
                    *row[INPUTS_INDEX + 1 :],
                )
            chunk.append(row[:-1])
            if len(chunk) >= self.chunk_size:
                yield chunk
                chunk = []
        if chunk:
            yield chunk
