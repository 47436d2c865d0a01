"""seed_demo builds the demo world and is safe to run twice."""

from io import StringIO

import pytest
from django.core.management import call_command

from audit.models import AuditEvent
from models_registry.models import MLModel, ServiceKey

pytestmark = pytest.mark.django_db


def test_it_loads_two_owned_models_with_active_versions_and_a_key():
    call_command("seed_demo", stdout=StringIO())
    loan = MLModel.objects.get(slug="loan-default")
    claims = MLModel.objects.get(slug="claim-fraud")
    assert loan.owner.username == "alice" and claims.owner.username == "bob"
    assert loan.active_version.routing_policy.value_threshold == 25000
    assert claims.active_version.output_spec["maximum"] == 1
    assert {u.username for u in loan.reviewers.all()} == {"carol", "dave"}
    assert ServiceKey.objects.count() == 1


def test_running_it_twice_changes_nothing():
    call_command("seed_demo", stdout=StringIO())
    events = AuditEvent.objects.count()
    out = StringIO()
    call_command("seed_demo", stdout=out)
    assert "nothing changed" in out.getvalue()
    assert MLModel.objects.count() == 2
    assert ServiceKey.objects.count() == 1
    assert AuditEvent.objects.count() == events


def test_the_demo_traffic_is_accepted_by_the_api(client):
    from models_registry.demo import DEMO_SERVICE_KEY
    from reviewapp.demo_traffic import demo_requests

    call_command("seed_demo", stdout=StringIO())
    codes = set()
    for request in demo_requests(count=120, seed=3):
        path = {"single": "predictions", "batch": "predictions/batch", "outcomes": "outcomes"}[
            request.kind
        ]
        response = client.post(
            f"/api/v1/models/{request.slug}/{path}",
            request.body,
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Bearer {DEMO_SERVICE_KEY}",
        )
        codes.add(response.status_code)
    assert codes <= {200, 201, 400, 409, 422}
    assert {200, 201, 400, 409} <= codes
