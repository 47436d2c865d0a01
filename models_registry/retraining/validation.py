"""The gates a candidate must pass before anyone is asked to sign it off.

``gates_evaluate`` is pure (numbers in, report out) so each rule is easy to test and explain;
``shadow_accuracy`` reads the shadow predictions and the labels they are compared with.
Every gate in the report names its rule and its numbers, like routing reasons do.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

from models_registry.models import ModelVersion, RetrainingPolicy


@dataclass
class Gate:
    gate: str
    metric: str
    passed: bool
    threshold: float | None = None
    candidate: float | None = None
    active: float | None = None
    detail: str = ""


@dataclass
class ShadowComparison:
    """Accuracy of the candidate and of production on the same labelled external ids."""

    compared: int = 0
    candidate_correct: int = 0
    production_correct: int = 0
    shadow_total: int = 0

    @property
    def candidate_accuracy(self) -> float | None:
        return self.candidate_correct / self.compared if self.compared else None

    @property
    def production_accuracy(self) -> float | None:
        return self.production_correct / self.compared if self.compared else None


@dataclass
class Report:
    passed: bool
    gates: list[Gate] = field(default_factory=list)
    metrics: dict = field(default_factory=dict)

    def gates_as_json(self) -> list[dict]:
        return [asdict(g) for g in self.gates]


def _number(value) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return None if math.isnan(value) or math.isinf(value) else float(value)


def gates_evaluate(
    *,
    candidate_metrics: dict,
    active_metrics: dict | None,
    policy: RetrainingPolicy | None,
    shadow: ShadowComparison,
) -> Report:
    active_metrics = active_metrics or {}
    gates: list[Gate] = []
    min_metrics = dict(policy.min_metrics) if policy else {}
    max_drop = dict(policy.max_metric_drop) if policy else {}

    # Without a policy, a candidate must at least report what the version it replaces did.
    for metric in sorted(active_metrics):
        if metric not in candidate_metrics:
            gates.append(
                Gate(
                    "metric_reported",
                    metric,
                    False,
                    active=_number(active_metrics[metric]),
                    detail=f"The active version reports '{metric}'; the candidate does not.",
                )
            )

    for metric, minimum in sorted(min_metrics.items()):
        value = _number(candidate_metrics.get(metric))
        passed = value is not None and value >= minimum
        gates.append(
            Gate(
                "min_metric",
                metric,
                passed,
                threshold=minimum,
                candidate=value,
                active=_number(active_metrics.get(metric)),
                detail=(
                    f"{metric} = {value:.4g} (minimum {minimum:.4g})"
                    if value is not None
                    else f"The candidate reports no numeric '{metric}'."
                ),
            )
        )

    for metric, allowed in sorted(max_drop.items()):
        value = _number(candidate_metrics.get(metric))
        baseline = _number(active_metrics.get(metric))
        if baseline is None:
            gates.append(
                Gate(
                    "max_drop",
                    metric,
                    True,
                    threshold=allowed,
                    candidate=value,
                    detail=f"No active value for '{metric}' to compare with; not applied.",
                )
            )
            continue
        drop = None if value is None else baseline - value
        passed = drop is not None and drop <= allowed + 1e-12
        gates.append(
            Gate(
                "max_drop",
                metric,
                passed,
                threshold=allowed,
                candidate=value,
                active=baseline,
                detail=(
                    f"{metric} {baseline:.4g} → {value:.4g}: drop {max(drop, 0.0):.4g} "
                    f"(allowed {allowed:.4g})"
                    if drop is not None
                    else f"The candidate reports no numeric '{metric}'."
                ),
            )
        )

    if policy and (
        policy.min_shadow_accuracy is not None or policy.max_shadow_accuracy_drop is not None
    ):
        gates.extend(_shadow_gates(policy, shadow))
    elif shadow.compared:
        gates.append(
            Gate(
                "shadow_accuracy",
                "accuracy",
                True,
                candidate=shadow.candidate_accuracy,
                active=shadow.production_accuracy,
                detail=f"Reported only (no shadow gate set): {shadow.compared} labelled ids.",
            )
        )

    metrics = {
        name: {
            "candidate": _number(candidate_metrics.get(name)),
            "active": _number(active_metrics.get(name)),
            "minimum": _number(min_metrics.get(name)),
        }
        for name in sorted(set(candidate_metrics) | set(active_metrics))
        if _number(candidate_metrics.get(name)) is not None
        or _number(active_metrics.get(name)) is not None
    }
    if shadow.compared:
        metrics["shadow accuracy"] = {
            "candidate": shadow.candidate_accuracy,
            "active": shadow.production_accuracy,
            "minimum": policy.min_shadow_accuracy if policy else None,
        }
    return Report(passed=all(g.passed for g in gates), gates=gates, metrics=metrics)


def _shadow_gates(policy: RetrainingPolicy, shadow: ShadowComparison) -> list[Gate]:
    if shadow.shadow_total == 0:
        return [
            Gate(
                "shadow_accuracy",
                "accuracy",
                True,
                threshold=policy.min_shadow_accuracy,
                detail="The pipeline sent no shadow predictions; not applied.",
            )
        ]
    if shadow.compared < policy.min_shadow_samples:
        return [
            Gate(
                "shadow_samples",
                "accuracy",
                False,
                threshold=float(policy.min_shadow_samples),
                candidate=float(shadow.compared),
                detail=(
                    f"Only {shadow.compared} of {shadow.shadow_total} shadow predictions have "
                    f"an outcome or a human decision; {policy.min_shadow_samples} needed."
                ),
            )
        ]
    gates = []
    accuracy, production = shadow.candidate_accuracy, shadow.production_accuracy
    if policy.min_shadow_accuracy is not None:
        gates.append(
            Gate(
                "shadow_accuracy",
                "accuracy",
                accuracy >= policy.min_shadow_accuracy,
                threshold=policy.min_shadow_accuracy,
                candidate=accuracy,
                active=production,
                detail=(
                    f"{shadow.candidate_correct}/{shadow.compared} correct = {accuracy:.4g} "
                    f"(minimum {policy.min_shadow_accuracy:.4g})"
                ),
            )
        )
    if policy.max_shadow_accuracy_drop is not None:
        drop = production - accuracy
        gates.append(
            Gate(
                "shadow_accuracy_drop",
                "accuracy",
                drop <= policy.max_shadow_accuracy_drop + 1e-12,
                threshold=policy.max_shadow_accuracy_drop,
                candidate=accuracy,
                active=production,
                detail=(
                    f"production {production:.4g} vs candidate {accuracy:.4g} on the same "
                    f"{shadow.compared} ids: drop {drop:.4g} "
                    f"(allowed {policy.max_shadow_accuracy_drop:.4g})"
                ),
            )
        )
    return gates


def shadow_accuracy(candidate: ModelVersion) -> ShadowComparison:
    """Compare the candidate's shadow predictions with production on the same external ids.

    The truth is the outcome when one was reported, else a person's approval (the model's
    output) or override (their answer); rejections and SLA fallbacks carry no truth.
    """
    from reviewapp.models import Prediction

    shadow_outputs = dict(
        Prediction.objects.filter(version=candidate, is_shadow=True).values_list(
            "external_id", "output"
        )
    )
    comparison = ShadowComparison(shadow_total=len(shadow_outputs))
    if not shadow_outputs:
        return comparison
    production = (
        Prediction.objects.filter(
            model_id=candidate.model_id,
            is_shadow=False,
            external_id__in=list(shadow_outputs),
        )
        .select_related("decision", "outcome")
        .only(
            "external_id",
            "output",
            "decision__final_output",
            "decision__action",
            "outcome__actual",
        )
    )
    for prediction in production.iterator(chunk_size=2000):
        outcome = getattr(prediction, "outcome", None)
        decision = getattr(prediction, "decision", None)
        if outcome is not None:
            truth = outcome.actual
        elif decision is not None and decision.action == "override":
            truth = decision.final_output
        elif decision is not None and decision.action == "approve":
            truth = prediction.output  # a person confirmed the model's output
        else:
            continue  # no truth: a rejection, or a fallback after an SLA breach
        comparison.compared += 1
        comparison.candidate_correct += shadow_outputs[prediction.external_id] == truth
        comparison.production_correct += prediction.output == truth
    return comparison
