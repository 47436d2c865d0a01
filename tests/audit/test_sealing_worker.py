"""A deployment that only runs `migrate` and `qcluster` seals the audit trail."""

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.db import connection
from django_q.models import Schedule

from audit.actors import Actor
from audit.models import AuditEvent
from audit.services import audit_event_record

ROOT = Path(__file__).resolve().parents[2]


def database_url() -> str:
    s = connection.settings_dict
    return f"postgres://{s['USER']}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_the_migration_made_schedule_seals_events_on_a_real_worker():
    assert Schedule.objects.filter(func="audit.tasks.seal_audit_chains").exists()
    for i in range(3):
        audit_event_record(action="thing.happened", actor=Actor.system("test"), payload={"i": i})
    env = dict(os.environ, DATABASE_URL=database_url(), AUDIT_SEAL_GRACE_SECONDS="0", Q_WORKERS="1")
    worker = subprocess.Popen(
        [sys.executable, "manage.py", "qcluster"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and AuditEvent.objects.unsealed().exists():
            time.sleep(0.5)
    finally:
        worker.terminate()
        worker.wait(timeout=30)
    assert not AuditEvent.objects.unsealed().exists()
    assert list(AuditEvent.objects.order_by("position").values_list("position", flat=True)) == [
        1,
        2,
        3,
    ]
