"""The review queue: who gets which item, leases, release, expiry and access."""

from datetime import datetime, timedelta

import pytest
from django.utils import timezone

from audit.models import AuditEvent
from reviewapp.models import ReviewItem
from reviewapp.selectors import review_item_get, review_items_visible_to
from reviewapp.services.queue import (
    NotLeaseHolder,
    review_item_claim_next,
    review_item_open,
    review_item_release,
    review_item_renew,
    review_leases_expire,
)
from tests.reviewapp.review_items import make_item, make_items

pytestmark = pytest.mark.django_db


@pytest.fixture
def staffed_model(loan_model, reviewer, second_reviewer):
    loan_model.reviewers.add(reviewer, second_reviewer)
    return loan_model


def test_it_claims_the_highest_priority_then_the_earliest_due(staffed_model, reviewer):
    low, high_late, high_early = make_items(staffed_model, 3)
    now = timezone.now()
    ReviewItem.objects.filter(pk=low.pk).update(priority=10, due_at=now)
    ReviewItem.objects.filter(pk=high_late.pk).update(priority=90, due_at=now + timedelta(hours=2))
    ReviewItem.objects.filter(pk=high_early.pk).update(priority=90, due_at=now + timedelta(hours=1))

    order = [review_item_claim_next(user=reviewer).pk for _ in range(3)]

    assert order == [high_early.pk, high_late.pk, low.pk]
    assert review_item_claim_next(user=reviewer) is None


def test_a_claim_gives_a_lease_of_the_models_length_and_is_audited(staffed_model, reviewer):
    staffed_model.lease_seconds = 120
    staffed_model.save()
    item = make_item(staffed_model)

    claimed = review_item_claim_next(user=reviewer)

    assert claimed.pk == item.pk and claimed.claimed_by == reviewer
    remaining = (claimed.lease_expires_at - timezone.now()).total_seconds()
    assert 100 < remaining <= 120
    event = AuditEvent.objects.get(action="review.claimed")
    assert event.actor_id == str(reviewer.pk) and event.object_id == str(item.pk)


def test_the_claim_event_says_what_was_claimed_under_the_models_chain(staffed_model, reviewer):
    item = make_item(staffed_model)

    claimed = review_item_claim_next(user=reviewer)

    event = AuditEvent.objects.get(action="review.claimed")
    assert (event.model_id, event.chain, event.object_type) == (
        staffed_model.pk,
        staffed_model.slug,
        "reviewapp.reviewitem",
    )
    assert event.actor_type == "user" and event.actor_label.startswith(reviewer.username)
    assert event.payload["prediction_id"] == item.prediction_id
    assert event.payload["stage"] == "review"
    written = datetime.fromisoformat(event.payload["lease_expires_at"])
    assert written == claimed.lease_expires_at


def test_the_default_lease_is_ten_minutes(staffed_model, reviewer):
    make_item(staffed_model)
    claimed = review_item_claim_next(user=reviewer)
    remaining = (claimed.lease_expires_at - timezone.now()).total_seconds()
    assert 590 < remaining <= 600


def test_a_held_item_is_not_given_to_anyone_else(staffed_model, reviewer, second_reviewer):
    make_item(staffed_model)
    assert review_item_claim_next(user=reviewer) is not None
    assert review_item_claim_next(user=second_reviewer) is None


def test_an_expired_lease_is_claimable_again_without_a_sweep(
    staffed_model, reviewer, second_reviewer
):
    item = make_item(staffed_model)
    review_item_claim_next(user=reviewer)
    ReviewItem.objects.filter(pk=item.pk).update(
        lease_expires_at=timezone.now() - timedelta(seconds=1)
    )

    lapsed_at = ReviewItem.objects.get(pk=item.pk).lease_expires_at

    taken = review_item_claim_next(user=second_reviewer)

    assert taken.pk == item.pk and taken.claimed_by == second_reviewer
    expired = AuditEvent.objects.get(action="review.lease_expired")
    assert expired.payload["holder_id"] == reviewer.pk
    assert datetime.fromisoformat(expired.payload["lease_expired_at"]) == lapsed_at
    assert expired.actor_type == "system"
    claimed_again = AuditEvent.objects.filter(action="review.claimed").latest("id")
    assert claimed_again.actor_id == str(second_reviewer.pk)
    assert expired.id < claimed_again.id, "the expiry is recorded before the new claim"


def test_a_lapsed_lease_takes_its_place_in_queue_order_among_unclaimed_items(
    staffed_model, reviewer, second_reviewer
):
    urgent, routine, trivial = make_items(staffed_model, 3)
    now = timezone.now()
    for item, priority in ((urgent, 90), (routine, 50), (trivial, 10)):
        ReviewItem.objects.filter(pk=item.pk).update(priority=priority, due_at=now)
    assert review_item_claim_next(user=reviewer).pk == urgent.pk
    assert review_item_claim_next(user=reviewer).pk == routine.pk
    ReviewItem.objects.filter(pk__in=[urgent.pk, routine.pk]).update(
        lease_expires_at=now - timedelta(seconds=1)
    )

    order = [review_item_claim_next(user=second_reviewer).pk for _ in range(3)]

    assert order == [urgent.pk, routine.pk, trivial.pk]


def test_the_sweep_records_an_expiry_nobody_took_over_once(staffed_model, reviewer):
    item = make_item(staffed_model)
    review_item_claim_next(user=reviewer)
    ReviewItem.objects.filter(pk=item.pk).update(
        lease_expires_at=timezone.now() - timedelta(seconds=1)
    )

    assert review_leases_expire() == 1
    assert review_leases_expire() == 0
    item.refresh_from_db()
    assert item.claimed_by is None
    assert AuditEvent.objects.filter(action="review.lease_expired").count() == 1


def test_release_hands_the_item_back(staffed_model, reviewer, second_reviewer):
    item = make_item(staffed_model)
    review_item_claim_next(user=reviewer)

    assert review_item_release(user=reviewer, item=item) is True
    assert review_item_claim_next(user=second_reviewer).pk == item.pk
    assert AuditEvent.objects.filter(action="review.released", actor_id=str(reviewer.pk)).exists()


def test_release_by_someone_else_does_nothing(staffed_model, reviewer, second_reviewer):
    item = make_item(staffed_model)
    review_item_claim_next(user=reviewer)
    assert review_item_release(user=second_reviewer, item=item) is False
    item.refresh_from_db()
    assert item.claimed_by == reviewer


def test_renewal_extends_the_holders_lease(staffed_model, reviewer):
    item = make_item(staffed_model)
    review_item_claim_next(user=reviewer)
    ReviewItem.objects.filter(pk=item.pk).update(
        lease_expires_at=timezone.now() + timedelta(seconds=5)
    )

    expires = review_item_renew(user=reviewer, item=item)

    assert (expires - timezone.now()).total_seconds() > 590
    assert AuditEvent.objects.filter(action="review.lease_renewed").count() == 1


def test_renewal_is_refused_once_someone_else_holds_it(staffed_model, reviewer, second_reviewer):
    item = make_item(staffed_model)
    review_item_claim_next(user=reviewer)
    ReviewItem.objects.filter(pk=item.pk).update(lease_expires_at=timezone.now())
    review_item_claim_next(user=second_reviewer)

    with pytest.raises(NotLeaseHolder):
        review_item_renew(user=reviewer, item=item)


def test_opening_a_free_item_claims_it(staffed_model, reviewer):
    first, second = make_items(staffed_model, 2)
    opened = review_item_open(user=reviewer, item=second)
    assert opened.claimed_by == reviewer and opened.pk == second.pk


def test_opening_a_held_item_shows_who_holds_it(staffed_model, reviewer, second_reviewer):
    item = make_item(staffed_model)
    review_item_claim_next(user=reviewer)
    opened = review_item_open(user=second_reviewer, item=item)
    assert opened.claimed_by == reviewer


def test_opening_an_item_whose_lease_ran_out_takes_it_over(
    staffed_model, reviewer, second_reviewer
):
    item = make_item(staffed_model)
    review_item_claim_next(user=reviewer)
    ReviewItem.objects.filter(pk=item.pk).update(
        lease_expires_at=timezone.now() - timedelta(seconds=1)
    )

    opened = review_item_open(user=second_reviewer, item=item)

    assert opened.claimed_by == second_reviewer
    assert AuditEvent.objects.get(action="review.lease_expired").payload["holder_id"] == (
        reviewer.pk
    )


def test_an_owner_may_work_their_own_models_queue(loan_model, owner, backup_owner):
    make_items(loan_model, 2)
    assert review_item_claim_next(user=owner) is not None
    assert review_item_claim_next(user=backup_owner) is not None


def test_outsiders_can_neither_see_nor_claim_the_models_items(staffed_model, outsider, other_model):
    item = make_item(staffed_model)
    assert review_item_claim_next(user=outsider) is None
    assert review_item_open(user=outsider, item=item).claimed_by is None
    assert not review_items_visible_to(outsider).filter(pk=item.pk).exists()
    assert review_item_get(user=outsider, pk=item.pk) is None


def test_a_reviewer_of_another_model_cannot_claim_this_one(staffed_model, other_model, compliance):
    other_model.reviewers.add(compliance)
    make_item(staffed_model)
    assert review_item_claim_next(user=compliance) is None
