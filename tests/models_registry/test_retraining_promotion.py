"""Promotion is atomic and happens once; rollback is the owner's audited emergency path."""

import threading

import pytest
from django.db import connection

from audit.actors import Actor
from audit.models import AuditEvent
from models_registry.models import (
    ModelVersion,
    RetrainingRequest,
    RetrainingStatus,
    VersionStatus,
)
from models_registry.retraining import services
from tests.models_registry.retraining_support import VERSIONS_URL, candidate_body, open_request

pytest_plugins = ["tests.models_registry.retraining_fixtures"]


def approved_request(owner, backup_owner, loan_model, pipeline_client, tasks_inline, label="v2"):
    """A request approved by alice and bob whose promotion task has not run."""
    with tasks_inline():
        request = open_request(owner, loan_model)
        pipeline_client.post(VERSIONS_URL, candidate_body(label, request.pk), format="json")
    services.retraining_sign(request=request, user=owner, decision="approve")
    services.retraining_sign(request=request, user=backup_owner, decision="approve")
    request.refresh_from_db()
    assert request.status == RetrainingStatus.APPROVED
    return request


@pytest.mark.django_db
def test_an_unapproved_request_cant_be_promoted(owner, loan_model, pipeline_client, tasks_inline):
    with tasks_inline():
        request = open_request(owner, loan_model)
        pipeline_client.post(VERSIONS_URL, candidate_body("v2", request.pk), format="json")
    with pytest.raises(services.InvalidTransition):
        services.retraining_promote(request=request, actor=Actor.user(owner), user=owner)
    assert ModelVersion.objects.get(label="v2").status == VersionStatus.CANDIDATE


@pytest.mark.django_db(transaction=True)
def test_concurrent_promotions_leave_one_active_version(
    owner, backup_owner, loan_model, pipeline_client, tasks_inline
):
    request = approved_request(owner, backup_owner, loan_model, pipeline_client, tasks_inline)
    barrier = threading.Barrier(6)
    outcomes = []

    def promote():
        barrier.wait()
        try:
            services.retraining_promote(
                request=RetrainingRequest.objects.get(pk=request.pk),
                actor=Actor.system("test thread"),
            )
            outcomes.append("ok")
        except Exception as error:  # noqa: BLE001 - the test reports any failure
            outcomes.append(repr(error))
        finally:
            connection.close()

    threads = [threading.Thread(target=promote) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert outcomes == ["ok"] * 6
    active = ModelVersion.objects.filter(model=loan_model, status=VersionStatus.ACTIVE)
    assert [v.label for v in active] == ["v2"]
    assert AuditEvent.objects.filter(action="retraining.promoted").count() == 1
    assert AuditEvent.objects.filter(action="version.activated").count() == 1


@pytest.mark.django_db
def test_promotion_can_be_run_from_the_page_once_approved(
    client, owner, backup_owner, reviewer, loan_model, pipeline_client, tasks_inline
):
    request = approved_request(owner, backup_owner, loan_model, pipeline_client, tasks_inline)
    loan_model.reviewers.add(reviewer)
    client.force_login(reviewer)
    assert client.post(f"/retraining/{request.pk}/promote").status_code == 403
    client.force_login(owner)
    page = client.get(f"/retraining/{request.pk}/").content.decode()
    assert "Promote v2 now" in page
    assert client.post(f"/retraining/{request.pk}/promote").status_code == 302
    request.refresh_from_db()
    assert request.status == RetrainingStatus.PROMOTED
    event = AuditEvent.objects.get(action="retraining.promoted")
    assert event.actor_label == "alice (Alice Owner)"


@pytest.mark.django_db
def test_the_owner_rolls_back_at_once_with_a_reason_and_the_approvers_are_told(
    client, owner, backup_owner, loan_model, pipeline_client, tasks_inline, mailoutbox
):
    request = approved_request(owner, backup_owner, loan_model, pipeline_client, tasks_inline)
    services.retraining_promote(request=request, actor=Actor.system("test"))
    client.force_login(owner)
    empty = client.post("/models/loan-default/retraining/rollback", {"reason": ""})
    assert empty.status_code == 400
    assert "Say why you roll back." in empty.content.decode()
    assert ModelVersion.objects.get(label="v2").status == VersionStatus.ACTIVE
    with tasks_inline():
        response = client.post(
            "/models/loan-default/retraining/rollback", {"reason": "Declines doubled overnight"}
        )
    assert response.status_code == 302
    statuses = dict(ModelVersion.objects.filter(model=loan_model).values_list("label", "status"))
    assert statuses == {"v1": "active", "v2": "retired"}
    request.refresh_from_db()
    assert request.rolled_back_by == owner
    assert request.rollback_reason == "Declines doubled overnight"
    event = AuditEvent.objects.get(action="retraining.rolled_back")
    assert event.actor_label == "alice (Alice Owner)"
    assert event.payload["to_version"] == "v1"
    mail = [m for m in mailoutbox if "rolled back" in m.subject]
    assert sorted(mail[0].to) == ["alice@example.com", "bob@example.com"]
    assert "Declines doubled overnight" in mail[0].body
    # Nothing left to roll back.
    with pytest.raises(services.InvalidTransition):
        services.version_rollback(model=loan_model, user=owner, reason="again")


@pytest.mark.django_db
def test_only_an_owner_may_roll_back(
    client, owner, backup_owner, reviewer, outsider, loan_model, pipeline_client, tasks_inline
):
    request = approved_request(owner, backup_owner, loan_model, pipeline_client, tasks_inline)
    services.retraining_promote(request=request, actor=Actor.system("test"))
    loan_model.approvers.add(reviewer)
    with pytest.raises(services.NotAllowed):
        services.version_rollback(model=loan_model, user=reviewer, reason="I think so")
    client.force_login(reviewer)
    refused = client.post("/models/loan-default/retraining/rollback", {"reason": "I think so"})
    assert refused.status_code == 403
    assert "Only the model" in refused.content.decode()
    client.force_login(outsider)
    response = client.post("/models/loan-default/retraining/rollback", {"reason": "mine now"})
    assert response.status_code == 404
    assert ModelVersion.objects.get(label="v2").status == VersionStatus.ACTIVE
    assert not AuditEvent.objects.filter(action="retraining.rolled_back").exists()


@pytest.mark.django_db
def test_the_sweep_finishes_a_promotion_whose_task_was_lost(
    owner, backup_owner, loan_model, pipeline_client, tasks_inline
):
    from datetime import timedelta

    from django.utils import timezone

    from models_registry.retraining import tasks

    request = approved_request(owner, backup_owner, loan_model, pipeline_client, tasks_inline)
    with tasks_inline():
        assert tasks.resume_stalled() == "nothing stalled"  # recent: its task may still run
    RetrainingRequest.objects.filter(pk=request.pk).update(
        updated_at=timezone.now() - timedelta(minutes=30)
    )
    with tasks_inline():
        assert tasks.resume_stalled() == f"resumed [{request.pk}]"
    request.refresh_from_db()
    assert request.status == RetrainingStatus.PROMOTED


@pytest.mark.django_db
def test_a_candidate_validated_against_a_version_no_longer_active_is_not_promoted(
    owner, backup_owner, loan_model, pipeline_client, tasks_inline
):
    from models_registry.services import version_activate

    request = approved_request(owner, backup_owner, loan_model, pipeline_client, tasks_inline)
    other = ModelVersion.objects.create(model=loan_model, label="v1b", status="candidate")
    version_activate(version=other, actor=Actor.system("test"))
    with pytest.raises(services.InvalidTransition, match="changed since validation"):
        services.retraining_promote(request=request, actor=Actor.system("test"))
    statuses = dict(ModelVersion.objects.filter(model=loan_model).values_list("label", "status"))
    assert statuses == {"v1": "retired", "v1b": "active", "v2": "candidate"}
    services.retraining_cancel(request=request, user=owner, reason="Validated against v1")
    request.refresh_from_db()
    assert request.status == RetrainingStatus.CANCELLED
