from collections import Counter

import requests
from django.core.management.base import BaseCommand, CommandError

from models_registry.demo import DEMO_SERVICE_KEY
from reviewapp.demo_traffic import demo_requests


class Command(BaseCommand):
    help = "Send simulated, deliberately messy predictions to a running Countersign over HTTP."

    def add_arguments(self, parser):
        parser.add_argument("--url", default="http://127.0.0.1:8000")
        parser.add_argument("--key", default=DEMO_SERVICE_KEY)
        parser.add_argument("--count", type=int, default=300)
        parser.add_argument("--seed", type=int, default=7)

    def handle(self, *args, url, key, count, seed, **options):
        if count < 1:
            raise CommandError("--count: must be at least 1")
        session = requests.Session()
        session.headers["Authorization"] = f"Bearer {key}"
        api = url.rstrip("/") + "/api/v1/models"
        answers: Counter = Counter()
        plan = demo_requests(count=count, seed=seed)
        for number, request in enumerate(plan, start=1):
            path = {"single": "predictions", "batch": "predictions/batch", "outcomes": "outcomes"}[
                request.kind
            ]
            try:
                response = session.post(
                    f"{api}/{request.slug}/{path}", json=request.body, timeout=30
                )
            except requests.RequestException as error:
                raise CommandError(f"--url: cannot reach {url}: {error}") from error
            if response.status_code in (401, 403):
                raise CommandError(f"--key: refused ({response.status_code}): {response.text}")
            if request.kind == "batch" and response.ok:
                for row in response.json()["results"]:
                    answers[f"batch row {row['status']}"] += 1
            else:
                answers[f"{request.kind} {request.label} -> {response.status_code}"] += 1
            if number % 25 == 0 or number == len(plan):
                self.stdout.write(f"  sent {number}/{len(plan)} requests", ending="\r")
                self.stdout.flush()
        self.stdout.write("")
        for answer, times in sorted(answers.items()):
            self.stdout.write(f"  {times:4d} x {answer}")
