"""Builders for the retraining tests; the fixtures are in retraining_fixtures.py."""

from __future__ import annotations

import re

VERSIONS_URL = "/api/v1/models/loan-default/versions"


def candidate_body(label="v2", request_id=None, **overrides) -> dict:
    body = {
        "label": label,
        "artifact_uri": f"s3://models/loan-default/{label}.pkl",
        "training_data_ref": "labels.parquet",
        "code_version": "git:abc123",
        "metrics": {"accuracy": 0.93},
    }
    if request_id is not None:
        body["retraining_request"] = request_id
    body.update(overrides)
    return body


PREDICTIONS_URL = "/api/v1/models/loan-default/predictions"
OUTCOMES_URL = "/api/v1/models/loan-default/outcomes"


def send_prediction(client, external_id, output="approve", version=None, confidence=0.93):
    body = {
        "external_id": external_id,
        "inputs": {"applicant_age": 40, "income": 52000, "employment": "employed"},
        "output": output,
        "confidence": confidence,
        "value_amount": "2500.00",
    }
    if version:
        body["version"] = version
    response = client.post(PREDICTIONS_URL, body, format="json")
    assert response.status_code in (200, 201), response.content
    return response.json()


def send_outcome(client, external_id, actual):
    response = client.post(
        OUTCOMES_URL, {"external_id": external_id, "actual": actual}, format="json"
    )
    assert response.json()["stored"] == 1, response.content


def decide(external_id, final_output, by="carol", action="override"):
    """A human decision as the review queue would store it (the queue is another issue)."""
    from reviewapp.models import Decision, Prediction

    prediction = Prediction.objects.get(external_id=external_id, is_shadow=False)
    return Decision.objects.create(
        prediction=prediction, action=action, final_output=final_output, decided_by=[by]
    )


def open_request(owner, model, reason="Accuracy is sliding"):
    from models_registry.retraining.services import retraining_request_open

    return retraining_request_open(model=model, user=owner, reason=reason)


FORM_TAG = re.compile(r"<form\b[^>]*>")
ACTION = re.compile(r'action="([^"]*)"')
DECISION = re.compile(r'name="decision" value="(\w+)"')


def offered(client, user, url) -> set[str]:
    """What a page offers this person: where its forms post (the page itself when a form has
    no action), and the sign-off choices as ``decision:<value>``; the logout form is left out."""
    client.force_login(user)
    response = client.get(url)
    assert response.status_code == 200
    page = response.content.decode()
    actions = set()
    for tag in FORM_TAG.findall(page):
        action = ACTION.search(tag)
        actions.add(action.group(1) if action else url)
    actions.discard("/accounts/logout/")
    return actions | {f"decision:{value}" for value in DECISION.findall(page)}
