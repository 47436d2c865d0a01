"""Write one export: stream rows from a source into a writer, then sign a manifest beside it.

The file is written under a ``.partial`` name and renamed when complete, so a half-written
export is never mistaken for a finished one, and running the same export twice is harmless.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from audit.chain import iso_utc
from audit.exports import columns as cols
from audit.exports.manifest import SCHEMA, manifest_path_for, manifest_sign, manifest_write
from audit.exports.sources import EventSource, PredictionSource
from audit.exports.writers import COMPRESSION, EXTENSIONS, file_sha256, writer_for
from audit.verification import audit_verify

Progress = Callable[[int, int], None]
logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ExportSpec:
    kind: str
    format: str
    models: list[str] | None = None  # slugs; None means every model (and the _global chain)
    since: datetime | None = None  # inclusive
    until: datetime | None = None  # exclusive
    raw_pii: bool = False
    raw_pii_reason: str = ""

    def filters(self) -> dict[str, Any]:
        return {
            "models": sorted(self.models) if self.models is not None else "all",
            "since": iso_utc(self.since) if self.since else None,
            "until": iso_utc(self.until) if self.until else None,
            "pii": "raw" if self.raw_pii else "masked",
            **({"raw_pii_reason": self.raw_pii_reason} if self.raw_pii else {}),
        }

    def stem(self) -> str:
        scope = "-".join(sorted(self.models)) if self.models else "all"
        since = self.since.strftime("%Y%m%d") if self.since else "start"
        until = self.until.strftime("%Y%m%d") if self.until else "now"
        return f"{self.kind}-{scope[:80]}-{since}-{until}"


@dataclass(frozen=True)
class ExportResult:
    file: Path
    manifest_file: Path
    manifest: dict[str, Any]


def signing_key() -> str:
    return settings.EXPORT_SIGNING_KEY


def _verification_summary(chains: list[str] | None) -> dict[str, Any]:
    report = audit_verify(chains=chains)
    return {
        "ok": report.ok,
        "summary": report.summary_line(),
        "problems": [str(p) for p in report.problems],
        "chains": [
            {
                "chain": c.chain,
                "sealed": c.sealed,
                "unsealed": c.unsealed,
                "head_position": c.head_position,
                "head_seq": c.head_seq,
                "head_hash": c.head_hash,
            }
            for c in report.chains
        ],
    }


@contextmanager
def _snapshot() -> Iterator[str | None]:
    """Read everything an export needs from one snapshot of the database.

    In a REPEATABLE READ transaction the file, the manifest's facts and the chain verification
    agree even while predictions and events keep arriving; and PostgreSQL's named cursors need
    no WITH HOLD copy of the whole result, so rows stream as the query produces them. Inside a
    caller's transaction (tests, a shell), that transaction is the snapshot.
    """
    if connection.in_atomic_block or connection.vendor != "postgresql":
        yield None
        return
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        cursor.execute("SELECT pg_export_snapshot()")
        yield cursor.fetchone()[0]


def _database_url() -> str:
    """DATABASE_URL of the connection in use (the test database under pytest, for one)."""
    db = connection.settings_dict
    user = quote(db.get("USER") or "", safe="")
    password = f":{quote(db['PASSWORD'], safe='')}" if db.get("PASSWORD") else ""
    host = db.get("HOST") or "localhost"
    port = f":{db['PORT']}" if db.get("PORT") else ""
    return f"postgres://{user}{password}@{host}{port}/{quote(db['NAME'], safe='')}"


class _ParallelVerification:
    """``verify_audit`` in a second process that reads the export's own snapshot.

    Recomputing a chain is Python work as long as writing the file; on two cores the two halves
    overlap. The child imports the snapshot with SET TRANSACTION SNAPSHOT, so it verifies
    exactly the database the file was read from. Should the child fail, the verification runs
    here, as it would without a snapshot.
    """

    def __init__(self, snapshot: str | None, chains: list[str] | None):
        self.chains = chains
        self.process = None
        # Closed in result(); a file, so a chatty child never blocks on a full pipe.
        self._errors = tempfile.TemporaryFile(mode="w+")  # noqa: SIM115
        if snapshot is None:
            return
        env = {
            **os.environ,
            "DATABASE_URL": _database_url(),
            "DJANGO_SETTINGS_MODULE": os.environ.get(
                "DJANGO_SETTINGS_MODULE", "countersign.settings"
            ),
        }
        try:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "audit.exports.verify_snapshot",
                    snapshot,
                    json.dumps(chains),
                ],
                cwd=settings.BASE_DIR,
                env=env,
                stdout=subprocess.PIPE,
                stderr=self._errors,
                text=True,
            )
        except OSError:
            logger.warning("could not start the parallel verification", exc_info=True)

    def result(self) -> dict[str, Any]:
        try:
            if self.process is not None:
                out, _ = self.process.communicate()
                if self.process.returncode == 0:
                    try:
                        return json.loads(out.strip().splitlines()[-1])
                    except (ValueError, IndexError):
                        pass
                self._errors.seek(0)
                logger.warning(
                    "parallel verification failed, verifying here: %s", self._errors.read()[-500:]
                )
        finally:
            self._errors.close()
        return _verification_summary(self.chains)


def export_write(
    *,
    spec: ExportSpec,
    directory: Path,
    generated_by: str,
    file_stem: str | None = None,
    progress: Progress | None = None,
    key: str | None = None,
    extra: dict[str, Any] | None = None,
) -> ExportResult:
    """Write the file and its signed manifest into ``directory``; return both paths."""
    if spec.kind not in cols.KINDS:
        raise ValueError(f"unknown export kind {spec.kind!r}")
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    final = directory / f"{file_stem or spec.stem()}{EXTENSIONS[spec.format]}"
    partial = final.with_name(final.name + ".partial")

    # Which chains the manifest's verify_audit covers: the exported models' chains (every chain
    # when the export is of every model).
    verified_chains = sorted(spec.models) if spec.models is not None else None
    with _snapshot() as snapshot:
        verification = _ParallelVerification(snapshot, verified_chains)
        writer = writer_for(spec.format, partial, cols.columns_for(spec.kind))
        if spec.kind == cols.EVENTS:
            source = EventSource(
                chains=spec.models, since=spec.since, until=spec.until, rendering=writer.rendering
            )
        else:
            source = PredictionSource(
                models=spec.models,
                since=spec.since,
                until=spec.until,
                raw_pii=spec.raw_pii,
                rendering=writer.rendering,
            )
        total = source.estimated_rows()
        done = 0
        if progress:
            progress(0, total)
        with writer:
            for chunk in source.chunks():
                writer.write(chunk)
                done += len(chunk)
                if progress:
                    progress(done, max(total, done))
        os.replace(partial, final)

        facts = source.facts
        if spec.kind == cols.EVENTS:
            covered = [
                c.as_manifest() for c in sorted(facts.chains.values(), key=lambda c: c.chain)
            ]
        else:
            covered = []
        verify_result = verification.result()

    manifest: dict[str, Any] = {
        "schema": SCHEMA,
        "kind": spec.kind,
        "format": spec.format,
        "compression": COMPRESSION[spec.format],
        "file": final.name,
        "filters": spec.filters(),
        "row_count": facts.row_count,
        "time_span": {
            "field": "occurred_at" if spec.kind == cols.EVENTS else "received_at",
            "first": iso_utc(facts.first_time) if facts.first_time else None,
            "last": iso_utc(facts.last_time) if facts.last_time else None,
        },
        "columns": cols.describe(spec.kind),
        "sha256": file_sha256(final),
        "size_bytes": final.stat().st_size,
        "chains": covered,
        "verify_audit": verify_result,
        "generated_by": generated_by,
        "generated_at": iso_utc(timezone.now()),
    }
    if spec.kind == cols.PREDICTIONS:
        manifest["pii_masked_fields"] = [] if spec.raw_pii else source.masked_fields
    if extra:
        manifest.update(extra)
    manifest = manifest_sign(manifest, key or signing_key())
    manifest_file = manifest_path_for(final)
    manifest_write(manifest_file, manifest)
    return ExportResult(final, manifest_file, manifest)
