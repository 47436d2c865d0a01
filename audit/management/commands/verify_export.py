from django.conf import settings
from django.core.management.base import BaseCommand

from audit.exports.verify import export_verify


class Command(BaseCommand):
    help = (
        "Verify an export offline (no database needed): the manifest's signature, the file's "
        "sha256 and row count, and for audit events the hash chains. Exit 0 with a line "
        "starting 'OK', or exit 1 with one line per problem."
    )
    # No system checks: they would touch the database, and an auditor has none.
    requires_system_checks = []

    def add_arguments(self, parser):
        parser.add_argument("file")
        parser.add_argument("manifest")
        parser.add_argument(
            "--key", help="The signing key (default: EXPORT_SIGNING_KEY from the environment)."
        )

    def handle(self, *args, file, manifest, key=None, **options):
        result = export_verify(
            file=file, manifest_file=manifest, key=key or settings.EXPORT_SIGNING_KEY
        )
        for line in result.lines():
            self.stdout.write(line)
        if not result.ok:
            raise SystemExit(1)
