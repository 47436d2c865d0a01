"""Create the django-q2 schedule that resumes retraining work a lost task left behind."""

from django.db import migrations

NAME = "retraining: resume stalled work"


def forward(apps, schema_editor):
    Schedule = apps.get_model("django_q", "Schedule")
    Schedule.objects.update_or_create(
        name=NAME,
        defaults={
            "func": "models_registry.retraining.tasks.resume_stalled",
            "schedule_type": "I",
            "minutes": 5,
            "repeats": -1,
        },
    )


def backward(apps, schema_editor):
    Schedule = apps.get_model("django_q", "Schedule")
    Schedule.objects.filter(name=NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("models_registry", "0003_retraining"),
        ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more"),
    ]
    operations = [migrations.RunPython(forward, backward)]
