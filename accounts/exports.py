"""Downloads: the mail usage roster (SPEC F3 ④, N3, N4).

The roster is the list's own queryset (:func:`accounts.selectors.usage_rows`)
read as tuples from a server-side iterator, with the sub-account addresses
fetched once per chunk of rows: memory stays flat however large the office
is, and the number of queries grows with rows / chunk size, not with rows.
"""

from __future__ import annotations

import datetime as dt
import itertools
import zoneinfo
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import IO, Any

from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.access_history import access_window_start, recent_access
from accounts.formatting import human_bytes, human_quota
from accounts.models import Account, Office
from accounts.selectors import UsageFilterSet, subaccount_addresses, usage_rows
from accounts.xlsx import write_xlsx

CHUNK_SIZE = 2000

ROSTER_FIELDS = (
    "pk",
    "name",
    "login_id",
    "email",
    "kind",
    "mailbox__used_bytes",
    "mailbox__quota_bytes",
    "mailbox__usage_share",
    "mailbox__pop3_enabled",
    "mailbox__smtp_enabled",
    "status",
    "mailbox__last_access_at",
    "mailbox__last_access_protocol",
)


def roster_header() -> list[str]:
    return [
        _("Name"),
        _("ID"),
        _("Email"),
        _("Sub-accounts"),
        _("Kind"),
        _("Usage (bytes)"),
        _("Usage"),
        _("Quota (bytes)"),
        _("Quota"),
        _("Usage share"),
        _("POP3"),
        _("SMTP"),
        _("Status"),
        _("Last access"),
        _("Last access type"),
    ]


# Column index -> Excel number format (0-based, as write_xlsx expects).
ROSTER_FORMATS = {5: "#,##0", 7: "#,##0", 9: "0.00%", 13: "yyyy-mm-dd hh:mm:ss"}
ROSTER_WIDTHS = (16, 22, 32, 40, 12, 16, 12, 16, 12, 10, 10, 10, 10, 20, 10)


def roster_rows(
    office: Office, params: Mapping[str, Any], *, now: dt.datetime | None = None
) -> tuple[UsageFilterSet, Iterator[list[Any]]]:
    """The FilterSet in effect and an iterator over the data rows."""
    filterset, queryset = usage_rows(office, params)
    return filterset, _rows(office, queryset.values_list(*ROSTER_FIELDS), now)


def _rows(office: Office, values, now) -> Iterator[list[Any]]:
    zone = zoneinfo.ZoneInfo(office.time_zone)
    window_start = access_window_start(office.time_zone, now or timezone.now())
    kinds = dict(Account.Kind.choices)
    statuses = dict(Account.Status.choices)
    on, off = _("On"), _("Off")
    iterator = values.iterator(chunk_size=CHUNK_SIZE)
    while chunk := list(itertools.islice(iterator, CHUNK_SIZE)):
        addresses = subaccount_addresses(office, (row[0] for row in chunk))
        for (
            pk,
            name,
            login_id,
            email,
            kind,
            used,
            quota,
            share,
            pop3,
            smtp,
            status,
            last_at,
            last_protocol,
        ) in chunk:
            recent = recent_access(last_at, window_start) is not None
            yield [
                name,
                login_id,
                email,
                ", ".join(addresses.get(pk, [])),
                str(kinds.get(kind, kind)),
                used,
                human_bytes(used),
                quota,
                human_quota(quota),
                None if share is None else share / 10000,
                on if pop3 else off,
                on if smtp else off,
                str(statuses.get(status, status)),
                last_at.astimezone(zone).replace(tzinfo=None) if recent else None,
                last_protocol.upper() if recent and last_protocol else "",
            ]


@dataclass(frozen=True)
class Roster:
    filename: str
    rows: int
    filters: dict[str, str]


def roster_write(
    target: IO[bytes],
    *,
    office: Office,
    params: Mapping[str, Any],
    now=None,
    wrap_rows: Callable[[Iterator[list[Any]]], Iterator[list[Any]]] | None = None,
) -> Roster:
    """Write the roster workbook for these list parameters into ``target``;
    ``wrap_rows`` sees the rows pass (a background export counts them)."""
    now = now or timezone.now()
    filterset, rows = roster_rows(office, params, now=now)
    if wrap_rows is not None:
        rows = wrap_rows(rows)
    count = write_xlsx(
        target,
        title=_("Mail usage status"),
        header=roster_header(),
        rows=rows,
        number_formats=ROSTER_FORMATS,
        column_widths=ROSTER_WIDTHS,
    )
    local_date = now.astimezone(zoneinfo.ZoneInfo(office.time_zone)).date()
    return Roster(
        filename=f"mail-usage_{office.domain}_{local_date:%Y-%m-%d}.xlsx",
        rows=count,
        filters=filterset.applied,
    )
