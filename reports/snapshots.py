"""Taking the daily usage snapshots (``snapshot_usage``, the daily task).

Each step is one statement whatever the office's size: the account rows are
copied from the mailboxes' counters with ``INSERT … SELECT … ON CONFLICT DO
UPDATE`` (SQLite and PostgreSQL alike), the office's totals are summed from
them, and the growth ranking is two index range scans joined.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Iterable

from django.db import connection, transaction
from django.db.models import Count, Min, Q, Sum
from django.utils import timezone

from accounts.models import AccessLog, Mailbox, Office
from reports.models import HISTORY_DAYS, AccountUsageDay, CountrySignInDay, OfficeUsageDay

# The periods the report offers, in days; the growth ranking is kept for each.
PERIODS = (7, 30, 90, 180)
TOP_GROWTH = 10


def office_day(office: Office, now: dt.datetime) -> dt.date:
    """The office's local date at ``now``."""
    return now.astimezone(zoneinfo.ZoneInfo(office.time_zone)).date()


def day_bounds(office: Office, first: dt.date, last: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """[start of ``first``, start of the day after ``last``) in the office's zone."""
    zone = zoneinfo.ZoneInfo(office.time_zone)
    return (
        dt.datetime.combine(first, dt.time(), zone),
        dt.datetime.combine(last + dt.timedelta(days=1), dt.time(), zone),
    )


def sign_ins_by_country(office: Office, first: dt.date, last: dt.date) -> dict[str, int]:
    """Successful POP3/SMTP sign-ins per country from ``first`` to ``last``
    (office-local days), read from the access history. The one place that
    knows how that history is stored: a history that folds repeated sign-ins
    into counted rows changes only this count."""
    start, end = day_bounds(office, first, last)
    rows = (
        # The history is folded into one row per client and UTC hour with
        # its count of sign-ins; a day is the hours that start in it (exact
        # wherever the office's midnight falls on a full hour).
        AccessLog.objects.filter(office=office, hour__gte=start, hour__lt=end, succeeded=True)
        .values("country")
        .annotate(n=Sum("count"))
        .values_list("country", "n")
    )
    return dict(rows)


_UPSERT_ACCOUNTS = """
INSERT INTO reports_accountusageday (account_id, day, office_id, used_bytes, message_count)
SELECT m.account_id, %s, m.office_id, m.used_bytes, m.message_count
FROM accounts_mailbox m JOIN accounts_account a ON a.id = m.account_id
WHERE m.office_id = %s AND a.deleted_at IS NULL
ON CONFLICT (account_id, day) DO UPDATE
SET used_bytes = excluded.used_bytes, message_count = excluded.message_count
"""

_GROWTH = """
SELECT e.account_id, e.used_bytes - COALESCE(s.used_bytes, 0) AS growth
FROM reports_accountusageday e
LEFT JOIN reports_accountusageday s ON s.account_id = e.account_id AND s.day = %s
WHERE e.office_id = %s AND e.day = %s
ORDER BY growth DESC, e.account_id
LIMIT %s
"""


def top_growth(office: Office, day: dt.date, first_day: dt.date | None) -> dict[str, list]:
    """For each period, the accounts whose usage grew most from the period's
    first kept day to ``day`` (an account that did not exist then grew from
    nothing); a period with no earlier day has no ranking."""
    ranking: dict[str, list] = {}
    if first_day is None:
        return ranking
    with connection.cursor() as cursor:
        for period in PERIODS:
            start = max(day - dt.timedelta(days=period), first_day)
            if start >= day:
                continue
            cursor.execute(_GROWTH, [start, office.pk, day, TOP_GROWTH])
            ranking[str(period)] = [[pk, growth] for pk, growth in cursor.fetchall() if growth > 0]
    return ranking


def store_sign_ins(office: Office, days: Iterable[dt.date]) -> None:
    for day in days:
        counts = sign_ins_by_country(office, day, day)
        CountrySignInDay.objects.filter(office=office, day=day).delete()
        CountrySignInDay.objects.bulk_create(
            CountrySignInDay(office=office, day=day, country=country, sign_ins=n)
            for country, n in counts.items()
        )


@transaction.atomic
def take_snapshot(
    office: Office, *, day: dt.date | None = None, now: dt.datetime | None = None
) -> OfficeUsageDay:
    """Store the office's usage for ``day`` (default: today, office-local);
    taking the same day again replaces it. Also counts the sign-ins of that
    day and the one before (complete by now), and drops history older than
    the report shows."""
    now = now or timezone.now()
    day = day or office_day(office, now)
    with connection.cursor() as cursor:
        cursor.execute(_UPSERT_ACCOUNTS, [day, office.pk])
    totals = AccountUsageDay.objects.filter(office=office, day=day).aggregate(
        used=Sum("used_bytes"), messages=Sum("message_count"), mailboxes=Count("account")
    )
    quotas = Mailbox.objects.filter(office=office, account__deleted_at__isnull=True).aggregate(
        total=Sum("quota_bytes"), unlimited=Count("pk", filter=Q(quota_bytes=None))
    )
    no_total = (
        office.plan == Office.Plan.UNLIMITED or quotas["unlimited"] or not totals["mailboxes"]
    )
    oldest_kept = day - dt.timedelta(days=HISTORY_DAYS)
    first_day = OfficeUsageDay.objects.filter(
        office=office, day__gte=oldest_kept, day__lt=day
    ).aggregate(first=Min("day"))["first"]
    snapshot, _created = OfficeUsageDay.objects.update_or_create(
        office=office,
        day=day,
        defaults={
            "used_bytes": totals["used"] or 0,
            "message_count": totals["messages"] or 0,
            "mailboxes": totals["mailboxes"],
            "total_quota_bytes": None if no_total else quotas["total"],
            "top_growth": top_growth(office, day, first_day),
            "taken_at": now,
        },
    )
    store_sign_ins(office, [day - dt.timedelta(days=1), day])
    AccountUsageDay.objects.filter(office=office, day__lt=oldest_kept).delete()
    OfficeUsageDay.objects.filter(office=office, day__lt=oldest_kept).delete()
    CountrySignInDay.objects.filter(office=office, day__lt=oldest_kept).delete()
    return snapshot


def snapshot_all(*, now: dt.datetime | None = None, domains: Iterable[str] = ()) -> list:
    offices = Office.objects.order_by("pk")
    if domains:
        offices = offices.filter(domain__in=[d.lower() for d in domains])
    return [take_snapshot(office, now=now) for office in offices]
