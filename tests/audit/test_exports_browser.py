"""The compliance page in a real browser: log in, ask for an export, watch it finish, download."""

import pytest
from playwright.sync_api import sync_playwright

from audit.exports.verify import export_verify
from audit.models import Export
from audit.services_exports import export_run
from tests.audit.conftest import grant_role, record_events
from tests.real_parts import launch_chromium


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_a_compliance_officer_exports_and_downloads_from_the_browser(
    live_server, owner, compliance, loan_model, settings, monkeypatch, tmp_path
):
    # Playwright's sync API runs an event loop in this thread; the ORM calls below are ours.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    settings.SESSION_COOKIE_SECURE = False
    settings.CSRF_COOKIE_SECURE = False
    grant_role(compliance, "compliance officer")
    record_events(loan_model, owner)

    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        try:
            page = browser.new_page(accept_downloads=True)
            page.goto(f"{live_server.url}/compliance/")
            page.fill("#id_username", "erin")
            page.fill("#id_password", "correct horse battery")
            page.click("form[action='/accounts/login/'] button[type=submit]")
            page.wait_for_url("**/compliance/")

            page.select_option("#id_models", ["loan-default"])
            page.select_option("#id_kind", "events")
            page.select_option("#id_format", "csv")
            page.click("main form button.primary")
            page.wait_for_url("**/compliance/exports/*/")
            assert page.locator("progress").count() == 1
            assert "queued" in page.inner_text("[data-progress-label]")

            # The page only polls; the job itself runs here, as a worker would run it.
            export_run(export_id=Export.objects.get().pk)
            page.wait_for_selector("[data-download]", timeout=20_000)
            assert "signature" in page.inner_text("pre")

            with page.expect_download() as download_info:
                page.click("[data-download]")
            download = download_info.value
            saved = tmp_path / download.suggested_filename
            download.save_as(saved)
        finally:
            browser.close()

    export = Export.objects.get()
    manifest = tmp_path / "manifest.json"
    manifest.write_text((export.file_path.parent / f"{export.file_name}.manifest.json").read_text())
    assert export_verify(file=saved, manifest_file=manifest, key=settings.EXPORT_SIGNING_KEY).ok
