"""Downloads: the mail usage roster.

The roster is the list's own queryset (:func:`accounts.selectors.usage_rows`)
read as tuples from a server-side iterator, with the sub-account addresses
fetched once per chunk of rows: memory stays flat however large the office
is, and the number of queries grows with rows / chunk size, not with rows.

Its columns -- headers, values, number formats, widths -- are the column
registry's export cells (:mod:`accounts.columns`), in registry order, so a
column added there is in the file too, and a format always stays with its
own column.
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

from accounts import columns
from accounts.access_history import access_window_start
from accounts.models import AccessFlag, Account, Office
from accounts.selectors import UsageFilterSet, subaccount_addresses, usage_rows
from accounts.xlsx import write_xlsx

CHUNK_SIZE = 2000


def roster_header() -> list[str]:
    return [str(cell.header) for cell in columns.export_columns()]


def roster_rows(
    office: Office, params: Mapping[str, Any], *, now: dt.datetime | None = None
) -> tuple[UsageFilterSet, Iterator[list[Any]]]:
    """The FilterSet in effect and an iterator over the data rows."""
    filterset, queryset = usage_rows(office, params)
    values = queryset.values_list(*columns.export_fields(), named=True)
    return filterset, _rows(office, values, now)


def _rows(office: Office, values, now) -> Iterator[list[Any]]:
    context = columns.ExportContext(
        zone=zoneinfo.ZoneInfo(office.time_zone),
        window_start=access_window_start(office.time_zone, now or timezone.now()),
        kinds={key: str(label) for key, label in Account.Kind.choices},
        statuses={key: str(label) for key, label in Account.Status.choices},
        on=_("On"),
        off=_("Off"),
        flags={key: str(label) for key, label in AccessFlag.choices},
    )
    cells = [cell.value for cell in columns.export_columns()]
    iterator = values.iterator(chunk_size=CHUNK_SIZE)
    while chunk := list(itertools.islice(iterator, CHUNK_SIZE)):
        context.addresses = subaccount_addresses(office, (row.pk for row in chunk))
        for row in chunk:
            yield [value(row, context) for value in cells]


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
    export = columns.export_columns()
    if wrap_rows is not None:
        rows = wrap_rows(rows)
    count = write_xlsx(
        target,
        title=_("Mail usage status"),
        header=roster_header(),
        rows=rows,
        number_formats={
            index: cell.number_format for index, cell in enumerate(export) if cell.number_format
        },
        column_widths=[cell.width for cell in export],
    )
    local_date = now.astimezone(zoneinfo.ZoneInfo(office.time_zone)).date()
    return Roster(
        filename=f"mail-usage_{office.domain}_{local_date:%Y-%m-%d}.xlsx",
        rows=count,
        filters=filterset.applied,
    )
