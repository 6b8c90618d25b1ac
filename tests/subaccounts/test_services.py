"""subaccount_add / subaccount_delete: every rule at the service level."""

from __future__ import annotations

import pytest

from accounts.models import (
    Account,
    Address,
    AuditEvent,
    Folder,
    Message,
    SenderAddress,
    SubaccountRefusal,
)
from accounts.services import DomainError, message_deliver
from subaccounts.models import SubAccount
from subaccounts.services import messages_to_move, subaccount_add, subaccount_delete
from tests.subaccounts.helpers import (
    ID_64,
    INVALID_IDS,
    VALID_IDS,
    assert_consistent,
    inbox,
)

pytestmark = pytest.mark.django_db


def add(org, owner, local_part):
    return subaccount_add(actor=org.admin, owner=owner, local_part=local_part, ip="10.0.0.1")


def delete(org, owner, local_part):
    return subaccount_delete(actor=org.admin, owner=owner, local_part=local_part, ip="10.0.0.1")


def refused(org, owner, local_part) -> DomainError:
    with pytest.raises(DomainError) as caught:
        add(org, owner, local_part)
    return caught.value


def test_add_creates_folder_in_inbox_address_sender_entry_and_audit(org):
    sub = add(org, org.kim, "Kim.Work")
    assert (sub.local_part, sub.slot) == ("kim.work", 1)
    assert sub.folder.parent == inbox(org.kim)
    assert (sub.folder.name, sub.folder.role) == ("kim.work", Folder.Role.SUBACCOUNT)
    assert Address.objects.get(subaccount=sub).local_part == "kim.work"
    assert Address.objects.get(subaccount=sub).folder == sub.folder
    assert SenderAddress.objects.filter(account=org.kim, address="kim.work@gabiaedu.com").exists()
    org.kim.refresh_from_db()
    assert org.kim.subaccount_count == 1
    event = AuditEvent.objects.get(action=AuditEvent.Action.SUBACCOUNT_ADD)
    assert (event.actor, event.target, event.ip) == (org.admin, org.kim, "10.0.0.1")
    assert event.data["address"] == "kim.work@gabiaedu.com"
    assert_consistent(org.office)


@pytest.mark.parametrize(("value", "stored"), VALID_IDS)
def test_valid_ids_are_added_lowercased(org, value, stored):
    assert add(org, org.kim, value).local_part == stored


def test_a_64_character_id_is_accepted(org):
    assert add(org, org.kim, ID_64).folder.name == ID_64


@pytest.mark.parametrize(("value", "code"), INVALID_IDS)
def test_invalid_ids_are_refused_with_a_message(org, value, code):
    error = refused(org, org.kim, value)
    assert error.code == code
    assert error.messages and error.messages[0]
    assert not SubAccount.objects.exists()
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.SUBACCOUNT_ADD).exists()


@pytest.mark.parametrize(
    "value",
    [
        "seoyeon.lee",  # an existing user's ID
        "SeoYeon.Lee",  # ... in another case
        "nomail",  # an account without mail still occupies its address
        "team-sales",  # a group mail's address
        "HELP",  # a shared mail's address
        "minjun.kim",  # the owner's own ID
    ],
)
def test_ids_of_existing_accounts_are_refused(org, value):
    error = refused(org, org.kim, value)
    assert error.code == "taken"
    assert f"{value.lower()}@gabiaedu.com" in error.messages[0]
    assert not SubAccount.objects.exists()


def test_an_existing_subaccount_in_another_case_is_refused(org):
    add(org, org.lee, "sales.desk")
    assert refused(org, org.kim, "Sales.Desk").code == "taken"
    assert refused(org, org.lee, "SALES.DESK").code == "taken"
    assert SubAccount.objects.count() == 1


def test_the_same_id_is_free_in_another_office(org, other):
    add(org, org.kim, "desk")
    assert add(other, other.kim, "desk").local_part == "desk"


def test_group_and_shared_mail_cannot_have_subaccounts(org):
    assert refused(org, org.group, "x1").code == "not_user"
    assert refused(org, org.shared, "x2").code == "not_user"
    assert not SubAccount.objects.exists()


def test_an_account_without_mail_cannot_have_subaccounts(org):
    assert refused(org, org.nomail, "x1").code == "no_mailbox"


def test_every_screen_and_the_service_give_the_same_reason(org, admin_client):
    """The model's answer is the one sentence the pane, the list, the dialog
    and the service's error all show."""
    reasons = {
        org.group: SubaccountRefusal.NOT_USER,
        org.shared: SubaccountRefusal.NOT_USER,
        org.nomail: SubaccountRefusal.NO_MAILBOX,
        org.kim: None,
    }
    for owner, expected in reasons.items():
        owner = Account.objects.select_related("mailbox").get(pk=owner.pk)
        assert owner.subaccount_refusal() == expected
        if expected is None:
            continue
        error = refused(org, owner, "x9")
        assert (error.code, error.messages) == (expected.value, [str(expected.label)])
        dialog = admin_client.get(
            f"/gabiaedu.com/manage/mail/accounts/{owner.login_id}/subaccounts/"
        ).content.decode()
        pane = admin_client.get(f"/gabiaedu.com/manage/mail/accounts/{owner.login_id}/")
        assert str(expected.label) in dialog
        assert str(expected.label) in pane.content.decode()


def test_a_suspended_user_can_have_subaccounts(org):
    assert add(org, org.park, "park.desk").slot == 1


def test_sixth_subaccount_is_refused(org):
    for n in range(1, 6):
        assert add(org, org.kim, f"kim{n}").slot == n
    error = refused(org, org.kim, "kim6")
    assert error.code == "limit"
    assert "5" in error.messages[0]
    assert SubAccount.objects.filter(owner=org.kim).count() == 5
    org.kim.refresh_from_db()
    assert org.kim.subaccount_count == 5


def test_a_freed_slot_is_reused_lowest_first(org):
    for n in range(1, 6):
        add(org, org.kim, f"kim{n}")
    delete(org, org.kim, "kim2")
    delete(org, org.kim, "kim4")
    assert add(org, org.kim, "again").slot == 2
    assert add(org, org.kim, "again2").slot == 4


def test_a_clash_with_an_inbox_subfolder_is_refused(org):
    Folder.objects.create(
        office=org.office, mailbox=org.kim.mailbox, parent=inbox(org.kim), name="Projects"
    )
    error = refused(org, org.kim, "projects")
    assert error.code == "folder_exists"
    assert "projects" in error.messages[0]
    # a top-level folder of that name is no clash: the new one lives in the inbox
    Folder.objects.create(office=org.office, mailbox=org.kim.mailbox, name="Archive")
    assert add(org, org.kim, "archive").folder.parent == inbox(org.kim)


def test_add_uses_a_constant_number_of_queries(org, django_assert_max_num_queries):
    add(org, org.kim, "warm")
    with django_assert_max_num_queries(15):
        add(org, org.kim, "second")


def _fill(folder, sizes):
    for size in sizes:
        message_deliver(folder=folder, size_bytes=size)


def test_delete_moves_mail_to_inbox_and_keeps_usage(org):
    sub = add(org, org.kim, "kim.work")
    _fill(sub.folder, [100, 200, 300])
    _fill(inbox(org.kim), [50])
    org.kim.mailbox.refresh_from_db()
    before = (org.kim.mailbox.used_bytes, org.kim.mailbox.message_count)
    assert before == (650, 4)
    assert messages_to_move(sub) == 3

    assert delete(org, org.kim, "kim.work") == 3

    org.kim.mailbox.refresh_from_db()
    assert (org.kim.mailbox.used_bytes, org.kim.mailbox.message_count) == before
    assert Message.objects.filter(folder=inbox(org.kim)).count() == 4
    assert not Folder.objects.filter(pk=sub.folder_id).exists()
    assert not SubAccount.objects.exists()
    assert not Address.objects.filter(local_part="kim.work").exists()
    assert not SenderAddress.objects.filter(address__iexact="kim.work@gabiaedu.com").exists()
    org.kim.refresh_from_db()
    assert org.kim.subaccount_count == 0
    event = AuditEvent.objects.get(action=AuditEvent.Action.SUBACCOUNT_DELETE)
    assert event.data == {"address": "kim.work@gabiaedu.com", "slot": 1, "messages_moved": 3}
    assert (event.actor, event.target) == (org.admin, org.kim)
    assert_consistent(org.office)


def test_delete_also_moves_mail_of_folders_below_the_subaccount_folder(org):
    sub = add(org, org.kim, "kim.work")
    child = Folder.objects.create(
        office=org.office, mailbox=org.kim.mailbox, parent=sub.folder, name="2024"
    )
    grandchild = Folder.objects.create(
        office=org.office, mailbox=org.kim.mailbox, parent=child, name="Q1"
    )
    _fill(sub.folder, [1])
    _fill(child, [2, 3])
    _fill(grandchild, [4])
    assert messages_to_move(sub) == 4
    assert delete(org, org.kim, "kim.work") == 4
    assert not Folder.objects.filter(pk__in=[sub.folder_id, child.pk, grandchild.pk]).exists()
    assert Message.objects.filter(folder=inbox(org.kim)).count() == 4
    assert_consistent(org.office)


def test_delete_removes_sender_entries_in_any_case(org):
    add(org, org.kim, "kim.work")
    SenderAddress.objects.filter(account=org.kim).update(address="Kim.Work@GabiaEdu.com")
    delete(org, org.kim, "KIM.WORK")
    assert not SenderAddress.objects.filter(account=org.kim).exists()


def test_deleted_address_is_free_again(org):
    add(org, org.kim, "kim.work")
    delete(org, org.kim, "kim.work")
    assert add(org, org.kim, "kim.work").slot == 1
    assert add(org, org.lee, "kim.work2").slot == 1
    delete(org, org.kim, "kim.work")
    assert add(org, org.lee, "kim.work").slot == 2
    assert_consistent(org.office)


def test_deleting_a_missing_subaccount_is_refused(org, other):
    add(other, other.kim, "elsewhere")
    with pytest.raises(DomainError) as caught:
        delete(org, org.kim, "elsewhere")
    assert caught.value.code == "missing"
    assert SubAccount.objects.count() == 1


def test_one_owner_cannot_delete_anothers_subaccount(org):
    add(org, org.lee, "lee.desk")
    with pytest.raises(DomainError):
        delete(org, org.kim, "lee.desk")
    assert SubAccount.objects.filter(owner=org.lee).count() == 1


@pytest.mark.parametrize("messages", [0, 3, 60])
def test_delete_runs_the_same_number_of_queries_whatever_the_mail(
    org, messages, django_assert_num_queries
):
    sub = add(org, org.kim, "kim.work")
    _fill(sub.folder, [10] * messages)
    # Two more than before the folders had counters: the mailbox lock that
    # orders this with 비우기, and the inbox's counters taking the folder's.
    with django_assert_num_queries(19):
        assert delete(org, org.kim, "kim.work") == messages
