"""Four eyes: enough approvals from different people, never only the requester's."""

import pytest

from audit.models import AuditEvent
from models_registry.models import (
    RetrainingRequest,
    RetrainingStatus,
    SignOff,
    VersionStatus,
)
from models_registry.retraining import services
from tests.audit.conftest import grant_role
from tests.models_registry.retraining_support import (
    VERSIONS_URL,
    candidate_body,
    open_request,
)

pytest_plugins = ["tests.models_registry.retraining_fixtures"]
pytestmark = pytest.mark.django_db


@pytest.fixture
def awaiting(owner, loan_model, pipeline_client, tasks_inline) -> RetrainingRequest:
    """A request whose candidate v2 passed validation and waits for sign-off."""
    with tasks_inline():
        request = open_request(owner, loan_model)
        response = pipeline_client.post(
            VERSIONS_URL, candidate_body("v2", request_id=request.pk), format="json"
        )
    assert response.status_code == 201
    request.refresh_from_db()
    assert request.status == RetrainingStatus.AWAITING_SIGNOFF
    return request


def test_the_requester_alone_cant_approve_even_when_one_signoff_is_required(
    owner, backup_owner, loan_model, awaiting, tasks_inline
):
    loan_model.required_signoffs = 1
    loan_model.save()
    services.retraining_sign(request=awaiting, user=owner, decision="approve")
    awaiting.refresh_from_db()
    assert awaiting.status == RetrainingStatus.AWAITING_SIGNOFF
    with tasks_inline():
        services.retraining_sign(request=awaiting, user=backup_owner, decision="approve")
    awaiting.refresh_from_db()
    assert awaiting.status == RetrainingStatus.PROMOTED


def test_one_person_cant_sign_twice(owner, awaiting):
    services.retraining_sign(request=awaiting, user=owner, decision="approve")
    with pytest.raises(services.InvalidTransition, match="already signed"):
        services.retraining_sign(request=awaiting, user=owner, decision="approve")
    assert SignOff.objects.filter(user=owner).count() == 1
    awaiting.refresh_from_db()
    assert awaiting.status == RetrainingStatus.AWAITING_SIGNOFF


def test_a_second_click_on_the_page_shows_the_refusal(client, owner, awaiting):
    client.force_login(owner)
    assert (
        client.post(f"/retraining/{awaiting.pk}/sign", {"decision": "approve"}).status_code == 302
    )
    again = client.post(f"/retraining/{awaiting.pk}/sign", {"decision": "approve"})
    assert again.status_code == 409
    assert "You have already signed this request." in again.content.decode()
    assert SignOff.objects.count() == 1


def test_only_owners_and_named_approvers_may_approve(
    reviewer, second_reviewer, loan_model, awaiting
):
    loan_model.reviewers.add(reviewer)
    with pytest.raises(services.NotAllowed):
        services.retraining_sign(request=awaiting, user=reviewer, decision="approve")
    loan_model.approvers.add(second_reviewer)
    services.retraining_sign(request=awaiting, user=second_reviewer, decision="approve")
    assert SignOff.objects.get().user == second_reviewer


def test_anyone_who_sees_the_model_can_reject_with_a_comment(reviewer, loan_model, awaiting):
    loan_model.reviewers.add(reviewer)
    with pytest.raises(services.InvalidInput) as error:
        services.retraining_sign(request=awaiting, user=reviewer, decision="reject")
    assert error.value.field == "comment"
    services.retraining_sign(
        request=awaiting, user=reviewer, decision="reject", comment="Worse on young applicants"
    )
    awaiting.refresh_from_db()
    assert awaiting.status == RetrainingStatus.REJECTED
    assert awaiting.candidate.status == VersionStatus.CANDIDATE
    event = AuditEvent.objects.get(action="retraining.rejected")
    assert event.actor_label.startswith("carol")
    assert event.payload["comment"] == "Worse on young applicants"


def test_an_outsider_can_neither_approve_nor_reject(outsider, awaiting, client):
    with pytest.raises(services.NotAllowed):
        services.retraining_sign(request=awaiting, user=outsider, decision="approve")
    with pytest.raises(services.NotAllowed):
        services.retraining_sign(request=awaiting, user=outsider, decision="reject", comment="x")
    client.force_login(outsider)
    response = client.post(f"/retraining/{awaiting.pk}/sign", {"decision": "approve"})
    assert response.status_code == 404
    assert client.get(f"/retraining/{awaiting.pk}/").status_code == 404
    assert SignOff.objects.count() == 0


def test_a_compliance_officer_reads_the_request_but_can_neither_approve_nor_reject(
    compliance, awaiting, client
):
    grant_role(compliance, "compliance officer")
    with pytest.raises(services.NotAllowed):
        services.retraining_sign(request=awaiting, user=compliance, decision="reject", comment="x")
    client.force_login(compliance)
    assert client.get(f"/retraining/{awaiting.pk}/").status_code == 200
    response = client.post(
        f"/retraining/{awaiting.pk}/sign", {"decision": "reject", "comment": "not convinced"}
    )
    assert response.status_code == 403
    awaiting.refresh_from_db()
    assert awaiting.status == RetrainingStatus.AWAITING_SIGNOFF
    assert SignOff.objects.count() == 0


def test_a_request_that_isnt_validated_takes_no_signoffs(owner, loan_model):
    request = open_request(owner, loan_model)
    with pytest.raises(services.InvalidTransition):
        services.retraining_sign(request=request, user=owner, decision="approve")


def test_the_inbox_lists_what_waits_for_me_until_i_sign(client, owner, backup_owner, awaiting):
    client.force_login(backup_owner)
    page = client.get("/retraining/").content.decode()
    assert f"/retraining/{awaiting.pk}/" in page
    services.retraining_sign(request=awaiting, user=backup_owner, decision="approve")
    inbox = client.get("/retraining/")
    assert list(inbox.context["waiting"]) == []
