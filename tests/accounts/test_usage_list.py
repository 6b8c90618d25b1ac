"""메일 사용 현황 (F3): filters, search, sort, paging, counts, answers."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import Account, Mailbox
from accounts.selectors import usage_page, usage_rows
from tests.accounts.usage_data import add_subaccount, set_usage
from tests.factories import MB, make_account

pytestmark = pytest.mark.django_db

URL = "/gabiaedu.com/manage/mail/accounts/"
GB = 1024 * MB


@pytest.fixture
def people(org):
    """The office of conftest plus sub-accounts, usage and access times:
    mail users admin, kim, lee, park (suspended), group, shared, alice."""
    now = timezone.now()
    org.alice = make_account(org.office, "alice.brown", "Alice Brown")
    add_subaccount(org.kim, "kim-sales")
    add_subaccount(org.kim, "kim-support")
    add_subaccount(org.lee, "seoyeon-hr")
    set_usage(org.admin, 5 * MB, last_access_at=now - dt.timedelta(hours=2))
    set_usage(org.kim, 300 * MB, last_access_at=now - dt.timedelta(days=1))
    set_usage(org.lee, 900 * MB, last_access_at=now - dt.timedelta(days=100))
    set_usage(org.park, 0)
    set_usage(org.group, 50 * MB)
    set_usage(org.shared, 2 * GB, quota_bytes=None)
    set_usage(org.alice, 300 * MB, last_access_at=now - dt.timedelta(days=30))
    return org


def ids(response) -> list[str]:
    return [account.login_id for account in response.context["rows"]]


def get(client, **params):
    response = client.get(URL, params)
    assert response.status_code == 200
    return response


def expected(order_key, *, reverse=False, where=lambda a: True) -> list[str]:
    accounts = [
        a
        for a in Account.objects.filter(office__domain="gabiaedu.com", mailbox__isnull=False)
        .select_related("mailbox")
        .order_by("pk")
        if where(a)
    ]
    return [a.login_id for a in sorted(accounts, key=order_key, reverse=reverse)]


def by_name(a):
    return (a.name, a.login_id, a.pk)


# -- what is listed ---------------------------------------------------------


def test_lists_every_mail_account_in_name_order_and_nothing_else(admin_client, people, other):
    response = get(admin_client)
    assert ids(response) == expected(by_name)
    assert set(ids(response)) == {
        "admin",
        "minjun.kim",
        "seoyeon.lee",
        "jiho.park",
        "team-sales",
        "help",
        "alice.brown",
    }
    assert "nomail" not in ids(response)  # no mailbox, not a mail user
    assert response.context["listing"].filtered_count == 7
    assert response.context["listing"].total == 7


def test_count_shows_filtered_and_total(admin_client, people):
    response = get(admin_client, status="suspended")
    body = response.content.decode()
    assert response.context["listing"].filtered_count == len(ids(response)) == 1
    assert response.context["listing"].total == 7
    assert "메일 사용자 수" in body
    assert 'usage-count__value num">1<' in body
    assert "전체 7" in body


# -- ② filters --------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "where"),
    [
        ({"subaccounts": "used"}, lambda a: a.subaccount_count > 0),
        ({"subaccounts": "unused"}, lambda a: a.subaccount_count == 0),
        ({"status": "active"}, lambda a: a.status == "active"),
        ({"status": "suspended"}, lambda a: a.status == "suspended"),
        (
            {"subaccounts": "unused", "status": "active"},
            lambda a: a.subaccount_count == 0 and a.status == "active",
        ),
        (
            {"subaccounts": "used", "status": "suspended"},
            lambda a: False,
        ),
    ],
)
def test_filters_select_exactly_their_accounts(admin_client, people, params, where):
    response = get(admin_client, **params)
    assert ids(response) == expected(by_name, where=where)
    assert response.context["listing"].filtered_count == len(ids(response))


def test_subaccount_filter_values(admin_client, people):
    assert set(ids(get(admin_client, subaccounts="used"))) == {"minjun.kim", "seoyeon.lee"}
    unused = set(ids(get(admin_client, subaccounts="unused")))
    assert unused == {"admin", "jiho.park", "team-sales", "help", "alice.brown"}


def test_status_filter_values(admin_client, people):
    assert ids(get(admin_client, status="suspended")) == ["jiho.park"]
    assert "jiho.park" not in ids(get(admin_client, status="active"))


# -- ③ search ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("q", "found"),
    [
        ("김민준", {"minjun.kim"}),  # Korean name, whole
        ("민준", {"minjun.kim"}),  # Korean, part
        ("고객", {"help"}),
        ("seoyeon", {"seoyeon.lee"}),  # ID, part
        ("SeoYeon.LEE", {"seoyeon.lee"}),  # ID, mixed case
        ("aLiCe bR", {"alice.brown"}),  # Latin name, mixed case
        ("kim-sup", {"minjun.kim"}),  # part of a sub-account address finds the owner
        ("kim-support@gabiaedu.com", {"minjun.kim"}),  # a whole sub-account address
        ("SEOYEON-HR@GABIA", {"seoyeon.lee"}),  # address, mixed case, domain begun
        ("minjun.kim@gabiaedu.com", {"minjun.kim"}),  # a primary address
        ("kim-sales@other.co.kr", set()),  # the address of another domain
        ("  이서연  ", {"seoyeon.lee"}),  # surrounding blanks ignored
        ("없는사람", set()),  # no match
        ("%", set()),  # wildcards are literal
        ("_", set()),
    ],
)
def test_search(admin_client, people, q, found):
    response = get(admin_client, q=q)
    assert set(ids(response)) == found
    assert response.context["listing"].filtered_count == len(found)


def test_search_matching_several_subaccounts_lists_the_owner_once(admin_client, people):
    response = get(admin_client, q="kim-s")  # kim-sales and kim-support
    assert ids(response) == ["minjun.kim"]
    assert response.context["listing"].filtered_count == 1


def test_search_never_finds_another_offices_accounts(admin_client, people, other):
    add_subaccount(other.kim, "other-kim-sales")
    assert ids(get(admin_client, q="other-kim")) == []
    assert ids(get(admin_client, q="kim")) == ["minjun.kim"]


def test_no_match_says_so(admin_client, people):
    body = get(admin_client, q="없는사람").content.decode()
    assert "조건에 맞는 계정이 없습니다." in body


def test_search_combines_with_filters(admin_client, people):
    assert ids(get(admin_client, q="i", status="suspended")) == ["jiho.park"]
    assert ids(get(admin_client, q="kim", subaccounts="unused")) == []
    assert set(ids(get(admin_client, q="e", subaccounts="used"))) == {"seoyeon.lee", "minjun.kim"}


# -- sorting ----------------------------------------------------------------


def _usage(a):
    return a.mailbox.used_bytes


def _share(a):
    return a.mailbox.usage_share


def _last(a):
    return a.mailbox.last_access_at


def _nulls_smallest(get_value):
    def key(a):
        value = get_value(a)
        return (value is not None, value if value is not None else 0)

    return key


SORTS = {
    "name": lambda a: (a.name, a.login_id, a.pk),
    "login_id": lambda a: a.login_id,
    "usage": lambda a: _usage(a),
    "share": _nulls_smallest(_share),
    "last_access": _nulls_smallest(
        lambda a: _last(a).timestamp() if _last(a) is not None else None
    ),
}


@pytest.mark.parametrize("key", list(SORTS))
@pytest.mark.parametrize("descending", [False, True])
def test_each_sort_in_both_directions(admin_client, people, key, descending):
    # Refresh the generated share from the database.
    response = get(admin_client, sort=f"-{key}" if descending else key)
    accounts = list(
        Account.objects.filter(office=people.office, mailbox__isnull=False).select_related(
            "mailbox"
        )
    )
    primary = SORTS[key]
    if key in ("name", "login_id"):
        order = sorted(accounts, key=primary, reverse=descending)
    else:
        # Ties keep the default order (name, ID, pk) in both directions.
        order = sorted(accounts, key=by_name)
        order = sorted(order, key=primary, reverse=descending)
    assert ids(response) == [a.login_id for a in order]
    state = "descending" if descending else "ascending"
    assert f'aria-sort="{state}"' in response.content.decode()


def test_usage_ties_break_by_name_then_id(admin_client, people):
    # kim and alice both use 300 MB: Alice Brown sorts before 김민준 either way.
    for sort in ("usage", "-usage"):
        order = ids(get(admin_client, sort=sort))
        assert order.index("alice.brown") + 1 == order.index("minjun.kim")


def test_unlimited_and_never_accessed_sort_as_smallest(admin_client, people):
    assert ids(get(admin_client, sort="-share"))[-1] == "help"  # unlimited: no share
    assert ids(get(admin_client, sort="share"))[0] == "help"
    latest = ids(get(admin_client, sort="-last_access"))
    assert latest[:4] == ["admin", "minjun.kim", "alice.brown", "seoyeon.lee"]


def test_sort_headers_keep_filters_and_offer_the_other_direction(admin_client, people):
    body = get(admin_client, q="kim", status="active", sort="usage", page="1").content.decode()
    assert 'href="?q=kim&amp;status=active&amp;sort=-usage"' in body  # page dropped
    assert 'href="?q=kim&amp;status=active&amp;sort=-name"' not in body
    assert 'href="?q=kim&amp;status=active&amp;sort=name"' in body


def test_sort_is_combined_with_filters(admin_client, people):
    response = get(admin_client, sort="-usage", status="active", subaccounts="unused")
    assert ids(response) == ["help", "alice.brown", "team-sales", "admin"]


# -- paging -----------------------------------------------------------------


@pytest.fixture
def crowd(org):
    """45 more mail users named 사용자01..45 (sorted after the Latin name)."""
    for n in range(1, 46):
        make_account(org.office, f"user{n:02d}", f"사용자{n:02d}")
    return org


def test_pages_of_20_by_default(admin_client, crowd):
    first = get(admin_client)
    assert len(ids(first)) == 20
    assert first.context["listing"].filtered_count == 51
    everything = ids(first) + ids(get(admin_client, page=2)) + ids(get(admin_client, page=3))
    assert len(everything) == 51 == len(set(everything))
    assert everything == expected(by_name)


@pytest.mark.parametrize("per_page", [20, 50, 100])
def test_page_sizes(admin_client, crowd, per_page):
    response = get(admin_client, per_page=per_page)
    assert len(ids(response)) == min(per_page, 51)
    assert f'<option value="{per_page}" selected>' in response.content.decode()


def test_paging_keeps_filters_and_sort(admin_client, crowd):
    response = get(admin_client, q="사용자", sort="-login_id", per_page=20, page=2)
    assert ids(response) == [f"user{n:02d}" for n in range(25, 5, -1)]
    body = response.content.decode()
    assert (
        'href="?q=%EC%82%AC%EC%9A%A9%EC%9E%90&amp;sort=-login_id&amp;per_page=20&amp;page=3"'
        in body
    )
    assert 'aria-current="page">2<' in body


@pytest.mark.parametrize(
    "params",
    [
        {"page": "abc"},
        {"page": "0"},
        {"page": "-3"},
        {"page": "99999999999999999999"},
        {"per_page": "7"},
        {"per_page": "many"},
        {"per_page": "100000"},
        {"sort": "password"},
        {"sort": "--name"},
        {"sort": "mailbox__mail_password"},
        {"status": "deleted"},
        {"status": "ACTIVE"},
        {"subaccounts": "maybe"},
        {"q": "a\x00b"},
        {"q": "x" * 5000},
    ],
)
def test_bad_parameters_fall_back_safely(admin_client, crowd, params):
    response = admin_client.get(URL, params)
    assert response.status_code == 200
    assert len(ids(response)) <= 20


def test_unknown_sort_falls_back_to_the_default_order(admin_client, people):
    assert ids(get(admin_client, sort="password")) == expected(by_name)


def test_page_past_the_end_shows_the_last_page(admin_client, crowd):
    response = get(admin_client, page=99)
    assert response.context["page_obj"].number == 3
    assert len(ids(response)) == 11


def test_count_equals_rows_selected_over_all_pages(admin_client, crowd):
    params = {"q": "사용자1", "per_page": 20}
    response = get(admin_client, **params)
    assert response.context["listing"].filtered_count == 10  # 사용자10..19
    assert len(ids(response)) == 10


# -- what a row shows -------------------------------------------------------


def test_row_shows_addresses_usage_and_state(admin_client, people):
    body = get(admin_client, q="kim").content.decode()
    assert "minjun.kim@gabiaedu.com" in body
    assert "kim-sales@gabiaedu.com" in body and "kim-support@gabiaedu.com" in body
    assert "300 MB" in body and "/ 1.0 GB" in body
    assert '<meter class="usage-meter"' in body and "29.3%" in body
    assert "POP3 사용" in body and "SMTP 사용" in body
    assert ">정상<" in body


def test_unlimited_quota_is_shown_as_such(admin_client, people):
    body = get(admin_client, q="고객센터").content.decode()
    assert "2.0 GB" in body and "무제한" in body
    assert "<meter" not in body


def test_pop3_smtp_off_and_suspended(admin_client, people):
    Mailbox.objects.filter(account=people.park).update(pop3_enabled=False)
    body = get(admin_client, q="jiho").content.decode()
    assert "POP3 사용 안 함" in body and "SMTP 사용" in body
    assert ">일시정지<" in body


def test_last_access_only_within_three_months(admin_client, people):
    rows = {a.login_id: a for a in get(admin_client).context["rows"]}
    assert rows["minjun.kim"].recent_access_at is not None
    assert rows["seoyeon.lee"].recent_access_at is None  # 100 days ago
    assert rows["jiho.park"].recent_access_at is None  # never
    body = get(admin_client, q="seoyeon").content.decode()
    assert "최근 3개월 동안 접속 기록이 없습니다" in body


def test_last_access_is_shown_in_the_office_time_zone(admin_client, people):
    moment = timezone.now().replace(hour=23, minute=30, second=0, microsecond=0, tzinfo=dt.UTC)
    moment -= dt.timedelta(days=2)  # 08:30 the next day in Seoul
    Mailbox.objects.filter(account=people.kim).update(last_access_at=moment)
    body = get(admin_client, q="kim").content.decode()
    seoul = moment + dt.timedelta(hours=9)
    assert f"{seoul:%Y-%m-%d}<br>08:30</time>" in body
    listing = usage_page(people.office, {"q": "kim"}, now=moment + dt.timedelta(days=95))
    assert listing.rows[0].recent_access_at is None  # out of the window by then


def test_group_and_shared_mail_show_their_kind_and_no_subaccount_button(admin_client, people):
    body = get(admin_client, q="team-sales").content.decode()
    assert "그룹메일" in body
    assert "/team-sales/subaccounts/" not in body
    assert "disabled" in body and "그룹메일과 공용메일은 부계정을 만들 수 없습니다." in body
    assert "그룹메일은 사용할 수 없음" in body  # the reason, visible
    body = get(admin_client, q="help").content.decode()
    assert "공용메일" in body and "/help/subaccounts/" not in body


def test_rows_link_to_the_detail_pane_subaccount_dialog_and_empty(admin_client, people):
    body = get(admin_client, q="minjun").content.decode()
    detail = "/gabiaedu.com/manage/mail/accounts/minjun.kim/"
    assert f'href="{detail}" hx-get="{detail}" hx-target="#detail-pane"' in body
    assert (
        f'href="{detail}subaccounts/" hx-get="{detail}subaccounts/" hx-target="#modal-body"' in body
    )
    assert f'hx-get="{detail}empty/" hx-target="#modal-body"' in body
    assert f'href="{detail}empty/?next=' in body
    assert '<aside id="detail-pane" class="detail-pane"' in body


def test_manual_labels_in_korean(admin_client, people):
    body = get(admin_client).content.decode()
    for label in (
        "메일 사용 현황",
        "메일 사용자 수",
        "부계정 사용 여부",
        "계정 상태",
        ">전체<",
        ">사용 중<",
        ">사용 안 함<",
        ">정상<",
        ">일시정지<",
        "검색",
        "이름/아이디",
        "목록 다운로드",
        ">이름<",
        ">아이디<",
        ">이메일<",
        "부계정 설정",
        ">사용량<",
        ">비우기<",
        "POP3/SMTP",
        ">상태<",
        ">마지막 접속<",
    ):
        assert label in body, label


def test_download_link_carries_the_filters(admin_client, people):
    body = get(admin_client, q="kim", status="active", sort="-usage", page=1).content.decode()
    assert (
        'href="/gabiaedu.com/manage/mail/accounts/export.xlsx?q=kim&amp;status=active&amp;sort=-usage"'
        in body
    )


# -- htmx -------------------------------------------------------------------


def test_htmx_request_for_the_table_gets_only_the_table(admin_client, people):
    response = admin_client.get(
        URL, {"status": "active"}, HTTP_HX_REQUEST="true", HTTP_HX_TARGET="account-table"
    )
    body = response.content.decode()
    assert body.lstrip().startswith('<section id="account-table"')
    assert "<html" not in body and 'id="usage-filters"' not in body
    assert ids(response) == expected(by_name, where=lambda a: a.status == "active")
    assert "HX-Request" in response["Vary"]


def test_table_refreshes_itself_after_emptying_or_subaccount_changes(admin_client, people):
    body = get(admin_client, q="kim").content.decode()
    assert (
        'hx-trigger="mailboxEmptied from:body, subaccountsChanged from:body, '
        'accountsChanged from:body"'
    ) in body
    assert 'hx-get="/gabiaedu.com/manage/mail/accounts/?q=kim"' in body


def test_history_restore_gets_the_whole_page(admin_client, people):
    response = admin_client.get(
        URL,
        HTTP_HX_REQUEST="true",
        HTTP_HX_TARGET="account-table",
        HTTP_HX_HISTORY_RESTORE_REQUEST="true",
    )
    assert "<html" in response.content.decode()


def test_filters_work_without_javascript(admin_client, people):
    body = get(admin_client).content.decode()
    assert '<form id="usage-filters"' in body and 'method="get"' in body
    assert 'name="per_page" form="usage-filters"' in body
    assert '<button type="submit" class="btn">검색</button>' in body


def test_toolbar_and_rows_follow_each_requests_language(admin_client, people):
    """The options' and the rows' labels are translated once per language
    and reused: switching back and forth must still show each request its
    language."""
    for language, expected, other in [
        ("ko", '<option value="under">80% 미만</option>', "Under 80%"),
        ("en", '<option value="under">Under 80%</option>', "80% 미만"),
        ("ko", '<option value="under">80% 미만</option>', "Under 80%"),
    ]:
        admin_client.cookies["mailadmin_language"] = language
        body = get(admin_client, quota="warning").content.decode()
        assert expected in body and other not in body
        selected = "80–95% (경고)" if language == "ko" else "80–95% (warning)"
        assert f'<option value="warning" selected>{selected}</option>' in body
        usage, empty = ("사용량", "비우기") if language == "ko" else ("Usage", "Empty")
        assert f'<td role="cell" class="usage-cell" data-label="{usage}">' in body
        assert f">{empty}<span" in body


# -- speed (N3) -------------------------------------------------------------


@pytest.fixture
def big_office(org):
    """130 mail users, every third with sub-accounts, so every page of 20,
    50 or 100 has some."""
    for n in range(130):
        account = make_account(org.office, f"u{n:03d}", f"사용자{n:03d}", password=None)
        if n % 3 == 0:
            add_subaccount(account, f"u{n:03d}-a")
            add_subaccount(account, f"u{n:03d}-b")
    return org


@pytest.mark.parametrize("params", [{}, {"q": "사용자", "status": "active", "sort": "-usage"}])
def test_same_number_of_queries_for_20_50_and_100_rows(
    admin_client, big_office, params, django_assert_num_queries
):
    admin_client.get(URL)  # warm the session
    counts = {}
    for per_page in (20, 50, 100):
        with CaptureQueriesContext(connection) as captured:
            response = admin_client.get(URL, {**params, "per_page": per_page})
        assert len(ids(response)) == per_page  # full pages
        assert any(a.subaccount_addresses for a in response.context["rows"])
        counts[per_page] = len(captured)
    assert counts[20] == counts[50] == counts[100], counts
    # the session with its account and office, the first page's rows with their
    # sub-account addresses and both counts (all mailboxes, and the
    # filtered count when filtered: a search's few matches are counted
    # as its rows are sorted)
    with django_assert_num_queries(2):
        admin_client.get(URL, {**params, "per_page": 100})


def test_selector_builds_one_queryset_shared_with_the_export(people):
    filterset, queryset = usage_rows(people.office, {"q": "kim", "sort": "-usage"})
    assert filterset.current_sort == "-usage"
    assert filterset.applied == {"q": "kim", "sort": "-usage"}
    assert [a.login_id for a in queryset] == ["minjun.kim"]


# -- who may see it (F2, R7) --------------------------------------------------


def test_signed_out_visitor_is_sent_to_the_login(client, org):
    response = client.get(URL)
    assert response.status_code == 302
    assert response["Location"].startswith("/gabiaedu.com/login/?next=")


def test_ordinary_account_gets_403(user_client):
    assert user_client.get(URL).status_code == 403


def test_admin_of_another_office_gets_404(other_admin_client):
    assert other_admin_client.get(URL).status_code == 404
    assert other_admin_client.post(URL).status_code == 404


def test_list_refuses_post(admin_client, org):
    assert admin_client.post(URL).status_code == 405


# -- quota status ---------------------------------------------------------------


@pytest.fixture
def quota_office(org):
    """One mailbox in each quota bucket (quota 1,000 MB unless unlimited)."""
    quota = 1000 * MB
    for account, used in (
        (org.admin, 100 * MB),  # 10 %
        (org.kim, 850 * MB),  # warning
        (org.lee, 990 * MB),  # critical
        (org.park, 1000 * MB + 1),  # one byte over: still reads 100.00 %
    ):
        set_usage(account, used, quota_bytes=quota)
    set_usage(org.group, 1000 * MB, quota_bytes=quota)  # exactly full: critical
    set_usage(org.shared, 5 * GB, quota_bytes=None)
    return org


@pytest.mark.parametrize(
    "bucket, found",
    [
        ("under", {"admin"}),
        ("warning", {"minjun.kim"}),
        ("critical", {"seoyeon.lee", "team-sales"}),
        ("over", {"jiho.park"}),
        ("unlimited", {"help"}),
    ],
)
def test_quota_status_filter_selects_its_bucket_in_rows_count_and_export(
    admin_client, quota_office, bucket, found
):
    from accounts.exports import roster_rows

    response = get(admin_client, quota=bucket)
    assert set(ids(response)) == found
    assert response.context["listing"].filtered_count == len(found)
    _filterset, rows = roster_rows(quota_office.office, {"quota": bucket})
    assert {row[1] for row in rows} == found  # the ID column
    assert f'value="{bucket}" selected' in response.content.decode()
