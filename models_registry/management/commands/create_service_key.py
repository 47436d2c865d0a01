from django.core.management.base import BaseCommand, CommandError

from audit.actors import Actor
from models_registry.models import MLModel, ServiceKeyScope
from models_registry.services import service_key_create


class Command(BaseCommand):
    help = (
        "Create a service key for one or more models. The key is printed alone on the last "
        "line, once; only its hash is stored."
    )

    def add_arguments(self, parser):
        parser.add_argument("--name", required=True)
        parser.add_argument(
            "--model",
            action="append",
            dest="models",
            required=True,
            metavar="SLUG",
            help="A model the key may use (repeatable).",
        )
        parser.add_argument(
            "--scope",
            action="append",
            dest="scopes",
            choices=ServiceKeyScope.values,
            help="intake (default), pipeline or export (repeatable).",
        )

    def handle(self, *args, name, models, scopes=None, **options):
        if not name.strip():
            raise CommandError("--name: must not be empty")
        found = {m.slug: m for m in MLModel.objects.filter(slug__in=models)}
        unknown = sorted(set(models) - set(found))
        if unknown:
            raise CommandError(f"--model: unknown model slug(s): {', '.join(unknown)}")
        key, secret = service_key_create(
            name=name.strip(),
            models=found.values(),
            scopes=scopes or [ServiceKeyScope.INTAKE],
            actor=Actor.system("create_service_key command"),
        )
        self.stdout.write(
            f"Created service key '{key.name}' ({key.prefix}…) for {', '.join(sorted(found))} "
            f"with scope(s) {', '.join(key.scopes)}. Store it now; it is not shown again:"
        )
        self.stdout.write(secret)
