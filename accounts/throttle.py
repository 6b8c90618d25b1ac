"""Sign-in throttling per IP address, beside django-axes' lock per ID.

django-axes locks one full address (``id@domain``) from one IP after
``AXES_FAILURE_LIMIT`` failures. On its own that lets one IP spray a
password over many IDs, five guesses each. This module adds:

- an IP-wide counter: ``LOGIN_IP_FAILURE_LIMIT`` failed sign-ins (passwords
  or second-factor codes, any IDs, any office) within
  ``LOGIN_IP_COOLOFF_MINUTES`` lock that IP for as long;
- the per-ID counter for IDs no account has, kept in the IP's one row
  instead of a django-axes row per made-up ID, with django-axes' rules
  (same limit, same cool-off from the last failure), so a made-up ID locks
  exactly like a real one and the lock reveals nothing.

Refused attempts during a lock count nowhere and extend nothing.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts.models import LoginThrottle


def ip_limit() -> int:
    return settings.LOGIN_IP_FAILURE_LIMIT


def ip_cooloff() -> dt.timedelta:
    return settings.LOGIN_IP_COOLOFF


def id_limit() -> int:
    return settings.AXES_FAILURE_LIMIT


def id_cooloff() -> dt.timedelta:
    return settings.AXES_COOLOFF_TIME


def _minutes(until: dt.datetime, now: dt.datetime) -> int:
    return max(1, math.ceil((until - now).total_seconds() / 60))


def ip_locked_minutes(ip: str | None, now: dt.datetime | None = None) -> int | None:
    """Whole minutes the IP stays locked, or None when it may try."""
    now = now or timezone.now()
    until = (
        LoginThrottle.objects.filter(ip=ip or "", locked_until__gt=now)
        .values_list("locked_until", flat=True)
        .first()
    )
    return None if until is None else _minutes(until, now)


def unknown_id_locked_minutes(
    ip: str | None, username: str, now: dt.datetime | None = None
) -> int | None:
    """Like django-axes for a real ID: minutes left of this made-up ID's
    lock from this IP, or None."""
    now = now or timezone.now()
    row = LoginThrottle.objects.filter(ip=ip or "").values_list("unknown_ids", flat=True).first()
    failures, last = (row or {}).get(username, (0, 0))
    until = dt.datetime.fromtimestamp(last, dt.UTC) + id_cooloff()
    if failures >= id_limit() and until > now:
        return _minutes(until, now)
    return None


@dataclass(frozen=True)
class Failure:
    ip_locked: bool  # this failure locked the IP
    id_locked: bool  # this failure locked the made-up ID (always False for real ones)


def record_failure(
    ip: str | None, *, unknown_username: str | None = None, now: dt.datetime | None = None
) -> Failure:
    """Count one failed sign-in from ``ip`` (and for ``unknown_username``,
    an ID no account has). Says whether it locked the IP or the ID."""
    now = now or timezone.now()
    with transaction.atomic():
        row, created = LoginThrottle.objects.select_for_update().get_or_create(
            ip=ip or "", defaults={"window_start": now}
        )
        if created:
            # Rows whose window and lock are both over say nothing any more.
            LoginThrottle.objects.filter(window_start__lt=now - ip_cooloff()).exclude(
                locked_until__gt=now
            ).delete()
        if row.window_start <= now - ip_cooloff():
            row.window_start, row.failures = now, 0
        row.failures += 1
        ip_locked = row.failures == ip_limit()
        if ip_locked:
            row.locked_until = now + ip_cooloff()
        oldest = (now - id_cooloff()).timestamp()
        unknown = {k: v for k, v in (row.unknown_ids or {}).items() if v[1] > oldest}
        id_locked = False
        if unknown_username is not None:
            failures = unknown.get(unknown_username, (0, 0))[0] + 1
            unknown[unknown_username] = (failures, now.timestamp())
            id_locked = failures == id_limit()
        row.unknown_ids = unknown
        row.save()
    return Failure(ip_locked=ip_locked, id_locked=id_locked)
