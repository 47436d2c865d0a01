"""Create the django-q2 schedules of monitoring, so `migrate` + `qcluster` is enough."""

from django.db import migrations

SCHEDULES = {
    # Snapshots of closed windows, then alert rules. Every 10 minutes: cheap when the window
    # is already measured, and an hourly window is measured at most 10 minutes after it closes.
    "monitoring: snapshots and alert rules": (
        "models_registry.monitoring.tasks.take_monitoring_snapshots",
        10,
    ),
    # Escalations to the backup owner and notification retries.
    "monitoring: escalate and deliver alerts": ("models_registry.monitoring.tasks.sweep_alerts", 1),
}


def forward(apps, schema_editor):
    Schedule = apps.get_model("django_q", "Schedule")
    for name, (func, minutes) in SCHEDULES.items():
        Schedule.objects.update_or_create(
            name=name,
            defaults={"func": func, "schedule_type": "I", "minutes": minutes, "repeats": -1},
        )


def backward(apps, schema_editor):
    Schedule = apps.get_model("django_q", "Schedule")
    Schedule.objects.filter(name__in=list(SCHEDULES)).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("models_registry", "0003_monitoring"),
        ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more"),
    ]
    operations = [migrations.RunPython(forward, backward)]
