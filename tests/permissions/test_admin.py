"""The admin for every role: own models only, compliance read-only, audit events never edited."""

import pytest
from rest_framework.test import APIClient

from audit.models import AuditEvent
from reviewapp.models import WebhookDelivery
from tests.audit.conftest import grant_role
from tests.permissions.matrix import (
    Case,
    assert_each_role_gets_what_it_should,
    client_for,
    statuses,
)
from tests.reviewapp.review_items import make_item

CASES = [
    Case(
        "admin: models list",
        "get",
        "/admin/models_registry/mlmodel/",
        statuses(owner=200, backup=200, other_reviewer=302, compliance=200),
        must_show={"owner": "loan-default", "compliance": "claim-fraud"},
    ),
    Case(
        "admin: someone else's model",
        "get",
        "/admin/models_registry/mlmodel/{fraud}/change/",
        statuses(owner=302, backup=302, other_reviewer=302, compliance=200),
        leaks="claim-fraud",
    ),
    Case(
        "admin: own model",
        "get",
        "/admin/models_registry/mlmodel/{loan}/change/",
        statuses(owner=200, backup=200, other_reviewer=302, compliance=200),
        must_show={"owner": 'name="_save"'},
    ),
    Case(
        "admin: own model history",
        "get",
        "/admin/models_registry/mlmodel/{loan}/history/",
        statuses(owner=200, backup=200, other_reviewer=302, compliance=200),
    ),
    Case(
        "admin: change an audit event",
        "post",
        "/admin/audit/auditevent/{event}/change/",
        statuses(owner=403, backup=403, other_reviewer=302, compliance=403),
        body={"action": "forged"},
        leaks="forged",
    ),
    Case(
        "admin: add an audit event",
        "get",
        "/admin/audit/auditevent/add/",
        statuses(owner=403, backup=403, other_reviewer=302, compliance=403),
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_each_role_gets_exactly_what_it_should(case, world, settings):
    assert_each_role_gets_what_it_should(case, world, settings)


def test_compliance_sees_other_models_in_the_admin_but_cannot_save(world):
    client = client_for("compliance", world)
    page = client.get(f"/admin/models_registry/mlmodel/{world['ids']['fraud']}/change/")
    assert page.status_code == 200 and b'name="_save"' not in page.content
    posted = client.post(
        f"/admin/models_registry/mlmodel/{world['ids']['fraud']}/change/", {"name": "x"}
    )
    assert posted.status_code == 403


def test_compliance_reads_every_models_review_records_in_the_admin(world, other_model):
    fraud_item = make_item(other_model)
    compliance = client_for("compliance", world)
    for listing in ("/admin/reviewapp/reviewitem/", "/admin/reviewapp/prediction/"):
        page = compliance.get(listing).content.decode()
        assert "loan-default" in page and "claim-fraud" in page, listing
    item_page = compliance.get(f"/admin/reviewapp/reviewitem/{world['ids']['item']}/change/")
    assert item_page.status_code == 200 and b'name="_save"' not in item_page.content
    # The owner of loan-default sees their own model's items only.
    owners = client_for("owner", world).get("/admin/reviewapp/reviewitem/").content.decode()
    assert f"/admin/reviewapp/reviewitem/{world['ids']['item']}/" in owners
    assert f"/admin/reviewapp/reviewitem/{fraud_item.pk}/" not in owners


def test_compliance_cannot_replay_a_webhook_delivery_from_the_admin(world):
    delivery = WebhookDelivery.objects.get(pk=world["ids"]["delivery"])
    listing = "/admin/reviewapp/webhookdelivery/"
    compliance = client_for("compliance", world)
    page = compliance.get(listing)
    assert page.status_code == 200 and b'value="replay"' not in page.content
    compliance.post(listing, {"action": "replay", "_selected_action": [delivery.pk]})
    assert not AuditEvent.objects.filter(action="webhook.replayed").exists()
    owner = client_for("owner", world)
    assert b'value="replay"' in owner.get(listing).content


def test_audit_events_are_read_only_even_for_superusers(world, django_user_model):
    root = django_user_model.objects.create_superuser("root", "root@example.com", "pw")
    client = APIClient()
    client.force_login(root)
    event = world["ids"]["event"]
    assert client.get(f"/admin/audit/auditevent/{event}/change/").status_code == 200
    assert (
        client.post(f"/admin/audit/auditevent/{event}/change/", {"action": "x"}).status_code == 403
    )
    assert client.get("/admin/audit/auditevent/add/").status_code == 403
    assert client.post(f"/admin/audit/auditevent/{event}/delete/").status_code == 403
    assert AuditEvent.objects.get(pk=event).action == "prediction.received"


def test_an_owner_can_only_attach_their_own_models_to_a_service_key(world):
    client = client_for("owner", world)
    page = client.get("/admin/models_registry/modelversion/add/")
    assert page.status_code == 200
    assert b"loan-default" in page.content and b"claim-fraud" not in page.content


def test_an_administrator_in_the_group_sees_every_model_but_never_edits_audit_events(
    world, django_user_model
):
    admin_user = django_user_model.objects.create_user("ada", password="pw", is_staff=True)
    grant_role(admin_user, "administrator")
    client = APIClient()
    client.force_login(admin_user)
    listing = client.get("/admin/models_registry/mlmodel/")
    assert b"loan-default" in listing.content and b"claim-fraud" in listing.content
    event = world["ids"]["event"]
    assert (
        client.post(f"/admin/audit/auditevent/{event}/change/", {"action": "x"}).status_code == 403
    )
