"""Accessibility (SPEC N6): axe-core finds no serious or critical violation on
the screens, in Korean and in English."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser import axe
from tests.browser.conftest import login
from tests.factories import PASSWORD
from tests.walk import identifiers, manage_routes, populate, url_for

DOMAIN = "gabiaedu.com"


@pytest.fixture
def data(office_data):
    return populate(office_data)


@pytest.fixture
def admin_page(page, live_server, data, console_errors):
    axe.install(page)
    login(page, live_server.url, DOMAIN, "admin", PASSWORD)
    page.wait_for_url(f"**/{DOMAIN}/")
    return page


def test_axe_really_reports_violations(page, live_server, data):
    axe.install(page)
    page.goto(f"{live_server.url}/{DOMAIN}/login/")
    page.evaluate(
        """() => {
            const img = document.createElement("img");
            img.src = "/static/favicon.svg";
            document.querySelector("main").appendChild(img);
        }"""
    )
    assert "image-alt" in {v["id"] for v in axe.violations(page)}


def test_root_and_login_steps(page, live_server, data, console_errors):
    axe.install(page)
    page.goto(f"{live_server.url}/")
    axe.assert_accessible(page, "the domain question")
    page.goto(f"{live_server.url}/{DOMAIN}/login/")
    axe.assert_accessible(page, "login step 1")
    page.get_by_label("아이디").fill("admin")
    page.get_by_role("button", name="다음").click()
    page.get_by_label("비밀번호").wait_for()
    axe.assert_accessible(page, "login step 2")
    page.get_by_label("비밀번호").fill("wrong")
    page.get_by_role("button", name="로그인").click()
    page.get_by_role("alert").wait_for()
    axe.assert_accessible(page, "login with an error")


def test_office_home_and_dashboard(admin_page, live_server):
    axe.assert_accessible(admin_page, "the office home")
    admin_page.goto(f"{live_server.url}/{DOMAIN}/manage/")
    axe.assert_accessible(admin_page, "the dashboard")


GET_SCREENS = [r for r in manage_routes() if not r.route.endswith((".xlsx", ".png"))]


@pytest.mark.parametrize("route", GET_SCREENS, ids=str)
def test_every_management_screen(admin_page, live_server, data, route, console_errors):
    """Every GET screen under /<domain>/manage/ (walked from the resolver),
    as its own page (what a link opens without JavaScript)."""
    url = live_server.url + url_for(route, identifiers(data))
    response = admin_page.goto(url)
    if response.status == 405:  # a POST-only address, not a screen
        console_errors.append("status of 405")
        return
    assert response.status == 200, f"{route}: {response.status}"
    axe.assert_accessible(admin_page, str(route))


def test_screens_in_english(admin_page, live_server, data):
    admin_page.goto(f"{live_server.url}/{DOMAIN}/manage/")
    admin_page.get_by_label("언어").select_option("en")
    expect(admin_page.locator("html")).to_have_attribute("lang", "en")
    axe.assert_accessible(admin_page, "the dashboard in English")
    admin_page.goto(f"{live_server.url}/{DOMAIN}/manage/mail/accounts/")
    axe.assert_accessible(admin_page, "the usage list in English")


def test_usage_list_with_the_detail_pane_and_the_empty_dialog(admin_page, live_server, data):
    admin_page.goto(f"{live_server.url}/{DOMAIN}/manage/mail/accounts/")
    axe.assert_accessible(admin_page, "the usage list")
    admin_page.locator("#account-table").get_by_role("link", name=data.kim.name, exact=True).click()
    pane = admin_page.locator("#detail-pane")
    expect(pane).to_contain_text(data.kim.login_id)
    axe.assert_accessible(admin_page, "the usage list with the detail pane open")
    admin_page.get_by_role("link", name=f"비우기 {data.kim.name}").click()
    expect(admin_page.get_by_role("dialog")).to_be_visible()
    axe.assert_accessible(admin_page, "the 비우기 dialog")
    admin_page.keyboard.press("Escape")
    expect(admin_page.get_by_role("dialog")).to_be_hidden()
