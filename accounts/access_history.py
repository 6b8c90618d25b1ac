"""The access-history window: which POP3/SMTP logins still count as recent.

The console shows an account's access history for the last
``MAILADMIN_ACCESS_WINDOW_MONTHS`` calendar months (three by default) and
nothing older: the list's last-access column, its Excel download, the detail
pane's last access and history, and the reconcile command must all draw the
line at the same moment, so they all ask this module.

The window is counted in calendar months on the *office's* calendar, not in
days: "three months" before 31 May is 28 (or 29) February, as a person
reading the screen would count it, and an office in another time zone sees
its own midnight. The start is computed once per request (or export, or
reconcile run) and then compared with the stored ``last_access_at`` values,
so a page never straddles two windows.
"""

from __future__ import annotations

import calendar
import datetime as dt
import zoneinfo

from django.conf import settings
from django.utils import timezone


def subtract_months(moment: dt.datetime, months: int) -> dt.datetime:
    """The same wall-clock time ``months`` calendar months earlier, the day
    clamped to the end of a shorter month (May 31 - 3 months = Feb 28/29)."""
    month_index = moment.year * 12 + (moment.month - 1) - months
    year, month = divmod(month_index, 12)
    month += 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


def access_window_start(time_zone: str, now: dt.datetime | None = None) -> dt.datetime:
    """The oldest moment that still counts as recent: now minus the window's
    calendar months, counted on the office's calendar."""
    zone = zoneinfo.ZoneInfo(time_zone)
    local_now = (now or timezone.now()).astimezone(zone)
    start = subtract_months(local_now, settings.MAILADMIN_ACCESS_WINDOW_MONTHS)
    # Re-attach the zone so a DST change between the two dates is honoured.
    return start.replace(tzinfo=None).replace(tzinfo=zone)


def recent_access(moment: dt.datetime | None, window_start: dt.datetime) -> dt.datetime | None:
    """``moment`` if it lies inside the window that opens at
    ``window_start`` (the start itself included), else None -- never seen
    and seen too long ago look the same on every screen."""
    if moment is None or moment < window_start:
        return None
    return moment


def longest_window_days() -> int:
    """Days that always cover the window, however long its months are: the
    least access history that must be kept."""
    return settings.MAILADMIN_ACCESS_WINDOW_MONTHS * 31


def fold_hour(moment: dt.datetime) -> dt.datetime:
    """The start of the UTC hour of ``moment``: the access log's fold key
    (and, on PostgreSQL, its partition key)."""
    return moment.astimezone(dt.UTC).replace(minute=0, second=0, microsecond=0)
