"""Benchmark: export 100,000 and 1,000,000 audit events and predictions to each format.

    .venv/bin/python benchmarks/export.py                 # generate (COPY) and measure
    .venv/bin/python benchmarks/export.py --reuse         # measure on the data generated before
    .venv/bin/python benchmarks/export.py --sizes 100000  # a quick run

It uses its own database (BENCH_DATABASE_URL, default postgres://postgres@127.0.0.1:5432/
cs_bench_export), dropped and re-created unless --reuse. Two models hold the data: bench-100k
and bench-1m, each with that many sealed audit events (valid hash chain, checkpoint) and that
many predictions (a tenth decided, a twentieth with an outcome, an x-pii email field masked in
the export). Each export runs in a fresh subprocess that reports its own wall time and peak
resident memory (resource.getrusage), so one run's memory cannot hide in another's. The time
includes everything a real export does: the query, the conversion, compression, the file's
SHA-256, ``verify_audit`` of the model's chain for the manifest (in a second process on the
same snapshot; the time spent waiting for it after the file is written is shown too), and
signing. Peak memory is the exporting process's (the verifying process has its own, similar).
Figures go to stdout as a Markdown table for docs/performance.md.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/cs_bench_export"
SIZES = {"bench-100k": 100_000, "bench-1m": 1_000_000}
FORMATS = ("csv", "jsonl", "parquet")
KINDS = ("events", "predictions")


def _env(url: str) -> dict:
    return {
        **os.environ,
        "DATABASE_URL": url,
        "DEBUG": "false",
        "SECRET_KEY": "benchmark-only",
        "EXPORT_SIGNING_KEY": "benchmark-only",
    }


# --- generation -----------------------------------------------------------------------------


def generate(url: str, sizes: dict[str, int]) -> None:
    import psycopg

    admin_url, _, name = url.rpartition("/")
    with psycopg.connect(f"{admin_url}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "-v", "0"], cwd=ROOT, env=_env(url), check=True
    )
    sys.path.insert(0, str(ROOT))
    from audit import chain as hashing

    contract = {
        "type": "object",
        "properties": {"income": {"type": "number"}, "email": {"type": "string", "x-pii": True}},
    }
    base = datetime(2026, 1, 1, tzinfo=UTC)
    with psycopg.connect(url) as conn:
        user_id = conn.execute(
            "INSERT INTO auth_user (password, is_superuser, username, first_name, last_name, "
            "email, is_staff, is_active, date_joined) VALUES ('!', false, 'bench', '', '', '', "
            "false, true, now()) RETURNING id"
        ).fetchone()[0]
        seq = 0
        prediction_id = 0
        for slug, count in sizes.items():
            started = time.monotonic()
            model_id = conn.execute(
                "INSERT INTO models_registry_mlmodel (slug, name, description, owner_id, "
                "required_signoffs, lease_seconds, alert_escalation_seconds, review_hourly_cost,"
                " callback_url, callback_secret, pipeline_webhook_url, pipeline_webhook_secret, "
                "created_at, updated_at) VALUES (%s, %s, '', %s, 1, 600, 3600, 60, '', '', '', "
                "'', now(), now()) RETURNING id",
                (slug, slug, user_id),
            ).fetchone()[0]
            version_id = conn.execute(
                "INSERT INTO models_registry_modelversion (model_id, label, status, "
                "input_contract, output_spec, metrics, artifact_uri, training_data_ref, "
                "code_version, notes, created_at, updated_at) VALUES (%s, 'v1', 'active', %s, "
                "'{}', '{}', '', '', '', '', now(), now()) RETURNING id",
                (model_id, json.dumps(contract)),
            ).fetchone()[0]

            prev_hash, prev_seq = hashing.GENESIS_HASH, None
            with conn.cursor().copy(
                "COPY audit_auditevent (id, occurred_at, actor_type, actor_id, actor_label, "
                "action, object_type, object_id, model_id, chain, payload, position, prev_seq, "
                "prev_hash, hash, sealed_at) FROM STDIN"
            ) as copy:
                for position in range(1, count + 1):
                    seq += 1
                    occurred = base + timedelta(milliseconds=position * 10)
                    payload = {
                        "external_id": f"{slug}-{position}",
                        "version": "v1",
                        "status": "in_review" if position % 10 == 0 else "auto_accepted",
                        "needs_review": position % 10 == 0,
                        "reasons": [],
                        "contract_violations": [],
                    }
                    canonical = hashing.canonical_event(
                        seq=seq,
                        chain=slug,
                        occurred_at=occurred,
                        actor_type="service",
                        actor_id="1",
                        actor_label="service key bench",
                        action="prediction.routed",
                        object_type="reviewapp.prediction",
                        object_id=str(position),
                        payload=payload,
                    )
                    digest = hashing.link_hash(prev_hash, position, canonical)
                    copy.write_row(
                        (
                            seq, occurred, "service", "1", "service key bench",
                            "prediction.routed", "reviewapp.prediction", str(position), model_id,
                            slug, json.dumps(payload), position, prev_seq, prev_hash, digest,
                            occurred,
                        )
                    )  # fmt: skip
                    prev_hash, prev_seq = digest, seq
            conn.execute(
                "INSERT INTO audit_auditchain (key, head_position, head_seq, head_hash, "
                "sealed_at) VALUES (%s, %s, %s, %s, now())",
                (slug, count, prev_seq, prev_hash),
            )
            conn.execute(
                "INSERT INTO audit_auditcheckpoint (chain, position, head_seq, head_hash, "
                "sealed_count, created_at) VALUES (%s, %s, %s, %s, %s, now())",
                (slug, count, prev_seq, prev_hash, count),
            )

            first_prediction = prediction_id + 1
            with conn.cursor().copy(
                "COPY reviewapp_prediction (id, model_id, version_id, external_id, inputs, output,"
                " confidence, value_amount, occurred_at, received_at, context, status, "
                "needs_review, routing_reasons, contract_violations, content_hash) FROM STDIN"
            ) as copy:
                for index in range(count):
                    prediction_id += 1
                    received = base + timedelta(milliseconds=index * 10)
                    review = index % 10 == 0
                    copy.write_row(
                        (
                            prediction_id, model_id, version_id, f"{slug}-{index}",
                            json.dumps({"income": 1000 + index % 5000,
                                        "email": f"person{index}@example.com"}),
                            '"approve"', 0.4 if review else 0.93,
                            "25000.00" if review else "1200.50", received, received, "{}",
                            "decided" if review else "auto_accepted", review,
                            json.dumps([{"rule": "low_confidence", "confidence": 0.4,
                                         "threshold": 0.6}] if review else []),
                            "[]", f"{index:064x}",
                        )
                    )  # fmt: skip
            with conn.cursor().copy(
                "COPY reviewapp_decision (id, prediction_id, action, final_output, decided_by, "
                "decided_at, comment, reason) FROM STDIN"
            ) as copy:
                for index in range(0, count, 10):
                    pid = first_prediction + index
                    copy.write_row(
                        (pid, pid, "override", '"decline"', '["carol"]',
                         base + timedelta(milliseconds=index * 10, minutes=5),
                         "income not verified", "")
                    )  # fmt: skip
            with conn.cursor().copy(
                "COPY reviewapp_outcome (id, prediction_id, actual, observed_at, recorded_at) "
                "FROM STDIN"
            ) as copy:
                for index in range(0, count, 20):
                    pid = first_prediction + index
                    copy.write_row((pid, pid, '"decline"', base, base))
            conn.commit()
            print(
                f"generated {count} events and {count} predictions for {slug} in "
                f"{time.monotonic() - started:.0f} s",
                file=sys.stderr,
            )
        for table in ("audit_auditevent", "reviewapp_prediction", "reviewapp_decision",
                      "reviewapp_outcome"):  # fmt: skip
            conn.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"(SELECT max(id) FROM {table}))"
            )
        conn.commit()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")


# --- one measured run (in its own process) ---------------------------------------------------


def run_one(kind: str, fmt: str, slug: str, out: str) -> None:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "countersign.settings")
    import django

    django.setup()
    from audit.exports import build

    # verify_audit runs in a second process while the file is written; what is left to wait
    # for once the file is complete is the part that did not overlap.
    verify_seconds = []
    original = build._ParallelVerification.result

    def timed(self):
        started = time.monotonic()
        try:
            return original(self)
        finally:
            verify_seconds.append(time.monotonic() - started)

    build._ParallelVerification.result = timed
    started = time.monotonic()
    result = build.export_write(
        spec=build.ExportSpec(kind=kind, format=fmt, models=[slug]),
        directory=Path(out),
        generated_by="benchmark",
    )
    seconds = time.monotonic() - started
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(
        json.dumps(
            {
                "seconds": seconds,
                "verify_audit_seconds": sum(verify_seconds),
                "peak_mib": peak_kib / 1024,
                "rows": result.manifest["row_count"],
                "bytes": result.file.stat().st_size,
                "file": str(result.file),
                "manifest": str(result.manifest_file),
            }
        )
    )


def verify_one(file: str, manifest: str) -> None:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "countersign.settings")
    import django

    django.setup()
    from audit.exports.verify import export_verify

    started = time.monotonic()
    result = export_verify(file=Path(file), manifest_file=Path(manifest), key="benchmark-only")
    print(
        json.dumps(
            {
                "seconds": time.monotonic() - started,
                "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                "ok": result.ok,
                "lines": result.lines()[:3],
            }
        )
    )


def _child(args: list[str], url: str) -> dict:
    done = subprocess.run(
        [sys.executable, __file__, *args],
        cwd=ROOT,
        env=_env(url),
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode:
        raise SystemExit(f"{' '.join(args)} failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default=os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL))
    parser.add_argument("--reuse", action="store_true", help="Keep the generated database.")
    parser.add_argument("--sizes", default="100000,1000000")
    parser.add_argument("--run", nargs=4, metavar=("KIND", "FORMAT", "SLUG", "OUT"))
    parser.add_argument("--verify", nargs=2, metavar=("FILE", "MANIFEST"))
    args = parser.parse_args()
    if args.run:
        return run_one(*args.run)
    if args.verify:
        return verify_one(*args.verify)

    wanted = {int(s) for s in args.sizes.split(",")}
    sizes = {slug: n for slug, n in SIZES.items() if n in wanted}
    if not args.reuse:
        generate(args.url, sizes)
    print(
        "| kind | format | rows | seconds | of which waiting for verify_audit | peak memory "
        "| file size |"
    )
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: |")
    with tempfile.TemporaryDirectory(prefix="cs-bench-export-") as out:
        largest = {}
        for kind in KINDS:
            for fmt in FORMATS:
                for slug, count in sizes.items():
                    figures = _child(["--run", kind, fmt, slug, out], args.url)
                    print(
                        f"| {kind} | {fmt} | {figures['rows']:,} | {figures['seconds']:.1f} s "
                        f"| {figures['verify_audit_seconds']:.1f} s | "
                        f"{figures['peak_mib']:.0f} MiB | {figures['bytes'] / 2**20:.1f} MiB |",
                        flush=True,
                    )
                    if kind == "events" and count == max(sizes.values()):
                        largest[fmt] = figures
        print()
        print("| verify_export (offline), events | rows | seconds | peak memory | result |")
        print("| --- | ---: | ---: | ---: | --- |")
        for fmt, figures in largest.items():
            checked = _child(["--verify", figures["file"], figures["manifest"]], args.url)
            print(
                f"| {fmt} | {figures['rows']:,} | {checked['seconds']:.1f} s | "
                f"{checked['peak_mib']:.0f} MiB | {checked['lines'][0][:60]} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
