"""Schedule the monthly exports per model (django-q2), so `migrate` + `qcluster` is enough.

Runs on the 1st of each month at 02:00 UTC and exports the previous month; the task is
idempotent (one scheduled export per kind, model and month, enforced by a unique constraint).
"""

from datetime import UTC, datetime

from django.db import migrations

FUNC = "audit.tasks.monthly_exports"
NAME = "audit: monthly exports"


def _next_first_of_month():
    now = datetime.now(UTC)
    year, month = (now.year + 1, 1) if now.month == 12 else (now.year, now.month + 1)
    return datetime(year, month, 1, 2, 0, tzinfo=UTC)


def forward(apps, schema_editor):
    Schedule = apps.get_model("django_q", "Schedule")
    Schedule.objects.update_or_create(
        name=NAME,
        defaults={
            "func": FUNC,
            "schedule_type": "M",
            "repeats": -1,
            "next_run": _next_first_of_month(),
        },
    )


def backward(apps, schema_editor):
    Schedule = apps.get_model("django_q", "Schedule")
    Schedule.objects.filter(name=NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("audit", "0004_exports"),
        ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more"),
    ]
    operations = [migrations.RunPython(forward, backward)]
