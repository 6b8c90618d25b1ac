import pytest

pytestmark = pytest.mark.django_db


def test_signed_out_visitor_is_sent_to_that_offices_login(client, org):
    response = client.get("/gabiaedu.com/manage/")
    assert response.status_code == 302
    assert response["Location"].startswith("/gabiaedu.com/login/?next=")


def test_ordinary_account_gets_403(user_client):
    assert user_client.get("/gabiaedu.com/manage/").status_code == 403


def test_admin_of_another_office_gets_404(other_admin_client):
    assert other_admin_client.get("/gabiaedu.com/manage/").status_code == 404
    assert other_admin_client.post("/gabiaedu.com/manage/").status_code == 404


def test_unknown_domain_under_manage_is_404(admin_client):
    assert admin_client.get("/unknown.example/manage/").status_code == 404


def test_home_shows_the_management_button_only_to_super_admins(client, org):
    client.force_login(org.admin)
    assert 'id="go-manage"' in client.get("/gabiaedu.com/").content.decode()
    client.force_login(org.kim)
    assert 'id="go-manage"' not in client.get("/gabiaedu.com/").content.decode()


def test_dashboard_counts_and_menu_lead_to_the_usage_screen(admin_client, org):
    response = admin_client.get("/gabiaedu.com/manage/")
    assert response.status_code == 200
    assert response.context["accounts_total"] == 7
    assert response.context["mail_users"] == 6
    assert response.context["accounts_suspended"] == 1
    body = response.content.decode()
    assert 'href="/gabiaedu.com/manage/mail/"' in body
    mail = admin_client.get("/gabiaedu.com/manage/mail/").content.decode()
    assert 'href="/gabiaedu.com/manage/mail/accounts/"' in mail


def test_korean_is_the_default_whatever_the_browser_asks(admin_client):
    response = admin_client.get("/gabiaedu.com/manage/", HTTP_ACCEPT_LANGUAGE="en-US,en;q=0.9")
    assert response["Content-Language"] == "ko"


def test_language_switch_is_remembered(admin_client):
    admin_client.post("/i18n/setlang/", {"language": "en", "next": "/gabiaedu.com/manage/"})
    assert admin_client.get("/gabiaedu.com/manage/")["Content-Language"] == "en"
