"""Bad input in the URL path never breaks a screen.

The corpus of tests/test_bad_input.py goes into every segment of every URL
the resolver knows (filled with real identifiers of the first office), one
segment at a time, as GET, htmx GET and POST from a signed-in admin: no
answer may be a 5xx. PostgreSQL refuses NUL in text with an error rather
than finding nothing, so this matters most there; CI runs it on both
databases.
"""

from __future__ import annotations

from urllib.parse import quote

import pytest
from django.test import Client

from mailadmin.converters import SAFE_CONVERTERS
from tests.test_bad_input import BAD_VALUES, HTML_PAYLOADS
from tests.walk import PARAMETER, all_routes, identifiers, populate, url_for

pytestmark = pytest.mark.django_db

ROUTES = all_routes()

# Beyond the query corpus: the other control characters, path tricks and
# what a percent-decoder might trip on.
PATH_VALUES = [
    *BAD_VALUES,
    "\x01",
    "a\x1fb",
    "\x7f",
    "\x85",
    "a\u2028b",
    "..",
    ".",
    "a/../b",
    "%2e%2e",
    "%",
    "\udcff",
]


@pytest.fixture
def admin(org, other):
    populate(other)
    populate(org)
    client = Client(raise_request_exception=False)
    client.force_login(org.admin)
    client.org = org
    return client


def test_every_route_parameter_uses_a_converter_that_refuses_control_characters():
    for route in ROUTES:
        for match in PARAMETER.finditer(route.route):
            converter = match.group("converter") or "str"
            assert converter in SAFE_CONVERTERS, (
                f"{route.route}: <{converter}:{match.group('name')}> lets control "
                "characters through to the view; use <segment:…> (mailadmin/converters.py)"
            )


def with_segment(url: str, index: int, value: str) -> str:
    segments = url.split("/")
    segments[index] = quote(value, safe="", errors="surrogatepass")
    return "/".join(segments)


@pytest.mark.parametrize("route", ROUTES, ids=str)
def test_bad_path_segments_never_break_a_screen(admin, route):
    url = url_for(route, identifiers(admin.org))
    if url == "/":  # the root has no segment of its own: give it one
        url = "/x/"
    segments = url.split("/")
    sent = 0
    for index, segment in enumerate(segments):
        if not segment:
            continue
        for value in PATH_VALUES:
            bad = with_segment(url, index, value)
            for method, extra in (("GET", {}), ("GET", {"HTTP_HX_REQUEST": "true"}), ("POST", {})):
                response = admin.generic(method, bad, **extra)
                sent += 1
                what = f"{method} {bad[:120]} {extra}"
                assert response.status_code < 500, f"{what}: {response.status_code}"
                if response.get("Content-Type", "").startswith("text/"):
                    body = response.content.decode("utf-8", errors="replace")
                    for payload in HTML_PAYLOADS:
                        assert payload not in body, f"{what}: echoes {payload!r} unescaped"
            if "_auth_user_id" not in admin.session:
                admin.force_login(admin.org.admin)
    assert sent


@pytest.mark.parametrize(
    "path",
    [
        "/{domain}/manage/mail/accounts/admin%00/",
        "/{domain}/manage/mail/accounts/admin%00/empty/",
        "/{domain}/manage/mail/accounts/admin%00/subaccounts/",
        "/{domain}/manage/mail/accounts/%00/",
        "/{domain}/manage/users/admin%00/",
        "/{domain}/manage/mail/accounts/admin/subaccounts/x%00/delete/",
        "/{domain}/manage/mail/accounts/admin%01/",
        "/{domain}/manage/mail/accounts/admin%7F/",
    ],
)
@pytest.mark.parametrize("method", ["GET", "POST"])
def test_control_characters_in_a_path_segment_are_404(admin, path, method):
    response = admin.generic(method, path.format(domain=admin.org.office.domain))
    assert response.status_code == 404
