"""Rules that span models or need locking.

Each service is one transaction, locks what it changes, writes its audit
event where an admin acted, and raises :class:`DomainError` with a message a
person can read; views turn that into a message on the screen.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F, Sum
from django.utils import timezone

from accounts import audit
from accounts.models import Account, AuditEvent, Folder, Mailbox, Message, Office

DEFAULT_FOLDERS = (
    (Folder.Role.INBOX, "Inbox"),
    (Folder.Role.SENT, "Sent"),
    (Folder.Role.DRAFTS, "Drafts"),
    (Folder.Role.SPAM, "Spam"),
    (Folder.Role.TRASH, "Trash"),
)


class DomainError(ValidationError):
    """A rule of the product refused the request; the message says why."""


@transaction.atomic
def mailbox_create(*, account: Account, quota_bytes: int | None = None) -> Mailbox:
    """Give an account a mailbox with the standard folders."""
    office: Office = account.office
    if quota_bytes is None:
        quota_bytes = office.default_quota_bytes
    mailbox = Mailbox.objects.create(account=account, office=office, quota_bytes=quota_bytes)
    Folder.objects.bulk_create(
        Folder(office=office, mailbox=mailbox, name=name, role=role)
        for role, name in DEFAULT_FOLDERS
    )
    return mailbox


def inbox_of(mailbox: Mailbox) -> Folder:
    return Folder.objects.get(mailbox=mailbox, role=Folder.Role.INBOX)


@transaction.atomic
def message_deliver(
    *,
    folder: Folder,
    size_bytes: int,
    subject: str = "",
    sender: str = "",
    received_at=None,
) -> Message:
    """Store one message and move the mailbox counters with it (R6)."""
    if size_bytes < 0:
        raise DomainError("A message cannot have a negative size.")
    message = Message.objects.create(
        office_id=folder.office_id,
        mailbox_id=folder.mailbox_id,
        folder=folder,
        size_bytes=size_bytes,
        subject=subject,
        sender=sender,
        received_at=received_at or timezone.now(),
    )
    Mailbox.objects.filter(pk=folder.mailbox_id).update(
        used_bytes=F("used_bytes") + size_bytes, message_count=F("message_count") + 1
    )
    return message


@dataclass(frozen=True)
class EmptyResult:
    messages: int
    bytes: int


@transaction.atomic
def mailbox_empty(*, account: Account, actor: Account, ip: str | None = None) -> EmptyResult:
    """비우기 (F4, R6): delete every message of the account in every folder,
    sub-account folders included, and set the counters to zero, in one
    transaction that also writes the audit event.

    The number of statements does not depend on the size of the mailbox: a
    lock, one aggregate, one DELETE, one counter reset and the audit row.
    Folders remain.
    """
    # The lock serialises with other services changing this mailbox; a
    # delivery racing with us either committed before (its message is
    # deleted here) or updates the counters after our reset (its message
    # stays and is counted).
    mailbox = Mailbox.objects.select_for_update().get(account=account, office=account.office_id)
    messages = Message.objects.filter(office_id=mailbox.office_id, mailbox=mailbox)
    totals = messages.aggregate(size=Sum("size_bytes"))
    deleted, _per_model = messages.delete()
    Mailbox.objects.filter(pk=mailbox.pk).update(used_bytes=0, message_count=0)
    result = EmptyResult(messages=deleted, bytes=totals["size"] or 0)
    audit.record(
        office=account.office,
        action=AuditEvent.Action.MAILBOX_EMPTY,
        actor=actor,
        target=account,
        data={
            "messages": result.messages,
            "bytes": result.bytes,
            # What the counters said before: a difference is drift, worth seeing.
            "counted_messages": mailbox.message_count,
            "counted_bytes": mailbox.used_bytes,
        },
        ip=ip,
    )
    return result
