"""IDs every sub-account test runs through, and small checks of the state."""

from __future__ import annotations

from collections import Counter

from django.db.models import Count, Sum
from django.db.models.functions import Lower

from accounts.models import Account, Address, Folder, Mailbox, Message, SenderAddress
from subaccounts.models import SubAccount

SQL_FRAGMENT = "x'; DROP TABLE accounts_account; --"
HTML_FRAGMENT = '<script>alert("x")</script>'
ID_64 = "a" * 63 + "z"
ID_65 = "a" * 64 + "z"

# (input, code of the refusal) -- invalid by R5 whatever the office holds.
INVALID_IDS = [
    ("", "required"),
    (ID_65, "max_length"),
    ("-x", "edges"),
    ("x-", "edges"),
    (".x", "edges"),
    ("x_", "edges"),
    ("a..b", "dots"),
    ("한글", "characters"),
    ("a b", "whitespace"),
    ("abc\n", "whitespace"),
    (" abc", "whitespace"),
    ("abc\t", "whitespace"),
    ("a\u00a0b", "whitespace"),
    ("a@b", "characters"),
    ("a+b", "characters"),
    ("\u212aim", "characters"),  # KELVIN SIGN lowercases to an ASCII "k"
    (SQL_FRAGMENT, "whitespace"),
    ("x';drop", "characters"),
    (HTML_FRAGMENT, "characters"),
    ("<b>x</b>", "characters"),
    ("postmaster", "reserved"),
    ("PostMaster", "reserved"),
    ("mailer-daemon", "reserved"),
    ("noreply", "reserved"),
]

VALID_IDS = [("a", "a"), (ID_64, ID_64), ("New.ID_1-x", "new.id_1-x"), ("7", "7")]


def inbox(account: Account) -> Folder:
    return Folder.objects.get(mailbox=account.mailbox, role=Folder.Role.INBOX)


def assert_consistent(office=None) -> None:
    """The invariants every service keeps: counters (the mailboxes' and the
    folders') equal the messages, each
    sub-account has one folder inside its owner's inbox, one address and one
    sender entry, no sub-account folder lacks its sub-account, and nobody has
    more than five (the counter agreeing). A fixed number of queries."""
    scope = {"office": office} if office is not None else {}
    totals = {
        row["mailbox"]: (row["used"], row["n"])
        for row in Message.objects.filter(**scope)
        .values("mailbox")
        .annotate(used=Sum("size_bytes"), n=Count("id"))
    }
    for pk, used, count in Mailbox.objects.filter(**scope).values_list(
        "pk", "used_bytes", "message_count"
    ):
        assert (used, count) == totals.get(pk, (0, 0)), f"mailbox {pk} counters drifted"
    per_folder = {
        row["folder"]: (row["used"], row["n"])
        for row in Message.objects.filter(**scope)
        .values("folder")
        .annotate(used=Sum("size_bytes"), n=Count("id"))
    }
    for pk, used, count in Folder.objects.filter(**scope).values_list(
        "pk", "size_bytes", "message_count"
    ):
        assert (used, count) == per_folder.get(pk, (0, 0)), f"folder {pk} counters drifted"

    addresses = Counter(
        Address.objects.filter(subaccount__isnull=False, **scope).values_list(
            "subaccount__id", "local_part", "folder_id"
        )
    )
    senders = Counter(
        SenderAddress.objects.filter(**scope)
        .annotate(lower=Lower("address"))
        .values_list("account_id", "lower")
    )
    per_owner: Counter = Counter()
    subaccounts = SubAccount.objects.filter(**scope).select_related(
        "folder__parent__mailbox", "office", "address"
    )
    for sub in subaccounts:
        per_owner[sub.owner_id] += 1
        folder = sub.folder
        assert folder.role == Folder.Role.SUBACCOUNT
        assert folder.parent.role == Folder.Role.INBOX
        assert folder.parent.mailbox.account_id == sub.owner_id
        assert folder.name.lower() == sub.local_part
        assert addresses[(sub.pk, sub.local_part, sub.folder_id)] == 1
        assert sub.address.folder_id == sub.folder_id
        assert senders[(sub.owner_id, f"{sub.local_part}@{sub.office.domain}")] == 1
    assert sum(addresses.values()) == sum(per_owner.values())
    orphans = Folder.objects.filter(role=Folder.Role.SUBACCOUNT, subaccount__isnull=True, **scope)
    assert not orphans.exists(), "a sub-account folder without its sub-account"
    assert all(n <= 5 for n in per_owner.values())
    for pk, counter in Account.objects.filter(**scope).values_list("pk", "subaccount_count"):
        assert counter == per_owner.get(pk, 0), f"account {pk} subaccount_count drifted"
