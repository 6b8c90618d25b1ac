"""A signed-in page finds its session, the account and the account's office
in one statement, Django's checks on that account still apply, and the
sessions signed in before each change keep working."""

from __future__ import annotations

import datetime as dt
import importlib
import re

import pytest
from asgiref.sync import async_to_sync
from django.contrib.auth.models import AnonymousUser
from django.contrib.sessions.backends.db import SessionStore as DjangoSessionStore
from django.core.management import call_command
from django.db import connection
from django.db.migrations.loader import MigrationLoader
from django.test import Client, RequestFactory, override_settings
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.models import Account, AccountSession
from accounts.sessions import SessionStore, account_loaded_with
from mailadmin.middleware import AuthenticationMiddleware
from tests.conftest import build_office
from tests.factories import PASSWORD, migrate_to

pytestmark = pytest.mark.django_db

MODEL_BACKEND = "django.contrib.auth.backends.ModelBackend"
ACCOUNT_BACKEND = "accounts.backends.AccountBackend"
DJANGO_ENGINE = "django.contrib.sessions.backends.db"


def users_url(org) -> str:
    return reverse("users", args=[org.office.domain])


def statements(client, url, **extra) -> tuple[object, list[str]]:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url, **extra)
    return response, [q["sql"] for q in captured.captured_queries]


def reads_account(sql: str, account) -> bool:
    """A statement that looks up this one account by its id."""
    return re.search(rf'"accounts_account"\."id" = {account.pk}\b', sql) is not None


def session_row(client) -> AccountSession:
    return AccountSession.objects.get(pk=client.session.session_key)


# -- One statement ------------------------------------------------------------


def test_the_session_brings_the_account_and_its_office(admin_client, org):
    response, sql = statements(admin_client, users_url(org))
    assert response.status_code == 200
    assert response.wsgi_request.user == org.admin
    assert response.wsgi_request.session["_auth_user_backend"] == ACCOUNT_BACKEND
    first, *rest = sql
    assert first.startswith('SELECT "accounts_accountsession"')
    assert 'JOIN "accounts_account"' in first and 'JOIN "accounts_office"' in first
    # Neither the account nor an office is read again by itself.
    assert not any(reads_account(s, org.admin) for s in rest)
    assert not any(s.startswith('SELECT "accounts_office"') for s in rest)


def test_a_row_without_its_account_costs_the_query_it_saves(admin_client, org):
    url = users_url(org)
    admin_client.get(url)
    _, joined = statements(admin_client, url)
    # A row that does not name the account (written by another engine, or
    # naming someone else): the account is looked up as before, with its
    # office, one statement more.
    AccountSession.objects.filter(pk=admin_client.session.session_key).update(account=org.kim)
    response, looked_up = statements(admin_client, url)
    assert response.status_code == 200
    assert response.wsgi_request.user == org.admin
    assert len(looked_up) == len(joined) + 1
    (lookup,) = [s for s in looked_up if reads_account(s, org.admin)]
    assert 'JOIN "accounts_office"' in lookup


def test_another_offices_admin_still_gets_no_page(client, org, other):
    client.force_login(other.admin)
    with CaptureQueriesContext(connection) as captured:
        response = client.get(users_url(org))
    assert response.status_code == 404
    # Its own office is not this page's: this one is looked up by domain.
    offices = [
        q for q in captured.captured_queries if q["sql"].startswith('SELECT "accounts_office"')
    ]
    assert len(offices) == 1


def test_the_row_follows_the_signed_in_account(client, org):
    domain = org.office.domain
    url = reverse("login", args=[domain])
    client.post(url, {"login_id": "admin"})
    client.post(url, {"login_id": "admin", "password": PASSWORD})
    assert client.session["_auth_user_backend"] == ACCOUNT_BACKEND
    assert session_row(client).account_id == org.admin.pk
    assert client.get(users_url(org)).status_code == 200
    key = client.session.session_key
    client.post(reverse("logout", args=[domain]))
    assert not AccountSession.objects.filter(pk=key).exists()
    assert client.get(users_url(org)).status_code == 302
    client.post(url, {"login_id": "admin"})
    client.post(url, {"login_id": "admin", "password": PASSWORD})
    assert session_row(client).account_id == org.admin.pk
    assert client.get(users_url(org)).status_code == 200


def test_a_session_nobody_signed_in_on_names_no_account(org):
    store = SessionStore()
    store["pending"] = {"account": org.admin.pk}
    store.save()
    row = AccountSession.objects.get(pk=store.session_key)
    assert row.account_id is None
    assert row.get_decoded() == {"pending": {"account": org.admin.pk}}
    loaded = SessionStore(store.session_key)
    assert loaded.load() == {"pending": {"account": org.admin.pk}}
    assert loaded.loaded_account is None


def test_deleting_an_account_deletes_its_sessions(client, org):
    client.force_login(org.kim)
    Client().force_login(org.kim)
    Client().force_login(org.admin)
    assert AccountSession.objects.filter(account=org.kim).count() == 2
    Account.objects.get(pk=org.kim.pk).delete()
    assert not AccountSession.objects.filter(account_id=org.kim.pk).exists()
    assert AccountSession.objects.filter(account=org.admin).count() == 1


# -- Django's checks still apply to the account the row brought ---------------


@pytest.mark.parametrize(
    "change",
    [
        {"status": Account.Status.SUSPENDED},
        {"deleted_at": dt.datetime(2025, 1, 1, tzinfo=dt.UTC)},
    ],
    ids=["suspended", "deleted"],
)
def test_an_account_that_may_not_sign_in_gets_no_user(admin_client, org, change):
    assert admin_client.get(users_url(org)).status_code == 200
    Account.objects.filter(pk=org.admin.pk).update(**change)
    response, sql = statements(admin_client, users_url(org))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login", args=[org.office.domain]))
    assert isinstance(response.wsgi_request.user, AnonymousUser)
    assert not any(reads_account(s, org.admin) for s in sql)


def test_a_changed_password_still_signs_the_session_out(admin_client, org):
    assert admin_client.get(users_url(org)).status_code == 200
    key = admin_client.session.session_key
    account = Account.objects.get(pk=org.admin.pk)
    account.set_password("another " + PASSWORD)
    account.save()
    response = admin_client.get(users_url(org))
    assert response.status_code == 302
    assert isinstance(response.wsgi_request.user, AnonymousUser)
    # Django flushed the session whose hash no longer matches.
    assert not AccountSession.objects.filter(pk=key).exists()


def test_the_account_is_only_on_offer_while_the_user_is_resolved(admin_client, org):
    response = admin_client.get(users_url(org))
    assert response.wsgi_request.session.loaded_account == org.admin
    assert account_loaded_with(org.admin.pk) is None


def _request_through_the_middleware(client):
    request = RequestFactory().get("/")
    request.session = SessionStore(client.session.session_key)
    AuthenticationMiddleware(lambda request: None).process_request(request)
    return request


def test_the_user_is_the_same_resolved_sync_or_async(admin_client, org):
    request = _request_through_the_middleware(admin_client)
    with CaptureQueriesContext(connection) as captured:
        user = async_to_sync(request.auser)()
    assert user == org.admin and user.office == org.office
    assert len(captured) == 1
    request = _request_through_the_middleware(admin_client)
    with CaptureQueriesContext(connection) as captured:
        assert request.user == org.admin
        assert request.user.office == org.office
    assert len(captured) == 1
    assert account_loaded_with(org.admin.pk) is None


def test_clearsessions_deletes_the_expired_rows(client, org):
    client.force_login(org.admin)
    live = client.session.session_key
    old = SessionStore()
    old["_auth_user_id"] = str(org.kim.pk)
    old.set_expiry(timezone.now() - dt.timedelta(seconds=1))
    old.save()
    assert AccountSession.objects.count() == 2
    call_command("clearsessions")
    assert list(AccountSession.objects.values_list("pk", flat=True)) == [live]


# -- Upgrades -----------------------------------------------------------------


BEFORE_BACKEND = [("accounts", "0019_audit_label_in_index")]
AFTER_BACKEND = [("accounts", "0020_session_backend")]


@pytest.mark.django_db(transaction=True)
def test_sessions_signed_in_before_the_backend_rename_stay_signed_in():
    org = build_office("session.test")
    url = users_url(org)
    migrate_to(BEFORE_BACKEND)
    try:
        # Django's own session table, as the versions of then used it.
        with override_settings(SESSION_ENGINE=DJANGO_ENGINE):
            client = Client()
            # A session as the previous version wrote it.
            client.force_login(org.admin, backend=MODEL_BACKEND)
            # That backend is no longer configured: Django would sign it out.
            assert client.get(url).status_code == 302
            client.force_login(org.admin, backend=MODEL_BACKEND)
            key = client.session.session_key
            migrate_to(AFTER_BACKEND)
            assert DjangoSessionStore(key).load()["_auth_user_backend"] == ACCOUNT_BACKEND
            assert client.get(url).status_code == 200
            migrate_to(BEFORE_BACKEND)
            assert DjangoSessionStore(key).load()["_auth_user_backend"] == MODEL_BACKEND
    finally:
        call_command("migrate", verbosity=0)


BEFORE_TABLE = [("accounts", "0021_listing_orders_cover_flags")]
AFTER_TABLE = [("accounts", "0022_account_session")]


@pytest.mark.django_db(transaction=True)
def test_sessions_signed_in_before_the_account_column_stay_signed_in(monkeypatch):
    # Moved a few at a time, so that the batches' seams are crossed too.
    moving = importlib.import_module("accounts.migrations.0022_account_session")
    monkeypatch.setattr(moving, "BATCH", 2)
    loaded = MigrationLoader(connection).get_migration("accounts", "0022_account_session")
    assert loaded.operations[-1].code is moving.forwards
    org = build_office("session.test")
    url = users_url(org)
    migrate_to(BEFORE_TABLE)
    try:
        with override_settings(SESSION_ENGINE=DJANGO_ENGINE):
            before = Client()
            before.force_login(org.admin)
            assert before.get(url).status_code == 200
            key = before.session.session_key
            others = {}
            for account in (org.kim, org.lee, org.kim):
                signed_in = Client()
                signed_in.force_login(account)
                others[signed_in.session.session_key] = account.pk
            # A session of an account that is gone by now, and an expired one.
            gone = DjangoSessionStore()
            gone["_auth_user_id"] = "987654"
            gone.save()
            expired = DjangoSessionStore()
            expired["_auth_user_id"] = str(org.kim.pk)
            expired.set_expiry(timezone.now() - dt.timedelta(seconds=1))
            expired.save()
        migrate_to(AFTER_TABLE)
        rows = dict(AccountSession.objects.values_list("pk", "account_id"))
        assert rows == {key: org.admin.pk, gone.session_key: None, **others}
        after = Client()
        after.cookies = before.cookies
        response, sql = statements(after, url)
        assert response.status_code == 200
        assert response.wsgi_request.user == org.admin
        assert not any(reads_account(s, org.admin) for s in sql[1:])
        # And back: the session works with Django's table again.
        migrate_to(BEFORE_TABLE)
        with override_settings(SESSION_ENGINE=DJANGO_ENGINE):
            again = Client()
            again.cookies = before.cookies
            assert again.get(url).status_code == 200
            assert DjangoSessionStore(key).load()["_auth_user_id"] == str(org.admin.pk)
            for other_key, pk in others.items():
                assert DjangoSessionStore(other_key).load()["_auth_user_id"] == str(pk)
    finally:
        call_command("migrate", verbosity=0)
