"""Routing rules, their boundaries and combinations (pure: no database)."""

from decimal import Decimal

import pytest

from reviewapp.routing import Policy, in_random_sample, route

POLICY = Policy(
    confidence_threshold=0.6,
    value_threshold=Decimal("10000.00"),
    sample_rate=0.0,
    on_contract_violation="review",
    priorities={
        "high_value": 100,
        "contract_violation": 60,
        "low_confidence": 50,
        "random_sample": 10,
    },
)


def decide(policy=POLICY, *, confidence=0.9, value=None, violations=0, external_id="x-1"):
    return route(
        policy,
        model_slug="loan-default",
        external_id=external_id,
        confidence=confidence,
        value_amount=value,
        violation_count=violations,
    )


def test_a_confident_low_value_valid_prediction_is_auto_accepted():
    routing = decide(confidence=0.9, value=Decimal("500"))
    assert routing.status == "auto_accepted"
    assert routing.needs_review is False
    assert routing.reasons == []


def test_low_confidence_names_the_rule_the_confidence_and_the_threshold():
    routing = decide(confidence=0.41)
    assert routing.status == "in_review"
    assert routing.reasons == [{"rule": "low_confidence", "confidence": 0.41, "threshold": 0.6}]


def test_a_confidence_equal_to_the_threshold_is_not_low():
    assert decide(confidence=0.6).status == "auto_accepted"


def test_a_value_equal_to_the_threshold_is_high():
    routing = decide(value=Decimal("10000.00"))
    assert routing.reasons == [
        {"rule": "high_value", "value_amount": "10000.00", "threshold": "10000.00"}
    ]


def test_a_value_just_below_the_threshold_is_not_high():
    assert decide(value=Decimal("9999.99")).status == "auto_accepted"


def test_no_value_threshold_means_no_value_rule():
    policy = Policy(0.6, None, 0.0, "review", {})
    assert decide(policy, value=Decimal("1000000")).status == "auto_accepted"


def test_contract_violations_are_counted_in_the_reason():
    routing = decide(violations=2)
    assert routing.reasons == [{"rule": "contract_violation", "violations": 2}]


def test_all_rules_that_fire_are_reported_and_the_highest_priority_wins():
    routing = decide(confidence=0.2, value=Decimal("25000"), violations=1)
    assert [r["rule"] for r in routing.reasons] == [
        "contract_violation",
        "high_value",
        "low_confidence",
    ]
    assert routing.priority == 100


def test_a_violation_under_a_reject_policy_is_rejected_not_reviewed():
    policy = Policy(0.6, None, 0.0, "reject", {})
    routing = decide(policy, violations=1)
    assert routing.status == "rejected"
    assert routing.needs_review is False
    assert routing.reasons == [{"rule": "contract_violation", "violations": 1}]


def test_the_random_sample_is_deterministic_per_external_id():
    policy = Policy(0.6, None, 0.5, "review", {"random_sample": 10})
    first = [decide(policy, external_id=f"id-{i}").status for i in range(200)]
    again = [decide(policy, external_id=f"id-{i}").status for i in range(200)]
    assert first == again
    sampled = first.count("in_review")
    assert 60 < sampled < 140  # about half, by hash


def test_the_random_sample_reason_carries_the_rate():
    policy = Policy(0.6, None, 1.0, "review", {"random_sample": 10})
    routing = decide(policy)
    assert routing.reasons == [{"rule": "random_sample", "sample_rate": 1.0}]
    assert routing.priority == 10


def test_the_random_sample_only_takes_otherwise_auto_accepted_predictions():
    policy = Policy(0.6, None, 1.0, "review", {})
    assert [r["rule"] for r in decide(policy, confidence=0.1).reasons] == ["low_confidence"]


@pytest.mark.parametrize("rate", [0.0, 1.0])
def test_the_sample_rate_bounds_are_none_and_all(rate):
    hits = sum(in_random_sample("m", f"e{i}", rate) for i in range(100))
    assert hits == (0 if rate == 0.0 else 100)
