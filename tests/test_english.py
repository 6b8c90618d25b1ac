"""A complete English UI (SPEC N5): every screen rendered in English shows no
Korean outside data, and the Korean catalogue is complete and current."""

from __future__ import annotations

import io
import re
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from types import SimpleNamespace

import polib
import pytest
from django.apps import apps
from django.conf import settings
from django.test import Client

from accounts.models import Account, AuditEvent
from tests.factories import make_account, make_office
from tests.html_checks import Form, parse
from tests.walk import all_routes, identifiers, populate, url_for

ROOT = Path(settings.BASE_DIR)
PO = ROOT / "locale" / "ko" / "LC_MESSAGES" / "django.po"
HANGUL = re.compile(r"[\u1100-\u11ff\u3130-\u318f\uac00-\ud7a3]+")
# Elements marked as Korean on purpose: the language switch offers "한국어".
MARKED_KOREAN = re.compile(r"<(\w+)[^>]*\blang=\"ko\"[^>]*>.*?</\1>", re.S)
ROUTES = all_routes()


@pytest.fixture
def ascii_office(db):
    """Every value in this office is ASCII, so any Hangul on a page is UI."""
    office = make_office("acme.test", name="Acme")
    data = SimpleNamespace(
        office=office,
        admin=make_account(office, "admin", "Ada Admin", role=Account.Role.SUPER_ADMIN),
        kim=make_account(office, "minjun.kim", "Minjun Kim", department="Dev 1"),
        lee=make_account(office, "seoyeon.lee", "Seoyeon Lee", department="Sales"),
        park=make_account(office, "jiho.park", "Jiho Park", status=Account.Status.SUSPENDED),
        nomail=make_account(office, "nomail", "No Mail", mail=False),
        group=make_account(office, "team-sales", "Sales Team", kind=Account.Kind.GROUP),
        shared=make_account(office, "help", "Help Desk", kind=Account.Kind.SHARED),
    )
    return populate(data)


def english_client(account=None) -> Client:
    client = Client()
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    if account is not None:
        client.force_login(account)
    return client


def korean_left(response) -> list[str]:
    content_type = response.get("Content-Type", "")
    if "spreadsheetml" in content_type:
        import openpyxl

        content = b"".join(response.streaming_content) if response.streaming else response.content
        book = openpyxl.load_workbook(io.BytesIO(content), read_only=True)
        text = " ".join(
            str(cell) for sheet in book for row in sheet.iter_rows(values_only=True) for cell in row
        )
    elif content_type.startswith("text/") or "json" in content_type:
        content = b"".join(response.streaming_content) if response.streaming else response.content
        text = MARKED_KOREAN.sub("", content.decode("utf-8", errors="replace"))
    else:
        return []
    found = HANGUL.findall(text)
    for header in ("HX-Trigger", "Content-Disposition"):
        found += HANGUL.findall(response.get(header, ""))
    return found


@pytest.mark.parametrize("route", ROUTES, ids=str)
def test_every_screen_in_english_shows_no_korean(ascii_office, route):
    url = url_for(route, identifiers(ascii_office))
    client = english_client(ascii_office.admin)
    forms: list[Form] = []
    for extra in ({}, {"HTTP_HX_REQUEST": "true"}):
        response = client.get(url, **extra)
        assert response.status_code < 500
        assert response.get("Content-Language", "en") == "en"
        assert korean_left(response) == [], f"GET {url} {extra}"
        if response.status_code == 200 and "text/html" in response.get("Content-Type", ""):
            forms += parse(response.content.decode()).forms
    # Form errors (an empty and a nonsense submission) are English too.
    for form in forms:
        action = form.action or url
        if form.method != "post" or action.rstrip("/").endswith("/logout"):
            continue
        for value in ("", "!! not valid !!"):
            data = dict.fromkeys(form.fields, value)
            data.pop("csrfmiddlewaretoken", None)
            for extra in ({}, {"HTTP_HX_REQUEST": "true"}):
                response = client.post(action, data, **extra)
                assert korean_left(response) == [], f"POST {action} {data} {extra}"
        client.force_login(ascii_office.admin)


class VisibleText(HTMLParser):
    """Text a person sees or hears: text nodes, and the labelling attributes."""

    SPOKEN = {"title", "aria-label", "placeholder", "alt", "aria-description"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.hidden = 0
        self.untranslated_codes = 0

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag in {"script", "style"} or attributes.get("lang") == "en":
            self.hidden += 1
        # A value in no language (a key to type into an app) says so.
        if tag == "code" and attributes.get("translate") == "no":
            self.untranslated_codes += 1
            self.hidden += 1
        self.parts += [v for k, v in attrs if k in self.SPOKEN and v]
        if tag == "input" and attributes.get("type") in {"submit", "button"}:
            self.parts.append(attributes.get("value") or "")

    def handle_endtag(self, tag):
        if tag in {"script", "style", "option"} and self.hidden:
            self.hidden -= 1
        if tag == "code" and self.untranslated_codes:
            self.untranslated_codes -= 1
            self.hidden -= 1

    def handle_data(self, data):
        if not self.hidden:
            self.parts.append(data)


# Words a Korean screen may show in Latin letters: units, protocols, formats.
LATIN_IN_KOREAN = {"KB", "MB", "GB", "TB", "B", "POP", "SMTP", "IMAP", "IP", "xlsx", "Excel", "PNG"}
# and product names (authenticator apps) and the QR code
LATIN_IN_KOREAN |= {"Google", "Microsoft", "Authenticator", "QR"}
# and country codes (ISO 3166) in the home-countries setting
LATIN_IN_KOREAN |= {"KR", "JP", "ISO"}


def data_strings() -> list[str]:
    """Every text value stored in the product's tables, longest first."""
    found: set[str] = set()
    for label in ("accounts", "subaccounts"):
        for model in apps.get_app_config(label).get_models():
            fields = [
                f.attname
                for f in model._meta.concrete_fields
                if f.get_internal_type() in {"CharField", "TextField", "GenericIPAddressField"}
            ]
            for row in model.objects.values_list(*fields):
                found.update(str(value) for value in row if value)
    for data in AuditEvent.objects.values_list("data", flat=True):
        found.update(_json_strings(data))
    return sorted(found, key=len, reverse=True)


def _json_strings(value) -> list[str]:
    """String leaves of an event's data: data, though some keys and values
    (statuses, actions) are shown translated."""
    if isinstance(value, dict):
        return [s for v in value.values() for s in _json_strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _json_strings(v)]
    if isinstance(value, str) and value not in {"active", "suspended", "used", "unused"}:
        if value not in AuditEvent.Action.values:
            return [value]
    return []


@pytest.mark.parametrize("route", ROUTES, ids=str)
def test_every_screen_in_korean_shows_no_untranslated_english(org, route):
    """The mirror check: an English source string that skipped the
    catalogue would show through on the Korean screen."""
    populate(org)
    client = Client()
    client.force_login(org.admin)
    url = url_for(route, identifiers(org))
    data = sorted([*data_strings(), "mailadmin", "example.com"], key=len, reverse=True)
    for extra in ({}, {"HTTP_HX_REQUEST": "true"}):
        response = client.get(url, **extra)
        if "text/html" not in response.get("Content-Type", ""):
            continue
        parser = VisibleText()
        parser.feed(response.content.decode())
        text = " ".join(parser.parts)
        for value in data:
            text = text.replace(value, " ")
        words = set(re.findall(r"[A-Za-z]{2,}", text)) - LATIN_IN_KOREAN
        assert words == set(), f"GET {url} {extra}: English left on the Korean screen"


def test_sign_in_and_its_messages_in_english(ascii_office):
    client = english_client()
    pages = [client.get("/"), client.get("/", {"domain": "nowhere.test"})]
    pages.append(client.get("/acme.test/login/"))
    pages.append(client.post("/acme.test/login/", {"login_id": "admin"}))
    for n in range(5):  # the generic error, then the lockout
        pages.append(client.post("/acme.test/login/", {"login_id": "admin", "password": f"x{n}"}))
    assert pages[-1].status_code == 429
    pages.append(client.get("/nowhere.test/login/"))
    for page in pages:
        assert korean_left(page) == [], page.content.decode()[:2000]


def test_error_pages_in_english(ascii_office, other):
    client = english_client(ascii_office.kim)
    forbidden = client.get("/acme.test/manage/")
    assert forbidden.status_code == 403 and korean_left(forbidden) == []
    client = english_client(other.admin)
    missing = client.get("/acme.test/manage/")
    assert missing.status_code == 404 and korean_left(missing) == []


def test_korean_is_the_default(ascii_office):
    client = Client()
    client.force_login(ascii_office.admin)
    assert HANGUL.search(client.get("/acme.test/manage/").content.decode())


# The catalogue ------------------------------------------------------------


def catalogue_ids(path: Path) -> set[tuple[str, str, str]]:
    return {
        (entry.msgctxt or "", entry.msgid, entry.msgid_plural or "")
        for entry in polib.pofile(str(path))
        if not entry.obsolete
    }


def test_korean_catalogue_has_no_untranslated_or_fuzzy_entry():
    catalogue = polib.pofile(str(PO))
    missing = [e.msgid for e in catalogue if not e.obsolete and (not e.translated() or e.fuzzy)]
    assert missing == [], "translate these in locale/ko/LC_MESSAGES/django.po"


def translations(catalogue) -> dict[tuple[str, str], str]:
    found = {}
    for entry in catalogue:
        if entry.obsolete or "fuzzy" in entry.flags or not entry.msgid:
            continue
        if entry.msgid_plural:
            forms = {int(k): v for k, v in entry.msgstr_plural.items()}
            found[(entry.msgctxt or "", entry.msgid)] = forms[min(forms)]
        else:
            found[(entry.msgctxt or "", entry.msgid)] = entry.msgstr
    return found


def test_compiled_catalogue_matches_the_po_file():
    """The committed .mo is what a machine without gettext uses."""
    compiled = translations(polib.mofile(str(PO.with_suffix(".mo"))))
    assert compiled == translations(polib.pofile(str(PO))), "recompile: make messages"


@pytest.mark.skipif(not shutil.which("xgettext"), reason="GNU gettext (xgettext) not installed")
def test_catalogue_is_current_with_the_sources(tmp_path):
    """makemessages over a copy of the sources finds exactly the msgids the
    committed catalogue holds (run `make messages` when this fails)."""
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.mo")
    for folder in (
        "accounts",
        "subaccounts",
        "devtools",
        "reports",
        "mailserver",
        "mailadmin",
        "templates",
        "locale",
    ):
        if (ROOT / folder).exists():
            shutil.copytree(ROOT / folder, tmp_path / folder, ignore=ignore)
    shutil.copy(ROOT / "manage.py", tmp_path / "manage.py")
    subprocess.run(
        [
            sys.executable,
            "manage.py",
            "makemessages",
            "-l",
            "ko",
            "--no-obsolete",
            "--no-location",
        ],
        cwd=tmp_path,
        check=True,
        capture_output=True,
        env={"PATH": "/usr/bin:/bin", "DJANGO_SETTINGS_MODULE": "mailadmin.settings"},
    )
    extracted = catalogue_ids(tmp_path / "locale" / "ko" / "LC_MESSAGES" / "django.po")
    committed = catalogue_ids(PO)
    assert sorted(extracted - committed) == [], "in the sources but not in the catalogue"
    assert sorted(committed - extracted) == [], "in the catalogue but no longer in the sources"


def test_template_comments_never_render():
    """`{# … #}` must close on its own line, or Django shows it as text."""
    unclosed = []
    for path in sorted((ROOT / "templates").rglob("*.html")):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if re.search(r"\{#(?!.*#\})", line):
                unclosed.append(f"{path.relative_to(ROOT)}:{number}")
    assert unclosed == [], "use {% comment %} for comments over several lines"
