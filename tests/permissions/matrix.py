"""Who gets what: the row type the permission tables share, and how a row is checked.

Table-driven: each area has its test file with a CASES table; add a Case per page or endpoint
to it. Each names, for every role, the status it must get and, for the roles that must see no
data, a marker that must not appear in the answer.

Roles: owner (alice, owns loan-default), backup (bob, backs it up), other_reviewer (carol,
reviews claim-fraud only), compliance (erin, compliance officer), other_key (a service key of
claim-fraud with every scope), anonymous. owner, backup and compliance are staff.

Pages take form posts, /api/ endpoints JSON. The roles in a Case's ``blind`` get an answer (a
list, a queue) that must hold nothing of loan-default either; the roles in ``may_read`` are
refused an action on a model they may read, so their refusal may show it.
"""

from dataclasses import dataclass, field

from rest_framework.test import APIClient

ROLES = ("owner", "backup", "other_reviewer", "compliance", "other_key", "anonymous")
SECRET = "Loan default"  # the loan model's name: in any answer that leaks its data
SLUG = "loan-default"  # what pages that list models show of them (the name, not always)
EXPORT_DATA = "sha256"  # in any answer that leaks an export's manifest
DENIED = {401, 403, 404, 302}


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


def statuses(
    *, owner: int, backup: int, other_reviewer: int, compliance: int, other_key=302, anonymous=302
) -> dict[str, int]:
    """A row's expected status per role. The two signed-out callers default to 302: a page
    sends them to the login page (API rows say 401 and what the key gets)."""
    return {
        "owner": owner,
        "backup": backup,
        "other_reviewer": other_reviewer,
        "compliance": compliance,
        "other_key": other_key,
        "anonymous": anonymous,
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


def assert_each_role_gets_what_it_should(case: Case, world: dict, settings) -> None:
    """Ask as every role; collect every mismatch, so one run shows the whole row."""
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
