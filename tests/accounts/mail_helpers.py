"""Sub-account rows for the mail-server tests, written directly (the way the
sub-account services leave them: folder in the inbox, address registered)."""

from __future__ import annotations

from django.db.models import F

from accounts.models import Account, Address
from subaccounts.models import SubAccount
from tests.accounts.usage_data import add_subaccount as make_subaccount

__all__ = ["delete_subaccount", "make_subaccount"]


def delete_subaccount(sub: SubAccount) -> None:
    folder = sub.folder
    Address.objects.filter(subaccount=sub).delete()
    sub.delete()
    folder.delete()
    Account.objects.filter(pk=sub.owner_id).update(subaccount_count=F("subaccount_count") - 1)
