"""Offline verification of an export: no database, only the file, its manifest and the key.

Checks, in order: the manifest's signature, the file's SHA-256, the row count, and for audit
event exports the hash chains, recomputed from the rows with the same rules the sealer used
(``audit.chain``) and walked by the same code as ``verify_audit``
(``audit.verification.verify_chain_rows``). Rows are read in a stream, so memory stays flat.
"""

from __future__ import annotations

import csv
import gzip
import json
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from audit import chain as hashing
from audit.exports.columns import EVENTS, columns_for
from audit.exports.manifest import manifest_read, signature_ok
from audit.exports.writers import file_sha256
from audit.verification import RECENT_SEQS, ChainReport, ChainRow, verify_chain_rows


@dataclass
class ExportVerification:
    problems: list[str] = field(default_factory=list)
    rows: int = 0
    chains_checked: int = 0
    sealed_rows: int = 0
    unsealed_rows: int = 0
    kind: str = ""

    @property
    def ok(self) -> bool:
        return not self.problems

    def lines(self) -> list[str]:
        if self.ok:
            detail = f"{self.rows} row(s), signature, sha256 and row count match"
            if self.kind == EVENTS:
                detail += (
                    f"; {self.chains_checked} chain(s) recomputed over {self.sealed_rows} sealed "
                    f"event(s), {self.unsealed_rows} not sealed yet (covered by sha256 only)"
                )
            return [f"OK: {detail}"]
        return list(self.problems)


def _iso(value: Any) -> Any:
    return hashing.iso_utc(value) if isinstance(value, datetime) else value


def _rows_csv(path: Path, names: list[str], types: dict[str, str]) -> Iterator[dict]:
    with gzip.open(path, "rt", encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader, None)
        if header != names:
            raise ValueError(f"unexpected CSV header {header!r}")
        for values in reader:
            if len(values) != len(names):
                raise ValueError(f"line {reader.line_num} has {len(values)} fields")
            row = {}
            for name, value in zip(names, values, strict=True):
                kind = types[name]
                if kind == "json":
                    row[name] = json.loads(value) if value != "" else None
                elif kind == "int":
                    row[name] = int(value) if value != "" else None
                else:
                    row[name] = value
            yield row


def _rows_jsonl(path: Path, names: list[str], types: dict[str, str]) -> Iterator[dict]:
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            row = json.loads(line)
            if not isinstance(row, dict) or list(row) != names:
                raise ValueError(f"line {number} does not have the documented columns")
            yield row


def _rows_parquet(path: Path, names: list[str], types: dict[str, str]) -> Iterator[dict]:
    parquet = pq.ParquetFile(path)
    if parquet.schema_arrow.names != names:
        raise ValueError(f"unexpected Parquet columns {parquet.schema_arrow.names!r}")
    json_columns = [name for name in names if types[name] == "json"]
    for batch in parquet.iter_batches(batch_size=10_000):
        for row in batch.to_pylist():
            for name in json_columns:
                if row[name] is not None:
                    row[name] = json.loads(row[name])
            yield {name: _iso(value) for name, value in row.items()}


READERS = {"csv": _rows_csv, "jsonl": _rows_jsonl, "parquet": _rows_parquet}


def export_rows(path: Path, kind: str, fmt: str) -> Iterator[dict]:
    """The rows of an export file as dicts (timestamps as the ISO strings used in hashes)."""
    columns = columns_for(kind)
    names = [c.name for c in columns]
    types = {c.name: c.type for c in columns}
    return READERS[fmt](Path(path), names, types)


def _chain_row(row: dict) -> ChainRow:
    canonical = hashing.canonical_event(
        seq=row["seq"],
        chain=row["chain"],
        occurred_at=row["occurred_at"],
        actor_type=row["actor_type"],
        actor_id=row["actor_id"],
        actor_label=row["actor_label"],
        action=row["action"],
        object_type=row["object_type"],
        object_id=row["object_id"],
        payload=row["payload"],
    )
    return ChainRow(
        seq=row["seq"],
        position=row["position"],
        prev_seq=row["prev_seq"],
        prev_hash=row["prev_hash"] or "",
        hash=row["hash"],
        canonical=canonical,
    )


class _ChainWalker:
    """Feeds each chain's sealed rows, in file order, to ``verify_chain_rows``."""

    def __init__(self, manifest: dict, result: ExportVerification):
        self.expected = {c["chain"]: c for c in manifest.get("chains") or []}
        self.result = result
        self.finished: set[str] = set()
        self.unsealed: dict[str, int] = {}

    def walk(self, rows: Iterator[dict]) -> None:
        self._rows = iter(rows)
        self._next = self._pull()
        while self._next is not None:
            row = self._next
            if not row.get("hash"):
                self.unsealed[row["chain"]] = self.unsealed.get(row["chain"], 0) + 1
                self.result.unsealed_rows += 1
                self._next = self._pull()
                continue
            chain = row["chain"]
            if chain in self.finished:
                self.result.problems.append(
                    f"seq {row['seq']}: out of order (chain {chain}) its rows appear in two "
                    "places in the file"
                )
            self._verify_chain(chain, self._chain_rows(chain))
            self.finished.add(chain)
        self._check_coverage()

    def _pull(self) -> dict | None:
        row = next(self._rows, None)
        if row is not None:
            self.result.rows += 1
        return row

    def _chain_rows(self, chain: str) -> Iterator[ChainRow]:
        """The run of sealed rows of ``chain`` starting at the row in hand."""
        last_position = None
        while self._next is not None and self._next.get("hash") and self._next["chain"] == chain:
            row = self._next
            if last_position is not None and row["position"] <= last_position:
                self.result.problems.append(
                    f"seq {row['seq']}: out of order (chain {chain}) position {row['position']} "
                    f"comes after position {last_position}"
                )
                self._reordered.add(row["seq"])
            last_position = row["position"]
            self._seen.add(row["seq"])
            self._recent.append(row["seq"])
            if len(self._recent) > RECENT_SEQS:
                self._seen.discard(self._recent.popleft())
            self.result.sealed_rows += 1
            yield _chain_row(row)
            self._next = self._pull()

    def _verify_chain(self, chain: str, rows: Iterator[ChainRow]) -> None:
        expected = self.expected.get(chain)
        if expected is None:
            self.result.problems.append(
                f"seq ?: inserted (chain {chain}) this chain is not in the manifest"
            )
            expected = {}
        after = None
        first_position = expected.get("first_position")
        if first_position and first_position > 1:
            after = ChainRow(
                seq=expected.get("start_prev_seq"),
                position=first_position - 1,
                prev_seq=None,
                prev_hash="",
                hash=expected.get("start_prev_hash") or "",
                canonical="",
            )
        report = ChainReport(chain=chain)
        self._seen, self._recent, self._reordered = set(), deque(), set()
        verify_chain_rows(chain, rows, report, after=after)
        self.result.chains_checked += 1
        self.result.problems.extend(
            str(problem) for problem in report.problems if not self._explained(problem)
        )
        last_position = expected.get("last_position")
        if last_position is not None and report.head_position < last_position:
            self.result.problems.append(
                f"seq {expected.get('last_seq')}: missing (chain {chain}) the file ends at "
                f"position {report.head_position} but the export covered up to position "
                f"{last_position}"
            )
        elif last_position is not None and report.head_hash != expected.get("last_hash"):
            self.result.problems.append(
                f"seq {report.head_seq}: changed (chain {chain}) the last hash differs from "
                "the manifest's"
            )

    def _explained(self, problem) -> bool:
        """A row that is in the file but in the wrong place breaks the walk twice or three
        times ("missing" where it should be, "out of order" where it is); the reordered row's
        own line says it better, so those echoes are left out."""
        if problem.kind == "missing":
            return problem.seq is not None and problem.seq in self._seen
        if problem.kind == "out of order":
            return problem.seq in self._reordered
        return False

    def _check_coverage(self) -> None:
        for chain, expected in self.expected.items():
            if expected.get("sealed_rows") and chain not in self.finished:
                self.result.problems.append(
                    f"seq {expected.get('first_seq')}: missing (chain {chain}) all "
                    f"{expected['sealed_rows']} sealed row(s) of this chain are absent"
                )
            found, said = self.unsealed.get(chain, 0), expected.get("unsealed_rows", 0)
            if found != said:
                kind = "missing" if found < said else "inserted"
                self.result.problems.append(
                    f"seq ?: {kind} (chain {chain}) {found} unsealed row(s), the manifest says "
                    f"{said}"
                )


def export_verify(*, file: Path, manifest_file: Path, key: str) -> ExportVerification:
    """Verify an export offline; every problem found is one readable line."""
    result = ExportVerification()
    try:
        manifest = manifest_read(manifest_file)
    except ValueError as error:
        result.problems.append(f"manifest: {error}")
        return result
    kind, fmt = manifest.get("kind"), manifest.get("format")
    result.kind = kind
    if not signature_ok(manifest, key):
        result.problems.append(
            "signature: the manifest's signature does not match (the manifest was changed, or "
            "the key is not the one it was signed with)"
        )
    file = Path(file)
    if not file.is_file():
        result.problems.append(f"file: {file} does not exist")
        return result
    actual = file_sha256(file)
    if actual != manifest.get("sha256"):
        result.problems.append(
            f"sha256: the file's hash is {actual}, the manifest says {manifest.get('sha256')}: "
            "the file is not the one exported"
        )
    if kind not in ("events", "predictions") or fmt not in READERS:
        result.problems.append(f"manifest: unknown kind {kind!r} or format {fmt!r}")
        return result

    rows = export_rows(file, kind, fmt)
    try:
        if kind == EVENTS:
            _ChainWalker(manifest, result).walk(rows)
        else:
            for _row in rows:
                result.rows += 1
    except (OSError, EOFError, ValueError, KeyError, TypeError, gzip.BadGzipFile) as error:
        result.problems.append(f"file: cannot be read past row {result.rows}: {error}")
        return result
    except Exception as error:  # pyarrow raises its own error types for a damaged file
        result.problems.append(f"file: cannot be read past row {result.rows}: {error}")
        return result
    if result.rows != manifest.get("row_count"):
        result.problems.append(
            f"row count: the file has {result.rows} row(s), the manifest says "
            f"{manifest.get('row_count')}"
        )
    return result
