"""일괄 등록 and bulk actions in a real browser."""

from __future__ import annotations

import io

from openpyxl import Workbook
from playwright.sync_api import expect

from accounts.models import Account, Mailbox
from tests.browser import axe
from tests.browser.conftest import login
from tests.factories import PASSWORD

HEADER = ["이름", "아이디", "부서", "유형", "상태", "용량", "POP3", "SMTP"]


def _file(tmp_path, rows, name="users.xlsx"):
    book = Workbook()
    sheet = book.active
    sheet.append(HEADER)
    for row in rows:
        sheet.append(row)
    path = tmp_path / name
    out = io.BytesIO()
    book.save(out)
    path.write_bytes(out.getvalue())
    return path


def _rows(bad: bool):
    rows = [
        [f"직원{n}", f"staff{n:02d}", "영업팀", "사용자", "정상", "2 GB", "사용", "사용"]
        for n in range(1, 21)
    ]
    if bad:
        rows[4][1] = "staff 05"  # a space in the ID
        rows[9][5] = "많이"  # not a quota
        rows[14][3] = "그룹메일"  # group mail with POP3 on
    return rows


def test_bulk_registration_shows_errors_then_applies_fixed_file(
    page, live_server, office_data, console_errors, tmp_path
):
    axe.install(page)
    login(page, live_server.url, "gabiaedu.com", "admin", PASSWORD)
    page.goto(f"{live_server.url}/gabiaedu.com/manage/users/")
    page.get_by_role("link", name="일괄 등록").click()
    expect(page.get_by_role("heading", name="일괄 등록", level=1)).to_be_visible()

    page.get_by_label("엑셀 파일 (.xlsx)").set_input_files(_file(tmp_path, _rows(bad=True)))
    page.get_by_role("button", name="올리고 미리보기").click()
    expect(page.locator("#import-has-errors")).to_be_visible()
    expect(page.locator("#count-error")).to_have_text("3")
    expect(page.locator("tr.import-row--error")).to_have_count(3)
    errors = page.locator(".import-cell__error")
    expect(errors).to_have_count(3)
    expect(page.locator("tr[data-row='6'] .import-cell__error")).to_contain_text("공백")
    expect(page.locator("tr[data-row='11'] .import-cell__error")).to_contain_text("용량")
    expect(page.locator("tr[data-row='16'] .import-cell__error")).to_contain_text("POP3")
    expect(page.locator("#import-confirm")).to_have_count(0)
    axe.assert_accessible(page, "the 일괄 등록 preview with errors")
    assert not Account.objects.filter(login_id__startswith="staff").exists()

    page.get_by_label("엑셀 파일 (.xlsx)").set_input_files(
        _file(tmp_path, _rows(bad=False), name="fixed.xlsx")
    )
    page.get_by_role("button", name="올리고 미리보기").click()
    expect(page.locator("#count-new")).to_have_text("20")
    expect(page.locator("#count-error")).to_have_text("0")
    axe.assert_accessible(page, "the 일괄 등록 preview ready to confirm")
    page.locator("#import-confirm").click()
    expect(page.locator(".messages, [role=status], .message").first).to_contain_text("20")
    assert Account.objects.filter(login_id__startswith="staff").count() == 20


def test_bulk_action_with_htmx_dialog(page, live_server, office_data, console_errors):
    login(page, live_server.url, "gabiaedu.com", "admin", PASSWORD)
    page.goto(f"{live_server.url}/gabiaedu.com/manage/mail/accounts/")
    table = page.locator("#account-table")
    table.locator("input[value='minjun.kim']").check()
    table.locator("input[value='seoyeon.lee']").check()
    page.locator("#bulk-form").get_by_label("작업", exact=True).select_option("pop3_off")
    page.locator("#bulk-selected").click()
    dialog = page.locator("#modal")
    expect(dialog).to_be_visible()
    expect(dialog.locator("#bulk-count")).to_have_text("2")
    dialog.locator("#bulk-confirm").click()
    expect(dialog).to_be_hidden()
    expect(page.locator("#account-table")).to_contain_text("계정 2개를 변경")
    assert Mailbox.objects.filter(pop3_enabled=False).count() == 2


def test_bulk_dialog_by_keyboard(page, live_server, office_data, console_errors):
    axe.install(page)
    login(page, live_server.url, "gabiaedu.com", "admin", PASSWORD)
    page.goto(f"{live_server.url}/gabiaedu.com/manage/mail/accounts/?status=active")
    axe.assert_accessible(page, "the usage list with the bulk bar")
    checkbox = page.locator("#account-table input[value='minjun.kim']")
    checkbox.focus()
    page.keyboard.press("Space")
    expect(checkbox).to_be_checked()
    page.locator("#bulk-action").focus()
    page.keyboard.press("Tab")  # the quota field
    page.keyboard.press("Tab")  # apply to the checked accounts
    expect(page.locator("#bulk-selected")).to_be_focused()
    page.keyboard.press("Enter")
    dialog = page.locator("#modal")
    expect(dialog).to_be_visible()
    expect(dialog.locator("#bulk-confirm")).to_be_focused()
    axe.assert_accessible(page, "the bulk action dialog")
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    expect(page.locator("#bulk-selected")).to_be_focused()
    assert Account.objects.filter(status="suspended").count() == 1  # only jiho.park
