"""`make run`: migrate, seed, serve, start a worker, send demo traffic, wait for Ctrl-C."""

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from audit.services import audit_chains_seal
from models_registry.demo import (
    DEMO_MODELS,
    DEMO_PASSWORD,
    DEMO_SERVICE_KEY,
    DEMO_USERS,
    demo_history_ingest,
    demo_history_review,
)
from models_registry.models import MLModel
from models_registry.monitoring.demo import demo_monitoring_backfill

DEMO_SLUGS = [m.slug for m in DEMO_MODELS]


def _port_free(host: str, port: int) -> bool:
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def _interrupt(signum, frame):
    raise KeyboardInterrupt


class Command(BaseCommand):
    help = "Run the local demo: web server, django-q2 worker and simulated traffic."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", 8000)))
        parser.add_argument(
            "--count", type=int, default=300, help="How many simulated predictions to send."
        )
        parser.add_argument("--no-traffic", action="store_true")

    def handle(self, *args, host, port, count, no_traffic, **options):
        if not _port_free(host, port):
            raise CommandError(f"--port: {host}:{port} is in use; pass --port or PORT=...")
        self.stdout.write("Migrating the database ...")
        call_command("migrate", interactive=False, verbosity=0)
        self.stdout.write("Loading the demo ...")
        call_command("seed_demo", stdout=self.stdout)
        self.stdout.write("Importing a past day of traffic and measuring it ...")
        stored = demo_history_ingest()
        reviewed = demo_history_review()
        totals = demo_monitoring_backfill(MLModel.objects.filter(slug__in=DEMO_SLUGS))
        self.stdout.write(
            f"  {stored} past predictions, {reviewed} reviewed by carol and dave, "
            f"{totals['snapshots']} monitoring snapshots, "
            f"{totals['alerts_opened']} alerts opened"
        )

        # Ctrl-C (or SIGTERM, or the terminal closing) stops everything below, even when
        # this process was started with SIGINT ignored, as shells do for background jobs.
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGTERM, _interrupt)
        signal.signal(signal.SIGHUP, _interrupt)  # the terminal closed
        # Each child in a session of its own: Ctrl-C reaches only this process, which then
        # stops each child once (a second signal in the middle of django-q2's graceful stop
        # can leave its workers behind).
        children = [
            subprocess.Popen(
                [sys.executable, "manage.py", "runserver", f"{host}:{port}", "--noreload"],
                cwd=settings.BASE_DIR,
                start_new_session=True,
            ),
            subprocess.Popen(
                [sys.executable, "manage.py", "qcluster"],
                cwd=settings.BASE_DIR,
                start_new_session=True,
            ),
        ]
        try:
            base = f"http://{host}:{port}"
            self._wait_for(base + "/api/v1/schema/?format=json")
            if not no_traffic:
                self.stdout.write(
                    f"Sending about {count} simulated predictions through the API ..."
                )
                call_command("send_demo_traffic", url=base, count=count, stdout=self.stdout)
                audit_chains_seal(grace_seconds=0)
            self._print_welcome(base)
            while all(child.poll() is None for child in children):
                time.sleep(0.5)
            raise CommandError("A demo process stopped unexpectedly; see its output above.")
        except KeyboardInterrupt:
            self.stdout.write("\nStopping the web server and the worker ...")
        finally:
            for child in children:
                if child.poll() is None:
                    child.send_signal(signal.SIGINT)
            for child in children:
                try:
                    child.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    os.killpg(child.pid, signal.SIGKILL)  # with its worker processes

    def _wait_for(self, url: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(url, timeout=2) as response:
                    if response.status == 200:
                        return
            except OSError:
                time.sleep(0.3)
        raise CommandError(f"The web server did not answer at {url} within {timeout:.0f} s.")

    def _print_welcome(self, base: str) -> None:
        users = ", ".join(u[0] for u in DEMO_USERS)
        self.stdout.write(
            self.style.SUCCESS("\nCountersign is running (demo data; Ctrl-C stops it).")
        )
        self.stdout.write(f"""
  Reviewer UI      {base}/review/
  Model dashboards {base}/models/
  Compliance       {base}/compliance/
  Admin            {base}/admin/
  API docs         {base}/api/v1/docs/
  OpenAPI schema   {base}/api/v1/schema/?format=json

  Logins (demo only): {users}; password '{DEMO_PASSWORD}'
    alice owns loan-default, bob owns claim-fraud, carol and dave review both,
    erin is compliance, admin is the superuser.
  Service key (demo only): {DEMO_SERVICE_KEY}

  Try:  curl -H 'Authorization: Bearer {DEMO_SERVICE_KEY}' {base}/api/v1/models/
""")
