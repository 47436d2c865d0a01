"""The retraining pages, the model-page panel, the admin and the operators' command."""

import pytest
from django.core.management import CommandError, call_command
from django.template import Context, Template
from django.test import RequestFactory

from audit.models import AuditEvent
from models_registry.models import RetrainingPolicy, RetrainingRequest, RetrainingStatus
from models_registry.retraining import services
from tests.audit.conftest import grant_role
from tests.models_registry.retraining_support import (
    VERSIONS_URL,
    candidate_body,
    offered,
    open_request,
)

pytest_plugins = ["tests.models_registry.retraining_fixtures"]
pytestmark = pytest.mark.django_db


def _panel(model, user) -> str:
    request = RequestFactory().get("/models/loan-default/")
    request.user = user
    template = Template(
        '{% include "models_registry/retraining/_model_panel.html" with model=model %}'
    )
    return template.render(Context({"model": model, "request": request, "csrf_token": "x"}))


def test_the_model_panel_offers_the_button_to_owners_only(owner, reviewer, loan_model):
    assert "Request retraining" in _panel(loan_model, owner)
    loan_model.reviewers.add(reviewer)
    assert "Request retraining" not in _panel(loan_model, reviewer)
    RetrainingPolicy.objects.create(model=loan_model).requesters.add(reviewer)
    assert "Request retraining" in _panel(loan_model, reviewer)
    request = open_request(owner, loan_model)
    panel = _panel(loan_model, owner)
    assert f"/retraining/{request.pk}/" in panel
    assert "Request retraining</button>" not in panel


def test_an_empty_reason_is_shown_on_the_form(client, owner, loan_model):
    client.force_login(owner)
    response = client.post("/models/loan-default/retraining/", {"reason": "  "})
    assert response.status_code == 400
    assert "This field is required." in response.content.decode()
    assert not RetrainingRequest.objects.exists()


def test_a_second_request_while_one_is_open_is_refused_on_the_page(client, owner, loan_model):
    open_request(owner, loan_model)
    client.force_login(owner)
    response = client.post("/models/loan-default/retraining/", {"reason": "again"})
    assert response.status_code == 409
    assert "is already open for this model" in response.content.decode()
    assert RetrainingRequest.objects.count() == 1


def test_outsiders_get_404_on_every_page_and_action(client, owner, outsider, loan_model):
    request = open_request(owner, loan_model)
    client.force_login(outsider)
    for url in (
        "/models/loan-default/retraining/",
        f"/retraining/{request.pk}/",
    ):
        assert client.get(url).status_code == 404, url
    for url, data in (
        ("/models/loan-default/retraining/", {"reason": "mine"}),
        ("/models/loan-default/retraining/rollback", {"reason": "mine"}),
        (f"/retraining/{request.pk}/sign", {"decision": "reject", "comment": "no"}),
        (f"/retraining/{request.pk}/promote", {}),
        (f"/retraining/{request.pk}/cancel", {"reason": "no"}),
        (f"/retraining/{request.pk}/validate", {}),
    ):
        assert client.post(url, data).status_code == 404, url
    assert RetrainingRequest.objects.get().status == RetrainingStatus.REQUESTED
    assert list(client.get("/retraining/").context["recent"]) == []


def test_a_reviewer_sees_the_page_but_may_not_request(client, owner, reviewer, loan_model):
    loan_model.reviewers.add(reviewer)
    client.force_login(reviewer)
    response = client.post("/models/loan-default/retraining/", {"reason": "please"})
    assert response.status_code == 403
    assert "people they allowed, may request this." in response.content.decode()


def test_pages_need_a_login(client, owner, loan_model):
    request = open_request(owner, loan_model)
    response = client.get(f"/retraining/{request.pk}/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_the_request_page_shows_the_timeline_report_chart_and_signoff_panel(
    client, owner, loan_model, pipeline_client, tasks_inline
):
    RetrainingPolicy.objects.create(model=loan_model, min_metrics={"accuracy": 0.9})
    with tasks_inline():
        request = open_request(owner, loan_model, reason="Income <b>drift</b>")
        pipeline_client.post(VERSIONS_URL, candidate_body("v2", request.pk), format="json")
    client.force_login(owner)
    page = client.get(f"/retraining/{request.pk}/").content.decode()
    assert "Income &lt;b&gt;drift&lt;/b&gt;" in page
    assert '<svg xmlns="http://www.w3.org/2000/svg" class="metric-chart"' in page
    assert 'class="bar-candidate"' in page and 'class="gate-minimum"' in page
    assert "accuracy = 0.93 (minimum 0.9)" in page
    assert "0 of 2 approvals" in page
    assert "<code>s3://models/loan-default/v2.pkl</code>" in page
    assert "no webhook configured; the pipeline polls the API." in page
    assert "the owner must name more approvers" not in page
    loan_model.required_signoffs = 3
    loan_model.save()
    page = client.get(f"/retraining/{request.pk}/").content.decode()
    assert "Only 2 people may approve but 3 approvals are required" in page
    for step in ("requested", "labels_prepared", "candidate_registered", "validated"):
        assert f"<strong>{step}</strong>" in page


def test_cancel_needs_a_reason_and_is_audited(client, owner, loan_model):
    request = open_request(owner, loan_model)
    client.force_login(owner)
    assert client.post(f"/retraining/{request.pk}/cancel", {"reason": ""}).status_code == 400
    assert (
        client.post(f"/retraining/{request.pk}/cancel", {"reason": "Wrong month"}).status_code
        == 302
    )
    request.refresh_from_db()
    assert request.status == RetrainingStatus.CANCELLED
    assert AuditEvent.objects.get(action="retraining.cancelled").payload["reason"] == "Wrong month"


def test_the_status_command_lists_open_requests_and_shows_one(owner, loan_model, capsys):
    request = open_request(owner, loan_model)
    call_command("retraining_status")
    listing = capsys.readouterr().out
    assert f"{request.pk:>5}  loan-default" in listing and "requested" in listing
    call_command("retraining_status", "--id", str(request.pk))
    detail = capsys.readouterr().out
    assert "retraining.requested by alice (Alice Owner)" in detail
    services.retraining_cancel(request=request, user=owner, reason="no")
    call_command("retraining_status")
    assert "No retraining requests match." in capsys.readouterr().out
    call_command("retraining_status", "--all")
    assert "cancelled" in capsys.readouterr().out


def test_the_status_command_fails_with_one_clear_line(loan_model):
    with pytest.raises(CommandError, match="No model with slug 'nope'"):
        call_command("retraining_status", "--model", "nope")
    with pytest.raises(CommandError, match="No retraining request 999"):
        call_command("retraining_status", "--id", "999")


def test_owners_edit_gates_in_the_admin_and_the_change_is_audited(client, owner, loan_model):
    owner.is_staff = True
    owner.save()
    client.force_login(owner)
    response = client.post(
        "/admin/models_registry/retrainingpolicy/add/",
        {
            "model": loan_model.pk,
            "min_metrics": '{"accuracy": 0.9}',
            "max_metric_drop": "{}",
            "min_shadow_samples": 30,
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    assert RetrainingPolicy.objects.get().min_metrics == {"accuracy": 0.9}
    event = AuditEvent.objects.get(action="retrainingpolicy.created")
    assert event.model_id == loan_model.pk
    bad = client.post(
        "/admin/models_registry/retrainingpolicy/add/",
        {"model": loan_model.pk, "min_metrics": '{"accuracy": "high"}', "max_metric_drop": "{}"},
    )
    assert bad.status_code == 200
    assert "metric name" in bad.content.decode()
    request = open_request(owner, loan_model)
    listing = client.get("/admin/models_registry/retrainingrequest/")
    assert f"/retraining/{request.pk}/" in listing.content.decode()


def test_the_model_dashboard_carries_the_retraining_panel(client, owner, loan_model):
    client.force_login(owner)
    page = client.get("/models/loan-default/").content.decode()
    assert 'id="retraining-panel"' in page
    assert "Request retraining</button>" in page
    response = client.post("/models/loan-default/retraining/", {"reason": "From the dashboard"})
    assert response.status_code == 302
    page = client.get("/models/loan-default/").content.decode()
    assert f"/retraining/{RetrainingRequest.objects.get().pk}/" in page


# --- The pages offer only what the server accepts -----------------------------------------


@pytest.fixture
def awaiting(owner, loan_model, pipeline_client, tasks_inline):
    with tasks_inline():
        request = open_request(owner, loan_model)
        pipeline_client.post(VERSIONS_URL, candidate_body("v2", request.pk), format="json")
    request.refresh_from_db()
    assert request.status == RetrainingStatus.AWAITING_SIGNOFF
    return request


def test_a_compliance_officer_is_offered_no_signoff_promotion_or_cancel(
    client, owner, backup_owner, compliance, awaiting
):
    grant_role(compliance, "compliance officer")
    url = f"/retraining/{awaiting.pk}/"
    assert offered(client, owner, url) == {
        f"/retraining/{awaiting.pk}/sign",
        "decision:approve",
        "decision:reject",
        f"/retraining/{awaiting.pk}/cancel",
    }
    assert offered(client, compliance, url) == set()
    assert "you may read this request" in client.get(url).content.decode()

    services.retraining_sign(request=awaiting, user=owner, decision="approve")
    services.retraining_sign(request=awaiting, user=backup_owner, decision="approve")
    awaiting.refresh_from_db()
    assert awaiting.status == RetrainingStatus.APPROVED  # the promotion task has not run
    assert offered(client, owner, url) == {
        f"/retraining/{awaiting.pk}/promote",
        f"/retraining/{awaiting.pk}/cancel",
    }
    assert offered(client, compliance, url) == set()


def test_a_reviewer_is_offered_reject_but_not_approve_or_cancel(client, reviewer, awaiting):
    awaiting.model.reviewers.add(reviewer)
    assert offered(client, reviewer, f"/retraining/{awaiting.pk}/") == {
        f"/retraining/{awaiting.pk}/sign",
        "decision:reject",
    }


def test_the_model_page_offers_requesting_and_the_gates_only_to_whom_may(
    client, owner, compliance, loan_model
):
    grant_role(compliance, "compliance officer")
    compliance.is_staff = True  # reads the admin, changes nothing there
    compliance.save()
    url = "/models/loan-default/retraining/"
    gates_link = "Edit the gates and who may request retraining"
    assert offered(client, compliance, url) == set()
    assert gates_link not in client.get(url).content.decode()

    assert offered(client, owner, url) == {url}
    assert gates_link not in client.get(url).content.decode()  # the admin needs staff
    owner.is_staff = True
    owner.save()
    assert gates_link in client.get(url).content.decode()
