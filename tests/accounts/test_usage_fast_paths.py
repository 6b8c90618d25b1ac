"""The usage list's fast paths (issue 7) select exactly what the plain
queryset selects: pages read from the end, searches answered from their
matches, counts without the join."""

from __future__ import annotations

import pytest
from django.db.models import Q

from accounts import selectors
from accounts.models import Account, Mailbox
from accounts.selectors import usage_page, usage_rows
from tests.accounts.usage_data import add_subaccount, set_usage
from tests.factories import make_account

pytestmark = pytest.mark.django_db


@pytest.fixture
def office(org):
    for n in range(47):
        account = make_account(
            org.office,
            f"member{n:02d}",
            ["김민수", "이영희", "박철수", "Kim Mina", "최가람"][n % 5] + f"{n % 7}",
            status=Account.Status.SUSPENDED if n % 9 == 0 else Account.Status.ACTIVE,
        )
        set_usage(account, (n * 37) % 11 * 1000)
        if n % 4 == 0:
            add_subaccount(account, f"member{n:02d}-biz")
    Mailbox.objects.filter(account__login_id__endswith="3").update(quota_bytes=None)
    return org


def every_row(office, params):
    _filterset, queryset = usage_rows(office, params)
    return [a.login_id for a in queryset]


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"sort": "-usage"},
        {"sort": "share"},
        {"sort": "-share"},
        {"sort": "last_access"},
        {"sort": "-login_id"},
        {"status": "active", "sort": "-name"},
        {"subaccounts": "unused", "q": "mi"},
    ],
)
@pytest.mark.parametrize("per_page", [20, 50])
def test_every_page_equals_the_slice_of_the_whole_order(office, params, per_page):
    expected = every_row(office.office, params)
    pages = -(-len(expected) // per_page)
    seen = []
    for number in range(1, pages + 1):
        page = usage_page(office.office, {**params, "per_page": per_page, "page": number})
        assert page.page.number == number
        assert page.filtered_count == len(expected)
        seen += [a.login_id for a in page.rows]
    assert seen == expected


@pytest.mark.parametrize("q", ["김민", "김", "kim", "KIM M", "member1", "-biz", "mber04-b", "수3"])
def test_search_paths_agree_with_a_plain_substring_match(office, q):
    expected = set(
        Account.objects.filter(office=office.office, mailbox__isnull=False)
        .filter(
            Q(name__icontains=q)
            | Q(login_id__icontains=q)
            | Q(subaccounts__local_part__icontains=q)
        )
        .values_list("login_id", flat=True)
    )
    page = usage_page(office.office, {"q": q, "per_page": 100})
    assert {a.login_id for a in page.rows} == expected
    assert page.filtered_count == len(expected)


@pytest.mark.parametrize("q", ["-biz", "mber04-b", "member0", "KIM M"])
@pytest.mark.parametrize("sort", ["name", "-usage"])
def test_a_broad_search_walking_the_order_finds_owners_by_their_sub_accounts_once(
    office, monkeypatch, q, sort
):
    # Every search takes the path of a broad one: the page walks the list's
    # order and tests each account's sub-account addresses as it goes.
    monkeypatch.setattr(selectors, "SEARCH_PROBE_LIMIT", 0)
    add_subaccount(Account.objects.get(login_id="member04"), "member04-bizz")
    expected = set(
        Account.objects.filter(office=office.office, mailbox__isnull=False)
        .filter(
            Q(name__icontains=q)
            | Q(login_id__icontains=q)
            | Q(subaccounts__local_part__icontains=q)
        )
        .values_list("login_id", flat=True)
    )
    page = usage_page(office.office, {"q": q, "sort": sort, "per_page": 100})
    listed = [a.login_id for a in page.rows]
    assert len(listed) == len(set(listed))  # two matching sub-accounts, one row
    assert set(listed) == expected
    assert page.filtered_count == len(expected)
    assert listed == every_row(office.office, {"q": q, "sort": sort})


def test_many_matches_are_counted_rather_than_listed(office, monkeypatch):
    monkeypatch.setattr(selectors, "SEARCH_PROBE_LIMIT", 3)  # "member": 47 matches
    page = usage_page(office.office, {"q": "member", "per_page": 20, "page": 2})
    assert page.filtered_count == 47
    assert [a.login_id for a in page.rows] == every_row(office.office, {"q": "member"})[20:40]


@pytest.mark.parametrize(("room", "statements"), [(1000, 1), (0, 1), (-1, 2)])
@pytest.mark.parametrize("sort", ["name", "-usage"])
def test_a_searchs_first_page_is_one_statement_unless_it_finds_too_many(
    office, monkeypatch, django_assert_num_queries, room, statements, sort
):
    # "member" with a second filter is answered by the search's index on
    # both databases: its few matches are sorted, with their count and the
    # office's total, in the rows' own statement. One match more than the
    # limit and that statement brings one match only, with the count; the
    # page then walks the order for its rows.
    params = {"q": "member", "status": "active", "sort": sort, "per_page": 20}
    expected = every_row(office.office, params)
    total = usage_page(office.office, {}).total
    assert len(expected) == 41
    monkeypatch.setattr(selectors, "SEARCH_PROBE_LIMIT", len(expected) + room)
    with django_assert_num_queries(statements):
        page = usage_page(office.office, params)
    assert (page.filtered_count, page.total) == (41, total)
    assert [a.login_id for a in page.rows] == expected[:20]
    assert page.page.paginator.num_pages == 3


def test_a_search_that_finds_nothing_still_shows_the_total(office, django_assert_num_queries):
    total = usage_page(office.office, {}).total
    with django_assert_num_queries(1):
        page = usage_page(office.office, {"q": "없는사람", "status": "active"})
    assert (page.filtered_count, page.total, page.rows) == (0, total, [])


def test_sub_account_addresses_come_with_the_page_in_slot_order(office):
    owner = Account.objects.get(login_id="member04")
    add_subaccount(owner, "member04-zeta")
    page = usage_page(office.office, {"q": "member04", "per_page": 20})
    (row,) = page.rows
    assert row.subaccount_addresses == [
        "member04-biz@gabiaedu.com",
        "member04-zeta@gabiaedu.com",
    ]


def test_total_counts_mailboxes_of_the_office_only(office, other):
    page = usage_page(office.office, {"status": "suspended"})
    assert page.total == Mailbox.objects.filter(office=office.office).count()
    assert page.filtered_count == len(every_row(office.office, {"status": "suspended"}))


def test_filtersets_built_together_keep_their_own_filters(office):
    """Each FilterSet gets its own copies of the declared filters: one built
    later (another request) must not change what an earlier one filters."""
    first, first_rows = usage_rows(office.office, {"q": "김민수", "subaccounts": "used"})
    second, _second_rows = usage_rows(office.office, {"q": "Kim", "subaccounts": "unused"})
    assert first.filters["q"] is not second.filters["q"]
    assert first.filters["q"].parent is first
    logins = [a.login_id for a in first_rows]
    assert logins
    assert all(a.name.startswith("김민수") and a.subaccount_count for a in first_rows)
    assert every_row(office.office, {"q": "김민수", "subaccounts": "used"}) == logins
