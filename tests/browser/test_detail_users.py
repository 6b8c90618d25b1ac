"""The detail pane and 사용자 관리 in a real browser: page the access history,
open the user's page in a new tab, suspend the user there, and see the
change back where the admin came from."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone
from playwright.sync_api import expect

from accounts.models import AccessLog, Mailbox
from tests.browser.conftest import login
from tests.factories import PASSWORD


def _history(account, rows: int) -> None:
    now = timezone.now()
    AccessLog.objects.bulk_create(
        AccessLog.login(
            office=account.office,
            account=account,
            protocol="pop3" if i % 2 else "smtp",
            at=now - dt.timedelta(hours=i + 1),
            ip="2001:4860:4860::8888" if i == 0 else f"211.234.10.{i + 1}",
            country="US" if i == 0 else "KR",
            succeeded=i % 5 != 3,
        )
        for i in range(rows)
    )
    Mailbox.objects.filter(account=account).update(
        last_access_at=now - dt.timedelta(hours=1),
        last_access_protocol="smtp",
        last_access_ip="2001:4860:4860::8888",
        last_access_country="US",
    )


def test_pane_history_paging_and_suspending_in_a_new_tab(
    page, live_server, office_data, console_errors
):
    kim = office_data.kim
    _history(kim, 25)
    login(page, live_server.url, "gabiaedu.com", "admin", PASSWORD)
    list_url = f"{live_server.url}/gabiaedu.com/manage/mail/accounts/"
    page.goto(list_url)
    # Selecting the row opens the pane beside the list, without leaving it.
    page.locator("#account-table").get_by_role("link", name="김민준", exact=True).click()
    pane = page.locator("#detail-pane section.pane")
    expect(pane.get_by_role("heading", name="김민준")).to_be_visible()
    expect(pane.locator(".last-access")).to_contain_text("2001:4860:4860::8888")
    expect(pane.locator(".last-access")).to_contain_text("미국")
    expect(pane.locator(".pager__status")).to_have_text("1 / 2 페이지")
    expect(pane.locator("table.history tbody tr")).to_have_count(20)
    page.screenshot(path="test-results/detail-pane.png", full_page=True)

    # Paging swaps the pane in place (htmx), without leaving the page.
    url_before = page.url
    pane.get_by_role("link", name="이전 기록").click()
    expect(page.locator("section.pane .pager__status")).to_have_text("2 / 2 페이지")
    expect(page.locator("section.pane table.history tbody tr")).to_have_count(5)
    expect(page.locator("section.pane tr.is-failed").first).to_contain_text("실패")
    assert page.url == url_before
    page.locator("section.pane").get_by_role("link", name="최근 기록").click()
    expect(page.locator("section.pane .pager__status")).to_have_text("1 / 2 페이지")

    # [사용자 관리] opens the user's page in a new tab.
    with page.context.expect_page() as new_tab_info:
        page.locator("section.pane").get_by_role("link", name="사용자 관리").click()
    user_page = new_tab_info.value
    user_page.wait_for_load_state()
    assert user_page.url.endswith("/gabiaedu.com/manage/users/minjun.kim/")
    expect(user_page.get_by_role("heading", name="김민준")).to_be_visible()
    user_page.get_by_label("일시정지").check()
    user_page.get_by_role("button", name="저장").click()
    expect(user_page.get_by_text("변경 내용을 저장했습니다.")).to_be_visible()
    expect(user_page.locator("#user-status")).to_have_text("일시정지")
    user_page.screenshot(path="test-results/user-detail.png", full_page=True)

    # Back in the first tab: the pane refreshes itself on the events it
    # listens to; the list shows the change when it is loaded again.
    status = page.locator("section.pane [data-status]")
    expect(status).to_have_text("정상")
    page.evaluate("document.body.dispatchEvent(new CustomEvent('mailboxEmptied'))")
    expect(page.locator("section.pane [data-status]")).to_have_text("일시정지")
    # And the list itself: the status column and the 일시정지 filter.
    page.goto(f"{list_url}?status=suspended")
    row = page.locator("#account-table tbody tr", has_text="minjun.kim")
    expect(row).to_contain_text("일시정지")
    page.goto(f"{list_url}?status=active")
    expect(page.locator("#account-table tbody tr", has_text="minjun.kim")).to_have_count(0)


def test_admin_cannot_suspend_themselves_and_sees_why(
    page, live_server, office_data, console_errors
):
    login(page, live_server.url, "gabiaedu.com", "admin", PASSWORD)
    page.goto(f"{live_server.url}/gabiaedu.com/manage/users/")
    page.get_by_role("searchbox").fill("관리자")
    page.get_by_role("button", name="검색").click()
    page.get_by_role("link", name="관리자", exact=True).click()
    page.get_by_label("일시정지").check()
    page.get_by_role("button", name="저장").click()
    expect(page.get_by_text("자기 자신의 계정은 일시정지할 수 없습니다.")).to_be_visible()
    # A 400 answer is expected here; the browser logs it as a console error.
    console_errors.append("400")


def test_audit_log_shows_the_change(page, live_server, office_data, console_errors):
    login(page, live_server.url, "gabiaedu.com", "admin", PASSWORD)
    page.goto(f"{live_server.url}/gabiaedu.com/manage/users/seoyeon.lee/")
    page.get_by_label("SMTP 사용").uncheck()
    page.get_by_role("button", name="저장").click()
    expect(page.get_by_text("변경 내용을 저장했습니다.")).to_be_visible()
    page.get_by_role("link", name="감사 로그").click()
    row = page.locator("table.audit tbody tr").first
    expect(row).to_contain_text("사용자 정보 변경")
    expect(row).to_contain_text("SMTP")
    expect(row).to_contain_text("사용 → 사용 안 함")
    page.screenshot(path="test-results/audit-log.png", full_page=True)
    with page.expect_download() as download_info:
        page.get_by_role("link", name="다운로드 (.xlsx)").click()
    assert download_info.value.suggested_filename.startswith("audit-log-gabiaedu.com-")


def test_pane_swapped_into_the_lists_aside_closes_with_its_link_or_escape(
    page, live_server, office_data, console_errors
):
    """The usage list holds ``<aside id="detail-pane">`` and loads the pane
    into it with htmx; this stands in for that list (built elsewhere) with
    the same markup on a management page that loads detail.js."""
    login(page, live_server.url, "gabiaedu.com", "admin", PASSWORD)
    page.goto(f"{live_server.url}/gabiaedu.com/manage/mail/accounts/seoyeon.lee/")
    pane_url = "/gabiaedu.com/manage/mail/accounts/minjun.kim/"
    page.evaluate(
        """url => {
            const aside = document.createElement('aside');
            aside.id = 'detail-pane';
            const opener = document.createElement('a');
            opener.href = url; opener.textContent = 'row';
            opener.setAttribute('hx-get', url);
            opener.setAttribute('hx-target', '#detail-pane');
            document.querySelector('#main').append(opener, aside);
            htmx.process(opener);
        }""",
        pane_url,
    )
    page.get_by_role("link", name="row", exact=True).click()
    aside_pane = page.locator("#detail-pane > section.pane")
    expect(aside_pane).to_have_count(1)
    expect(aside_pane.get_by_role("heading", name="김민준")).to_be_visible()
    # The close link empties the aside and gives the focus back to the row.
    aside_pane.get_by_role("link", name="상세 닫기").click()
    expect(page.locator("#detail-pane > section.pane")).to_have_count(0)
    expect(page.get_by_role("link", name="row", exact=True)).to_be_focused()
    # Escape inside the pane closes it as well.
    page.get_by_role("link", name="row", exact=True).click()
    expect(aside_pane).to_have_count(1)
    page.locator("#detail-pane").get_by_role("link", name="사용자 관리").focus()
    page.keyboard.press("Escape")
    expect(page.locator("#detail-pane > section.pane")).to_have_count(0)
    assert page.url.endswith("/accounts/seoyeon.lee/")
