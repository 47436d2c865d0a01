"""Webhook secrets leave the history tables: anyone who may read a model's history could read
them there. Dropping the columns also removes the secrets earlier saves copied into them."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("models_registry", "0013_alertnotification_attempt_limit"),
    ]

    operations = [
        migrations.RemoveField(
            model_name="historicalalertrule",
            name="webhook_secret",
        ),
        migrations.RemoveField(
            model_name="historicalmlmodel",
            name="callback_secret",
        ),
        migrations.RemoveField(
            model_name="historicalmlmodel",
            name="pipeline_webhook_secret",
        ),
    ]
