"""비우기 (F4, R6, R8): the service and its confirmation."""

from __future__ import annotations

import json

import pytest
from django.db import connection
from django.db.models import Sum
from django.test import Client
from django.test.utils import CaptureQueriesContext

from accounts.models import AuditEvent, Folder, Mailbox, Message
from accounts.services import inbox_of, mailbox_empty
from tests.accounts.usage_data import add_subaccount, bulk_deliver, deliver

pytestmark = pytest.mark.django_db

LIST_URL = "/gabiaedu.com/manage/mail/accounts/"
URL = "/gabiaedu.com/manage/mail/accounts/minjun.kim/empty/"


@pytest.fixture
def mail(org, other):
    """kim has mail in the inbox, sent, a sub-account folder; lee and the
    other office's kim have mail that must survive."""
    sub = add_subaccount(org.kim, "kim-sales")
    deliver(org.kim, 1000, 2000)
    deliver(org.kim, 300, folder=Folder.objects.get(mailbox=org.kim.mailbox, role="sent"))
    deliver(org.kim, 4000, 5000, folder=sub.folder)
    deliver(org.lee, 777)
    deliver(other.kim, 888)
    return org


def counters(account):
    mailbox = Mailbox.objects.get(account=account)
    return mailbox.used_bytes, mailbox.message_count


def stored(account):
    messages = Message.objects.filter(mailbox__account=account)
    return messages.aggregate(size=Sum("size_bytes"))["size"] or 0, messages.count()


# -- the service ----------------------------------------------------------------


def test_empty_deletes_every_message_and_zeroes_the_counters(mail, other):
    folders_before = Folder.objects.filter(mailbox=mail.kim.mailbox).count()
    result = mailbox_empty(account=mail.kim, actor=mail.admin, ip="192.0.2.7")
    assert (result.messages, result.bytes) == (5, 12300)
    assert counters(mail.kim) == (0, 0) == stored(mail.kim)  # R6
    assert Folder.objects.filter(mailbox=mail.kim.mailbox).count() == folders_before
    assert mail.kim.subaccounts.count() == 1  # sub-accounts stay


def test_empty_leaves_other_accounts_untouched(mail, other):
    mailbox_empty(account=mail.kim, actor=mail.admin)
    assert counters(mail.lee) == (777, 1) == stored(mail.lee)
    assert counters(other.kim) == (888, 1) == stored(other.kim)


def test_empty_writes_the_audit_event(mail):
    mailbox_empty(account=mail.kim, actor=mail.admin, ip="192.0.2.7")
    event = AuditEvent.objects.get(action=AuditEvent.Action.MAILBOX_EMPTY)
    assert event.office == mail.office
    assert event.actor == mail.admin
    assert event.target == mail.kim
    assert event.target_label == "minjun.kim"
    assert event.ip == "192.0.2.7"
    assert event.data["messages"] == 5
    assert event.data["bytes"] == 12300


def test_emptying_an_empty_mailbox_is_harmless(org):
    result = mailbox_empty(account=org.lee, actor=org.admin)
    assert (result.messages, result.bytes) == (0, 0)
    assert counters(org.lee) == (0, 0)


def test_a_failing_audit_rolls_the_emptying_back(mail, monkeypatch):
    def broken(**kwargs):
        raise RuntimeError("audit store down")

    monkeypatch.setattr("accounts.audit.record", broken)
    with pytest.raises(RuntimeError):
        mailbox_empty(account=mail.kim, actor=mail.admin)
    assert counters(mail.kim) == (12300, 5) == stored(mail.kim)


def test_delivery_after_emptying_counts_from_zero(mail):
    mailbox_empty(account=mail.kim, actor=mail.admin)
    deliver(mail.kim, 42)
    assert counters(mail.kim) == (42, 1) == stored(mail.kim)


def _statements(account, actor):
    with CaptureQueriesContext(connection) as captured:
        mailbox_empty(account=account, actor=actor)
    return [q["sql"] for q in captured]


def test_statement_count_does_not_depend_on_the_mailbox_size(org):
    """One DELETE for the lot: 10 messages and 50,000 messages take the
    same statements (on PostgreSQL as on SQLite)."""
    bulk_deliver(org.lee, 10, 100)
    small = _statements(org.lee, org.admin)
    bulk_deliver(org.kim, 50_000, 100)
    assert counters(org.kim) == (5_000_000, 50_000)
    large = _statements(org.kim, org.admin)
    assert len(large) == len(small), large
    assert sum(1 for sql in large if sql.lstrip().upper().startswith("DELETE")) == 1
    assert counters(org.kim) == (0, 0) == stored(org.kim)
    assert not Message.objects.filter(mailbox=org.kim.mailbox).exists()
    if connection.vendor == "postgresql":
        assert any("FOR UPDATE" in sql for sql in large)  # the mailbox is locked


# -- the confirmation and the POST ----------------------------------------------


def test_get_shows_the_confirmation_and_deletes_nothing(admin_client, mail):
    response = admin_client.get(URL)
    assert response.status_code == 200
    body = response.content.decode()
    assert "김민준" in body and "minjun.kim@gabiaedu.com" in body
    assert 'id="empty-messages">5<' in body
    assert "12.0 KB" in body and "12,300" in body
    assert "되돌릴 수 없습니다" in body
    assert "<html" in body  # a whole page without JavaScript
    assert 'action="/gabiaedu.com/manage/mail/accounts/minjun.kim/empty/"' in body
    assert "csrfmiddlewaretoken" in body
    assert counters(mail.kim) == (12300, 5) == stored(mail.kim)
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.MAILBOX_EMPTY).exists()


def test_htmx_get_returns_the_dialog_body(admin_client, mail):
    response = admin_client.get(URL, HTTP_HX_REQUEST="true", HTTP_HX_TARGET="modal-body")
    body = response.content.decode()
    assert "<html" not in body
    assert 'id="modal-title"' in body and "data-modal-close" in body
    assert f'hx-post="{URL}"' in body


def test_post_empties_and_returns_to_the_list_with_its_filters(admin_client, mail):
    back = LIST_URL + "?q=kim&sort=-usage"
    response = admin_client.post(URL, {"next": back}, REMOTE_ADDR="192.0.2.9")
    assert response.status_code == 302
    assert response["Location"] == back
    assert counters(mail.kim) == (0, 0) == stored(mail.kim)
    assert AuditEvent.objects.get(action=AuditEvent.Action.MAILBOX_EMPTY).ip == "192.0.2.9"
    page = admin_client.get(back).content.decode()
    assert "김민준(minjun.kim)의 메일함을 비웠습니다: 메일 5개, 12.0 KB 삭제." in page


@pytest.mark.parametrize(
    "next_url",
    ["https://evil.example/", "//evil.example/x", "/other.co.kr/manage/mail/accounts/", ""],
)
def test_post_never_redirects_elsewhere(admin_client, mail, next_url):
    response = admin_client.post(URL, {"next": next_url})
    assert response["Location"] == LIST_URL


def test_htmx_post_closes_the_dialog_and_tells_the_list(admin_client, mail):
    response = admin_client.post(URL, HTTP_HX_REQUEST="true", HTTP_HX_TARGET="modal-body")
    assert response.status_code == 204
    trigger = json.loads(response["HX-Trigger"])
    assert trigger == {"mailboxEmptied": {"login_id": "minjun.kim"}, "closeModal": True}
    assert list(trigger) == ["mailboxEmptied", "closeModal"]  # the list hears it first
    assert counters(mail.kim) == (0, 0)
    # The refreshed table shows the usage at 0 and the message.
    table = admin_client.get(
        LIST_URL, {"q": "minjun"}, HTTP_HX_REQUEST="true", HTTP_HX_TARGET="account-table"
    ).content.decode()
    assert "0 B" in table and "메일함을 비웠습니다" in table


def test_post_without_csrf_token_is_refused(mail):
    client = Client(enforce_csrf_checks=True)
    client.force_login(mail.admin)
    response = client.post(URL)
    assert response.status_code == 403
    assert counters(mail.kim) == (12300, 5) == stored(mail.kim)


def test_post_with_csrf_token_works(mail):
    client = Client(enforce_csrf_checks=True)
    client.force_login(mail.admin)
    client.get(URL)
    token = client.cookies["csrftoken"].value
    response = client.post(URL, {"csrfmiddlewaretoken": token})
    assert response.status_code == 302
    assert counters(mail.kim) == (0, 0)


def test_other_methods_are_refused(admin_client, mail):
    assert admin_client.put(URL).status_code == 405
    assert admin_client.delete(URL).status_code == 405
    assert counters(mail.kim) == (12300, 5)


def test_account_without_mail_or_unknown_is_404(admin_client, org):
    assert admin_client.get("/gabiaedu.com/manage/mail/accounts/nomail/empty/").status_code == 404
    assert admin_client.post("/gabiaedu.com/manage/mail/accounts/nobody/empty/").status_code == 404


def test_id_is_case_insensitive(admin_client, mail):
    assert (
        admin_client.get("/gabiaedu.com/manage/mail/accounts/MinJun.Kim/empty/").status_code == 200
    )


# -- who may do it (F2, R7) --------------------------------------------------------


def test_admin_of_another_office_gets_404_and_nothing_changes(other_admin_client, mail):
    assert other_admin_client.get(URL).status_code == 404
    assert other_admin_client.post(URL).status_code == 404
    assert counters(mail.kim) == (12300, 5)


def test_another_offices_account_cannot_be_reached_through_this_office(admin_client, mail, other):
    # other.kim has the same ID in the other office: this office's admin
    # empties only this office's minjun.kim.
    admin_client.post(URL)
    assert counters(other.kim) == (888, 1)


def test_ordinary_account_gets_403(user_client, mail):
    assert user_client.get(URL).status_code == 403
    assert user_client.post(URL).status_code == 403
    assert counters(mail.kim) == (12300, 5)


def test_signed_out_visitor_is_sent_to_login(client, mail):
    response = client.post(URL)
    assert response.status_code == 302
    assert response["Location"].startswith("/gabiaedu.com/login/")
    assert counters(mail.kim) == (12300, 5)


def test_inbox_still_receives_after_emptying(admin_client, mail):
    admin_client.post(URL)
    deliver(mail.kim, 10, folder=inbox_of(mail.kim.mailbox))
    assert counters(mail.kim) == (10, 1)
