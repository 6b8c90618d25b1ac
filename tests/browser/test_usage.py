"""메일 사용 현황 in Chromium: filter, search, sort, download, 비우기."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import openpyxl
import pytest
from django.utils import timezone
from playwright.sync_api import expect

from accounts.models import Mailbox, Message
from tests.accounts.usage_data import add_subaccount, deliver
from tests.browser.conftest import login
from tests.factories import MB, make_account

SHOTS = Path("test-results")
USAGE = "/gabiaedu.com/manage/mail/accounts/"


@pytest.fixture
def usage_office(office_data):
    org = office_data
    add_subaccount(org.kim, "kim-sales")
    add_subaccount(org.kim, "kim-support")
    add_subaccount(org.lee, "seoyeon-hr")
    deliver(org.kim, 300 * MB, 12 * MB)
    deliver(org.kim, 40 * MB, folder=org.kim.subaccounts.get(local_part="kim-sales").folder)
    deliver(org.lee, 950 * MB)
    deliver(org.admin, 5 * MB)
    Mailbox.objects.filter(account=org.park).update(pop3_enabled=False)
    now = timezone.now()
    for account, days, protocol in (
        (org.kim, 1, "pop3"),
        (org.admin, 0, "smtp"),
        (org.lee, 200, ""),
    ):
        Mailbox.objects.filter(account=account).update(
            last_access_at=now - dt.timedelta(days=days, hours=3), last_access_protocol=protocol
        )
    for n in range(1, 26):
        account = make_account(org.office, f"staff{n:02d}", f"직원{n:02d}", password=None)
        deliver(account, n * MB)
    return org


def rows(page):
    return page.locator("#account-table tbody tr")


def test_filter_search_sort_download_and_empty(
    page, live_server, usage_office, console_errors, tmp_path
):
    SHOTS.mkdir(exist_ok=True)
    login(page, live_server.url, "gabiaedu.com", "admin", "correct horse battery staple")
    page.goto(live_server.url + USAGE)
    expect(page.get_by_role("heading", name="메일 사용 현황")).to_be_visible()
    expect(page.locator("#usage-count")).to_contain_text("메일 사용자 수")
    expect(page.locator(".usage-count__value")).to_have_text("31")
    expect(rows(page)).to_have_count(20)
    page.screenshot(path=str(SHOTS / "usage-list-1280.png"), full_page=True)

    # ② a filter swaps only the table and pushes the URL
    page.get_by_label("계정 상태").select_option("suspended")
    expect(rows(page)).to_have_count(1)
    expect(rows(page).first).to_contain_text("박지호")
    expect(rows(page).first).to_contain_text("POP3 사용 안 함")
    expect(page).to_have_url(re.compile(r"status=suspended"))
    expect(page.locator(".usage-count__total")).to_contain_text("전체 31")
    page.get_by_label("계정 상태").select_option("")
    expect(rows(page)).to_have_count(20)

    # ③ search: a sub-account address finds its owner
    page.get_by_role("searchbox").fill("KIM-SUP")
    expect(rows(page)).to_have_count(1)
    expect(rows(page).first).to_contain_text("김민준")
    expect(rows(page).first).to_contain_text("kim-support@gabiaedu.com")
    expect(page).to_have_url(re.compile(r"q=KIM-SUP"))
    assert "subaccounts=" not in page.url  # empty fields left out of the URL

    page.get_by_role("searchbox").fill("직원")
    expect(rows(page)).to_have_count(20)
    # sort by usage, largest first, through the column header
    page.locator("#sort-usage").click()
    expect(page.locator("th[aria-sort='descending'] #sort-usage")).to_be_visible()
    expect(rows(page).first).to_contain_text("직원25")
    expect(page).to_have_url(re.compile(r"sort=-usage"))
    # the page size keeps the search and the sort
    page.get_by_label("페이지당 행 수").select_option("50")
    expect(rows(page)).to_have_count(25)
    expect(rows(page).first).to_contain_text("직원25")
    expect(page).to_have_url(re.compile(r"per_page=50"))

    # ④ the download is exactly what the list shows
    with page.expect_download() as info:
        page.get_by_role("link", name="목록 다운로드").click()
    download = info.value
    assert re.fullmatch(
        r"mail-usage_gabiaedu\.com_\d{4}-\d{2}-\d{2}\.xlsx", download.suggested_filename
    )
    target = tmp_path / download.suggested_filename
    download.save_as(target)
    sheet = openpyxl.load_workbook(target).active
    shown = rows(page).locator(".usage-table__id").all_inner_texts()
    assert [row[1] for row in sheet.iter_rows(min_row=2, values_only=True)] == shown

    # 비우기 through the confirmation dialog
    page.get_by_role("searchbox").fill("김민준")
    expect(rows(page)).to_have_count(1)
    expect(rows(page).first.locator(".usage-cell__used")).to_have_text("352 MB")
    page.get_by_role("link", name="비우기 김민준").click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("되돌릴 수 없습니다")
    expect(dialog.locator("#empty-messages")).to_have_text("3")
    page.screenshot(path=str(SHOTS / "usage-empty-dialog-1280.png"))
    dialog.get_by_role("button", name="김민준 메일함 비우기").click()
    expect(dialog).to_be_hidden()
    expect(rows(page).first.locator(".usage-cell__used")).to_have_text("0 B")
    expect(page.locator("#account-table .messages")).to_contain_text("메일함을 비웠습니다")
    assert not Message.objects.filter(mailbox__account=usage_office.kim).exists()
    page.screenshot(path=str(SHOTS / "usage-after-empty-1280.png"), full_page=True)

    # the back button restores the earlier state of the list
    page.go_back()
    expect(page).to_have_url(re.compile(r"q=%EC%A7%81%EC%9B%90|q=직원"))


def test_cancel_keeps_the_mail_and_returns_focus(page, live_server, usage_office, console_errors):
    login(page, live_server.url, "gabiaedu.com", "admin", "correct horse battery staple")
    page.goto(live_server.url + USAGE + "?q=seoyeon")
    opener = page.get_by_role("link", name="비우기 이서연")
    opener.click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_be_visible()
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    expect(opener).to_be_focused()
    assert Message.objects.filter(mailbox__account=usage_office.lee).count() == 1


def test_everything_works_without_javascript(browser, live_server, usage_office):
    context = browser.new_context(
        java_script_enabled=False, viewport={"width": 1280, "height": 900}
    )
    page = context.new_page()
    try:
        login(page, live_server.url, "gabiaedu.com", "admin", "correct horse battery staple")
        page.goto(live_server.url + USAGE)
        page.get_by_label("계정 상태").select_option("active")
        page.get_by_role("searchbox").fill("이서연")
        page.get_by_role("button", name="검색", exact=True).click()
        expect(rows(page)).to_have_count(1)
        assert "status=active" in page.url
        page.locator("#sort-usage").click()
        assert "sort=-usage" in page.url and "q=" in page.url
        page.get_by_role("link", name="비우기 이서연").click()
        expect(page.get_by_role("heading", name="메일함 비우기")).to_be_visible()
        page.screenshot(path=str(SHOTS / "usage-empty-page-nojs-1280.png"), full_page=True)
        page.get_by_role("button", name="이서연 메일함 비우기").click()
        assert "sort=-usage" in page.url and "status=active" in page.url
        expect(page.locator(".messages")).to_contain_text("메일함을 비웠습니다")
        expect(rows(page).first.locator(".usage-cell__used")).to_have_text("0 B")
    finally:
        context.close()
