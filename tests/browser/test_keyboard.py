"""Keyboard only (SPEC N6): the sub-account dialog opens from the list with
the keyboard, a sub-account is added and deleted without the mouse, Escape
closes the dialog and focus returns to the button that opened it; axe finds
nothing serious in either state of the dialog."""

from __future__ import annotations

from playwright.sync_api import expect

from subaccounts.models import SubAccount
from tests.browser import axe
from tests.browser.conftest import login
from tests.factories import PASSWORD
from tests.walk import populate

DOMAIN = "gabiaedu.com"


def tab_to(page, predicate: str, what: str, limit: int = 80) -> None:
    """Press Tab until ``predicate(document.activeElement)`` holds."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate(
            f"() => {{ const e = document.activeElement; return !!e && ({predicate}); }}"
        ):
            return
    raise AssertionError(f"Tab never reached {what}")


def settled(page) -> None:
    """Wait until htmx is done: no request in flight, nothing settling, and
    everything it swapped in wired up (keys pressed faster than that would
    reach plain buttons)."""
    page.wait_for_function(
        """() => !document.querySelector(".htmx-request, .htmx-swapping, .htmx-settling")
              && Array.from(document.querySelectorAll("[hx-get], [hx-post]"))
                   .every(element => element["htmx-internal-data"] !== undefined)"""
    )


def test_subaccount_dialog_with_the_keyboard_only(page, live_server, office_data, console_errors):
    data = populate(office_data)
    kim = data.kim
    axe.install(page)
    login(page, live_server.url, DOMAIN, "admin", PASSWORD)
    page.goto(f"{live_server.url}/{DOMAIN}/manage/mail/accounts/?q={kim.login_id}")
    opener = page.locator("#account-table").get_by_role("link", name=f"부계정 설정 {kim.name}")
    expect(opener).to_be_visible()

    # Open: Tab to the row's [부계정 설정], Enter.
    settled(page)
    tab_to(
        page,
        "e.matches('#account-table a[href$=\"/subaccounts/\"]')",
        "the [부계정 설정] button",
    )
    page.keyboard.press("Enter")
    dialog = page.get_by_role("dialog")
    expect(dialog).to_be_visible()
    expect(dialog.get_by_label("부계정 아이디")).to_be_focused()
    settled(page)
    axe.assert_accessible(page, "the sub-account dialog", "#modal")

    # Add: type the ID, Enter.
    page.keyboard.type("kim-keys")
    page.keyboard.press("Enter")
    expect(dialog).to_contain_text(f"kim-keys@{DOMAIN}")
    assert SubAccount.objects.filter(owner=kim, local_part="kim-keys").exists()
    expect(dialog).to_be_visible()
    settled(page)

    # Delete: Tab to its delete button, Enter; the confirmation takes focus;
    # Tab to [삭제], Enter.
    tab_to(page, f"(e.getAttribute('aria-label') || '').includes('kim-keys@{DOMAIN}')", "delete")
    page.keyboard.press("Enter")
    expect(dialog.get_by_role("heading", name="부계정 삭제")).to_be_visible()
    expect(dialog.get_by_role("button", name="취소")).to_be_focused()
    settled(page)
    axe.assert_accessible(page, "the delete confirmation", "#modal")
    tab_to(page, "e.type === 'submit' && e.closest('#modal')", "the [삭제] button")
    page.keyboard.press("Enter")
    expect(dialog.get_by_role("heading", name="부계정 설정")).to_be_visible()
    expect(dialog.get_by_role("button", name=f"kim-keys@{DOMAIN} 삭제")).to_have_count(0)
    expect(
        dialog.get_by_role("button", name=f"{data.subaccount.local_part}@{DOMAIN} 삭제")
    ).to_be_visible()
    expect(dialog).to_be_visible()
    assert not SubAccount.objects.filter(owner=kim, local_part="kim-keys").exists()
    assert SubAccount.objects.filter(owner=kim, local_part=data.subaccount.local_part).exists()

    settled(page)
    # Escape closes it and focus is back on the button that opened it.
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    expect(opener).to_be_focused()
