"""Recompute the audit hash chains and say exactly where they break.

The walk is pure (``verify_chain_rows``) so offline export verification can reuse it on rows
read from a file; ``audit_verify`` feeds it rows from the database, chain by chain, in chunks.
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from django.db import connection

from audit import chain as hashing
from audit.models import HASHED_FIELDS, AuditCheckpoint, AuditEvent


@dataclass
class Problem:
    seq: int | None
    kind: str  # changed | missing | inserted | out of order
    chain: str
    detail: str

    def __str__(self) -> str:
        where = f"seq {self.seq}" if self.seq is not None else "seq ?"
        return f"{where}: {self.kind} (chain {self.chain}) {self.detail}".rstrip()


@dataclass
class ChainReport:
    chain: str
    sealed: int = 0
    unsealed: int = 0
    head_position: int = 0
    head_seq: int | None = None
    head_hash: str = ""
    problems: list[Problem] = field(default_factory=list)


@dataclass
class VerificationReport:
    chains: list[ChainReport]

    @property
    def ok(self) -> bool:
        return not any(c.problems for c in self.chains)

    @property
    def problems(self) -> list[Problem]:
        return [p for c in self.chains for p in c.problems]

    def summary_line(self) -> str:
        sealed = sum(c.sealed for c in self.chains)
        unsealed = sum(c.unsealed for c in self.chains)
        verdict = "OK" if self.ok else "FAILED"
        return (
            f"{verdict}: {len(self.chains)} chain(s), {sealed} sealed event(s) verified, "
            f"{unsealed} not sealed yet"
        )


RECENT_SEQS = 100_000


@dataclass(frozen=True)
class ChainRow:
    """What the walk needs of one sealed event."""

    seq: int
    position: int
    prev_seq: int | None
    prev_hash: str
    hash: str
    canonical: str


def verify_chain_rows(
    chain: str, rows: Iterable[ChainRow], report: ChainReport, *, after: ChainRow | None = None
) -> None:
    """Walk one chain's sealed rows in position order and record every break in ``report``.

    ``after`` is the link just before the first row (only its seq, position and hash are read),
    for a walk that starts mid-chain, as an export of one period does; by default the walk
    starts at position 1 after the genesis hash.
    """
    prev: ChainRow | None = after
    # The seqs walked lately, to tell "out of order" from "missing". Bounded so memory stays
    # flat on a chain of millions: a row chained after one more than RECENT_SEQS positions
    # back is reported as missing rather than out of order (a problem either way).
    seen_seqs: set[int] = set()
    recent: deque[int] = deque()
    for row in rows:
        report.sealed += 1
        expected_position = (prev.position if prev else 0) + 1
        expected_prev_seq = prev.seq if prev else None
        expected_prev_hash = prev.hash if prev else hashing.GENESIS_HASH

        if hashing.link_hash(row.prev_hash, row.position, row.canonical) != row.hash:
            report.problems.append(
                Problem(row.seq, "changed", chain, "its content no longer matches its hash")
            )

        if prev is not None and row.position == prev.position:
            report.problems.append(
                Problem(row.seq, "inserted", chain, f"a second event at position {row.position}")
            )
            continue
        if row.position > expected_position or (
            row.prev_seq != expected_prev_seq and row.prev_seq not in seen_seqs
        ):
            missing_seq = row.prev_seq if row.prev_seq != expected_prev_seq else None
            gap = (
                f"positions {expected_position}..{row.position - 1}"
                if row.position > expected_position
                else f"before position {row.position}"
            )
            report.problems.append(
                Problem(missing_seq, "missing", chain, f"{gap}, before seq {row.seq}")
            )
        elif row.prev_seq != expected_prev_seq:
            report.problems.append(
                Problem(
                    row.seq,
                    "out of order",
                    chain,
                    f"at position {row.position} it follows seq {expected_prev_seq}, "
                    f"but was chained after seq {row.prev_seq}",
                )
            )
        elif row.prev_hash != expected_prev_hash:
            report.problems.append(
                Problem(
                    expected_prev_seq,
                    "changed",
                    chain,
                    f"its stored hash differs from the one seq {row.seq} was chained to",
                )
            )
        seen_seqs.add(row.seq)
        recent.append(row.seq)
        if len(recent) > RECENT_SEQS:
            seen_seqs.discard(recent.popleft())
        prev = row

    if prev is not None and prev is not after:
        report.head_position, report.head_seq, report.head_hash = prev.position, prev.seq, prev.hash


_PG_CHAIN_SQL = """
SELECT id, position, prev_seq, prev_hash, hash,
       to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
       actor_type, actor_id, actor_label, action, object_type, object_id, payload::text
FROM audit_auditevent WHERE chain = %s AND hash IS NOT NULL ORDER BY position, id
"""


def _rows_from_db(chain: str, chunk_size: int = 10_000) -> Iterator[ChainRow]:
    if connection.vendor == "postgresql":
        yield from _rows_from_postgresql(chain, chunk_size)
        return
    events = (
        AuditEvent.objects.sealed()
        .filter(chain=chain)
        .order_by("position", "id")
        .only(*HASHED_FIELDS, "position", "prev_seq", "prev_hash", "hash")
    )
    for event in events.iterator(chunk_size=chunk_size):
        yield ChainRow(
            seq=event.id,
            position=event.position,
            prev_seq=event.prev_seq,
            prev_hash=event.prev_hash,
            hash=event.hash,
            canonical=hashing.event_canonical(event),
        )


def _rows_from_postgresql(chain: str, chunk_size: int) -> Iterator[ChainRow]:
    """The same rows without building model instances: PostgreSQL formats the time as the
    canonical form spells it, so a million-event chain is walked in seconds and flat memory."""
    loads = json.loads
    with connection.chunked_cursor() as cursor:
        cursor.execute(_PG_CHAIN_SQL, [chain])
        while rows := cursor.fetchmany(chunk_size):
            for seq, position, prev_seq, prev_hash, hash_, occurred, *rest in rows:
                actor_type, actor_id, actor_label, action, object_type, object_id, payload = rest
                yield ChainRow(
                    seq=seq,
                    position=position,
                    prev_seq=prev_seq,
                    prev_hash=prev_hash,
                    hash=hash_,
                    canonical=hashing.canonical_event(
                        seq=seq,
                        chain=chain,
                        occurred_at=occurred,
                        actor_type=actor_type,
                        actor_id=actor_id,
                        actor_label=actor_label,
                        action=action,
                        object_type=object_type,
                        object_id=object_id,
                        payload=loads(payload),
                    ),
                )


def _check_against_checkpoints(report: ChainReport) -> None:
    """Events cut from the end of a chain leave no broken link; the checkpoints notice."""
    latest = AuditCheckpoint.objects.filter(chain=report.chain).order_by("-position").first()
    if latest is None:
        return
    if latest.position > report.head_position:
        report.problems.append(
            Problem(
                latest.head_seq,
                "missing",
                report.chain,
                f"the chain ends at position {report.head_position} but was sealed up to "
                f"position {latest.position} (seq {latest.head_seq})",
            )
        )
    elif latest.position == report.head_position and latest.head_hash != report.head_hash:
        report.problems.append(
            Problem(
                report.head_seq,
                "changed",
                report.chain,
                "the head hash differs from the checkpoint taken at "
                f"{latest.created_at:%Y-%m-%d %H:%M:%S}",
            )
        )


def audit_verify(*, chains: Iterable[str] | None = None) -> VerificationReport:
    """Recompute every (or the named) chain; reads the events in chunks."""
    # order_by(): the models' default ordering would otherwise join DISTINCT and return a row
    # per event.
    known = set(AuditEvent.objects.order_by().values_list("chain", flat=True).distinct())
    known |= set(AuditCheckpoint.objects.order_by().values_list("chain", flat=True).distinct())
    selected = sorted(known if chains is None else set(chains))
    reports = []
    for chain in selected:
        report = ChainReport(chain=chain)
        verify_chain_rows(chain, _rows_from_db(chain), report)
        _check_against_checkpoints(report)
        report.unsealed = AuditEvent.objects.unsealed().filter(chain=chain).count()
        reports.append(report)
    return VerificationReport(reports)
