from playwright.sync_api import expect

from tests.browser.conftest import login
from tests.factories import PASSWORD


def test_admin_logs_in_in_two_steps_and_reaches_the_usage_screen(
    page, live_server, office_data, console_errors
):
    login(page, live_server.url, "gabiaedu.com", "admin", PASSWORD)
    page.get_by_role("link", name="하이웍스 관리").click()
    page.locator("#main").get_by_role("link", name="메일 관리").click()
    page.get_by_role("link", name="계정 관리 › 메일 사용 현황").click()
    assert page.url.endswith("/gabiaedu.com/manage/mail/accounts/")
    expect(page.get_by_role("heading", name="메일 사용 현황")).to_be_visible()
    page.screenshot(path="test-results/usage-screen.png", full_page=True)


def test_wrong_password_shows_the_generic_message(page, live_server, office_data, console_errors):
    login(page, live_server.url, "gabiaedu.com", "admin", "not the password")
    expect(page.get_by_text("아이디 또는 비밀번호가 올바르지 않습니다.")).to_be_visible()
