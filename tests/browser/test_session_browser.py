"""A session that ended (idle timeout, sign-out elsewhere) while a page was
open: the next htmx click loads the login as a whole page, and signing in
returns to the page the admin was on."""

from playwright.sync_api import expect

from tests.browser.conftest import login
from tests.factories import PASSWORD
from tests.walk import populate


def test_htmx_click_after_the_session_ended_goes_to_the_login_page(
    page, live_server, office_data, console_errors
):
    data = populate(office_data)
    login(page, live_server.url, "gabiaedu.com", "admin", PASSWORD)
    page.goto(f"{live_server.url}/gabiaedu.com/manage/mail/accounts/?q=kim")
    page.context.clear_cookies()
    page.locator("#account-table").get_by_role("link", name=data.kim.name, exact=True).click()
    expect(page).to_have_url(
        f"{live_server.url}/gabiaedu.com/login/?next=%2Fgabiaedu.com%2Fmanage%2Fmail%2Faccounts%2F%3Fq%3Dkim"
    )
    expect(page.locator("#detail-pane")).to_have_count(0)
    page.get_by_label("아이디").fill("admin")
    page.get_by_role("button", name="다음").click()
    page.get_by_label("비밀번호").fill(PASSWORD)
    page.get_by_role("button", name="로그인").click()
    expect(page).to_have_url(f"{live_server.url}/gabiaedu.com/manage/mail/accounts/?q=kim")
