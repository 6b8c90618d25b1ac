"""Every screen on a phone (390×844) and on a laptop (1280×900), in Korean and
English: the page never scrolls sideways, the management menu folds behind a
button on the phone, the usage list's rows are cards there (and beside the
open pane on the laptop), the pane opens full-screen on the phone and the
dialogs fit."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.accounts.usage_data import add_subaccount, deliver
from tests.browser import axe
from tests.browser.conftest import login
from tests.factories import MB, PASSWORD

DOMAIN = "gabiaedu.com"
USAGE = f"/{DOMAIN}/manage/mail/accounts/"
PHONE = {"width": 390, "height": 844}
LAPTOP = {"width": 1280, "height": 900}
SIZES = [pytest.param(PHONE, id="390"), pytest.param(LAPTOP, id="1280")]
LANGUAGES = ["ko", "en"]

# What each language calls the things the test clicks.
WORDS = {
    "ko": {"menu": "메뉴", "settings": "부계정 설정", "empty": "비우기", "users": "사용자 관리"},
    "en": {
        "menu": "Menu",
        "settings": "Sub-account settings",
        "empty": "Empty",
        "users": "User management",
    },
}


@pytest.fixture
def office(office_data):
    org = office_data
    # Long addresses and sub-accounts are what used to push the table wide.
    add_subaccount(org.kim, "kim-sales-and-marketing-team")
    add_subaccount(org.kim, "kim-support")
    deliver(org.kim, 300 * MB, 12 * MB)
    deliver(org.lee, 950 * MB)
    return org


def no_sideways_scroll(page, where: str) -> None:
    width, inner = page.evaluate("[document.documentElement.scrollWidth, innerWidth]")
    assert width <= inner, f"{where}: the page is {width} px wide in a {inner} px window"


def fits(page, locator, where: str) -> None:
    """The element lies inside the window, left to right."""
    box = locator.bounding_box()
    inner = page.evaluate("innerWidth")
    assert box["x"] >= 0 and box["x"] + box["width"] <= inner, f"{where}: {box} in {inner} px"


def start(page, live_server, size: dict, language: str) -> None:
    page.set_viewport_size(size)
    login(page, live_server.url, DOMAIN, "admin", PASSWORD)
    page.wait_for_url(f"**/{DOMAIN}/")
    if language != "ko":
        with page.expect_navigation():
            page.locator("#lang-select").select_option(language)
        expect(page.locator("html")).to_have_attribute("lang", language)


def close_modal(page) -> None:
    page.keyboard.press("Escape")
    expect(page.locator("#modal")).not_to_be_visible()


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("size", SIZES)
def test_usage_list_pane_and_dialogs_fit(page, live_server, office, console_errors, size, language):
    words = WORDS[language]
    phone = size is PHONE
    start(page, live_server, size, language)
    no_sideways_scroll(page, "the office home")
    page.goto(live_server.url + USAGE)
    no_sideways_scroll(page, "the list")

    menu = page.locator("#nav-toggle")
    nav = page.locator("#sidenav")
    row = page.locator('#account-table tr[data-login-id="minjun.kim"]')
    if phone:
        # The menu is folded behind a real button.
        expect(menu).to_be_visible()
        expect(menu).to_have_accessible_name(words["menu"])
        expect(menu).to_have_attribute("aria-controls", "sidenav")
        expect(menu).to_have_attribute("aria-expanded", "false")
        expect(nav).to_be_hidden()
        menu.click()
        expect(menu).to_have_attribute("aria-expanded", "true")
        expect(nav.get_by_role("link", name=words["users"])).to_be_visible()
        no_sideways_scroll(page, "the open menu")
        menu.click()
        expect(menu).to_have_attribute("aria-expanded", "false")
        expect(nav).to_be_hidden()
        menu.click()
        page.keyboard.press("Escape")
        expect(nav).to_be_hidden()
        expect(menu).to_be_focused()

        # Each row is a card with the name, ID, usage bar, status and buttons.
        assert row.evaluate("tr => getComputedStyle(tr).display") == "grid"
        fits(page, row, "a card")
        for part in (".usage-table__name a", ".usage-table__id", ".usage-meter", ".badge"):
            expect(row.locator(part).first).to_be_visible()
        expect(row.locator(".usage-table__id")).to_have_text("minjun.kim")
        expect(row.get_by_role("link", name=f"{words['settings']} 김민준")).to_be_visible()
        expect(row.get_by_role("link", name=f"{words['empty']} 김민준")).to_be_visible()
        # The cells still belong to a table with its column headers.
        assert row.get_attribute("role") == "row"
        assert row.locator(".usage-cell").get_attribute("data-label") in ("사용량", "Usage")
    else:
        expect(menu).to_be_hidden()
        expect(nav).to_be_visible()
        assert row.evaluate("tr => getComputedStyle(tr).display") == "table-row"

    # The pane: full-screen on the phone; beside the list on the laptop,
    # where the list now fits without a sideways scroll bar of its own.
    row.locator(".usage-table__name a").click()
    pane = page.locator("#detail-pane .pane")
    expect(pane).to_be_visible()
    no_sideways_scroll(page, "the list with the pane")
    scroll = page.locator("#account-table .table-scroll")
    width, client = scroll.evaluate("box => [box.scrollWidth, box.clientWidth]")
    assert width <= client, f"the list scrolls sideways beside the pane: {width} > {client}"
    if phone:
        box = page.locator("#detail-pane").bounding_box()
        assert (box["x"], box["y"], box["width"], box["height"]) == (0, 0, 390, 844)
        # The focus is in the pane and the list behind it is out of reach.
        expect(pane).to_be_focused()
        expect(page.locator(".usage__main")).to_have_attribute("inert", "")
    else:
        assert row.evaluate("tr => getComputedStyle(tr).display") == "grid"
        fits(page, page.locator("#detail-pane"), "the pane")

    # 부계정 설정 from the pane.
    page.locator("#pane-subaccounts").click()
    dialog = page.locator("#modal")
    expect(dialog.locator(".subdlg")).to_be_visible()
    no_sideways_scroll(page, "the sub-account dialog")
    fits(page, dialog, "the sub-account dialog")
    close_modal(page)
    page.locator("#detail-pane [data-pane-close]").click()
    expect(pane).to_be_hidden()
    expect(page.locator(".usage__main")).not_to_have_attribute("inert", "")
    expect(row.locator(".usage-table__name a")).to_be_focused()

    # 비우기 confirmation from the row.
    row.get_by_role("link", name=f"{words['empty']} 김민준").click()
    expect(dialog.locator(".empty-confirm")).to_be_visible()
    no_sideways_scroll(page, "the empty confirmation")
    fits(page, dialog, "the empty confirmation")
    close_modal(page)

    # The bulk confirmation.
    row.locator(".js-bulk-check").check()
    page.locator("#bulk-selected").click()
    expect(dialog).to_be_visible()
    no_sideways_scroll(page, "the bulk confirmation")
    fits(page, dialog, "the bulk confirmation")
    close_modal(page)


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("size", SIZES)
def test_other_screens_fit(page, live_server, office, console_errors, size, language):
    start(page, live_server, size, language)
    for path in (
        "manage/",
        "manage/mail/",
        "manage/users/",
        "manage/users/minjun.kim/",
        "manage/users/_add/",
        "manage/audit/",
        "manage/settings/",
        "manage/security/",
    ):
        page.goto(f"{live_server.url}/{DOMAIN}/{path}")
        no_sideways_scroll(page, path)
    page.goto(f"{live_server.url}/{DOMAIN}/manage/users/")
    first = page.locator("table.users tbody tr").first
    fits(page, first, "a user row")
    if size is PHONE:
        assert first.evaluate("tr => getComputedStyle(tr).display") == "block"


@pytest.mark.parametrize("size", SIZES)
def test_login_pages_fit(page, live_server, office, console_errors, size):
    page.set_viewport_size(size)
    page.goto(f"{live_server.url}/")
    no_sideways_scroll(page, "the domain question")
    page.goto(f"{live_server.url}/{DOMAIN}/login/")
    no_sideways_scroll(page, "login step 1")
    page.get_by_label("아이디").fill("admin")
    page.get_by_role("button", name="다음").click()
    page.get_by_label("비밀번호").wait_for()
    no_sideways_scroll(page, "login step 2")


@pytest.mark.parametrize("language", LANGUAGES)
def test_phone_screens_are_accessible(page, live_server, office, console_errors, language):
    axe.install(page)
    start(page, live_server, PHONE, language)
    page.goto(live_server.url + USAGE)
    axe.assert_accessible(page, "the usage cards")
    page.locator("#nav-toggle").click()
    axe.assert_accessible(page, "the open menu")
    page.locator("#nav-toggle").click()
    page.locator('tr[data-login-id="minjun.kim"] .usage-table__name a').click()
    expect(page.locator("#detail-pane .pane")).to_be_visible()
    axe.assert_accessible(page, "the full-screen pane")
    for path in ("manage/users/", "manage/audit/"):
        page.goto(f"{live_server.url}/{DOMAIN}/{path}")
        axe.assert_accessible(page, f"{path} on a phone")


def test_without_javascript_the_menu_is_open(browser, live_server, office, page):
    """The button needs the script; without it the menu is simply shown."""
    login(page, live_server.url, DOMAIN, "admin", PASSWORD)
    page.wait_for_url(f"**/{DOMAIN}/")
    context = browser.new_context(
        viewport=PHONE, java_script_enabled=False, storage_state=page.context.storage_state()
    )
    try:
        plain = context.new_page()
        plain.goto(live_server.url + USAGE)
        expect(plain.locator("#nav-toggle")).to_be_hidden()
        expect(plain.locator("#sidenav").get_by_role("link", name="사용자 관리")).to_be_visible()
        no_sideways_scroll(plain, "the list without JavaScript")
    finally:
        context.close()
