"""Sessions end after an idle time (SPEC N4) without a database write on
every request; production cookies are Secure, HttpOnly and SameSite."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta

import pytest
import time_machine
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import AccountSession
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db

MANAGE = "/gabiaedu.com/manage/"


def session_writes(queries) -> list[str]:
    return [
        q["sql"]
        for q in queries
        if AccountSession._meta.db_table in q["sql"]
        and q["sql"].lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE"))
    ]


def sign_in(client):
    url = "/gabiaedu.com/login/"
    client.post(url, {"login_id": "admin"})
    response = client.post(url, {"login_id": "admin", "password": PASSWORD})
    assert response.status_code == 302


@pytest.fixture
def clock():
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        yield traveller


def test_requests_within_a_minute_do_not_write_the_session(client, org, clock):
    sign_in(client)
    assert client.get(MANAGE).status_code == 200
    for _ in range(5):
        clock.shift(timedelta(seconds=10))
        with CaptureQueriesContext(connection) as queries:
            assert client.get(MANAGE).status_code == 200
        assert session_writes(queries.captured_queries) == []


def test_last_seen_is_refreshed_at_most_once_a_minute(client, org, clock):
    sign_in(client)
    clock.shift(timedelta(seconds=61))
    with CaptureQueriesContext(connection) as queries:
        client.get(MANAGE)
    assert len(session_writes(queries.captured_queries)) == 1
    with CaptureQueriesContext(connection) as queries:
        client.get(MANAGE)
    assert session_writes(queries.captured_queries) == []


def test_an_active_admin_stays_signed_in_past_the_idle_time(client, org, clock, settings):
    settings.SESSION_IDLE_SECONDS = 600
    sign_in(client)
    for _ in range(12):  # two hours, a request every ten minutes less a second
        clock.shift(timedelta(seconds=599))
        assert client.get(MANAGE).status_code == 200


def test_idle_session_is_signed_out_with_a_message(client, org, clock, settings):
    settings.SESSION_IDLE_SECONDS = 600
    sign_in(client)
    assert client.get(MANAGE).status_code == 200
    clock.shift(timedelta(seconds=601))
    response = client.get(MANAGE)
    assert response.status_code == 302
    assert response["Location"].startswith("/gabiaedu.com/login/?next=")
    assert "_auth_user_id" not in client.session
    body = client.get(response["Location"]).content.decode()
    assert "10분 동안 활동이 없어" in body or "after 10 minutes without activity" in body
    # Signing in again works, and starts a fresh clock.
    sign_in(client)
    assert client.get(MANAGE).status_code == 200


def test_a_forced_login_without_last_seen_is_adopted_not_refused(client, org, clock):
    client.force_login(org.admin)
    assert client.get(MANAGE).status_code == 200
    clock.shift(timedelta(hours=7))
    assert client.get(MANAGE).status_code == 200


def test_session_cookie_lives_as_long_as_the_idle_time(client, org):
    sign_in(client)
    cookie = client.cookies[settings.SESSION_COOKIE_NAME]
    max_age = int(cookie["max-age"])
    assert settings.SESSION_IDLE_SECONDS <= max_age <= settings.SESSION_IDLE_SECONDS + 60
    assert cookie["httponly"]
    assert cookie["samesite"] == "Lax"


def production_environment() -> dict[str, str]:
    """This process's environment less what only tests set, plus the README's."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DATABASE_URL", "DJANGO_ALLOW_ASYNC_UNSAFE"}
    }
    return {**env, **PRODUCTION_ENV, "DJANGO_SETTINGS_MODULE": "mailadmin.settings"}


PRODUCTION_ENV = {
    "DEBUG": "0",
    "SECRET_KEY": "test-production-key-" + "x7Q2pL9mZ4rT8vB1nK6wY3cH5jD0fG" * 2,
    "ALLOWED_HOSTS": "mail.example.com",
    "CSRF_TRUSTED_ORIGINS": "https://mail.example.com",
}


def production_settings(*names: str) -> dict[str, str]:
    code = (
        "import django; django.setup(); from django.conf import settings; "
        f"print(repr({{n: getattr(settings, n) for n in {list(names)!r}}}))"
    )
    env = production_environment()
    out = subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        cwd=settings.BASE_DIR,
        capture_output=True,
        text=True,
        check=True,
    )
    return eval(out.stdout)  # noqa: S307 - our own repr of plain values


def test_production_cookies_are_secure_httponly_and_samesite():
    values = production_settings(
        "SESSION_COOKIE_SECURE",
        "SESSION_COOKIE_HTTPONLY",
        "SESSION_COOKIE_SAMESITE",
        "SESSION_COOKIE_NAME",
        "CSRF_COOKIE_SECURE",
        "CSRF_COOKIE_HTTPONLY",
        "CSRF_COOKIE_SAMESITE",
        "CSRF_COOKIE_NAME",
        "LANGUAGE_COOKIE_SECURE",
        "LANGUAGE_COOKIE_NAME",
        "LANGUAGE_COOKIE_PATH",
        "LANGUAGE_COOKIE_DOMAIN",
    )
    assert values["SESSION_COOKIE_SECURE"] and values["CSRF_COOKIE_SECURE"]
    assert values["SESSION_COOKIE_HTTPONLY"] and values["CSRF_COOKIE_HTTPONLY"]
    assert values["SESSION_COOKIE_SAMESITE"] == values["CSRF_COOKIE_SAMESITE"] == "Lax"
    assert values["SESSION_COOKIE_NAME"].startswith("__Host-")
    assert values["CSRF_COOKIE_NAME"].startswith("__Host-")
    # The language cookie follows the session cookie: __Host- (Secure, path
    # "/", no Domain, or browsers refuse it).
    assert values["LANGUAGE_COOKIE_SECURE"]
    assert values["LANGUAGE_COOKIE_NAME"].startswith("__Host-")
    assert values["LANGUAGE_COOKIE_PATH"] == "/"
    assert values["LANGUAGE_COOKIE_DOMAIN"] is None


def test_check_deploy_is_clean_with_the_readme_production_environment():
    env = production_environment()
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        env=env,
        cwd=settings.BASE_DIR,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout
