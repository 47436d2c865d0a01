"""A real browser draws the model page's charts."""

import pytest
from playwright.sync_api import sync_playwright

from models_registry.monitoring.snapshots import snapshots_run
from tests.models_registry.monitoring_data import (
    a_closed_hour,
    current_frame,
    store_predictions,
    upload_baseline,
)
from tests.real_parts import launch_chromium


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_a_model_page_with_data_renders_its_charts(live_server, loan_model, owner):
    upload_baseline(loan_model)
    for hours_ago, shift in ((3, 0), (2, 4000), (1, 9000)):
        store_predictions(
            loan_model,
            current_frame(rows=150, seed=hours_ago, income_shift=shift),
            a_closed_hour(hours_ago),
            prefix=f"h{hours_ago}",
        )
    snapshots_run(windows=["hourly"], backfill=3)

    with sync_playwright() as p:
        browser = launch_chromium(p)
        try:
            page = browser.new_page()
            page.goto(f"{live_server.url}/accounts/login/?next=/models/loan-default/")
            page.fill("input[name=username]", "alice")
            page.fill("input[name=password]", "correct horse battery")
            page.click("button[type=submit]")
            page.wait_for_url("**/models/loan-default/")
            charts = page.locator("#charts svg.chart")
            assert charts.count() == 6
            for i in range(charts.count()):
                chart = charts.nth(i)
                assert chart.is_visible()
                box = chart.bounding_box()
                assert box["width"] > 200 and box["height"] > 100
            # Lines were drawn with real points, not empty frames.
            assert page.locator("#charts polyline.series").count() >= 5
            traffic = page.locator("svg[data-chart='Predictions per window'] polyline")
            assert len(traffic.first.get_attribute("points").split()) == 3
            page.click("#drift a:text('employment')")
            page.wait_for_url("**feature=employment**")
            bars = page.locator("#distribution svg.chart rect.bar")
            assert bars.count() == 6  # three categories, baseline and current side by side
            assert page.locator("#drift .drifted").first.is_visible()

            # On a tablet the wide drift table scrolls inside its card; the page does not.
            page.set_viewport_size({"width": 820, "height": 1180})
            assert page.evaluate("document.documentElement.scrollWidth") <= 820
            assert page.locator("#charts svg.chart").first.bounding_box()["width"] <= 820
        finally:
            browser.close()
