"""The OpenAPI schema is a product surface: it validates, with no warnings."""

import pytest
from django.core.management import call_command


@pytest.mark.django_db
def test_the_schema_validates_without_warnings(tmp_path):
    out = tmp_path / "openapi.yaml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(out))
    text = out.read_text()
    assert "/api/v1/models/{slug}/predictions/batch:" in text
    assert "'413':" in text


@pytest.mark.django_db
def test_the_schema_and_docs_are_public(client):
    schema = client.get("/api/v1/schema/?format=json")
    assert schema.status_code == 200
    assert schema.json()["info"]["title"] == "Countersign API"
    assert client.get("/api/v1/docs/").status_code == 200
