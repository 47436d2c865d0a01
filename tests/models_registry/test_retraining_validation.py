"""Validation gates: metric minimums, allowed drops and the shadow predictions' accuracy."""

import pytest

from models_registry.models import RetrainingPolicy, RetrainingStatus, VersionStatus
from models_registry.retraining.validation import ShadowComparison, gates_evaluate
from reviewapp.models import Prediction, ReviewItem
from tests.models_registry.retraining_support import (
    VERSIONS_URL,
    candidate_body,
    decide,
    open_request,
    send_outcome,
    send_prediction,
)

pytest_plugins = ["tests.models_registry.retraining_fixtures"]
pytestmark = pytest.mark.django_db


def _register(pipeline_client, tasks_inline, request, **body):
    with tasks_inline():
        response = pipeline_client.post(
            VERSIONS_URL, candidate_body("v2", request_id=request.pk, **body), format="json"
        )
    assert response.status_code == 201, response.content
    request.refresh_from_db()
    return request


def test_a_candidate_below_a_minimum_fails_and_ends_the_request(
    owner, loan_model, pipeline_client, tasks_inline, mailoutbox
):
    RetrainingPolicy.objects.create(model=loan_model, min_metrics={"accuracy": 0.95})
    request = _register(
        pipeline_client, tasks_inline, open_request(owner, loan_model), metrics={"accuracy": 0.93}
    )
    assert request.status == RetrainingStatus.FAILED
    report = request.validation_report
    assert report.passed is False
    assert report.gates == [
        {
            "gate": "min_metric",
            "metric": "accuracy",
            "passed": False,
            "threshold": 0.95,
            "candidate": 0.93,
            "active": 0.91,
            "detail": "accuracy = 0.93 (minimum 0.95)",
        }
    ]
    assert request.candidate.status == VersionStatus.CANDIDATE
    assert any("failed validation" in m.subject for m in mailoutbox)


def test_a_drop_larger_than_allowed_fails(owner, loan_model, pipeline_client, tasks_inline):
    RetrainingPolicy.objects.create(model=loan_model, max_metric_drop={"accuracy": 0.01})
    request = _register(
        pipeline_client, tasks_inline, open_request(owner, loan_model), metrics={"accuracy": 0.89}
    )
    assert request.status == RetrainingStatus.FAILED
    gate = request.validation_report.gates[0]
    assert (gate["gate"], gate["passed"], gate["active"]) == ("max_drop", False, 0.91)


def test_a_candidate_that_stops_reporting_a_metric_fails(
    owner, loan_model, pipeline_client, tasks_inline
):
    request = _register(
        pipeline_client, tasks_inline, open_request(owner, loan_model), metrics={"auc": 0.9}
    )
    assert request.status == RetrainingStatus.FAILED
    assert request.validation_report.gates[0]["gate"] == "metric_reported"


def test_a_drop_within_the_allowance_passes():
    policy = RetrainingPolicy(max_metric_drop={"auc": 0.02}, min_metrics={"auc": 0.8})
    report = gates_evaluate(
        candidate_metrics={"auc": 0.85},
        active_metrics={"auc": 0.86},
        policy=policy,
        shadow=ShadowComparison(),
    )
    assert report.passed
    assert [g.gate for g in report.gates] == ["min_metric", "max_drop"]


@pytest.fixture
def shadow_traffic(service_client, loan_model, owner, pipeline_client, tasks_inline):
    """v2 registered as a candidate; production and shadow predictions on the same ids, with
    the truth for four of them (three outcomes and one human decision)."""
    request = open_request(owner, loan_model)
    RetrainingPolicy.objects.create(model=loan_model, min_shadow_accuracy=0.7, min_shadow_samples=4)
    outputs = {  # external id: (production, candidate, truth)
        "s-0": ("approve", "approve", "approve"),
        "s-1": ("approve", "decline", "decline"),
        "s-2": ("approve", "decline", "decline"),
        "s-3": ("decline", "decline", "approve"),
        "s-4": ("approve", "approve", None),
    }
    for external_id, (production, _, _) in outputs.items():
        send_prediction(service_client, external_id, output=production, confidence=0.3)
    return request, outputs


def _send_shadows_and_truth(service_client, outputs, candidate_label="v2"):
    for external_id, (_, candidate, truth) in outputs.items():
        shadow = send_prediction(
            service_client, external_id, output=candidate, version=candidate_label
        )
        assert shadow["status"] == "shadow"
        if truth is None:
            continue
        if external_id == "s-3":
            decide(external_id, truth)
        else:
            send_outcome(service_client, external_id, truth)


def test_shadow_predictions_are_compared_with_production_on_the_same_ids(
    shadow_traffic, service_client, pipeline_client, tasks_inline, loan_model
):
    request, outputs = shadow_traffic
    queue_before = ReviewItem.objects.count()
    request = _register(pipeline_client, tasks_inline, request)
    # With shadow gates, validation waits for the shadow traffic.
    assert request.status == RetrainingStatus.CANDIDATE_REGISTERED
    _send_shadows_and_truth(service_client, outputs)
    # Shadow predictions never reach the review queue.
    assert ReviewItem.objects.count() == queue_before
    assert not ReviewItem.objects.filter(prediction__is_shadow=True).exists()
    assert Prediction.objects.filter(is_shadow=True).count() == 5

    with tasks_inline():
        response = pipeline_client.post(f"/api/v1/retraining-requests/{request.pk}/validate")
    assert response.status_code == 202
    request.refresh_from_db()
    gate = request.validation_report.gates[-1]
    assert gate["gate"] == "shadow_accuracy"
    assert gate["candidate"] == 0.75  # 3 of 4 labelled ids right
    assert gate["active"] == 0.25  # production: 1 of 4
    assert gate["passed"] is True
    assert request.status == RetrainingStatus.AWAITING_SIGNOFF
    assert request.validation_report.metrics["shadow accuracy"]["candidate"] == 0.75
    again = pipeline_client.post(f"/api/v1/retraining-requests/{request.pk}/validate")
    assert again.status_code == 409


def test_too_few_labelled_shadow_predictions_fail_the_shadow_gate():
    policy = RetrainingPolicy(min_shadow_accuracy=0.7, min_shadow_samples=30)
    report = gates_evaluate(
        candidate_metrics={},
        active_metrics={},
        policy=policy,
        shadow=ShadowComparison(
            compared=4, candidate_correct=4, production_correct=2, shadow_total=9
        ),
    )
    assert not report.passed
    assert report.gates[0].gate == "shadow_samples"
    assert "Only 4 of 9" in report.gates[0].detail


def test_a_shadow_accuracy_below_the_minimum_fails():
    policy = RetrainingPolicy(
        min_shadow_accuracy=0.8, max_shadow_accuracy_drop=0.05, min_shadow_samples=10
    )
    report = gates_evaluate(
        candidate_metrics={},
        active_metrics={},
        policy=policy,
        shadow=ShadowComparison(
            compared=10, candidate_correct=7, production_correct=9, shadow_total=10
        ),
    )
    assert [(g.gate, g.passed) for g in report.gates] == [
        ("shadow_accuracy", False),
        ("shadow_accuracy_drop", False),
    ]


def test_without_shadow_predictions_the_shadow_gate_is_not_applied():
    policy = RetrainingPolicy(min_shadow_accuracy=0.8)
    report = gates_evaluate(
        candidate_metrics={}, active_metrics={}, policy=policy, shadow=ShadowComparison()
    )
    assert report.passed
    assert "not applied" in report.gates[0].detail


def test_validation_run_twice_writes_one_report(owner, loan_model, pipeline_client, tasks_inline):
    from models_registry.models import ValidationReport
    from models_registry.retraining import tasks

    request = _register(pipeline_client, tasks_inline, open_request(owner, loan_model))
    assert tasks.validate(request.pk) == RetrainingStatus.AWAITING_SIGNOFF
    assert ValidationReport.objects.count() == 1


def test_sla_fallbacks_and_rejections_are_not_truth_for_the_shadow_gate(
    service_client, loan_model, pipeline_client
):
    from models_registry.models import ModelVersion
    from models_registry.retraining.validation import shadow_accuracy

    pipeline_client.post(VERSIONS_URL, candidate_body("v2"), format="json")
    for external_id, action in (("f-0", "fallback"), ("f-1", "reject"), ("f-2", "approve")):
        send_prediction(service_client, external_id, output="approve", confidence=0.3)
        send_prediction(service_client, external_id, output="decline", version="v2")
        final = "approve" if action == "fallback" else None
        decide(external_id, final, action=action, by="system" if action == "fallback" else "carol")
    comparison = shadow_accuracy(ModelVersion.objects.get(label="v2"))
    assert (comparison.shadow_total, comparison.compared) == (3, 1)
    assert (comparison.candidate_correct, comparison.production_correct) == (0, 1)
