"""A real django-q2 worker killed in the middle of a promotion, then restarted.

The test holds a lock on the audit table so the worker's promotion transaction stops after it
has retired v1 and activated v2 but before it can commit; the worker's whole process group is
then killed. Nothing of the half-done promotion may survive, and the restarted worker, given
the task again by the ORM broker once its lease runs out, must finish it exactly once.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pytest
from django.conf import settings
from django.db import connection
from django_q.brokers.orm import ORM
from django_q.conf import Conf
from django_q.models import OrmQ, Schedule
from django_q.tasks import async_task

from audit.models import AuditEvent
from models_registry.models import ModelVersion, RetrainingRequest, RetrainingStatus
from tests.models_registry.test_retraining_promotion import approved_request
from tests.real_parts import qcluster_env

pytest_plugins = ["tests.models_registry.retraining_fixtures"]

BASE_DIR = Path(settings.BASE_DIR)
LEASE_SECONDS = 5


def _raw_connection():
    params = connection.get_connection_params()
    params.pop("cursor_factory", None)
    params.pop("context", None)
    params.pop("prepare_threshold", None)
    return psycopg.connect(**{k: v for k, v in params.items() if v not in (None, "")})


def _start_cluster(log: Path, labels_dir: Path) -> subprocess.Popen:
    # The ORM broker (no REDIS_URL): it hands an unacknowledged task out again.
    env = qcluster_env(
        Q_RETRY_SECONDS=str(LEASE_SECONDS),
        Q_TIMEOUT_SECONDS=str(LEASE_SECONDS - 1),
        RETRAINING_LABELS_DIR=str(labels_dir),
        SECRET_KEY=settings.SECRET_KEY,
    )
    return subprocess.Popen(
        [sys.executable, "manage.py", "qcluster"],
        cwd=BASE_DIR,
        env=env,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group, so the test can kill all of it
    )


def _stop(process: subprocess.Popen, sig=signal.SIGTERM) -> None:
    if process.poll() is None:
        os.killpg(process.pid, sig)
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=5)


def _wait_for(condition, timeout: float, what: str, log: Path):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}; worker log:\n{log.read_text()[-3000:]}")


def _backend_waiting_on_audit(cursor) -> int | None:
    cursor.execute(
        "SELECT l.pid FROM pg_locks l JOIN pg_class c ON c.oid = l.relation "
        "WHERE NOT l.granted AND c.relname = %s",
        [AuditEvent._meta.db_table],
    )
    row = cursor.fetchone()
    return row[0] if row else None


def _backend_gone(cursor, pid: int) -> bool:
    cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = %s", [pid])
    return cursor.fetchone()[0] == 0


@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_mid_promotion_leaves_a_consistent_state_and_the_retry_finishes(
    owner, backup_owner, loan_model, pipeline_client, tasks_inline, tmp_path, labels_dir
):
    Schedule.objects.all().delete()  # only our task runs in this cluster
    request = approved_request(owner, backup_owner, loan_model, pipeline_client, tasks_inline)
    OrmQ.objects.all().delete()
    async_task(
        "models_registry.retraining.tasks.promote",
        request.pk,
        broker=ORM(list_key=Conf.CLUSTER_NAME),
    )
    log = tmp_path / "qcluster.log"

    blocker = _raw_connection()
    observer = _raw_connection()
    observer.autocommit = True
    cluster = _start_cluster(log, labels_dir)
    try:
        with blocker.cursor() as cursor:
            cursor.execute(f"LOCK TABLE {AuditEvent._meta.db_table} IN SHARE MODE")
        with observer.cursor() as cursor:
            pid = _wait_for(
                lambda: _backend_waiting_on_audit(cursor), 30, "the promotion to block", log
            )
            # The worker is inside its transaction: v1 retired and v2 active, uncommitted.
            os.killpg(cluster.pid, signal.SIGKILL)
            cluster.wait(timeout=10)
            blocker.rollback()
            _wait_for(lambda: _backend_gone(cursor, pid), 30, "the dead worker's backend", log)
    finally:
        blocker.close()
        _stop(cluster, signal.SIGKILL)

    statuses = dict(ModelVersion.objects.filter(model=loan_model).values_list("label", "status"))
    assert statuses == {"v1": "active", "v2": "candidate"}
    request.refresh_from_db()
    assert request.status == RetrainingStatus.APPROVED
    assert not AuditEvent.objects.filter(action__in=["retraining.promoted", "version.activated"])

    restarted = _start_cluster(log, labels_dir)
    try:
        _wait_for(
            lambda: (
                RetrainingRequest.objects.get(pk=request.pk).status == RetrainingStatus.PROMOTED
            ),
            60,
            "the retried promotion",
            log,
        )
    finally:
        _stop(restarted)
        observer.close()

    statuses = dict(ModelVersion.objects.filter(model=loan_model).values_list("label", "status"))
    assert statuses == {"v1": "retired", "v2": "active"}
    assert AuditEvent.objects.filter(action="retraining.promoted").count() == 1
    assert AuditEvent.objects.filter(action="version.activated").count() == 1
    request.refresh_from_db()
    assert request.previous_version.label == "v1"
