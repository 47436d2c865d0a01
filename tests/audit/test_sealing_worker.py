"""A deployment that only runs `migrate` and `qcluster` seals the audit trail."""

import importlib
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.apps import apps as django_apps
from django_q.models import Schedule

from audit.actors import Actor
from audit.models import AuditEvent
from audit.services import audit_event_record
from tests.real_parts import qcluster_env

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.django_db(transaction=True)
def test_the_migration_made_schedule_seals_events_on_a_real_worker():
    # An earlier transactional test's flush may have emptied the schedule table: re-run the
    # migration's data step (idempotent) rather than depend on test order.
    importlib.import_module("audit.migrations.0003_sealing_schedule").forward(django_apps, None)
    assert Schedule.objects.filter(func="audit.tasks.seal_audit_chains").exists()
    for i in range(3):
        audit_event_record(action="thing.happened", actor=Actor.system("test"), payload={"i": i})
    env = qcluster_env(AUDIT_SEAL_GRACE_SECONDS="0")
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
