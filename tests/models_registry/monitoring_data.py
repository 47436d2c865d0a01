"""Generated data for the monitoring tests: a baseline and windows of predictions whose drift
is known in advance."""

from __future__ import annotations

import hashlib
import io
from datetime import datetime, timedelta

import numpy as np
import pandas as pd
from django.utils import timezone

from audit.actors import Actor
from models_registry.models import Baseline, MLModel
from models_registry.monitoring.baseline import baseline_upload
from models_registry.monitoring.snapshots import last_closed_window
from reviewapp.models import Prediction

EMPLOYMENT = ["employed", "self_employed", "unemployed"]


def baseline_frame(rows: int = 2000, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "applicant_age": rng.integers(20, 70, rows),
            "income": rng.normal(50_000, 10_000, rows).round(2),
            "employment": rng.choice(EMPLOYMENT, size=rows, p=[0.7, 0.2, 0.1]),
            "email": [f"person{i}@example.com" for i in range(rows)],
            "output": rng.choice(["approve", "decline"], size=rows, p=[0.6, 0.4]),
        }
    )


def upload_baseline(model: MLModel, frame: pd.DataFrame | None = None) -> Baseline:
    frame = baseline_frame() if frame is None else frame
    buffer = io.BytesIO()
    frame.to_csv(buffer, index=False)
    return baseline_upload(
        version=model.active_version,
        content=buffer.getvalue(),
        file_name="train.csv",
        actor=Actor.system("tests"),
    )


def a_closed_hour(hours_ago: int = 2) -> datetime:
    start, _ = last_closed_window("hourly", timezone.now())
    return start - timedelta(hours=hours_ago - 1)


def current_frame(
    rows: int = 600, seed: int = 2, income_shift: float = 0.0, shift_employment=False
):
    rng = np.random.default_rng(seed)
    p = [0.2, 0.3, 0.5] if shift_employment else [0.7, 0.2, 0.1]
    return pd.DataFrame(
        {
            "applicant_age": rng.integers(20, 70, rows),
            "income": (rng.normal(50_000, 10_000, rows) + income_shift).round(2),
            "employment": rng.choice(EMPLOYMENT, size=rows, p=p),
            "output": rng.choice(["approve", "decline"], size=rows, p=[0.6, 0.4]),
            "confidence": rng.uniform(0.3, 1.0, rows).round(4),
        }
    )


def store_predictions(
    model: MLModel,
    frame: pd.DataFrame,
    start: datetime,
    *,
    prefix: str = "p",
    status: str = "auto_accepted",
    violations_every: int = 0,
    reasons=None,
) -> list[Prediction]:
    version = model.active_version
    rows = []
    step = 3600 / (len(frame) + 1)
    for i, record in enumerate(frame.to_dict("records")):
        inputs = {
            "applicant_age": int(record["applicant_age"]),
            "income": float(record["income"]),
            "employment": record["employment"],
            "email": f"x{i}@example.com",
        }
        violations = []
        if violations_every and i % violations_every == 0:
            violations = [{"path": "inputs.income", "message": "-1 is less than the minimum of 0"}]
        external_id = f"{prefix}-{i}"
        rows.append(
            Prediction(
                model=model,
                version=version,
                external_id=external_id,
                inputs=inputs,
                output=record["output"],
                confidence=float(record["confidence"]),
                received_at=start + timedelta(seconds=step * (i + 1)),
                status=status,
                needs_review=bool(reasons),
                routing_reasons=reasons or [],
                contract_violations=violations,
                content_hash=hashlib.sha256(external_id.encode()).hexdigest(),
            )
        )
    return Prediction.objects.bulk_create(rows)
