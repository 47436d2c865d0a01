"""Create the django-q2 schedules of the review queue, so `migrate` + `qcluster` is enough."""

from django.db import migrations

SCHEDULES = {
    "review: SLA sweep": "reviewapp.tasks.sweep_review_sla",
    "review: webhook retries": "reviewapp.tasks.retry_webhook_deliveries",
}


def forward(apps, schema_editor):
    Schedule = apps.get_model("django_q", "Schedule")
    for name, func in SCHEDULES.items():
        Schedule.objects.update_or_create(
            name=name,
            defaults={"func": func, "schedule_type": "I", "minutes": 1, "repeats": -1},
        )


def backward(apps, schema_editor):
    Schedule = apps.get_model("django_q", "Schedule")
    Schedule.objects.filter(name__in=list(SCHEDULES)).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("reviewapp", "0002_queue"),
        ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more"),
    ]
    operations = [migrations.RunPython(forward, backward)]
