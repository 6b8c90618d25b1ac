"""Browser tests: pytest-playwright driving Debian's Chromium.

Playwright never downloads a browser here; the system Chromium is used, and
every test in this folder is skipped, with the reason, where it is absent.
Console errors fail the test (CSP violations show up there) unless the test
says which it provokes.
"""

from __future__ import annotations

import os
import shutil

import pytest

CHROMIUM = (
    os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
)
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]

# The sync Playwright API runs an event loop in this thread; the test's own
# ORM calls are still plain synchronous code.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


def pytest_collection_modifyitems(items):
    for item in items:
        if "tests/browser/" in str(item.fspath).replace(os.sep, "/"):
            item.add_marker(pytest.mark.browser)
            if not CHROMIUM:
                item.add_marker(
                    pytest.mark.skip(
                        reason="no Chromium installed (apt-get install chromium fonts-noto-cjk)"
                    )
                )


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": CHROMIUM_FLAGS}


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    return {**browser_context_args, "viewport": {"width": 1280, "height": 900}, "locale": "ko-KR"}


@pytest.fixture
def page(page):
    """Screenshots leave the page as they found it: Playwright's default
    caret hiding leaves `style=""` on inputs, which the enforced CSP then
    refuses (a console error) when htmx restores a history snapshot."""
    take = page.screenshot

    def screenshot(**kwargs):
        kwargs.setdefault("caret", "initial")
        return take(**kwargs)

    page.screenshot = screenshot
    return page


@pytest.fixture
def console_errors(page):
    """Collects console errors; the test fails at the end if any remain."""
    errors: list[str] = []
    allowed: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    yield allowed
    unexpected = [e for e in errors if not any(a in e for a in allowed)]
    assert not unexpected, f"console errors: {unexpected}"


@pytest.fixture
def office_data(transactional_db):
    from tests.conftest import build_office

    return build_office("gabiaedu.com")


def login(page, base_url: str, domain: str, login_id: str, password: str) -> None:
    page.goto(f"{base_url}/{domain}/login/")
    page.get_by_label("아이디").fill(login_id)
    page.get_by_role("button", name="다음").click()
    page.get_by_label("비밀번호").fill(password)
    page.get_by_role("button", name="로그인").click()
