"""The management menu, rendered once per office, page and language."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db


def menu(response) -> str:
    return re.search(r'<nav class="sidenav".*?</nav>', response.content.decode(), re.S)[0]


def current(nav: str) -> list[str]:
    return re.findall(r'<a href="([^"]+)"[^>]*aria-current="page"', nav)


def test_menu_marks_each_page_and_links_its_own_office(client, org, other):
    domain = org.office.domain
    client.force_login(org.admin)
    pages = {
        "mail_accounts": reverse("mail_accounts", args=[domain]),
        "users": reverse("users", args=[domain]),
        "audit": reverse("audit", args=[domain]),
    }
    # Twice round: the second time every menu is the kept one.
    for _ in range(2):
        for url in pages.values():
            nav = menu(client.get(url))
            assert current(nav) == [url]
            assert f'href="{pages["users"]}"' in nav
            assert other.office.domain not in nav
    client.force_login(other.admin)
    nav = menu(client.get(reverse("users", args=[other.office.domain])))
    assert current(nav) == [reverse("users", args=[other.office.domain])]
    assert f"/{domain}/" not in nav


def test_menu_follows_each_requests_language(admin_client, org):
    url = reverse("users", args=[org.office.domain])
    for language, label, not_label in [
        ("ko", "메일 사용 현황", "Mail usage status"),
        ("en", "Mail usage status", "메일 사용 현황"),
        ("ko", "메일 사용 현황", "Mail usage status"),
    ]:
        admin_client.cookies["mailadmin_language"] = language
        nav = menu(admin_client.get(url))
        assert label in nav and not_label not in nav
