"""The list's access=flagged filter counts on the read model.

``MailListing.access_flag_at`` is a copy of the mailbox's newest flagged
sign-in, written by the mailbox's triggers. Whatever writes the flag (the
importer, a plain UPDATE, a new mailbox, deleting and restoring its user),
the list must select exactly the accounts the mailbox itself says are
flagged inside the window: rows, count and export alike, in the same
number of queries as any other filter.
"""

from __future__ import annotations

import datetime as dt
import io

import openpyxl
import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts import account_services
from accounts.access_history import access_window_start
from accounts.models import AccessFlag, Account, Mailbox, MailListing
from tests.accounts.test_access_flags import KR, LIST, NOW, US, kst, login, run
from tests.factories import make_account

pytestmark = pytest.mark.django_db

EXPORT = LIST + "export.xlsx"
WINDOW_START = access_window_start("Asia/Seoul", NOW)


def mirrored(office) -> dict[str, dt.datetime | None]:
    """Each listed account's flag time, on the read model."""
    return dict(MailListing.objects.filter(office=office).values_list("login_id", "access_flag_at"))


def on_mailboxes(office) -> dict[str, dt.datetime | None]:
    """The same, read from the mailboxes of the listed accounts."""
    return dict(
        Mailbox.objects.filter(office=office, account__deleted_at__isnull=True).values_list(
            "account__login_id", "access_flag_at"
        )
    )


def flag(account: Account, at: dt.datetime | None) -> None:
    Mailbox.objects.filter(account=account).update(
        access_flag=AccessFlag.FOREIGN if at else None, access_flag_at=at
    )


def expected(office) -> list[str]:
    """The flagged accounts as the filter read them before it had the read
    model: the mailbox's own flag inside the window, the list's order."""
    return list(
        Account.objects.filter(
            office=office,
            deleted_at__isnull=True,
            mailbox__access_flag_at__gte=access_window_start(office.time_zone),
        )
        .order_by("name", "login_id", "id")
        .values_list("login_id", flat=True)
    )


def flagged_list(client) -> tuple[list[str], int]:
    """Every ID of the flagged list over all its pages, and its count."""
    found, page = [], 1
    while True:
        response = client.get(LIST, {"access": "flagged", "page": page, "per_page": 20})
        assert response.status_code == 200
        found += [a.login_id for a in response.context["rows"]]
        if not response.context["page_obj"].has_next():
            return found, response.context["listing"].filtered_count
        page += 1


def assert_list_agrees(client, office) -> list[str]:
    found, count = flagged_list(client)
    assert found == expected(office)
    assert count == len(found)
    return found


def test_the_read_model_follows_every_write_of_the_flag(org):
    assert set(mirrored(org.office).values()) == {None}

    # The importer's flag (a new country after a Korean sign-in).
    run(org.office, [login("minjun.kim", kst(10, 9), KR), login("minjun.kim", kst(14, 9), US)])
    assert mirrored(org.office)["minjun.kim"] == kst(14, 9)

    # Plain updates, moved and cleared.
    flag(org.lee, kst(12, 8))
    assert mirrored(org.office)["seoyeon.lee"] == kst(12, 8)
    flag(org.lee, kst(13, 8))
    assert mirrored(org.office)["seoyeon.lee"] == kst(13, 8)
    flag(org.lee, None)
    assert mirrored(org.office)["seoyeon.lee"] is None

    # An update that leaves the time as it was writes nothing new.
    Mailbox.objects.filter(account=org.kim).update(access_flag_at=kst(14, 9))
    assert mirrored(org.office)["minjun.kim"] == kst(14, 9)

    # A mailbox inserted with a flag already on it.
    late = make_account(org.office, "late", "늦은사람", mail=False)
    Mailbox.objects.create(
        account=late, office=org.office, access_flag=AccessFlag.BURST, access_flag_at=kst(11, 3)
    )
    assert mirrored(org.office)["late"] == kst(11, 3)

    assert mirrored(org.office) == on_mailboxes(org.office)


def test_a_flagged_account_appears_and_disappears_as_before(admin_client, org):
    with time_machine.travel(NOW, tick=False):
        assert assert_list_agrees(admin_client, org.office) == []

        run(org.office, [login("minjun.kim", kst(10, 9), KR), login("minjun.kim", kst(14, 9), US)])
        assert assert_list_agrees(admin_client, org.office) == ["minjun.kim"]

        # The window's first moment counts; the moment before it does not.
        flag(org.lee, WINDOW_START)
        assert assert_list_agrees(admin_client, org.office) == ["minjun.kim", "seoyeon.lee"]
        flag(org.lee, WINDOW_START - dt.timedelta(microseconds=1))
        assert assert_list_agrees(admin_client, org.office) == ["minjun.kim"]

        # A suspended account is listed and filtered like any other.
        flag(org.park, kst(13, 1))
        assert assert_list_agrees(admin_client, org.office) == ["minjun.kim", "jiho.park"]
        flag(org.park, None)

        # Deleted: off the list. Flagged again meanwhile, then restored: on
        # it with the newer flag.
        account_services.account_delete(actor=org.admin, account=org.kim)
        assert assert_list_agrees(admin_client, org.office) == []
        flag(org.kim, kst(15, 1))
        assert assert_list_agrees(admin_client, org.office) == []
        account_services.account_restore(
            actor=org.admin, account=Account.objects.get(pk=org.kim.pk)
        )
        assert mirrored(org.office)["minjun.kim"] == kst(15, 1)
        assert assert_list_agrees(admin_client, org.office) == ["minjun.kim"]

    # Nothing written, the window moved on: the flag is too old now.
    with time_machine.travel(kst(15, 1) + dt.timedelta(days=100), tick=False):
        assert assert_list_agrees(admin_client, org.office) == []


def test_the_flagged_list_counts_on_the_read_model_in_four_queries(
    admin_client, org, django_assert_num_queries
):
    for n in range(45):
        account = make_account(org.office, f"u{n:02d}", f"사용자{n:02d}", password=None)
        flag(account, kst(14, 9) if n % 3 else None)  # 30 of them
    listing = MailListing._meta.db_table
    with time_machine.travel(NOW, tick=False):
        admin_client.get(LIST)  # the session's own queries
        for page in (1, 2):
            # the session with its account and office, the counts (filtered
            # and total in one statement), the page's rows; the first page's
            # rows carry the counts themselves
            with django_assert_num_queries(2 if page == 1 else 3):
                response = admin_client.get(
                    LIST, {"access": "flagged", "per_page": 20, "page": page}
                )
            assert len(response.context["rows"]) == (20 if page == 1 else 10)
        with CaptureQueriesContext(connection) as captured:
            response = admin_client.get(LIST, {"access": "flagged"})
    (page_sql,) = [q["sql"] for q in captured.captured_queries if "COUNT(*)" in q["sql"].upper()]
    # The filtered count (carried by the first page's rows) reads the read
    # model only.
    counted = page_sql[page_sql.index("SELECT COUNT(*) FROM (") :]
    filtered = counted[: counted.index(") matches")]
    assert listing in filtered and Mailbox._meta.db_table not in filtered
    assert response.context["listing"].filtered_count == 30
    # The first page's accounts too are picked on the read model (its
    # covering index holds the flag's time), not by reading every account's
    # mailbox in the list's order until fifty are flagged.
    (rows_sql,) = [q["sql"] for q in captured.captured_queries if "sub_ids" in q["sql"]]
    assert listing in rows_sql
    assert f'"{Mailbox._meta.db_table}"."access_flag_at" >=' not in rows_sql
    flagged = sorted(
        (a.name, a.login_id)
        for a in Account.objects.filter(office=org.office, mailbox__access_flag_at__isnull=False)
    )
    shown = [(a.name, a.login_id) for a in response.context["rows"]]
    assert shown == flagged[: len(shown)] and len(shown) == 20


def test_the_export_with_the_filter_holds_the_listed_accounts(admin_client, org):
    flag(org.kim, kst(14, 9))
    flag(org.park, kst(1, 9))
    flag(org.lee, WINDOW_START - dt.timedelta(seconds=1))
    with time_machine.travel(NOW, tick=False):
        listed, count = flagged_list(admin_client)
        response = admin_client.get(EXPORT, {"access": "flagged"})
    sheet = openpyxl.load_workbook(io.BytesIO(b"".join(response.streaming_content))).active
    exported = [row[1] for row in sheet.iter_rows(min_row=2, values_only=True)]
    assert exported == listed == ["minjun.kim", "jiho.park"] and count == 2


def test_the_filter_with_a_search_or_another_filter(admin_client, org):
    """With a search (whose few matches are read off the read model) or a
    filter the read model lacks (counted on the rows), the same accounts."""
    flag(org.kim, kst(14, 9))
    flag(org.park, kst(1, 9))
    flag(org.lee, WINDOW_START - dt.timedelta(seconds=1))
    with time_machine.travel(NOW, tick=False):
        for params, ids in (
            ({"q": "kim"}, ["minjun.kim"]),
            ({"q": "lee"}, []),
            ({"q": "박"}, ["jiho.park"]),
            ({"status": "suspended"}, ["jiho.park"]),
            ({"inactive": "30"}, ["minjun.kim", "jiho.park"]),
        ):
            response = admin_client.get(LIST, {"access": "flagged", **params})
            assert [a.login_id for a in response.context["rows"]] == ids, params
            assert response.context["listing"].filtered_count == len(ids), params
