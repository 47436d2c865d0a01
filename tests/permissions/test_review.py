"""The reviewer UI for every role (docs/review.md, docs/roles.md)."""

import pytest

from tests.permissions.matrix import (
    SECRET,
    SLUG,
    Case,
    assert_each_role_gets_what_it_should,
    statuses,
)

CASES = [
    # --- The reviewer UI (docs/review.md): a model's reviewers, owner and backup owner work
    # its items; anyone else gets a 404 for them. Compliance reads in the admin, not here.
    Case(
        "review queue",
        "get",
        "/review/",
        statuses(owner=200, backup=200, other_reviewer=200, compliance=200),
        leaks=SLUG,
        blind=("other_reviewer",),
        must_show={"owner": SECRET, "other_reviewer": "Claim fraud"},
    ),
    Case(
        "review item page",
        "get",
        "/review/items/{item}/",
        statuses(owner=200, backup=200, other_reviewer=404, compliance=404),
        leaks=SLUG,
        must_show={"owner": SECRET, "backup": SECRET},
    ),
    Case(
        "decide on an item",
        "post",
        "/review/items/{item}/",
        # Members reach the form, which wants an action: 400.
        statuses(owner=400, backup=400, other_reviewer=404, compliance=404),
        leaks=SLUG,
    ),
    Case(
        "renew an item's lease",
        "post",
        "/review/items/{item}/renew/",
        # Members reach the lease check: nobody holds the item, so nobody may renew it.
        statuses(owner=409, backup=409, other_reviewer=404, compliance=404),
        leaks=SLUG,
    ),
    Case(
        "hand an item back",
        "post",
        "/review/items/{item}/release/",
        # Members are sent back to the queue (nothing to hand back).
        statuses(owner=302, backup=302, other_reviewer=404, compliance=404),
        leaks=SLUG,
    ),
    Case(
        "my review figures",
        "get",
        "/review/me/",
        statuses(owner=200, backup=200, other_reviewer=200, compliance=200),
        leaks=SLUG,
        blind=("other_reviewer", "compliance"),
    ),
    Case(
        "team figures",
        "get",
        "/review/team/",
        statuses(owner=200, backup=200, other_reviewer=404, compliance=404),
        leaks=SLUG,
        must_show={"owner": SLUG, "backup": SLUG},
    ),
    Case(
        "webhook deliveries",
        "get",
        "/review/deliveries/",
        statuses(owner=200, backup=200, other_reviewer=404, compliance=404),
        leaks=SLUG,
        must_show={"owner": SLUG, "backup": SLUG},
    ),
    Case(
        "one webhook delivery",
        "get",
        "/review/deliveries/{delivery}/",
        statuses(owner=200, backup=200, other_reviewer=404, compliance=404),
        leaks=SLUG,
        must_show={"owner": SLUG},
    ),
    Case(
        "replay a webhook delivery",
        "post",
        "/review/deliveries/{delivery}/replay/",
        statuses(owner=302, backup=302, other_reviewer=404, compliance=404),
        leaks=SLUG,
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_each_role_gets_exactly_what_it_should(case, world, settings):
    assert_each_role_gets_what_it_should(case, world, settings)
