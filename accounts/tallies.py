"""Reading the per-office counts the database keeps (:class:`OfficeTally`,
written by the triggers of migrations ``0014_office_tallies`` and
``0018_listing_tally``).

A count is the sum of its kind's rows: one row on SQLite, on PostgreSQL one
per statement that changed it since the last :func:`fold`, which the daily
``prune_access_logs`` runs. Either way it is an index-only range of a few
rows, where counting the rows themselves was a scan of the office's
100,000 accounts or 1,000,000 events.
"""

from __future__ import annotations

from django.db import connection, transaction

from accounts import search_index
from accounts.models import OfficeTally

USERS = "users"
# The usage list's accounts: rows of the read model (MailListing), kept by
# migration 0018_listing_tally's triggers.
LISTING = "listing"


def _sum_of(kind_condition: str) -> str:
    """The sum of an office's rows whose kind meets ``kind_condition``
    (the office's id its first parameter)."""
    return (
        f"SELECT COALESCE(SUM(n), 0) FROM {OfficeTally._meta.db_table} "
        f"WHERE office_id = %s AND kind {kind_condition}"
    )


# The listed accounts' sum as SQL with the office its one parameter, for a
# statement that reads it beside other counts.
LISTING_COUNT_SQL = _sum_of(f"= '{LISTING}'")


def audit_kind(action: str) -> str:
    return f"audit.{action}"


def users_count(office) -> int:
    """The office's accounts that are not deleted."""
    return _count(*_sum_sql(office, USERS))


def listing_count(office) -> int:
    """The office's accounts on the usage list (using mail, not deleted)."""
    return _count(*_sum_sql(office, LISTING))


def users_count_sql(office, query: str = "") -> tuple[str, list] | None:
    """The count of 사용자 관리 for ``query`` where the database keeps it,
    as SQL (a page may read it in the statement of its rows): every
    account not deleted, or those whose name or ID holds a syllable or two
    (``accounts_accountgram``, an index range); None for a search that
    must be counted on the rows."""
    if not query:
        return _sum_sql(office, USERS)
    if search_index.gram_searchable(query):
        return search_index.ACCOUNT_GRAM_COUNT, [office.pk, query]
    return None


def users_count_known(office, query: str = "") -> int | None:
    """:func:`users_count_sql`, counted."""
    counted = users_count_sql(office, query)
    return None if counted is None else _count(*counted)


def audit_count_sql(office, action: str | None = None) -> tuple[str, list]:
    """The office's audit events, or those of one ``action``, as SQL."""
    if action:
        return _sum_sql(office, audit_kind(action))
    return _sum_sql(office, "audit.", prefix=True)


def audit_count(office, action: str | None = None) -> int:
    """The office's audit events, or those of one ``action``."""
    return _count(*audit_count_sql(office, action))


def _sum_sql(office, kind: str, *, prefix: bool = False) -> tuple[str, list]:
    """A kind's sum (or the sum of the kinds starting with ``kind``)."""
    condition, value = ("LIKE", f"{kind}%") if prefix else ("=", kind)
    return _sum_of(f"{condition} %s"), [office.pk, value]


def _count(sql: str, params: list) -> int:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return int(cursor.fetchone()[0])


def fold(office=None) -> int:
    """Sum each (office, kind)'s rows into one; the number of rows removed.

    Only PostgreSQL adds a row per statement. The rows are deleted and their
    sum written in one statement: a transaction adding rows meanwhile is not
    seen (its rows stay as they are), and of two folds at once the second
    deletes, and so sums, only what the first had not."""
    if connection.vendor != "postgresql":
        return 0
    where, params = ("WHERE office_id = %s", [office.pk]) if office is not None else ("", [])
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "WITH gone AS (DELETE FROM accounts_officetally "
            f"{where} RETURNING office_id, kind, n), "
            "kept AS (INSERT INTO accounts_officetally (office_id, kind, n) "
            "SELECT office_id, kind, sum(n) FROM gone GROUP BY office_id, kind "
            "HAVING sum(n) <> 0 RETURNING 1) "
            "SELECT (SELECT count(*) FROM gone) - (SELECT count(*) FROM kept)",
            params,
        )
        return cursor.fetchone()[0]
