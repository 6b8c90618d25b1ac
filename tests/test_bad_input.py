"""Bad input never breaks a screen (SPEC N4; house rule: a clear message and
a 4xx or the re-rendered form, never a 500).

Every URL of the resolver is fetched as a signed-in admin of the first
office (with real identifiers); every query parameter the page uses (from
its forms and links, plus the SPEC's) and every field of every form it
renders (full page and htmx partial) gets a corpus of bad values. No answer
may be a 500, echo an HTML payload unescaped, or carry anything the Content
Security Policy would refuse.
"""

from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

import pytest
from django.test import Client

from tests.html_checks import Form, csp_problems, parse
from tests.walk import all_routes, identifiers, populate, url_for

pytestmark = pytest.mark.django_db

ROUTES = all_routes()

# Parameters of the SPEC's screens, sent to every URL whether or not the page
# shows them (a view must ignore or refuse what it does not know).
KNOWN_PARAMETERS = ["q", "subaccounts", "status", "sort", "page", "per_page", "next"]

HTML_PAYLOADS = [
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "' autofocus onfocus='alert(1)",
    "</textarea><svg onload=alert(1)>",
]

BAD_VALUES = [
    *HTML_PAYLOADS,
    "x" * 10_000,
    "가" * 3_000,
    "abc\x00def",
    "\x00",
    "99999999999999999999999999",
    "-1",
    "0",
    "1e9",
    "NaN",
    "-name;DROP TABLE accounts_account",
    "mailbox__mail_password",
    "' OR '1'='1' --",
    "1; DELETE FROM accounts_message; --",
    "%00%27%22",
    "\u202e\ufeff\uffff",
    "a\r\nSet-Cookie: evil=1",
    "",
]

RAW_QUERY_STRINGS = [
    "q=%&page=%zz",
    "q=%E0%A4%A&sort=%C0%AF",
    "page=%ff%fe%fd&per_page=%00",
    "%=%&&&=&q",
    "q=" + "%41" * 5000,
    "page=1&page=2&page=-3&sort=name&sort=%3Cscript%3E",
]


@pytest.fixture
def admin(org, other):
    populate(other)
    populate(org)
    client = Client()
    client.force_login(org.admin)
    client.org = org
    return client


def check(response, what: str) -> None:
    assert response.status_code < 500, f"{what}: {response.status_code}"
    content_type = response.get("Content-Type", "")
    if content_type.startswith("text/") and not getattr(response, "streaming", False):
        body = response.content.decode("utf-8", errors="replace")
        for payload in HTML_PAYLOADS:
            assert payload not in body, f"{what}: echoes {payload!r} unescaped"
        if content_type.startswith("text/html"):
            assert csp_problems(body) == [], f"{what}: {csp_problems(body)}"


def page_parts(client: Client, url: str, known=KNOWN_PARAMETERS):
    """Forms, query parameters and htmx POST targets of the full page and of
    its htmx partial."""
    forms: list[tuple[str, Form]] = []
    parameters: set[str] = set(known)
    hx_posts: set[str] = set()
    for extra in ({}, {"HTTP_HX_REQUEST": "true"}):
        response = client.get(url, **extra)
        check(response, f"GET {url} {extra}")
        if response.status_code != 200 or "text/html" not in response.get("Content-Type", ""):
            continue
        page = parse(response.content.decode())
        for form in page.forms:
            forms.append((url, form))
            if form.method == "get":
                parameters.update(form.fields)
        for link in page.links:
            parts = urlsplit(link)
            if parts.query and (not parts.path or parts.path == urlsplit(url).path):
                parameters.update(name for name, _ in parse_qsl(parts.query))
        hx_posts.update(page.hx_posts)
    return forms, parameters, hx_posts


def is_signing_out(action: str) -> bool:
    return action.rstrip("/").endswith("/logout")


@pytest.mark.parametrize("route", ROUTES, ids=str)
def test_bad_query_parameters_never_break_a_screen(admin, route):
    url = url_for(route, identifiers(admin.org))
    _, parameters, _ = page_parts(admin, url)
    if not url.endswith("/"):
        # A file beside its screen (export.xlsx) takes the screen's query.
        parameters |= page_parts(admin, url.rsplit("/", 1)[0] + "/")[1]
    for name in sorted(parameters):
        for value in BAD_VALUES:
            check(admin.get(url, {name: value}), f"GET {url} {name}={value[:40]!r}")
            check(
                admin.get(url, {name: value}, HTTP_HX_REQUEST="true"),
                f"GET (htmx) {url} {name}={value[:40]!r}",
            )
    for raw in RAW_QUERY_STRINGS:
        check(admin.get(url, QUERY_STRING=raw), f"GET {url}?{raw[:60]}")


@pytest.mark.parametrize("route", ROUTES, ids=str)
def test_bad_form_fields_never_break_a_screen(admin, route):
    url = url_for(route, identifiers(admin.org))
    forms, _, hx_posts = page_parts(admin, url)
    targets = [(form.action or page, form) for page, form in forms if form.method == "post"]
    targets += [(action, Form(method="post", action=action)) for action in sorted(hx_posts)]
    for action, form in targets:
        if is_signing_out(action):
            continue
        defaults = {
            name: (form.selects.get(name) or values or [""])[0]
            for name, values in form.fields.items()
        }
        names = sorted(set(defaults) | {"local_part", "name", "confirm"})
        for name in names:
            for value in BAD_VALUES:
                data = {**defaults, name: value}
                what = f"POST {action} {name}={value[:40]!r}"
                check(admin.post(action, data), what)
                check(admin.post(action, data, HTTP_HX_REQUEST="true"), what + " (htmx)")
        if "_auth_user_id" not in admin.session:  # a form that signs out
            admin.force_login(admin.org.admin)


def test_the_corpus_reaches_the_usage_list_parameters(admin):
    """The walk finds the SPEC parameters of the usage list on the page
    itself (its filter form, sort links and pager)."""
    route = next(r for r in ROUTES if r.name == "mail_accounts")
    url = url_for(route, identifiers(admin.org))
    _, parameters, _ = page_parts(admin, url, known=())
    # a second page exists only with more rows than one page holds
    from tests.factories import make_account

    for n in range(25):
        make_account(admin.org.office, f"filler{n:02d}")
    _, more, _ = page_parts(admin, url, known=())
    parameters |= more
    assert {"q", "subaccounts", "status", "sort", "page", "per_page"} <= parameters
