"""Helpers for tests that drive real parts: Debian's Chromium and a django-q2 worker."""

from __future__ import annotations

import os

from django.conf import settings
from django.db import connection

# As root, on a machine with no network beyond the package registries: no sandbox, and none
# of Chromium's background connections (they are refused, many at a time).
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def launch_chromium(playwright):
    return playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)


def subprocess_database_url() -> str:
    """DATABASE_URL of the database this test runs on, for a subprocess to use."""
    db = connection.settings_dict
    return f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


def qcluster_env(**extra: str) -> dict:
    """The environment for a `manage.py qcluster` subprocess on the test database: one worker,
    the ORM broker, production settings, and the test's export directories (the migration-made
    monthly export schedule fires in any worker once due; it must not write into the checkout)."""
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
    env.update(
        DATABASE_URL=subprocess_database_url(),
        DEBUG="false",
        SECRET_KEY=os.environ.get("SECRET_KEY", "test-only-secret-key"),
        Q_WORKERS="1",
        EXPORT_DIR=str(settings.EXPORT_DIR),
        EXPORT_SCHEDULE_DIR=str(settings.EXPORT_SCHEDULE_DIR),
    )
    env.update(extra)
    return env
