"""manage.py monitoring_snapshot [--model SLUG] [--window hourly|daily] [--backfill N]"""

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from models_registry.models import SnapshotWindow
from models_registry.monitoring.alerts import alert_rules_ensure_defaults, alerts_evaluate
from models_registry.monitoring.snapshots import monitored_models, snapshots_run


class Command(BaseCommand):
    help = (
        "Take the monitoring snapshots of the last closed windows (skipping those already "
        "taken) and evaluate alert rules. What the schedule does, on demand."
    )

    def add_arguments(self, parser):
        parser.add_argument("--model", help="Only this model (slug)")
        parser.add_argument(
            "--window", choices=SnapshotWindow.values, action="append", help="Window kind(s)"
        )
        parser.add_argument(
            "--backfill", type=int, default=1, help="How many closed windows back to fill"
        )
        parser.add_argument("--no-alerts", action="store_true", help="Do not evaluate alert rules")

    def handle(self, *args, **options):
        if options["backfill"] < 1:
            raise CommandError("--backfill must be at least 1.")
        models = monitored_models()
        if options["model"]:
            models = models.filter(slug=options["model"])
            if not models.exists():
                raise CommandError(f"No active model with slug '{options['model']}'.")
        now = timezone.now()
        models = list(models)
        total = len(models)
        created = existing = 0
        for i, model in enumerate(models, 1):
            self.stdout.write(f"[{i}/{total}] {model.slug}")
            alert_rules_ensure_defaults(model=model)
            result = snapshots_run(
                now=now,
                models=[model],
                windows=options["window"],
                backfill=options["backfill"],
                progress=lambda line: self.stdout.write(f"  {line}"),
            )
            created += result.created
            existing += result.existing
            if not options["no_alerts"]:
                counts = alerts_evaluate(model=model, now=now)
                self.stdout.write(
                    f"  alerts: {counts['opened']} opened, {counts['still_open']} still open, "
                    f"{counts['resolved']} resolved"
                )
        self.stdout.write(
            self.style.SUCCESS(f"{created} snapshot(s) taken, {existing} already there.")
        )
