"""Two-factor sign-in in a real browser: an admin sets up the app from the
security page (codes computed with pyotp from the key the page shows), signs
out, signs in with a code, is refused with a wrong one, and a recovery code
works once."""

from __future__ import annotations

import re
import time

import pyotp
from playwright.sync_api import expect

from tests.browser.conftest import login
from tests.factories import PASSWORD

DOMAIN = "gabiaedu.com"


def sign_out(page, base_url):
    page.get_by_role("button", name="로그아웃").click()
    expect(page).to_have_url(re.compile(rf"{base_url}/{DOMAIN}/login/"))


def code_step(page, code):
    page.get_by_label("인증 코드").fill(code)
    page.get_by_role("button", name="로그인").click()


def fresh_code(totp: pyotp.TOTP, used: set[str]) -> str:
    """A code not used before (each is good once): waits for the next
    30-second step when needed."""
    while (code := totp.now()) in used:
        time.sleep(1)
    used.add(code)
    return code


def test_set_up_sign_in_with_a_code_and_with_a_recovery_code_once(
    page, live_server, office_data, console_errors
):
    base = live_server.url
    login(page, base, DOMAIN, "admin", PASSWORD)
    page.goto(f"{base}/{DOMAIN}/manage/security/")
    expect(page.get_by_role("heading", name="2단계 인증", exact=True)).to_be_visible()
    expect(page.locator(".two-factor__qr svg")).to_be_visible()
    secret = page.locator("#two-factor-secret").inner_text().replace(" ", "")
    totp = pyotp.TOTP(secret)
    used: set[str] = set()

    page.get_by_label("인증 코드").fill(fresh_code(totp, used))
    page.get_by_role("button", name="사용").click()
    codes = page.locator("#recovery-codes code").all_inner_texts()
    assert len(codes) == 10
    expect(page.locator("#two-factor-status")).to_have_text("사용 중")

    # Sign out, sign in again: the password is no longer enough.
    sign_out(page, base)
    login(page, base, DOMAIN, "admin", PASSWORD)
    expect(page.get_by_label("인증 코드")).to_be_visible()
    code_step(page, fresh_code(totp, used))
    expect(page).to_have_url(re.compile(rf"{base}/{DOMAIN}/"))
    page.goto(f"{base}/{DOMAIN}/manage/")
    expect(page.get_by_role("button", name="로그아웃")).to_be_visible()

    # A wrong code is refused.
    sign_out(page, base)
    login(page, base, DOMAIN, "admin", PASSWORD)
    right = totp.now()
    code_step(page, f"{(int(right) + 1) % 1_000_000:06d}")
    expect(page.get_by_role("alert")).to_contain_text("인증 코드가 올바르지 않습니다")
    expect(page.get_by_label("인증 코드")).to_be_visible()

    # A recovery code works, once.
    code_step(page, codes[0])
    page.goto(f"{base}/{DOMAIN}/manage/")
    expect(page.get_by_role("button", name="로그아웃")).to_be_visible()
    sign_out(page, base)
    login(page, base, DOMAIN, "admin", PASSWORD)
    code_step(page, codes[0])
    expect(page.get_by_role("alert")).to_contain_text("인증 코드가 올바르지 않습니다")
