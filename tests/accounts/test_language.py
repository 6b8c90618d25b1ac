"""The language switch persists per user (SPEC N5): Korean unless the user
chose English; the choice follows the account to any browser."""

import pytest
from django.test import Client

from accounts.models import Account
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db

COOKIE = "mailadmin_language"


def switch(client, language, next_url="/gabiaedu.com/manage/"):
    return client.post("/i18n/setlang/", {"language": language, "next": next_url})


def sign_in(client, login_id="admin"):
    url = "/gabiaedu.com/login/"
    client.post(url, {"login_id": login_id})
    return client.post(url, {"login_id": login_id, "password": PASSWORD})


def test_switching_while_signed_in_remembers_the_choice_with_the_account(admin_client, org):
    response = switch(admin_client, "en")
    assert response.status_code == 302
    assert response["Location"] == "/gabiaedu.com/manage/"
    assert response.cookies[COOKIE].value == "en"
    org.admin.refresh_from_db()
    assert org.admin.language == "en"
    switch(admin_client, "ko")
    org.admin.refresh_from_db()
    assert org.admin.language == "ko"


def test_the_choice_is_applied_at_sign_in_in_another_browser(client, org):
    Account.objects.filter(pk=org.admin.pk).update(language="en")
    fresh = Client()
    response = sign_in(fresh)
    assert response.status_code == 302
    assert response.cookies[COOKIE].value == "en"
    page = fresh.get("/gabiaedu.com/manage/")
    assert page["Content-Language"] == "en"
    assert '<html lang="en">' in page.content.decode()


def test_sign_in_without_a_stored_choice_leaves_the_browser_language(client, org):
    client.cookies[COOKIE] = "en"
    response = sign_in(client)
    assert COOKIE not in response.cookies
    assert client.get("/gabiaedu.com/manage/")["Content-Language"] == "en"


def test_switching_signed_out_changes_only_the_browser(client, org):
    response = switch(client, "en", "/gabiaedu.com/login/")
    assert response.cookies[COOKIE].value == "en"
    assert not Account.objects.exclude(language="").exists()


def test_unknown_language_is_ignored(admin_client, org):
    response = switch(admin_client, "xx")
    assert response.status_code == 302
    assert COOKIE not in response.cookies
    org.admin.refresh_from_db()
    assert org.admin.language == ""


def test_each_user_keeps_their_own_language(client, org):
    Account.objects.filter(pk=org.admin.pk).update(language="en")
    Account.objects.filter(pk=org.kim.pk).update(language="ko")
    assert sign_in(Client(), "admin").cookies[COOKIE].value == "en"
    assert sign_in(Client(), "minjun.kim").cookies[COOKIE].value == "ko"


def test_browser_accept_language_is_ignored(admin_client):
    page = admin_client.get("/gabiaedu.com/manage/", HTTP_ACCEPT_LANGUAGE="en-US,en;q=0.9")
    assert page["Content-Language"] == "ko"
