"""Shared builders for intake tests."""

PREDICTIONS_URL = "/api/v1/models/loan-default/predictions"
BATCH_URL = "/api/v1/models/loan-default/predictions/batch"


def good_prediction(external_id="loan-1", **overrides):
    body = {
        "external_id": external_id,
        "inputs": {"applicant_age": 40, "income": 52000, "employment": "employed"},
        "output": "approve",
        "confidence": 0.93,
        "value_amount": "2500.00",
    }
    body.update(overrides)
    return body


def send(client, body, url=PREDICTIONS_URL):
    return client.post(url, body, format="json")
