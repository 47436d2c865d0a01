from django.core.management.base import BaseCommand, CommandError

from audit.actors import Actor
from models_registry.models import ServiceKey
from models_registry.services import service_key_revoke


class Command(BaseCommand):
    help = "Revoke a service key by its prefix (as shown when it was created and in the admin)."

    def add_arguments(self, parser):
        parser.add_argument("prefix")

    def handle(self, *args, prefix, **options):
        matches = list(ServiceKey.objects.filter(prefix__startswith=prefix)[:2])
        if not matches:
            raise CommandError(f"prefix: no service key starts with '{prefix}'")
        if len(matches) > 1:
            raise CommandError(f"prefix: '{prefix}' matches several keys; give more characters")
        key = matches[0]
        if service_key_revoke(key=key, actor=Actor.system("revoke_service_key command")):
            self.stdout.write(f"Revoked service key '{key.name}' ({key.prefix}…).")
        else:
            self.stdout.write(f"Service key '{key.name}' ({key.prefix}…) was already revoked.")
