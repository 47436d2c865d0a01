"""The standing cast and shared fixtures.

owner (alice) owns loan-default, backup_owner (bob) backs it up, reviewer (carol) and
second_reviewer (dave) review, compliance (erin) exports, outsider (mallory) owns another
model; scoring_service is an intake key for loan-default, outsider_service one for another.
"""

import pytest
from django.db import connections
from django.test import TransactionTestCase
from rest_framework.test import APIClient

from audit.actors import Actor
from models_registry.models import ServiceKeyScope
from models_registry.services import service_key_create
from tests.factories import (
    MLModelFactory,
    ModelVersionFactory,
    RoutingPolicyFactory,
    UserFactory,
)
from tests.webhook_receiver import Receiver

_original_fixture_teardown = TransactionTestCase._fixture_teardown


def _fixture_teardown_past_audit_triggers(self):
    """Transactional tests end with TRUNCATE, which the audit triggers refuse (as they
    should). The test database is the one place we flush them: as the superuser we are,
    with triggers switched off for this session only."""
    for alias in connections:
        connection = connections[alias]
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SET session_replication_role = replica")
    try:
        _original_fixture_teardown(self)
    finally:
        for alias in connections:
            connection = connections[alias]
            if connection.vendor == "postgresql" and connection.connection is not None:
                with connection.cursor() as cursor:
                    cursor.execute("SET session_replication_role = origin")


TransactionTestCase._fixture_teardown = _fixture_teardown_past_audit_triggers


@pytest.fixture
def owner(db):
    return UserFactory(username="alice", first_name="Alice", last_name="Owner")


@pytest.fixture
def backup_owner(db):
    return UserFactory(username="bob", first_name="Bob", last_name="Backup")


@pytest.fixture
def reviewer(db):
    return UserFactory(username="carol", first_name="Carol", last_name="Reviewer")


@pytest.fixture
def second_reviewer(db):
    return UserFactory(username="dave", first_name="Dave", last_name="Reviewer")


@pytest.fixture
def compliance(db):
    return UserFactory(username="erin", first_name="Erin", last_name="Compliance")


@pytest.fixture
def outsider(db):
    return UserFactory(username="mallory", first_name="Mallory", last_name="Outsider")


@pytest.fixture
def loan_model(owner, backup_owner):
    model = MLModelFactory(
        slug="loan-default", name="Loan default", owner=owner, backup_owner=backup_owner
    )
    version = ModelVersionFactory(model=model, label="v1")
    RoutingPolicyFactory(version=version)
    return model


@pytest.fixture
def other_model(outsider):
    model = MLModelFactory(slug="claim-fraud", name="Claim fraud", owner=outsider)
    version = ModelVersionFactory(
        model=model,
        label="v1",
        input_contract={"type": "object", "properties": {"amount": {"type": "number"}}},
        output_spec={"type": "number", "minimum": 0, "maximum": 1},
    )
    RoutingPolicyFactory(version=version, value_threshold=None)
    return model


def _key(models, scopes=(ServiceKeyScope.INTAKE,), name="scoring"):
    key, secret = service_key_create(
        name=name, models=models, scopes=scopes, actor=Actor.system("tests")
    )
    key.secret = secret
    return key


@pytest.fixture
def scoring_service(loan_model):
    return _key([loan_model], name="loan scoring")


@pytest.fixture
def outsider_service(other_model):
    return _key([other_model], name="fraud scoring")


@pytest.fixture
def make_key():
    return _key


@pytest.fixture
def api_client():
    return APIClient()


@pytest.fixture
def service_client(scoring_service):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {scoring_service.secret}")
    return client


@pytest.fixture
def outsider_client(outsider_service):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {outsider_service.secret}")
    return client


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    """PBKDF2 at production strength costs a third of a second per user; tests make many."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def export_dir(settings, tmp_path):
    """Exports go under the test's own tmp dir, never into the checkout's exports/ folder;
    qcluster_env() hands the same directories to a worker subprocess."""
    settings.EXPORT_DIR = tmp_path / "exports"
    settings.EXPORT_SCHEDULE_DIR = tmp_path / "monthly"
    return settings.EXPORT_DIR


@pytest.fixture
def receiver():
    """A real HTTP endpoint on loopback that records the webhooks it gets."""
    with Receiver() as running:
        yield running
