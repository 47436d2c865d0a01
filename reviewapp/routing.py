"""Routing: does a prediction go to a person, and why. Pure functions, no database.

Every reason names its rule and carries the numbers that triggered it, so a routing decision
can always be explained (DESIGN invariant 5). The rules, in the order they are reported:

- ``contract_violation``: the inputs or the output break the version's contract;
- ``high_value``: ``value_amount`` at or above the value threshold (equal is high);
- ``low_confidence``: confidence strictly below the confidence threshold (equal is not low);
- ``random_sample``: none of the above fired and the external id hashes into the sample.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from decimal import Decimal


@dataclass(frozen=True)
class Policy:
    """The routing policy's numbers, detached from the ORM so routing stays pure."""

    confidence_threshold: float
    value_threshold: Decimal | None
    sample_rate: float
    on_contract_violation: str  # "review" | "reject"
    priorities: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Routing:
    status: str  # "auto_accepted" | "in_review" | "rejected"
    needs_review: bool
    reasons: list[dict]
    priority: int

    def as_dict(self) -> dict:
        return {"needs_review": self.needs_review, "reasons": self.reasons}


def in_random_sample(model_slug: str, external_id: str, sample_rate: float) -> bool:
    """Deterministic sampling: the same (model, external id) always lands on the same side."""
    if sample_rate <= 0:
        return False
    if sample_rate >= 1:
        return True
    digest = hashlib.sha256(f"{model_slug}\x1f{external_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < sample_rate


def route(
    policy: Policy,
    *,
    model_slug: str,
    external_id: str,
    confidence: float,
    value_amount: Decimal | None,
    violation_count: int,
) -> Routing:
    reasons: list[dict] = []
    if violation_count:
        reasons.append({"rule": "contract_violation", "violations": violation_count})
    if (
        policy.value_threshold is not None
        and value_amount is not None
        and value_amount >= policy.value_threshold
    ):
        reasons.append(
            {
                "rule": "high_value",
                "value_amount": f"{value_amount:.2f}",
                "threshold": f"{policy.value_threshold:.2f}",
            }
        )
    if confidence < policy.confidence_threshold:
        reasons.append(
            {
                "rule": "low_confidence",
                "confidence": confidence,
                "threshold": policy.confidence_threshold,
            }
        )
    if not reasons and in_random_sample(model_slug, external_id, policy.sample_rate):
        reasons.append({"rule": "random_sample", "sample_rate": policy.sample_rate})

    if violation_count and policy.on_contract_violation == "reject":
        return Routing(status="rejected", needs_review=False, reasons=reasons, priority=0)
    if not reasons:
        return Routing(status="auto_accepted", needs_review=False, reasons=[], priority=0)
    priority = max(policy.priorities.get(reason["rule"], 0) for reason in reasons)
    return Routing(status="in_review", needs_review=True, reasons=reasons, priority=priority)
