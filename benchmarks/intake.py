"""Intake throughput through the real HTTP API, against COPY as the ceiling.

    .venv/bin/python benchmarks/intake.py [--clients 16] [--workers 2] [--threads 4]
        [--singles 3000] [--batch-rows 100000] [--batch-size 500] [--batch-clients 4]

It creates its own PostgreSQL database (``cs_bench_intake``, dropped first), migrates it,
loads the demo models, starts gunicorn with production settings (DEBUG off, persistent
connections), and drives it from client processes on the same machine:

1. single requests, ``--clients`` concurrent clients, each prediction new;
2. batches of ``--batch-size`` from ``--batch-clients`` concurrent clients;
3. the same batch rows loaded with COPY into a table of the same shape (jsonb inputs,
   unique (model_id, external_id)): the ceiling.

The load generator shares the machine's cores with gunicorn and PostgreSQL; that is part of
what is measured. Everything the intake does is included: envelope and contract checks,
routing, review items and two audit events per prediction.
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing as mp
import os
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from reviewapp.demo_traffic import _loan  # noqa: E402

DB_NAME = "cs_bench_intake"
PG = "postgres://postgres@127.0.0.1:5432"
KEY = "cs_demo_scoring_key_for_the_local_demo_only"
PORT = 8765


def environment() -> dict:
    env = dict(os.environ)
    env.update(
        DATABASE_URL=f"{PG}/{DB_NAME}",
        DEBUG="false",
        SECRET_KEY="benchmark-only-secret",
        ALLOWED_HOSTS="127.0.0.1,localhost",
        CONN_MAX_AGE="600",
        LOG_LEVEL="WARNING",
    )
    return env


def prepare_database() -> None:
    with psycopg.connect(f"{PG}/postgres", autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {DB_NAME}")
    python = sys.executable
    for command in (["migrate", "-v0"], ["seed_demo"]):
        subprocess.run(
            [python, "manage.py", *command],
            cwd=ROOT,
            env=environment(),
            check=True,
            stdout=subprocess.DEVNULL,
        )


def start_gunicorn(workers: int, threads: int) -> subprocess.Popen:
    gunicorn = Path(sys.executable).with_name("gunicorn")
    process = subprocess.Popen(
        [
            str(gunicorn),
            "countersign.wsgi",
            "-b",
            f"127.0.0.1:{PORT}",
            "-w",
            str(workers),
            "--threads",
            str(threads),
            "--worker-class",
            "gthread" if threads > 1 else "sync",
            "--backlog",
            "2048",
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=environment(),
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=2)
            conn.request("GET", "/api/v1/schema/?format=json")
            if conn.getresponse().status == 200:
                return process
        except OSError:
            time.sleep(0.2)
    process.terminate()
    raise SystemExit("gunicorn did not start")


def _client(worker: int, bodies: list[bytes], path: str, out: mp.Queue) -> None:
    """One client process: its own connection per thread, keep-alive, latencies out."""
    latencies: list[float] = []
    statuses: dict[int, int] = {}
    conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=60)
    headers = {"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"}
    for body in bodies:
        started = time.perf_counter()
        conn.request("POST", path, body=body, headers=headers)
        response = conn.getresponse()
        response.read()
        latencies.append(time.perf_counter() - started)
        statuses[response.status] = statuses.get(response.status, 0) + 1
    out.put((latencies, statuses))


def drive(bodies_per_client: list[list[bytes]], path: str) -> dict:
    queue: mp.Queue = mp.Queue()
    processes = [
        mp.Process(target=_client, args=(i, b, path, queue))
        for i, b in enumerate(bodies_per_client)
    ]
    started = time.perf_counter()
    for p in processes:
        p.start()
    results = [queue.get() for _ in processes]
    elapsed = time.perf_counter() - started
    for p in processes:
        p.join()
    latencies = sorted(x for lat, _ in results for x in lat)
    statuses: dict[int, int] = {}
    for _, s in results:
        for code, n in s.items():
            statuses[code] = statuses.get(code, 0) + n
    return {
        "requests": len(latencies),
        "seconds": elapsed,
        "p50_ms": statistics.median(latencies) * 1000,
        "p99_ms": latencies[int(len(latencies) * 0.99) - 1] * 1000,
        "statuses": statuses,
    }


def copy_ceiling(rows: list[dict]) -> float:
    with psycopg.connect(f"{PG}/{DB_NAME}") as conn:
        conn.execute("""
            CREATE TABLE bench_copy (
                id bigserial PRIMARY KEY, model_id bigint NOT NULL, external_id text NOT NULL,
                inputs jsonb NOT NULL, output jsonb, confidence float8 NOT NULL,
                value_amount numeric(18, 2), received_at timestamptz NOT NULL DEFAULT now(),
                UNIQUE (model_id, external_id))""")
        conn.commit()
        started = time.perf_counter()
        with (
            conn.cursor() as cursor,
            cursor.copy(
                "COPY bench_copy (model_id, external_id, inputs, output, confidence, value_amount)"
                " FROM STDIN"
            ) as copy,
        ):
            for row in rows:
                copy.write_row(
                    (
                        1,
                        row["external_id"],
                        json.dumps(row["inputs"]),
                        json.dumps(row["output"]),
                        row["confidence"],
                        row["value_amount"],
                    )
                )
        conn.commit()
        return len(rows) / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--singles", type=int, default=3000)
    parser.add_argument("--batch-rows", type=int, default=100_000)
    parser.add_argument("--batch-size", type=int, default=500)
    parser.add_argument("--batch-clients", type=int, default=4)
    args = parser.parse_args()

    rng = random.Random(42)
    print(f"Preparing database {DB_NAME} ...", flush=True)
    prepare_database()
    server = start_gunicorn(args.workers, args.threads)
    try:
        path = "/api/v1/models/loan-default/predictions"
        singles = [json.dumps(_loan(rng, f"single-{i}")).encode() for i in range(args.singles)]
        warmup = [json.dumps(_loan(rng, f"warm-{i}")).encode() for i in range(100)]
        drive([warmup[i::4] for i in range(4)], path)
        print(f"Single requests: {args.singles} from {args.clients} clients ...", flush=True)
        single = drive([singles[i :: args.clients] for i in range(args.clients)], path)

        rows = [_loan(rng, f"batch-{i}") for i in range(args.batch_rows)]
        batches = [
            json.dumps({"predictions": rows[i : i + args.batch_size]}).encode()
            for i in range(0, len(rows), args.batch_size)
        ]
        print(
            f"Batches: {args.batch_rows} rows in batches of {args.batch_size} from "
            f"{args.batch_clients} clients ...",
            flush=True,
        )
        batch = drive(
            [batches[i :: args.batch_clients] for i in range(args.batch_clients)], path + "/batch"
        )
    finally:
        server.terminate()
        server.wait(timeout=20)
    print("COPY ceiling ...", flush=True)
    ceiling = copy_ceiling(rows)

    single_rate = single["requests"] / single["seconds"]
    batch_rate = args.batch_rows / batch["seconds"]
    print()
    print(
        f"machine: {os.cpu_count()} cores; gunicorn {args.workers} workers x "
        f"{args.threads} threads; PostgreSQL on the same machine"
    )
    print(
        f"single  {single_rate:8.0f} predictions/s  p50 {single['p50_ms']:6.1f} ms  "
        f"p99 {single['p99_ms']:6.1f} ms  ({args.clients} clients)  {single['statuses']}"
    )
    print(
        f"batch   {batch_rate:8.0f} predictions/s  p50 {batch['p50_ms']:6.1f} ms  "
        f"p99 {batch['p99_ms']:6.1f} ms per {args.batch_size}-row batch  "
        f"({args.batch_clients} clients)  {batch['statuses']}"
    )
    print(f"COPY    {ceiling:8.0f} rows/s (ceiling)")
    print(f"batch intake / COPY = {batch_rate / ceiling:.2f}")


if __name__ == "__main__":
    main()
