"""Every page costs what the first costs: the usage list, 사용자 관리 and
the audit log make the same number of queries on their first, middle and
last pages, with and without filters, and each page is exactly its slice
of the whole order (pages past the middle are read from the end)."""

from __future__ import annotations

import datetime as dt
import zoneinfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts import audit
from accounts.audit_log import event_page, filtered_events
from accounts.models import Account, AuditEvent
from tests.accounts.usage_data import add_subaccount, set_usage
from tests.factories import make_account

pytestmark = pytest.mark.django_db

SEOUL = zoneinfo.ZoneInfo("Asia/Seoul")
LIST = "/gabiaedu.com/manage/mail/accounts/"
USERS = "/gabiaedu.com/manage/users/"
LOG = "/gabiaedu.com/manage/audit/"


@pytest.fixture
def crowd(org):
    """130 more accounts (ties in names and usage, some with sub-accounts,
    some suspended) and 260 audit events, about a third without an actor."""
    accounts = []
    for n in range(130):
        account = make_account(
            org.office,
            f"p{n:03d}",
            ["김하나", "Lee Dana", "박두리"][n % 3],
            password=None,
            status=Account.Status.SUSPENDED if n % 7 == 0 else Account.Status.ACTIVE,
        )
        set_usage(account, (n % 5) * 1000)
        if n % 4 == 0:
            add_subaccount(account, f"p{n:03d}-x")
        accounts.append(account)
    start = dt.datetime(2025, 6, 1, 9, 0, tzinfo=SEOUL)
    for n in range(260):
        event = audit.record(
            office=org.office,
            action=AuditEvent.Action.QUOTA_CHANGE if n % 2 else AuditEvent.Action.LOGIN,
            actor=None if n % 3 == 0 else org.admin,
            actor_label="p042" if n % 3 == 0 else "",
            target=accounts[n % 130],
        )
        # Pairs of events share a moment: the id settles the order.
        AuditEvent.objects.filter(pk=event.pk).update(at=start + dt.timedelta(minutes=n // 2))
    return org


def _queries(client, url, params) -> tuple[int, object]:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url, params)
    assert response.status_code == 200
    return len(captured), response


def _page(response):
    context = response.context
    return context["listing"].page if "listing" in context else context["page"]


def _pages_cost_alike(client, url, params, last, *, expected, first=None):
    """The middle and last pages make ``expected`` queries; the first
    ``first`` (the same unless it says otherwise)."""
    client.get(url)  # the session, warmed
    counts = {}
    for number in (1, (last + 1) // 2, last):
        counts[number], response = _queries(client, url, {**params, "page": number})
        assert _page(response).number == number
    wanted = {number: expected for number in counts}
    wanted[1] = expected if first is None else first
    assert counts == wanted, counts


@pytest.mark.parametrize(
    ("params", "expected", "first"),
    [
        # The first page's rows carry the counts: one query fewer.
        ({}, 3, 2),
        ({"sort": "-usage"}, 3, 2),
        ({"status": "active", "sort": "login_id"}, 3, 2),
        # Two syllables: SQLite's gram index hands over the matches' ids
        # (few here) and counts first; PostgreSQL walks the list's order.
        ({"q": "하나"}, "4 on sqlite, else 3", "4 on sqlite, else 2"),
        # Few matches: counted with their ids, then the page.
        ({"q": "p04"}, 4, 4),
    ],
)
def test_usage_list_first_middle_and_last_page(admin_client, crowd, params, expected, first):
    def on_this_database(count):
        if isinstance(count, str):
            return int(count[0]) if connection.vendor == "sqlite" else int(count[-1])
        return count

    _count, page = _queries(admin_client, LIST, {**params, "per_page": 20})
    last = _page(page).paginator.num_pages
    assert last >= 2 or params.get("q") == "p04"
    _pages_cost_alike(
        admin_client,
        LIST,
        {**params, "per_page": 20},
        last,
        expected=on_this_database(expected),
        first=on_this_database(first),
    )


def _every_page(client, params, *, per_page: int) -> list[str]:
    """The list's IDs, page after page to the last."""
    seen = []
    number = 1
    while True:
        response = client.get(LIST, {**params, "per_page": per_page, "page": number})
        seen += [a.login_id for a in response.context["rows"]]
        if number >= _page(response).paginator.num_pages:
            return seen
        number += 1


@pytest.mark.parametrize("params", [{}, {"sort": "-name"}, {"sort": "-usage", "status": "active"}])
def test_usage_list_pages_are_slices_of_the_whole_order(admin_client, crowd, params):
    from accounts.selectors import usage_rows

    _filterset, queryset = usage_rows(crowd.office, params)
    expected = [a.login_id for a in queryset]
    assert _every_page(admin_client, params, per_page=20) == expected


@pytest.mark.parametrize("sort", ["name", "-name", "login_id", "-login_id"])
@pytest.mark.parametrize(("q", "walked"), [("Lee", True), ("p01", False)])
def test_a_broad_search_pages_alike_walked_or_sorted(
    admin_client, crowd, monkeypatch, sort, q, walked
):
    # Every search is taken for one with many matches. A third of the list
    # (Lee) is found by walking its order; a few (p01) are sorted from the
    # search's index on SQLite. Either way each page is its slice of the
    # order.
    from accounts import selectors

    monkeypatch.setattr(selectors, "SEARCH_PROBE_LIMIT", 0)
    decided = []
    walk_pays = selectors._walk_pays
    monkeypatch.setattr(
        selectors, "_walk_pays", lambda *args: decided.append(walk_pays(*args)) or decided[-1]
    )
    params = {"q": q, "sort": sort}
    _filterset, queryset = selectors.usage_rows(crowd.office, params)
    expected = [a.login_id for a in queryset]
    assert len(expected) >= 10
    assert _every_page(admin_client, params, per_page=4) == expected
    if connection.vendor == "sqlite":
        assert set(decided) == {walked}
    else:
        # PostgreSQL always walks; a single page is read without asking.
        assert set(decided) <= {walked}


@pytest.mark.parametrize("params", [{}, {"q": "p0"}])
def test_users_first_middle_and_last_page(admin_client, crowd, params):
    _count, first = _queries(admin_client, USERS, params)
    last = first.context["page"].paginator.num_pages
    assert last >= 2
    # the session with its account and office, the count, the page's rows; the first
    # page counts in its rows' statement
    _pages_cost_alike(admin_client, USERS, params, last, expected=3, first=2)


def test_users_pages_are_slices_of_the_whole_order(admin_client, crowd):
    expected = list(
        Account.objects.filter(office=crowd.office, deleted_at__isnull=True)
        .order_by("name", "login_id", "pk")
        .values_list("login_id", flat=True)
    )
    seen = []
    number = 1
    while True:
        page = admin_client.get(USERS, {"page": number}).context["page"]
        seen += [a.login_id for a in page.object_list]
        if number >= page.paginator.num_pages:
            break
        number += 1
    assert number > 2
    assert seen == expected


@pytest.mark.parametrize(
    ("params", "expected", "first"),
    [
        # The first page reads its count (one the database keeps) in the
        # statement of its events.
        ({}, 3, 2),
        ({"action": "quota_change"}, 3, 2),
        # counted on the events themselves (no kept count for a date range)
        ({"date_from": "2000-01-01"}, 3, 2),
        # and the ids of the accounts the actor or target text finds
        ({"actor": "p042"}, 4, 4),
        ({"target": "p00"}, 4, 4),
        ({"actor": "관리자"}, 4, 4),
    ],
)
def test_audit_log_first_middle_and_last_page(admin_client, crowd, params, expected, first):
    _count, page = _queries(admin_client, LOG, params)
    last = page.context["page"].paginator.num_pages
    assert last >= 1
    # the session with its account and office, the count, the page's events
    _pages_cost_alike(admin_client, LOG, params, last, expected=expected, first=first)


def test_audit_log_pages_are_slices_of_the_whole_order(admin_client, crowd):
    expected = list(filtered_events(crowd.office, {}).values_list("pk", flat=True))
    assert len(expected) > 250
    seen = []
    for number in range(1, 7):
        page = admin_client.get(LOG, {"page": number}).context["page"]
        seen += [event.pk for event in page.object_list]
    assert seen == expected


def test_audit_actor_filter_finds_accounts_by_name_or_id_and_labels_without_one(crowd):
    admin = crowd.admin
    by_name = filtered_events(crowd.office, {"actor": admin.name[:2]})
    assert by_name.count() == 173  # every event an admin did
    assert set(by_name.values_list("actor_id", flat=True)) == {admin.pk}
    # No actor account: the label typed at a failed login.
    by_label = filtered_events(crowd.office, {"actor": "p042"})
    assert by_label.count() == 87
    assert set(by_label.values_list("actor_id", flat=True)) == {None}
    by_target = filtered_events(crowd.office, {"target": "p001"})
    assert by_target.count() == 2


@pytest.mark.parametrize(
    "filters",
    [
        {"actor": "p042"},  # an account that acted on nothing, and labels
        {"actor": "관리자"},  # the admin's events only
        {"actor": "p0"},  # accounts and labels alike
        {"actor": "nobody-at-all"},  # neither
        {"target": "p00", "actor": "p042"},
        {"actor": "p04", "action": "quota_change", "date_from": dt.date(2025, 6, 1)},
        {"target": "p1", "date_to": dt.date(2025, 6, 1)},
    ],
)
def test_a_person_filter_counts_its_two_halves_as_the_whole(crowd, filters):
    # Counted apart (accounts by their ids, the rest by their labels), the
    # page's count is that of the events it pages through.
    page = event_page(crowd.office, filters, 1, 50)
    assert page.paginator.count == filtered_events(crowd.office, filters).count()
    assert [e.pk for e in page.object_list] == list(
        filtered_events(crowd.office, filters).values_list("pk", flat=True)[:50]
    )
