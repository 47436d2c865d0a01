"""Each alert notification carries its attempt limit (5; a replay allows one more), so the
claim can fail a notification whose last attempt stopped without reporting instead of taking
it again once per lease forever."""

from django.db import migrations, models
from django.db.models import F


def allow_replayed_rows_their_attempt(apps, schema_editor):
    """A notification replayed before this migration is pending with its five attempts used;
    its replay promised it one more."""
    AlertNotification = apps.get_model("models_registry", "AlertNotification")
    AlertNotification.objects.filter(status="pending", attempts__gte=5).update(
        attempt_limit=F("attempts") + 1
    )


class Migration(migrations.Migration):
    dependencies = [
        ("models_registry", "0012_retrainingrequest_pipeline_round"),
    ]

    operations = [
        migrations.AddField(
            model_name="alertnotification",
            name="attempt_limit",
            field=models.PositiveSmallIntegerField(
                default=5,
                help_text="Attempts allowed before the notification is failed; a replay allows "
                "one more.",
            ),
        ),
        migrations.RunPython(allow_replayed_rows_their_attempt, migrations.RunPython.noop),
    ]
