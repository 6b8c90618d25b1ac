"""사용자 관리 in the browser: a user is added with the keyboard only and
signs in with the generated password shown once; a user is deleted and
restored; a view-only admin sees the screens without their write controls;
axe finds nothing serious on any of these pages."""

from __future__ import annotations

from playwright.sync_api import expect

from accounts.models import Account
from tests.browser import axe
from tests.browser.conftest import login
from tests.browser.test_keyboard import tab_to
from tests.factories import PASSWORD

DOMAIN = "gabiaedu.com"


def test_add_a_user_with_the_keyboard_and_sign_in_as_it(
    page, live_server, office_data, console_errors, browser
):
    axe.install(page)
    login(page, live_server.url, DOMAIN, "admin", PASSWORD)
    page.goto(f"{live_server.url}/{DOMAIN}/manage/users/")
    tab_to(page, "e.id === 'user-add'", "[사용자 추가]")
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/{DOMAIN}/manage/users/_add/")
    axe.assert_accessible(page, "the add-user form")

    tab_to(page, "e.name === 'name'", "the name field")
    page.keyboard.type("한지민")
    page.keyboard.press("Tab")
    page.keyboard.type("jimin.han")
    page.keyboard.press("Tab")
    page.keyboard.type("디자인팀")
    tab_to(page, "e.type === 'submit'", "[추가]")
    page.keyboard.press("Enter")
    shown = page.locator("#created-password")
    expect(shown).to_be_visible()
    axe.assert_accessible(page, "the added user with its password")
    password = shown.inner_text().strip()
    account = Account.objects.get(login_id="jimin.han")
    assert account.department == "디자인팀" and account.mailbox.quota_bytes

    other = browser.new_context()
    user_page = other.new_page()
    login(user_page, live_server.url, DOMAIN, "jimin.han", password)
    user_page.wait_for_url(f"**/{DOMAIN}/")
    expect(user_page.get_by_role("heading", level=1)).to_be_visible()
    other.close()


def test_delete_and_restore_a_user(page, live_server, office_data, console_errors):
    axe.install(page)
    login(page, live_server.url, DOMAIN, "admin", PASSWORD)
    page.goto(f"{live_server.url}/{DOMAIN}/manage/users/minjun.kim/")
    page.locator("#user-delete").click()
    page.wait_for_url("**/minjun.kim/delete/")
    expect(page.locator("#delete-question")).to_contain_text("minjun.kim@gabiaedu.com")
    axe.assert_accessible(page, "the delete confirmation")
    page.get_by_role("button", name="김민준 삭제").click()
    page.wait_for_url(f"**/{DOMAIN}/manage/users/")
    page.locator("#deleted-users-link").click()
    row = page.locator('#deleted-users tr[data-login-id="minjun.kim"]')
    expect(row).to_be_visible()
    axe.assert_accessible(page, "the deleted users")
    row.get_by_role("button").click()
    expect(page.locator("#deleted-users")).to_have_count(0)
    assert not Account.objects.get(login_id="minjun.kim", office__domain=DOMAIN).is_deleted


def test_a_viewer_sees_no_write_controls(page, live_server, office_data, console_errors):
    lee = office_data.lee
    lee.role = Account.Role.VIEWER
    lee.save(update_fields=["role"])
    axe.install(page)
    login(page, live_server.url, DOMAIN, lee.login_id, PASSWORD)
    page.wait_for_url(f"**/{DOMAIN}/")
    page.locator("#go-manage").click()
    page.goto(f"{live_server.url}/{DOMAIN}/manage/mail/accounts/")
    expect(page.locator("#account-table")).to_be_visible()
    expect(page.locator("#account-table a[href*='/empty/']")).to_have_count(0)
    axe.assert_accessible(page, "the usage list for a viewer")
    page.goto(f"{live_server.url}/{DOMAIN}/manage/users/minjun.kim/")
    expect(page.locator(".read-only-note")).to_be_visible()
    expect(page.locator("main form[method='post']")).to_have_count(0)
    axe.assert_accessible(page, "a user's page for a viewer")
