"""Concurrent claims, for real: eight OS processes race for the same queue.

On PostgreSQL the claim is one ``UPDATE ... (SELECT ... FOR UPDATE SKIP LOCKED LIMIT 1)``; on
SQLite (the demo database) a conditional UPDATE only one writer can win. Either way every item
must go to exactly one reviewer.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.db import connection

from tests.factories import UserFactory
from tests.reviewapp.review_items import make_items

ROOT = Path(__file__).resolve().parents[2]
WORKERS = 8
ITEMS = 500

WORKER = """
import json, os, sys, time
import django
django.setup()
from django.contrib.auth import get_user_model
from reviewapp.services.queue import review_item_claim_next
user = get_user_model().objects.get(username=sys.argv[1])
barrier = sys.argv[2]
open(os.path.join(barrier, "ready-" + sys.argv[1]), "w").close()
while not os.path.exists(os.path.join(barrier, "go")):
    time.sleep(0.01)
claimed = []
while True:
    item = review_item_claim_next(user=user)
    if item is None:
        break
    claimed.append(item.pk)
    # A reviewer looks before the next claim. Without a pause, SQLite's busy handler (waiters
    # back off for up to 100 ms) can let one process take every item while the rest wait.
    time.sleep(0.003)
print(json.dumps(claimed))
"""

SQLITE_SETUP = """
import sys
import django
django.setup()
from tests.factories import MLModelFactory, ModelVersionFactory, RoutingPolicyFactory, UserFactory
from tests.reviewapp.review_items import make_items
owner = UserFactory(username="alice")
model = MLModelFactory(slug="loan-default", owner=owner)
RoutingPolicyFactory(version=ModelVersionFactory(model=model, label="v1"))
for n in range(int(sys.argv[1])):
    model.reviewers.add(UserFactory(username=f"reviewer{n}"))
make_items(model, int(sys.argv[2]))
"""


def _env(database_url: str) -> dict:
    env = dict(os.environ)
    env.update(
        DATABASE_URL=database_url,
        DJANGO_SETTINGS_MODULE="countersign.settings",
        SECRET_KEY=os.environ.get("SECRET_KEY", "test-only-secret-key"),
        PYTHONPATH=str(ROOT),
    )
    return env


def race(database_url: str, usernames: list[str], barrier: Path) -> list[list[int]]:
    """Start one claiming process per user, release them together, collect what each got."""
    env = _env(database_url)
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, name, str(barrier)],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name in usernames
    ]
    deadline = time.monotonic() + 120
    while len(list(barrier.glob("ready-*"))) < len(usernames):
        assert time.monotonic() < deadline, "claim workers did not start"
        assert all(p.poll() is None for p in procs), [p.communicate() for p in procs]
        time.sleep(0.05)
    (barrier / "go").touch()
    claimed = []
    for proc in procs:
        out, err = proc.communicate(timeout=240)
        assert proc.returncode == 0, err
        claimed.append(json.loads(out.strip().splitlines()[-1]))
    return claimed


def assert_each_item_claimed_once(claimed: list[list[int]], expected: set[int]) -> None:
    everything = [pk for got in claimed for pk in got]
    assert len(everything) == len(set(everything)), "an item was claimed twice"
    assert set(everything) == expected
    assert sum(1 for got in claimed if got) >= 2, "the workers did not actually race"


@pytest.mark.django_db(transaction=True)
def test_eight_processes_claim_five_hundred_items_on_postgresql_each_exactly_once(
    loan_model, tmp_path
):
    assert connection.vendor == "postgresql"
    reviewers = [UserFactory(username=f"reviewer{n}") for n in range(WORKERS)]
    loan_model.reviewers.add(*reviewers)
    items = make_items(loan_model, ITEMS)
    settings = connection.settings_dict
    url = f"postgres://{settings['USER']}@{settings['HOST']}:{settings['PORT']}/{settings['NAME']}"

    claimed = race(url, [r.username for r in reviewers], tmp_path)

    assert_each_item_claimed_once(claimed, {i.pk for i in items})


def test_eight_processes_claim_five_hundred_items_on_sqlite_each_exactly_once(tmp_path):
    url = f"sqlite:///{tmp_path / 'demo.sqlite3'}"
    env = _env(url)
    for args in (
        [sys.executable, "manage.py", "migrate", "--verbosity", "0"],
        [sys.executable, "-c", SQLITE_SETUP, str(WORKERS), str(ITEMS)],
    ):
        done = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
    barrier = tmp_path / "barrier"
    barrier.mkdir()

    claimed = race(url, [f"reviewer{n}" for n in range(WORKERS)], barrier)

    everything = [pk for got in claimed for pk in got]
    assert len(everything) == ITEMS
    assert_each_item_claimed_once(claimed, set(everything))
