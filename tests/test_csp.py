"""Content Security Policy (SPEC N4): enforced on every response, with no
inline script or style for it to refuse anywhere in the templates or in
HTML built in Python."""

from __future__ import annotations

import io
import re
import tokenize
from pathlib import Path

import pytest
from django.conf import settings

from tests.html_checks import csp_problems

ROOT = Path(settings.BASE_DIR)
APP_DIRS = ["accounts", "subaccounts", "mailadmin"]


def policy(response) -> dict[str, list[str]]:
    assert "Content-Security-Policy-Report-Only" not in response, "the policy must be enforced"
    header = response["Content-Security-Policy"]
    directives = {}
    for part in header.split(";"):
        name, *values = part.split()
        directives[name] = values
    return directives


@pytest.mark.parametrize(
    "url", ["/", "/gabiaedu.com/login/", "/gabiaedu.com/manage/", "/nowhere.example/"]
)
def test_every_response_carries_the_enforced_policy(admin_client, url):
    directives = policy(admin_client.get(url))
    assert directives["default-src"] == ["'self'"]
    assert directives["script-src"] == ["'self'"]
    assert directives["style-src"] == ["'self'"]
    assert directives["frame-ancestors"] == ["'none'"]
    assert directives["form-action"] == ["'self'"]
    assert directives["base-uri"] == ["'none'"]
    assert directives["object-src"] == ["'none'"]
    everything = " ".join(v for values in directives.values() for v in values)
    assert "unsafe-inline" not in everything
    assert "unsafe-eval" not in everything
    assert "*" not in everything


def template_files():
    folders = [ROOT / "templates", *(ROOT / app / "templates" for app in APP_DIRS)]
    return sorted(p for folder in folders if folder.exists() for p in folder.rglob("*.html"))


@pytest.mark.parametrize("path", template_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_templates_have_nothing_the_policy_would_refuse(path):
    assert csp_problems(path.read_text(encoding="utf-8")) == []


def python_html_literals():
    """String literals in the apps' Python that look like HTML markup."""
    found = []
    for app in APP_DIRS:
        for path in sorted((ROOT / app).rglob("*.py")):
            if "migrations" in path.parts:
                continue
            source = path.read_text(encoding="utf-8")
            for token in tokenize.generate_tokens(io.StringIO(source).readline):
                if token.type == tokenize.STRING and re.search(r"<[a-z]", token.string):
                    found.append((f"{path.relative_to(ROOT)}:{token.start[0]}", token.string))
    return found


def test_html_built_in_python_has_nothing_the_policy_would_refuse():
    problems = [
        (where, literal)
        for where, literal in python_html_literals()
        if re.search(r"style\s*=|<script(?![^>]*\bsrc=)|\son[a-z]+\s*=|javascript:", literal)
    ]
    assert problems == []


def test_htmx_is_configured_for_the_policy(admin_client):
    body = admin_client.get("/gabiaedu.com/manage/").content.decode()
    assert '"includeIndicatorStyles": false' in body
    assert '"allowEval": false' in body
    # htmx itself comes from our own origin, as a file.
    assert re.search(r'<script src="/static/django_htmx/htmx[^"]*\.js"', body)
    assert csp_problems(body) == []
