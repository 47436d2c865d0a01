"""Drift snapshot benchmark: 1,000,000 predictions in PostgreSQL, 20 numeric + 5 categorical
features, a 100,000-row baseline. Times one daily snapshot (database read included) and its
peak memory, then runs Evidently 0.7's DataDriftPreset on the same data (in memory, in its own
virtual environment with pandas < 3) and compares which features each flags.

    .venv/bin/python benchmarks/drift.py                 # full size
    .venv/bin/python benchmarks/drift.py --predictions 100000 --skip-evidently

The data goes into its own database (default cs_bench_drift, dropped and recreated). Features
f00-f04 are shifted by half a standard deviation, f05 is stretched 1.5x, c0's mix changes;
the other 19 features are drawn exactly as in the baseline.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NUMERIC = [f"f{i:02d}" for i in range(20)]
CATEGORICAL = [f"c{i}" for i in range(5)]
CATEGORIES = {f"c{i}": [f"v{j}" for j in range(4 + i)] for i in range(5)}
SHIFTED = {"f00", "f01", "f02", "f03", "f04", "f05", "c0"}
EVIDENTLY_VENV = ROOT / "benchmarks" / ".venv-evidently"


def generate(rows: int, seed: int, drifted: bool):
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    data = {}
    for i, name in enumerate(NUMERIC):
        values = rng.normal(10 * i, 1 + i % 3, rows)
        if drifted and name in {"f00", "f01", "f02", "f03", "f04"}:
            values = values + 0.5 * (1 + i % 3)
        if drifted and name == "f05":
            values = 10 * i + (values - 10 * i) * 1.5
        data[name] = values.round(4)
    for name, values in CATEGORIES.items():
        p = np.linspace(1, 2, len(values))
        if drifted and name == "c0":
            p = p[::-1] ** 3
        data[name] = rng.choice(values, size=rows, p=p / p.sum())
    data["output"] = rng.choice(["approve", "decline"], size=rows, p=[0.6, 0.4])
    return pd.DataFrame(data)


def contract() -> dict:
    properties = {name: {"type": "number"} for name in NUMERIC}
    properties.update({name: {"type": "string", "enum": v} for name, v in CATEGORIES.items()})
    return {"type": "object", "properties": properties, "required": NUMERIC + CATEGORICAL}


def recreate_database(name: str) -> str:
    import psycopg

    with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as c:
        c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        c.execute(f'CREATE DATABASE "{name}"')
    return f"postgres://postgres@127.0.0.1:5432/{name}"


def django_setup(url: str, baseline_rows: int) -> None:
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DEBUG", "true")
    os.environ["MONITORING_BASELINE_SAMPLE_ROWS"] = str(baseline_rows)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "countersign.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def load(args, work: Path) -> dict:
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.db import connection

    from audit.actors import Actor
    from models_registry.models import MLModel, ModelVersion
    from models_registry.monitoring.baseline import baseline_upload

    t = time.perf_counter()
    call_command("migrate", verbosity=0)
    print(f"migrated in {time.perf_counter() - t:.1f} s")
    owner = get_user_model().objects.create(username="bench", email="bench@example.com")
    model = MLModel.objects.create(slug="bench", name="Bench", owner=owner)
    version = ModelVersion.objects.create(
        model=model,
        label="v1",
        status="active",
        input_contract=contract(),
        output_spec={"type": "string", "enum": ["approve", "decline"]},
    )

    reference = generate(args.baseline, seed=1, drifted=False)
    reference.to_parquet(work / "reference.parquet", index=False)
    buffer = io.BytesIO()
    reference.to_parquet(buffer, index=False)
    t = time.perf_counter()
    baseline_upload(
        version=version, content=buffer.getvalue(), file_name="ref.parquet", actor=Actor.system()
    )
    upload_seconds = time.perf_counter() - t
    print(f"baseline of {args.baseline:,} rows uploaded and profiled in {upload_seconds:.1f} s")

    current = generate(args.predictions, seed=2, drifted=True)
    current.to_parquet(work / "current.parquet", index=False)
    day = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=1)
    t = time.perf_counter()
    columns = (
        "model_id, version_id, external_id, inputs, output, confidence, received_at, context, "
        "status, needs_review, routing_reasons, contract_violations, content_hash"
    )
    step = 86_000 / args.predictions
    chunk = 100_000
    with (
        connection.cursor() as cursor,
        cursor.connection.cursor().copy(
            f"COPY reviewapp_prediction ({columns}) FROM STDIN"
        ) as copy,
    ):
        for offset in range(0, args.predictions, chunk):
            part = current.iloc[offset : offset + chunk]
            inputs = part[NUMERIC + CATEGORICAL].to_json(orient="records", lines=True)
            lines = []
            for j, (row_json, output) in enumerate(
                zip(inputs.splitlines(), part["output"], strict=True)
            ):
                i = offset + j
                at = (day + timedelta(seconds=i * step)).isoformat()
                lines.append(
                    f'{model.pk}\t{version.pk}\tp{i}\t{row_json}\t"{output}"\t0.8\t{at}\t{{}}\t'
                    f"auto_accepted\tf\t[]\t[]\t{i:064x}\n"
                )
            copy.write("".join(lines))
    connection.commit() if not connection.get_autocommit() else None
    copy_seconds = time.perf_counter() - t
    print(f"{args.predictions:,} predictions loaded with COPY in {copy_seconds:.1f} s")
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE reviewapp_prediction")
    return {"day": day.isoformat(), "upload_seconds": upload_seconds, "copy_seconds": copy_seconds}


def peak_rss_kib() -> int:
    """VmHWM: this process's own peak (ru_maxrss would carry the parent's over fork/exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def measure(day: str) -> None:
    """Child process: one daily snapshot measured, with this process's peak memory."""
    from models_registry.models import MLModel
    from models_registry.monitoring.snapshots import snapshot_measure

    model = MLModel.objects.get(slug="bench")
    start = datetime.fromisoformat(day)
    rss_before = peak_rss_kib()
    t = time.perf_counter()
    result = snapshot_measure(
        model=model, window="daily", start=start, end=start + timedelta(days=1)
    )
    seconds = time.perf_counter() - t
    drift = result["drift"]
    print(
        json.dumps(
            {
                "seconds": seconds,
                "peak_rss_kib": peak_rss_kib(),
                "rss_before_kib": rss_before,
                "volume": result["volume"],
                "drifted": {k: v["drifted"] for k, v in drift["features"].items()},
                "share": drift["share"],
            }
        )
    )


EVIDENTLY_SCRIPT = """
import json, sys, time
import pandas as pd
from evidently import DataDefinition, Dataset, Report
from evidently.presets import DataDriftPreset
work, numeric, categorical = sys.argv[1], json.loads(sys.argv[2]), json.loads(sys.argv[3])
reference = pd.read_parquet(f"{work}/reference.parquet", columns=numeric + categorical)
current = pd.read_parquet(f"{work}/current.parquet", columns=numeric + categorical)
definition = DataDefinition(numerical_columns=numeric, categorical_columns=categorical)
t = time.perf_counter()
snapshot = Report([DataDriftPreset()]).run(
    Dataset.from_pandas(current, data_definition=definition),
    Dataset.from_pandas(reference, data_definition=definition),
)
seconds = time.perf_counter() - t
drifted, methods = {}, {}
for metric in snapshot.dict()["metrics"]:
    config = metric["config"]
    if config.get("type", "").endswith("ValueDrift"):
        drifted[config["column"]] = bool(metric["value"] >= config["threshold"])
        methods[config["column"]] = f"{config['method']} >= {config['threshold']}"
print(json.dumps({"seconds": seconds, "drifted": drifted, "methods": methods,
                  "peak_rss_kib": int([l for l in open("/proc/self/status")
                                       if l.startswith("VmHWM:")][0].split()[1])}))
"""


def evidently_python(path: str | None) -> Path:
    if path:
        return Path(path)
    python = EVIDENTLY_VENV / "bin" / "python"
    if not python.exists():
        print(f"creating {EVIDENTLY_VENV} with evidently 0.7 and pandas < 3 ...")
        subprocess.run([sys.executable, "-m", "venv", str(EVIDENTLY_VENV)], check=True)
        subprocess.run(
            [str(python), "-m", "pip", "install", "--quiet", "evidently==0.7.*", "pandas<3"],
            check=True,
        )
    return python


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--predictions", type=int, default=1_000_000)
    parser.add_argument("--baseline", type=int, default=100_000)
    parser.add_argument("--database", default="cs_bench_drift")
    parser.add_argument("--evidently-python", help="python of a venv with evidently 0.7")
    parser.add_argument("--skip-evidently", action="store_true")
    parser.add_argument("--measure", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.measure:
        django_setup(os.environ["DATABASE_URL"], args.baseline)
        measure(args.measure)
        return

    url = recreate_database(args.database)
    django_setup(url, args.baseline)
    work = Path(tempfile.mkdtemp(prefix="cs-bench-drift-"))
    loaded = load(args, work)

    child = subprocess.run(
        [sys.executable, __file__, "--measure", loaded["day"], "--baseline", str(args.baseline)],
        env={**os.environ, "DATABASE_URL": url},
        capture_output=True,
        text=True,
        check=True,
    )
    ours = json.loads(child.stdout.strip().splitlines()[-1])
    print(
        f"\nCountersign snapshot: {ours['volume']:,} predictions, {ours['seconds']:.1f} s "
        f"(database read included), peak RSS {ours['peak_rss_kib'] / 1024:.0f} MiB "
        f"(of which {ours['rss_before_kib'] / 1024:.0f} MiB is the Python/Django process before "
        "the snapshot)"
    )
    print(
        "  tests: numeric KS (scipy ks_2samp) + PSI on baseline deciles + Wasserstein/std; "
        "categorical chi-square (scipy chi2_contingency) + PSI"
    )
    truth = {name: name in SHIFTED for name in NUMERIC + CATEGORICAL}
    ours_right = sum(ours["drifted"][k] == v for k, v in truth.items())
    print(f"  drifted: {sorted(k for k, v in ours['drifted'].items() if v)}")
    print(f"  matches the known shifts on {ours_right}/{len(truth)} features")

    if args.skip_evidently:
        return
    try:
        python = evidently_python(args.evidently_python)
        result = subprocess.run(
            [
                str(python),
                "-c",
                EVIDENTLY_SCRIPT,
                str(work),
                json.dumps(NUMERIC),
                json.dumps(CATEGORICAL),
            ],
            capture_output=True,
            text=True,
            check=True,
        )
    except subprocess.CalledProcessError as error:
        print(f"\nEvidently could not run: {error}\n{error.stderr[-2000:]}")
        return
    theirs = json.loads(result.stdout.strip().splitlines()[-1])
    print(
        f"\nEvidently 0.7 DataDriftPreset: {theirs['seconds']:.1f} s (data already in memory), "
        f"peak RSS {theirs['peak_rss_kib'] / 1024:.0f} MiB"
    )
    print(f"  tests: {sorted(set(theirs['methods'].values()))}")
    print(f"  drifted: {sorted(k for k, v in theirs['drifted'].items() if v)}")
    agree = [k for k in truth if ours["drifted"][k] == theirs["drifted"][k]]
    print(f"  Countersign and Evidently agree on {len(agree)}/{len(truth)} features")
    disagree = sorted(set(truth) - set(agree))
    if disagree:
        print(f"  they disagree on: {disagree}")


if __name__ == "__main__":
    main()
