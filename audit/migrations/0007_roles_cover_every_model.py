"""Roles again, now that the queue, monitoring and retraining models exist.

0006_roles ran before those tables did, so its "every view permission" (compliance) and
"everything" (administrators) missed them, and owners had no say over alert rules or
retraining gates. Permissions are set, not appended, so this replaces 0006's grants.
"""

import importlib

from django.db import migrations

roles = importlib.import_module("audit.migrations.0006_roles")

REVIEW_WORK = ["reviewapp.view_reviewaction", "reviewapp.add_reviewaction"]
OWNER_EXTRA = [
    "reviewapp.view_reviewaction",
    "reviewapp.view_webhookdelivery",
    "reviewapp.change_webhookdelivery",
    "reviewapp.view_webhookattempt",
    "models_registry.view_baseline",
    "models_registry.add_baseline",
    "models_registry.view_monitoringsnapshot",
    "models_registry.view_alertrule",
    "models_registry.add_alertrule",
    "models_registry.change_alertrule",
    "models_registry.view_historicalalertrule",
    "models_registry.view_alert",
    "models_registry.change_alert",
    "models_registry.view_alertnotification",
    "models_registry.view_retrainingpolicy",
    "models_registry.add_retrainingpolicy",
    "models_registry.change_retrainingpolicy",
    "models_registry.view_historicalretrainingpolicy",
    "models_registry.view_retrainingrequest",
    "models_registry.add_retrainingrequest",
    "models_registry.view_validationreport",
    "models_registry.view_signoff",
]
APPROVER_EXTRA = [
    "models_registry.view_retrainingrequest",
    "models_registry.view_validationreport",
    "models_registry.view_signoff",
    "models_registry.add_signoff",
]


def forward(apps, schema_editor):
    extra = {"reviewer": REVIEW_WORK, "model owner": OWNER_EXTRA, "approver": APPROVER_EXTRA}
    for name, permissions in extra.items():
        roles.ROLES[name] = list(dict.fromkeys([*roles.ROLES[name], *permissions]))
    roles.forward(apps, schema_editor)


class Migration(migrations.Migration):
    dependencies = [
        ("audit", "0006_roles"),
        ("models_registry", "0005_merge_monitoring_retraining"),
        ("reviewapp", "0004_merge_0002_shadow_predictions_0003_queue_schedules"),
    ]
    operations = [migrations.RunPython(forward, migrations.RunPython.noop)]
