"""The reviewer UI driven by a plain HTTP client with a session (no JavaScript needed)."""

import pytest
from django.test import Client

from models_registry.models import ModelVersion
from reviewapp.models import Decision, DeliveryStatus, ReviewItem, WebhookDelivery
from reviewapp.services.queue import review_item_claim_next
from tests.audit.conftest import grant_role
from tests.reviewapp.review_items import make_item, make_items

pytestmark = pytest.mark.django_db


@pytest.fixture
def staffed_model(loan_model, reviewer, second_reviewer):
    loan_model.reviewers.add(reviewer, second_reviewer)
    return loan_model


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_the_queue_needs_a_login(client):
    response = client.get("/review/")
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")


def test_the_login_page_leads_to_the_queue(client, reviewer, staffed_model):
    response = client.post(
        "/accounts/login/?next=/review/",
        {"username": "carol", "password": "correct horse battery"},
    )
    assert response.status_code == 302 and response["Location"] == "/review/"


def test_the_navigation_offers_only_pages_the_person_may_open(staffed_model, reviewer, compliance):
    grant_role(compliance, "compliance officer")
    compliance.is_staff = True
    compliance.save()
    reviewers_page = client_for(reviewer).get("/review/").content.decode()
    compliance_page = client_for(compliance).get("/review/").content.decode()
    assert 'href="/compliance/"' not in reviewers_page and 'href="/admin/"' not in reviewers_page
    assert 'href="/compliance/"' in compliance_page and 'href="/admin/"' in compliance_page


def test_the_queue_page_shows_counts_per_model_and_the_start_button(staffed_model, reviewer):
    make_items(staffed_model, 3)
    page = client_for(reviewer).get("/review/").content.decode()
    assert "Loan default" in page and "Start reviewing" in page
    assert '<td class="num">3</td>' in page


def test_start_reviewing_claims_the_next_item_and_opens_it(staffed_model, reviewer):
    item = make_item(staffed_model)
    response = client_for(reviewer).post("/review/next/")
    assert response.status_code == 302 and response["Location"] == f"/review/items/{item.pk}/"
    item.refresh_from_db()
    assert item.claimed_by == reviewer


def test_the_item_page_shows_what_is_needed_to_decide(staffed_model, reviewer):
    version = ModelVersion.objects.get(model=staffed_model)
    contract = dict(version.input_contract)
    contract["properties"] = dict(contract["properties"])
    contract["properties"]["email"] = {"type": "string", "x-pii": True}
    version.input_contract = contract
    version.save()
    item = make_item(
        staffed_model,
        value_amount="25000",
        inputs={"applicant_age": 17, "income": 1000, "employment": "employed", "email": "a@b.c"},
    )

    page = client_for(reviewer).get(f"/review/items/{item.pk}/").content.decode()

    assert "Low confidence: 0.30 is below the threshold 0.60." in page
    assert "High value: 25,000.00 is at or above the threshold 10,000.00." in page
    assert "Breaks the input contract (1 problem)." in page
    assert 'class="violating"' in page and "17 is less than the minimum of 18" in page
    assert "a@b.c" not in page and "pii:" in page
    assert "You hold this item" in page
    assert "v1" in page and "25,000.00" in page


def test_approving_records_the_decision_and_opens_the_next_item(staffed_model, reviewer):
    first, second = make_items(staffed_model, 2)
    client = client_for(reviewer)
    client.post("/review/next/")

    response = client.post(f"/review/items/{first.pk}/", {"action": "approve"})

    assert response.status_code == 302 and response["Location"] == f"/review/items/{second.pk}/"
    assert Decision.objects.get(prediction=first.prediction).action == "approve"


def test_deciding_a_decided_item_again_says_so_and_changes_nothing(staffed_model, reviewer):
    item = make_item(staffed_model)
    client = client_for(reviewer)
    client.post("/review/next/")
    client.post(f"/review/items/{item.pk}/", {"action": "approve"})

    again = client.post(f"/review/items/{item.pk}/", {"action": "reject", "comment": "oops"})

    assert again.status_code == 400
    assert "This item has already been decided." in again.content.decode()
    assert Decision.objects.get(prediction=item.prediction).action == "approve"


def test_the_last_decision_returns_to_the_queue(staffed_model, reviewer):
    item = make_item(staffed_model)
    client = client_for(reviewer)
    client.post("/review/next/")
    response = client.post(f"/review/items/{item.pk}/", {"action": "approve"}, follow=True)
    assert response.redirect_chain[-1][0] == "/review/"
    assert "Nothing left in your queue" in response.content.decode()


def test_an_override_with_a_label_that_is_not_allowed_shows_the_error_and_saves_nothing(
    staffed_model, reviewer
):
    item = make_item(staffed_model)
    client = client_for(reviewer)
    client.post("/review/next/")

    response = client.post(
        f"/review/items/{item.pk}/",
        {"action": "override", "output": "maybe", "comment": "not sure"},
    )

    assert response.status_code == 400
    page = response.content.decode()
    assert "Not a valid output for this model" in page and "Allowed: approve, decline" in page
    assert 'value="maybe"' in page
    assert not Decision.objects.exists()


def test_a_missing_comment_is_shown_on_the_page(staffed_model, reviewer):
    item = make_item(staffed_model)
    client = client_for(reviewer)
    client.post("/review/next/")
    response = client.post(f"/review/items/{item.pk}/", {"action": "reject"})
    assert response.status_code == 400
    assert "A comment is required to reject." in response.content.decode()


def test_an_unknown_action_is_refused(staffed_model, reviewer):
    item = make_item(staffed_model)
    client = client_for(reviewer)
    client.post("/review/next/")
    response = client.post(f"/review/items/{item.pk}/", {"action": "delete"})
    assert response.status_code == 400 and not Decision.objects.exists()


def test_a_non_holder_sees_who_holds_it_and_cannot_decide(staffed_model, reviewer, second_reviewer):
    item = make_item(staffed_model)
    review_item_claim_next(user=reviewer)
    client = client_for(second_reviewer)

    page = client.get(f"/review/items/{item.pk}/").content.decode()
    assert "Held by Carol Reviewer" in page

    response = client.post(f"/review/items/{item.pk}/", {"action": "approve"})
    assert response.status_code == 400
    assert "Only the reviewer holding" in response.content.decode()
    assert not Decision.objects.exists()


def test_outsiders_get_a_404_for_another_models_item(staffed_model, outsider, other_model):
    item = make_item(staffed_model)
    client = client_for(outsider)
    assert client.get(f"/review/items/{item.pk}/").status_code == 404
    assert client.post(f"/review/items/{item.pk}/", {"action": "approve"}).status_code == 404
    assert client.post(f"/review/items/{item.pk}/renew/").status_code == 404
    assert client.post(f"/review/items/{item.pk}/release/").status_code == 404
    assert "loan-default" not in client.get("/review/").content.decode()
    item.refresh_from_db()
    assert item.claimed_by is None


def test_the_page_renews_the_lease_and_learns_when_it_is_lost(
    staffed_model, reviewer, second_reviewer
):
    item = make_item(staffed_model)
    client = client_for(reviewer)
    client.post("/review/next/")

    renewed = client.post(f"/review/items/{item.pk}/renew/")
    assert renewed.status_code == 200 and renewed.json()["seconds_left"] > 590

    lost = client_for(second_reviewer).post(f"/review/items/{item.pk}/renew/")
    assert lost.status_code == 409 and lost.json()["held_by"] == "carol"


def test_release_hands_the_item_back(staffed_model, reviewer):
    item = make_item(staffed_model)
    client = client_for(reviewer)
    client.post("/review/next/")
    assert client.post(f"/review/items/{item.pk}/release/").status_code == 302
    item.refresh_from_db()
    assert item.claimed_by is None


def test_next_skips_the_current_item(staffed_model, reviewer):
    first, second = make_items(staffed_model, 2)
    client = client_for(reviewer)
    client.post("/review/next/")
    response = client.post("/review/next/", {"skip": first.pk})
    assert response["Location"] == f"/review/items/{second.pk}/"
    assert ReviewItem.objects.get(pk=first.pk).claimed_by is None


def test_reviewers_see_their_own_figures(staffed_model, reviewer):
    item = make_item(staffed_model)
    client = client_for(reviewer)
    client.post("/review/next/")
    client.post(
        f"/review/items/{item.pk}/", {"action": "override", "output": "decline", "comment": "x"}
    )
    page = client.get("/review/me/").content.decode()
    assert "Override rate" in page and "100%" in page


def test_owners_see_the_team_page_and_reviewers_do_not(staffed_model, owner, reviewer):
    assert client_for(owner).get("/review/team/").status_code == 200
    assert "Carol" in client_for(owner).get("/review/team/").content.decode()
    assert client_for(reviewer).get("/review/team/").status_code == 404


@pytest.fixture
def dead_delivery(staffed_model, reviewer):
    staffed_model.callback_url = "http://127.0.0.1:9/hook"
    staffed_model.save()
    item = make_item(staffed_model)
    client = client_for(reviewer)
    client.post("/review/next/")
    client.post(f"/review/items/{item.pk}/", {"action": "approve"})
    delivery = WebhookDelivery.objects.get()
    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        status=DeliveryStatus.DEAD, attempts=14, last_status_code=500, next_attempt_at=None
    )
    return delivery


def test_owners_see_deliveries_and_can_replay_a_dead_one(dead_delivery, owner):
    client = client_for(owner)
    listing = client.get("/review/deliveries/?status=dead").content.decode()
    assert str(dead_delivery.event_id) in listing and "HTTP 500" in listing
    assert client.get(f"/review/deliveries/{dead_delivery.pk}/").status_code == 200

    response = client.post(f"/review/deliveries/{dead_delivery.pk}/replay/")

    assert response.status_code == 302
    dead_delivery.refresh_from_db()
    assert dead_delivery.status == DeliveryStatus.PENDING


def test_reviewers_and_outsiders_cannot_see_or_replay_deliveries(dead_delivery, reviewer, outsider):
    for user in (reviewer, outsider):
        client = client_for(user)
        assert client.get("/review/deliveries/").status_code == 404
        assert client.get(f"/review/deliveries/{dead_delivery.pk}/").status_code == 404
        assert client.post(f"/review/deliveries/{dead_delivery.pk}/replay/").status_code == 404
    dead_delivery.refresh_from_db()
    assert dead_delivery.status == DeliveryStatus.DEAD


def test_owners_see_their_deliveries_in_the_admin(dead_delivery, owner, outsider):
    owner.is_staff = True
    owner.save()
    page = client_for(owner).get("/admin/reviewapp/webhookdelivery/")
    assert page.status_code == 200 and str(dead_delivery.event_id) in page.content.decode()
    detail = client_for(owner).get(f"/admin/reviewapp/webhookdelivery/{dead_delivery.pk}/change/")
    assert detail.status_code == 200
    outsider.is_staff = True
    outsider.save()
    assert (
        str(dead_delivery.event_id)
        not in client_for(outsider).get("/admin/reviewapp/webhookdelivery/").content.decode()
    )


def test_routing_reasons_read_as_plain_words():
    from reviewapp.views import reason_text

    assert reason_text({"rule": "random_sample", "sample_rate": 0.05}) == (
        "Picked for the random audit sample (5% of traffic)."
    )
    assert reason_text({"rule": "contract_violation", "violations": 2}) == (
        "Breaks the input contract (2 problems)."
    )
    assert reason_text({"rule": "low_confidence", "confidence": None}).startswith("{")


def test_owners_can_replay_from_the_admin(dead_delivery, owner):
    owner.is_staff = True
    owner.save()
    response = client_for(owner).post(
        "/admin/reviewapp/webhookdelivery/",
        {"action": "replay", "_selected_action": [dead_delivery.pk]},
    )
    assert response.status_code == 302
    dead_delivery.refresh_from_db()
    assert dead_delivery.status == DeliveryStatus.PENDING
