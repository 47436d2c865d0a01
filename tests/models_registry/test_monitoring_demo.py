"""The demo's baselines meet the demo contracts, so `make run` shows charts with data."""

import pytest

from models_registry.monitoring.demo import demo_baseline_frame, demo_baseline_load
from tests.factories import ModelVersionFactory

LOAN = {
    "type": "object",
    "properties": {
        "applicant_age": {"type": "integer", "minimum": 18, "maximum": 100},
        "income": {"type": "number", "minimum": 0},
        "loan_amount": {"type": "number", "exclusiveMinimum": 0},
        "employment": {
            "type": "string",
            "enum": ["employed", "self_employed", "unemployed", "retired"],
        },
        "credit_score": {"type": "integer", "minimum": 300, "maximum": 850},
        "email": {"type": "string", "format": "email", "x-pii": True},
    },
    "required": ["applicant_age", "income", "loan_amount", "employment", "credit_score"],
}
FRAUD = {
    "type": "object",
    "properties": {
        "claim_amount": {"type": "number", "minimum": 0},
        "policy_age_days": {"type": "integer", "minimum": 0},
        "claim_type": {"type": "string", "enum": ["auto", "home", "health", "travel"]},
        "prior_claims": {"type": "integer", "minimum": 0, "maximum": 50},
        "region": {"type": "string"},
    },
    "required": ["claim_amount", "policy_age_days", "claim_type"],
}


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("slug", "contract", "output_spec"),
    [
        ("loan-default", LOAN, {"type": "string", "enum": ["approve", "decline"]}),
        ("claim-fraud", FRAUD, {"type": "number", "minimum": 0, "maximum": 1}),
    ],
)
def test_the_demo_baselines_meet_the_demo_contracts(slug, contract, output_spec, owner):
    version = ModelVersionFactory(
        model__slug=slug, model__owner=owner, input_contract=contract, output_spec=output_spec
    )
    frame = demo_baseline_frame(slug, rows=500)
    assert set(contract["properties"]) <= set(frame.columns)
    baseline = demo_baseline_load(version.model, rows=500)
    assert baseline.contract_report["violations"] == {}
    assert baseline.contract_report["columns_missing"] == []
    assert baseline.profile["output"]["kind"] == (
        "numeric" if output_spec["type"] == "number" else "categorical"
    )
    if "email" in contract["properties"]:
        assert baseline.profile["email"]["kind"] == "pii"


def test_an_unknown_demo_model_is_refused():
    with pytest.raises(ValueError, match="No demo baseline"):
        demo_baseline_frame("nope")


@pytest.mark.django_db
def test_the_demo_backfill_gives_the_charts_a_history(loan_model):
    from models_registry.models import MonitoringSnapshot
    from models_registry.monitoring.demo import demo_monitoring_backfill
    from tests.models_registry.monitoring_data import (
        a_closed_hour,
        current_frame,
        store_predictions,
        upload_baseline,
    )

    upload_baseline(loan_model)
    for hours_ago in (1, 2, 3):
        store_predictions(
            loan_model,
            current_frame(rows=40, seed=hours_ago),
            a_closed_hour(hours_ago),
            prefix=f"d{hours_ago}",
        )
    totals = demo_monitoring_backfill([loan_model], hours=3, days=0)
    assert totals["snapshots"] == 3
    assert MonitoringSnapshot.objects.filter(model=loan_model, prediction_count=40).count() == 3
    assert demo_monitoring_backfill([loan_model], hours=3, days=0)["snapshots"] == 0
