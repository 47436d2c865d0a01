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
            "value_threshold": Decimal("25000.00"),
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
        if not version.baselines.exists():
            from models_registry.monitoring.demo import demo_baseline_load

            model.refresh_from_db()
            demo_baseline_load(model)
            created.append(f"baseline {spec.slug}@v1")
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


def demo_history_ingest(*, hours: int = 24, per_hour: int = 30, seed: int = 11) -> int:
    """A past day of traffic for both demo models, so the dashboards have a history.

    Goes through the intake service (contract checks, routing, review items, audit) with
    past receipt times. In the last six hours the loan applicants' incomes fall and their
    credit scores drop, so the demo shows drift. Safe to run twice: a model that already has
    history is skipped.
    """
    import random
    from datetime import timedelta

    from django.db.models import OuterRef, Subquery
    from django.utils import timezone

    from reviewapp.api.serializers import envelopes_or_errors
    from reviewapp.demo_traffic import _claim, _loan
    from reviewapp.models import Outcome, Prediction
    from reviewapp.services.intake import predictions_ingest
    from reviewapp.services.outcomes import OutcomeIn, outcomes_record

    rng = random.Random(seed)
    now = timezone.now().replace(minute=0, second=0, microsecond=0)
    actor = Actor.system("demo history import")
    stored = 0
    for slug, make in (("loan-default", _loan), ("claim-fraud", _claim)):
        model = MLModel.objects.get(slug=slug)
        if Prediction.objects.filter(model=model, received_at__lt=now).exists():
            continue
        outcomes = []
        for hour in range(hours, 0, -1):
            rows = [make(rng, f"hist-{slug[:4]}-{hour:02d}-{i:03d}") for i in range(per_hour)]
            if slug == "loan-default" and hour <= 6:
                for row in rows:
                    row["inputs"]["income"] = round(row["inputs"]["income"] * 0.55, 2)
                    row["inputs"]["credit_score"] = max(300, row["inputs"]["credit_score"] - 90)
            at = now - timedelta(hours=hour) + timedelta(minutes=rng.randint(1, 58))
            results = predictions_ingest(
                model=model, actor=actor, rows=envelopes_or_errors(rows), received_at=at
            )
            stored += sum(1 for r in results if r.prediction is not None)
            for row in rows:
                if rng.random() > 0.4:
                    continue
                if slug == "claim-fraud":
                    actual = 1 if rng.random() < row["output"] else 0
                else:
                    wrong = rng.random() < (0.08 if hour > 6 else 0.3)
                    flipped = "decline" if row["output"] == "approve" else "approve"
                    actual = flipped if wrong else row["output"]
                outcomes.append(OutcomeIn(row["external_id"], actual))
        outcomes_record(model=model, actor=actor, outcomes=outcomes)
        # Outcomes arrive as they are reported; the history's arrived half an hour after
        # each prediction, so they count in its hour.
        Outcome.objects.filter(prediction__model=model).update(
            recorded_at=Subquery(
                Prediction.objects.filter(pk=OuterRef("prediction_id")).values("received_at")[:1]
            )
            + timedelta(minutes=30)
        )
    return stored


def demo_history_review(*, older_than_hours: int = 2, seed: int = 13) -> int:
    """Have the demo reviewers work the past day's queue, through the real queue services.

    Items that need one review and are older than ``older_than_hours`` are claimed and
    decided by carol or dave: approved, or overridden where the reported outcome disagrees
    with the model. What is left is the live queue. Safe to run twice.
    """
    import random
    from datetime import timedelta

    from django.utils import timezone

    from reviewapp.models import ReviewItem
    from reviewapp.services.decisions import review_action_record, reviews_required
    from reviewapp.services.queue import review_item_open

    rng = random.Random(seed)
    reviewers = list(get_user_model().objects.filter(username__in=["carol", "dave"]))
    cutoff = timezone.now() - timedelta(hours=older_than_hours)
    decided = 0
    items = (
        ReviewItem.objects.open()
        .filter(created_at__lt=cutoff, model__slug="loan-default")
        .select_related("prediction", "prediction__version", "model")
    )
    for item in items:
        if reviews_required(item) != 1:
            continue
        user = rng.choice(reviewers)
        item = review_item_open(user=user, item=item)
        outcome = getattr(item.prediction, "outcome", None)
        if outcome is not None and outcome.actual != item.prediction.output:
            review_action_record(
                user=user,
                item=item,
                action="override",
                output=outcome.actual,
                comment="Income and credit history don't support the model's answer.",
            )
        else:
            review_action_record(user=user, item=item, action="approve")
        decided += 1
    return decided
