"""Fixtures of the retraining tests, loaded with ``pytest_plugins`` by test_retraining_*."""

from __future__ import annotations

from contextlib import contextmanager
from unittest import mock

import pytest
from django_q.conf import Conf
from rest_framework.test import APIClient

from models_registry.models import ServiceKeyScope


@pytest.fixture
def tasks_inline(django_capture_on_commit_callbacks, labels_dir):
    """django-q2 tasks run in the test process, right after the commit that enqueued them.

    Use as ``with tasks_inline(): ...``; tasks enqueued by those tasks run too. Outside the
    block, tasks go to the broker and wait (no worker runs in these tests).
    """

    @contextmanager
    def run():
        with (
            mock.patch.object(Conf, "SYNC", True),
            django_capture_on_commit_callbacks(execute=True),
        ):
            yield

    return run


@pytest.fixture
def pipeline_service(loan_model, make_key):
    return make_key([loan_model], scopes=(ServiceKeyScope.PIPELINE,), name="trainer")


@pytest.fixture
def pipeline_client(pipeline_service):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {pipeline_service.secret}")
    return client


@pytest.fixture
def labels_dir(settings, tmp_path):
    settings.RETRAINING_LABELS_DIR = tmp_path / "labels"
    return settings.RETRAINING_LABELS_DIR
