"""Who gets what: every page and endpoint on this branch, for each role of the standing cast.

Table-driven: add a Case per page or endpoint; each names, for every role, the status it must
get and, for the roles that must see no data, a marker that must not appear in the answer.

Roles: owner (alice, owns loan-default), backup (bob, backs it up), other_reviewer (carol,
reviews claim-fraud only), compliance (erin, compliance officer), other_key (a service key of
claim-fraud with every scope), anonymous. owner, backup and compliance are staff.

Pages take form posts, /api/ endpoints JSON. The roles in a Case's ``blind`` get an answer (a
list, a queue) that must hold nothing of loan-default either; the roles in ``may_read`` are
refused an action on a model they may read, so their refusal may show it.
"""

from dataclasses import dataclass, field

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from audit.models import AuditEvent
from audit.services_exports import export_request, export_run
from models_registry.models import Alert, AlertRule, ServiceKeyScope
from models_registry.retraining.services import retraining_request_open
from reviewapp.models import WebhookDelivery
from tests.audit.conftest import grant_role, record_events
from tests.models_registry.monitoring_data import baseline_frame, upload_baseline
from tests.reviewapp.review_items import make_item

ROLES = ("owner", "backup", "other_reviewer", "compliance", "other_key", "anonymous")
SECRET = "Loan default"  # the loan model's name: in any answer that leaks its data
SLUG = "loan-default"  # what pages that list models show of them (the name, not always)
EXPORT_DATA = "sha256"  # in any answer that leaks an export's manifest


@dataclass
class Case:
    name: str
    method: str
    url: str  # may use the keys of world["ids"]: {export}, {loan}, {item}, {retraining} ...
    expect: dict[str, int]
    body: dict | None = None
    leaks: str = SECRET
    must_show: dict[str, str] = field(default_factory=dict)
    blind: tuple[str, ...] = ()
    may_read: tuple[str, ...] = ()
    settings: dict = field(default_factory=dict)


PREDICTION = {
    "external_id": "matrix-1",
    "inputs": {"applicant_age": 41, "income": 52000, "employment": "employed"},
    "output": "approve",
    "confidence": 0.9,
}

CASES = [
    Case(
        "compliance page",
        "get",
        "/compliance/",
        {
            "owner": 403,
            "backup": 403,
            "other_reviewer": 403,
            "compliance": 200,
            "other_key": 302,
            "anonymous": 302,
        },
        must_show={"compliance": "Compliance exports"},
    ),
    Case(
        "compliance export detail",
        "get",
        "/compliance/exports/{export}/",
        {
            "owner": 403,
            "backup": 403,
            "other_reviewer": 403,
            "compliance": 200,
            "other_key": 302,
            "anonymous": 302,
        },
    ),
    Case(
        "compliance export download",
        "get",
        "/compliance/exports/{export}/download",
        {
            "owner": 403,
            "backup": 403,
            "other_reviewer": 403,
            "compliance": 200,
            "other_key": 302,
            "anonymous": 302,
        },
    ),
    Case(
        "exports list",
        "get",
        "/api/v1/exports",
        {
            "owner": 403,
            "backup": 403,
            "other_reviewer": 403,
            "compliance": 200,
            "other_key": 200,
            "anonymous": 401,
        },
        must_show={"compliance": "loan-default"},
        leaks=EXPORT_DATA,
    ),
    Case(
        "export request for loan-default",
        "post",
        "/api/v1/exports",
        {
            "owner": 403,
            "backup": 403,
            "other_reviewer": 403,
            "compliance": 202,
            "other_key": 403,
            "anonymous": 401,
        },
        body={"kind": "events", "format": "csv", "models": ["loan-default"]},
    ),
    Case(
        "export detail",
        "get",
        "/api/v1/exports/{export}",
        {
            "owner": 403,
            "backup": 403,
            "other_reviewer": 403,
            "compliance": 200,
            "other_key": 404,
            "anonymous": 401,
        },
    ),
    Case(
        "export download",
        "get",
        "/api/v1/exports/{export}/download",
        {
            "owner": 403,
            "backup": 403,
            "other_reviewer": 403,
            "compliance": 200,
            "other_key": 404,
            "anonymous": 401,
        },
    ),
    Case(
        "export manifest",
        "get",
        "/api/v1/exports/{export}/manifest",
        {
            "owner": 403,
            "backup": 403,
            "other_reviewer": 403,
            "compliance": 200,
            "other_key": 404,
            "anonymous": 401,
        },
    ),
    Case(
        "model detail (API)",
        "get",
        "/api/v1/models/loan-default",
        {
            "owner": 200,
            "backup": 200,
            "other_reviewer": 403,
            "compliance": 200,
            "other_key": 403,
            "anonymous": 401,
        },
    ),
    Case(
        "send a prediction (API)",
        "post",
        "/api/v1/models/loan-default/predictions",
        # The backup owner sends the same prediction again: a replay, answered 200.
        {
            "owner": 201,
            "backup": 200,
            "other_reviewer": 403,
            "compliance": 403,
            "other_key": 403,
            "anonymous": 401,
        },
        body=PREDICTION,
    ),
    Case(
        "admin: models list",
        "get",
        "/admin/models_registry/mlmodel/",
        {
            "owner": 200,
            "backup": 200,
            "other_reviewer": 302,
            "compliance": 200,
            "other_key": 302,
            "anonymous": 302,
        },
        must_show={"owner": "loan-default", "compliance": "claim-fraud"},
    ),
    Case(
        "admin: someone else's model",
        "get",
        "/admin/models_registry/mlmodel/{fraud}/change/",
        {
            "owner": 302,
            "backup": 302,
            "other_reviewer": 302,
            "compliance": 200,
            "other_key": 302,
            "anonymous": 302,
        },
        leaks="claim-fraud",
    ),
    Case(
        "admin: own model",
        "get",
        "/admin/models_registry/mlmodel/{loan}/change/",
        {
            "owner": 200,
            "backup": 200,
            "other_reviewer": 302,
            "compliance": 200,
            "other_key": 302,
            "anonymous": 302,
        },
        must_show={"owner": 'name="_save"'},
    ),
    Case(
        "admin: own model history",
        "get",
        "/admin/models_registry/mlmodel/{loan}/history/",
        {
            "owner": 200,
            "backup": 200,
            "other_reviewer": 302,
            "compliance": 200,
            "other_key": 302,
            "anonymous": 302,
        },
    ),
    Case(
        "admin: change an audit event",
        "post",
        "/admin/audit/auditevent/{event}/change/",
        {
            "owner": 403,
            "backup": 403,
            "other_reviewer": 302,
            "compliance": 403,
            "other_key": 302,
            "anonymous": 302,
        },
        body={"action": "forged"},
        leaks="forged",
    ),
    Case(
        "admin: add an audit event",
        "get",
        "/admin/audit/auditevent/add/",
        {
            "owner": 403,
            "backup": 403,
            "other_reviewer": 302,
            "compliance": 403,
            "other_key": 302,
            "anonymous": 302,
        },
    ),
    # --- The reviewer UI (docs/review.md): a model's reviewers, owner and backup owner work
    # its items; anyone else gets a 404 for them. Compliance reads in the admin, not here.
    Case(
        "review queue",
        "get",
        "/review/",
        {
            "owner": 200,
            "backup": 200,
            "other_reviewer": 200,
            "compliance": 200,
            "other_key": 302,
            "anonymous": 302,
        },
        leaks=SLUG,
        blind=("other_reviewer",),
        must_show={"owner": SECRET, "other_reviewer": "Claim fraud"},
    ),
    Case(
        "review item page",
        "get",
        "/review/items/{item}/",
        {
            "owner": 200,
            "backup": 200,
            "other_reviewer": 404,
            "compliance": 404,
            "other_key": 302,
            "anonymous": 302,
        },
        leaks=SLUG,
        must_show={"owner": SECRET, "backup": SECRET},
    ),
    Case(
        "decide on an item",
        "post",
        "/review/items/{item}/",
        # Members reach the form, which wants an action: 400.
        {
            "owner": 400,
            "backup": 400,
            "other_reviewer": 404,
            "compliance": 404,
            "other_key": 302,
            "anonymous": 302,
        },
        leaks=SLUG,
    ),
    Case(
        "renew an item's lease",
        "post",
        "/review/items/{item}/renew/",
        # Members reach the lease check: nobody holds the item, so nobody may renew it.
        {
            "owner": 409,
            "backup": 409,
            "other_reviewer": 404,
            "compliance": 404,
            "other_key": 302,
            "anonymous": 302,
        },
        leaks=SLUG,
    ),
    Case(
        "hand an item back",
        "post",
        "/review/items/{item}/release/",
        # Members are sent back to the queue (nothing to hand back).
        {
            "owner": 302,
            "backup": 302,
            "other_reviewer": 404,
            "compliance": 404,
            "other_key": 302,
            "anonymous": 302,
        },
        leaks=SLUG,
    ),
    Case(
        "my review figures",
        "get",
        "/review/me/",
        {
            "owner": 200,
            "backup": 200,
            "other_reviewer": 200,
            "compliance": 200,
            "other_key": 302,
            "anonymous": 302,
        },
        leaks=SLUG,
        blind=("other_reviewer", "compliance"),
    ),
    Case(
        "team figures",
        "get",
        "/review/team/",
        {
            "owner": 200,
            "backup": 200,
            "other_reviewer": 404,
            "compliance": 404,
            "other_key": 302,
            "anonymous": 302,
        },
        leaks=SLUG,
        must_show={"owner": SLUG, "backup": SLUG},
    ),
    Case(
        "webhook deliveries",
        "get",
        "/review/deliveries/",
        {
            "owner": 200,
            "backup": 200,
            "other_reviewer": 404,
            "compliance": 404,
            "other_key": 302,
            "anonymous": 302,
        },
        leaks=SLUG,
        must_show={"owner": SLUG, "backup": SLUG},
    ),
    Case(
        "one webhook delivery",
        "get",
        "/review/deliveries/{delivery}/",
        {
            "owner": 200,
            "backup": 200,
            "other_reviewer": 404,
            "compliance": 404,
            "other_key": 302,
            "anonymous": 302,
        },
        leaks=SLUG,
        must_show={"owner": SLUG},
    ),
    Case(
        "replay a webhook delivery",
        "post",
        "/review/deliveries/{delivery}/replay/",
        {
            "owner": 302,
            "backup": 302,
            "other_reviewer": 404,
            "compliance": 404,
            "other_key": 302,
            "anonymous": 302,
        },
        leaks=SLUG,
    ),
    # --- Monitoring (docs/monitoring.md): whoever may read the model sees its dashboard; only
    # its owner and backup owner act on its alerts.
    Case(
        "monitoring overview",
        "get",
        "/models/",
        {
            "owner": 200,
            "backup": 200,
            "other_reviewer": 200,
            "compliance": 200,
            "other_key": 302,
            "anonymous": 302,
        },
        leaks=SLUG,
        blind=("other_reviewer",),
        must_show={"owner": SECRET, "compliance": SECRET, "other_reviewer": "Claim fraud"},
    ),
    Case(
        "model dashboard",
        "get",
        "/models/loan-default/",
        {
            "owner": 200,
            "backup": 200,
            "other_reviewer": 403,
            "compliance": 200,
            "other_key": 302,
            "anonymous": 302,
        },
        must_show={"owner": SECRET, "backup": SECRET, "compliance": SECRET},
    ),
    Case(
        "acknowledge an alert",
        "post",
        "/models/loan-default/alerts/{alert}/acknowledge/",
        # Done or refused (already acknowledged), the owners go back to the dashboard.
        {
            "owner": 302,
            "backup": 302,
            "other_reviewer": 403,
            "compliance": 403,
            "other_key": 302,
            "anonymous": 302,
        },
    ),
    Case(
        "resolve an alert",
        "post",
        "/models/loan-default/alerts/{alert}/resolve/",
        {
            "owner": 302,
            "backup": 302,
            "other_reviewer": 403,
            "compliance": 403,
            "other_key": 302,
            "anonymous": 302,
        },
        body={"note": "retrained"},
    ),
    Case(
        "baseline (API)",
        "get",
        "/api/v1/models/loan-default/versions/v1/baseline",
        # The owners' and the pipeline's (docs/monitoring.md); compliance reads it in the admin.
        {
            "owner": 200,
            "backup": 200,
            "other_reviewer": 403,
            "compliance": 403,
            "other_key": 403,
            "anonymous": 401,
        },
        must_show={"owner": "train.csv"},
    ),
    Case(
        "metrics (open by default)",
        "get",
        "/metrics",
        # Documented as open unless METRICS_TOKEN is set (docs/monitoring.md, section 6).
        {
            "owner": 200,
            "backup": 200,
            "other_reviewer": 200,
            "compliance": 200,
            "other_key": 200,
            "anonymous": 200,
        },
        must_show={"anonymous": "countersign_review_queue_depth"},
    ),
    Case(
        "metrics with METRICS_TOKEN set",
        "get",
        "/metrics",
        # Only the scraper's token opens it: neither a session nor a service key does.
        {
            "owner": 401,
            "backup": 401,
            "other_reviewer": 401,
            "compliance": 401,
            "other_key": 401,
            "anonymous": 401,
        },
        leaks=SLUG,
        settings={"METRICS_TOKEN": "scraper-token"},
    ),
    # --- Retraining (docs/retraining.md): pages for whoever may read the model; requesting,
    # signing, promoting, validating, cancelling and rolling back are for its owners and
    # approvers. A compliance officer reads and changes nothing (docs/roles.md).
    Case(
        "model's retraining page",
        "get",
        "/models/loan-default/retraining/",
        {
            "owner": 200,
            "backup": 200,
            "other_reviewer": 404,
            "compliance": 200,
            "other_key": 302,
            "anonymous": 302,
        },
        must_show={"owner": SECRET, "compliance": SECRET},
    ),
    Case(
        "request retraining",
        "post",
        "/models/loan-default/retraining/",
        # The owners may, but one request is open already: 409.
        {
            "owner": 409,
            "backup": 409,
            "other_reviewer": 404,
            "compliance": 403,
            "other_key": 302,
            "anonymous": 302,
        },
        body={"reason": "drift on income"},
        may_read=("compliance",),
    ),
    Case(
        "roll back",
        "post",
        "/models/loan-default/retraining/rollback",
        # The owners may, but there is no promotion to undo: 409.
        {
            "owner": 409,
            "backup": 409,
            "other_reviewer": 404,
            "compliance": 403,
            "other_key": 302,
            "anonymous": 302,
        },
        body={"reason": "the new version misbehaves"},
        may_read=("compliance",),
    ),
    Case(
        "retraining inbox",
        "get",
        "/retraining/",
        {
            "owner": 200,
            "backup": 200,
            "other_reviewer": 200,
            "compliance": 200,
            "other_key": 302,
            "anonymous": 302,
        },
        leaks=SLUG,
        blind=("other_reviewer",),
        must_show={"owner": SLUG},
    ),
    Case(
        "retraining request page",
        "get",
        "/retraining/{retraining}/",
        {
            "owner": 200,
            "backup": 200,
            "other_reviewer": 404,
            "compliance": 200,
            "other_key": 302,
            "anonymous": 302,
        },
        leaks=SLUG,
        must_show={"owner": "drift on income", "compliance": "drift on income"},
    ),
    Case(
        "reject a candidate",
        "post",
        "/retraining/{retraining}/sign",
        # Members reach the status check (no candidate awaits sign-off yet): 409.
        {
            "owner": 409,
            "backup": 409,
            "other_reviewer": 404,
            "compliance": 403,
            "other_key": 302,
            "anonymous": 302,
        },
        body={"decision": "reject", "comment": "not convinced"},
        leaks=SLUG,
        may_read=("compliance",),
    ),
    Case(
        "promote a candidate",
        "post",
        "/retraining/{retraining}/promote",
        {
            "owner": 409,
            "backup": 409,
            "other_reviewer": 404,
            "compliance": 403,
            "other_key": 302,
            "anonymous": 302,
        },
        leaks=SLUG,
        may_read=("compliance",),
    ),
    Case(
        "start validation",
        "post",
        "/retraining/{retraining}/validate",
        {
            "owner": 409,
            "backup": 409,
            "other_reviewer": 404,
            "compliance": 403,
            "other_key": 302,
            "anonymous": 302,
        },
        leaks=SLUG,
        may_read=("compliance",),
    ),
    Case(
        "cancel a retraining request",
        "post",
        "/retraining/{retraining}/cancel",
        # The owner cancels it; by the backup owner's turn it is cancelled already: 409.
        {
            "owner": 302,
            "backup": 409,
            "other_reviewer": 404,
            "compliance": 403,
            "other_key": 302,
            "anonymous": 302,
        },
        body={"reason": "no longer needed"},
        leaks=SLUG,
        may_read=("compliance",),
    ),
    Case(
        "retraining requests (API)",
        "get",
        "/api/v1/retraining-requests",
        {
            "owner": 200,
            "backup": 200,
            "other_reviewer": 200,
            "compliance": 200,
            "other_key": 200,
            "anonymous": 401,
        },
        leaks=SLUG,
        blind=("other_reviewer", "other_key"),
        must_show={"owner": SLUG, "compliance": SLUG},
    ),
    Case(
        "retraining request (API)",
        "get",
        "/api/v1/retraining-requests/{retraining}",
        {
            "owner": 200,
            "backup": 200,
            "other_reviewer": 404,
            "compliance": 200,
            "other_key": 404,
            "anonymous": 401,
        },
        leaks=SLUG,
    ),
    Case(
        "retraining labels (API)",
        "get",
        "/api/v1/retraining-requests/{retraining}/labels",
        # Raw inputs: the pipeline, owners and approvers only. Not written yet: 409.
        {
            "owner": 409,
            "backup": 409,
            "other_reviewer": 404,
            "compliance": 403,
            "other_key": 404,
            "anonymous": 401,
        },
        leaks=SLUG,
    ),
    Case(
        "start validation (API)",
        "post",
        "/api/v1/retraining-requests/{retraining}/validate",
        {
            "owner": 409,
            "backup": 409,
            "other_reviewer": 404,
            "compliance": 403,
            "other_key": 404,
            "anonymous": 401,
        },
        leaks=SLUG,
    ),
    Case(
        "register a candidate (API)",
        "post",
        "/api/v1/models/loan-default/versions",
        # The owners may, but v1 exists: 409.
        {
            "owner": 409,
            "backup": 409,
            "other_reviewer": 403,
            "compliance": 403,
            "other_key": 403,
            "anonymous": 401,
        },
        body={
            "label": "v1",
            "artifact_uri": "s3://models/loan-default/v1.pkl",
            "training_data_ref": "labels/1.parquet",
            "code_version": "git:3f2a9c1",
            "metrics": {"accuracy": 0.93},
        },
    ),
]

DENIED = {401, 403, 404, 302}


@pytest.fixture(autouse=True)
def fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def world(owner, backup_owner, reviewer, compliance, loan_model, other_model, make_key):
    for user in (owner, backup_owner, compliance):
        user.is_staff = True
        user.save()
    other_model.reviewers.add(reviewer)
    grant_role(compliance, "compliance officer")
    record_events(loan_model, owner, count=3)
    export = export_request(principal=compliance, kind="events", format="csv", enqueue=False)
    export_run(export_id=export.pk)
    other_key = make_key(
        [other_model], scopes=list(ServiceKeyScope.values), name="fraud everything"
    )
    # What the reviewer, monitoring and retraining pages show of loan-default.
    item = make_item(loan_model)
    delivery = WebhookDelivery.objects.create(
        model=loan_model,
        prediction=item.prediction,
        url="https://scoring.example.com/decisions",
        payload={"model": "loan-default"},
    )
    rule = AlertRule.objects.create(
        model=loan_model, name="drift", metric="drift_share", comparison="gt", threshold=0.3
    )
    alert = Alert.objects.create(
        model=loan_model,
        rule=rule,
        summary="Share of drifted features was 0.67",
        value=0.67,
        threshold=0.3,
        opened_at=timezone.now(),
    )
    upload_baseline(loan_model, baseline_frame(rows=200))
    retraining = retraining_request_open(model=loan_model, user=owner, reason="drift on income")
    users = {
        "owner": owner,
        "backup": backup_owner,
        "other_reviewer": reviewer,
        "compliance": compliance,
    }
    return {
        "users": users,
        "other_key": other_key,
        "ids": {
            "export": export.pk,
            "loan": loan_model.pk,
            "fraud": other_model.pk,
            "event": AuditEvent.objects.filter(chain="loan-default").first().pk,
            "item": item.pk,
            "delivery": delivery.pk,
            "alert": alert.pk,
            "retraining": retraining.pk,
        },
    }


def client_for(role, world):
    client = APIClient()
    if role in world["users"]:
        client.force_login(world["users"][role])
    elif role == "other_key":
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {world['other_key'].secret}")
    return client


def body_text(response) -> str:
    if hasattr(response, "streaming_content"):
        return "" if response.status_code >= 300 else "<file>"
    return response.content.decode(errors="replace")


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_each_role_gets_exactly_what_it_should(case, world, settings):
    for name, value in case.settings.items():
        setattr(settings, name, value)
    failures = []
    for role in ROLES:
        client = client_for(role, world)
        url = case.url.format(**world["ids"])
        if case.method == "get":
            response = client.get(url)
        else:
            # Pages take forms, the API takes JSON.
            as_json = url.startswith("/api/")
            response = client.post(url, case.body or {}, format="json" if as_json else None)
        expected, text = case.expect[role], body_text(response)
        if response.status_code != expected:
            failures.append(f"{role}: {response.status_code}, expected {expected}: {text[:200]}")
        elif expected in DENIED and role not in case.may_read and case.leaks in text:
            failures.append(f"{role}: denied but the answer holds {case.leaks!r}")
        elif role in case.blind and case.leaks in text:
            failures.append(f"{role}: the answer holds {case.leaks!r}, which it may not see")
        elif role in case.must_show and case.must_show[role] not in text:
            failures.append(f"{role}: the answer lacks {case.must_show[role]!r}")
    assert not failures, "\n".join([f"{case.method.upper()} {case.url}", *failures])


def test_compliance_sees_other_models_in_the_admin_but_cannot_save(world):
    client = client_for("compliance", world)
    page = client.get(f"/admin/models_registry/mlmodel/{world['ids']['fraud']}/change/")
    assert page.status_code == 200 and b'name="_save"' not in page.content
    posted = client.post(
        f"/admin/models_registry/mlmodel/{world['ids']['fraud']}/change/", {"name": "x"}
    )
    assert posted.status_code == 403


def test_audit_events_are_read_only_even_for_superusers(world, django_user_model):
    root = django_user_model.objects.create_superuser("root", "root@example.com", "pw")
    client = APIClient()
    client.force_login(root)
    event = world["ids"]["event"]
    assert client.get(f"/admin/audit/auditevent/{event}/change/").status_code == 200
    assert (
        client.post(f"/admin/audit/auditevent/{event}/change/", {"action": "x"}).status_code == 403
    )
    assert client.get("/admin/audit/auditevent/add/").status_code == 403
    assert client.post(f"/admin/audit/auditevent/{event}/delete/").status_code == 403
    assert AuditEvent.objects.get(pk=event).action == "prediction.received"


def test_an_owner_can_only_attach_their_own_models_to_a_service_key(world):
    client = client_for("owner", world)
    page = client.get("/admin/models_registry/modelversion/add/")
    assert page.status_code == 200
    assert b"loan-default" in page.content and b"claim-fraud" not in page.content


def test_the_roles_exist_with_what_each_may_do(db):
    from django.apps import apps
    from django.contrib.auth.models import Group

    from tests.audit.conftest import ROLES_MIGRATION

    ROLES_MIGRATION.forward(apps, None)  # again: it must be harmless to re-run
    perms = {
        group.name: set(group.permissions.values_list("codename", flat=True))
        for group in Group.objects.all()
    }
    assert set(perms) >= {
        "reviewer",
        "model owner",
        "approver",
        "compliance officer",
        "administrator",
    }
    compliance = perms["compliance officer"]
    assert {"view_auditevent", "view_prediction", "view_mlmodel", "export_raw_pii"} <= compliance
    # Read and export everything, change nothing.
    assert not {p for p in compliance if p.startswith(("change_", "delete_"))}
    assert {p for p in compliance if p.startswith("add_")} == {"add_export"}
    assert {"change_mlmodel", "change_routingpolicy", "view_historicalmlmodel"} <= perms[
        "model owner"
    ]
    assert "change_mlmodel" not in perms["reviewer"] | perms["approver"]
    assert "export_audit_trail" not in perms["model owner"] | perms["reviewer"]
    assert {"change_mlmodel", "export_audit_trail", "change_user"} <= perms["administrator"]


def test_an_administrator_in_the_group_sees_every_model_but_never_edits_audit_events(
    world, django_user_model
):
    admin_user = django_user_model.objects.create_user("ada", password="pw", is_staff=True)
    grant_role(admin_user, "administrator")
    client = APIClient()
    client.force_login(admin_user)
    listing = client.get("/admin/models_registry/mlmodel/")
    assert b"loan-default" in listing.content and b"claim-fraud" in listing.content
    event = world["ids"]["event"]
    assert (
        client.post(f"/admin/audit/auditevent/{event}/change/", {"action": "x"}).status_code == 403
    )
