"""Benchmark: the review queue under eight concurrent reviewers, on PostgreSQL.

    .venv/bin/python benchmarks/queue.py          # 1,000,000 waiting items, 20 s a phase
    .venv/bin/python benchmarks/queue.py --items 200000 --seconds 10 --workers 8

It (re)creates its own database (``cs_bench_queue`` by default; never the one in DATABASE_URL),
migrates it, fills it with waiting review items using ``INSERT ... SELECT generate_series``,
then runs four phases, each with one OS process per reviewer released at the same instant:

1. service layer: ``review_item_claim_next`` then ``review_action_record(action="approve")``
   in a loop (audit events, ReviewAction, Decision, statuses: everything a reviewer causes);
2. service layer, claims only (``review_item_claim_next`` with its audit event);
3. the service layer's claim statement alone, sent from psycopg as a prepared statement (what
   the claim costs PostgreSQL, without Django and without planning);
4. bare SQL ceiling: one ``UPDATE ... WHERE id = (SELECT ... FOR UPDATE SKIP LOCKED LIMIT 1)
   RETURNING id`` per claim, autocommit, nothing else.

It prints claims per second, claim latency percentiles, and checks that no item was claimed
twice (per phase, from what the workers report and from the database). Figures go in
docs/performance.md under "Review queue".
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# Run as a script, this file's folder comes first on sys.path, and this file (queue.py) would
# shadow the standard library's ``queue`` for everything imported after it.
if sys.path and Path(sys.path[0] or ".").resolve() == ROOT / "benchmarks":
    sys.path.pop(0)
sys.path.insert(0, str(ROOT))

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import time  # noqa: E402

SERVER = "postgres://postgres@127.0.0.1:5432"

BARE_CLAIM = """
UPDATE reviewapp_reviewitem
   SET claimed_by_id = %(user)s, claimed_at = now(),
       lease_expires_at = now() + interval '10 minutes'
 WHERE id = (SELECT id FROM reviewapp_reviewitem
              WHERE status = 'pending' AND model_id = %(model)s AND claimed_by_id IS NULL
              ORDER BY priority DESC, due_at ASC
              LIMIT 1 FOR UPDATE SKIP LOCKED)
RETURNING id
"""


def percentile(values: list[float], share: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(share * (len(ordered) - 1))))]


def _django(database: str) -> None:
    os.environ["DATABASE_URL"] = f"{SERVER}/{database}"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "countersign.settings")
    os.environ.setdefault("SECRET_KEY", "benchmark-only")
    os.environ["LOG_LEVEL"] = "WARNING"
    import django

    django.setup()


def _wait_until(start_at: float) -> None:
    while time.time() < start_at:
        time.sleep(0.005)


def worker_service(args) -> dict:
    _django(args.database)
    from django.contrib.auth import get_user_model

    from reviewapp.services.decisions import review_action_record
    from reviewapp.services.queue import review_item_claim_next

    user = get_user_model().objects.get(username=args.user)
    claimed, claim_ms, decide_ms = [], [], []
    _wait_until(args.start_at)
    end = args.start_at + args.seconds
    decide = args.worker == "service"
    while time.time() < end:
        t0 = time.perf_counter()
        item = review_item_claim_next(user=user)
        t1 = time.perf_counter()
        if item is None:
            break
        claimed.append(item.pk)
        claim_ms.append((t1 - t0) * 1000)
        if decide:
            review_action_record(user=user, item=item, action="approve")
            decide_ms.append((time.perf_counter() - t1) * 1000)
    return {"claimed": claimed, "claim_ms": claim_ms, "decide_ms": decide_ms}


def worker_sql(args) -> dict:
    import psycopg

    claimed, claim_ms = [], []
    with psycopg.connect(f"{SERVER}/{args.database}", autocommit=True) as conn:
        cursor = conn.cursor()
        user = cursor.execute(
            "SELECT id FROM auth_user WHERE username = %s", [args.user]
        ).fetchone()[0]
        model = cursor.execute(
            "SELECT id FROM models_registry_mlmodel WHERE slug = 'bench'"
        ).fetchone()[0]
        _wait_until(args.start_at)
        end = args.start_at + args.seconds
        while time.time() < end:
            t0 = time.perf_counter()
            row = cursor.execute(BARE_CLAIM, {"user": user, "model": model}).fetchone()
            claim_ms.append((time.perf_counter() - t0) * 1000)
            if row is None:
                break
            claimed.append(row[0])
    return {"claimed": claimed, "claim_ms": claim_ms, "decide_ms": []}


def worker_statement(args) -> dict:
    """The service layer's own claim statement (claim and audit events), sent from psycopg as
    a prepared statement: what the claim costs PostgreSQL, without Django or planning."""
    _django(args.database)
    from datetime import UTC, datetime

    import psycopg

    from audit.actors import Actor
    from audit.models import ActorType
    from reviewapp.services.queue import pg_claim_params, pg_claim_sql

    sql = pg_claim_sql(by_id=False, skipping=False)
    claimed, claim_ms = [], []
    with psycopg.connect(f"{SERVER}/{args.database}", autocommit=True) as conn:
        cursor = psycopg.Cursor(conn)
        user = cursor.execute(
            "SELECT id FROM auth_user WHERE username = %s", [args.user]
        ).fetchone()[0]
        claimant = Actor(type=ActorType.USER, id=str(user), label=args.user)
        _wait_until(args.start_at)
        end = args.start_at + args.seconds
        while time.time() < end:
            t0 = time.perf_counter()
            params = pg_claim_params(user_id=user, claimant=claimant, now=datetime.now(UTC))
            row = cursor.execute(sql, params, prepare=True).fetchone()
            claim_ms.append((time.perf_counter() - t0) * 1000)
            if row is None:
                break
            claimed.append(row[0])
    return {"claimed": claimed, "claim_ms": claim_ms, "decide_ms": []}


def create_database(database: str) -> None:
    import psycopg

    with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{database}"')
    env = dict(os.environ, DATABASE_URL=f"{SERVER}/{database}", SECRET_KEY="benchmark-only")
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--verbosity", "0"], cwd=ROOT, env=env, check=True
    )


def fill(database: str, items: int, workers: int) -> None:
    _django(database)
    from django.db import connection

    from tests.factories import (
        MLModelFactory,
        ModelVersionFactory,
        RoutingPolicyFactory,
        UserFactory,
    )

    owner = UserFactory(username="bench-owner")
    model = MLModelFactory(slug="bench", name="Benchmark", owner=owner)
    version = ModelVersionFactory(model=model, label="v1")
    RoutingPolicyFactory(version=version)
    for n in range(workers):
        model.reviewers.add(UserFactory(username=f"bench-reviewer-{n}"))
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO reviewapp_prediction (model_id, version_id, external_id, inputs, output,
                confidence, value_amount, occurred_at, received_at, context, status, is_shadow,
                needs_review, routing_reasons, contract_violations, content_hash,
                submitted_by_key_id)
            SELECT %(model)s, %(version)s, 'bench-' || g,
                   jsonb_build_object('applicant_age', 20 + g %% 60, 'income', 1000 * (g %% 90),
                       'employment', (ARRAY['employed','self_employed','unemployed'])[1 + g %% 3]),
                   '"approve"'::jsonb, 0.3, NULL, NULL, now(), '{}'::jsonb, 'in_review',
                   false, true,
                   '[{"rule": "low_confidence", "confidence": 0.3, "threshold": 0.6}]'::jsonb,
                   '[]'::jsonb, md5(g::text) || md5(g::text), NULL
              FROM generate_series(1, %(items)s) AS g
            """,
            {"model": model.pk, "version": version.pk, "items": items},
        )
        cursor.execute(
            """
            INSERT INTO reviewapp_reviewitem (prediction_id, model_id, status, priority, due_at,
                created_at, stage, required_reviews, escalation_reason)
            SELECT p.id, p.model_id, 'pending', (p.id %% 4) * 25,
                   now() + interval '4 hours' + (p.id %% 3600) * interval '1 second', now(),
                   'review', 1, ''
              FROM reviewapp_prediction p WHERE p.model_id = %(model)s
            """,
            {"model": model.pk},
        )
        # What autovacuum would have done by the time a real queue is this full (and it is
        # off on some machines): hint bits set and the visibility map current, so the first
        # claims do not pay for writing them.
        cursor.execute("VACUUM ANALYZE reviewapp_prediction")
        cursor.execute("VACUUM ANALYZE reviewapp_reviewitem")


def run_phase(kind: str, args) -> dict:
    start_at = time.time() + args.startup
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                __file__,
                "--worker",
                kind,
                "--user",
                f"bench-reviewer-{n}",
                "--start-at",
                str(start_at),
                "--seconds",
                str(args.seconds),
                "--database",
                args.database,
            ],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            text=True,
        )
        for n in range(args.workers)
    ]
    results = []
    for proc in procs:
        out, _ = proc.communicate()
        if proc.returncode != 0:
            raise SystemExit(f"a {kind} worker failed")
        results.append(json.loads(out.strip().splitlines()[-1]))
    claimed = [pk for r in results for pk in r["claimed"]]
    claim_ms = [ms for r in results for ms in r["claim_ms"]]
    decide_ms = [ms for r in results for ms in r["decide_ms"]]
    return {
        "phase": kind,
        "claims": len(claimed),
        "per_second": len(claimed) / args.seconds,
        "double_claims": len(claimed) - len(set(claimed)),
        "claim_p50_ms": percentile(claim_ms, 0.50),
        "claim_p99_ms": percentile(claim_ms, 0.99),
        "decide_p50_ms": percentile(decide_ms, 0.50) if decide_ms else None,
        "decide_p99_ms": percentile(decide_ms, 0.99) if decide_ms else None,
        "claim_mean_ms": statistics.fmean(claim_ms) if claim_ms else None,
    }


def reuse(database: str) -> None:
    import psycopg

    with psycopg.connect(f"{SERVER}/{database}", autocommit=True) as conn:
        conn.execute(
            "UPDATE reviewapp_reviewitem SET claimed_by_id = NULL, lease_expires_at = NULL, "
            "claimed_at = NULL WHERE status = 'pending' AND claimed_by_id IS NOT NULL"
        )
        conn.execute("VACUUM ANALYZE reviewapp_reviewitem")
        waiting = conn.execute(
            "SELECT count(*) FROM reviewapp_reviewitem WHERE status = 'pending'"
        ).fetchone()[0]
    print(f"reusing {database}: {waiting:,} items waiting", flush=True)


def last_event_id(database: str) -> int:
    import psycopg

    with psycopg.connect(f"{SERVER}/{database}") as conn:
        return conn.execute("SELECT coalesce(max(id), 0) FROM audit_auditevent").fetchone()[0]


def database_checks(database: str, since_event_id: int) -> dict:
    """What the database says about one phase: items with two ``review.claimed`` events
    among the events the phase wrote (earlier runs of ``--reuse`` claimed and let go of
    items too), and whether every decision has its action."""
    import psycopg

    with psycopg.connect(f"{SERVER}/{database}") as conn:
        twice = conn.execute(
            "SELECT count(*) FROM (SELECT object_id FROM audit_auditevent "
            "WHERE action = 'review.claimed' AND id > %s "
            "GROUP BY object_id HAVING count(*) > 1) t",
            [since_event_id],
        ).fetchone()[0]
        decisions = conn.execute("SELECT count(*) FROM reviewapp_decision").fetchone()[0]
        actions = conn.execute("SELECT count(*) FROM reviewapp_reviewaction").fetchone()[0]
        waiting = conn.execute(
            "SELECT count(*) FROM reviewapp_reviewitem WHERE status = 'pending'"
        ).fetchone()[0]
    return {
        "items_claimed_twice_per_audit": twice,
        "decisions": decisions,
        "review_actions": actions,
        "still_waiting": waiting,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=1_000_000)
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--startup", type=float, default=10.0, help="time to let workers boot")
    parser.add_argument("--database", default="cs_bench_queue")
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="keep the database of an earlier run (leases are cleared; decided items stay)",
    )
    parser.add_argument("--worker", choices=["service", "claim", "statement", "sql"])
    parser.add_argument("--user")
    parser.add_argument("--start-at", type=float)
    args = parser.parse_args()
    if args.worker:
        workers = {"sql": worker_sql, "statement": worker_statement}
        result = workers.get(args.worker, worker_service)(args)
        print(json.dumps(result))
        return

    clock = time.monotonic()
    if args.reuse:
        reuse(args.database)
    else:
        create_database(args.database)
        fill(args.database, args.items, args.workers)
        print(f"filled {args.items:,} items in {time.monotonic() - clock:.0f} s", flush=True)
    since = last_event_id(args.database)
    service = run_phase("service", args)
    checks = database_checks(args.database, since)
    print(json.dumps(service, indent=2), json.dumps(checks, indent=2), flush=True)
    since = last_event_id(args.database)
    claim_only = run_phase("claim", args)
    claim_checks = database_checks(args.database, since)
    print(json.dumps(claim_only, indent=2), json.dumps(claim_checks, indent=2), flush=True)
    reuse(args.database)
    since = last_event_id(args.database)
    statement = run_phase("statement", args)
    statement_checks = database_checks(args.database, since)
    print(json.dumps(statement, indent=2), json.dumps(statement_checks, indent=2), flush=True)
    reuse(args.database)
    bare = run_phase("sql", args)
    print(json.dumps(bare, indent=2), flush=True)
    ok = (
        service["double_claims"] == 0
        and bare["double_claims"] == 0
        and claim_only["double_claims"] == 0
        and statement["double_claims"] == 0
        and statement_checks["items_claimed_twice_per_audit"] == 0
        and checks["items_claimed_twice_per_audit"] == 0
        and claim_checks["items_claimed_twice_per_audit"] == 0
        and checks["review_actions"] == checks["decisions"]
    )
    print(
        f"\nservice layer: {service['per_second']:.0f} claims/s (claim+decide), "
        f"claim p99 {service['claim_p99_ms']:.1f} ms, decide p99 {service['decide_p99_ms']:.1f} ms"
        f"\nservice claim only: {claim_only['per_second']:.0f} claims/s, claim p99 "
        f"{claim_only['claim_p99_ms']:.1f} ms"
        f"\nclaim statement, prepared, from psycopg: {statement['per_second']:.0f} claims/s, "
        f"claim p99 {statement['claim_p99_ms']:.1f} ms"
        f"\nbare SQL:      {bare['per_second']:.0f} claims/s, claim p99 "
        f"{bare['claim_p99_ms']:.1f} ms\nno double claims: {ok}"
        f"\ntotal {time.monotonic() - clock:.0f} s"
    )
    if not ok:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
