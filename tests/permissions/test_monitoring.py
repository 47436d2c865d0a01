"""Monitoring dashboards, alerts, baselines and /metrics for every role (docs/monitoring.md)."""

import pytest

from tests.permissions.matrix import (
    SECRET,
    SLUG,
    Case,
    assert_each_role_gets_what_it_should,
    statuses,
)

CASES = [
    # --- Monitoring (docs/monitoring.md): whoever may read the model sees its dashboard; only
    # its owner and backup owner act on its alerts.
    Case(
        "monitoring overview",
        "get",
        "/models/",
        statuses(owner=200, backup=200, other_reviewer=200, compliance=200),
        leaks=SLUG,
        blind=("other_reviewer",),
        must_show={"owner": SECRET, "compliance": SECRET, "other_reviewer": "Claim fraud"},
    ),
    Case(
        "model dashboard",
        "get",
        "/models/loan-default/",
        statuses(owner=200, backup=200, other_reviewer=403, compliance=200),
        must_show={"owner": SECRET, "backup": SECRET, "compliance": SECRET},
    ),
    Case(
        "acknowledge an alert",
        "post",
        "/models/loan-default/alerts/{alert}/acknowledge/",
        # Done or refused (already acknowledged), the owners go back to the dashboard.
        statuses(owner=302, backup=302, other_reviewer=403, compliance=403),
    ),
    Case(
        "resolve an alert",
        "post",
        "/models/loan-default/alerts/{alert}/resolve/",
        statuses(owner=302, backup=302, other_reviewer=403, compliance=403),
        body={"note": "retrained"},
    ),
    Case(
        "baseline (API)",
        "get",
        "/api/v1/models/loan-default/versions/v1/baseline",
        # The owners' and the pipeline's (docs/monitoring.md); compliance reads it in the admin.
        statuses(
            owner=200, backup=200, other_reviewer=403, compliance=403, other_key=403, anonymous=401
        ),
        must_show={"owner": "train.csv"},
    ),
    Case(
        "metrics (open by default)",
        "get",
        "/metrics",
        # Documented as open unless METRICS_TOKEN is set (docs/monitoring.md, section 6).
        statuses(
            owner=200, backup=200, other_reviewer=200, compliance=200, other_key=200, anonymous=200
        ),
        must_show={"anonymous": "countersign_review_queue_depth"},
    ),
    Case(
        "metrics with METRICS_TOKEN set",
        "get",
        "/metrics",
        # Only the scraper's token opens it: neither a session nor a service key does.
        statuses(
            owner=401, backup=401, other_reviewer=401, compliance=401, other_key=401, anonymous=401
        ),
        leaks=SLUG,
        settings={"METRICS_TOKEN": "scraper-token"},
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_each_role_gets_exactly_what_it_should(case, world, settings):
    assert_each_role_gets_what_it_should(case, world, settings)
