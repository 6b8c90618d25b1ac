"""Sub-account builders for the mail-server tests: the sub-account services
themselves, so the rows are exactly what the product leaves."""

from __future__ import annotations

from subaccounts.models import SubAccount
from subaccounts.services import subaccount_delete
from tests.accounts.usage_data import add_subaccount as make_subaccount

__all__ = ["delete_subaccount", "make_subaccount"]


def delete_subaccount(sub: SubAccount) -> None:
    subaccount_delete(actor=None, owner=sub.owner, local_part=sub.local_part)
