"""Builders for the usage-list tests: sub-accounts and mail without the
sub-account services (another screen's), keeping every counter true."""

from __future__ import annotations

from django.db.models import F

from accounts.models import Account, Address, Folder, Mailbox, Message
from accounts.services import inbox_of, message_deliver
from subaccounts.models import SubAccount


def add_subaccount(owner: Account, local_part: str) -> SubAccount:
    """A sub-account as the sub-account service makes it: a slot, a folder
    in the inbox, its address in the registry, the owner's counter."""
    owner.refresh_from_db(fields=["subaccount_count"])
    slot = owner.subaccount_count + 1
    folder = Folder.objects.create(
        office=owner.office,
        mailbox=owner.mailbox,
        parent=inbox_of(owner.mailbox),
        name=local_part,
        role=Folder.Role.SUBACCOUNT,
    )
    sub = SubAccount.objects.create(
        office=owner.office, owner=owner, slot=slot, local_part=local_part, folder=folder
    )
    Address.objects.create(
        office=owner.office, local_part=local_part, account=owner, subaccount=sub
    )
    Account.objects.filter(pk=owner.pk).update(subaccount_count=F("subaccount_count") + 1)
    owner.subaccount_count = slot
    return sub


def deliver(account: Account, *sizes: int, folder: Folder | None = None) -> None:
    folder = folder or inbox_of(account.mailbox)
    for size in sizes:
        message_deliver(folder=folder, size_bytes=size, subject="test")


def bulk_deliver(account: Account, count: int, size: int, folder: Folder | None = None) -> None:
    """Many messages in one INSERT, counters moved to match (R6 holds)."""
    mailbox = account.mailbox
    folder = folder or inbox_of(mailbox)
    Message.objects.bulk_create(
        (
            Message(office=account.office, mailbox=mailbox, folder=folder, size_bytes=size)
            for _ in range(count)
        ),
        batch_size=5000,
    )
    Mailbox.objects.filter(pk=mailbox.pk).update(
        used_bytes=F("used_bytes") + count * size, message_count=F("message_count") + count
    )


def set_usage(account: Account, used_bytes: int, **fields) -> None:
    """Set the counters directly (list tests only read them)."""
    Mailbox.objects.filter(account=account).update(used_bytes=used_bytes, **fields)
