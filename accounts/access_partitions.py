"""The access log's monthly partitions on PostgreSQL (migration 0010).

``accounts_accesslog`` is ``PARTITION BY RANGE (hour)``: one partition per
UTC month, named ``accounts_accesslog_pYYYYMM``, and a DEFAULT partition
that catches a row no month exists for yet. Months are created ahead: the
importer makes sure every month its batch touches exists before writing,
and ``prune_access_logs`` keeps the current and the next two months ready.
A month created while the default partition holds some of its rows takes
them over (moved in the same transaction), so a stray row never blocks it.

Pruning detaches and drops whole months -- a catalogue change, as fast for
a month of fifty million rows as for an empty one. SQLite has no
partitions: everything here is a no-op there and pruning deletes in
batches (:mod:`accounts.maintenance`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from django.db import connection, transaction

PARENT = "accounts_accesslog"
DEFAULT = "accounts_accesslog_default"
PREFIX = "accounts_accesslog_p"
AHEAD_MONTHS = 2

# Months known to exist in this process (a cache: a month is only ever
# dropped by prune, which forgets it here).
_known: set[dt.datetime] = set()


def partitioned() -> bool:
    return connection.vendor == "postgresql"


def month_start(moment: dt.datetime) -> dt.datetime:
    moment = moment.astimezone(dt.UTC)
    return moment.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def next_month(month: dt.datetime) -> dt.datetime:
    return (month + dt.timedelta(days=32)).replace(day=1)


def partition_name(month: dt.datetime) -> str:
    return f"{PREFIX}{month:%Y%m}"


def existing_months() -> dict[dt.datetime, str]:
    """Month start → partition name, as the catalogue says."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = %s",
            [PARENT],
        )
        names = [row[0] for row in cursor.fetchall()]
    months = {}
    for name in names:
        suffix = name.removeprefix(PREFIX)
        if name.startswith(PREFIX) and len(suffix) == 6 and suffix.isdigit():
            months[dt.datetime(int(suffix[:4]), int(suffix[4:]), 1, tzinfo=dt.UTC)] = name
    return months


def _create(month: dt.datetime) -> bool:
    """Create one month (taking over its rows from the default partition);
    False when another process was first."""
    name = partition_name(month)
    upper = next_month(month)
    with transaction.atomic(), connection.cursor() as cursor:
        # One creator at a time, whichever office's importer or prune asks.
        cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [PARENT])
        cursor.execute("SELECT to_regclass(%s) IS NOT NULL", [name])
        if cursor.fetchone()[0]:
            return False
        cursor.execute(
            f"CREATE TABLE {name} (LIKE {PARENT} INCLUDING DEFAULTS INCLUDING CONSTRAINTS)"
        )
        cursor.execute(
            f"WITH moved AS (DELETE FROM {DEFAULT} WHERE hour >= %s AND hour < %s RETURNING *) "
            f"INSERT INTO {name} SELECT * FROM moved",
            [month, upper],
        )
        cursor.execute(
            f"ALTER TABLE {PARENT} ATTACH PARTITION {name} FOR VALUES FROM (%s) TO (%s)",
            [month, upper],
        )
    return True


def ensure_months(months: Iterable[dt.datetime]) -> int:
    """Make sure a partition exists for each month; returns how many were
    created."""
    if not partitioned():
        return 0
    wanted = {month_start(m) for m in months} - _known
    if not wanted:
        return 0
    _known.update(existing_months())
    created = 0
    for month in sorted(wanted - _known):
        created += _create(month)
        _known.add(month)
    return created


def ensure_for(moments: Iterable[dt.datetime]) -> int:
    """The months of these moments (a batch's hours)."""
    if not partitioned():
        return 0
    return ensure_months({month_start(m) for m in moments})


def ensure_ahead(now: dt.datetime, months: int = AHEAD_MONTHS) -> int:
    """The current month and the next ``months``."""
    month = month_start(now)
    wanted = [month]
    for _ in range(months):
        month = next_month(month)
        wanted.append(month)
    return ensure_months(wanted)


def estimated_rows(name: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT GREATEST(reltuples, 0)::bigint FROM pg_class WHERE relname = %s", [name]
        )
        row = cursor.fetchone()
    return int(row[0]) if row else 0


def drop_months_before(cutoff: dt.datetime) -> list[tuple[str, int]]:
    """Detach and drop every month that ends at or before ``cutoff``;
    returns (partition, estimated rows) for each."""
    if not partitioned():
        return []
    old = {
        month: name
        for month, name in sorted(existing_months().items())
        if next_month(month) <= cutoff
    }
    if not old:
        return []
    dropped = [(name, estimated_rows(name)) for name in old.values()]
    # One statement in one transaction: dropping a partition detaches it
    # (no separate DETACH), and the time went to the commits -- each waits
    # for its WAL flush and its files' removal -- not to the drops
    # themselves, so several months cost about as much as one.
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE {', '.join(old.values())}")
    _known.difference_update(old)
    return dropped


def forget() -> None:
    """Forget the months this process knows (tests that rebuild the table)."""
    _known.clear()
