"""IDs every sub-account test runs through, and small checks of the state."""

from __future__ import annotations

from django.db.models import Count, Sum

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
    """The invariants every service keeps: counters equal the messages, each
    sub-account has one folder inside its owner's inbox, one address and one
    sender entry, and nobody has more than five."""
    mailboxes = Mailbox.objects.all()
    messages = Message.objects.all()
    subaccounts = SubAccount.objects.select_related("folder__parent", "owner__office")
    if office is not None:
        mailboxes = mailboxes.filter(office=office)
        messages = messages.filter(office=office)
        subaccounts = subaccounts.filter(office=office)
    totals = {
        row["mailbox"]: (row["used"], row["n"])
        for row in messages.values("mailbox").annotate(used=Sum("size_bytes"), n=Count("id"))
    }
    for mailbox in mailboxes:
        assert (mailbox.used_bytes, mailbox.message_count) == totals.get(mailbox.pk, (0, 0))
    for sub in subaccounts:
        folder = sub.folder
        assert folder.role == Folder.Role.SUBACCOUNT
        assert folder.parent.role == Folder.Role.INBOX
        assert folder.parent.mailbox.account_id == sub.owner_id
        assert folder.name.lower() == sub.local_part
        assert Address.objects.filter(subaccount=sub, local_part=sub.local_part).count() == 1
        email = f"{sub.local_part}@{sub.owner.office.domain}"
        assert SenderAddress.objects.filter(account=sub.owner, address__iexact=email).count() == 1
    # no sub-account folder without its sub-account
    orphans = Folder.objects.filter(role=Folder.Role.SUBACCOUNT, subaccount__isnull=True)
    assert not orphans.exists()
    counts = SubAccount.objects.values("owner").annotate(n=Count("id"))
    per_owner = {row["owner"]: row["n"] for row in counts}
    assert all(n <= 5 for n in per_owner.values())
    accounts = Account.objects.filter(office=office) if office is not None else Account.objects
    for account in accounts.all():
        assert account.subaccount_count == per_owner.get(account.pk, 0)
