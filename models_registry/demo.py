"""The demo world: two models with named owners, reviewers, a compliance user and a key.

Demo only: the passwords and the service key below are published in the README.
``demo_seed()`` is safe to run twice; it changes nothing the second time.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.db import transaction

from audit.actors import Actor
from models_registry import keys
from models_registry.models import MLModel, ModelVersion, RoutingPolicy, ServiceKey
from models_registry.services import service_key_create, version_activate

DEMO_PASSWORD = "countersign-demo"
DEMO_SERVICE_KEY = "cs_demo_scoring_key_for_the_local_demo_only"

DEMO_USERS = [
    # username, first, last, is_staff, is_superuser
    ("admin", "Ada", "Admin", True, True),
    ("alice", "Alice", "Okafor", True, False),
    ("bob", "Bob", "Lindqvist", True, False),
    ("carol", "Carol", "Nguyen", False, False),
    ("dave", "Dave", "Moreau", False, False),
    ("erin", "Erin", "Costa", True, False),
]

LOAN_CONTRACT = {
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
LOAN_OUTPUT = {"type": "string", "enum": ["approve", "decline"]}

CLAIM_CONTRACT = {
    "type": "object",
    "properties": {
        "claim_amount": {"type": "number", "minimum": 0},
        "policy_age_days": {"type": "integer", "minimum": 0},
        "claim_type": {"type": "string", "enum": ["auto", "home", "health", "travel"]},
        "prior_claims": {"type": "integer", "minimum": 0, "maximum": 50},
        "region": {"type": "string", "minLength": 2, "maxLength": 40},
    },
    "required": ["claim_amount", "policy_age_days", "claim_type", "prior_claims"],
}
CLAIM_OUTPUT = {"type": "number", "minimum": 0, "maximum": 1}


@dataclass(frozen=True)
class DemoModel:
    slug: str
    name: str
    description: str
    owner: str
    backup_owner: str
    contract: dict
    output_spec: dict
    policy: dict


DEMO_MODELS = [
    DemoModel(
        slug="loan-default",
        name="Loan default",
        description="Approves or declines consumer loan applications. value_amount is the "
        "loan amount.",
        owner="alice",
        backup_owner="bob",
        contract=LOAN_CONTRACT,
        output_spec=LOAN_OUTPUT,
        policy={
            "confidence_threshold": 0.7,
            "value_threshold": Decimal("20000.00"),
            "second_review_value_threshold": Decimal("50000.00"),
            "sample_rate": 0.03,
            "on_contract_violation": "review",
            "sla_seconds": 4 * 3600,
            "on_sla_breach": "escalate",
        },
    ),
    DemoModel(
        slug="claim-fraud",
        name="Claim fraud",
        description="Scores insurance claims for fraud; the output is the fraud probability. "
        "value_amount is the claim amount.",
        owner="bob",
        backup_owner="alice",
        contract=CLAIM_CONTRACT,
        output_spec=CLAIM_OUTPUT,
        policy={
            "confidence_threshold": 0.6,
            "value_threshold": Decimal("15000.00"),
            "sample_rate": 0.02,
            "on_contract_violation": "reject",
            "sla_seconds": 8 * 3600,
            "on_sla_breach": "accept_model_output",
        },
    ),
]


def _user(username, first, last, is_staff, is_superuser):
    User = get_user_model()
    user, created = User.objects.get_or_create(
        username=username,
        defaults={
            "first_name": first,
            "last_name": last,
            "email": f"{username}@countersign.example",
            "is_staff": is_staff,
            "is_superuser": is_superuser,
        },
    )
    if created:
        user.set_password(DEMO_PASSWORD)
        user.save(update_fields=["password"])
    return user


@transaction.atomic
def demo_seed() -> list[str]:
    """Create the demo world; return what was created (empty on a second run)."""
    actor = Actor.system("seed_demo")
    created: list[str] = []
    users = {u[0]: _user(*u) for u in DEMO_USERS}
    for spec in DEMO_MODELS:
        model, made = MLModel.objects.get_or_create(
            slug=spec.slug,
            defaults={
                "name": spec.name,
                "description": spec.description,
                "owner": users[spec.owner],
                "backup_owner": users[spec.backup_owner],
            },
        )
        if made:
            created.append(f"model {spec.slug}")
            model.reviewers.set([users["carol"], users["dave"]])
        version, made = ModelVersion.objects.get_or_create(
            model=model,
            label="v1",
            defaults={
                "input_contract": spec.contract,
                "output_spec": spec.output_spec,
                "metrics": {"accuracy": 0.91, "f1": 0.88},
                "artifact_uri": f"s3://models/{spec.slug}/v1/model.pkl",
                "code_version": "demo",
                "notes": "Demo version seeded by manage.py seed_demo.",
                "registered_by": users[spec.owner],
            },
        )
        if made:
            RoutingPolicy.objects.create(version=version, **spec.policy)
            version_activate(version=version, actor=actor, reason="demo seed")
            created.append(f"version {spec.slug}@v1")
    if not ServiceKey.objects.filter(key_hash=keys.hash_secret(DEMO_SERVICE_KEY)).exists():
        service_key_create(
            name="demo scoring service",
            models=MLModel.objects.filter(slug__in=[m.slug for m in DEMO_MODELS]),
            scopes=["intake", "pipeline", "export"],
            actor=actor,
            secret=DEMO_SERVICE_KEY,
        )
        created.append("service key")
    return created
