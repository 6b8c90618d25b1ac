"""Import what real mail servers know: access logs and Maildirs.

``import_access_log`` folds POP3/SMTP login events parsed by
:mod:`accounts.maillog` into ``AccessLog`` (one row per account, hour,
protocol, IP and result), flags the sign-ins an admin should see
(:mod:`accounts.access_flags`) and records how far it read
(``AccessImportPosition``) in the same transaction; ``import_maildir`` loads a
Maildir++ tree into a mailbox. Both are used by the management commands of
the same names and write in batches inside transactions.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import os
import re
from collections import Counter
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from email.parser import BytesHeaderParser
from email.policy import default as default_policy
from pathlib import Path

from django.db import connection, transaction
from django.db.models import F, Q
from django.db.models.functions import Lower
from django.utils import timezone

from accounts import access_partitions
from accounts.access_flags import FlagState, Occurrence
from accounts.access_history import fold_hour
from accounts.geo import country_for_ip
from accounts.maillog import LoginEvent, LogParser, Outcome
from accounts.models import (
    AccessImportPosition,
    AccessLog,
    Account,
    Address,
    AuditEvent,
    Folder,
    Mailbox,
    Message,
    Office,
)

STORED_PROTOCOLS = frozenset(p.value for p in Mailbox.Protocol)
UNPARSED_SAMPLES = 5


# --- access logs -----------------------------------------------------------

# Seconds before a stream's newest login within which replayed lines are
# recognised by their hash (older ones are skipped outright).
STREAM_TOLERANCE = dt.timedelta(seconds=5)
# Logins per transaction when reading a backlog: one commit per batch
# moves thousands of mailboxes' last access and rewrites the hours a batch
# shares with the next, so fewer, larger batches write much less (a
# follower commits every second whatever the size).
BATCH_SIZE = 100_000
# Lines logged twice (two syslog daemons) are recognised within this long.
DOUBLE_LOGGED_WINDOW = dt.timedelta(minutes=10)


@dataclass
class AccessImportStats:
    lines: int = 0
    imported: int = 0  # logins stored (folded into rows)
    rows_written: int = 0  # folded rows inserted or updated
    duplicates: int = 0  # logins already stored (a replayed stream, a line logged twice)
    skipped_bytes: int = 0  # bytes of files imported before, not read again
    unknown_users: int = 0
    unknown_user_names: Counter = field(default_factory=Counter)
    failed_without_user: int = 0
    skipped_protocols: Counter = field(default_factory=Counter)
    ignored: int = 0
    unparsed: int = 0
    unparsed_samples: list[str] = field(default_factory=list)
    last_access_updated: int = 0
    flagged: Counter = field(default_factory=Counter)  # occurrences by kind
    commits: int = 0


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
        # Each name as logged → its key (a batch repeats a few thousand
        # names many times over).
        self.by_raw: dict[str, str | None] = {}

    def key(self, user: str) -> str | None:
        user = user.strip().lower()
        local, at, domain = user.rpartition("@")
        if not at:
            return user or None
        if domain != self.domain or not local:
            return None
        return local

    def prefetch(self, users: Iterable[str]) -> None:
        if len(self.by_raw) > 200_000:  # attackers' made-up names, in a long follow
            self.by_raw.clear()
        raw = set(users).difference(self.by_raw)
        for user in raw:
            self.by_raw[user] = self.key(user)
        missing = {k for u in raw if (k := self.by_raw[u]) and k not in self.cache}
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
        key = self.by_raw[user] if user in self.by_raw else self.key(user)
        return self.cache.get(key) if key else None


def line_hash(line: str) -> str:
    return hashlib.blake2b(
        line.rstrip("\r\n").encode("utf-8", "replace"), digest_size=8
    ).hexdigest()


class StreamMark:
    """Where a continuous stream (stdin) got to in earlier runs: its newest
    login and the hashes of the lines of its last seconds. In this run, a
    line older than that, or one of those lines again, was imported before
    (``journalctl -f`` starts by showing the last lines again; an hourly
    ``journalctl --since -2h`` overlaps the previous hour). Lines of this
    run are never skipped for their order: the mark moves for the next run."""

    def __init__(self, name: str, last_at: dt.datetime | None, hashes: list):
        self.name = name
        self.before_at = last_at
        self.before_hashes = {h for h, _t in hashes}
        self.last_at = last_at
        # hash → epoch seconds of its login, for the next run
        self.hashes: dict[str, float] = {h: t for h, t in hashes}

    def seen(self, at: dt.datetime, digest: str) -> bool:
        if self.before_at is None:
            return False
        if at < self.before_at - STREAM_TOLERANCE:
            return True
        return digest in self.before_hashes

    def add(self, at: dt.datetime, digest: str) -> None:
        if self.last_at is None or at > self.last_at:
            self.last_at = at
            floor = (at - STREAM_TOLERANCE).timestamp()
            self.hashes = {h: t for h, t in self.hashes.items() if t >= floor}
        if at >= self.last_at - STREAM_TOLERANCE:
            self.hashes[digest] = at.timestamp()

    def saved(self) -> list:
        return [[h, t] for h, t in self.hashes.items()]


FOLD_COLUMNS = (
    "office_id",
    "account_id",
    "protocol",
    "hour",
    "ip",
    "country",
    "succeeded",
    "first_at",
    "last_at",
    "count",
    "flag",
)


def _qn(name: str) -> str:
    return connection.ops.quote_name(name)


def _pg_array(values) -> str:
    """A PostgreSQL array literal of ints, booleans, datetimes or strings
    that need no escaping (IP addresses, country codes, fixed words):
    cheaper than letting the driver adapt a list element by element,
    which cost as much as the insert itself."""
    parts = []
    for value in values:
        if value is True or value is False:
            parts.append("t" if value else "f")
        elif isinstance(value, int):
            parts.append(str(value))
        elif isinstance(value, dt.datetime):
            parts.append(f'"{value.isoformat()}"')
        else:
            parts.append(f'"{value}"')
    return "{" + ",".join(parts) + "}"


def _pg_times(values) -> str:
    """``_pg_array`` of datetimes, each distinct moment written once (a
    batch repeats its hours and seconds many times)."""
    texts: dict[dt.datetime, str] = {}
    parts = []
    for value in values:
        text = texts.get(value)
        if text is None:
            text = texts[value] = f'"{value.isoformat()}"'
        parts.append(text)
    return "{" + ",".join(parts) + "}"


def _pg_words(values) -> str:
    """``_pg_array`` of strings that need no escaping."""
    return '{"' + '","'.join(values) + '"}' if values else "{}"


def _pg_ints(values) -> str:
    return "{" + ",".join(map(str, values)) + "}"


def _pg_bools(values) -> str:
    return "{" + ",".join("t" if v else "f" for v in values) + "}"


# How each of FOLD_COLUMNS is written as an array literal.
_FOLD_ENCODERS = (
    _pg_ints,
    _pg_ints,
    _pg_words,
    _pg_times,
    _pg_words,
    _pg_words,
    _pg_bools,
    _pg_times,
    _pg_times,
    _pg_ints,
    _pg_words,
)


def upsert_folds(rows: list[tuple]) -> int:
    """Add folded logins (tuples in ``FOLD_COLUMNS`` order, one per fold
    key) to the access log: a new key is inserted, a known one gets its
    count added and its first/last time widened, in one statement per
    batch. Returns how many rows were written."""
    if not rows:
        return 0
    table = _qn(AccessLog._meta.db_table)
    columns = ", ".join(_qn(c) for c in FOLD_COLUMNS)
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            adapt = connection.ops.adapt_datetimefield_value
            placeholders = ", ".join(["%s"] * len(FOLD_COLUMNS))
            cursor.executemany(
                f"INSERT INTO {table} ({columns}) VALUES ({placeholders}) "
                "ON CONFLICT (account_id, hour, protocol, ip, succeeded) DO UPDATE SET "
                "first_at = MIN(first_at, excluded.first_at), "
                "last_at = MAX(last_at, excluded.last_at), "
                "count = count + excluded.count, "
                "flag = CASE WHEN flag = '' THEN excluded.flag ELSE flag END",
                [
                    (*row[:3], adapt(row[3]), *row[4:7], adapt(row[7]), adapt(row[8]), *row[9:])
                    for row in rows
                ],
            )
            return len(rows)
        cursor.execute(
            f"INSERT INTO {table} AS t ({columns}) SELECT * FROM unnest("
            "%s::bigint[], %s::bigint[], %s::text[], %s::timestamptz[], %s::text[]::inet[], "
            "%s::text[], %s::boolean[], %s::timestamptz[], %s::timestamptz[], %s::integer[], "
            "%s::text[]) "
            "ON CONFLICT (account_id, hour, protocol, ip, succeeded) DO UPDATE SET "
            "first_at = LEAST(t.first_at, EXCLUDED.first_at), "
            "last_at = GREATEST(t.last_at, EXCLUDED.last_at), "
            "count = t.count + EXCLUDED.count, "
            "flag = CASE WHEN t.flag = '' THEN EXCLUDED.flag ELSE t.flag END",
            [
                encode(column)
                for encode, column in zip(_FOLD_ENCODERS, zip(*rows, strict=True), strict=True)
            ],
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
                [_pg_array(column) for column in (ids, ats, protocols, ips, countries)],
            )
        return max(cursor.rowcount, 0)


def _update_flags(newest: dict[int, tuple[dt.datetime, str]]) -> None:
    """The mailbox's newest flagged sign-in (the list's badge and filter)."""
    for account_id, (at, kind) in newest.items():
        Mailbox.objects.filter(account_id=account_id).filter(
            Q(access_flag_at__isnull=True) | Q(access_flag_at__lte=at)
        ).update(access_flag=kind, access_flag_at=at)


def _update_countries(summaries: dict[int, dict[str, str]]) -> None:
    """Write the mailboxes' country summaries that changed, in one
    statement on PostgreSQL."""
    if not summaries:
        return
    table = _qn(Mailbox._meta.db_table)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            ids = list(summaries)
            cursor.execute(
                f"UPDATE {table} AS m SET access_countries = v.countries "
                "FROM unnest(%s::bigint[], %s::jsonb[]) AS v(account_id, countries) "
                "WHERE m.account_id = v.account_id",
                [ids, [json.dumps(summaries[i]) for i in ids]],
            )
        else:
            cursor.executemany(
                f"UPDATE {table} SET access_countries = %s WHERE account_id = %s",
                [(json.dumps(summary), account_id) for account_id, summary in summaries.items()],
            )


def _audit_occurrences(office: Office, occurrences: list[Occurrence], labels, zone) -> None:
    AuditEvent.objects.bulk_create(
        [
            AuditEvent(
                office=office,
                action=AuditEvent.Action.ACCESS_FLAGGED,
                target_id=o.account_id,
                target_label=labels.get(o.account_id, ""),
                actor_label="",
                data={
                    "flag": o.kind,
                    "protocol": o.protocol,
                    "country": o.country,
                    "sign_in_ip": o.ip,
                    "sign_in_at": o.at.astimezone(zone).isoformat(),
                    **({"failures": o.failures} if o.failures else {}),
                },
                ip=o.ip,
                at=o.at,
            )
            for o in occurrences
        ]
    )


class AccessLogImporter:
    """Feed lines with :meth:`feed` (or :meth:`feed_line`), then call
    :meth:`finish`; :meth:`flush` writes what was fed so far, with the
    positions set by :meth:`set_file_position` / :meth:`use_stream`, in one
    transaction -- on PostgreSQL outside a caller's transaction, on the
    writer's thread while the next lines are read (the next flush, and
    :meth:`finish`, wait for it and raise its error)."""

    def __init__(
        self,
        *,
        office: Office,
        now: dt.datetime | None = None,
        time_zone: dt.tzinfo | None = None,
        batch_size: int = BATCH_SIZE,
        flags: bool = True,
        background: bool = True,
    ):
        import zoneinfo

        self.office = office
        self.parser = LogParser(
            now=now or timezone.now(),
            time_zone=time_zone or zoneinfo.ZoneInfo(office.time_zone),
            utc=True,
        )
        self.batch_size = batch_size
        self.stats = AccessImportStats()
        self.users = _UserResolver(office)
        self.countries: dict[str, str] = {}
        self.pending: list[LoginEvent] = []
        self.flags = FlagState(office) if flags else None
        # Lines logged twice: event key → its time.
        self.recent_events: dict[tuple, dt.datetime] = {}
        self.newest_event: dt.datetime | None = None
        # Positions to commit with the next flush: source → (path, offset).
        self.file_positions: dict[str, tuple[str, int]] = {}
        # Positions handed to a batch (written with it, or being written).
        self.handed_positions: dict[str, tuple[str, int]] = {}
        self.stream: StreamMark | None = None
        self.stream_dirty = False
        # The batch being written on the writer's thread (see flush).
        self.background = background
        self.writer: ThreadPoolExecutor | None = None
        self.in_flight: Future | None = None
        self.writer_used = False
        self.failed = False

    # -- positions --

    def file_offset(self, source: str) -> int:
        """The committed (or pending) offset of a file source."""
        if source in self.file_positions:
            return self.file_positions[source][1]
        if source in self.handed_positions:  # (maybe still being written)
            return self.handed_positions[source][1]
        found = (
            AccessImportPosition.objects.filter(office=self.office, source=source)
            .values_list("offset", flat=True)
            .first()
        )
        return found or 0

    def set_file_position(self, source: str, path: str, offset: int) -> None:
        self.file_positions[source] = (path, offset)

    def use_stream(self, name: str) -> None:
        """Read the lines fed from now on as the stream ``name``: a replay
        of what it already imported is skipped."""
        found = AccessImportPosition.objects.filter(
            office=self.office, source=f"stream:{name}"
        ).first()
        self.stream = StreamMark(
            name, found.last_at if found else None, found.recent_hashes if found else []
        )

    # -- lines --

    def feed(self, lines: Iterable[str], source: str = "-") -> None:
        for number, line in enumerate(lines, start=1):
            self.feed_line(line, source, number)

    def feed_line(self, line: str, source: str = "-", number: int = 0) -> None:
        stats = self.stats
        stats.lines += 1
        result = self.parser.parse(line)
        if result is Outcome.IGNORED:
            stats.ignored += 1
        elif result is Outcome.UNPARSED:
            if not line.strip():
                stats.ignored += 1
                return
            stats.unparsed += 1
            if len(stats.unparsed_samples) < UNPARSED_SAMPLES:
                stats.unparsed_samples.append(f"{source}:{number}: {line.rstrip()[:200]}")
        elif result.protocol not in STORED_PROTOCOLS:
            stats.skipped_protocols[result.protocol] += 1
        elif not result.user:
            stats.failed_without_user += 1
        else:
            if self.stream is not None:
                digest = line_hash(line)
                if self.stream.seen(result.at, digest):
                    stats.duplicates += 1
                    return
                self.stream.add(result.at, digest)
                self.stream_dirty = True
            self.pending.append(result)
            if len(self.pending) >= self.batch_size:
                self.flush()

    def finish(self) -> AccessImportStats:
        """Write what is left and wait for it."""
        try:
            self.flush()
        finally:
            self.close()
        return self.stats

    def _country(self, ip: str) -> str:
        country = self.countries.get(ip)
        if country is None:
            country = self.countries[ip] = country_for_ip(ip)
        return country

    def _double_logged(self, key: tuple, at: dt.datetime) -> bool:
        """The same session's login logged twice (two syslog daemons)."""
        if key in self.recent_events:
            return True
        self.recent_events[key] = at
        if self.newest_event is None or at > self.newest_event:
            self.newest_event = at
        if len(self.recent_events) > 200_000:
            floor = self.newest_event - DOUBLE_LOGGED_WINDOW
            self.recent_events = {k: t for k, t in self.recent_events.items() if t >= floor}
        return False

    def flush(self) -> None:
        events, self.pending = self.pending, []
        if self.failed:
            # A batch failed to write: nothing after it may be written (its
            # position would skip the failed batch's logins).
            self.file_positions = {}
            self.stream_dirty = False
            return
        if not events and not self.file_positions and not self.stream_dirty:
            self._collect()
            return
        self.users.prefetch(e.user for e in events)
        office_id = self.office.pk
        resolved = []
        by_raw, cache = self.users.by_raw, self.users.cache
        countries, country_of = self.countries, self._country
        double_logged = self._double_logged
        for event in events:
            # (names are all in by_raw after the prefetch)
            key = by_raw[event.user]
            account_id = cache.get(key) if key else None
            if account_id is None:
                self.stats.unknown_users += 1
                self.stats.unknown_user_names[event.user.lower()] += 1
                continue
            at = event.at
            if at.microsecond:
                at = at.replace(microsecond=0)
            if event.session_id and double_logged(
                (account_id, event.protocol, at, event.ip, event.succeeded, event.session_id), at
            ):
                self.stats.duplicates += 1
                continue
            ip = event.ip
            country = countries.get(ip)
            if country is None:
                country = country_of(ip)
            resolved.append((account_id, at, event.protocol, ip, country, event.succeeded))
        folds: dict[tuple, list] = {}
        newest: dict[int, tuple] = {}
        flagged: dict[int, tuple[dt.datetime, str]] = {}
        occurrences: list[Occurrence] = []
        flags = self.flags
        if flags is not None and resolved:
            flags.prepare(resolved)
        hours: dict[dt.datetime, dt.datetime] = {}
        for account_id, at, protocol, ip, country, succeeded in resolved:
            flag = ""
            if flags is not None:
                flag, occurrence = flags.flag(account_id, at, protocol, ip, country, succeeded)
                if occurrence is not None:
                    occurrences.append(occurrence)
                if flag and (account_id not in flagged or flagged[account_id][0] <= at):
                    flagged[account_id] = (at, flag)
            hour = hours.get(at)
            if hour is None:
                hour = hours[at] = fold_hour(at)
            key = (account_id, hour, protocol, ip, succeeded)
            fold = folds.get(key)
            if fold is None:
                folds[key] = [country, at, at, 1, flag]
            else:
                if at < fold[1]:
                    fold[1] = at
                elif at > fold[2]:
                    fold[2] = at
                fold[3] += 1
                if not fold[4]:
                    fold[4] = flag
            if succeeded:
                current = newest.get(account_id)
                if current is None or at > current[0]:
                    newest[account_id] = (at, protocol, ip, country)
        # In the unique key's order: the upsert then walks the key's index
        # pages in order instead of jumping about the 90-day history.
        rows = [
            (office_id, account_id, protocol, hour, ip, country, ok, first, last, count, flag)
            for (account_id, hour, protocol, ip, ok), (country, first, last, count, flag) in sorted(
                folds.items()
            )
        ]
        if rows:
            access_partitions.ensure_for(set(hours.values()))
        batch = _Batch(
            office=self.office,
            zone=self.parser.time_zone,
            rows=rows,
            newest=newest,
            flagged=flagged,
            summaries=self.flags.summary_changes() if self.flags is not None else {},
            occurrences=occurrences,
            positions=self.file_positions,
            stream=self._stream_snapshot(),
        )
        self.handed_positions.update(self.file_positions)
        self.file_positions = {}
        self.stats.imported += len(resolved)
        for occurrence in occurrences:
            self.stats.flagged[occurrence.kind] += 1
        if self._use_writer():
            self._collect()
            if self.writer is None:
                self.writer = ThreadPoolExecutor(1, thread_name_prefix="access-writer")
                self.writer_used = True
            self.in_flight = self.writer.submit(_write_in_thread, batch)
        else:
            self._settle(batch.write)

    def _use_writer(self) -> bool:
        """Whether batches are written on a thread of their own while the
        next one is parsed (the two cores then share the work: Python parses,
        PostgreSQL writes). Not inside a caller's transaction: the writer's
        connection would neither see it nor roll back with it."""
        return (
            self.background and connection.vendor == "postgresql" and not connection.in_atomic_block
        )

    def _collect(self) -> None:
        """Wait for the batch being written; its error, if any, is raised
        here (its transaction was rolled back with its positions, so a new
        run starts again where it left off)."""
        if self.in_flight is not None:
            future, self.in_flight = self.in_flight, None
            self._settle(future.result)

    def _settle(self, write) -> None:
        """Count a written batch (``write`` returns what it wrote), or
        remember that one failed."""
        try:
            rows, moved = write()
        except BaseException:
            self.failed = True
            raise
        self.stats.rows_written += rows
        self.stats.last_access_updated += moved
        self.stats.commits += 1

    def _stream_snapshot(self) -> tuple | None:
        if self.stream is None or not self.stream_dirty:
            return None
        self.stream_dirty = False
        return (self.stream.name, self.stream.last_at, self.stream.saved())

    def close(self) -> None:
        """Wait for the batch being written and stop the writer's thread
        (closing its connection)."""
        if self.writer is None:
            return
        writer, self.writer = self.writer, None
        try:
            self._collect()
        finally:
            # (looked up on the writer's thread: its own connection)
            writer.submit(_close_connection).result()
            writer.shutdown()


def _write_in_thread(batch: _Batch) -> tuple[int, int]:
    try:
        return batch.write()
    except Exception:
        # A broken connection is not reused for the next batch.
        _close_connection()
        raise


def _close_connection() -> None:
    connection.close()


@dataclass
class _Batch:
    """One transaction's worth of folded logins, with the positions read so
    far: written together, or not at all."""

    office: Office
    zone: dt.tzinfo
    rows: list
    newest: dict
    flagged: dict
    summaries: dict
    occurrences: list
    positions: dict
    stream: tuple | None

    def write(self) -> tuple[int, int]:
        """Returns (rows written, mailboxes whose last access moved)."""
        with transaction.atomic():
            written = upsert_folds(self.rows)
            moved = _update_last_access(self.newest)
            if self.flagged:
                _update_flags(self.flagged)
            _update_countries(self.summaries)
            if self.occurrences:
                labels = dict(
                    Account.objects.filter(
                        pk__in={o.account_id for o in self.occurrences}
                    ).values_list("pk", "login_id")
                )
                _audit_occurrences(self.office, self.occurrences, labels, self.zone)
            self._save_positions()
        return written, moved

    def _save_positions(self) -> None:
        now = timezone.now()
        for source, (path, offset) in self.positions.items():
            AccessImportPosition.objects.update_or_create(
                office=self.office,
                source=source,
                defaults={"path": path[-1024:], "offset": offset, "updated_at": now},
            )
        if self.stream is not None:
            name, last_at, hashes = self.stream
            AccessImportPosition.objects.update_or_create(
                office=self.office,
                source=f"stream:{name}"[:80],
                defaults={"last_at": last_at, "recent_hashes": hashes, "updated_at": now},
            )


def import_access_log(
    *,
    office: Office,
    lines: Iterable[str],
    now: dt.datetime | None = None,
    time_zone: dt.tzinfo | None = None,
    batch_size: int = BATCH_SIZE,
    stream: str | None = None,
) -> AccessImportStats:
    """Import lines; with ``stream``, as that named stream (a replay of
    what it imported before is skipped)."""
    importer = AccessLogImporter(office=office, now=now, time_zone=time_zone, batch_size=batch_size)
    if stream:
        importer.use_stream(stream)
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
        # Each folder's totals, added to its counters once at the end.
        per_folder: dict[int, list[int]] = {}
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
                totals = per_folder.setdefault(folder.pk, [0, 0])
                totals[0] += 1
                totals[1] += size
                if len(batch) >= 2000:
                    Message.objects.bulk_create(batch)
                    batch = []
        Message.objects.bulk_create(batch)
        Mailbox.objects.filter(pk=mailbox.pk).update(
            used_bytes=F("used_bytes") + stats.bytes,
            message_count=F("message_count") + stats.messages,
        )
        # One UPDATE per folder that received mail (a mailbox has a handful).
        for folder_id, (count, size) in per_folder.items():
            Folder.objects.filter(pk=folder_id).update(
                message_count=F("message_count") + count, size_bytes=F("size_bytes") + size
            )
    return stats


def _folder_label(folder: Folder) -> str:
    names = []
    current: Folder | None = folder
    while current is not None:
        names.append(current.name)
        current = current.parent
    return "/".join(reversed(names))
