"""Builders for the usage-list tests: sub-accounts (through their service)
and mail, keeping every counter true."""

from __future__ import annotations

from django.db.models import F

from accounts.models import Account, Folder, Mailbox, Message
from accounts.services import inbox_of, message_deliver
from subaccounts.models import SubAccount
from subaccounts.services import subaccount_add


def add_subaccount(owner: Account, local_part: str) -> SubAccount:
    """A sub-account made by the sub-account service itself, so every
    invariant it keeps (slot, folder, registry, sender list, counter, audit)
    holds in the tests too."""
    sub = subaccount_add(actor=None, owner=owner, local_part=local_part)
    owner.refresh_from_db(fields=["subaccount_count"])
    return sub


def deliver(account: Account, *sizes: int, folder: Folder | None = None) -> None:
    folder = folder or inbox_of(account.mailbox)
    for size in sizes:
        message_deliver(folder=folder, size_bytes=size, subject="test")


def bulk_deliver(account: Account, count: int, size: int, folder: Folder | None = None) -> None:
    """Many messages in one INSERT, the mailbox's and the folder's counters
    moved to match."""
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
    Folder.objects.filter(pk=folder.pk).update(
        size_bytes=F("size_bytes") + count * size, message_count=F("message_count") + count
    )


def set_usage(account: Account, used_bytes: int, **fields) -> None:
    """Set the counters directly (list tests only read them)."""
    Mailbox.objects.filter(account=account).update(used_bytes=used_bytes, **fields)
