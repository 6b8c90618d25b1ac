"""What the usage report shows, read in a constant number of queries.

Office report (every figure of an office of any size in four or five queries):

1. the office's daily totals over the period (at most 181 rows);
2. the names of the ten accounts the last snapshot ranked by growth;
3. live counts: the quota-status buckets and the inactivity counts, as
   index range counts on the mailboxes in one statement (see
   :func:`live_counts`; they equal the usage list's own conditions, so a
   bar and the list it links to count the same accounts) -- plus one
   aggregate over the list's rows when the office has deleted users'
   mailboxes;
4. sign-ins per country over the period, summed from the daily counts.

An account's report reads its own daily rows and its sign-ins.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field

from django.db import connection
from django.db.models import Count, Sum
from django.utils import timezone

from accounts import tallies
from accounts.models import AccessLog, Account, Mailbox, Office
from accounts.selectors import (
    INACTIVE_DAYS,
    QUOTA_STATUSES,
    inactive_condition,
    mail_accounts,
    quota_condition,
)
from reports.models import AccountUsageDay, CountrySignInDay, OfficeUsageDay
from reports.snapshots import PERIODS, day_bounds, office_day

DEFAULT_PERIOD = 30
FORECAST_DAYS = 30
# Further than this, the forecast says "not within ten years" instead of a date.
FORECAST_HORIZON_DAYS = 3650


def period_from(raw) -> int:
    """The period in days from a query parameter; the default when absent
    or not one of the offered periods."""
    try:
        value = int(str(raw).strip())
    except (TypeError, ValueError):
        return DEFAULT_PERIOD
    return value if value in PERIODS else DEFAULT_PERIOD


@dataclass
class Point:
    day: dt.date
    used_bytes: int
    message_count: int


@dataclass
class Forecast:
    """A linear trend of usage against a limit (see :func:`forecast`)."""

    # "no_history" | "no_limit" | "reached" | "not_growing" | "beyond" | "reaches"
    state: str
    slope: float = 0.0  # bytes per day
    current: int = 0
    limit: int | None = None
    days: int | None = None
    on: dt.date | None = None


def linear_fit(points: list[tuple[float, float]]) -> tuple[float, float]:
    """Least-squares line through ``points``: (intercept, slope)."""
    n = len(points)
    mean_x = sum(x for x, _ in points) / n
    mean_y = sum(y for _, y in points) / n
    sxx = sum((x - mean_x) ** 2 for x, _ in points)
    if sxx == 0:
        return mean_y, 0.0
    slope = sum((x - mean_x) * (y - mean_y) for x, y in points) / sxx
    return mean_y - slope * mean_x, slope


def forecast(series: list[Point], limit: int | None, *, days: int = FORECAST_DAYS) -> Forecast:
    """When usage reaches ``limit`` at the trend of the last ``days`` days
    (a least-squares line through the daily figures), counted from the
    last day of ``series``."""
    if not series:
        return Forecast(state="no_history", limit=limit)
    last = series[-1]
    recent = [p for p in series if p.day > last.day - dt.timedelta(days=days)]
    current = last.used_bytes
    if len(recent) < 2:
        return Forecast(state="no_history", current=current, limit=limit)
    _intercept, slope = linear_fit([((p.day - last.day).days, p.used_bytes) for p in recent])
    result = Forecast(state="not_growing", slope=slope, current=current, limit=limit)
    if limit is None:
        result.state = "no_limit"
    elif current >= limit:
        result.state = "reached"
    elif slope > 0:
        result.days = max(1, round((limit - current) / slope))
        if result.days > FORECAST_HORIZON_DAYS:
            # A date centuries away reads as a bug, not a forecast.
            result.state = "beyond"
            result.days = None
        else:
            result.state = "reaches"
            result.on = last.day + dt.timedelta(days=result.days)
    return result


@dataclass
class GrowthRow:
    account: Account
    grown_bytes: int


@dataclass
class OfficeReport:
    office: Office
    period: int
    today: dt.date
    series: list[Point]
    growth: list[GrowthRow]
    quota_counts: dict[str, int]
    inactive_counts: dict[int, int]
    mailboxes: int
    total_quota: int | None
    countries: list[tuple[str, int]]
    forecast: Forecast
    kind: str = "office"

    @property
    def sign_ins(self) -> int:
        return sum(n for _c, n in self.countries)


@dataclass
class AccountReport:
    office: Office
    account: Account
    period: int
    today: dt.date
    series: list[Point]
    countries: list[tuple[str, int]]
    forecast: Forecast
    kind: str = "account"
    growth: list = field(default_factory=list)

    @property
    def sign_ins(self) -> int:
        return sum(n for _c, n in self.countries)


def _series(rows) -> list[Point]:
    return [Point(day, used, count) for day, used, count in rows]


def _countries(rows) -> list[tuple[str, int]]:
    return sorted(((c or "", n) for c, n in rows), key=lambda item: (-item[1], item[0]))


def office_report(office: Office, period: int, *, now: dt.datetime | None = None) -> OfficeReport:
    now = now or timezone.now()
    today = office_day(office, now)
    first = today - dt.timedelta(days=period)
    # The forecast needs 30 days whatever the period shown.
    since = min(first, today - dt.timedelta(days=FORECAST_DAYS))
    days = list(
        OfficeUsageDay.objects.filter(office=office, day__gte=since)
        .order_by("day")
        .values_list("day", "used_bytes", "message_count", "top_growth", "total_quota_bytes")
    )
    history = _series((day, used, count) for day, used, count, _top, _quota in days)
    series = [p for p in history if p.day >= first]
    ranked = days[-1][3].get(str(period), []) if days else []
    names = Account.objects.in_bulk([pk for pk, _grown in ranked])
    growth = [GrowthRow(names[pk], grown) for pk, grown in ranked if pk in names]

    country_rows = (
        CountrySignInDay.objects.filter(office=office, day__gt=first, day__lte=today)
        .values("country")
        .annotate(n=Sum("sign_ins"))
        .values_list("country", "n")
    )
    # The sign-ins per country come in the statement of counts.
    live = live_counts(office, now, countries=country_rows)
    total_quota = days[-1][4] if days else None
    return OfficeReport(
        office=office,
        period=period,
        today=today,
        series=series,
        growth=growth,
        quota_counts={v: live[f"quota_{v}"] for v in QUOTA_STATUSES},
        inactive_counts={d: live[f"inactive_{d}"] for d in INACTIVE_DAYS},
        mailboxes=live["mailboxes"],
        total_quota=total_quota,
        countries=_countries(live["countries"]),
        forecast=forecast(history, total_quota),
    )


def exact_counts(office: Office, now: dt.datetime) -> dict[str, int]:
    """The quota-status and inactivity counts over the usage list's own
    rows, with the list's own conditions: one aggregate over every mail
    account of the office (a join; what :func:`live_counts` avoids)."""
    counts = {f"quota_{v}": Count("pk", filter=quota_condition(v)) for v in QUOTA_STATUSES}
    counts.update(
        {f"inactive_{d}": Count("pk", filter=inactive_condition(d, now)) for d in INACTIVE_DAYS}
    )
    return mail_accounts(office).aggregate(mailboxes=Count("pk"), **counts)


def _rows_as_json(queryset, columns: tuple[str, ...]) -> tuple[str, list]:
    """A small query's rows as one JSON array of arrays of ``columns``, as
    SQL for a column of another statement: one round trip fewer."""
    sql, params = queryset.query.sql_with_params()
    picked = ", ".join(f"r.{connection.ops.quote_name(name)}" for name in columns)
    if connection.vendor == "postgresql":
        return (
            f"(SELECT COALESCE(json_agg(json_build_array({picked})), '[]') FROM ({sql}) r)",
            list(params),
        )
    return f"(SELECT json_group_array(json_array({picked})) FROM ({sql}) r)", list(params)


def live_counts(office: Office, now: dt.datetime, *, countries=None) -> dict:
    """The same counts as :func:`exact_counts`, as index range counts on
    the mailbox table alone (its (office, usage_share) and (office,
    last_access_at) indexes), in one statement.

    The mailbox table also holds the mailboxes of deleted users, which the
    list leaves out. The same statement compares the office's mailboxes
    with its listed accounts (the read model, one row per listed mail
    account); when they differ, some mailbox belongs to a deleted user and
    the counts are taken again over the list's own rows instead.

    ``countries``: a query of (country, sign-ins) rows, read in the same
    statement and returned as ``"countries"``."""
    mailbox = Mailbox._meta.db_table

    def count(where: str) -> str:
        return f"(SELECT COUNT(*) FROM {mailbox} WHERE office_id = %s AND {where})"

    parts = [
        f"(SELECT COUNT(*) FROM {mailbox} WHERE office_id = %s)",
        # The listed accounts: the count the database keeps.
        f"({tallies.LISTING_COUNT_SQL})",
        count("usage_share IS NULL"),
        count("usage_share >= 8000 AND usage_share < 9500"),
        count("usage_share >= 9500"),
        # Over quota implies a share of at least 100 % (the share is
        # used * 10000 / quota, rounded down): only the top of the index is
        # read for the byte comparison.
        count("usage_share >= 10000 AND used_bytes > quota_bytes"),
        count("last_access_at IS NULL"),
    ]
    params: list = [office.pk] * len(parts)
    for days in INACTIVE_DAYS:
        parts.append(count("last_access_at < %s"))
        params += [office.pk, now - dt.timedelta(days=days)]
    if countries is not None:
        column, column_params = _rows_as_json(countries, ("country", "n"))
        parts.append(column)
        params += column_params
    with connection.cursor() as cursor:
        cursor.execute("SELECT " + ", ".join(parts), params)
        row = list(cursor.fetchone())
    extra = {}
    if countries is not None:
        rows = row.pop()
        # (psycopg reads json itself; SQLite hands over the text.)
        extra["countries"] = json.loads(rows) if isinstance(rows, str) else rows
    mailboxes, listed, unlimited, warning, high, over, never, *inactive = row
    if mailboxes != listed:
        return {**exact_counts(office, now), **extra}
    result = {
        "mailboxes": mailboxes,
        "quota_unlimited": unlimited,
        # No share, under 80 %, 80-95 % and 95 % or more divide the
        # mailboxes: the biggest part (most of an office, a third of this
        # statement's time) is what the others leave.
        "quota_under": mailboxes - unlimited - warning - high,
        "quota_warning": warning,
        "quota_critical": high - over,
        "quota_over": over,
    }
    for days, n in zip(INACTIVE_DAYS, inactive, strict=True):
        result[f"inactive_{days}"] = never + n
    return {**result, **extra}


def account_sign_ins_by_country(account: Account, first: dt.date, last: dt.date):
    """An account's successful sign-ins per country over office-local days
    (its own access history, read through its index)."""
    start, end = day_bounds(account.office, first, last)
    return (
        AccessLog.objects.filter(account=account, hour__gte=start, hour__lt=end, succeeded=True)
        .values("country")
        .annotate(n=Sum("count"))
        .values_list("country", "n")
    )


def account_report(account: Account, period: int, *, now: dt.datetime | None = None):
    office = account.office
    now = now or timezone.now()
    today = office_day(office, now)
    first = today - dt.timedelta(days=period)
    since = min(first, today - dt.timedelta(days=FORECAST_DAYS))
    history = _series(
        AccountUsageDay.objects.filter(account=account, day__gte=since)
        .order_by("day")
        .values_list("day", "used_bytes", "message_count")
    )
    quota = account.mailbox.quota_bytes if hasattr(account, "mailbox") else None
    return AccountReport(
        office=office,
        account=account,
        period=period,
        today=today,
        series=[p for p in history if p.day >= first],
        countries=_countries(
            account_sign_ins_by_country(account, first + dt.timedelta(days=1), today)
        ),
        forecast=forecast(history, quota),
    )
