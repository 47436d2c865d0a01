from django.core.management.base import BaseCommand

from models_registry.demo import DEMO_PASSWORD, DEMO_SERVICE_KEY, demo_seed


class Command(BaseCommand):
    help = "Load the demo: users, two models with owners, active versions, a service key."

    def handle(self, *args, **options):
        created = demo_seed()
        if created:
            self.stdout.write("Created: " + ", ".join(created))
        else:
            self.stdout.write("The demo is already loaded; nothing changed.")
        self.stdout.write(f"Demo logins use the password '{DEMO_PASSWORD}'.")
        self.stdout.write(f"Demo service key: {DEMO_SERVICE_KEY}")
