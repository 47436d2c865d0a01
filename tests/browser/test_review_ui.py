"""The reviewer UI in a real browser: Debian's Chromium, headless, driven by Playwright."""

from __future__ import annotations

import os

import pytest
from django.db import connections
from django.utils import timezone
from playwright.sync_api import expect, sync_playwright

from audit.models import AuditEvent
from models_registry.models import RoutingPolicy
from reviewapp.models import Decision, ReviewItem
from reviewapp.services.queue import review_item_claim_next
from tests.real_parts import launch_chromium
from tests.reviewapp.review_items import make_items

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

LAPTOP = {"width": 1366, "height": 768}
TABLET = {"width": 820, "height": 1180}


@pytest.fixture
def browser(settings):
    # The live server is plain http; production keeps secure cookies.
    settings.SESSION_COOKIE_SECURE = False
    settings.CSRF_COOKIE_SECURE = False
    # Playwright's sync API runs an event loop in this thread; the ORM calls the test makes
    # between browser steps are ordinary synchronous ones.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        yield browser
        browser.close()
        # The ORM calls made while Playwright's loop ran may have opened their own
        # connection; close it, or the test database cannot be dropped at the end.
        connections.close_all()
    os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)


@pytest.fixture
def staffed_model(loan_model, reviewer, second_reviewer):
    loan_model.reviewers.add(reviewer, second_reviewer)
    return loan_model


def shoot(page, name: str) -> None:
    """Screenshots for a person to look at, when REVIEW_SCREENSHOTS names a folder."""
    folder = os.environ.get("REVIEW_SCREENSHOTS")
    if folder:
        page.screenshot(path=f"{folder}/{name}.png", full_page=True)


def press(page, key: str) -> None:
    """Press a shortcut once the page's script has attached its key handler."""
    page.wait_for_selector("html[data-shortcuts=ready]", state="attached")
    page.keyboard.press(key)


def logged_in(browser, live_server, username, viewport=LAPTOP):
    context = browser.new_context(viewport=viewport)
    page = context.new_page()
    page.goto(f"{live_server.url}/review/")
    expect(page).to_have_url(f"{live_server.url}/accounts/login/?next=/review/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", "correct horse battery")
    page.click("button[type=submit]")
    expect(page.locator("h1")).to_have_text("Review queue")
    return page


def test_a_reviewer_logs_in_claims_and_approves_with_the_keyboard(
    browser, live_server, staffed_model, reviewer
):
    first, second = make_items(staffed_model, 2)
    page = logged_in(browser, live_server, "carol")
    expect(page.locator("table.counts")).to_contain_text("Loan default")
    shoot(page, "queue")

    page.click("#start-reviewing")
    expect(page).to_have_url(f"{live_server.url}/review/items/{first.pk}/")
    expect(page.locator("#lease")).to_contain_text("You hold this item")

    press(page, "a")

    expect(page).to_have_url(f"{live_server.url}/review/items/{second.pk}/")
    expect(page.locator(".messages")).to_contain_text(f"Decided {first.prediction.external_id}")
    decision = Decision.objects.get(prediction=first.prediction)
    assert decision.action == "approve" and decision.decided_by == ["carol"]

    press(page, "?")
    expect(page.locator("#help")).to_be_visible()
    page.keyboard.press("Escape")
    expect(page.locator("#help")).to_be_hidden()


def test_an_override_with_a_bad_label_shows_the_error_and_saves_nothing(
    browser, live_server, staffed_model, reviewer
):
    [item] = make_items(staffed_model, 1)
    page = logged_in(browser, live_server, "carol")
    press(page, "n")
    expect(page).to_have_url(f"{live_server.url}/review/items/{item.pk}/")

    press(page, "o")
    expect(page.locator("#override-output")).to_be_focused()
    page.keyboard.type("maybe")
    page.keyboard.press("Tab")
    page.keyboard.type("the applicant looks fine")
    page.keyboard.press("Enter")

    error = page.locator("#form-override .form-error")
    expect(error).to_contain_text("Not a valid output for this model")
    expect(error).to_contain_text("Allowed: approve, decline")
    expect(page.locator("#override-output")).to_have_value("maybe")
    assert not Decision.objects.exists()
    shoot(page, "override-error")

    page.fill("#override-output", "decline")
    page.click("#form-override button[type=submit]")
    expect(page).to_have_url(f"{live_server.url}/review/")
    assert Decision.objects.get().final_output == "decline"


def test_two_reviewers_in_two_browsers_share_a_two_person_item(
    browser, live_server, staffed_model, reviewer, second_reviewer
):
    policy = RoutingPolicy.objects.get(version__model=staffed_model)
    policy.second_review_value_threshold = "20000.00"
    policy.save()
    [item] = make_items(staffed_model, 1, value_amount="30000")
    carol = logged_in(browser, live_server, "carol")
    dave = logged_in(browser, live_server, "dave")

    carol.click("#start-reviewing")
    expect(carol.locator(".item-head")).to_contain_text("two-person review")
    dave.goto(f"{live_server.url}/review/items/{item.pk}/")
    expect(dave.locator("#lease")).to_contain_text("Held by Carol Reviewer")
    expect(dave.locator("#form-approve")).to_have_count(0)

    press(carol, "a")
    expect(carol.locator(".messages")).to_contain_text("now needs a second reviewer")
    assert not Decision.objects.exists()

    dave.reload()
    expect(dave.locator("#lease")).to_contain_text("You hold this item")
    expect(dave.locator("body")).to_contain_text("1 earlier opinion hidden")
    press(dave, "a")
    expect(dave.locator(".messages")).to_contain_text(f"Decided {item.prediction.external_id}")

    decision = Decision.objects.get()
    assert decision.decided_by == ["carol", "dave"] and decision.reason == "two_person_agreed"
    assert ReviewItem.objects.get(pk=item.pk).status == "decided"


@pytest.mark.parametrize("viewport", [LAPTOP, TABLET], ids=["laptop", "tablet"])
def test_the_item_page_fits_laptop_and_tablet_widths(
    viewport, browser, live_server, staffed_model, reviewer
):
    [item] = make_items(staffed_model, 1, value_amount="12000")
    page = logged_in(browser, live_server, "carol", viewport=viewport)
    page.goto(f"{live_server.url}/review/items/{item.pk}/")
    expect(page.locator("#approve-button")).to_be_visible()
    expect(page.locator("table.inputs")).to_be_visible()
    # Nothing overflows sideways.
    assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"]
    shoot(page, f"item-{viewport['width']}")


def test_the_open_page_renews_its_lease_and_says_when_it_is_lost(
    browser, live_server, staffed_model, reviewer, second_reviewer
):
    staffed_model.lease_seconds = 15  # the page renews every 5 s
    staffed_model.save()
    [item] = make_items(staffed_model, 1)
    page = logged_in(browser, live_server, "carol")
    page.click("#start-reviewing")
    expect(page.locator("#lease")).to_contain_text("You hold this item")

    page.wait_for_timeout(6500)
    renewed = AuditEvent.objects.filter(action="review.lease_renewed", object_id=str(item.pk))
    assert renewed.exists()

    # Her lease lapses (say the laptop slept) and Dave takes the item.
    ReviewItem.objects.filter(pk=item.pk).update(lease_expires_at=timezone.now())
    assert review_item_claim_next(user=second_reviewer).pk == item.pk
    expect(page.locator("#lease-lost")).to_be_visible(timeout=8000)
    expect(page.locator("#approve-button")).to_be_disabled()
