"""manage.py import_maildir: a Maildir++ tree written here, imported and checked."""

from __future__ import annotations

import base64
import datetime as dt
import io
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from accounts.importers import decode_mailbox_name
from accounts.models import Folder, Mailbox, Message
from tests.accounts.mail_helpers import make_subaccount


def mutf7(name: str) -> str:
    """IMAP modified UTF-7, as Dovecot names folders on disk."""
    encoded = base64.b64encode(name.encode("utf-16-be")).decode().rstrip("=").replace("/", ",")
    return f"&{encoded}-"


def message(subject: str, sender: str = "partner@example.net", date: str | None = None) -> bytes:
    date = date or "Fri, 14 Mar 2025 09:00:00 +0900"
    return (
        f"Return-Path: <{sender}>\r\nFrom: {sender}\r\nTo: minjun.kim@gabiaedu.com\r\n"
        f"Subject: {subject}\r\nDate: {date}\r\nMessage-ID: <x@example.net>\r\n\r\n"
        "Hello.\r\n"
    ).encode()


def put(root: Path, folder: str, sub: str, name: str, content: bytes) -> None:
    directory = root / folder / sub if folder else root / sub
    for part in ("cur", "new", "tmp"):
        (directory.parent / part).mkdir(parents=True, exist_ok=True)
    (directory / name).write_bytes(content)


@pytest.fixture
def maildir(tmp_path):
    """A Dovecot Maildir++ of minjun.kim: 11 messages in 9 folders."""
    root = tmp_path / "gabiaedu.com" / "minjun.kim"
    korean_subject = "=?UTF-8?B?" + base64.b64encode("견적서 송부".encode()).decode() + "?="
    # Inbox: one size from Dovecot's S=, one from the file itself.
    put(root, "", "cur", "1741910400.M1P100.mail,S=5000,W=5100:2,S", message(korean_subject))
    plain = message("No size in name", sender="Kim <kim@example.org>")
    put(root, "", "new", "1741910401.M2P101.mail", plain)
    # Deliveries still being written are not mail yet.
    put(root, "", "tmp", "1741910402.M3P102.mail,S=999", message("half written"))
    put(root, ".Sent", "cur", "1741910403.M4P103.mail,S=2048:2,S", message("Sent one"))
    put(root, ".Junk", "new", "1741910404.M5P104.mail,S=700", message("Spam"))
    put(root, ".Trash", "cur", "1741910405.M6P105.mail,S=300:2,ST", message("Gone"))
    # Sub-accounts: Dovecot's detail mailbox inside the inbox, and top level.
    put(root, ".INBOX.sales", "new", "1741910406.M7P106.mail,S=1200", message("Order"))
    put(root, ".INBOX.sales", "cur", "1741910407.M8P107.mail,S=1300:2,S", message("Order 2"))
    put(root, ".support", "cur", "1741910408.M9P108.mail,S=400:2,S", message("Ticket"))
    # A custom folder, a nested one, a Korean one.
    put(root, ".Projects", "cur", "1741910409.M10P109.mail,S=100:2,S", message("P"))
    put(root, ".Projects.2024", "cur", "1741910410.M11P110.mail,S=110:2,S", message("P24"))
    put(root, "." + mutf7("거래처"), "cur", "1741910411.M12P111.mail,S=120:2,S", message("K"))
    # Dovecot's own files are not messages.
    (root / "dovecot-uidlist").write_text("3 V1 N1\n")
    (root / "subscriptions").write_text("Sent\n")
    (root / ".Sent" / "maildirfolder").write_text("")
    return root, len(plain)


def run(*args) -> str:
    out = io.StringIO()
    call_command("import_maildir", *args, stdout=out)
    return out.getvalue()


def folder_path(folder: Folder) -> str:
    names = []
    while folder is not None:
        names.append(folder.name)
        folder = folder.parent
    return "/".join(reversed(names))


def test_maildir_is_imported_into_folders_with_sizes_and_counters(org, maildir):
    root, plain_size = maildir
    sales = make_subaccount(org.kim, "sales")
    support = make_subaccount(org.kim, "support")
    folders_before = Folder.objects.filter(mailbox=org.kim.mailbox).count()

    output = run("--domain", "gabiaedu.com", "--account", "minjun.kim", str(root))

    mailbox = Mailbox.objects.get(account=org.kim)
    per_folder = {}
    for m in Message.objects.filter(mailbox=mailbox).select_related("folder__parent"):
        per_folder.setdefault(folder_path(m.folder), []).append(m.size_bytes)
    assert {k: sorted(v) for k, v in per_folder.items()} == {
        "Inbox": sorted([5000, plain_size]),
        "Sent": [2048],
        "Spam": [700],
        "Trash": [300],
        "Inbox/sales": [1200, 1300],
        "Inbox/support": [400],
        "Projects": [100],
        "Projects/2024": [110],
        "거래처": [120],
    }
    # Sub-account mail lands in the sub-account's own folder.
    assert sales.folder.messages.count() == 2
    assert support.folder.messages.count() == 1
    # Junk went to the existing Spam folder; three folders were created.
    assert Folder.objects.filter(mailbox=mailbox).count() == folders_before + 3
    assert Folder.objects.get(mailbox=mailbox, name="2024").parent.name == "Projects"
    # Counters equal the messages (R6).
    total = 5000 + plain_size + 2048 + 700 + 300 + 1200 + 1300 + 400 + 100 + 110 + 120
    assert (mailbox.used_bytes, mailbox.message_count) == (total, 11)
    assert "messages imported: 11" in output
    assert "folders created: 3" in output
    assert "Inbox/sales: 2 messages, 2,500 bytes" in output


def test_headers_are_read_lightly(org, maildir):
    root, _ = maildir
    run("--domain", "gabiaedu.com", "--account", "minjun.kim", str(root))

    quote = Message.objects.get(mailbox__account=org.kim, subject="견적서 송부")
    assert quote.sender == "partner@example.net"
    assert quote.received_at == dt.datetime(2025, 3, 14, 0, 0, tzinfo=dt.UTC)
    assert Message.objects.filter(sender="Kim <kim@example.org>").count() == 1


def test_a_full_mailbox_is_not_imported_twice_without_append(org, maildir):
    root, _ = maildir
    run("--domain", "gabiaedu.com", "--account", "minjun.kim", str(root))

    with pytest.raises(CommandError, match="already holds 11 messages"):
        run("--domain", "gabiaedu.com", "--account", "minjun.kim", str(root))
    run("--domain", "gabiaedu.com", "--account", "minjun.kim", "--append", str(root))

    mailbox = Mailbox.objects.get(account=org.kim)
    assert mailbox.message_count == 22 == Message.objects.filter(mailbox=mailbox).count()


def test_bad_targets_are_refused_clearly(org, tmp_path):
    with pytest.raises(CommandError, match="No account ghost"):
        run("--domain", "gabiaedu.com", "--account", "ghost", str(tmp_path))
    with pytest.raises(CommandError, match="does not use mail"):
        run("--domain", "gabiaedu.com", "--account", "nomail", str(tmp_path))
    with pytest.raises(CommandError, match="holds no Maildir"):
        run("--domain", "gabiaedu.com", "--account", "minjun.kim", str(tmp_path))
    with pytest.raises(CommandError, match="is not a directory"):
        run("--domain", "gabiaedu.com", "--account", "minjun.kim", str(tmp_path / "none"))


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("Sent", "Sent"), (mutf7("받은 편지"), "받은 편지"), ("Tom &- Jerry", "Tom & Jerry")],
)
def test_modified_utf7_folder_names_are_decoded(raw, expected):
    assert decode_mailbox_name(raw) == expected
