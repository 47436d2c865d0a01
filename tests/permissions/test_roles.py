"""The roles (Django groups) exist with the permissions docs/roles.md gives them."""


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
