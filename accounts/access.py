"""The 3-month access window of SPEC F5."""

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
    """Now minus 3 calendar months, counted on the office's calendar."""
    zone = zoneinfo.ZoneInfo(time_zone)
    local_now = (now or timezone.now()).astimezone(zone)
    start = subtract_months(local_now, settings.MAILADMIN_ACCESS_WINDOW_MONTHS)
    # Re-attach the zone so a DST change between the two dates is honoured.
    return start.replace(tzinfo=None).replace(tzinfo=zone)
