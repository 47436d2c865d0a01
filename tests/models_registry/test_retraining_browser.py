"""In a real browser: the owner presses "Request retraining", the pipeline registers a
candidate, and two people sign it off until it is promoted."""

import pytest
from django.contrib.auth import get_user_model
from django.db import connections
from django_q.conf import Conf
from playwright.sync_api import expect, sync_playwright
from rest_framework.test import APIClient

from models_registry.models import ModelVersion, RetrainingRequest, RetrainingStatus
from tests.models_registry.retraining_support import VERSIONS_URL, candidate_body
from tests.real_parts import launch_chromium

pytest_plugins = ["tests.models_registry.retraining_fixtures"]


def _log_in(page, base, username):
    page.goto(f"{base}/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", "correct horse battery")
    page.click("button[type=submit]")
    page.wait_for_load_state()


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_the_owner_presses_the_button_and_two_people_sign_off(
    live_server, owner, backup_owner, loan_model, pipeline_service, labels_dir, monkeypatch
):
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # Playwright's loop in this thread
    monkeypatch.setattr(Conf, "SYNC", True)  # tasks run in the server thread after each commit
    for user in get_user_model().objects.all():
        user.set_password("correct horse battery")
        user.save()
    base = live_server.url

    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        try:
            alice = browser.new_context().new_page()
            _log_in(alice, base, "alice")
            alice.goto(f"{base}/models/loan-default/retraining/")
            alice.fill("#id_reason", "Approval rate drifted after the October rate change")
            alice.click("button[name=request-retraining]")
            expect(alice.locator("#request-status")).to_have_text("Requested")
            request = RetrainingRequest.objects.get()
            expect(alice.locator("#timeline")).to_contain_text("labels_prepared")

            pipeline = APIClient()
            pipeline.credentials(HTTP_AUTHORIZATION=f"Bearer {pipeline_service.secret}")
            response = pipeline.post(VERSIONS_URL, candidate_body("v2", request.pk), format="json")
            assert response.status_code == 201

            alice.reload()
            expect(alice.locator("#request-status")).to_have_text("Awaiting sign-off")
            expect(alice.locator("#validation-report svg.metric-chart")).to_be_visible()
            alice.check("input[name=decision][value=approve]")
            alice.click("button[name=sign]")
            expect(alice.locator("#signoff-panel")).to_contain_text("1 of 2 approvals")
            expect(alice.locator("#signoff-panel")).to_contain_text("You have signed")

            bob = browser.new_context().new_page()
            _log_in(bob, base, "bob")
            bob.goto(f"{base}/retraining/")
            bob.click(f"#inbox a[href='/retraining/{request.pk}/']")
            bob.check("input[name=decision][value=approve]")
            bob.fill("#id_comment", "Holdout and shadow numbers look right")
            bob.click("button[name=sign]")
            expect(bob.locator("#request-status")).to_have_text("Promoted")
            expect(bob.locator("#timeline")).to_contain_text("promoted")
        finally:
            browser.close()
            # Under Playwright's event loop Django hands this thread other connections.
            connections.close_all()

    request.refresh_from_db()
    assert request.status == RetrainingStatus.PROMOTED
    assert ModelVersion.objects.get(label="v2").status == "active"
