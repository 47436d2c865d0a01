"""Decisions: who may decide, once; two-person review; escalation; the SLA fallback."""

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from audit.models import AuditEvent
from models_registry.models import RoutingPolicy
from reviewapp.models import (
    Decision,
    PredictionStatus,
    ReviewAction,
    ReviewItem,
    ReviewItemStatus,
    ReviewStage,
)
from reviewapp.selectors import items_for_owner
from reviewapp.services.decisions import review_action_record, review_sla_sweep
from reviewapp.services.queue import (
    AlreadyDecided,
    NotAllowed,
    NotLeaseHolder,
    ReviewError,
    review_item_claim_next,
)
from tests.reviewapp.review_items import make_item

pytestmark = pytest.mark.django_db


@pytest.fixture
def staffed_model(loan_model, reviewer, second_reviewer):
    loan_model.reviewers.add(reviewer, second_reviewer)
    return loan_model


@pytest.fixture
def policy(staffed_model) -> RoutingPolicy:
    return RoutingPolicy.objects.get(version__model=staffed_model)


def claimed(model, user, **kwargs) -> ReviewItem:
    make_item(model, **kwargs)
    return review_item_claim_next(user=user)


def test_approve_records_the_final_decision_everywhere(staffed_model, reviewer):
    item = claimed(staffed_model, reviewer)

    result = review_action_record(user=reviewer, item=item, action="approve")

    decision = Decision.objects.get(prediction=item.prediction)
    assert result.decision == decision
    assert decision.action == "approve" and decision.final_output == "approve"
    assert decision.decided_by == ["carol"]
    item.refresh_from_db()
    item.prediction.refresh_from_db()
    assert item.status == ReviewItemStatus.DECIDED
    assert item.prediction.status == PredictionStatus.DECIDED
    recorded = AuditEvent.objects.get(action="decision.recorded")
    assert recorded.actor_id == str(reviewer.pk)
    assert recorded.payload["action"] == "approve"


def test_an_override_is_checked_against_the_output_spec(staffed_model, reviewer):
    item = claimed(staffed_model, reviewer)

    with pytest.raises(ReviewError) as refused:
        review_action_record(
            user=reviewer, item=item, action="override", output="maybe", comment="unsure"
        )

    assert refused.value.field == "output"
    assert "approve, decline" in refused.value.message
    assert not Decision.objects.exists() and not ReviewAction.objects.exists()


def test_an_override_with_an_allowed_label_stands(staffed_model, reviewer):
    item = claimed(staffed_model, reviewer)
    review_action_record(
        user=reviewer, item=item, action="override", output="decline", comment="income too low"
    )
    decision = Decision.objects.get()
    assert (decision.action, decision.final_output) == ("override", "decline")
    assert decision.comment == "income too low"


@pytest.mark.parametrize("action", ["override", "reject", "escalate"])
def test_a_comment_is_required_to(action, staffed_model, reviewer):
    item = claimed(staffed_model, reviewer)
    with pytest.raises(ReviewError) as refused:
        review_action_record(user=reviewer, item=item, action=action, output="decline")
    assert refused.value.field == "comment"


def test_a_non_holder_cannot_decide(staffed_model, reviewer, second_reviewer):
    item = claimed(staffed_model, reviewer)
    with pytest.raises(NotLeaseHolder):
        review_action_record(user=second_reviewer, item=item, action="approve")
    assert not Decision.objects.exists()


def test_a_holder_whose_lease_ran_out_cannot_decide(staffed_model, reviewer):
    item = claimed(staffed_model, reviewer)
    ReviewItem.objects.filter(pk=item.pk).update(lease_expires_at=timezone.now())
    with pytest.raises(NotLeaseHolder):
        review_action_record(user=reviewer, item=item, action="approve")


def test_it_refuses_a_second_decision(staffed_model, reviewer):
    item = claimed(staffed_model, reviewer)
    review_action_record(user=reviewer, item=item, action="approve")
    with pytest.raises(AlreadyDecided):
        review_action_record(user=reviewer, item=item, action="reject", comment="changed my mind")
    assert Decision.objects.get().action == "approve"


def test_reject_records_no_output(staffed_model, reviewer):
    item = claimed(staffed_model, reviewer)
    review_action_record(user=reviewer, item=item, action="reject", comment="garbage inputs")
    assert (Decision.objects.get().action, Decision.objects.get().final_output) == ("reject", None)


def test_escalation_goes_to_the_owner_only(staffed_model, reviewer, second_reviewer, owner):
    item = claimed(staffed_model, reviewer)

    result = review_action_record(
        user=reviewer, item=item, action="escalate", comment="looks like fraud"
    )

    assert result.decision is None and result.next_stage == ReviewStage.ESCALATED
    assert review_item_claim_next(user=second_reviewer) is None
    taken = review_item_claim_next(user=owner)
    assert taken.pk == item.pk
    review_action_record(user=owner, item=taken, action="reject", comment="fraud confirmed")
    decision = Decision.objects.get()
    assert decision.decided_by == ["carol", "alice"] and decision.reason == "escalated"
    assert AuditEvent.objects.filter(action="review.escalated").count() == 1
    assert mail.outbox == [] or "needs you" in mail.outbox[0].subject


def two_person_item(model, policy, user):
    policy.second_review_value_threshold = "50000.00"
    policy.save()
    return claimed(model, user, value_amount="75000")


def test_two_person_review_needs_a_second_person(staffed_model, policy, reviewer):
    item = two_person_item(staffed_model, policy, reviewer)

    result = review_action_record(user=reviewer, item=item, action="approve")

    assert result.decision is None and result.next_stage == ReviewStage.SECOND_REVIEW
    # The same person is not offered the item again...
    assert review_item_claim_next(user=reviewer) is None
    # ...and cannot record a second opinion even holding it.
    ReviewItem.objects.filter(pk=item.pk).update(
        claimed_by=reviewer, lease_expires_at=timezone.now() + timedelta(minutes=5)
    )
    with pytest.raises(NotAllowed):
        review_action_record(user=reviewer, item=item, action="approve")
    assert not Decision.objects.exists()


def test_two_agreeing_reviewers_decide_together(staffed_model, policy, reviewer, second_reviewer):
    item = two_person_item(staffed_model, policy, reviewer)
    review_action_record(user=reviewer, item=item, action="approve")
    second = review_item_claim_next(user=second_reviewer)

    result = review_action_record(user=second_reviewer, item=second, action="approve")

    assert result.decision.decided_by == ["carol", "dave"]
    assert result.decision.reason == "two_person_agreed"


def test_disagreement_goes_to_the_owner_to_adjudicate(
    staffed_model, policy, reviewer, second_reviewer, owner
):
    item = two_person_item(staffed_model, policy, reviewer)
    review_action_record(user=reviewer, item=item, action="approve")
    second = review_item_claim_next(user=second_reviewer)

    result = review_action_record(
        user=second_reviewer, item=second, action="override", output="decline", comment="risky"
    )

    assert result.decision is None and result.next_stage == ReviewStage.ADJUDICATION
    assert review_item_claim_next(user=second_reviewer) is None
    adjudicating = review_item_claim_next(user=owner)
    final = review_action_record(
        user=owner, item=adjudicating, action="override", output="decline", comment="agree: risky"
    )
    assert final.decision.decided_by == ["carol", "dave", "alice"]
    assert final.decision.reason == "adjudicated"
    assert AuditEvent.objects.filter(action="review.disagreement").exists()
    assert AuditEvent.objects.filter(action="review.adjudicated", actor_id=str(owner.pk)).exists()


def test_a_scoring_service_flag_asks_for_two_people(staffed_model, reviewer):
    item = claimed(staffed_model, reviewer, context={"two_person_review": True})
    result = review_action_record(user=reviewer, item=item, action="approve")
    assert result.next_stage == ReviewStage.SECOND_REVIEW


def overdue(model):
    item = make_item(model)
    ReviewItem.objects.filter(pk=item.pk).update(due_at=timezone.now() - timedelta(minutes=1))
    return item


@pytest.mark.parametrize(
    ("on_breach", "action", "final_output"),
    [("accept_model_output", "fallback", "approve"), ("reject", "reject", None)],
)
def test_the_sla_sweep_records_the_policys_fallback(
    on_breach, action, final_output, staffed_model, policy
):
    policy.on_sla_breach = on_breach
    policy.save()
    item = overdue(staffed_model)

    result = review_sla_sweep()

    assert (result.escalated, result.decided) == (1, 1)
    decision = Decision.objects.get(prediction=item.prediction)
    assert (decision.action, decision.final_output) == (action, final_output)
    assert decision.reason == "sla_expired" and decision.decided_by == ["system"]
    recorded = AuditEvent.objects.get(action="decision.recorded")
    assert recorded.actor_type == "system"
    assert review_sla_sweep() == type(result)(0, 0)


def test_the_sla_sweep_escalates_once_when_the_policy_only_escalates(
    staffed_model, policy, reviewer, owner
):
    item = overdue(staffed_model)

    assert review_sla_sweep().escalated == 1
    assert review_sla_sweep().escalated == 0

    item.refresh_from_db()
    assert item.sla_breached_at is not None
    assert not Decision.objects.exists()
    assert [i.pk for i in items_for_owner(user=owner)] == [item.pk]
    assert list(items_for_owner(user=reviewer)) == []
    escalated = AuditEvent.objects.get(action="review.escalated")
    assert escalated.actor_type == "system" and escalated.payload["reason"] == "sla_expired"


def test_the_sla_fallback_waits_for_a_held_lease(staffed_model, policy, reviewer):
    policy.on_sla_breach = "reject"
    policy.save()
    item = overdue(staffed_model)
    review_item_claim_next(user=reviewer)

    assert review_sla_sweep().decided == 0
    review_action_record(user=reviewer, item=item, action="approve")
    assert Decision.objects.get().action == "approve"


def test_escalated_items_do_not_crowd_later_ones_out_of_the_sweep(staffed_model, policy):
    items = [overdue(staffed_model) for _ in range(3)]

    assert review_sla_sweep(limit=2).escalated == 2
    assert review_sla_sweep(limit=2).escalated == 1

    assert (
        ReviewItem.objects.filter(
            pk__in=[i.pk for i in items], sla_breached_at__isnull=False
        ).count()
        == 3
    )


def test_the_sweeps_are_scheduled_by_the_migrations():
    from importlib import import_module

    from django.apps import apps
    from django_q.models import Schedule

    # Run the data migration's step itself: a transactional test elsewhere may have flushed
    # the rows that `migrate` made. Running it twice must not duplicate anything.
    migration = import_module("reviewapp.migrations.0003_queue_schedules")
    migration.forward(apps, None)
    migration.forward(apps, None)
    assert Schedule.objects.filter(name__startswith="review: ").count() == 2
    funcs = set(Schedule.objects.values_list("func", flat=True))
    assert {"reviewapp.tasks.sweep_review_sla", "reviewapp.tasks.retry_webhook_deliveries"} <= funcs


def test_the_sla_task_reports_what_it_did(staffed_model, policy):
    from reviewapp.tasks import sweep_review_sla

    policy.on_sla_breach = "reject"
    policy.save()
    overdue(staffed_model)
    assert sweep_review_sla() == "1 escalated, 1 decided, 0 leases expired"


def test_the_owner_cannot_escalate_to_themselves(staffed_model, owner):
    item = claimed(staffed_model, owner)
    with pytest.raises(ReviewError) as refused:
        review_action_record(user=owner, item=item, action="escalate", comment="hmm")
    assert refused.value.field == "action"


def test_a_policy_can_send_a_routing_rule_to_two_people(staffed_model, policy, reviewer):
    policy.two_person_review_rules = ["contract_violation"]
    policy.save()
    low_confidence = claimed(staffed_model, reviewer)
    assert review_action_record(user=reviewer, item=low_confidence, action="approve").decision

    broken = claimed(staffed_model, reviewer, inputs={"applicant_age": 5})
    result = review_action_record(user=reviewer, item=broken, action="approve")
    assert result.decision is None and result.next_stage == ReviewStage.SECOND_REVIEW


def test_a_policy_names_only_known_rules(policy):
    from django.core.exceptions import ValidationError

    policy.two_person_review_rules = ["gut_feeling"]
    with pytest.raises(ValidationError, match="contract_violation"):
        policy.full_clean()
