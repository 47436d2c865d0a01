"""Compliance pages, exports and the model API, for every role (docs/roles.md, docs/exports.md)."""

import pytest

from tests.permissions.matrix import (
    EXPORT_DATA,
    Case,
    assert_each_role_gets_what_it_should,
    statuses,
)

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
        statuses(owner=403, backup=403, other_reviewer=403, compliance=200),
        must_show={"compliance": "Compliance exports"},
    ),
    Case(
        "compliance export detail",
        "get",
        "/compliance/exports/{export}/",
        statuses(owner=403, backup=403, other_reviewer=403, compliance=200),
    ),
    Case(
        "compliance export download",
        "get",
        "/compliance/exports/{export}/download",
        statuses(owner=403, backup=403, other_reviewer=403, compliance=200),
    ),
    Case(
        "exports list",
        "get",
        "/api/v1/exports",
        statuses(
            owner=403, backup=403, other_reviewer=403, compliance=200, other_key=200, anonymous=401
        ),
        must_show={"compliance": "loan-default"},
        leaks=EXPORT_DATA,
    ),
    Case(
        "export request for loan-default",
        "post",
        "/api/v1/exports",
        statuses(
            owner=403, backup=403, other_reviewer=403, compliance=202, other_key=403, anonymous=401
        ),
        body={"kind": "events", "format": "csv", "models": ["loan-default"]},
    ),
    Case(
        "export detail",
        "get",
        "/api/v1/exports/{export}",
        statuses(
            owner=403, backup=403, other_reviewer=403, compliance=200, other_key=404, anonymous=401
        ),
    ),
    Case(
        "export download",
        "get",
        "/api/v1/exports/{export}/download",
        statuses(
            owner=403, backup=403, other_reviewer=403, compliance=200, other_key=404, anonymous=401
        ),
    ),
    Case(
        "export manifest",
        "get",
        "/api/v1/exports/{export}/manifest",
        statuses(
            owner=403, backup=403, other_reviewer=403, compliance=200, other_key=404, anonymous=401
        ),
    ),
    Case(
        "model detail (API)",
        "get",
        "/api/v1/models/loan-default",
        statuses(
            owner=200, backup=200, other_reviewer=403, compliance=200, other_key=403, anonymous=401
        ),
    ),
    Case(
        "send a prediction (API)",
        "post",
        "/api/v1/models/loan-default/predictions",
        # The backup owner sends the same prediction again: a replay, answered 200.
        statuses(
            owner=201, backup=200, other_reviewer=403, compliance=403, other_key=403, anonymous=401
        ),
        body=PREDICTION,
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_each_role_gets_exactly_what_it_should(case, world, settings):
    assert_each_role_gets_what_it_should(case, world, settings)
