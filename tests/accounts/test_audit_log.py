"""The audit log (SPEC F8): newest first, filters, paging, and the .xlsx
download that is itself audited."""

from __future__ import annotations

import datetime as dt
import io
import zoneinfo

import openpyxl
import pytest
import time_machine

from accounts import audit
from accounts.models import AuditEvent
from accounts.services import account_update

pytestmark = pytest.mark.django_db

SEOUL = zoneinfo.ZoneInfo("Asia/Seoul")
LOG = "/gabiaedu.com/manage/audit/"
EXPORT = "/gabiaedu.com/manage/audit/export.xlsx"


def event_at(org, when, action=AuditEvent.Action.MAILBOX_EMPTY, *, actor=None, target=None, **data):
    with time_machine.travel(when, tick=False):
        return audit.record(
            office=org.office,
            action=action,
            actor=actor or org.admin,
            target=target or org.kim,
            data=data,
            ip="203.0.113.5",
        )


@pytest.fixture
def history(org, other):
    base = dt.datetime(2025, 6, 10, 9, 0, tzinfo=SEOUL)
    event_at(org, base, messages=12, bytes=5 * 1024 * 1024)
    event_at(org, base + dt.timedelta(days=1), AuditEvent.Action.SUBACCOUNT_ADD, local_part="sales")
    with time_machine.travel(base + dt.timedelta(days=2), tick=False):
        account_update(actor=org.admin, account=org.lee, status="suspended", ip="198.51.100.7")
    with time_machine.travel(base + dt.timedelta(days=3), tick=False):
        # A failed admin login: no actor account, the ID that was typed.
        audit.record(
            office=org.office,
            action=AuditEvent.Action.LOGIN_FAILED,
            actor_label="admin",
            target=org.admin,
            ip="203.0.113.66",
        )
    event_at(other, base, messages=1, bytes=1)  # another office: never shown
    return base


def test_newest_first_with_actor_action_target_details_ip_and_time(admin_client, org, history):
    response = admin_client.get(LOG)
    assert response.status_code == 200
    rows = list(response.context["page"].object_list)
    assert [e.action for e in rows] == [
        "login_failed",
        "account_update",
        "subaccount_add",
        "mailbox_empty",
    ]
    body = response.content.decode()
    assert "사용자 정보 변경" in body and "메일함 비우기" in body
    assert "관리자 (admin)" in body and "이서연 (seoyeon.lee)" in body
    assert "정상 → 일시정지" in body
    assert "5.0 MB" in body and "12" in body
    assert "198.51.100.7" in body
    assert "2025-06-12 09:00:00" in body  # office time, not UTC
    assert 'aria-current="page"' in body


def test_each_time_is_the_offices_wall_clock_with_its_offset(admin_client, org):
    """The visible time and the machine-readable one, both in the office's
    zone, from an event stored in UTC with microseconds."""
    event_at(org, dt.datetime(2026, 3, 1, 15, 4, 5, 123456, tzinfo=dt.UTC))
    event_at(org, dt.datetime(2026, 3, 1, 14, 59, 59, tzinfo=dt.UTC))
    body = admin_client.get(LOG).content.decode()
    assert '<time datetime="2026-03-02T00:04:05.123456+09:00">2026-03-02 00:04:05</time>' in body
    assert '<time datetime="2026-03-01T23:59:59+09:00">2026-03-01 23:59:59</time>' in body


def test_filter_by_action(admin_client, org, history):
    response = admin_client.get(LOG, {"action": "account_update"})
    assert [e.action for e in response.context["page"].object_list] == ["account_update"]


def test_filter_by_actor_and_target_text(admin_client, org, history):
    by_target = admin_client.get(LOG, {"target": "서연"}).context["page"].object_list
    assert [e.target_label for e in by_target] == ["seoyeon.lee"]
    by_id = admin_client.get(LOG, {"target": "MINJUN"}).context["page"].object_list
    assert len(by_id) == 2
    by_actor = admin_client.get(LOG, {"actor": "admin"}).context["page"].object_list
    assert len(by_actor) == 4  # the failed login matches by the typed ID
    by_name = admin_client.get(LOG, {"actor": "관리자"}).context["page"].object_list
    assert len(by_name) == 3  # ... but has no actor account with a name


def test_filter_by_date_range_in_office_days(admin_client, org, history):
    # 2025-06-11 in Seoul: exactly the sub-account event.
    response = admin_client.get(LOG, {"date_from": "2025-06-11", "date_to": "2025-06-11"})
    assert [e.action for e in response.context["page"].object_list] == ["subaccount_add"]
    response = admin_client.get(LOG, {"date_from": "2025-06-12"})
    assert len(response.context["page"].object_list) == 2


def test_bad_filters_get_a_clear_message(admin_client, org, history):
    response = admin_client.get(LOG, {"date_from": "2025-06-12", "date_to": "2025-06-01"})
    assert response.status_code == 400
    assert "시작일은 종료일보다 늦을 수 없습니다." in response.content.decode()
    assert admin_client.get(LOG, {"date_from": "yesterday"}).status_code == 400
    assert admin_client.get(LOG, {"action": "drop table"}).status_code == 400


def test_paged(admin_client, org):
    for i in range(55):
        event_at(org, dt.datetime(2025, 6, 1, tzinfo=SEOUL) + dt.timedelta(minutes=i), messages=i)
    first = admin_client.get(LOG)
    assert len(first.context["page"].object_list) == 50
    second = admin_client.get(LOG, {"page": 2})
    assert [e.data["messages"] for e in second.context["page"].object_list] == [4, 3, 2, 1, 0]


def test_query_count_does_not_grow_with_the_page(admin_client, org, django_assert_max_num_queries):
    for i in range(50):
        event_at(org, dt.datetime(2025, 6, 1, tzinfo=SEOUL) + dt.timedelta(minutes=i))
    with django_assert_max_num_queries(5):
        admin_client.get(LOG)


def test_download_is_the_filtered_log_and_is_itself_audited(admin_client, org, history):
    response = admin_client.get(EXPORT, {"action": "account_update"}, REMOTE_ADDR="192.0.2.44")
    assert response.status_code == 200
    assert response["Content-Type"].startswith(
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    assert "audit-log-gabiaedu.com-" in response["Content-Disposition"]
    workbook = openpyxl.load_workbook(io.BytesIO(b"".join(response.streaming_content)))
    rows = list(workbook.active.iter_rows(values_only=True))
    assert rows[0] == ("시각", "작업", "수행자", "대상", "내용", "IP")
    assert len(rows) == 2
    when, action, actor, target, details, ip = rows[1]
    assert when == dt.datetime(2025, 6, 12, 9, 0)  # naive, office time
    assert action == "사용자 정보 변경"
    assert actor == "관리자 (admin)" and target == "이서연 (seoyeon.lee)"
    assert details == "상태: 정상 → 일시정지"
    assert ip == "198.51.100.7"

    [export] = AuditEvent.objects.filter(action=AuditEvent.Action.AUDIT_EXPORT)
    assert export.actor == org.admin and export.office == org.office
    assert export.ip == "192.0.2.44"
    assert export.data == {"rows": 1, "filters": {"action": "account_update"}}


def test_download_neutralises_formulas(admin_client, org):
    org.kim.name = '=HYPERLINK("http://evil")'
    org.kim.save()
    event_at(org, dt.datetime(2025, 6, 1, tzinfo=SEOUL))
    response = admin_client.get(EXPORT)
    workbook = openpyxl.load_workbook(io.BytesIO(b"".join(response.streaming_content)))
    cell = workbook.active["D2"]
    assert cell.data_type == "s" and cell.value.startswith("=HYPERLINK")


def test_download_with_bad_filters_is_refused_and_not_audited(admin_client, org):
    response = admin_client.get(EXPORT, {"date_from": "not a date"})
    assert response.status_code == 400
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.AUDIT_EXPORT).exists()


def test_page_links_the_download_with_the_same_filters(admin_client, org, history):
    body = admin_client.get(LOG, {"action": "login_failed", "page": "1"}).content.decode()
    assert f'href="{EXPORT}?action=login_failed"' in body


# -- SPEC F2 answers ----------------------------------------------------------------


@pytest.mark.parametrize("path", [LOG, EXPORT])
def test_signed_out_visitor_is_sent_to_the_login(client, org, path):
    for response in (client.get(path), client.post(path)):
        assert response.status_code == 302
        assert response["Location"].startswith("/gabiaedu.com/login/?next=")


@pytest.mark.parametrize("path", [LOG, EXPORT])
def test_ordinary_account_gets_403(user_client, path):
    assert user_client.get(path).status_code == 403
    assert user_client.post(path).status_code == 403
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.AUDIT_EXPORT).exists()


@pytest.mark.parametrize("path", [LOG, EXPORT])
def test_admin_of_another_office_gets_404_whatever_the_method(other_admin_client, path):
    assert other_admin_client.get(path).status_code == 404
    assert other_admin_client.post(path).status_code == 404
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.AUDIT_EXPORT).exists()


@pytest.mark.parametrize("path", [LOG, EXPORT])
def test_read_only(admin_client, path):
    assert admin_client.post(path).status_code == 405
