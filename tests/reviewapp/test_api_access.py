"""Every intake endpoint: 401 without a usable key, 403 for another model's key or a missing
scope, 404 for an unknown model; all with a JSON body {"detail": ...}."""

import pytest
from rest_framework.test import APIClient

from audit.actors import Actor
from audit.models import AuditEvent
from models_registry.models import ServiceKeyScope
from models_registry.services import service_key_revoke
from tests.reviewapp.helpers import good_prediction

pytestmark = pytest.mark.django_db

ENDPOINTS = [
    ("get", "/api/v1/models/{slug}", None),
    ("post", "/api/v1/models/{slug}/predictions", good_prediction()),
    ("post", "/api/v1/models/{slug}/predictions/batch", {"predictions": [good_prediction()]}),
    ("get", "/api/v1/models/{slug}/predictions/loan-1", None),
    ("post", "/api/v1/models/{slug}/outcomes", {"external_id": "loan-1", "actual": "approve"}),
]


def call(client, method, url, body, slug="loan-default"):
    return getattr(client, method)(url.format(slug=slug), body, format="json")


@pytest.mark.parametrize(("method", "url", "body"), ENDPOINTS)
def test_no_key_is_401(api_client, loan_model, method, url, body):
    response = call(api_client, method, url, body)
    assert response.status_code == 401
    assert "detail" in response.json()
    assert response["WWW-Authenticate"] == "Bearer"


@pytest.mark.parametrize(("method", "url", "body"), ENDPOINTS)
def test_a_bad_key_is_401(loan_model, method, url, body):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Bearer cs_not-a-real-key")
    response = call(client, method, url, body)
    assert response.status_code == 401
    assert response.json() == {"detail": "Unknown service key."}


@pytest.mark.parametrize(("method", "url", "body"), ENDPOINTS)
def test_a_revoked_key_is_401(service_client, scoring_service, method, url, body):
    service_key_revoke(key=scoring_service, actor=Actor.system("test"))
    response = call(service_client, method, url, body)
    assert response.status_code == 401
    assert "revoked" in response.json()["detail"]


@pytest.mark.parametrize(("method", "url", "body"), ENDPOINTS)
def test_another_models_key_is_403_and_the_refusal_is_audited(
    outsider_client, loan_model, method, url, body
):
    response = call(outsider_client, method, url, body)
    assert response.status_code == 403
    assert "loan-default" in response.json()["detail"]
    refusal = AuditEvent.objects.get(action="prediction.refused")
    assert refusal.actor_label.startswith("service key fraud scoring")
    assert refusal.payload["reason"] == "permission_denied"


@pytest.mark.parametrize(("method", "url", "body"), ENDPOINTS[1:])
def test_a_key_without_the_intake_scope_is_403(make_key, loan_model, method, url, body):
    key = make_key([loan_model], scopes=[ServiceKeyScope.EXPORT], name="exporter")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key.secret}")
    response = call(client, method, url, body)
    assert response.status_code == 403
    assert "intake" in response.json()["detail"]


@pytest.mark.parametrize(("method", "url", "body"), ENDPOINTS)
def test_an_unknown_model_is_404(service_client, method, url, body):
    response = call(service_client, method, url, body, slug="no-such-model")
    assert response.status_code == 404
    assert "no-such-model" in response.json()["detail"]
    assert AuditEvent.objects.filter(action="prediction.refused").exists()


def test_the_model_list_needs_a_key(api_client):
    assert api_client.get("/api/v1/models/").status_code == 401


def test_the_model_list_shows_only_the_keys_models(outsider_client, loan_model, other_model):
    body = outsider_client.get("/api/v1/models/").json()
    assert body["count"] == 1
    assert [m["slug"] for m in body["results"]] == ["claim-fraud"]


def test_a_malformed_authorization_header_is_401(loan_model):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Bearer two parts")
    response = client.get("/api/v1/models/")
    assert response.status_code == 401
    assert "Malformed" in response.json()["detail"]


def test_a_path_under_the_api_that_matches_no_endpoint_answers_404_in_json(service_client):
    response = service_client.post("/api/v1/retraining-requests/abc/resend")
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"detail": "No endpoint at /api/v1/retraining-requests/abc/resend."}


def test_pages_outside_the_api_keep_the_html_404(client):
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")
