"""Tenant isolation everywhere (SPEC F2, R7): every URL under
/<domain>/manage/, found by walking the URL resolver and filled with real
identifiers of the first office, answers GET and POST

- for a signed-in admin of another office: 404, before anything else (the
  HTTP method included);
- for an ordinary account of the same office: 403;
- for a visitor who is not signed in: a redirect to that office's login;

and none of the refused requests changes anything.
"""

from __future__ import annotations

from urllib.parse import quote

import pytest
from django.test import Client

from tests.walk import database_fingerprint, identifiers, manage_routes, populate, url_for

pytestmark = pytest.mark.django_db

ROUTES = manage_routes()
# Every admin's own sign-in security (the two-factor page) is theirs to
# change whatever their role: the office's rule may require it of viewers.
OFFICE_WRITE_ROUTES = [r for r in ROUTES if "manage/security/" not in str(r)]

# What a POST to any of these screens could plausibly carry; none of it may
# take effect for a refused request.
HARMFUL_POST = {
    "local_part": "intruder",
    "confirm": "1",
    "name": "Taken over",
    "status": "suspended",
    "pop3_enabled": "",
    "smtp_enabled": "",
    "remove_mail_password": "1",
}

REQUESTS = [
    ("GET", {}),
    ("GET", {"HTTP_HX_REQUEST": "true"}),
    ("POST", {}),
    ("POST", {"HTTP_HX_REQUEST": "true"}),
    ("PUT", {}),
    ("DELETE", {}),
]


@pytest.fixture
def offices(org, other):
    # Both offices hold the same IDs (admin, minjun.kim, sales.kim): a lookup
    # that forgets the office would find the intruder's own rows and answer
    # 200 instead of 404.
    populate(other)
    return populate(org), other


def send(client: Client, method: str, url: str, extra: dict):
    if method == "POST":
        return client.post(url, HARMFUL_POST, **extra)
    return client.generic(method, url, **extra)


def signed_in(account) -> Client:
    client = Client()
    client.force_login(account)
    return client


def test_the_walk_finds_the_management_screens():
    names = {route.name for route in ROUTES}
    assert {"manage_dashboard", "mail_accounts", "mail_account_detail"} <= names
    assert {"subaccounts", "subaccount_delete", "users", "audit"} <= names


@pytest.mark.parametrize("route", ROUTES, ids=str)
def test_admin_of_another_office_gets_404_for_every_method(offices, route):
    org, other = offices
    url = url_for(route, identifiers(org))
    client = signed_in(other.admin)
    before = database_fingerprint()
    for method, extra in REQUESTS:
        response = send(client, method, url, extra)
        assert response.status_code == 404, f"{method} {url} {extra}"
    assert database_fingerprint() == before


@pytest.mark.parametrize("route", ROUTES, ids=str)
@pytest.mark.parametrize("who", ["kim", "lee"])
def test_ordinary_account_of_the_office_gets_403(offices, route, who):
    org, _ = offices
    url = url_for(route, identifiers(org))
    client = signed_in(getattr(org, who))
    before = database_fingerprint()
    for method, extra in REQUESTS:
        response = send(client, method, url, extra)
        assert response.status_code == 403, f"{method} {url} {extra}"
    assert database_fingerprint() == before


@pytest.mark.parametrize("route", ROUTES, ids=str)
def test_signed_out_visitor_is_sent_to_the_offices_login(offices, route):
    org, _ = offices
    url = url_for(route, identifiers(org))
    client = Client()
    before = database_fingerprint()
    for method, extra in REQUESTS:
        response = send(client, method, url, extra)
        assert response.status_code == 302, f"{method} {url} {extra}"
        assert response["Location"] == f"/gabiaedu.com/login/?next={quote(url, safe='/')}"
    assert database_fingerprint() == before


@pytest.mark.parametrize("route", ROUTES, ids=str)
def test_unknown_office_is_404_even_for_a_signed_in_admin(offices, route):
    org, _ = offices
    url = url_for(route, {**identifiers(org), "domain": "nowhere.example"})
    client = signed_in(org.admin)
    for method, extra in REQUESTS:
        assert send(client, method, url, extra).status_code == 404, f"{method} {url}"


def test_another_offices_ids_are_not_reachable_through_this_office(offices):
    """The mirror case: this office's admin asking for IDs that exist only in
    the other office gets 404, never the other office's data."""
    org, other = offices
    from accounts.models import Account

    Account.objects.create_account(office=other.office, login_id="only.there", name="Only There")
    client = signed_in(org.admin)
    values = {**identifiers(org), "login_id": "only.there", "local_part": "only.there"}
    for route in ROUTES:
        if {"login_id", "local_part"} & set(route.keywords):
            url = url_for(route, values)
            assert client.get(url).status_code == 404, url


# --- The view-only admin (읽기 전용 관리자) -------------------------------------

# Forms a view-only admin may still see: the language switch and signing out.
READ_ONLY_FORM_ACTIONS = ("/i18n/setlang/", "/logout/")
# Markup that only a control changing something carries: a write form, an
# htmx write, or a link opening a write dialog.
WRITE_MARKERS = ('hx-post="', "hx-put=", "hx-delete=", "hx-patch=", "btn--danger")


def write_controls(html: str) -> list[str]:
    from tests.html_checks import PageParser

    parser = PageParser()
    parser.feed(html)
    found = [
        f"<form method=post action={form.action!r}>"
        for form in parser.forms
        if form.method == "post" and not (form.action or "").endswith(READ_ONLY_FORM_ACTIONS)
    ]
    found += [marker for marker in WRITE_MARKERS if marker in html]
    found += [link for link in parser.links if "/empty/" in link or "/_add/" in link]
    return found


@pytest.fixture
def viewer(offices):
    from accounts.models import Account

    org, _ = offices
    org.lee.role = Account.Role.VIEWER
    org.lee.save(update_fields=["role"])
    return org


@pytest.mark.parametrize("route", OFFICE_WRITE_ROUTES, ids=str)
def test_viewer_sees_every_screen_without_write_controls(viewer, route):
    url = url_for(route, identifiers(viewer))
    client = signed_in(viewer.lee)
    for extra in ({}, {"HTTP_HX_REQUEST": "true"}):
        # (A download whose file is not written yet redirects to its
        # progress page, for every admin: followed here.)
        response = client.get(url, follow=True, **extra)
        assert response.status_code == 200, f"GET {url} {extra}"
        assert all(f"/{viewer.office.domain}/manage/" in hop for hop, _ in response.redirect_chain)
        if response.get("Content-Type", "").startswith("text/html"):
            html = response.content.decode()
            assert write_controls(html) == [], f"GET {url} {extra}"


@pytest.mark.parametrize("route", OFFICE_WRITE_ROUTES, ids=str)
def test_viewer_is_refused_every_write(viewer, route):
    url = url_for(route, identifiers(viewer))
    client = signed_in(viewer.lee)
    before = database_fingerprint()
    for method, extra in REQUESTS:
        if method == "GET":
            continue
        response = send(client, method, url, extra)
        assert response.status_code == 403, f"{method} {url} {extra}"
    for action in ("role", "password", "mail_password", "mail_password_remove", "quota"):
        response = client.post(url, {**HARMFUL_POST, "action": action, "role": "super_admin"})
        assert response.status_code == 403, f"POST {url} action={action}"
    assert database_fingerprint() == before


def test_the_same_screens_show_write_controls_to_a_super_admin(offices):
    """The check above would pass on screens that never have any: a super
    admin sees them on the list, the pane, the user page and the dialogs."""
    org, _ = offices
    client = signed_in(org.admin)
    domain, kim = org.office.domain, org.kim.login_id
    for url in (
        f"/{domain}/manage/mail/accounts/",
        f"/{domain}/manage/users/",
        f"/{domain}/manage/users/{kim}/",
        f"/{domain}/manage/mail/accounts/{kim}/empty/",
        f"/{domain}/manage/mail/accounts/{kim}/subaccounts/",
        f"/{domain}/manage/settings/",
    ):
        response = client.get(url)
        assert response.status_code == 200, url
        assert write_controls(response.content.decode()), url


def test_a_viewer_can_set_up_its_own_two_factor_sign_in(viewer):
    client = signed_in(viewer.lee)
    url = f"/{viewer.office.domain}/manage/security/"
    response = client.get(url)
    assert response.status_code == 200
    assert "<form" in response.content.decode()
