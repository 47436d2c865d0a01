"""Alert webhooks: a rule's secret is required, the POST is signed like decision callbacks."""

import json

import pytest
from django.core.exceptions import ValidationError

from audit.models import AuditEvent
from models_registry.models import AlertMetric, AlertRule, Comparison

pytestmark = pytest.mark.django_db

SECRET = "whsec-alerts-0123456789"


@pytest.fixture
def owner_client(client, owner):
    owner.is_staff = True
    owner.save()
    client.force_login(owner)
    return client


def rule_for(model, **fields) -> AlertRule:
    return AlertRule(
        model=model,
        name="Contract violations above 5%",
        metric=AlertMetric.CONTRACT_VIOLATION_RATE,
        comparison=Comparison.GT,
        threshold=0.05,
        window_seconds=4 * 3600,
        min_sample_size=100,
        **fields,
    )


def test_a_rule_with_a_webhook_url_and_no_secret_is_refused_on_the_secret_field(loan_model):
    rule = rule_for(loan_model, webhook_url="https://pager.example.com/hooks")
    with pytest.raises(ValidationError) as refused:
        rule.full_clean()
    assert list(refused.value.message_dict) == ["webhook_secret"]


def test_a_rule_with_a_secret_or_without_a_webhook_is_valid(loan_model):
    signed = rule_for(
        loan_model, webhook_url="https://pager.example.com/hooks", webhook_secret=SECRET
    )
    signed.full_clean()
    rule_for(loan_model).full_clean()


def test_the_admin_shows_the_missing_secret_on_its_field(owner_client, loan_model):
    response = owner_client.post(
        "/admin/models_registry/alertrule/add/",
        {
            "model": loan_model.pk,
            "name": "Paged",
            "metric": AlertMetric.OVERRIDE_RATE,
            "comparison": Comparison.GT,
            "threshold": 0.2,
            "window_seconds": 86400,
            "min_sample_size": 0,
            "enabled": "on",
            "webhook_url": "https://pager.example.com/hooks",
            "webhook_secret": "",
        },
    )
    assert response.status_code == 200
    assert list(response.context["adminform"].form.errors) == ["webhook_secret"]
    assert not AlertRule.objects.filter(name="Paged").exists()


def test_an_old_unsigned_rule_toggled_in_the_list_gets_the_error_on_its_row(
    owner_client, loan_model
):
    rule = rule_for(loan_model, webhook_url="https://pager.example.com/hooks")
    rule.save()  # as rules were saved before secrets existed
    response = owner_client.post(
        "/admin/models_registry/alertrule/",
        {
            "form-TOTAL_FORMS": 1,
            "form-INITIAL_FORMS": 1,
            "form-0-id": rule.pk,
            "_save": "Save",
        },
    )
    assert response.status_code == 200
    [row] = response.context["cl"].formset.forms
    assert "needs a secret" in str(row.non_field_errors())
    rule.refresh_from_db()
    assert rule.enabled


def test_the_audit_trail_says_the_secret_changed_but_not_what_it_is(owner_client, loan_model):
    rule = rule_for(loan_model, webhook_url="https://pager.example.com/hooks")
    rule.save()
    form = {
        "model": loan_model.pk,
        "name": rule.name,
        "metric": rule.metric,
        "comparison": rule.comparison,
        "threshold": rule.threshold,
        "window_seconds": rule.window_seconds,
        "min_sample_size": rule.min_sample_size,
        "enabled": "on",
        "webhook_url": rule.webhook_url,
        "webhook_secret": SECRET,
    }
    response = owner_client.post(f"/admin/models_registry/alertrule/{rule.pk}/change/", form)
    assert response.status_code == 302, response.content[:2000]
    event = AuditEvent.objects.get(action="alertrule.changed")
    assert event.payload["changes"]["webhook_secret"] == {"before": "", "after": "***"}
    assert SECRET not in json.dumps(event.payload)
