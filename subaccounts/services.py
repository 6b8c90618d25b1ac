"""Adding and deleting sub-accounts.

Both services lock the owner's account row first, so that changes to one
owner's sub-accounts happen one after the other; the database constraints
(``(owner, slot)`` unique with slot in 1..5, so never more than five; the
office-wide address registry, so never one address twice) remain the final
word, and an ``IntegrityError`` from a race they catch becomes the same
message a person would have got without the race.

The mail itself (the sub-account's folder, moving its mail into the inbox)
goes through the mail store (accounts/mailstore.py), which acts before the
console records the change.
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F
from django.db.models.functions import Lower
from django.utils.translation import gettext_lazy as _

from accounts import audit
from accounts.mailstore import get_mail_store
from accounts.models import Account, Address, AuditEvent, Folder, SenderAddress, SubaccountRefusal
from accounts.services import DomainError, mail_action
from subaccounts.models import SubAccount
from subaccounts.validators import validate_subaccount_id

# Codes of the DomainErrors raised here; the views answer 409 for these (the
# request was well formed but the office's state refuses it) and 422 for the
# rest (the ID itself is invalid).
CONFLICT_CODES = frozenset(
    {"not_user", "no_mailbox", "limit", "taken", "folder_exists", "missing", "conflict"}
)


AT_LIMIT = _(
    "This account already has %(limit)d sub-accounts, the most allowed. "
    "Delete one before adding another."
)


def add_refusal(owner: Account, count: int) -> str:
    """Why ``owner`` (holding ``count`` sub-accounts) cannot get another one,
    or "" -- what the dialog shows beside its disabled [추가하기]."""
    refusal = owner.subaccount_refusal()
    if refusal is not None:
        return str(refusal.label)
    if count >= settings.MAILADMIN_SUBACCOUNT_LIMIT:
        return AT_LIMIT % {"limit": settings.MAILADMIN_SUBACCOUNT_LIMIT}
    return ""


def messages_to_move(subaccount: SubAccount) -> int:
    """How many messages a delete would move to the inbox."""
    return get_mail_store().folder_tree_usage(subaccount.folder).messages


def subaccount_email(owner: Account, local_part: str) -> str:
    return f"{local_part}@{owner.office.domain}"


def _lock_owner(owner: Account) -> Account:
    # FOR NO KEY UPDATE of the account row only (never the office row joined
    # in): it queues this owner's sub-account changes, yet lets other
    # transactions keep inserting rows that merely reference the account
    # (their foreign-key checks take KEY SHARE), e.g. an audit event whose
    # actor is this owner. A plain FOR UPDATE deadlocked there when an admin
    # added a sub-account to themselves while another owner's add, waiting
    # on the same new address, named that admin as its actor.
    return (
        Account.objects.select_for_update(of=("self",), no_key=True)
        .select_related("office", "mailbox")
        .get(pk=owner.pk)
    )


def _refusal(
    *, owner: Account, inbox: Folder, local_part: str, slots: set[int]
) -> DomainError | None:
    """The first rule the new ID would break, given the owner's taken slots."""
    if len(slots) >= settings.MAILADMIN_SUBACCOUNT_LIMIT:
        return DomainError(
            AT_LIMIT,
            code="limit",
            params={"limit": settings.MAILADMIN_SUBACCOUNT_LIMIT},
        )
    email = subaccount_email(owner, local_part)
    taken = (
        Address.objects.alias(lower=Lower("local_part"))
        .filter(office_id=owner.office_id, lower=local_part)
        .exists()
    )
    if taken:
        return DomainError(
            _(
                "%(address)s is already used by another account or sub-account of this "
                "office. Choose another ID."
            ),
            code="taken",
            params={"address": email},
        )
    clash = (
        Folder.objects.alias(lower=Lower("name")).filter(parent=inbox, lower=local_part).exists()
    )
    if clash:
        return DomainError(
            _(
                "The inbox already has a folder named “%(name)s”. Rename that folder "
                "or choose another ID."
            ),
            code="folder_exists",
            params={"name": local_part},
        )
    return None


def _taken_slots(owner: Account) -> set[int]:
    return set(SubAccount.objects.filter(owner=owner).values_list("slot", flat=True))


@mail_action(AuditEvent.Action.SUBACCOUNT_ADD)
@transaction.atomic
def subaccount_add(
    *, actor: Account | None, owner: Account, local_part: str, ip: str | None = None
) -> SubAccount:
    """Give ``owner`` the sub-account ``local_part@domain``.

    Creates, in one transaction: the SubAccount in the lowest free slot, its
    address registration, its folder inside the inbox (named after the ID),
    the sender-list entry and the audit event; raises DomainError otherwise.
    """
    owner = _lock_owner(owner)
    refusal = owner.subaccount_refusal()
    if refusal is not None:
        raise DomainError(refusal.label, code=refusal.value)
    inbox = (
        Folder.objects.select_related("mailbox")
        .filter(mailbox__account=owner, role=Folder.Role.INBOX)
        .first()
    )
    if inbox is None:  # a mailbox without its inbox has nowhere to put the folder
        raise DomainError(SubaccountRefusal.NO_MAILBOX.label, code=SubaccountRefusal.NO_MAILBOX)
    try:
        local_part = validate_subaccount_id(local_part)
    except ValidationError as error:
        raise DomainError(error.message, code=error.code, params=error.params) from None

    slots = _taken_slots(owner)
    refusal = _refusal(owner=owner, inbox=inbox, local_part=local_part, slots=slots)
    if refusal is not None:
        raise refusal
    slot = min(set(range(1, settings.MAILADMIN_SUBACCOUNT_LIMIT + 1)) - slots)
    email = subaccount_email(owner, local_part)
    office = owner.office
    try:
        with transaction.atomic():  # a savepoint: a lost race leaves the transaction usable
            # The folder exists in the mail store before the address can
            # deliver into it (the address is visible only at commit).
            folder = get_mail_store().create_folder(
                inbox.mailbox, parent=inbox, name=local_part, role=Folder.Role.SUBACCOUNT
            )
            address = Address.objects.create(
                office=office, local_part=local_part, account=owner, folder=folder
            )
            subaccount = SubAccount.objects.create(
                office=office,
                owner=owner,
                slot=slot,
                local_part=local_part,
                folder=folder,
                address=address,
            )
            # A left-over entry for the same address is kept, not duplicated.
            SenderAddress.objects.bulk_create(
                [
                    SenderAddress(
                        office=office, account=owner, address=email, display_name=owner.name
                    )
                ],
                ignore_conflicts=True,
            )
            Account.objects.filter(pk=owner.pk).update(subaccount_count=F("subaccount_count") + 1)
    except IntegrityError:
        # Another transaction won the race (PostgreSQL waited for it to
        # commit, so its rows are visible now): say what a person would have
        # been told had they come second.
        refusal = _refusal(
            owner=owner, inbox=inbox, local_part=local_part, slots=_taken_slots(owner)
        )
        raise (
            refusal
            or DomainError(
                _("Someone changed this account at the same moment. Please try again."),
                code="conflict",
            )
        ) from None
    audit.record(
        office=office,
        action=AuditEvent.Action.SUBACCOUNT_ADD,
        actor=actor,
        target=owner,
        data={"address": email, "slot": slot},
        ip=ip,
    )
    return subaccount


@mail_action(AuditEvent.Action.SUBACCOUNT_DELETE)
@transaction.atomic
def subaccount_delete(
    *, actor: Account | None, owner: Account, local_part: str, ip: str | None = None
) -> int:
    """Delete ``owner``'s sub-account ``local_part``; return how many messages
    moved to the inbox.

    Every message of its folder (and of folders below it) moves to the inbox
    in one UPDATE; the folders, the sender-list entries for the address, the
    address registration and the sub-account go; the slot is freed. The
    mailbox counters do not change: the mail stays in the same mailbox,
    whose quota sub-accounts share.
    The number of statements does not depend on the number of messages.
    """
    owner = _lock_owner(owner)
    local_part = str(local_part).lower()
    email = subaccount_email(owner, local_part)
    subaccount = (
        SubAccount.objects.select_related("folder__mailbox")
        .filter(owner=owner, local_part=local_part)
        .first()
    )
    if subaccount is None:
        raise DomainError(
            _("%(address)s is not a sub-account of this account (any more)."),
            code="missing",
            params={"address": email},
        )
    SenderAddress.objects.alias(lower=Lower("address")).filter(account=owner, lower=email).delete()
    subaccount.delete()
    # Then its registration: the address is unknown again (from the commit
    # on). Before the folders, which the registration points at.
    Address.objects.filter(pk=subaccount.address_id).delete()
    # The mail moves to the inbox and the folder goes, in the mail store;
    # only then does this transaction commit the address's removal, so no
    # delivery can land in a folder that no longer exists.
    folder = subaccount.folder
    moved = get_mail_store().move_folder_to_inbox(folder.mailbox, folder)
    Account.objects.filter(pk=owner.pk).update(subaccount_count=F("subaccount_count") - 1)
    audit.record(
        office=owner.office,
        action=AuditEvent.Action.SUBACCOUNT_DELETE,
        actor=actor,
        target=owner,
        data={"address": email, "slot": subaccount.slot, "messages_moved": moved},
        ip=ip,
    )
    return moved
