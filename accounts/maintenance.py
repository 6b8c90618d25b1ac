"""Keeping the access log bounded and the denormalised counters true."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field

from django.db import connection, transaction
from django.db.models import OuterRef, Subquery
from django.utils import timezone

from accounts import access_partitions
from accounts.access_history import access_window_start, fold_hour, recent_access
from accounts.mailstore import get_mail_store
from accounts.models import AccessLog, Mailbox, Office


@dataclass
class PruneResult:
    rows: int = 0  # deleted row by row (SQLite, one office, stray rows)
    partitions: list[tuple[str, int]] = field(default_factory=list)  # (name, about rows)
    created: int = 0  # months created ahead

    @property
    def partition_rows(self) -> int:
        return sum(rows for _name, rows in self.partitions)


def prune_access_logs(
    *,
    keep_days: int,
    office=None,
    now: dt.datetime | None = None,
    batch_size: int = 5000,
    progress: Callable[[int], None] | None = None,
) -> PruneResult:
    """Drop access history older than ``keep_days`` days.

    On PostgreSQL (partitioned by month) every month that ended before the
    cutoff is detached and dropped whole, whatever its size, and the next
    months are created ahead; rows of the month the cutoff falls in stay
    until that month has ended (the screens never show them: they read the
    3-month window only). For one office (``office``), on SQLite, and for
    stray rows in the default partition, rows go in batches, one
    transaction per batch, so no lock is held for long."""
    now = now or timezone.now()
    cutoff = now - dt.timedelta(days=keep_days)
    result = PruneResult()
    if access_partitions.partitioned():
        access_partitions.forget()  # ask the catalogue, not this process's memory
        result.created = access_partitions.ensure_ahead(now)
        if office is None:
            result.partitions = access_partitions.drop_months_before(cutoff)
            result.rows = _delete_default_rows(
                access_partitions.month_start(cutoff), batch_size, progress
            )
            return result
    offices = [office] if office is not None else list(Office.objects.order_by("pk"))
    for one in offices:
        result.rows += _delete_in_batches(
            AccessLog.objects.filter(office=one, hour__lt=fold_hour(cutoff)), batch_size, progress
        )
    return result


def _delete_in_batches(old, batch_size, progress) -> int:
    """Delete the rows of ``old`` a batch per transaction."""
    deleted = 0
    while True:
        with transaction.atomic():
            ids = list(old.values_list("pk", flat=True)[:batch_size])
            if not ids:
                return deleted
            deleted += AccessLog.objects.filter(pk__in=ids).delete()[0]
        if progress:
            progress(deleted)


def _delete_default_rows(before: dt.datetime, batch_size, progress) -> int:
    """Old rows that landed in PostgreSQL's default partition (a month
    that did not exist yet when they were written), in batches."""
    table = access_partitions.DEFAULT
    deleted = 0
    while True:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                f"DELETE FROM {table} WHERE ctid IN "
                f"(SELECT ctid FROM {table} WHERE hour < %s LIMIT %s)",
                [before, batch_size],
            )
            count = cursor.rowcount
        if not count:
            return deleted
        deleted += count
        if progress:
            progress(deleted)


@dataclass
class Drift:
    mailbox_id: int
    address: str
    field: str
    stored: object
    actual: object


@dataclass
class ReconcileResult:
    mailboxes: int = 0
    drifts: list[Drift] = field(default_factory=list)
    fixed: int = 0


COUNTER_FIELDS = ("used_bytes", "message_count")
ACCESS_FIELDS = ("last_access_at", "last_access_protocol", "last_access_ip", "last_access_country")


def reconcile_usage(
    *, office=None, fix: bool = False, now: dt.datetime | None = None, chunk_size: int = 1000
) -> ReconcileResult:
    """Recompute every mailbox's counters (and each of its folders') from
    the mail store and its last access from the access log; report each
    difference, and store the recomputed values when ``fix``.

    Last access is the newest login of the newest successful POP3/SMTP
    row (the folded rows keep each one's last login to the second). When the log holds
    none (pruned history), a stored last access older than the 3-month
    window is no drift -- it is shown nowhere -- but one inside it is.
    """
    now = now or timezone.now()
    store = get_mail_store()
    result = ReconcileResult()
    mailboxes = Mailbox.objects.select_related("account", "office").order_by("pk")
    if office is not None:
        mailboxes = mailboxes.filter(office=office)
    newest_success = AccessLog.objects.filter(
        account_id=OuterRef("account_id"),
        succeeded=True,
        protocol__in=[p.value for p in Mailbox.Protocol],
    ).order_by("-hour", "-last_at", "-pk")
    mailboxes = mailboxes.annotate(newest_access_id=Subquery(newest_success.values("pk")[:1]))
    last_pk = 0
    while True:
        chunk = list(mailboxes.filter(pk__gt=last_pk)[:chunk_size])
        if not chunk:
            return result
        last_pk = chunk[-1].pk
        result.mailboxes += len(chunk)
        usage = store.usage(chunk)
        folder_drift: dict[int, list] = {}
        for drift in store.folder_drift(chunk):
            folder_drift.setdefault(drift.mailbox_id, []).append(drift)
        access = AccessLog.objects.in_bulk(
            [m.newest_access_id for m in chunk if m.newest_access_id]
        )
        changed: list[Mailbox] = []
        changed_fields: set[str] = set()
        for mailbox in chunk:
            found = usage[mailbox.pk]
            actual = {"used_bytes": found.bytes, "message_count": found.messages}
            row = access.get(mailbox.newest_access_id)
            if row is not None:
                actual.update(
                    last_access_at=row.last_at,
                    last_access_protocol=row.protocol,
                    last_access_ip=row.ip,
                    last_access_country=row.country,
                )
            elif (
                recent_access(
                    mailbox.last_access_at, access_window_start(mailbox.office.time_zone, now)
                )
                is not None
            ):
                actual.update(
                    last_access_at=None,
                    last_access_protocol="",
                    last_access_ip=None,
                    last_access_country="",
                )
            drifted = False
            for name, value in actual.items():
                stored = getattr(mailbox, name)
                if stored != value:
                    result.drifts.append(
                        Drift(mailbox.pk, mailbox.account.email, name, stored, value)
                    )
                    setattr(mailbox, name, value)
                    changed_fields.add(name)
                    drifted = True
            for drift in folder_drift.get(mailbox.pk, []):
                for name, was, counted in (
                    ("message_count", drift.stored.messages, drift.actual.messages),
                    ("size_bytes", drift.stored.bytes, drift.actual.bytes),
                ):
                    if was != counted:
                        result.drifts.append(
                            Drift(
                                mailbox.pk,
                                mailbox.account.email,
                                f"folder {drift.folder}: {name}",
                                was,
                                counted,
                            )
                        )
                drifted = True
            if drifted:
                changed.append(mailbox)
        if fix and changed:
            with transaction.atomic():
                _store_fixes(store, changed, changed_fields, set(folder_drift))
            result.fixed += len(changed)


def _store_fixes(
    store, changed: list[Mailbox], fields: set[str], folders_drifted: set[int]
) -> None:
    """Counters are asked of the mail store again under the mailbox lock so
    that mail delivered meanwhile is counted (folders are recounted under it
    too); the last access is written as found."""
    for mailbox in changed:
        rows = Mailbox.objects.filter(pk=mailbox.pk)
        list(rows.select_for_update().values_list("pk"))  # hold the row while counting
        updates = {}
        if fields & set(COUNTER_FIELDS):
            found = store.usage([mailbox])[mailbox.pk]
            updates.update(used_bytes=found.bytes, message_count=found.messages)
        for name in ACCESS_FIELDS:
            if name in fields:
                updates[name] = getattr(mailbox, name)
        if updates:
            rows.update(**updates)
        if mailbox.pk in folders_drifted:
            store.recount_folders(mailbox)
