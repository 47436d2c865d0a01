"""Retraining pages and API for every role (docs/retraining.md, docs/roles.md)."""

import pytest

from tests.permissions.matrix import (
    SECRET,
    SLUG,
    Case,
    assert_each_role_gets_what_it_should,
    statuses,
)

CASES = [
    # --- Retraining (docs/retraining.md): pages for whoever may read the model; requesting,
    # signing, promoting, validating, cancelling and rolling back are for its owners and
    # approvers. A compliance officer reads and changes nothing (docs/roles.md).
    Case(
        "model's retraining page",
        "get",
        "/models/loan-default/retraining/",
        statuses(owner=200, backup=200, other_reviewer=404, compliance=200),
        must_show={"owner": SECRET, "compliance": SECRET},
    ),
    Case(
        "request retraining",
        "post",
        "/models/loan-default/retraining/",
        # The owners may, but one request is open already: 409.
        statuses(owner=409, backup=409, other_reviewer=404, compliance=403),
        body={"reason": "drift on income"},
        may_read=("compliance",),
    ),
    Case(
        "roll back",
        "post",
        "/models/loan-default/retraining/rollback",
        # The owners may, but there is no promotion to undo: 409.
        statuses(owner=409, backup=409, other_reviewer=404, compliance=403),
        body={"reason": "the new version misbehaves"},
        may_read=("compliance",),
    ),
    Case(
        "retraining inbox",
        "get",
        "/retraining/",
        statuses(owner=200, backup=200, other_reviewer=200, compliance=200),
        leaks=SLUG,
        blind=("other_reviewer",),
        must_show={"owner": SLUG},
    ),
    Case(
        "retraining request page",
        "get",
        "/retraining/{retraining}/",
        statuses(owner=200, backup=200, other_reviewer=404, compliance=200),
        leaks=SLUG,
        must_show={"owner": "drift on income", "compliance": "drift on income"},
    ),
    Case(
        "reject a candidate",
        "post",
        "/retraining/{retraining}/sign",
        # Members reach the status check (no candidate awaits sign-off yet): 409.
        statuses(owner=409, backup=409, other_reviewer=404, compliance=403),
        body={"decision": "reject", "comment": "not convinced"},
        leaks=SLUG,
        may_read=("compliance",),
    ),
    Case(
        "promote a candidate",
        "post",
        "/retraining/{retraining}/promote",
        statuses(owner=409, backup=409, other_reviewer=404, compliance=403),
        leaks=SLUG,
        may_read=("compliance",),
    ),
    Case(
        "start validation",
        "post",
        "/retraining/{retraining}/validate",
        statuses(owner=409, backup=409, other_reviewer=404, compliance=403),
        leaks=SLUG,
        may_read=("compliance",),
    ),
    Case(
        "cancel a retraining request",
        "post",
        "/retraining/{retraining}/cancel",
        # The owner cancels it; by the backup owner's turn it is cancelled already: 409.
        statuses(owner=302, backup=409, other_reviewer=404, compliance=403),
        body={"reason": "no longer needed"},
        leaks=SLUG,
        may_read=("compliance",),
    ),
    Case(
        "send to the pipeline again",
        "post",
        "/retraining/{retraining}/resend",
        # Its operators may, but loan-default has no pipeline webhook: refused with the reason.
        statuses(owner=409, backup=409, other_reviewer=404, compliance=403),
        leaks=SLUG,
        may_read=("owner", "backup", "compliance"),
    ),
    Case(
        "retraining requests (API)",
        "get",
        "/api/v1/retraining-requests",
        statuses(
            owner=200, backup=200, other_reviewer=200, compliance=200, other_key=200, anonymous=401
        ),
        leaks=SLUG,
        blind=("other_reviewer", "other_key"),
        must_show={"owner": SLUG, "compliance": SLUG},
    ),
    Case(
        "retraining request (API)",
        "get",
        "/api/v1/retraining-requests/{retraining}",
        statuses(
            owner=200, backup=200, other_reviewer=404, compliance=200, other_key=404, anonymous=401
        ),
        leaks=SLUG,
    ),
    Case(
        "retraining labels (API)",
        "get",
        "/api/v1/retraining-requests/{retraining}/labels",
        # Raw inputs: the pipeline, owners and approvers only. Not written yet: 409.
        statuses(
            owner=409, backup=409, other_reviewer=404, compliance=403, other_key=404, anonymous=401
        ),
        leaks=SLUG,
    ),
    Case(
        "start validation (API)",
        "post",
        "/api/v1/retraining-requests/{retraining}/validate",
        statuses(
            owner=409, backup=409, other_reviewer=404, compliance=403, other_key=404, anonymous=401
        ),
        leaks=SLUG,
    ),
    Case(
        "send to the pipeline again (API)",
        "post",
        "/api/v1/retraining-requests/{retraining}/resend",
        statuses(
            owner=409, backup=409, other_reviewer=404, compliance=403, other_key=404, anonymous=401
        ),
        leaks=SLUG,
    ),
    Case(
        "register a candidate (API)",
        "post",
        "/api/v1/models/loan-default/versions",
        # The owners may, but v1 exists: 409.
        statuses(
            owner=409, backup=409, other_reviewer=403, compliance=403, other_key=403, anonymous=401
        ),
        body={
            "label": "v1",
            "artifact_uri": "s3://models/loan-default/v1.pkl",
            "training_data_ref": "labels/1.parquet",
            "code_version": "git:3f2a9c1",
            "metrics": {"accuracy": 0.93},
        },
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_each_role_gets_exactly_what_it_should(case, world, settings):
    assert_each_role_gets_what_it_should(case, world, settings)
