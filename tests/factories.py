"""factory_boy factories for the standing cast and the registry."""

import factory
from django.contrib.auth import get_user_model

from models_registry.models import MLModel, ModelVersion, RoutingPolicy, VersionStatus

LOAN_CONTRACT = {
    "type": "object",
    "properties": {
        "applicant_age": {"type": "integer", "minimum": 18, "maximum": 120},
        "income": {"type": "number", "minimum": 0},
        "employment": {"type": "string", "enum": ["employed", "self_employed", "unemployed"]},
        "email": {"type": "string", "format": "email"},
        "postcode": {"type": "string", "minLength": 3, "maxLength": 10},
    },
    "required": ["applicant_age", "income", "employment"],
}
LOAN_OUTPUT = {"type": "string", "enum": ["approve", "decline"]}


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    first_name = factory.LazyAttribute(lambda u: u.username.capitalize())
    last_name = "Example"
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")

    @factory.post_generation
    def password(user, create, extracted, **kwargs):
        user.set_password(extracted or "correct horse battery")
        if create:
            user.save(update_fields=["password"])


class MLModelFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = MLModel
        django_get_or_create = ("slug",)

    slug = factory.Sequence(lambda n: f"model-{n}")
    name = factory.LazyAttribute(lambda m: m.slug.replace("-", " ").title())
    owner = factory.SubFactory(UserFactory)


class ModelVersionFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ModelVersion

    model = factory.SubFactory(MLModelFactory)
    label = factory.Sequence(lambda n: f"v{n}")
    status = VersionStatus.ACTIVE
    input_contract = factory.LazyFunction(lambda: dict(LOAN_CONTRACT))
    output_spec = factory.LazyFunction(lambda: dict(LOAN_OUTPUT))
    metrics = factory.LazyFunction(lambda: {"accuracy": 0.91})


class RoutingPolicyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = RoutingPolicy

    version = factory.SubFactory(ModelVersionFactory)
    confidence_threshold = 0.6
    value_threshold = "10000.00"
    sample_rate = 0.0
    sla_seconds = 3600
