"""The roster of a fixed office, cell by cell, against a stored copy.

The export is driven by the column registry (``accounts/columns.py``); this
test pins what an admin's spreadsheet holds -- values, their types, number
formats and column widths -- so that reorganising the columns can never
shift a format onto the wrong column or change a value unnoticed. After a
deliberate change to the roster, regenerate the copy with
``UPDATE_EXPECTED=1`` and review its diff.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import os
import zipfile
from pathlib import Path

import openpyxl
import pytest
import time_machine

from accounts.exports import roster_write
from accounts.models import Account, Mailbox
from tests.accounts.usage_data import add_subaccount, set_usage
from tests.factories import MB, make_account

pytestmark = pytest.mark.django_db

EXPECTED = Path(__file__).parent / "data" / "roster_fixed_office.json"
MOMENT = dt.datetime(2026, 3, 14, 6, 30, tzinfo=dt.UTC)


def build_fixed_office(org) -> None:
    """Every kind of cell: sub-accounts, unlimited quota, old and recent
    access with and without a protocol, a suspended account, group and
    shared mail, a name that looks like a formula, fractional shares."""
    add_subaccount(org.kim, "kim-sales")
    add_subaccount(org.kim, "kim-support")
    set_usage(
        org.kim,
        300 * MB,
        last_access_at=MOMENT - dt.timedelta(days=1, minutes=7),
        last_access_protocol="pop3",
    )
    set_usage(org.lee, 900 * MB, last_access_at=MOMENT - dt.timedelta(days=120))
    set_usage(org.park, 1023 * MB + 12345, last_access_at=MOMENT - dt.timedelta(hours=3))
    set_usage(org.shared, 2048 * MB, quota_bytes=None)
    set_usage(
        org.group,
        5 * MB + 1,
        last_access_at=MOMENT - dt.timedelta(days=89),
        last_access_protocol="smtp",
    )
    make_account(org.office, "formula", '=HYPERLINK("http://x","y")', password=None)
    for n in range(5):
        account = make_account(org.office, f"user{n:02d}", f"사용자{n:02d}", password=None)
        set_usage(account, n * 333 * 1024 + n)
    Mailbox.objects.filter(account__login_id="user03").update(pop3_enabled=False)
    Account.objects.filter(login_id="user04").update(status=Account.Status.SUSPENDED)


def cell_json(cell) -> list:
    value = cell.value
    if isinstance(value, dt.datetime):
        value = value.isoformat()
    return [value, cell.data_type, cell.number_format]


def roster_as_json(office, params) -> dict:
    target = io.BytesIO()
    roster_write(target, office=office, params=params, now=MOMENT)
    sheet = openpyxl.load_workbook(io.BytesIO(target.getvalue())).active
    widths = {
        key: sheet.column_dimensions[key].width
        for key in sorted(sheet.column_dimensions, key=lambda k: (len(k), k))
    }
    # The sheet and its styles byte for byte, beyond what openpyxl reads back.
    with zipfile.ZipFile(io.BytesIO(target.getvalue())) as archive:
        digests = {
            name: hashlib.sha256(archive.read(name)).hexdigest()
            for name in ("xl/worksheets/sheet1.xml", "xl/styles.xml")
        }
    return {
        "rows": [[cell_json(cell) for cell in row] for row in sheet.iter_rows()],
        "widths": widths,
        "digests": digests,
    }


def _dump(stored: dict) -> str:
    """One spreadsheet row per line, so a change reads as a small diff."""
    parts = []
    for key in sorted(stored):
        rows = ",\n".join(
            f"   {json.dumps(row, ensure_ascii=False)}" for row in stored[key]["rows"]
        )
        widths = json.dumps(stored[key]["widths"])
        digests = json.dumps(stored[key]["digests"], sort_keys=True)
        parts.append(
            f' {json.dumps(key)}: {{\n  "rows": [\n{rows}\n  ],\n'
            f'  "widths": {widths},\n  "digests": {digests}\n }}'
        )
    return "{\n" + ",\n".join(parts) + "\n}\n"


@pytest.mark.parametrize("params", [{}, {"sort": "-usage", "status": "active"}])
def test_roster_of_a_fixed_office_matches_the_stored_copy(org, params):
    with time_machine.travel(MOMENT, tick=False):
        build_fixed_office(org)
        found = roster_as_json(org.office, params)
    key = json.dumps(params, sort_keys=True)
    stored = json.loads(EXPECTED.read_text()) if EXPECTED.exists() else {}
    if os.environ.get("UPDATE_EXPECTED"):
        stored[key] = found
        EXPECTED.write_text(_dump(stored))
    assert found == stored[key]
