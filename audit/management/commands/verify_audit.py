from django.core.management.base import BaseCommand, CommandError

from audit.verification import audit_verify
from models_registry.models import MLModel


class Command(BaseCommand):
    help = (
        "Recompute the audit hash chains. Exit 0 with a line starting 'OK', or exit 1 with one "
        "line per problem naming the sequence number and what happened."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--model",
            action="append",
            dest="models",
            metavar="SLUG",
            help="Verify only this model's chain (repeatable).",
        )

    def handle(self, *args, models=None, **options):
        chains = None
        if models:
            known = set(MLModel.objects.filter(slug__in=models).values_list("slug", flat=True))
            unknown = sorted(set(models) - known)
            if unknown:
                raise CommandError(f"--model: unknown model slug(s): {', '.join(unknown)}")
            chains = models
        report = audit_verify(chains=chains)
        self.stdout.write(report.summary_line())
        for chain in report.chains:
            self.stdout.write(
                f"  chain {chain.chain}: {chain.sealed} sealed, {chain.unsealed} not sealed yet, "
                f"head position {chain.head_position}, head hash {chain.head_hash or '-'}"
            )
        if not report.ok:
            for problem in report.problems:
                self.stdout.write(str(problem))
            raise SystemExit(1)
