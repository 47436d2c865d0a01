"""Simulated scoring-service traffic for the demo, messy on purpose.

Pure generation (seeded, so a run is repeatable); sending is the command's job.
Production data has missing fields, wrong types and values out of range; so does this.
"""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True)
class Request:
    kind: str  # "single" | "batch" | "outcomes"
    slug: str
    body: dict
    label: str  # what makes it interesting


def _loan(rng: random.Random, external_id: str) -> dict:
    """An application drawn like the demo's training baseline (monitoring/demo.py)."""
    income = round(rng.lognormvariate(10.8, 0.5), 2)
    amount = max(100.0, round(income * rng.uniform(0.1, 0.6), 2))
    score = int(min(850, max(300, round(rng.gauss(680, 60)))))
    approve = score + rng.gauss(0, 40) > 640
    margin = abs(score - 640) / 120
    confidence = round(min(0.99, max(0.35, 0.62 + margin * 0.5 + rng.gauss(0, 0.06))), 3)
    return {
        "external_id": external_id,
        "inputs": {
            "applicant_age": int(min(100, max(18, round(rng.gauss(42, 12))))),
            "income": income,
            "loan_amount": amount,
            "employment": rng.choices(
                ["employed", "self_employed", "unemployed", "retired"], [62, 18, 8, 12]
            )[0],
            "credit_score": score,
            "email": f"applicant{rng.randint(1, 99999)}@example.com",
        },
        "output": "approve" if approve else "decline",
        "confidence": confidence,
        "value_amount": f"{amount:.2f}",
    }


def _poisson(rng: random.Random, mean: float) -> int:
    count, threshold, product = 0, pow(2.718281828459045, -mean), rng.random()
    while product > threshold:
        count += 1
        product *= rng.random()
    return count


def _claim(rng: random.Random, external_id: str) -> dict:
    """A claim drawn like the demo's training baseline (monitoring/demo.py)."""
    prior = min(50, _poisson(rng, 0.8))
    amount = round(rng.lognormvariate(7.5, 1.0), 2)
    probability = round(1 / (1 + pow(2.718281828459045, -(-3 + 0.6 * prior + 0.0002 * amount))), 4)
    return {
        "external_id": external_id,
        "inputs": {
            "claim_amount": amount,
            "policy_age_days": rng.randint(0, 3649),
            "claim_type": rng.choices(["auto", "home", "health", "travel"], [45, 25, 20, 10])[0],
            "prior_claims": prior,
            "region": rng.choice(["north", "south", "east", "west"]),
        },
        "output": probability,
        "confidence": round(
            min(0.99, max(0.3, 0.55 + abs(probability - 0.5) * 0.8 + rng.gauss(0, 0.05))), 3
        ),
        "value_amount": f"{amount:.2f}",
    }


def _mess_up(rng: random.Random, body: dict, slug: str) -> tuple[dict, str]:
    inputs = body["inputs"]
    field = rng.choice(list(inputs))
    kind = rng.choice(["missing", "wrong_type", "out_of_range", "bad_enum"])
    if kind == "missing":
        inputs.pop(field)
    elif kind == "wrong_type":
        inputs[field] = str(inputs[field]) + " units"
    elif kind == "out_of_range":
        target = "applicant_age" if slug == "loan-default" else "prior_claims"
        inputs[target] = 400
    else:
        target = "employment" if slug == "loan-default" else "claim_type"
        inputs[target] = "unknown"
    return body, f"contract: {kind}"


def demo_requests(count: int = 300, seed: int = 7) -> list[Request]:
    """About ``count`` predictions across both models, as singles and batches, with the
    messy cases a real scoring service sends, replays and outcomes."""
    rng = random.Random(seed)
    requests: list[Request] = []
    sent: list[tuple[str, dict]] = []
    makers = {"loan-default": _loan, "claim-fraud": _claim}
    n = 0
    while n < count:
        slug = "loan-default" if rng.random() < 0.6 else "claim-fraud"
        body = makers[slug](rng, f"{slug[:4]}-{n:05d}")
        label = "clean"
        if rng.random() < 0.12:
            body, label = _mess_up(rng, body, slug)
        elif rng.random() < 0.08:
            body["confidence"] = round(rng.uniform(0.2, 0.5), 3)
            label = "low confidence"
        elif rng.random() < 0.06:
            body["value_amount"] = "75000.00"
            label = "high value"
        sent.append((slug, body))
        if rng.random() < 0.7:
            requests.append(Request("single", slug, body, label))
            n += 1
        else:
            batch = [body] + [makers[slug](rng, f"{slug[:4]}-{n + i:05d}") for i in range(1, 25)]
            sent.extend((slug, b) for b in batch[1:])
            requests.append(Request("batch", slug, {"predictions": batch}, "batch of 25"))
            n += len(batch)

    # Caller bugs: refused with field errors and audited.
    requests.append(
        Request(
            "single",
            "loan-default",
            {"inputs": {}, "output": "approve", "confidence": "high"},
            "malformed envelope",
        )
    )
    requests.append(
        Request(
            "single",
            "loan-default",
            {"external_id": "loan-bad-conf", "inputs": {}, "output": "approve", "confidence": 1.7},
            "confidence out of range",
        )
    )
    # Replays: the same content (stored once) and different content (409).
    for slug, body in rng.sample(sent, 8):
        requests.append(Request("single", slug, body, "replay"))
    for slug, body in rng.sample(sent, 3):
        changed = dict(body, confidence=round(max(0.0, body["confidence"] - 0.2), 3))
        requests.append(Request("single", slug, changed, "conflicting replay"))
    # Ground truth for some of what was sent.
    for slug in makers:
        outcomes = []
        for s, body in sent:
            if s == slug and rng.random() < 0.3:
                if slug == "loan-default":
                    flip = rng.random() < 0.1
                    actual = (
                        body["output"]
                        if not flip
                        else ("decline" if body["output"] == "approve" else "approve")
                    )
                else:
                    actual = 1 if rng.random() < (body["output"] or 0) else 0
                outcomes.append({"external_id": body["external_id"], "actual": actual})
        if outcomes:
            requests.append(Request("outcomes", slug, {"outcomes": outcomes[:1000]}, "outcomes"))
    return requests
