"""The usage report in a real browser, on a phone and on a laptop, in
Korean and in English: its charts are SVG with a title, the page never
scrolls sideways, and axe finds nothing serious."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from playwright.sync_api import expect

from devtools.usage_history import build_history
from tests.browser import axe
from tests.browser.conftest import login
from tests.factories import PASSWORD
from tests.walk import populate

DOMAIN = "gabiaedu.com"
SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "screenshots" / "report.png"


@pytest.fixture
def history(office_data):
    data = populate(office_data)
    build_history(data.office)
    return data


@pytest.mark.parametrize("language", ["ko", "en"])
@pytest.mark.parametrize("width, height", [(390, 844), (1280, 900)])
def test_report_charts_fit_and_are_accessible(
    page, live_server, history, console_errors, language, width, height
):
    axe.install(page)
    page.set_viewport_size({"width": width, "height": height})
    login(page, live_server.url, DOMAIN, "admin", PASSWORD)
    page.wait_for_url(f"**/{DOMAIN}/")
    page.goto(f"{live_server.url}/{DOMAIN}/manage/mail/report/?period=180")
    if language == "en":
        page.get_by_label("언어").select_option("en")
    expect(page.locator("html")).to_have_attribute("lang", language)
    heading = "메일 사용 리포트" if language == "ko" else "Mail usage report"
    expect(page.get_by_role("heading", level=1)).to_have_text(heading)

    charts = page.locator("svg.chart__svg")
    assert charts.count() == 5
    for index in range(charts.count()):
        title = charts.nth(index).locator("title")
        assert title.count() == 1 and title.text_content().strip()
    wide = page.evaluate(
        """() => [...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect().right > window.innerWidth + 1 && e.children.length === 0).slice(0, 15).map(e => e.tagName + '.' + e.className + ' ' + Math.round(e.getBoundingClientRect().right))"""
    )
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), wide
    # The table alternative opens and still fits.
    page.locator(".report-chart--storage summary").click()
    expect(page.locator(".report-chart--storage table")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    axe.assert_accessible(page, f"the report at {width}px in {language}")

    # A quota bar leads to the list filtered the same way.
    page.locator("#chart-quota a").first.click()
    page.wait_for_url("**/manage/mail/accounts/?quota=under")

    if os.environ.get("MAILADMIN_SCREENSHOTS") and language == "ko" and width == 1280:
        page.goto(f"{live_server.url}/{DOMAIN}/manage/mail/report/?period=180")
        SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOT))


def test_account_report_from_the_pane(page, live_server, history, console_errors):
    axe.install(page)
    login(page, live_server.url, DOMAIN, "admin", PASSWORD)
    page.wait_for_url(f"**/{DOMAIN}/")
    page.goto(f"{live_server.url}/{DOMAIN}/manage/mail/accounts/minjun.kim/")
    page.locator("#pane-report").click()
    page.wait_for_url("**/manage/mail/report/minjun.kim/")
    assert page.locator("svg.chart__svg title").count() == 2
    axe.assert_accessible(page, "an account's report")
