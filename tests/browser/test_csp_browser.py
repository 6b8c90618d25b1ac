"""The enforced policy shows up in the browser: a violation is a console
error, which fails any browser test (tests/browser/conftest.py)."""

from playwright.sync_api import expect

from tests.browser.conftest import login
from tests.factories import PASSWORD


def test_csp_violations_surface_as_console_errors(page, live_server, office_data):
    messages: list[str] = []
    page.on("console", lambda msg: messages.append(msg.text) if msg.type == "error" else None)
    page.goto(f"{live_server.url}/gabiaedu.com/login/")
    assert messages == []
    page.evaluate(
        """() => {
            document.body.insertAdjacentHTML("beforeend", '<p style="color: red">x</p>');
            const script = document.createElement("script");
            script.textContent = "window.inlineRan = true";
            document.body.appendChild(script);
        }"""
    )
    page.wait_for_timeout(200)
    assert page.evaluate("() => window.inlineRan") is None
    refused = [m for m in messages if "Content Security Policy" in m]
    assert any("inline style" in m for m in refused), messages
    assert any("inline script" in m for m in refused), messages


def test_signed_in_screens_raise_no_policy_violation(
    page, live_server, office_data, console_errors
):
    login(page, live_server.url, "gabiaedu.com", "admin", PASSWORD)
    page.goto(f"{live_server.url}/gabiaedu.com/manage/")
    page.goto(f"{live_server.url}/gabiaedu.com/manage/mail/accounts/")
    page.get_by_label("언어").select_option("en")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    assert page.url.endswith("/manage/mail/accounts/")
