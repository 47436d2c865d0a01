"""manage.py load_baseline --model SLUG --version LABEL FILE"""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from audit.actors import Actor
from models_registry.models import ModelVersion
from models_registry.monitoring.baseline import BaselineError, baseline_upload


class Command(BaseCommand):
    help = "Upload a training-data sample (CSV or Parquet) as a version's drift baseline."

    def add_base_argument(self, parser, *args, **kwargs):
        # --version names the model version here, as in the interface; Django's own
        # --version (print Django's version) would clash with it.
        if "--version" in args:
            return
        super().add_base_argument(parser, *args, **kwargs)

    def add_arguments(self, parser):
        parser.add_argument("--model", required=True, help="Model slug")
        parser.add_argument("--version", required=True, help="Version label")
        parser.add_argument("file", help="CSV or Parquet file")

    def handle(self, *args, **options):
        path = Path(options["file"])
        if not path.is_file():
            raise CommandError(f"No such file: {path}")
        version = (
            ModelVersion.objects.select_related("model")
            .filter(model__slug=options["model"], label=options["version"])
            .first()
        )
        if version is None:
            raise CommandError(f"No version '{options['version']}' of model '{options['model']}'.")
        try:
            baseline = baseline_upload(
                version=version,
                content=path.read_bytes(),
                file_name=path.name,
                actor=Actor.system("manage.py load_baseline"),
            )
        except BaselineError as error:
            raise CommandError(f"{error.field}: {error.message}") from error
        report = baseline.contract_report
        self.stdout.write(
            f"Baseline {baseline.pk} for {version}: {baseline.row_count} rows, "
            f"{baseline.sample_row_count} kept as the drift sample."
        )
        for column, entry in report["violations"].items():
            self.stdout.write(
                self.style.WARNING(
                    f"  {column}: {entry['count']} contract violation(s), e.g. "
                    + "; ".join(f"row {e['row']}: {e['message']}" for e in entry["examples"][:2])
                )
            )
        if report["columns_missing"]:
            self.stdout.write(
                self.style.WARNING(f"  missing columns: {', '.join(report['columns_missing'])}")
            )
