"""The mail-store seam: the embedded store's figures, and what the console
does when the store refuses (nothing changes, the admin is told, the
attempt is audited)."""

from __future__ import annotations

import pytest

from accounts.mailstore import DatabaseMailStore, MailStoreError, get_mail_store
from accounts.models import Address, AuditEvent, Folder, Mailbox, Message
from accounts.services import DomainError, mailbox_empty
from subaccounts.services import subaccount_add, subaccount_delete
from tests.accounts.usage_data import add_subaccount, deliver

pytestmark = pytest.mark.django_db

EMPTY_URL = "/gabiaedu.com/manage/mail/accounts/minjun.kim/empty/"
UNREACHABLE = "The mail server could not be reached. Nothing was changed; try again later."


class UnreachableMailStore(DatabaseMailStore):
    """The embedded store with its mail server gone: reads still work
    (they come from the console), every action fails."""

    def empty(self, mailbox):
        raise MailStoreError(UNREACHABLE)

    def create_folder(self, mailbox, **kwargs):
        raise MailStoreError(UNREACHABLE)

    def move_folder_to_inbox(self, mailbox, folder):
        raise MailStoreError(UNREACHABLE)


@pytest.fixture
def unreachable(settings):
    settings.MAIL_STORE = f"{__name__}.UnreachableMailStore"


def test_the_embedded_store_is_the_default():
    assert isinstance(get_mail_store(), DatabaseMailStore)


def test_folder_figures_list_standard_folders_first_and_sub_account_folders_inside(org):
    sub = add_subaccount(org.kim, "sales")
    deliver(org.kim, 100, 200)
    deliver(org.kim, 50, folder=sub.folder)
    figures = get_mail_store().folder_figures(org.kim.mailbox)
    assert [(f.name, f.role, f.depth) for f in figures][:2] == [
        ("Inbox", "inbox", 0),
        ("sales", "subaccount", 1),
    ]
    by_name = {f.name: f for f in figures}
    assert (by_name["Inbox"].message_total, by_name["Inbox"].size_total) == (2, 300)
    assert (by_name["sales"].message_total, by_name["sales"].size_total) == (1, 50)
    assert by_name["sales"].address == "sales"
    assert by_name["Inbox"].address == ""


def test_folder_tree_usage_counts_the_folder_and_the_folders_below(org):
    sub = add_subaccount(org.kim, "sales")
    below = Folder.objects.create(
        office=org.office, mailbox=org.kim.mailbox, parent=sub.folder, name="2026"
    )
    deliver(org.kim, 10, folder=sub.folder)
    deliver(org.kim, 20, 30, folder=below)
    deliver(org.kim, 999)  # the inbox is not part of it
    usage = get_mail_store().folder_tree_usage(sub.folder)
    assert (usage.messages, usage.bytes) == (3, 60)


def test_usage_is_what_the_store_holds(org):
    deliver(org.kim, 100, 200)
    mailboxes = list(Mailbox.objects.filter(account__in=[org.kim, org.lee]))
    usage = get_mail_store().usage(mailboxes)
    assert (usage[org.kim.mailbox.pk].bytes, usage[org.kim.mailbox.pk].messages) == (300, 2)
    assert (usage[org.lee.mailbox.pk].bytes, usage[org.lee.mailbox.pk].messages) == (0, 0)


def test_empty_refused_by_the_store_changes_nothing_and_is_audited(org, unreachable):
    deliver(org.kim, 1000, 2000)
    with pytest.raises(DomainError) as refused:
        mailbox_empty(account=org.kim, actor=org.admin, ip="192.0.2.1")
    assert refused.value.message == UNREACHABLE
    mailbox = Mailbox.objects.get(account=org.kim)
    assert (mailbox.used_bytes, mailbox.message_count) == (3000, 2)
    assert Message.objects.filter(mailbox=mailbox).count() == 2
    event = AuditEvent.objects.get(action=AuditEvent.Action.MAILBOX_EMPTY)
    assert event.data == {"failed": UNREACHABLE}
    assert event.target_id == org.kim.pk and event.actor_id == org.admin.pk


def test_empty_page_tells_the_admin_when_the_store_fails(org, admin_client, unreachable):
    deliver(org.kim, 1000)
    response = admin_client.post(EMPTY_URL)
    assert response.status_code == 503
    assert UNREACHABLE in response.content.decode()
    assert Mailbox.objects.get(account=org.kim).message_count == 1
    # Through htmx the dialog shows it (htmx swaps only a 2xx).
    response = admin_client.post(EMPTY_URL, headers={"HX-Request": "true"})
    assert response.status_code == 200
    assert UNREACHABLE in response.content.decode()
    assert Mailbox.objects.get(account=org.kim).message_count == 1


def test_sub_account_add_refused_by_the_store_leaves_no_trace(org, unreachable):
    with pytest.raises(DomainError):
        subaccount_add(actor=org.admin, owner=org.kim, local_part="sales")
    assert not Address.objects.filter(local_part="sales").exists()
    assert not Folder.objects.filter(name="sales").exists()
    org.kim.refresh_from_db()
    assert org.kim.subaccount_count == 0
    assert AuditEvent.objects.get(action=AuditEvent.Action.SUBACCOUNT_ADD).data == {
        "failed": UNREACHABLE
    }


def test_sub_account_delete_refused_by_the_store_keeps_the_sub_account(org, settings):
    sub = add_subaccount(org.kim, "sales")
    deliver(org.kim, 10, folder=sub.folder)
    settings.MAIL_STORE = f"{__name__}.UnreachableMailStore"
    with pytest.raises(DomainError):
        subaccount_delete(actor=org.admin, owner=org.kim, local_part="sales")
    address = Address.objects.get(local_part="sales")
    assert address.folder_id == sub.folder_id
    assert Message.objects.get(mailbox=org.kim.mailbox).folder_id == sub.folder_id
    org.kim.refresh_from_db()
    assert org.kim.subaccount_count == 1
