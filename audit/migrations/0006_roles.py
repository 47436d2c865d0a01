"""Roles as Django groups with permissions (docs/roles.md).

Groups grant what a kind of person may do at all; which models they may do it on is decided
per object by models_registry/access.py (owner, backup owner, reviewers and approvers of each
model). Re-running is harmless: each group's permissions are set, not appended.
"""

from django.contrib.auth.management import create_permissions
from django.db import migrations

APPS = ("audit", "models_registry", "reviewapp")

VIEW_REGISTRY = [
    "models_registry.view_mlmodel",
    "models_registry.view_modelversion",
    "models_registry.view_routingpolicy",
]
VIEW_REVIEW = [
    "reviewapp.view_prediction",
    "reviewapp.view_reviewitem",
    "reviewapp.view_decision",
    "reviewapp.view_outcome",
]
VIEW_AUDIT = ["audit.view_auditevent", "audit.view_auditcheckpoint"]

ROLES = {
    "reviewer": [
        *VIEW_REGISTRY,
        *VIEW_REVIEW,
        "reviewapp.change_reviewitem",
        "reviewapp.add_decision",
    ],
    "model owner": [
        *VIEW_REGISTRY,
        *VIEW_REVIEW,
        *VIEW_AUDIT,
        "models_registry.add_mlmodel",
        "models_registry.change_mlmodel",
        "models_registry.add_modelversion",
        "models_registry.change_modelversion",
        "models_registry.add_routingpolicy",
        "models_registry.change_routingpolicy",
        "models_registry.view_servicekey",
        "models_registry.change_servicekey",
        "models_registry.view_historicalmlmodel",
        "models_registry.view_historicalmodelversion",
        "models_registry.view_historicalroutingpolicy",
        "models_registry.view_historicalservicekey",
    ],
    "approver": [*VIEW_REGISTRY, *VIEW_AUDIT],
    # "read and export everything, change nothing": every view permission of the three apps.
    "compliance officer": [
        "view:*",
        "audit.add_export",
        "audit.export_audit_trail",
        "audit.export_raw_pii",
    ],
    # Everything of the three apps and of users and groups; audit events stay read-only
    # through the admin's own refusals, whatever the permissions say.
    "administrator": ["*", "auth.view_user", "auth.add_user", "auth.change_user",
                      "auth.view_group", "auth.add_group", "auth.change_group"],
}


def forward(apps, schema_editor):
    for app_config in apps.get_app_configs():
        # create_permissions skips an app without a models module, which historical app
        # configs lack; put back what was there (the live registry has real modules).
        previous = getattr(app_config, "models_module", None)
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = previous
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    ours = Permission.objects.filter(content_type__app_label__in=APPS)
    for name, wanted in ROLES.items():
        group, _ = Group.objects.get_or_create(name=name)
        chosen = set()
        for spec in wanted:
            if spec == "*":
                chosen |= set(ours.values_list("pk", flat=True))
            elif spec == "view:*":
                chosen |= set(ours.filter(codename__startswith="view_").values_list("pk", flat=True))
            else:
                app_label, codename = spec.split(".")
                chosen |= set(
                    Permission.objects.filter(
                        content_type__app_label=app_label, codename=codename
                    ).values_list("pk", flat=True)
                )
        group.permissions.set(chosen)


def backward(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name__in=list(ROLES)).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("audit", "0005_monthly_export_schedule"),
        ("models_registry", "0002_review_and_ownership_settings"),
        ("reviewapp", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]
    operations = [migrations.RunPython(forward, backward)]
