"""Show retraining requests for operators: open ones by default, or one in detail."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from models_registry.models import MLModel, RetrainingRequest, RetrainingStatus
from models_registry.retraining.selectors import retraining_timeline


class Command(BaseCommand):
    help = "List open retraining requests (or --all, --model SLUG, --status S, --id N)."

    def add_arguments(self, parser):
        parser.add_argument("--model", help="Only this model's requests (its slug).")
        parser.add_argument("--status", choices=RetrainingStatus.values)
        parser.add_argument("--all", action="store_true", help="Closed requests too.")
        parser.add_argument("--id", type=int, help="One request, with its timeline.")

    def handle(self, *args, **options):
        requests = RetrainingRequest.objects.select_related("model", "candidate").order_by(
            "created_at"
        )
        if options["id"] is not None:
            request = requests.filter(pk=options["id"]).first()
            if request is None:
                raise CommandError(f"No retraining request {options['id']}.")
            return self._detail(request)
        if options["model"]:
            if not MLModel.objects.filter(slug=options["model"]).exists():
                raise CommandError(f"No model with slug '{options['model']}'.")
            requests = requests.filter(model__slug=options["model"])
        if options["status"]:
            requests = requests.filter(status=options["status"])
        elif not options["all"]:
            requests = requests.open()
        rows = list(requests)
        if not rows:
            self.stdout.write("No retraining requests match.")
            return
        self.stdout.write(f"{'id':>5}  {'model':<20} {'status':<21} {'candidate':<12} opened")
        for r in rows:
            self.stdout.write(
                f"{r.pk:>5}  {r.model.slug:<20} {r.status:<21} "
                f"{(r.candidate.label if r.candidate else '-'):<12} "
                f"{r.created_at:%Y-%m-%d %H:%M}"
                + (f"  webhook error: {r.pipeline_last_error}" if r.pipeline_last_error else "")
            )

    def _detail(self, request: RetrainingRequest) -> None:
        self.stdout.write(f"Retraining #{request.pk} of {request.model.slug}: {request.status}")
        self.stdout.write(f"  reason: {request.reason}")
        self.stdout.write(f"  requested by: {request.requested_by_label}")
        self.stdout.write(f"  candidate: {request.candidate.label if request.candidate else '-'}")
        self.stdout.write(f"  labels: {request.labels_rows} rows at {request.labels_path or '-'}")
        for event in retraining_timeline(request):
            self.stdout.write(
                f"  #{event.id} {event.occurred_at:%Y-%m-%d %H:%M:%S} {event.action} "
                f"by {event.actor_label}"
            )
