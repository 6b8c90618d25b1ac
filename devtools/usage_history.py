"""180 days of plausible usage history for the demo and the bench office.

Written in bulk (one ``INSERT … SELECT`` per slice of accounts, over a
generated series of days) rather than by running the snapshot 180 times:
each account's usage today is the mailbox's counter, and going back in time
it shrinks by a growth rate of its own (0 to 60 % over the half year) with a
small daily wobble, as mailboxes fill. The office's daily totals are summed
from those rows, the sign-ins per country counted from the access history,
and today's snapshot is then taken for real (with its growth ranking).
"""

from __future__ import annotations

import datetime as dt

from django.db import connection, transaction
from django.utils import timezone

from accounts.models import Mailbox, Office
from reports.models import HISTORY_DAYS, OfficeUsageDay
from reports.snapshots import office_day, store_sign_ins, take_snapshot

SLICE = 2_000  # accounts per INSERT (x 180 rows)


def _day_expression() -> str:
    if connection.vendor == "postgresql":
        return "(%s::date - g.n)"
    return "date(%s, '-' || g.n || ' days')"


def _shrink(column: str) -> str:
    # rate: 0-59 % over HISTORY_DAYS, per account; wobble: 0-0.6 % per day
    factor = (
        f"(1.0 - ((m.account_id * 7919) %% 60) / 100.0 * g.n / {HISTORY_DAYS}.0"
        " - ((m.account_id * 31 + g.n * 17) %% 7) / 1000.0)"
    )
    return f"CAST(CASE WHEN {factor} < 0 THEN 0 ELSE m.{column} * {factor} END AS BIGINT)"


def build_history(office: Office, *, days: int = HISTORY_DAYS, now=None, progress=None) -> int:
    """Fill ``days`` days before today for every mail account of the office
    (today itself is a real snapshot); returns the account rows written."""
    now = now or timezone.now()
    today = office_day(office, now)
    series = "WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < %s) "
    sql = (
        series + "INSERT INTO reports_accountusageday "
        "(account_id, day, office_id, used_bytes, message_count) "
        f"SELECT m.account_id, {_day_expression()}, m.office_id, "
        f"{_shrink('used_bytes')}, {_shrink('message_count')} "
        "FROM accounts_mailbox m, g WHERE m.office_id = %s AND m.account_id BETWEEN %s AND %s "
        "ON CONFLICT (account_id, day) DO NOTHING"
    )
    ids = Mailbox.objects.filter(office=office).order_by("account_id")
    first = ids.values_list("account_id", flat=True).first()
    last = ids.values_list("account_id", flat=True).last()
    written = 0
    if first is not None:
        start = first
        while start <= last:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute(sql, [days, today, office.pk, start, start + SLICE - 1])
                written += max(cursor.rowcount, 0)
            start += SLICE
            if progress:
                progress(f"usage history: {written:,} account-days")
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO reports_officeusageday "
            "(office_id, day, used_bytes, message_count, mailboxes, top_growth, taken_at) "
            "SELECT office_id, day, SUM(used_bytes), SUM(message_count), COUNT(*), '{}', %s "
            "FROM reports_accountusageday WHERE office_id = %s AND day < %s "
            "GROUP BY office_id, day "
            "ON CONFLICT (office_id, day) DO NOTHING",
            [now, office.pk, today],
        )
    if progress:
        progress("sign-ins per country per day")
    store_sign_ins(office, [today - dt.timedelta(days=n) for n in range(days, 1, -1)])
    take_snapshot(office, day=today, now=now)
    return written


def has_history(office: Office, days: int = HISTORY_DAYS) -> bool:
    return OfficeUsageDay.objects.filter(office=office).count() > days
