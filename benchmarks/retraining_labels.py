"""How fast the training-labels Parquet file is written, and how much memory it takes.

    .venv/bin/python benchmarks/retraining_labels.py [--rows 100000]

Creates its own PostgreSQL database (``cs_bench_retraining``, dropped first), migrates it,
stores ``--rows`` production predictions with an outcome each (half also with a human
decision) through bulk inserts, then times ``labels_write`` (the query, the row building and
the Parquet writing in batches) and reports rows per second, the file size and the process's
peak resident memory before and after, to show the batches keep memory flat.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import argparse  # noqa: E402
import os  # noqa: E402
import resource  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402

DB_NAME = "cs_bench_retraining"
PG = "postgres://postgres@127.0.0.1:5432"


def peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100_000)
    args = parser.parse_args()

    subprocess.run(
        ["dropdb", "-h", "127.0.0.1", "-U", "postgres", "--if-exists", DB_NAME], check=True
    )
    subprocess.run(["createdb", "-h", "127.0.0.1", "-U", "postgres", DB_NAME], check=True)
    os.environ.update(
        DATABASE_URL=f"{PG}/{DB_NAME}",
        DEBUG="false",
        SECRET_KEY="benchmark-only",
        DJANGO_SETTINGS_MODULE="countersign.settings",
    )
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.management import call_command

    call_command("migrate", verbosity=0)

    from models_registry.models import MLModel, ModelVersion
    from models_registry.retraining.labels import labels_write
    from reviewapp.models import Decision, Outcome, Prediction

    owner = get_user_model().objects.create(username="alice")
    model = MLModel.objects.create(slug="loan-default", name="Loan default", owner=owner)
    version = ModelVersion.objects.create(model=model, label="v1", status="active")
    inputs = {"applicant_age": 41, "income": 52000, "employment": "employed", "postcode": "N1"}
    started = time.perf_counter()
    batch = 5000
    for start in range(0, args.rows, batch):
        predictions = Prediction.objects.bulk_create(
            Prediction(
                model=model,
                version=version,
                external_id=f"loan-{i}",
                inputs=inputs,
                output="approve",
                confidence=0.7,
                status="auto_accepted",
                content_hash="0" * 64,
            )
            for i in range(start, min(start + batch, args.rows))
        )
        Outcome.objects.bulk_create(Outcome(prediction=p, actual="decline") for p in predictions)
        Decision.objects.bulk_create(
            Decision(prediction=p, action="override", final_output="decline", decided_by=["carol"])
            for p in predictions[::2]
        )
    print(f"stored {args.rows} labelled predictions in {time.perf_counter() - started:.1f} s")

    before = peak_mib()
    with tempfile.TemporaryDirectory() as directory:
        from django.conf import settings

        settings.RETRAINING_LABELS_DIR = Path(directory)
        started = time.perf_counter()
        written = labels_write(model=model, request_id=1, since=None)
        seconds = time.perf_counter() - started
        size = written.path.stat().st_size
    print(
        f"labels_write: {written.rows} rows in {seconds:.2f} s = {written.rows / seconds:,.0f} "
        f"rows/s; file {size / 2**20:.1f} MiB; peak RSS {before:.0f} MiB before, "
        f"{peak_mib():.0f} MiB after"
    )


if __name__ == "__main__":
    main()
