"""Baseline data for the demo's two models, so `make run` shows charts with data.

The frames follow the demo contracts: loan-default (applicant_age, income, loan_amount,
employment, credit_score, email (PII: not profiled); output approve/decline) and claim-fraud
(claim_amount, policy_age_days, claim_type, prior_claims, region; output a fraud probability).
"""

from __future__ import annotations

import io

import numpy as np
import pandas as pd

from audit.actors import Actor
from models_registry.models import Baseline, MLModel


def _loan(rows: int, rng: np.random.Generator) -> pd.DataFrame:
    income = rng.lognormal(mean=10.8, sigma=0.5, size=rows).round(2)
    credit = rng.normal(680, 60, rows).clip(300, 850).round().astype(int)
    frame = pd.DataFrame(
        {
            "applicant_age": rng.normal(42, 12, rows).clip(18, 100).round().astype(int),
            "income": income,
            "loan_amount": (income * rng.uniform(0.1, 0.6, rows)).round(2).clip(100, None),
            "employment": rng.choice(
                ["employed", "self_employed", "unemployed", "retired"],
                size=rows,
                p=[0.62, 0.18, 0.08, 0.12],
            ),
            "credit_score": credit,
            "email": [f"applicant{i}@example.com" for i in range(rows)],
        }
    )
    frame["output"] = np.where(credit + rng.normal(0, 40, rows) > 640, "approve", "decline")
    return frame


def _fraud(rows: int, rng: np.random.Generator) -> pd.DataFrame:
    prior = rng.poisson(0.8, rows).clip(0, 50)
    amount = rng.lognormal(mean=7.5, sigma=1.0, size=rows).round(2)
    frame = pd.DataFrame(
        {
            "claim_amount": amount,
            "policy_age_days": rng.integers(0, 3650, rows),
            "claim_type": rng.choice(
                ["auto", "home", "health", "travel"], size=rows, p=[0.45, 0.25, 0.2, 0.1]
            ),
            "prior_claims": prior,
            "region": rng.choice(["north", "south", "east", "west"], size=rows),
        }
    )
    logit = -3 + 0.6 * prior + 0.0002 * amount
    frame["output"] = (1 / (1 + np.exp(-logit))).round(4)
    return frame


def demo_baseline_frame(model_slug: str, rows: int = 5000, seed: int = 7) -> pd.DataFrame:
    """A training-like sample for ``loan-default`` or ``claim-fraud``."""
    rng = np.random.default_rng(seed)
    if model_slug == "loan-default":
        return _loan(rows, rng)
    if model_slug == "claim-fraud":
        return _fraud(rows, rng)
    raise ValueError(f"No demo baseline for '{model_slug}'.")


def demo_baseline_load(model: MLModel, rows: int = 5000) -> Baseline:
    """Upload the demo baseline for the model's active version through the real service."""
    from models_registry.monitoring.baseline import baseline_upload

    version = model.active_version
    if version is None:
        raise ValueError(f"{model.slug} has no active version.")
    buffer = io.BytesIO()
    demo_baseline_frame(model.slug, rows).to_parquet(buffer, index=False)
    return baseline_upload(
        version=version,
        content=buffer.getvalue(),
        file_name=f"{model.slug}-demo-baseline.parquet",
        actor=Actor.system("demo"),
    )


def demo_monitoring_backfill(models, hours: int = 24, days: int = 1) -> dict:
    """Snapshot the demo's past windows and evaluate its alert rules, so the charts have a
    history on first start. Call it after the demo's predictions (with past ``received_at``)
    are in; safe to call again (windows already measured are skipped)."""
    from models_registry.monitoring.alerts import alert_rules_ensure_defaults, alerts_evaluate
    from models_registry.monitoring.snapshots import snapshots_run

    totals = {"snapshots": 0, "alerts_opened": 0}
    for model in models:
        alert_rules_ensure_defaults(model=model, actor=Actor.system("demo"))
        for window, back in (("hourly", hours), ("daily", days)):
            if back:
                result = snapshots_run(models=[model], windows=[window], backfill=back)
                totals["snapshots"] += result.created
        totals["alerts_opened"] += alerts_evaluate(model=model)["opened"]
    return totals
