"""Sub-accounts in bulk: the set-based twin of :func:`subaccounts.services.subaccount_add`.

The service adds one sub-account for a person at the screen: it locks the
owner, explains every refusal in words, survives races and records an audit
event, at the price of about ten statements per sub-account. A demo or
benchmark office needs tens of thousands at once (57,000 sub-accounts at
100,000 accounts), which the service would take many minutes to write; this
builder writes them with a fixed handful of statements per call, so such an
office is built in seconds.

It keeps the same invariants as the service, so that data it builds is
indistinguishable from data people made (``tests/subaccounts/helpers.py``'s
``assert_consistent`` checks them both):

- the folder inside the owner's inbox, named after the ID, of the
  sub-account role;
- the office-wide address registry row, pointing at that folder;
- the SubAccount in the owner's lowest free slot (at most the configured
  limit), pointing at both;
- the owner's sender-list entry for the new address (a left-over entry for
  the same address is kept, not duplicated);
- the owner's ``subaccount_count``, recomputed from the rows.

Folders are mail-store objects: with the embedded store (``MAIL_STORE=db``,
whose ``create_folder`` is exactly one ``Folder`` row) they are inserted in
bulk; with any other store each one is created through the store's
``create_folder``, as the service does, so a real mail server gets them
too -- slower, but never a console row without its folder.

What it leaves to its callers, on purpose: refusals in words (a clash with
an existing address or folder is the database's ``IntegrityError``, a
broken rule a ``ValueError``), the owner's row lock and the audit event.
It builds data rather than serving people's requests: nothing else should
be changing those owners meanwhile (the database's constraints would still
refuse what a concurrent change broke), and built data is nobody's action,
while the audit log is the record of what people did.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count, OuterRef, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone

from accounts.mailstore import DatabaseMailStore, get_mail_store
from accounts.models import Account, Address, Folder, Mailbox, Office, SenderAddress
from subaccounts.models import SubAccount
from subaccounts.validators import validate_subaccount_id

# Rows per INSERT and ids per ``IN (...)``: within every backend's limit on
# query parameters.
BATCH_SIZE = 500


@dataclass
class NewSubAccount:
    """One sub-account to build. ``inbox``, when the caller has it at hand,
    must be the owner's inbox (it saves a query; it is not checked);
    ``created_at`` defaults to now."""

    owner: Account
    local_part: str
    inbox: Folder | None = None
    created_at: dt.datetime | None = None


def _chunks(items: list, size: int = BATCH_SIZE):
    for start in range(0, len(items), size):
        yield items[start : start + size]


@transaction.atomic
def bulk_create_subaccounts(entries: Iterable[NewSubAccount]) -> list[SubAccount]:
    """Build every sub-account in ``entries``; return them in the same order,
    saved, each with its ``folder`` and ``address`` set.

    Raises ``ValueError`` for an owner that is not a user with a mailbox, an
    invalid ID, or an owner who would pass the sub-account limit; nothing is
    written then (one transaction).
    """
    entries = list(entries)
    if not entries:
        return []
    now = timezone.now()
    limit = settings.MAILADMIN_SUBACCOUNT_LIMIT
    owners = {entry.owner.pk: entry.owner for entry in entries}

    local_parts = []
    for entry in entries:
        if entry.owner.kind != Account.Kind.USER:
            raise ValueError(f"{entry.owner.login_id}: only a user account has sub-accounts")
        try:
            local_parts.append(validate_subaccount_id(entry.local_part))
        except ValidationError as error:
            raise ValueError(f"{entry.local_part!r}: {error.messages[0]}") from None

    inboxes = {entry.owner.pk: entry.inbox for entry in entries if entry.inbox is not None}
    missing = [pk for pk in owners if pk not in inboxes]
    for chunk in _chunks(missing):
        inboxes.update(
            (folder.mailbox.account_id, folder)
            for folder in Folder.objects.filter(
                mailbox__account_id__in=chunk, role=Folder.Role.INBOX
            ).select_related("mailbox")
        )
    for pk, owner in owners.items():
        if pk not in inboxes:
            raise ValueError(f"{owner.login_id}: only an account that uses mail has sub-accounts")

    # Slots: the lowest free ones, after those the owners already hold.
    taken: defaultdict[int, set[int]] = defaultdict(set)
    for chunk in _chunks(list(owners)):
        for owner_id, slot in SubAccount.objects.filter(owner_id__in=chunk).values_list(
            "owner_id", "slot"
        ):
            taken[owner_id].add(slot)
    slots = []
    for entry in entries:
        free = sorted(set(range(1, limit + 1)) - taken[entry.owner.pk])
        if not free:
            raise ValueError(f"{entry.owner.login_id}: more than {limit} sub-accounts")
        taken[entry.owner.pk].add(free[0])
        slots.append(free[0])

    folders = _create_folders(
        [
            (inboxes[entry.owner.pk], local_part)
            for entry, local_part in zip(entries, local_parts, strict=True)
        ]
    )
    addresses = Address.objects.bulk_create(
        [
            Address(
                office_id=entry.owner.office_id,
                local_part=local_part,
                account=entry.owner,
                folder=folder,
            )
            for entry, local_part, folder in zip(entries, local_parts, folders, strict=True)
        ],
        batch_size=BATCH_SIZE,
    )
    subaccounts = [
        SubAccount(
            office_id=entry.owner.office_id,
            owner=entry.owner,
            slot=slot,
            local_part=local_part,
            folder=folder,
            address=address,
            created_at=entry.created_at or now,
        )
        for entry, local_part, slot, folder, address in zip(
            entries, local_parts, slots, folders, addresses, strict=True
        )
    ]
    SubAccount.objects.bulk_create(subaccounts, batch_size=BATCH_SIZE)

    domains = _office_domains(list(owners.values()))
    SenderAddress.objects.bulk_create(
        [
            SenderAddress(
                office_id=entry.owner.office_id,
                account=entry.owner,
                address=f"{local_part}@{domains[entry.owner.office_id]}",
                display_name=entry.owner.name,
            )
            for entry, local_part in zip(entries, local_parts, strict=True)
        ],
        batch_size=BATCH_SIZE,
        ignore_conflicts=True,
    )

    # The counter from the rows: one UPDATE per batch of owners, whatever
    # they held before.
    rows = (
        SubAccount.objects.filter(owner=OuterRef("pk"))
        .order_by()
        .values("owner")
        .annotate(n=Count("pk"))
        .values("n")
    )
    for chunk in _chunks(list(owners)):
        Account.objects.filter(pk__in=chunk).update(subaccount_count=Coalesce(Subquery(rows), 0))
    for pk, owner in owners.items():
        owner.subaccount_count = len(taken[pk])
    return subaccounts


def _create_folders(wanted: list[tuple[Folder, str]]) -> list[Folder]:
    """A sub-account folder named ``name`` inside each ``inbox``, in order."""
    store = get_mail_store()
    if isinstance(store, DatabaseMailStore):
        folders = [
            Folder(
                office_id=inbox.office_id,
                mailbox_id=inbox.mailbox_id,
                parent=inbox,
                name=name,
                role=Folder.Role.SUBACCOUNT,
            )
            for inbox, name in wanted
        ]
        return Folder.objects.bulk_create(folders, batch_size=BATCH_SIZE)
    mailboxes = {}
    for chunk in _chunks(list({inbox.mailbox_id for inbox, _ in wanted})):
        mailboxes.update((mailbox.pk, mailbox) for mailbox in Mailbox.objects.filter(pk__in=chunk))
    return [
        store.create_folder(
            mailboxes[inbox.mailbox_id], parent=inbox, name=name, role=Folder.Role.SUBACCOUNT
        )
        for inbox, name in wanted
    ]


def _office_domains(owners: list[Account]) -> dict[int, str]:
    """Office id -> domain, from the owners' offices where they are loaded
    (a query only for those that are not)."""
    domains = {
        owner.office_id: owner.office.domain for owner in owners if Account.office.is_cached(owner)
    }
    unknown = {owner.office_id for owner in owners} - set(domains)
    if unknown:
        domains.update(Office.objects.filter(pk__in=unknown).values_list("pk", "domain"))
    return domains
