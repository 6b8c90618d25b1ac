"""The detail pane (SPEC F5): account info, usage by folder, POP3/SMTP and the
3-month access history with a constant number of queries."""

from __future__ import annotations

import datetime as dt
import zoneinfo

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.access_history import fold_hour
from accounts.models import AccessLog, Account, Folder, Mailbox
from accounts.services import inbox_of, message_deliver
from subaccounts.services import subaccount_add
from tests.accounts.usage_data import bulk_deliver

pytestmark = pytest.mark.django_db

SEOUL = zoneinfo.ZoneInfo("Asia/Seoul")
# Sunday 15 June 2025, noon in Seoul (03:00 UTC).
NOW = dt.datetime(2025, 6, 15, 12, 0, 0, tzinfo=SEOUL)
WINDOW_START = dt.datetime(2025, 3, 15, 12, 0, 0, tzinfo=SEOUL)
HTMX = {"HTTP_HX_REQUEST": "true"}


def url(login_id: str, domain: str = "gabiaedu.com") -> str:
    return f"/{domain}/manage/mail/accounts/{login_id}/"


def record_access(
    account: Account,
    at: dt.datetime,
    *,
    protocol: str = "pop3",
    ip: str = "211.234.10.20",
    country: str = "KR",
    succeeded: bool = True,
) -> AccessLog:
    """What the importers and the demo do: store the attempt and, for a
    successful login newer than the known one, move the mailbox's
    denormalised last access."""
    row = AccessLog.login(
        office=account.office,
        account=account,
        protocol=protocol,
        at=at,
        ip=ip,
        country=country,
        succeeded=succeeded,
    )
    row.save()
    mailbox = account.mailbox
    if succeeded and (mailbox.last_access_at is None or at > mailbox.last_access_at):
        Mailbox.objects.filter(pk=mailbox.pk).update(
            last_access_at=at,
            last_access_protocol=protocol,
            last_access_ip=ip,
            last_access_country=country,
        )
        mailbox.refresh_from_db()
    return row


@pytest.fixture
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield NOW


def pane(client, login_id="minjun.kim", **params):
    """The full page: the same pane, and the test client records its context
    (it does not for a partial rendered alone)."""
    response = client.get(url(login_id), params)
    assert response.status_code == 200
    return response


# -- what the pane shows ----------------------------------------------------


def test_htmx_request_gets_the_pane_alone_and_other_requests_a_full_page(admin_client, org):
    partial = admin_client.get(url("minjun.kim"), **HTMX).content.decode()
    assert partial.lstrip().startswith('<section class="pane" id="pane-minjun.kim"')
    assert "<html" not in partial
    full = admin_client.get(url("minjun.kim")).content.decode()
    assert "<html" in full and 'id="pane-minjun.kim"' in full
    assert 'aria-current="page"' in full  # the menu marks 메일 사용 현황


def test_pane_shows_account_information(admin_client, org):
    body = pane(admin_client).content.decode()
    assert "김민준" in body
    assert "minjun.kim@gabiaedu.com" in body
    assert "사용자" in body  # kind
    assert "정상" in body  # status
    assert "계정 정보" in body


def test_suspended_account_shows_its_status(admin_client, org):
    body = pane(admin_client, "jiho.park").content.decode()
    assert 'data-status="suspended"' in body and "일시정지" in body


def test_usage_by_folder_marks_subaccount_folders(admin_client, org):
    mailbox = org.kim.mailbox
    inbox = inbox_of(mailbox)
    folder = subaccount_add(actor=None, owner=org.kim, local_part="sales").folder
    message_deliver(folder=inbox, size_bytes=3 * 1024 * 1024)
    message_deliver(folder=folder, size_bytes=1024 * 1024)
    message_deliver(folder=folder, size_bytes=1024 * 1024)

    response = pane(admin_client)
    folders = {f.name: f for f in response.context["folders"]}
    assert folders["sales"].message_total == 2
    assert folders["sales"].size_total == 2 * 1024 * 1024
    assert folders["sales"].depth == 1
    assert folders["Inbox"].message_total == 1
    assert folders["Trash"].message_total == 0 and folders["Trash"].size_total == 0
    order = [f.name for f in response.context["folders"]]
    assert order.index("Inbox") < order.index("sales") < order.index("Sent")
    body = response.content.decode()
    assert "folder--subaccount" in body and "sales@gabiaedu.com" in body
    assert "5.0 MB" in body  # used, from the counters
    assert "1,024 MB" in body or "1.0 GB" in body  # quota


def test_pop3_smtp_and_mail_only_password(admin_client, org):
    Mailbox.objects.filter(account=org.kim).update(
        pop3_enabled=False,
        smtp_enabled=True,
        mail_password="argon2$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2g",
    )
    response = pane(admin_client)
    body = response.content.decode()
    assert "메일 전용 비밀번호" in body and "사용 중" in body
    assert response.context["mailbox"].pop3_enabled is False
    assert response.context["mailbox"].smtp_enabled is True
    # A hash the mail server cannot check is flagged rather than "in use".
    Mailbox.objects.filter(account=org.kim).update(mail_password="pbkdf2$hash")
    body = pane(admin_client).content.decode()
    assert "재설정 필요" in body and "data-needs-reset" in body


def test_links_to_user_management_in_a_new_tab_and_to_the_subaccount_dialog(admin_client, org):
    body = pane(admin_client).content.decode()
    assert (
        '<a class="btn btn--small" href="/gabiaedu.com/manage/users/minjun.kim/"\n'
        '       target="_blank" rel="noopener"' in body
    )
    sub = "/gabiaedu.com/manage/mail/accounts/minjun.kim/subaccounts/"
    assert f'href="{sub}" hx-get="{sub}"' in body
    assert 'hx-target="#modal-body"' in body


def test_pane_refreshes_itself_after_subaccount_or_empty_events(admin_client, org):
    body = pane(admin_client).content.decode()
    assert 'hx-trigger="subaccountsChanged from:body, mailboxEmptied from:body"' in body
    assert 'hx-get="/gabiaedu.com/manage/mail/accounts/minjun.kim/"' in body


@pytest.mark.parametrize(
    ("who", "reason"),
    [
        ("team-sales", "그룹메일과 공용메일은 부계정을 만들 수 없습니다."),
        ("help", "그룹메일과 공용메일은 부계정을 만들 수 없습니다."),
        ("nomail", "메일을 사용하는 계정만 부계정을 만들 수 있습니다."),
    ],
)
def test_subaccount_button_is_disabled_with_the_reason(admin_client, org, who, reason):
    body = pane(admin_client, who).content.decode()
    assert "subaccounts/" not in body
    assert "disabled" in body and reason in body


def test_account_without_mail_says_so(admin_client, org):
    response = pane(admin_client, "nomail")
    assert "이 계정은 메일을 사용하지 않습니다." in response.content.decode()
    assert response.context["history"] is None


def test_unknown_account_is_404(admin_client, org):
    assert admin_client.get(url("nobody"), **HTMX).status_code == 404


def test_login_id_is_case_insensitive(admin_client, org):
    assert admin_client.get(url("MINJUN.KIM"), **HTMX).status_code == 200


# -- last access and history --------------------------------------------------


def test_no_access_at_all(admin_client, org, frozen):
    response = pane(admin_client)
    assert response.context["last_access"] is None
    body = response.content.decode()
    assert "최근 3개월 동안 접속 기록이 없습니다." in body


def test_last_access_shows_time_in_office_zone_type_country_and_ip(admin_client, org, frozen):
    # Stored in UTC, 15:30 on the 14th = 00:30 on the 15th in Seoul.
    at = dt.datetime(2025, 6, 14, 15, 30, 5, tzinfo=dt.UTC)
    record_access(org.kim, at, protocol="smtp", ip="211.234.10.20", country="KR")
    response = pane(admin_client)
    last = response.context["last_access"]
    assert last.at == at and last.protocol == "smtp"
    body = response.content.decode()
    assert "2025-06-15 00:30:05" in body
    assert "2025-06-14 15:30:05" not in body
    assert "대한민국" in body and "(KR)" in body
    assert "211.234.10.20" in body


def test_time_is_shown_in_the_offices_own_zone(admin_client, org, frozen):
    org.office.time_zone = "UTC"
    org.office.save()
    record_access(org.kim, dt.datetime(2025, 6, 14, 15, 30, 5, tzinfo=dt.UTC))
    body = pane(admin_client).content.decode()
    assert "2025-06-14 15:30:05" in body
    assert "2025-06-15 00:30:05" not in body


def test_access_exactly_three_calendar_months_ago_is_included(admin_client, org, frozen):
    record_access(org.kim, WINDOW_START)
    response = pane(admin_client)
    assert response.context["last_access"].at == WINDOW_START
    assert [row.at for row in response.context["history"].object_list] == [WINDOW_START]
    assert "2025-03-15 12:00:00" in response.content.decode()


def test_access_a_second_before_the_window_is_not(admin_client, org, frozen):
    record_access(org.kim, WINDOW_START - dt.timedelta(seconds=1))
    response = pane(admin_client)
    assert response.context["last_access"] is None
    assert list(response.context["history"].object_list) == []
    assert response.context["history"].paginator.count == 0
    assert "최근 3개월 동안 접속 기록이 없습니다." in response.content.decode()


def test_window_counts_calendar_months_in_the_office_zone(admin_client, org):
    # 31 May in Seoul minus 3 months is the end of February (no 31 Feb).
    with time_machine.travel(dt.datetime(2024, 5, 31, 9, 0, tzinfo=SEOUL), tick=False):
        start = dt.datetime(2024, 2, 29, 9, 0, tzinfo=SEOUL)
        record_access(org.kim, start)
        record_access(org.lee, start - dt.timedelta(seconds=1))
        assert pane(admin_client).context["last_access"].at == start
        assert pane(admin_client, "seoyeon.lee").context["last_access"] is None


def test_failed_attempt_newer_than_last_success_is_not_the_last_access(admin_client, org, frozen):
    success = NOW - dt.timedelta(days=2)
    failure = NOW - dt.timedelta(days=1)
    record_access(org.kim, success, ip="211.234.10.20", country="KR")
    record_access(org.kim, failure, ip="45.33.32.156", country="US", succeeded=False)
    response = pane(admin_client)
    assert response.context["last_access"].at == success
    rows = response.context["history"].object_list
    assert [(r.at, r.succeeded) for r in rows] == [(failure, False), (success, True)]
    body = response.content.decode()
    assert body.count('class="is-failed"') == 1
    assert "실패" in body


def test_only_failed_attempts_mean_no_last_access(admin_client, org, frozen):
    record_access(org.kim, NOW - dt.timedelta(days=1), succeeded=False)
    response = pane(admin_client)
    assert response.context["last_access"] is None
    assert len(response.context["history"].object_list) == 1


def test_ipv6_addresses(admin_client, org, frozen):
    record_access(org.kim, NOW - dt.timedelta(hours=1), ip="2001:4860:4860::8888", country="US")
    response = pane(admin_client)
    body = response.content.decode()
    assert response.context["last_access"].ip == "2001:4860:4860::8888"
    assert body.count("2001:4860:4860::8888") == 2  # last access and history
    assert "미국" in body and "(US)" in body


@pytest.mark.parametrize("country", ["", "ZZ"])
def test_unknown_country(admin_client, org, frozen, country):
    record_access(org.kim, NOW - dt.timedelta(hours=1), ip="10.0.0.8", country=country)
    body = pane(admin_client).content.decode()
    assert body.count("알 수 없음") == 2
    assert "10.0.0.8" in body


def test_history_is_newest_first_and_paged(admin_client, org, frozen):
    for hours in range(45):  # one row per hour
        record_access(org.kim, NOW - dt.timedelta(hours=hours + 1))
    first = pane(admin_client)
    history = first.context["history"]
    assert history.paginator.count == 45 and history.paginator.num_pages == 3
    ats = [row.at for row in history.object_list]
    assert ats == sorted(ats, reverse=True) and len(ats) == 20
    assert ats[0] == NOW - dt.timedelta(hours=1)
    assert "?access_page=2" in first.content.decode()

    third = pane(admin_client, access_page=3)
    assert [row.at for row in third.context["history"].object_list][-1] == NOW - dt.timedelta(
        hours=45
    )
    assert len(third.context["history"].object_list) == 5
    # Rubbish or out-of-range pages fall back to a real page instead of failing.
    assert pane(admin_client, access_page="x").context["history"].number == 1
    assert pane(admin_client, access_page=99).context["history"].number == 3


def test_history_shows_each_hours_folded_logins_with_their_count(admin_client, org, frozen):
    # A client polling every five minutes: four logins, one row.
    first = NOW - dt.timedelta(minutes=17)
    AccessLog.objects.create(
        office=org.office,
        account=org.kim,
        protocol="pop3",
        hour=fold_hour(first),
        ip="211.234.10.20",
        country="KR",
        succeeded=True,
        first_at=first,
        last_at=NOW - dt.timedelta(minutes=2),
        count=4,
    )
    response = pane(admin_client)
    history = response.context["history"]
    assert history.paginator.count == 1 and history.logins == 4
    body = response.content.decode()
    row = body[body.index('<table class="table table--compact history"') :]
    assert '<td class="num">4</td>' in row
    assert "접속 4회, 1행" in body


def test_history_is_the_accounts_own(admin_client, org, other, frozen):
    record_access(org.lee, NOW - dt.timedelta(hours=1))
    record_access(other.kim, NOW - dt.timedelta(hours=1))
    assert pane(admin_client).context["history"].paginator.count == 0


def _bulk_history(account: Account, rows: int) -> None:
    """``rows`` attempts spread over six months, most older than the window."""
    step = dt.timedelta(minutes=(183 * 24 * 60) // rows)
    AccessLog.objects.bulk_create(
        [
            AccessLog.login(
                office=account.office,
                account=account,
                protocol="pop3" if i % 3 else "smtp",
                at=NOW - step * (i + 1),
                ip=f"211.234.{i // 250 % 250}.{i % 250 + 1}",
                country="KR",
                succeeded=i % 7 != 0,
            )
            for i in range(rows)
        ],
        batch_size=2000,
    )
    Mailbox.objects.filter(account=account).update(
        last_access_at=NOW - step * 2,
        last_access_protocol="pop3",
        last_access_ip="211.234.0.2",
        last_access_country="KR",
    )


def _count_queries(client, path, **params) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(path, params, **HTMX).status_code == 200
    return len(queries)


def test_pane_makes_the_same_number_of_queries_with_0_or_10000_access_rows(
    admin_client, org, frozen, django_assert_num_queries
):
    empty = _count_queries(admin_client, url("seoyeon.lee"))
    assert empty <= 7
    _bulk_history(org.kim, 10_000)
    assert AccessLog.objects.filter(account=org.kim).count() == 10_000
    with django_assert_num_queries(empty):
        admin_client.get(url("minjun.kim"), **HTMX)
    with django_assert_num_queries(empty):
        admin_client.get(url("minjun.kim"), {"access_page": 3}, **HTMX)
    # The full page makes no more queries than the pane.
    with django_assert_num_queries(empty):
        response = admin_client.get(url("minjun.kim"))
    assert response.context["history"].paginator.count > 20  # the window holds some
    assert response.context["history"].paginator.count < 10_000  # but not the old rows


def test_history_queries_are_bounded_by_the_window(admin_client, org, frozen):
    _bulk_history(org.kim, 500)
    with CaptureQueriesContext(connection) as queries:
        pane(admin_client)
    access_queries = [q["sql"] for q in queries if "accounts_accesslog" in q["sql"]]
    assert len(access_queries) == 2  # the count and one page of rows
    for sql in access_queries:
        assert '"accounts_accesslog"."account_id" =' in sql
        assert '"accounts_accesslog"."hour" >=' in sql


# -- SPEC F2 answers ----------------------------------------------------------


def test_signed_out_visitor_is_sent_to_the_login(client, org):
    for response in (client.get(url("minjun.kim"), **HTMX), client.post(url("minjun.kim"))):
        assert response.status_code == 302
        assert response["Location"].startswith("/gabiaedu.com/login/?next=")


def test_ordinary_account_gets_403(user_client):
    assert user_client.get(url("minjun.kim"), **HTMX).status_code == 403
    assert user_client.post(url("minjun.kim")).status_code == 403


def test_admin_of_another_office_gets_404_whatever_the_method(other_admin_client, org):
    assert other_admin_client.get(url("minjun.kim"), **HTMX).status_code == 404
    assert other_admin_client.post(url("minjun.kim")).status_code == 404


def test_account_of_another_office_is_404(admin_client, org, other):
    other_only = other.kim
    other_only.login_id = "only.there"
    other_only.save()
    assert admin_client.get(url("only.there")).status_code == 404


def test_pane_is_read_only(admin_client, org):
    assert admin_client.post(url("minjun.kim")).status_code == 405


def test_pane_and_page_are_kept_apart_by_caches(admin_client, org):
    response = admin_client.get(url("minjun.kim"), **HTMX)
    assert "HX-Request" in response["Vary"]


def test_history_restore_gets_the_full_page(admin_client, org):
    response = admin_client.get(
        url("minjun.kim"), HTTP_HX_REQUEST="true", HTTP_HX_HISTORY_RESTORE_REQUEST="true"
    )
    assert "<html" in response.content.decode()


def test_english_on_request(admin_client, org, frozen):
    admin_client.cookies["mailadmin_language"] = "en"
    body = pane(admin_client).content.decode()
    assert "No access in the last 3 months." in body
    assert "Sub-account settings" in body


def test_sub_account_folders_cost_the_pane_no_extra_query(admin_client, org):
    plain = _count_queries(admin_client, url("minjun.kim"))
    subaccount_add(actor=None, owner=org.kim, local_part="sales")
    subaccount_add(actor=None, owner=org.kim, local_part="orders")
    assert _count_queries(admin_client, url("minjun.kim")) == plain


def test_a_mailbox_full_of_mail_costs_the_pane_what_an_almost_empty_one_does(admin_client, org):
    """The folder figures are the folders' counters: no query of the pane
    reads the messages, so 3,000 cost what 2 do."""
    message_deliver(folder=inbox_of(org.lee.mailbox), size_bytes=10)
    message_deliver(folder=inbox_of(org.lee.mailbox), size_bytes=20)
    bulk_deliver(org.kim, 3000, 1000)
    bulk_deliver(org.kim, 500, 10, folder=Folder.objects.get(mailbox=org.kim.mailbox, role="sent"))

    with CaptureQueriesContext(connection) as few:
        few_figures = {f.name: f for f in pane(admin_client, "seoyeon.lee").context["folders"]}
    with CaptureQueriesContext(connection) as many:
        many_figures = {f.name: f for f in pane(admin_client).context["folders"]}

    assert len(many) == len(few)
    assert not [q for q in many.captured_queries if "accounts_message" in q["sql"]]
    assert (few_figures["Inbox"].message_total, few_figures["Inbox"].size_total) == (2, 30)
    assert (many_figures["Inbox"].message_total, many_figures["Inbox"].size_total) == (
        3000,
        3_000_000,
    )
    assert (many_figures["Sent"].message_total, many_figures["Sent"].size_total) == (500, 5000)
