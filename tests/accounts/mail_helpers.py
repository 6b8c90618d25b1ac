"""Sub-account rows for the mail-server tests, written directly (the way the
sub-account services leave them: folder in the inbox, address registered)."""

from __future__ import annotations

from django.db.models import F

from accounts.models import Account, Address, Folder
from accounts.services import inbox_of
from subaccounts.models import SubAccount


def make_subaccount(owner: Account, local_part: str) -> SubAccount:
    folder = Folder.objects.create(
        office=owner.office,
        mailbox=owner.mailbox,
        parent=inbox_of(owner.mailbox),
        name=local_part,
        role=Folder.Role.SUBACCOUNT,
    )
    sub = SubAccount.objects.create(
        office=owner.office,
        owner=owner,
        slot=owner.subaccounts.count() + 1,
        local_part=local_part,
        folder=folder,
    )
    Address.objects.create(
        office=owner.office, local_part=local_part, account=owner, subaccount=sub
    )
    Account.objects.filter(pk=owner.pk).update(subaccount_count=F("subaccount_count") + 1)
    return sub


def delete_subaccount(sub: SubAccount) -> None:
    folder = sub.folder
    Address.objects.filter(subaccount=sub).delete()
    sub.delete()
    folder.delete()
    Account.objects.filter(pk=sub.owner_id).update(subaccount_count=F("subaccount_count") - 1)
