"""The schedules run on a real django-q2 worker: snapshots are taken and the owner's alert
e-mail is delivered without anyone calling a function."""

import importlib
import os
import signal
import subprocess
import sys
import time

import pytest
from django.apps import apps as django_apps
from django.conf import settings
from django_q.models import Schedule
from django_q.tasks import async_task

from models_registry.models import AlertNotification, MonitoringSnapshot
from tests.models_registry.monitoring_data import (
    a_closed_hour,
    current_frame,
    store_predictions,
    upload_baseline,
)
from tests.real_parts import qcluster_env


@pytest.mark.django_db(transaction=True)
def test_the_worker_takes_snapshots_and_delivers_alerts(loan_model):
    upload_baseline(loan_model)
    frame = current_frame(rows=300, seed=3)
    store_predictions(loan_model, frame, a_closed_hour(1), violations_every=5)  # 20% violate
    # The migration scheduled both tasks; the test enqueues the snapshot task itself rather
    # than wait for the scheduler's next pass (up to a minute).
    # (An earlier transactional test's flush may have emptied the table: rerun the migration's
    # data step, which is idempotent.)
    migration = importlib.import_module("models_registry.migrations.0004_monitoring_schedules")
    migration.forward(django_apps, None)
    schedules = dict(Schedule.objects.values_list("name", "func"))
    assert schedules["monitoring: snapshots and alert rules"] == (
        "models_registry.monitoring.tasks.take_monitoring_snapshots"
    )
    assert schedules["monitoring: escalate and deliver alerts"] == (
        "models_registry.monitoring.tasks.sweep_alerts"
    )
    async_task("models_registry.monitoring.tasks.take_monitoring_snapshots")
    env = qcluster_env(SECRET_KEY=settings.SECRET_KEY)
    worker = subprocess.Popen(
        [sys.executable, "manage.py", "qcluster"],
        cwd=settings.BASE_DIR,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        sent = None
        while time.monotonic() < deadline:
            sent = AlertNotification.objects.filter(
                status="sent", alert__rule__metric="contract_violation_rate"
            ).first()
            if sent:
                break
            time.sleep(0.5)
        assert MonitoringSnapshot.objects.filter(model=loan_model, window="hourly").exists()
        assert sent is not None, "the worker did not deliver the alert e-mail"
        assert sent.recipient == "alice@example.com"
    finally:
        os.killpg(worker.pid, signal.SIGTERM)
        try:
            worker.wait(timeout=5)
        except subprocess.TimeoutExpired:
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait()
