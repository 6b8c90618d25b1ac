"""The 부계정 설정 dialog in a real browser: opened from the usage list's row
while the detail pane is open, used with the keyboard, filled to five,
refused a sixth, and a sub-account holding mail deleted -- the dialog, the
list row and the pane update; the mail is counted in the inbox."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from accounts.models import Folder, Message
from accounts.services import message_deliver
from subaccounts.models import SubAccount
from tests.browser.conftest import login
from tests.factories import PASSWORD

DIALOG_URL = "/gabiaedu.com/manage/mail/accounts/minjun.kim/subaccounts/"
SHOTS = "test-results"


def settled(page) -> None:
    """Wait until htmx has wired up what it just swapped into the dialog
    (it does so a few milliseconds after the swap; a robot typing faster
    than that would submit the plain form, which then works without htmx)."""
    page.wait_for_function(
        """() => Array.from(document.querySelectorAll("#modal [hx-get], #modal [hx-post]"))
                  .every(element => element["htmx-internal-data"] !== undefined)"""
    )


def test_add_until_five_refuse_the_sixth_and_delete_one_holding_mail(
    page, live_server, office_data, console_errors
):
    login(page, live_server.url, "gabiaedu.com", "admin", PASSWORD)
    page.goto(f"{live_server.url}/gabiaedu.com/manage/mail/accounts/")
    page.evaluate(
        """() => {
            window.changed = [];
            document.body.addEventListener("subaccountsChanged",
                event => window.changed.push(event.detail.login_id));
        }"""
    )
    row = page.locator('tr[data-login-id="minjun.kim"]')
    pane = page.locator("#detail-pane")
    row.get_by_role("link", name="김민준", exact=True).click()  # the detail pane beside the list
    expect(pane.get_by_text("0 / 5")).to_be_visible()

    row.get_by_role("link", name="부계정 설정 김민준").click()
    dialog = page.get_by_role("dialog", name="부계정 설정")
    expect(dialog).to_be_visible()
    settled(page)
    id_field = dialog.get_by_label("부계정 아이디")
    expect(id_field).to_be_focused()
    expect(dialog.get_by_text("minjun.kim@gabiaedu.com")).to_be_visible()
    expect(dialog.get_by_text("@gabiaedu.com", exact=True)).to_be_visible()
    expect(dialog.get_by_text("5개 더 추가할 수 있습니다(최대 5개).")).to_be_visible()
    expect(
        dialog.get_by_text("부계정은 주계정에 할당된 메일 용량을 공유합니다.", exact=False)
    ).to_be_visible()
    page.screenshot(path=f"{SHOTS}/subaccounts-1-open.png")

    # an invalid ID: the message shows inside the dialog, which stays open
    id_field.fill("a b")
    id_field.press("Enter")
    expect(dialog.get_by_text("아이디에는 공백이나 줄바꿈을 넣을 수 없습니다.")).to_be_visible()
    expect(dialog).to_be_visible()
    expect(dialog.get_by_label("부계정 아이디")).to_have_attribute("aria-invalid", "true")
    expect(dialog.get_by_label("부계정 아이디")).to_be_focused()
    settled(page)
    page.screenshot(path=f"{SHOTS}/subaccounts-2-invalid.png")

    # an ID another account uses
    dialog.get_by_label("부계정 아이디").fill("Team-Sales")
    dialog.get_by_role("button", name="추가하기").click()
    expect(
        dialog.get_by_text("team-sales@gabiaedu.com 주소는 이 오피스의", exact=False)
    ).to_be_visible()

    for n in range(1, 6):
        expect(dialog.get_by_label("부계정 아이디")).to_be_focused()  # back in the field
        settled(page)
        dialog.get_by_label("부계정 아이디").fill(f"Kim{n}")  # stored lowercased
        dialog.get_by_label("부계정 아이디").press("Enter")
        expect(
            dialog.get_by_text(f"부계정 kim{n}@gabiaedu.com 을(를) 추가했습니다.")
        ).to_be_visible()
        expect(dialog.get_by_role("button", name=f"kim{n}@gabiaedu.com 삭제")).to_be_visible()
        # the list row and the pane behind the dialog refresh themselves
        expect(row.get_by_text(f"kim{n}@gabiaedu.com")).to_be_attached()
        expect(pane.get_by_text(f"{n} / 5")).to_be_attached()
    assert page.evaluate("window.changed") == ["minjun.kim"] * 5

    # at five: [추가하기] is disabled and the dialog says why
    expect(dialog.get_by_text("5 / 5")).to_be_visible()
    settled(page)
    expect(dialog.get_by_label("부계정 아이디")).to_be_disabled()
    expect(dialog.get_by_role("button", name="추가하기")).to_be_disabled()
    reason = "이 계정에는 이미 부계정이 최대 개수인 5개 있습니다."
    expect(dialog.locator("#subdlg-reason")).to_contain_text(reason)
    page.screenshot(path=f"{SHOTS}/subaccounts-3-five.png")

    # the server refuses a sixth anyway (a stale or tampered form)
    page.evaluate(
        """() => document.querySelectorAll("#modal [disabled]").forEach(e => e.disabled = false)"""
    )
    dialog.get_by_label("부계정 아이디").fill("kim6")
    dialog.get_by_role("button", name="추가하기").click()
    expect(dialog.locator("#subdlg-error")).to_contain_text(reason)
    expect(dialog).to_be_visible()
    settled(page)
    assert SubAccount.objects.filter(owner__login_id="minjun.kim").count() == 5
    page.screenshot(path=f"{SHOTS}/subaccounts-4-sixth-refused.png")

    # kim3 holds mail; deleting it asks first, saying how many messages move
    kim3 = SubAccount.objects.get(local_part="kim3")
    for size in (1200, 3400, 5600):
        message_deliver(folder=kim3.folder, size_bytes=size)
    dialog.get_by_role("button", name="kim3@gabiaedu.com 삭제").click()
    confirm = page.get_by_role("dialog", name="부계정 삭제")
    expect(
        confirm.get_by_text("부계정 메일함의 메일 3통이 받은메일함으로 이동합니다.")
    ).to_be_visible()
    expect(confirm.get_by_role("button", name="취소")).to_be_focused()
    settled(page)
    page.screenshot(path=f"{SHOTS}/subaccounts-5-confirm.png")
    confirm.get_by_role("button", name="삭제", exact=True).click()

    dialog = page.get_by_role("dialog", name="부계정 설정")
    expect(dialog.get_by_text("메일 3통을 받은메일함으로 옮겼습니다.", exact=False)).to_be_visible()
    expect(dialog.get_by_role("listitem").filter(has_text="kim3@gabiaedu.com")).to_have_count(0)
    expect(dialog.get_by_role("button", name="kim3@gabiaedu.com 삭제")).to_have_count(0)
    expect(dialog.get_by_text("4 / 5")).to_be_visible()
    expect(dialog.get_by_label("부계정 아이디")).to_be_enabled()
    settled(page)
    assert page.evaluate("window.changed").count("minjun.kim") == 6
    page.screenshot(path=f"{SHOTS}/subaccounts-6-deleted.png")

    # Escape closes the dialog; focus goes back to the (refreshed) button
    page.keyboard.press("Escape")
    expect(page.locator("#modal")).not_to_be_visible()
    expect(row.get_by_role("link", name="부계정 설정 김민준")).to_be_focused()

    # the address is gone from the list, and the pane counts the mail in the inbox
    expect(row.get_by_text("kim3@gabiaedu.com")).to_have_count(0)
    expect(row.get_by_text("kim4@gabiaedu.com")).to_be_visible()
    inbox_row = pane.locator("tr").filter(has=page.get_by_role("rowheader", name="받은메일함"))
    expect(inbox_row.locator("td").first).to_have_text("3")
    expect(pane.get_by_text("4 / 5")).to_be_visible()
    expect(pane.get_by_text("kim3@gabiaedu.com")).to_have_count(0)
    page.screenshot(path=f"{SHOTS}/subaccounts-7-list-and-pane.png", full_page=True)

    inbox = Folder.objects.get(mailbox__account__login_id="minjun.kim", role=Folder.Role.INBOX)
    assert Message.objects.filter(folder=inbox).count() == 3


def test_the_dialog_works_without_javascript(browser, live_server, office_data):
    context = browser.new_context(
        java_script_enabled=False, viewport={"width": 1280, "height": 900}, locale="ko-KR"
    )
    page = context.new_page()
    try:
        login(page, live_server.url, "gabiaedu.com", "admin", PASSWORD)
        page.goto(f"{live_server.url}{DIALOG_URL}")
        expect(page.get_by_role("heading", name="부계정 설정", level=1)).to_be_visible()
        page.get_by_label("부계정 아이디").fill("kim.work")
        page.get_by_role("button", name="추가하기").click()
        assert page.url.endswith(DIALOG_URL)  # redirected back after the POST
        expect(
            page.get_by_text("부계정 kim.work@gabiaedu.com 을(를) 추가했습니다.")
        ).to_be_visible()

        page.get_by_label("부계정 아이디").fill("-x")
        page.get_by_role("button", name="추가하기").click()
        expect(page.get_by_text("아이디는 영문자나 숫자로 시작하고 끝나야 합니다.")).to_be_visible()
        page.screenshot(path=f"{SHOTS}/subaccounts-8-page-without-js.png", full_page=True)

        page.get_by_role("link", name="kim.work@gabiaedu.com 삭제").click()
        expect(page.get_by_text("부계정 메일함에 메일이 없습니다.")).to_be_visible()
        page.get_by_role("button", name="삭제", exact=True).click()
        assert re.search(re.escape(DIALOG_URL) + "$", page.url)
        expect(page.get_by_text("부계정이 없습니다.")).to_be_visible()
        assert not SubAccount.objects.exists()
    finally:
        context.close()
