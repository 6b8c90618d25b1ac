"""Rules that span models or need locking.

Each service is one transaction, locks what it changes, writes its audit
event where an admin acted, and raises :class:`DomainError` with a message a
person can read; views turn that into a message on the screen.
"""

from __future__ import annotations

import functools
import unicodedata
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts import audit
from accounts.mailstore import MailStoreError, get_mail_store
from accounts.models import Account, AuditEvent, Folder, Mailbox, Message, Office
from accounts.validators import validate_local_part

DEFAULT_FOLDERS = (
    (Folder.Role.INBOX, "Inbox"),
    (Folder.Role.SENT, "Sent"),
    (Folder.Role.DRAFTS, "Drafts"),
    (Folder.Role.SPAM, "Spam"),
    (Folder.Role.TRASH, "Trash"),
)


class DomainError(ValidationError):
    """A rule of the product refused the request; the message says why."""


def mail_action(action: str):
    """For a service that acts on mail: the mail store acts first, inside
    the service's transaction; when it fails (:class:`MailStoreError`) the
    transaction rolls back, so the console changes nothing, and the failed
    attempt is audited after the rollback. The admin gets the store's
    message as a :class:`DomainError`.

    Wrap the ``@transaction.atomic`` service (this decorator outermost);
    the service takes ``actor``, ``ip`` and the target as ``account`` or
    ``owner`` keyword arguments."""

    def decorate(service):
        @functools.wraps(service)
        def run(**kwargs):
            try:
                return service(**kwargs)
            except MailStoreError as error:
                target = kwargs.get("account") or kwargs.get("owner")
                audit.record(
                    office=target.office,
                    action=action,
                    actor=kwargs.get("actor"),
                    target=target,
                    data={"failed": str(error)},
                    ip=kwargs.get("ip"),
                )
                raise DomainError(str(error), code="mail_store") from error

        return run

    return decorate


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
    """Store one message in the embedded store and move the mailbox's and
    the folder's counters with it, in the same transaction, so they always
    equal the messages. Each counter moves by an ``UPDATE … = x + n`` on
    its row, which takes the row's lock: two deliveries at once both count."""
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
    Folder.objects.filter(pk=folder.pk).update(
        size_bytes=F("size_bytes") + size_bytes, message_count=F("message_count") + 1
    )
    return message


# -- 사용자 관리 ---------------------------------------------------------

ACCOUNT_NAME_MAX_LENGTH = Account._meta.get_field("name").max_length
DEPARTMENT_MAX_LENGTH = Account._meta.get_field("department").max_length


def _clean_account_name(name: str) -> str:
    name = name.strip()
    if not name:
        raise DomainError(_("Enter a name."), code="name_empty")
    if len(name) > ACCOUNT_NAME_MAX_LENGTH:
        raise DomainError(
            _("A name can have at most %(limit)d characters.") % {"limit": ACCOUNT_NAME_MAX_LENGTH},
            code="name_too_long",
        )
    if any(unicodedata.category(char) in ("Cc", "Cf") for char in name):
        raise DomainError(_("A name cannot contain control characters."), code="name_control")
    return name


@transaction.atomic
def account_update(
    *,
    actor: Account,
    account: Account,
    name: str | None = None,
    status: str | None = None,
    pop3_enabled: bool | None = None,
    smtp_enabled: bool | None = None,
    remove_mail_password: bool = False,
    ip: str | None = None,
) -> dict[str, dict[str, Any]]:
    """Change what an admin manages on 사용자 관리 and audit it once.

    ``None`` (or ``False`` for the password removal) leaves a field alone.
    Returns the changes as ``{field: {"before": …, "after": …}}``; nothing
    changed means no write and no audit event.

    An admin cannot suspend themselves, nor the office's last active super
    admin. The office's admin rows are locked (in primary-key order, before
    the target) whenever a suspension is asked for, so two admins suspending
    each other at once cannot both succeed.
    """
    if actor.office_id != account.office_id:
        raise DomainError(_("This account belongs to another office."), code="other_office")
    if status is not None and status not in Account.Status.values:
        raise DomainError(_("Choose a valid status."), code="status_invalid")
    if name is not None:
        name = _clean_account_name(name)

    suspending = status == Account.Status.SUSPENDED
    if suspending:
        admin_rows = (
            Account.objects.select_for_update()
            .filter(office_id=account.office_id, role=Account.Role.SUPER_ADMIN)
            .order_by("pk")
        )
        # A deleted admin (kept, restorable) manages nothing meanwhile.
        active_admins = {
            pk
            for pk, st, deleted in admin_rows.values_list("pk", "status", "deleted_at")
            if st == Account.Status.ACTIVE and deleted is None
        }
    target = (
        Account.objects.select_for_update(of=("self",))
        .select_related("office")
        .get(pk=account.pk, office_id=account.office_id)
    )
    mailbox = Mailbox.objects.select_for_update().filter(account=target).first()

    if mailbox is None and (
        pop3_enabled is not None or smtp_enabled is not None or remove_mail_password
    ):
        raise DomainError(
            _("This account does not use mail, so it has no POP3, SMTP or mail-only password."),
            code="no_mailbox",
        )
    if remove_mail_password and not mailbox.mail_password:
        raise DomainError(
            _("This account has no mail-only password to remove."), code="no_mail_password"
        )
    if suspending and target.status != Account.Status.SUSPENDED:
        if target.pk == actor.pk:
            raise DomainError(_("You cannot suspend your own account."), code="suspend_self")
        if target.is_office_admin and not (active_admins - {target.pk}):
            raise DomainError(
                _("The office's last active super admin cannot be suspended."),
                code="suspend_last_admin",
            )

    changes: dict[str, dict[str, Any]] = {}
    account_fields: list[str] = []
    mailbox_fields: list[str] = []

    def change(obj, field: str, value, fields: list[str]) -> None:
        before = getattr(obj, field)
        if value is not None and value != before:
            changes[field] = {"before": before, "after": value}
            setattr(obj, field, value)
            fields.append(field)

    change(target, "name", name, account_fields)
    change(target, "status", status, account_fields)
    if mailbox is not None:
        change(mailbox, "pop3_enabled", pop3_enabled, mailbox_fields)
        change(mailbox, "smtp_enabled", smtp_enabled, mailbox_fields)
        if remove_mail_password:
            changes["mail_password"] = {"before": True, "after": False}
            mailbox.mail_password = ""
            mailbox_fields.append("mail_password")

    if not changes:
        return changes
    if account_fields:
        target.save(update_fields=account_fields)
    if mailbox_fields:
        mailbox.save(update_fields=mailbox_fields)
    audit.record(
        office=target.office,
        action=AuditEvent.Action.ACCOUNT_UPDATE,
        actor=actor,
        target=target,
        data=changes,
        ip=ip,
    )
    if PASSDB_FIELDS & set(changes):
        # After the commit: flushed earlier, a login in between would put
        # the old answer back into the mail server's cache.
        transaction.on_commit(lambda: _refresh_auth(target, actor=actor, ip=ip))
    # The caller's instance shows the new values too.
    for field in account_fields:
        setattr(account, field, getattr(target, field))
    return changes


# What the mail servers' password check reads (accounts/mailserver.py).
PASSDB_FIELDS = frozenset({"status", "pop3_enabled", "smtp_enabled", "mail_password"})


def _refresh_auth(account: Account, *, actor: Account | None, ip: str | None) -> None:
    """Tell the mail store that the account's password check answers
    differently now. The change is saved whatever happens here; if the
    store cannot be told, the admin hears it (and the audit log keeps it)."""
    try:
        get_mail_store().refresh_auth(account)
    except MailStoreError as error:
        audit.record(
            office=account.office,
            action=AuditEvent.Action.ACCOUNT_UPDATE,
            actor=actor,
            target=account,
            data={"failed": str(error)},
            ip=ip,
        )
        raise DomainError(
            _(
                "The change was saved, but the mail server could not be told: "
                "%(error)s Logins may follow the old setting until its cache expires."
            ),
            code="mail_store",
            params={"error": error},
        ) from error


@dataclass(frozen=True)
class EmptyResult:
    messages: int
    bytes: int


@mail_action(AuditEvent.Action.MAILBOX_EMPTY)
@transaction.atomic
def mailbox_empty(*, account: Account, actor: Account, ip: str | None = None) -> EmptyResult:
    """비우기: delete every message of the account in every folder,
    sub-account folders included, and set the counters to zero; the audit
    event records what the mail store reported. Folders remain.

    With the embedded store the number of statements does not depend on
    the size of the mailbox: a lock, one aggregate, one DELETE, the
    folders' counter reset (in the store), the mailbox's and the audit row.
    """
    # The lock serialises with other services changing this mailbox; a
    # delivery racing with us either committed before (its message is
    # deleted here) or updates the counters after our reset (its message
    # stays and is counted).
    mailbox = Mailbox.objects.select_for_update().get(account=account, office=account.office_id)
    removed = get_mail_store().empty(mailbox)
    Mailbox.objects.filter(pk=mailbox.pk).update(used_bytes=0, message_count=0)
    result = EmptyResult(messages=removed.messages, bytes=removed.bytes)
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


def validate_account_id(login_id: str) -> str:
    """An account's ID follows the same rules as a sub-account's (both are
    addresses of the office): returns it lowercased or raises
    :class:`DomainError` saying why not."""
    try:
        return validate_local_part(login_id)
    except ValidationError as error:
        raise DomainError(error.message, code=error.code, params=error.params) from None
