"""④ 목록 다운로드: the roster file (F3, N3, N4, R8)."""

from __future__ import annotations

import datetime as dt
import io

import openpyxl
import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts import exports
from accounts.models import AuditEvent, Mailbox
from tests.accounts.usage_data import add_subaccount, set_usage
from tests.factories import MB, make_account

pytestmark = pytest.mark.django_db

LIST_URL = "/gabiaedu.com/manage/mail/accounts/"
URL = "/gabiaedu.com/manage/mail/accounts/export.xlsx"
INJECTIONS = ['=HYPERLINK("http://x","y")', "+1", "-2", "@SUM(A1)", "tab\tand\x07bell"]


@pytest.fixture
def people(org):
    now = timezone.now()
    add_subaccount(org.kim, "kim-sales")
    add_subaccount(org.kim, "kim-support")
    set_usage(
        org.kim, 300 * MB, last_access_at=now - dt.timedelta(days=1), last_access_protocol="pop3"
    )
    set_usage(org.lee, 900 * MB, last_access_at=now - dt.timedelta(days=120))
    set_usage(org.shared, 2048 * MB, quota_bytes=None)
    for n in range(30):
        make_account(org.office, f"user{n:02d}", f"사용자{n:02d}", password=None)
        set_usage(org.office.accounts.get(login_id=f"user{n:02d}"), (n % 7) * MB)
    return org


def workbook(response):
    assert response.status_code == 200
    content = b"".join(response.streaming_content)
    return openpyxl.load_workbook(io.BytesIO(content))


def list_ids(client, params) -> list[str]:
    """Every ID the list selects for these parameters, over all its pages."""
    found, page = [], 1
    while True:
        response = client.get(LIST_URL, {**params, "page": page, "per_page": 20})
        found += [a.login_id for a in response.context["rows"]]
        if not response.context["page_obj"].has_next():
            return found
        page += 1


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"sort": "-usage"},
        {"sort": "share"},
        {"sort": "-last_access"},
        {"sort": "-name"},
        {"q": "사용자1"},
        {"q": "kim-s"},
        {"status": "suspended"},
        {"subaccounts": "used"},
        {"access": "flagged"},
        {"subaccounts": "unused", "status": "active", "sort": "login_id"},
        {"q": "없음"},
        {"sort": "nonsense", "status": "bogus"},
    ],
)
def test_export_has_exactly_the_lists_rows_in_its_order(admin_client, people, params):
    sheet = workbook(admin_client.get(URL, params)).active
    exported = [row[1] for row in sheet.iter_rows(min_row=2, values_only=True)]
    assert exported == list_ids(admin_client, params)


def test_export_ignores_the_page_and_contains_every_page(admin_client, people):
    sheet = workbook(admin_client.get(URL, {"page": 2, "per_page": 20})).active
    assert sheet.max_row - 1 == 36  # 6 mail users of conftest + 30


def test_header_and_cells(admin_client, people):
    sheet = workbook(admin_client.get(URL, {"q": "minjun"})).active
    header = [cell.value for cell in sheet[1]]
    assert header == [
        "이름",
        "아이디",
        "이메일",
        "부계정",
        "유형",
        "사용량(바이트)",
        "사용량",
        "용량(바이트)",
        "용량",
        "사용률",
        "POP3",
        "SMTP",
        "상태",
        "마지막 접속",
        "마지막 접속 유형",
        "주의할 접속",
        "주의할 접속 시각",
    ]
    row = [cell for cell in sheet[2]]
    values = [cell.value for cell in row]
    assert values[:5] == [
        "김민준",
        "minjun.kim",
        "minjun.kim@gabiaedu.com",
        "kim-sales@gabiaedu.com, kim-support@gabiaedu.com",
        "사용자",
    ]
    assert values[5] == 300 * MB and row[5].data_type == "n"  # bytes, a number
    assert values[6] == "300 MB"
    assert values[7] == 1024 * MB and values[8] == "1.0 GB"
    assert values[9] == pytest.approx(0.293, abs=0.001) and row[9].number_format == "0.00%"
    assert values[10:13] == ["사용", "사용", "정상"]
    last = values[13]
    assert isinstance(last, dt.datetime) and last.tzinfo is None  # a real date
    assert row[13].is_date
    assert values[14] == "POP3"


def test_dates_are_naive_office_local_time(admin_client, people):
    moment = timezone.now().replace(hour=23, minute=30, second=0, microsecond=0, tzinfo=dt.UTC)
    moment -= dt.timedelta(days=2)
    Mailbox.objects.filter(account=people.kim).update(last_access_at=moment)
    sheet = workbook(admin_client.get(URL, {"q": "minjun"})).active
    assert sheet.cell(row=2, column=14).value == (moment + dt.timedelta(hours=9)).replace(
        tzinfo=None
    )


def test_old_access_and_unlimited_quota(admin_client, people):
    sheet = workbook(admin_client.get(URL, {"q": "이서연"})).active
    assert sheet.cell(row=2, column=14).value is None  # 120 days ago: outside the window
    sheet = workbook(admin_client.get(URL, {"q": "고객센터"})).active
    values = [cell.value for cell in sheet[2]]
    assert values[7] is None and values[8] == "무제한" and values[9] is None
    assert values[4] == "공용메일"


def test_user_strings_are_never_formulas(admin_client, org):
    for n, text in enumerate(INJECTIONS):
        make_account(org.office, f"inject{n}", text, password=None)
    sheet = workbook(admin_client.get(URL, {"q": "inject", "sort": "login_id"})).active
    rows = list(sheet.iter_rows(min_row=2))
    assert len(rows) == len(INJECTIONS)
    for row, text in zip(rows, INJECTIONS, strict=True):
        name = row[0]
        assert name.data_type == "s", (text, name.data_type)
        assert name.value == text.replace("\x07", "")  # control character dropped
    # Nothing in the file is a formula.
    for row in sheet.iter_rows():
        for cell in row:
            assert cell.data_type != "f"


def test_file_name_carries_domain_and_date(admin_client, people):
    with time_machine.travel(dt.datetime(2025, 3, 31, 16, 0, tzinfo=dt.UTC)):  # Apr 1 in Seoul
        response = admin_client.get(URL)
    assert response["Content-Type"].startswith(
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    assert (
        response["Content-Disposition"]
        == 'attachment; filename="mail-usage_gabiaedu.com_2025-04-01.xlsx"'
    )


def test_each_download_writes_an_audit_event(admin_client, people):
    response = admin_client.get(
        URL, {"status": "active", "q": "사용자", "page": 3}, REMOTE_ADDR="10.1.2.3"
    )
    workbook(response)
    event = AuditEvent.objects.get(action=AuditEvent.Action.ROSTER_EXPORT)
    assert event.office == people.office
    assert event.actor == people.admin
    assert event.ip == "10.1.2.3"
    assert event.data["filters"] == {"status": "active", "q": "사용자"}
    assert event.data["rows"] == 30
    assert event.data["filename"].startswith("mail-usage_gabiaedu.com_")


def test_bad_parameters_still_export(admin_client, people):
    response = admin_client.get(URL, {"status": "nope", "sort": "password", "q": "a\x00"})
    assert response.status_code == 200
    event = AuditEvent.objects.get(action=AuditEvent.Action.ROSTER_EXPORT)
    assert event.data["filters"] == {}


def test_export_queries_grow_with_chunks_not_rows(people, monkeypatch):
    monkeypatch.setattr(exports, "CHUNK_SIZE", 10)
    with CaptureQueriesContext(connection) as captured:
        exports.roster_write(io.BytesIO(), office=people.office, params={})
    # office-independent: 1 SELECT of rows (+ cursor fetches) and one
    # sub-account query per chunk of 10: 36 rows -> 4 chunks.
    selects = [q for q in captured if "accounts_address" in q["sql"]]
    assert len(selects) == 4


def test_export_of_the_other_office_is_404(other_admin_client):
    assert other_admin_client.get(URL).status_code == 404
    assert other_admin_client.post(URL).status_code == 404
    assert not AuditEvent.objects.filter(action=AuditEvent.Action.ROSTER_EXPORT).exists()


def test_export_for_an_ordinary_account_is_403(user_client):
    assert user_client.get(URL).status_code == 403


def test_export_signed_out_goes_to_login(client, org):
    response = client.get(URL)
    assert response.status_code == 302
    assert response["Location"].startswith("/gabiaedu.com/login/")


def test_export_is_get_only(admin_client, org):
    assert admin_client.post(URL).status_code == 405
