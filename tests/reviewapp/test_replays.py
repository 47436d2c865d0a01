"""What counts as the same prediction sent again (pure)."""

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

from reviewapp import replays


def fields(**overrides):
    base = dict(
        version_label="v1",
        inputs={"a": 1, "b": [1.0, {"c": 2}]},
        output="approve",
        confidence=0.5,
        value_amount=Decimal("10"),
        occurred_at=None,
        context={},
    )
    base.update(overrides)
    return replays.comparable(**base)


def test_key_order_and_number_spelling_do_not_change_the_hash():
    a = fields(inputs={"a": 1, "b": [1.0, {"c": 2}]}, value_amount=Decimal("10.00"))
    b = fields(inputs={"b": [1, {"c": 2.0}], "a": 1.0}, value_amount=Decimal("10"))
    assert replays.content_hash(a) == replays.content_hash(b)


def test_the_same_moment_in_another_time_zone_is_the_same():
    moment = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
    other = moment.astimezone(timezone(timedelta(hours=2)))
    assert fields(occurred_at=moment) == fields(occurred_at=other)


def test_differing_fields_are_named_in_a_stable_order():
    a = fields()
    b = fields(output="decline", confidence=0.6, context={"x": 1})
    assert replays.differing_fields(a, b) == ["output", "confidence", "context"]
    assert replays.content_hash(a) != replays.content_hash(b)
