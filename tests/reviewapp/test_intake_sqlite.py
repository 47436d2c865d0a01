"""The demo runs on SQLite: the intake's portable path must store, replay and audit there too."""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = """
import json
from django.test import Client
from models_registry.demo import DEMO_SERVICE_KEY
from reviewapp.models import Prediction, ReviewItem
from audit.models import AuditEvent
from audit.services import audit_chains_seal
from audit.verification import audit_verify

client = Client(HTTP_AUTHORIZATION=f"Bearer {DEMO_SERVICE_KEY}")
url = "/api/v1/models/loan-default/predictions"
row = {"external_id": "sq-1", "inputs": {"applicant_age": 30, "income": 1, "loan_amount": 5,
       "employment": "employed", "credit_score": 700}, "output": "approve", "confidence": 0.2,
       "value_amount": "25000"}
batch = {"predictions": [dict(row, external_id=f"sq-{i}") for i in range(2, 40)]
         + [dict(row, external_id="sq-1", confidence=0.9), {"external_id": 5}]}
codes = [client.post(url, row, content_type="application/json").status_code,
         client.post(url, row, content_type="application/json").status_code]
results = client.post(url + "/batch", batch, content_type="application/json").json()
audit_chains_seal(grace_seconds=0)
print(json.dumps({
    "codes": codes,
    "statuses": [r["status"] for r in results["results"]][-3:],
    "predictions": Prediction.objects.count(),
    "review_items": ReviewItem.objects.count(),
    "events": AuditEvent.objects.filter(action__startswith="prediction.").count(),
    "verified": audit_verify().ok,
}))
"""


def test_the_intake_works_on_sqlite(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env.update(
        DATABASE_URL=f"sqlite:///{tmp_path / 'demo.sqlite3'}",
        DEBUG="true",
        ALLOWED_HOSTS="testserver",
    )

    def run(*args):
        return subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )

    assert run("migrate", "-v0").returncode == 0
    assert run("seed_demo").returncode == 0
    result = run("shell", "-c", SCRIPT)
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["codes"] == [201, 200]
    assert summary["statuses"] == ["created", "conflict", "invalid"]
    assert summary["predictions"] == 39
    assert summary["review_items"] == 39
    assert summary["events"] == 39 * 2 + 1
    assert summary["verified"] is True
