"""Migrating a Maildir++ into Dovecot's store (``MAIL_STORE=dovecot``).

Each message is stored through doveadm (``save``) into the folder Dovecot
will keep it in; a sub-account's folder (``.INBOX.<ID>`` or ``.<ID>``)
lands in ``INBOX.<ID>``. Dovecot counts it (quota), and its usage row
brings the figures to the console, so the console never counts anything
itself. A message Dovecot already holds in that folder is skipped, found by
its Message-ID (or, lacking one, by a digest of its content recorded in an
``X-Mailadmin-Import`` header): running an import twice stores nothing
twice.
"""

from __future__ import annotations

import email.parser
import email.policy
import hashlib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from accounts.doveadm import EXIT_EXISTS, Doveadm, DoveadmError
from accounts.importers import MaildirError, _maildir_dirs, _message_files, decode_mailbox_name
from accounts.mailstore import MailStoreError
from accounts.mailstore_dovecot import INBOX, SEPARATOR, STANDARD_FOLDERS
from accounts.models import Account, Address

DIGEST_HEADER = "X-Mailadmin-Import"


@dataclass
class DovecotImportStats:
    messages: int = 0
    bytes: int = 0
    duplicates: int = 0
    folders_created: int = 0
    per_folder: Counter = field(default_factory=Counter)
    bytes_per_folder: Counter = field(default_factory=Counter)
    skipped_files: int = 0


def target_folder(maildir_name: str, subaccount_folders: dict[str, str]) -> str:
    """The Dovecot folder a Maildir++ folder's mail goes to."""
    if not maildir_name:
        return INBOX
    name = decode_mailbox_name(maildir_name)
    if name.lower() == "inbox":
        return INBOX
    inside_inbox = name.lower().startswith("inbox.")
    rest = name[len("inbox.") :] if inside_inbox else name
    if (folder := subaccount_folders.get(rest.lower())) is not None:
        return f"{INBOX}{SEPARATOR}{folder}"
    return f"{INBOX}{SEPARATOR}{rest}" if inside_inbox else name


def _identity(raw: bytes) -> tuple[list[str], bytes]:
    """(search query keys, the message to store) for one message."""
    headers = email.parser.BytesHeaderParser(policy=email.policy.compat32).parsebytes(raw)
    message_id = (headers.get("Message-ID") or "").strip()
    if message_id:
        return ["header", "Message-ID", message_id], raw
    digest = hashlib.sha256(raw).hexdigest()
    return ["header", DIGEST_HEADER, digest], f"{DIGEST_HEADER}: {digest}\r\n".encode() + raw


def import_maildir_into_dovecot(
    *, account: Account, path: Path | str, append: bool = False, doveadm: Doveadm | None = None
) -> DovecotImportStats:
    root = Path(path)
    if not root.is_dir():
        raise MaildirError(f"{root} is not a directory.")
    folders = _maildir_dirs(root)
    if not folders:
        raise MaildirError(f"{root} holds no Maildir (no cur/ or new/ directory).")
    doveadm = doveadm or Doveadm.from_settings()
    user = account.email
    try:
        held = sum(row["messages"] for row in doveadm.mailbox_status(user))
    except DoveadmError as error:
        raise MaildirError(str(error)) from error
    if held and not append:
        raise MaildirError(
            f"{account.login_id}'s mailbox already holds {held:,} messages in Dovecot; "
            "use --append to add to them (messages it already holds are skipped)."
        )
    subaccount_folders = {}
    for local_part, folder_name in Address.objects.filter(
        account=account, folder__isnull=False
    ).values_list("local_part", "folder__name"):
        subaccount_folders[local_part.lower()] = folder_name
        subaccount_folders.setdefault(folder_name.lower(), folder_name)

    stats = DovecotImportStats()
    try:
        for maildir_name, directory in folders:
            target = target_folder(maildir_name, subaccount_folders)
            names = [target] if target == INBOX else [*STANDARD_FOLDERS, target]
            for name in names:
                try:
                    doveadm.mailbox_create(user, name)
                    stats.folders_created += name == target
                except DoveadmError as error:
                    if error.exit_code != EXIT_EXISTS:
                        raise
            for entry in _message_files(directory):
                try:
                    raw = Path(entry.path).read_bytes()
                    raw.decode("utf-8")  # the HTTP API carries text, not bytes
                except (OSError, UnicodeDecodeError):
                    stats.skipped_files += 1
                    continue
                query, message = _identity(raw)
                if doveadm.run("search", user=user, query=["mailbox", target, *query]):
                    stats.duplicates += 1
                    continue
                doveadm.run("save", user=user, mailbox=target, file=message.decode("utf-8"))
                stats.messages += 1
                stats.bytes += len(message)
                stats.per_folder[target] += 1
                stats.bytes_per_folder[target] += len(message)
    except MailStoreError as error:
        raise MaildirError(f"{error} ({stats.messages:,} messages were stored before.)") from error
    return stats
