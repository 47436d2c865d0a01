from datetime import UTC, datetime
from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.utils.dateparse import parse_date, parse_datetime

from audit.actors import Actor
from audit.exports.progress import ProgressBar
from audit.models import ExportFormat, ExportKind
from audit.services_exports import export_request, export_run


def parse_moment(value: str, option: str) -> datetime:
    """A date (midnight UTC) or an ISO 8601 date-time (UTC when no offset is given)."""
    moment = parse_datetime(value)
    if moment is None:
        day = parse_date(value)
        if day is None:
            raise CommandError(f"{option}: '{value}' is not a date (YYYY-MM-DD) or ISO date-time")
        moment = datetime(day.year, day.month, day.day)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class Command(BaseCommand):
    help = (
        "Export audit events or predictions (with decisions and outcomes) to a signed, "
        "verifiable file. Prints the path of the file and of its manifest."
    )

    def add_arguments(self, parser):
        parser.add_argument("--kind", required=True, choices=ExportKind.values)
        parser.add_argument("--format", required=True, choices=ExportFormat.values)
        parser.add_argument(
            "--model", action="append", dest="models", metavar="SLUG", help="Repeatable."
        )
        parser.add_argument("--since", help="Inclusive: YYYY-MM-DD or an ISO date-time (UTC).")
        parser.add_argument("--until", help="Exclusive: YYYY-MM-DD or an ISO date-time (UTC).")
        parser.add_argument("--out", required=True, help="Directory to write into.")
        parser.add_argument(
            "--raw-pii-reason",
            default="",
            help="Export personal data unmasked, for this stated reason (audited).",
        )
        parser.add_argument("--no-progress", action="store_true")

    def handle(self, *args, **options):
        since = parse_moment(options["since"], "--since") if options["since"] else None
        until = parse_moment(options["until"], "--until") if options["until"] else None
        out = Path(options["out"])
        try:
            out.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise CommandError(f"--out: cannot create {out}: {error.strerror}") from error
        try:
            export = export_request(
                principal=None,
                actor=Actor.system("manage.py export_audit"),
                kind=options["kind"],
                format=options["format"],
                models=options["models"],
                since=since,
                until=until,
                raw_pii=bool(options["raw_pii_reason"]),
                raw_pii_reason=options["raw_pii_reason"],
                enqueue=False,
            )
        except ValidationError as error:
            first = next(iter(error.message_dict.items()))
            option = {"models": "--model", "until": "--until"}.get(first[0], first[0])
            raise CommandError(f"{option}: {' '.join(first[1])}") from error
        bar = None if options["no_progress"] else ProgressBar(f"export #{export.pk}", self.stderr)
        try:
            export = export_run(export_id=export.pk, directory=out, progress=bar)
        except Exception as error:
            raise CommandError(f"export #{export.pk} failed: {error}") from error
        finally:
            if bar:
                bar.finish()
        self.stdout.write(str(export.file_path))
        self.stdout.write(f"{export.file_path}.manifest.json")
