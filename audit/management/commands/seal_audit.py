from django.core.management.base import BaseCommand

from audit.services import audit_chains_seal


class Command(BaseCommand):
    help = "Seal unsealed audit events into their chains now (the schedule does this every minute)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--grace",
            type=float,
            default=None,
            help="Seconds an event must be old before it is sealed.",
        )

    def handle(self, *args, grace=None, **options):
        results = audit_chains_seal(grace_seconds=grace)
        for r in results:
            self.stdout.write(
                f"chain {r.chain}: sealed {r.sealed}, head position {r.head_position}"
            )
        if not results:
            self.stdout.write("nothing to seal")
