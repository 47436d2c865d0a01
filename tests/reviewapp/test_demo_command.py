"""`make run` (``manage.py demo``): Ctrl-C stops everything it started.

The demo runs for real on a SQLite file of its own: migrate, seed, a past day of history,
then a web server and a django-q2 worker in processes of their own.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _processes_with(marker: str) -> list[int]:
    """Pids whose environment holds ``marker`` (the demo's own database URL)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if marker.encode() in (entry / "environ").read_bytes():
                found.append(int(entry.name))
        except OSError:
            continue
    return found


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_stopping_the_demo_stops_its_web_server_and_worker(tmp_path, stop):
    port = _free_port()
    database_url = f"sqlite:///{tmp_path / 'demo.sqlite3'}"
    env = dict(
        os.environ,
        DATABASE_URL=database_url,
        DEBUG="true",
        EXPORT_DIR=str(tmp_path / "exports"),
        RETRAINING_LABELS_DIR=str(tmp_path / "labels"),
    )
    env.pop("REDIS_URL", None)
    demo = subprocess.Popen(
        [sys.executable, "manage.py", "demo", "--port", str(port), "--no-traffic"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # its own process group, as a terminal's foreground job
    )
    try:
        deadline = time.monotonic() + 240
        while not _answers(f"http://127.0.0.1:{port}/accounts/login/"):
            assert demo.poll() is None, demo.stdout.read()
            assert time.monotonic() < deadline, "the demo did not start serving"
            time.sleep(1)
        assert len(_processes_with(database_url)) >= 3  # the demo, its server, its worker

        if stop == signal.SIGINT:
            os.killpg(demo.pid, signal.SIGINT)  # what Ctrl-C does: the whole foreground group
        else:
            demo.send_signal(signal.SIGTERM)
        output, _ = demo.communicate(timeout=60)
        deadline = time.monotonic() + 10
        while _processes_with(database_url) and time.monotonic() < deadline:
            time.sleep(0.2)
        left_running = _processes_with(database_url)
    finally:
        for pid in _processes_with(database_url):  # never leave a failed run's servers behind
            os.kill(pid, signal.SIGKILL)

    assert demo.returncode == 0, output[-3000:]
    assert "Stopping the web server and the worker" in output
    assert left_running == [], "a demo process was left running"
    assert not _answers(f"http://127.0.0.1:{port}/accounts/login/")
