"""Fixtures for export tests: role groups, a compliance officer, events and predictions."""

import importlib
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.apps import apps

from audit.actors import Actor
from audit.services import audit_chains_seal, audit_event_record
from reviewapp.models import Decision, Outcome, Prediction

ROLES_MIGRATION = importlib.import_module("audit.migrations.0006_roles")


def grant_role(user, role: str):
    """Transactional tests flush the groups the migration made; make them again if needed."""
    from django.contrib.auth.models import Group

    if not Group.objects.filter(name=role).exists():
        ROLES_MIGRATION.forward(apps, None)
    user.groups.add(Group.objects.get(name=role))
    for cache in ("_perm_cache", "_user_perm_cache", "_group_perm_cache"):
        user.__dict__.pop(cache, None)
    return user


@pytest.fixture(autouse=True)
def export_signing_key(settings):
    """A fixed key, so verify_export in a fresh process can check what these tests wrote.
    (Where exports are written is set for every test in tests/conftest.py.)"""
    settings.EXPORT_SIGNING_KEY = "test-signing-key"


@pytest.fixture
def compliance_officer(compliance):
    return grant_role(compliance, "compliance officer")


def record_events(model, owner, count=12):
    for index in range(count):
        audit_event_record(
            action="prediction.received",
            actor=Actor.user(owner),
            object_type="reviewapp.prediction",
            object_id=index,
            model=model,
            payload={"index": index, "score": index / 7, "note": "naïve ✓", "none": None},
        )
    audit_event_record(action="system.started", actor=Actor.system(), payload={"n": 1})
    audit_chains_seal(grace_seconds=0)


@pytest.fixture
def sealed_events(loan_model, owner):
    record_events(loan_model, owner)
    return loan_model


PII_CONTRACT = {
    "type": "object",
    "properties": {
        "income": {"type": "number"},
        "email": {"type": "string", "x-pii": True},
    },
}


def make_predictions(model, reviewer_name="carol", count=6):
    version = model.versions.get(label="v1")
    version.input_contract = PII_CONTRACT
    version.save()
    base = datetime(2026, 10, 1, tzinfo=UTC)
    predictions = []
    for index in range(count):
        prediction = Prediction.objects.create(
            model=model,
            version=version,
            external_id=f"p-{index}",
            inputs={"income": 1000 + index, "email": f"person{index}@example.com"},
            output="approve",
            confidence=0.5 + index / 100,
            value_amount=Decimal("12000.50") if index % 2 else None,
            received_at=base + timedelta(hours=index),
            status="decided" if index % 2 else "auto_accepted",
            needs_review=bool(index % 2),
            routing_reasons=[{"rule": "high_value", "value_amount": "12000.50"}]
            if index % 2
            else [],
            content_hash=f"{index:064d}",
        )
        if index % 2:
            Decision.objects.create(
                prediction=prediction,
                action="override",
                final_output="decline",
                decided_by=[reviewer_name],
                decided_at=base + timedelta(hours=index, minutes=5),
                comment=f"checked income {index}",
            )
        if index == 3:
            Outcome.objects.create(
                prediction=prediction, actual="decline", observed_at=base + timedelta(days=30)
            )
        predictions.append(prediction)
    return predictions


@pytest.fixture
def predictions(loan_model):
    return make_predictions(loan_model)
