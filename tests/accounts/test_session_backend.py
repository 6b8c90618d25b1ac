"""A signed-in page finds the account and its office in one statement, and
the sessions signed in before that keep working."""

from __future__ import annotations

import pytest
from django.contrib.sessions.backends.db import SessionStore
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tests.conftest import build_office
from tests.factories import PASSWORD, migrate_to

pytestmark = pytest.mark.django_db

MODEL_BACKEND = "django.contrib.auth.backends.ModelBackend"
ACCOUNT_BACKEND = "accounts.backends.AccountBackend"


def office_queries(captured) -> list[str]:
    return [q["sql"] for q in captured if q["sql"].startswith('SELECT "accounts_office"')]


def test_the_console_reads_the_office_with_the_account(admin_client, org):
    url = reverse("users", args=[org.office.domain])
    with CaptureQueriesContext(connection) as captured:
        response = admin_client.get(url)
    assert response.status_code == 200
    assert response.wsgi_request.session["_auth_user_backend"] == ACCOUNT_BACKEND
    assert office_queries(captured.captured_queries) == []
    account_queries = [
        q["sql"] for q in captured.captured_queries if '"accounts_office"' in q["sql"]
    ]
    assert any('INNER JOIN "accounts_office"' in sql for sql in account_queries)


def test_another_offices_admin_still_gets_no_page(client, org, other):
    client.force_login(other.admin)
    with CaptureQueriesContext(connection) as captured:
        response = client.get(reverse("users", args=[org.office.domain]))
    assert response.status_code == 404
    # Its own office is not this page's: this one is looked up by domain.
    assert len(office_queries(captured.captured_queries)) == 1


def test_a_real_sign_in_names_the_account_backend(client, org):
    domain = org.office.domain
    url = reverse("login", args=[domain])
    client.post(url, {"login_id": "admin"})
    client.post(url, {"login_id": "admin", "password": PASSWORD})
    assert client.session["_auth_user_backend"] == ACCOUNT_BACKEND
    assert client.get(reverse("users", args=[domain])).status_code == 200


BEFORE = [("accounts", "0019_audit_label_in_index")]
AFTER = [("accounts", "0020_session_backend")]


@pytest.mark.django_db(transaction=True)
def test_sessions_signed_in_before_the_upgrade_stay_signed_in(client):
    org = build_office("session.test")
    url = reverse("users", args=[org.office.domain])
    migrate_to(BEFORE)
    try:
        # A session as the previous version wrote it.
        client.force_login(org.admin, backend=MODEL_BACKEND)
        # That backend is no longer configured: Django would sign it out.
        assert client.get(url).status_code == 302
        client.force_login(org.admin, backend=MODEL_BACKEND)
        key = client.session.session_key
        migrate_to(AFTER)
        assert SessionStore(key).load()["_auth_user_backend"] == ACCOUNT_BACKEND
        assert client.get(url).status_code == 200
        migrate_to(BEFORE)
        assert SessionStore(key).load()["_auth_user_backend"] == MODEL_BACKEND
    finally:
        call_command("migrate", verbosity=0)
