"""create_service_key and revoke_service_key from the command line."""

import hashlib
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from audit.models import AuditEvent
from models_registry.models import ServiceKey

pytestmark = pytest.mark.django_db


def run(*args):
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue().splitlines()


def test_it_prints_the_key_alone_on_the_last_line_and_stores_only_its_hash(loan_model, other_model):
    lines = run(
        "create_service_key",
        "--name",
        "scorer",
        "--model",
        "loan-default",
        "--model",
        "claim-fraud",
        "--scope",
        "intake",
        "--scope",
        "pipeline",
    )
    secret = lines[-1]
    assert secret.startswith("cs_") and " " not in secret
    key = ServiceKey.objects.get(name="scorer")
    assert key.key_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert secret not in str(ServiceKey.objects.values().get())
    assert key.scopes == ["intake", "pipeline"]
    assert set(key.ml_models.values_list("slug", flat=True)) == {"loan-default", "claim-fraud"}
    created = AuditEvent.objects.get(action="service_key.created")
    assert created.payload["models"] == ["claim-fraud", "loan-default"]


def test_the_default_scope_is_intake(loan_model):
    run("create_service_key", "--name", "scorer", "--model", "loan-default")
    assert ServiceKey.objects.get().scopes == ["intake"]


def test_an_unknown_model_is_a_clear_error(loan_model):
    with pytest.raises(CommandError, match="--model: unknown model slug\\(s\\): nope"):
        run("create_service_key", "--name", "scorer", "--model", "nope")
    assert not ServiceKey.objects.exists()


def test_a_key_is_revoked_by_prefix_and_then_refused(loan_model, client):
    secret = run("create_service_key", "--name", "scorer", "--model", "loan-default")[-1]
    lines = run("revoke_service_key", secret[:10])
    assert "Revoked" in lines[0]
    response = client.get("/api/v1/models/", HTTP_AUTHORIZATION=f"Bearer {secret}")
    assert response.status_code == 401
    assert AuditEvent.objects.filter(action="service_key.revoked").count() == 1
    assert "already revoked" in run("revoke_service_key", secret[:10])[0]
