"""삭제/복구: a deleted user stops working at once everywhere (web sign-in,
the usage list, the mail servers' lookups, its sub-accounts) but is kept,
restorable unchanged, for 30 days; purge_deleted_users then removes it and
its mail and frees its IDs."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.utils import timezone

from accounts import account_services as svc
from accounts import mailserver
from accounts.models import Account, Address, AuditEvent, Mailbox, MailListing, Message
from accounts.services import DomainError, inbox_of, message_deliver
from tests.accounts.mail_helpers import make_subaccount
from tests.factories import MB, PASSWORD

pytestmark = pytest.mark.django_db

DOMAIN = "gabiaedu.com"
USERS = f"/{DOMAIN}/manage/users/"
DELETED = f"{USERS}_deleted/"
USAGE = f"/{DOMAIN}/manage/mail/accounts/"


def can_sign_in(login_id: str, password: str = PASSWORD) -> bool:
    response = Client().post(f"/{DOMAIN}/login/", {"login_id": login_id, "password": password})
    return response.status_code == 302


def lookup(query: str, values: dict[str, str]):
    with connection.cursor() as cursor:
        cursor.execute(mailserver.expand(query, values))
        return cursor.fetchall()


def mail_servers_know(login_id: str, subaccount: str) -> dict[str, bool]:
    """What Postfix's maps and Dovecot's queries answer for the account."""
    return {
        "mailbox": bool(lookup(mailserver.postfix_mailbox_query(), {"%u": login_id, "%d": DOMAIN})),
        "alias": bool(lookup(mailserver.postfix_alias_query(), {"%u": subaccount, "%d": DOMAIN})),
        "password": bool(
            lookup(
                mailserver.dovecot_password_query(),
                {"%s": "imap", "%n": login_id, "%d": DOMAIN},
            )
        ),
        "user": bool(lookup(mailserver.dovecot_user_query(), {"%n": login_id, "%d": DOMAIN})),
    }


@pytest.fixture
def kim_with_mail(org, settings):
    from tests.accounts.test_mailserver_config import ARGON2_FIRST

    # Argon2 (cheap) so Dovecot's password query has a hash it answers with.
    settings.PASSWORD_HASHERS = ARGON2_FIRST
    org.kim.set_password(PASSWORD)
    org.kim.save(update_fields=["password"])
    make_subaccount(org.kim, "sales.kim")
    for size in (3 * MB, 2 * MB):
        message_deliver(folder=inbox_of(org.kim.mailbox), size_bytes=size)
    org.kim.refresh_from_db()
    return org


def test_a_deleted_user_stops_working_everywhere_and_a_restore_brings_it_back(
    kim_with_mail, admin_client
):
    org = kim_with_mail
    assert mail_servers_know("minjun.kim", "sales.kim") == dict.fromkeys(
        ("mailbox", "alias", "password", "user"), True
    )
    listed_before = admin_client.get(USAGE).context["listing"]
    assert "minjun.kim" in {a.login_id for a in listed_before.rows}
    before = (
        Account.objects.filter(pk=org.kim.pk).values().get(),
        list(Address.objects.filter(account=org.kim).values()),
        Mailbox.objects.filter(account=org.kim).values().get(),
    )

    facts = svc.account_delete(actor=org.admin, account=org.kim)
    assert (facts.used_bytes, facts.messages, facts.subaccounts) == (5 * MB, 2, 1)

    assert not can_sign_in("minjun.kim")
    assert mail_servers_know("minjun.kim", "sales.kim") == dict.fromkeys(
        ("mailbox", "alias", "password", "user"), False
    )
    listing = admin_client.get(USAGE).context["listing"]
    assert "minjun.kim" not in {a.login_id for a in listing.rows}
    assert listing.total == listed_before.total - 1
    assert admin_client.get(USAGE, {"q": "minjun"}).context["listing"].filtered_count == 0
    assert admin_client.get(f"{USAGE}minjun.kim/").status_code == 404
    assert admin_client.get(f"{USERS}minjun.kim/").status_code == 404
    assert "minjun.kim" not in admin_client.get(USERS).content.decode()
    deleted_page = admin_client.get(DELETED)
    assert 'data-login-id="minjun.kim"' in deleted_page.content.decode()
    # Its IDs stay taken, the sub-account's too.
    for login_id in ("minjun.kim", "sales.kim"):
        with pytest.raises(DomainError) as refused:
            svc.account_create(actor=org.admin, office=org.office, login_id=login_id, name="X")
        assert refused.value.code == "login_id_taken"

    svc.account_restore(actor=org.admin, account=org.kim)
    after = (
        Account.objects.filter(pk=org.kim.pk).values().get(),
        list(Address.objects.filter(account=org.kim).values()),
        Mailbox.objects.filter(account=org.kim).values().get(),
    )
    assert after == before
    assert can_sign_in("minjun.kim")
    assert all(mail_servers_know("minjun.kim", "sales.kim").values())
    assert admin_client.get(USAGE).context["listing"].total == listed_before.total
    assert admin_client.get(USAGE, {"q": "minjun"}).context["listing"].filtered_count == 1
    actions = list(
        AuditEvent.objects.filter(target=org.kim)
        .filter(action__in=["account_delete", "account_restore"])
        .values_list("action", flat=True)
        .order_by("pk")
    )
    assert actions == ["account_delete", "account_restore"]


def test_nobody_deletes_themselves_or_the_last_super_admin(org):
    with pytest.raises(DomainError) as refused:
        svc.account_delete(actor=org.admin, account=org.admin)
    assert refused.value.code == "delete_self"
    second = Account.objects.create_account(
        office=org.office, login_id="second", name="Second", role=Account.Role.SUPER_ADMIN
    )
    svc.account_delete(actor=second, account=org.admin)  # another admin remains
    with pytest.raises(DomainError):
        svc.account_delete(actor=second, account=second)


def test_the_last_super_admin_cannot_be_deleted_by_another_writer(org):
    second = Account.objects.create_account(
        office=org.office, login_id="second", name="Second", role=Account.Role.SUPER_ADMIN
    )
    second.status = Account.Status.SUSPENDED
    second.save(update_fields=["status"])
    # Only one *active* super admin: a suspended one does not count.
    with pytest.raises(DomainError) as refused:
        svc.account_delete(actor=second, account=org.admin)
    assert refused.value.code in ("delete_last_admin", "not_allowed")


def test_purge_removes_only_users_deleted_30_days_ago_and_frees_their_ids(kim_with_mail):
    org = kim_with_mail
    svc.account_delete(actor=org.admin, account=org.kim)
    svc.account_delete(actor=org.admin, account=org.lee)
    # 29 days on, nothing is due.
    assert svc.purge_deleted_users(now=timezone.now() + timedelta(days=29)).accounts == 0
    # Kim was deleted 31 days ago, Lee just now.
    Account.objects.filter(pk=org.kim.pk).update(deleted_at=timezone.now() - timedelta(days=31))
    purged = svc.purge_deleted_users()
    assert purged.accounts == 1 and purged.messages == 2 and purged.bytes == 5 * MB
    assert not Account.objects.filter(pk=org.kim.pk).exists()
    assert not Message.objects.filter(office=org.office, mailbox__account_id=org.kim.pk).exists()
    assert not Address.objects.filter(local_part__in=["minjun.kim", "sales.kim"]).exists()
    assert not MailListing.objects.filter(account_id=org.kim.pk).exists()
    assert Account.objects.filter(pk=org.lee.pk).exists()
    # Idempotent.
    assert svc.purge_deleted_users().accounts == 0
    [event] = AuditEvent.objects.filter(action=AuditEvent.Action.ACCOUNT_PURGE)
    assert event.target_label == "minjun.kim" and event.data["messages"] == 2
    # The IDs are free again.
    svc.account_create(actor=org.admin, office=org.office, login_id="minjun.kim", name="새 김민준")
    svc.account_create(actor=org.admin, office=org.office, login_id="sales.kim", name="영업")


def test_purge_command(kim_with_mail):
    org = kim_with_mail
    svc.account_delete(actor=org.admin, account=org.kim)
    Account.objects.filter(pk=org.kim.pk).update(deleted_at=timezone.now() - timedelta(days=31))
    out = io.StringIO()
    call_command("purge_deleted_users", stdout=out)
    assert "Purged 1 deleted user(s)" in out.getvalue()
    out = io.StringIO()
    call_command("purge_deleted_users", "--domain", DOMAIN, stdout=out)
    assert "Purged 0 deleted user(s)" in out.getvalue()


def test_delete_page_confirms_with_name_and_mail_size_then_deletes(kim_with_mail, admin_client):
    org = kim_with_mail
    url = f"{USERS}minjun.kim/delete/"
    confirm = admin_client.get(url)
    assert confirm.status_code == 200
    body = confirm.content.decode()
    assert "김민준" in body and "minjun.kim@gabiaedu.com" in body and "5.0 MB" in body
    response = admin_client.post(url)
    assert response.status_code == 302
    assert Account.objects.get(pk=org.kim.pk).is_deleted
    # Restoring through the deleted users page.
    response = admin_client.post(DELETED, {"login_id": "minjun.kim"})
    assert response.status_code == 302
    assert not Account.objects.get(pk=org.kim.pk).is_deleted
    # An ID that is not deleted is not restorable.
    assert admin_client.post(DELETED, {"login_id": "minjun.kim"}).status_code == 404


def test_deleting_the_last_admin_through_the_page_shows_why(org, client):
    second = Account.objects.create_account(
        office=org.office, login_id="second", name="Second", role=Account.Role.SUPER_ADMIN
    )
    client.force_login(second)
    response = client.post(f"{USERS}second/delete/")
    assert response.status_code == 400
    assert not Account.objects.get(pk=second.pk).is_deleted


def test_a_viewer_sees_deleted_users_but_cannot_delete_or_restore(org, client):
    svc.account_delete(actor=org.admin, account=org.kim)
    svc.role_set(actor=org.admin, account=org.lee, role=Account.Role.VIEWER)
    client.force_login(org.lee)
    page = client.get(DELETED)
    assert page.status_code == 200 and "minjun.kim" in page.content.decode()
    assert 'name="login_id"' not in page.content.decode()
    assert client.post(DELETED, {"login_id": "minjun.kim"}).status_code == 403
    assert client.post(f"{USERS}seoyeon.lee/delete/").status_code == 403
    assert Account.objects.get(pk=org.kim.pk).is_deleted


@pytest.mark.django_db(transaction=True)
def test_postmap_refuses_a_deleted_users_addresses_until_it_is_restored(org, other, tmp_path):
    from tests.accounts.test_mailserver_config import (
        postmap,
        postmap_or_skip,
        snapshot_sqlite,
        write_maps,
    )

    postmap_or_skip()
    make_subaccount(org.kim, "sales.kim")
    maps = write_maps(tmp_path)
    alias, mailbox = maps["virtual_alias_maps"], maps["virtual_mailbox_maps"]

    svc.account_delete(actor=org.admin, account=org.kim)
    snapshot_sqlite(tmp_path)
    assert postmap("minjun.kim@gabiaedu.com", mailbox) is None
    assert postmap("sales.kim@gabiaedu.com", alias) is None
    # The other office's minjun.kim is untouched.
    assert postmap("minjun.kim@other.co.kr", mailbox) == "other.co.kr/minjun.kim/"

    svc.account_restore(actor=org.admin, account=org.kim)
    snapshot_sqlite(tmp_path)
    assert postmap("minjun.kim@gabiaedu.com", mailbox) == "gabiaedu.com/minjun.kim/"
    assert postmap("sales.kim@gabiaedu.com", alias) == "minjun.kim+INBOX.sales.kim@gabiaedu.com"


@pytest.mark.django_db(transaction=True)
def test_a_deletion_queues_the_purge_for_when_its_time_is_up(org):
    from django_tasks_db.models import DBTaskResult

    before = DBTaskResult.objects.count()
    svc.account_delete(actor=org.admin, account=org.kim)
    queued = DBTaskResult.objects.order_by("-enqueued_at").first()
    assert DBTaskResult.objects.count() == before + 1
    assert queued.task_path.endswith("purge_deleted_users_task")
    deleted_at = Account.objects.get(pk=org.kim.pk).deleted_at
    assert queued.run_after >= deleted_at + svc.DELETED_RETENTION


def test_a_deleted_super_admin_does_not_count_as_the_remaining_active_one(org):
    from accounts.services import account_update

    second = Account.objects.create_account(
        office=org.office, login_id="second", name="Second", role=Account.Role.SUPER_ADMIN
    )
    svc.account_delete(actor=org.admin, account=second)
    third = Account.objects.create_account(
        office=org.office, login_id="third", name="Third", role=Account.Role.SUPER_ADMIN
    )
    # Third may suspend admin only while admin is not the last active one:
    # the deleted second does not count.
    account_update(actor=third, account=org.admin, status="suspended")
    with pytest.raises(DomainError) as refused:
        account_update(actor=org.admin, account=third, status="suspended")
    assert refused.value.code == "suspend_last_admin"
