"""Import what real mail servers know: access logs and Maildirs.

``import_access_log`` stores POP3/SMTP login events parsed by
:mod:`accounts.maillog` in ``AccessLog``; ``import_maildir`` loads a
Maildir++ tree into a mailbox. Both are used by the management commands of
the same names and write in batches inside transactions.
"""

from __future__ import annotations

import base64
import datetime as dt
import os
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from email.parser import BytesHeaderParser
from email.policy import default as default_policy
from pathlib import Path

from django.db import connection, transaction
from django.db.models import F
from django.db.models.functions import Lower
from django.utils import timezone

from accounts.geo import country_for_ip
from accounts.maillog import LoginEvent, LogParser, Outcome
from accounts.models import AccessLog, Account, Address, Folder, Mailbox, Message, Office

STORED_PROTOCOLS = frozenset(p.value for p in Mailbox.Protocol)
UNPARSED_SAMPLES = 5


# --- access logs -----------------------------------------------------------


@dataclass
class AccessImportStats:
    lines: int = 0
    imported: int = 0
    duplicates: int = 0
    unknown_users: int = 0
    unknown_user_names: Counter = field(default_factory=Counter)
    failed_without_user: int = 0
    skipped_protocols: Counter = field(default_factory=Counter)
    ignored: int = 0
    unparsed: int = 0
    unparsed_samples: list[str] = field(default_factory=list)
    last_access_updated: int = 0


class _UserResolver:
    """Login names → account ids of one office, cached, looked up in batches.

    A full address must carry the office's domain; a bare ID is taken as
    within the office. Every address, a sub-account's included, is in the
    Address registry, so a sub-account address resolves to its owner.
    """

    def __init__(self, office: Office):
        self.office = office
        self.domain = office.domain.lower()
        self.cache: dict[str, int | None] = {}

    def key(self, user: str) -> str | None:
        user = user.strip().lower()
        local, at, domain = user.rpartition("@")
        if not at:
            return user or None
        if domain != self.domain or not local:
            return None
        return local

    def prefetch(self, users: Iterable[str]) -> None:
        missing = {k for u in users if (k := self.key(u)) and k not in self.cache}
        keys = sorted(missing)
        for start in range(0, len(keys), 500):
            chunk = keys[start : start + 500]
            found = dict(
                Address.objects.filter(office=self.office)
                .annotate(lp=Lower("local_part"))
                .filter(lp__in=chunk)
                .values_list("lp", "account_id")
            )
            for key in chunk:
                self.cache[key] = found.get(key)

    def account_id(self, user: str) -> int | None:
        key = self.key(user)
        return self.cache.get(key) if key else None


ACCESS_COLUMNS = (
    "office_id",
    "account_id",
    "protocol",
    "at",
    "ip",
    "country",
    "succeeded",
    "session_id",
)


def _qn(name: str) -> str:
    return connection.ops.quote_name(name)


def _insert_ignoring_duplicates(rows: list[tuple]) -> int:
    """Insert access rows (tuples in ``ACCESS_COLUMNS`` order: ``at`` an
    aware datetime, ``ip`` text), skipping those the unique event
    constraint already holds; return how many were really inserted.

    The statement is the one ``bulk_create(ignore_conflicts=True)`` runs
    (``ON CONFLICT DO NOTHING``), written here because bulk_create throws
    away the cursor's row count -- exactly the number of new rows, where
    counting the table before and after would cost a scan per batch -- and
    because building and compiling a million model instances costs more
    than the insert itself. SQLite runs one prepared statement for every
    row; PostgreSQL gets each column as one array (``unnest``), so a batch
    is a single small statement.
    """
    if not rows:
        return 0
    table = _qn(AccessLog._meta.db_table)
    columns = ", ".join(_qn(c) for c in ACCESS_COLUMNS)
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            adapt = connection.ops.adapt_datetimefield_value
            placeholders = ", ".join(["%s"] * len(ACCESS_COLUMNS))
            cursor.executemany(
                f"INSERT INTO {table} ({columns}) VALUES ({placeholders}) ON CONFLICT DO NOTHING",
                [(*row[:3], adapt(row[3]), *row[4:]) for row in rows],
            )
        else:
            cursor.execute(
                f"INSERT INTO {table} ({columns}) SELECT * FROM unnest("
                "%s::bigint[], %s::bigint[], %s::text[], %s::timestamptz[], "
                "%s::text[]::inet[], %s::text[], %s::boolean[], %s::text[]) "
                "ON CONFLICT DO NOTHING",
                [list(column) for column in zip(*rows, strict=True)],
            )
        return max(cursor.rowcount, 0)


def _update_last_access(newest: dict[int, tuple]) -> int:
    """Move ``mailbox.last_access_*`` forward where a newer success arrived.
    ``newest`` maps account id → (at, protocol, ip, country). The "only if
    newer" test is in the UPDATE itself, so a newer value written meanwhile
    is never overwritten. Returns how many mailboxes moved."""
    if not newest:
        return 0
    table = _qn(Mailbox._meta.db_table)
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            adapt = connection.ops.adapt_datetimefield_value
            cursor.executemany(
                f"UPDATE {table} SET last_access_at = %s, last_access_protocol = %s, "
                "last_access_ip = %s, last_access_country = %s "
                "WHERE account_id = %s AND (last_access_at IS NULL OR last_access_at < %s)",
                [
                    (adapt(at), protocol, ip, country, account_id, adapt(at))
                    for account_id, (at, protocol, ip, country) in newest.items()
                ],
            )
        else:
            ids, ats, protocols, ips, countries = zip(
                *((account_id, *row) for account_id, row in newest.items()), strict=True
            )
            cursor.execute(
                f"UPDATE {table} AS m SET last_access_at = v.at, "
                "last_access_protocol = v.protocol, last_access_ip = v.ip, "
                "last_access_country = v.country "
                "FROM unnest(%s::bigint[], %s::timestamptz[], %s::text[], "
                "%s::text[]::inet[], %s::text[]) AS v(account_id, at, protocol, ip, country) "
                "WHERE m.account_id = v.account_id "
                "AND (m.last_access_at IS NULL OR m.last_access_at < v.at)",
                [list(ids), list(ats), list(protocols), list(ips), list(countries)],
            )
        return max(cursor.rowcount, 0)


class AccessLogImporter:
    """Feed lines with :meth:`feed`, then call :meth:`finish`."""

    def __init__(
        self,
        *,
        office: Office,
        now: dt.datetime | None = None,
        time_zone: dt.tzinfo | None = None,
        batch_size: int = 5000,
    ):
        import zoneinfo

        self.office = office
        self.parser = LogParser(
            now=now or timezone.now(),
            time_zone=time_zone or zoneinfo.ZoneInfo(office.time_zone),
        )
        self.batch_size = batch_size
        self.stats = AccessImportStats()
        self.users = _UserResolver(office)
        self.countries: dict[str, str] = {}
        self.pending: list[LoginEvent] = []

    def feed(self, lines: Iterable[str], source: str = "-") -> None:
        stats = self.stats
        parse = self.parser.parse
        for number, line in enumerate(lines, start=1):
            stats.lines += 1
            result = parse(line)
            if result is Outcome.IGNORED:
                stats.ignored += 1
            elif result is Outcome.UNPARSED:
                if not line.strip():
                    stats.ignored += 1
                    continue
                stats.unparsed += 1
                if len(stats.unparsed_samples) < UNPARSED_SAMPLES:
                    stats.unparsed_samples.append(f"{source}:{number}: {line.rstrip()[:200]}")
            elif result.protocol not in STORED_PROTOCOLS:
                stats.skipped_protocols[result.protocol] += 1
            elif not result.user:
                stats.failed_without_user += 1
            else:
                self.pending.append(result)
                if len(self.pending) >= self.batch_size:
                    self._flush()

    def finish(self) -> AccessImportStats:
        self._flush()
        return self.stats

    def _country(self, ip: str) -> str:
        country = self.countries.get(ip)
        if country is None:
            country = self.countries[ip] = country_for_ip(ip)
        return country

    def _flush(self) -> None:
        events, self.pending = self.pending, []
        if not events:
            return
        self.users.prefetch(e.user for e in events)
        office_id = self.office.pk
        rows: list[tuple] = []
        newest: dict[int, tuple] = {}
        for event in events:
            account_id = self.users.account_id(event.user)
            if account_id is None:
                self.stats.unknown_users += 1
                self.stats.unknown_user_names[event.user.lower()] += 1
                continue
            # The unique event is counted to the second.
            at = event.at.replace(microsecond=0)
            country = self._country(event.ip)
            rows.append(
                (
                    office_id,
                    account_id,
                    event.protocol,
                    at,
                    event.ip,
                    country,
                    event.succeeded,
                    event.session_id,
                )
            )
            if event.succeeded:
                current = newest.get(account_id)
                if current is None or at > current[0]:
                    newest[account_id] = (at, event.protocol, event.ip, country)
        with transaction.atomic():
            inserted = _insert_ignoring_duplicates(rows)
            self.stats.last_access_updated += _update_last_access(newest)
        self.stats.imported += inserted
        self.stats.duplicates += len(rows) - inserted


def import_access_log(
    *,
    office: Office,
    lines: Iterable[str],
    now: dt.datetime | None = None,
    time_zone: dt.tzinfo | None = None,
    batch_size: int = 5000,
) -> AccessImportStats:
    importer = AccessLogImporter(office=office, now=now, time_zone=time_zone, batch_size=batch_size)
    importer.feed(lines)
    return importer.finish()


# --- Maildir ---------------------------------------------------------------

# Dovecot's Maildir++ names of the special folders → the product's roles.
SPECIAL_FOLDERS = {
    "sent": Folder.Role.SENT,
    "sent messages": Folder.Role.SENT,
    "sent items": Folder.Role.SENT,
    "sent mail": Folder.Role.SENT,
    "보낸메일함": Folder.Role.SENT,
    "drafts": Folder.Role.DRAFTS,
    "임시보관함": Folder.Role.DRAFTS,
    "junk": Folder.Role.SPAM,
    "spam": Folder.Role.SPAM,
    "junk e-mail": Folder.Role.SPAM,
    "스팸메일함": Folder.Role.SPAM,
    "trash": Folder.Role.TRASH,
    "deleted messages": Folder.Role.TRASH,
    "deleted items": Folder.Role.TRASH,
    "휴지통": Folder.Role.TRASH,
}
_SIZE_IN_NAME = re.compile(r",S=(\d+)")
_HEADER_LIMIT = 64 * 1024
_MUTF7_SHIFT = re.compile(r"&([A-Za-z0-9+,]*)-")


def decode_mailbox_name(name: str) -> str:
    """IMAP modified UTF-7 (RFC 3501 §5.1.3), as Dovecot writes folder
    names on disk: ``&wMTHPNWo-`` is Korean, ``&-`` is ``&``."""

    def shift(match: re.Match) -> str:
        encoded = match[1]
        if not encoded:
            return "&"
        data = encoded.replace(",", "/")
        data += "=" * (-len(data) % 4)
        try:
            return base64.b64decode(data).decode("utf-16-be")
        except (ValueError, UnicodeDecodeError):
            return match[0]

    return _MUTF7_SHIFT.sub(shift, name)


@dataclass
class MaildirStats:
    messages: int = 0
    bytes: int = 0
    folders_created: int = 0
    per_folder: Counter = field(default_factory=Counter)  # folder path → messages
    bytes_per_folder: Counter = field(default_factory=Counter)
    skipped_files: int = 0


class MaildirError(ValueError):
    pass


def _maildir_dirs(root: Path) -> list[tuple[str, Path]]:
    """(Maildir++ folder name, directory): "" is the inbox, then ``.Folder``s
    in name order so a parent (``.A``) comes before its child (``.A.B``)."""
    found = []
    if (root / "cur").is_dir() or (root / "new").is_dir():
        found.append(("", root))
    for entry in sorted(os.scandir(root), key=lambda e: e.name):
        if (
            entry.name.startswith(".")
            and entry.name not in (".", "..")
            and entry.is_dir()
            and (Path(entry.path, "cur").is_dir() or Path(entry.path, "new").is_dir())
        ):
            found.append((entry.name[1:], Path(entry.path)))
    return found


def _message_files(directory: Path):
    for sub in ("cur", "new"):  # tmp/ holds deliveries still being written
        path = directory / sub
        if not path.is_dir():
            continue
        for entry in sorted(os.scandir(path), key=lambda e: e.name):
            if entry.name.startswith(".") or not entry.is_file():
                continue
            yield entry


def _read_headers(path: str) -> tuple[str, str, dt.datetime | None]:
    with open(path, "rb") as handle:
        head = handle.read(_HEADER_LIMIT)
    end = head.find(b"\n\n")
    end_crlf = head.find(b"\r\n\r\n")
    cut = min(x for x in (end, end_crlf, len(head)) if x >= 0)
    try:
        headers = BytesHeaderParser(policy=default_policy).parsebytes(head[:cut])
        subject = str(headers.get("subject", "") or "")
        sender = str(headers.get("from", "") or "")
        date = headers.get("date")
        received = getattr(date, "datetime", None) if date is not None else None
    except Exception:  # a broken header must not stop the import
        subject, sender, received = "", "", None
    if received is not None and timezone.is_naive(received):
        received = received.replace(tzinfo=dt.UTC)
    return " ".join(subject.split())[:255], " ".join(sender.split())[:320], received


def _delivery_time(entry: os.DirEntry) -> dt.datetime:
    """Maildir file names start with the delivery's Unix time."""
    head = entry.name.split(".", 1)[0]
    if head.isdigit():
        try:
            return dt.datetime.fromtimestamp(int(head), tz=dt.UTC)
        except (OverflowError, OSError, ValueError):
            pass
    return dt.datetime.fromtimestamp(entry.stat().st_mtime, tz=dt.UTC)


class _FolderMap:
    """The mailbox's folders, found case-insensitively, created as needed."""

    def __init__(self, mailbox: Mailbox, stats: MaildirStats):
        self.mailbox = mailbox
        self.stats = stats
        self.by_key: dict[tuple[int | None, str], Folder] = {}
        self.by_role: dict[str, Folder] = {}
        for folder in Folder.objects.filter(mailbox=mailbox):
            self.by_key[(folder.parent_id, folder.name.lower())] = folder
            if folder.role not in (Folder.Role.CUSTOM, Folder.Role.SUBACCOUNT):
                self.by_role.setdefault(folder.role, folder)
        self.inbox = self.by_role.get(Folder.Role.INBOX) or self._create(
            None, "Inbox", Folder.Role.INBOX
        )
        self.subaccounts: dict[str, Folder] = {}
        # A sub-account's folder, by its address or by the folder's name.
        for address in Address.objects.filter(
            account_id=mailbox.account_id, folder__isnull=False
        ).select_related("folder"):
            self.subaccounts[address.local_part.lower()] = address.folder
            self.subaccounts.setdefault(address.folder.name.lower(), address.folder)

    def _create(self, parent: Folder | None, name: str, role: str = Folder.Role.CUSTOM) -> Folder:
        folder = Folder.objects.create(
            office_id=self.mailbox.office_id,
            mailbox=self.mailbox,
            parent=parent,
            name=name[:255],
            role=role,
        )
        self.by_key[(parent.pk if parent else None, name.lower())] = folder
        self.stats.folders_created += 1
        return folder

    def child(self, parent: Folder | None, name: str) -> Folder:
        key = (parent.pk if parent else None, name.lower())
        return self.by_key.get(key) or self._create(parent, name)

    def resolve(self, maildir_name: str) -> Folder:
        if not maildir_name:
            return self.inbox
        name = decode_mailbox_name(maildir_name)
        if name.lower() == "inbox":
            return self.inbox
        parent: Folder | None = None
        if name.lower().startswith("inbox."):
            parent, name = self.inbox, name[6:]
        # A sub-account's folder, delivered by Dovecot LMTP to the detail
        # mailbox "INBOX.<id>" (or a top-level "<id>"); matched whole before
        # the name is split, since a sub-account ID may contain dots.
        if (folder := self.subaccounts.get(name.lower())) is not None:
            return folder
        parts = [p for p in name.split(".") if p]
        if not parts:
            return self.inbox
        if parent is None and (role := SPECIAL_FOLDERS.get(parts[0].lower())):
            parent = self.by_role.get(role) or self.by_role.setdefault(
                role, self._create(None, parts[0], role)
            )
            parts = parts[1:]
        for part in parts:
            parent = self.child(parent, part)
        return parent


def import_maildir(*, account: Account, path: Path | str, append: bool = False) -> MaildirStats:
    """Load a Maildir++ tree into the account's mailbox in one transaction:
    the messages in bulk, the counters moved by the same totals, so they
    always equal the messages."""
    root = Path(path)
    if not root.is_dir():
        raise MaildirError(f"{root} is not a directory.")
    directories = _maildir_dirs(root)
    if not directories:
        raise MaildirError(f"{root} holds no Maildir (no cur/ or new/ directory).")
    stats = MaildirStats()
    with transaction.atomic():
        mailbox = Mailbox.objects.select_for_update().get(account=account)
        if mailbox.message_count and not append:
            raise MaildirError(
                f"The mailbox of {account.login_id} already holds {mailbox.message_count} "
                "messages; importing again would add duplicates (pass --append to add anyway)."
            )
        folders = _FolderMap(mailbox, stats)
        batch: list[Message] = []
        for maildir_name, directory in directories:
            folder = folders.resolve(maildir_name)
            label = _folder_label(folder)
            for entry in _message_files(directory):
                size_match = _SIZE_IN_NAME.search(entry.name)
                try:
                    size = int(size_match[1]) if size_match else entry.stat().st_size
                    subject, sender, received = _read_headers(entry.path)
                    received = received or _delivery_time(entry)
                except OSError:
                    stats.skipped_files += 1
                    continue
                batch.append(
                    Message(
                        office_id=mailbox.office_id,
                        mailbox=mailbox,
                        folder=folder,
                        size_bytes=size,
                        subject=subject,
                        sender=sender,
                        received_at=received,
                    )
                )
                stats.messages += 1
                stats.bytes += size
                stats.per_folder[label] += 1
                stats.bytes_per_folder[label] += size
                if len(batch) >= 2000:
                    Message.objects.bulk_create(batch)
                    batch = []
        Message.objects.bulk_create(batch)
        Mailbox.objects.filter(pk=mailbox.pk).update(
            used_bytes=F("used_bytes") + stats.bytes,
            message_count=F("message_count") + stats.messages,
        )
    return stats


def _folder_label(folder: Folder) -> str:
    names = []
    current: Folder | None = folder
    while current is not None:
        names.append(current.name)
        current = current.parent
    return "/".join(reversed(names))
