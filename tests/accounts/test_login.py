import pytest
from django.urls import reverse

from accounts.models import AuditEvent
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db


def _login(client, domain, login_id, password):
    url = reverse("login", args=[domain])
    first = client.post(url, {"login_id": login_id})
    assert first.status_code == 200
    return client.post(url, {"login_id": login_id, "password": password})


def test_root_asks_for_the_domain_and_sends_to_the_office_login(client, org):
    response = client.get("/", {"domain": "GabiaEdu.com"})
    assert response.status_code == 302
    assert response["Location"] == "/gabiaedu.com/login/"


def test_root_says_when_no_office_uses_the_domain(client, org):
    response = client.get("/", {"domain": "nowhere.example"})
    assert response.status_code == 200
    assert (
        "No office uses this domain." in response.content.decode()
        or "사용하는 오피스가 없습니다" in response.content.decode()
    )


def test_unknown_office_is_a_clear_404(client, db):
    response = client.get("/nowhere.example/login/")
    assert response.status_code == 404


def test_step_one_shows_the_password_step_for_any_id(client, org):
    url = reverse("login", args=["gabiaedu.com"])
    known = client.post(url, {"login_id": "admin"})
    unknown = client.post(url, {"login_id": "nobody"})
    assert known.status_code == unknown.status_code == 200
    assert 'name="password"' in known.content.decode()
    assert 'name="password"' in unknown.content.decode()


def test_right_password_signs_in_and_goes_to_the_office_home(client, org):
    response = _login(client, "gabiaedu.com", "admin", PASSWORD)
    assert response.status_code == 302
    assert response["Location"] == "/gabiaedu.com/"
    assert client.get("/gabiaedu.com/").context["user"] == org.admin
    assert AuditEvent.objects.filter(action="login", actor=org.admin).count() == 1


def test_full_address_works_as_the_id(client, org):
    response = _login(client, "gabiaedu.com", "Admin@gabiaedu.com", PASSWORD)
    assert response.status_code == 302


def test_wrong_password_and_unknown_id_get_the_same_message(client, org):
    wrong = _login(client, "gabiaedu.com", "admin", "wrong").content.decode()
    unknown = _login(client, "gabiaedu.com", "nobody", "wrong").content.decode()

    def errors(body):
        start = body.index('class="form-errors"')
        return body[start : body.index("</div>", start)]

    assert errors(wrong) == errors(unknown)
    assert "incorrect" in errors(wrong) or "올바르지" in errors(wrong)
    assert "_auth_user_id" not in client.session


def test_failed_admin_login_is_audited(client, org):
    _login(client, "gabiaedu.com", "admin", "wrong")
    event = AuditEvent.objects.get(action="login_failed")
    assert event.target == org.admin and event.ip == "127.0.0.1"


def test_suspended_account_cannot_sign_in(client, org):
    response = _login(client, "gabiaedu.com", "jiho.park", PASSWORD)
    assert response.status_code == 200
    assert "_auth_user_id" not in client.session


def test_group_and_shared_mail_cannot_sign_in(client, org):
    from accounts.models import Account

    for account in (org.group, org.shared):
        Account.objects.filter(pk=account.pk).update(password=org.kim.password)
        _login(client, "gabiaedu.com", account.login_id, PASSWORD)
        assert "_auth_user_id" not in client.session


def test_another_offices_admin_cannot_sign_in_here(client, org, other):
    # other's admin has the ID "admin" too, but their password is of their office
    from accounts.models import Account

    Account.objects.filter(pk=org.admin.pk).update(password="!unusable")
    _login(client, "gabiaedu.com", "admin", PASSWORD)
    assert "_auth_user_id" not in client.session


def test_signing_in_to_another_office_replaces_the_session(client, org, other):
    _login(client, "gabiaedu.com", "admin", PASSWORD)
    assert client.get("/gabiaedu.com/manage/").status_code == 200
    _login(client, "other.co.kr", "admin", PASSWORD)
    assert client.get("/other.co.kr/manage/").status_code == 200
    assert client.get("/gabiaedu.com/manage/").status_code == 404


def test_logout_is_post_only_and_ends_the_session(client, org):
    _login(client, "gabiaedu.com", "admin", PASSWORD)
    assert client.get("/gabiaedu.com/logout/").status_code == 405
    response = client.post("/gabiaedu.com/logout/")
    assert response["Location"] == "/gabiaedu.com/login/"
    assert client.get("/gabiaedu.com/manage/").status_code == 302


def test_next_parameter_is_followed_only_within_the_office(client, org):
    url = reverse("login", args=["gabiaedu.com"])
    client.post(url, {"login_id": "admin"})
    response = client.post(
        url, {"login_id": "admin", "password": PASSWORD, "next": "https://evil.example/"}
    )
    assert response["Location"] == "/gabiaedu.com/"
    client.logout()
    response = client.post(
        url, {"login_id": "admin", "password": PASSWORD, "next": "/gabiaedu.com/manage/"}
    )
    assert response["Location"] == "/gabiaedu.com/manage/"


def test_htmx_request_redirected_to_the_login_loads_it_as_a_whole_page(client, org):
    # e.g. the detail pane asked for after the idle timeout signed the admin out
    pane = client.get("/gabiaedu.com/manage/mail/accounts/minjun.kim/", HTTP_HX_REQUEST="true")
    assert pane.status_code == 302
    response = client.get(
        pane["Location"],
        HTTP_HX_REQUEST="true",
        HTTP_HX_CURRENT_URL="http://testserver/gabiaedu.com/manage/mail/accounts/?q=kim",
    )
    assert response["HX-Redirect"] == (
        "/gabiaedu.com/login/?next=%2Fgabiaedu.com%2Fmanage%2Fmail%2Faccounts%2F%3Fq%3Dkim"
    )
    elsewhere = client.get(
        "/gabiaedu.com/login/?next=/gabiaedu.com/manage/",
        HTTP_HX_REQUEST="true",
        HTTP_HX_CURRENT_URL="https://evil.example//evil.example/",
    )
    assert elsewhere["HX-Redirect"] == "/gabiaedu.com/login/?next=%2Fgabiaedu.com%2Fmanage%2F"


def test_every_sign_in_gets_a_new_session_key(client, org, other):
    """Also when the same account signs in again (Django would keep the key),
    so a key planted or seen before the sign-in is worthless after it."""
    client.get(reverse("login", args=["gabiaedu.com"]))
    client.session.save()
    keys = [client.session.session_key]
    for domain in ("gabiaedu.com", "gabiaedu.com", "other.co.kr", "other.co.kr"):
        response = _login(client, domain, "admin", PASSWORD)
        assert response.status_code == 302
        keys.append(client.session.session_key)
    assert None not in keys
    assert len(set(keys)) == len(keys), keys
