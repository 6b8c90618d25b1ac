"""일괄 등록: template, safe reading, preview, confirmation, round trip."""

from __future__ import annotations

import io
import time
import zipfile

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from openpyxl import Workbook, load_workbook

from accounts.models import Account, Address, AuditEvent, Mailbox, MailListing, OfficeTally
from accounts.xlsx_reader import SpreadsheetError, read_sheet

pytestmark = pytest.mark.django_db

HEADER = ["이름", "아이디", "부서", "유형", "상태", "용량", "POP3", "SMTP"]
GB = 1024**3


def xlsx(rows, header=HEADER) -> bytes:
    book = Workbook()
    sheet = book.active
    sheet.append(header)
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def upload(client, org, content: bytes, name="users.xlsx"):
    return client.post(
        reverse("user_import", args=[org.office.domain]),
        {"file": SimpleUploadedFile(name, content)},
    )


def confirm(client, org, response):
    context = response.context
    return client.post(
        reverse("user_import_confirm", args=[org.office.domain]),
        {"token": context["token"], "digest": context["digest"]},
    )


def person(n, **over):
    row = {
        "name": f"사용자{n}",
        "id": f"user{n:05d}",
        "dept": "개발팀",
        "kind": "사용자",
        "status": "정상",
        "quota": "2 GB",
        "pop3": "사용",
        "smtp": "사용",
    }
    row.update(over)
    return list(row.values())


def test_template_has_korean_headers_dropdowns_example_and_notes(admin_client, org):
    response = admin_client.get(reverse("user_import_template", args=[org.office.domain]))
    assert response.status_code == 200
    book = load_workbook(io.BytesIO(response.content))
    sheet = book.worksheets[0]
    header = [cell.value for cell in sheet[1]]
    assert header[:8] == HEADER
    assert sheet["B2"].value == "gildong.hong"
    formulas = {dv.formula1 for dv in sheet.data_validations.dataValidation}
    assert '"사용자,그룹메일,공용메일"' in formulas
    assert '"정상,일시정지"' in formulas
    assert len(book.worksheets) == 2
    assert any("10,000" in str(c.value) for row in book.worksheets[1] for c in row)


def test_upload_previews_and_writes_nothing_until_confirmed(admin_client, org):
    content = xlsx([person(1), person(2, kind="그룹메일", pop3="사용 안 함")])
    response = upload(admin_client, org, content)
    assert response.status_code == 200
    assert response.context["counts"] == {"new": 2, "changed": 0, "unchanged": 0, "error": 0}
    assert not Account.objects.filter(login_id="user00001").exists()
    done = confirm(admin_client, org, response)
    assert done.status_code == 302
    created = Account.objects.get(office=org.office, login_id="user00001")
    assert created.department == "개발팀"
    assert created.mailbox.quota_bytes == 2 * GB
    group = Account.objects.get(office=org.office, login_id="user00002")
    assert group.kind == "group" and not group.mailbox.pop3_enabled
    assert Address.objects.filter(office=org.office, local_part="user00001").exists()
    assert created.mailbox.folders.filter(role="inbox").exists()
    assert AuditEvent.objects.filter(action="account_create").count() == 2
    summary = AuditEvent.objects.get(action="bulk_import")
    assert summary.data["created"] == 2


def test_errors_are_marked_per_cell_and_confirm_is_not_offered(admin_client, org):
    rows = [
        person(1),
        person(2, id="bad id"),  # whitespace
        person(3, id="user00001"),  # duplicate within the file
        person(4, id=org.kim.login_id.upper(), kind="그룹메일"),  # kind change
        person(5, quota="lots"),
        person(6, kind="공용메일", pop3="사용"),  # shared mail with POP3
        person(7, id="postmaster"),
    ]
    response = upload(admin_client, org, xlsx(rows))
    body = response.content.decode()
    preview = response.context["preview"]
    errors = {row.number: row.errors for row in preview.rows if row.errors}
    assert set(errors) == {3, 4, 5, 6, 7, 8}
    assert "login_id" in errors[3] and "login_id" in errors[4]
    assert "kind" in errors[5]
    assert "quota" in errors[6]
    assert "pop3" in errors[7]
    assert "login_id" in errors[8]
    assert 'id="import-confirm"' not in body
    assert 'id="import-has-errors"' in body
    assert not Account.objects.filter(login_id="user00001").exists()


def test_subaccount_address_is_refused(admin_client, org):
    from subaccounts.services import subaccount_add

    subaccount_add(actor=org.admin, owner=org.kim, local_part="kim.sales")
    response = upload(admin_client, org, xlsx([person(1, id="kim.sales")]))
    row = response.context["preview"].rows[0]
    assert "minjun.kim" in row.errors["login_id"]


def test_existing_accounts_change_only_what_differs(admin_client, org):
    rows = [
        ["김민준", org.kim.login_id, "개발1팀", "사용자", "일시정지", "", "사용", "사용 안 함"],
        ["이서연", org.lee.login_id, "영업1팀", "사용자", "정상", "1 GB", "사용", "사용"],
    ]
    response = upload(admin_client, org, xlsx(rows))
    counts = response.context["counts"]
    assert counts == {"new": 0, "changed": 1, "unchanged": 1, "error": 0}
    confirm(admin_client, org, response)
    org.kim.refresh_from_db()
    assert org.kim.status == "suspended"
    assert not Mailbox.objects.get(account=org.kim).smtp_enabled
    event = AuditEvent.objects.get(action="account_update", target=org.kim)
    assert event.data["status"] == {"before": "active", "after": "suspended"}


def test_suspension_by_file_reaches_the_mail_servers_after_the_commit(
    admin_client, org, settings, django_capture_on_commit_callbacks
):
    from tests.accounts.test_user_admin import RecordingMailStore

    settings.MAIL_STORE = "tests.accounts.test_user_admin.RecordingMailStore"
    RecordingMailStore.refreshed = []
    rows = [["김민준", org.kim.login_id, "개발1팀", "사용자", "일시정지", "", "사용", "사용"]]
    response = upload(admin_client, org, xlsx(rows))
    with django_capture_on_commit_callbacks() as callbacks:
        confirm(admin_client, org, response)
    # Flushed inside the import's transaction, a POP3 login in between
    # would have cached the still-active answer again.
    assert RecordingMailStore.refreshed == []
    for callback in callbacks:
        callback()
    assert RecordingMailStore.refreshed == [org.kim.login_id]


def test_admin_cannot_suspend_themselves_by_file(admin_client, org):
    rows = [["관리자", "admin", "", "사용자", "일시정지", "", "", ""]]
    response = upload(admin_client, org, xlsx(rows))
    assert "status" in response.context["preview"].rows[0].errors


def test_roster_download_round_trips(admin_client, org):
    roster = admin_client.get(reverse("mail_accounts_export", args=[org.office.domain]))
    content = b"".join(roster.streaming_content)
    response = upload(admin_client, org, content, name="roster.xlsx")
    counts = response.context["counts"]
    assert counts["changed"] == 0 and counts["new"] == 0 and counts["error"] == 0
    # Edit one name and one quota text; upload again.
    book = load_workbook(io.BytesIO(content))
    sheet = book.worksheets[0]
    header = [c.value for c in sheet[1]]
    for row in sheet.iter_rows(min_row=2):
        if row[header.index("아이디")].value == org.lee.login_id:
            row[header.index("이름")].value = "이서연2"
            row[header.index("용량")].value = "3 GB"
    out = io.BytesIO()
    book.save(out)
    response = upload(admin_client, org, out.getvalue(), name="roster.xlsx")
    counts = response.context["counts"]
    assert counts["changed"] == 1 and counts["error"] == 0, response.context["preview"].rows
    confirm(admin_client, org, response)
    org.lee.refresh_from_db()
    assert org.lee.name == "이서연2"
    assert Mailbox.objects.get(account=org.lee).quota_bytes == 3 * GB
    assert Mailbox.objects.get(account=org.kim).quota_bytes == 1 * GB


def test_confirm_checks_the_preview_again(admin_client, org):
    response = upload(admin_client, org, xlsx([person(1)]))
    Account.objects.create_account(office=org.office, login_id="user00001", name="먼저")
    again = confirm(admin_client, org, response)
    assert again.status_code == 200
    assert "import-notice" in again.content.decode()
    assert Account.objects.get(office=org.office, login_id="user00001").name == "먼저"


def test_other_office_and_ordinary_user_are_refused(client, org, other):
    client.force_login(other.admin)
    assert client.get(reverse("user_import", args=[org.office.domain])).status_code == 404
    client.force_login(org.kim)
    assert client.get(reverse("user_import", args=[org.office.domain])).status_code == 403


# -- Bad files -------------------------------------------------------------


def refused(client, org, content, name="users.xlsx") -> str:
    count = Account.objects.count()
    response = upload(client, org, content, name=name)
    assert response.status_code == 400
    assert Account.objects.count() == count
    errors = response.context["form"].errors["file"]
    assert errors
    return errors[0]


def test_renamed_csv_is_refused(admin_client, org):
    message = refused(admin_client, org, "이름,아이디\n홍길동,gildong\n".encode())
    assert "CSV" in message


def test_macro_workbook_is_refused(admin_client, org):
    content = xlsx([person(1)])
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(content)) as source, zipfile.ZipFile(out, "w") as target:
        for item in source.infolist():
            target.writestr(item, source.read(item))
        target.writestr("xl/vbaProject.bin", b"\0" * 100)
    assert "macro" in refused(admin_client, org, out.getvalue()).lower() or "매크로" in refused(
        admin_client, org, out.getvalue()
    )
    assert refused(admin_client, org, content, name="users.xlsm")


def test_old_xls_is_refused(admin_client, org):
    assert ".xls" in refused(admin_client, org, bytes.fromhex("d0cf11e0a1b11ae1") + b"\0" * 600)


def test_zip_bomb_is_refused(admin_client, org):
    content = xlsx([person(1)])
    out = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(content)) as source,
        zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target,
    ):
        for item in source.infolist():
            data = source.read(item)
            if item.filename == "xl/worksheets/sheet1.xml":
                # Padding that inflates to 200 MB inside the sheet's XML.
                data = data.replace(b"<sheetData>", b"<sheetData>" + b" " * (200 * 1024 * 1024))
            target.writestr(item.filename, data)
    assert len(out.getvalue()) < 2 * 1024 * 1024
    started = time.monotonic()
    assert "zip" in refused(admin_client, org, out.getvalue()).lower()
    assert time.monotonic() - started < 10


def test_lying_zip_directory_is_still_capped(monkeypatch):
    import accounts.xlsx_reader as reader

    monkeypatch.setattr(reader, "MAX_PART_BYTES", 50_000)
    content = xlsx([person(n) for n in range(2000)])
    with pytest.raises(SpreadsheetError):
        read_sheet(io.BytesIO(content), filename="x.xlsx")


def test_too_many_rows_is_refused(admin_client, org):
    book = Workbook(write_only=True)
    sheet = book.create_sheet()
    sheet.append(HEADER)
    for n in range(11_000):
        sheet.append(person(n))
    out = io.BytesIO()
    book.save(out)
    assert "10,000" in refused(admin_client, org, out.getvalue())


def test_formula_is_refused(admin_client, org):
    content = xlsx([person(1, name='=HYPERLINK("http://x","a")')])
    # openpyxl stores a string starting with "=" as a formula.
    message = refused(admin_client, org, content)
    assert "A2" in message


def test_entity_expansion_is_refused(admin_client, org):
    content = xlsx([person(1)])
    out = io.BytesIO()
    bomb = (
        b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
        b'<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>'
    )
    with zipfile.ZipFile(io.BytesIO(content)) as source, zipfile.ZipFile(out, "w") as target:
        for item in source.infolist():
            data = source.read(item)
            if item.filename == "xl/sharedStrings.xml" or item.filename == "xl/workbook.xml":
                if data.startswith(b"<?xml"):
                    data = data.split(b"?>", 1)[1]
                data = bomb + data
            target.writestr(item, data)
    assert "XML" in refused(admin_client, org, out.getvalue())


def test_too_large_file_is_refused(admin_client, org):
    content = b"PK\x03\x04" + b"\0" * (10 * 1024 * 1024 + 10)
    assert "10 MB" in refused(admin_client, org, content)


# -- Scale -----------------------------------------------------------------


def test_ten_thousand_rows_in_one_transaction(admin_client, org, capsys):
    book = Workbook(write_only=True)
    sheet = book.create_sheet()
    sheet.append(HEADER)
    for n in range(10_000):
        sheet.append(person(n))
    out = io.BytesIO()
    book.save(out)
    started = time.monotonic()
    response = upload(admin_client, org, out.getvalue())
    previewed = time.monotonic()
    assert response.context["counts"]["new"] == 10_000
    done = confirm(admin_client, org, response)
    finished = time.monotonic()
    assert done.status_code == 302
    assert Account.objects.filter(office=org.office, login_id__startswith="user").count() == 10_000
    assert AuditEvent.objects.filter(action="account_create").count() == 10_000
    with capsys.disabled():
        print(
            f"\n10,000-row bulk registration: preview {previewed - started:.1f} s, "
            f"apply {finished - previewed:.1f} s"
        )
    assert finished - started < 120


def test_import_leaves_one_kept_count_per_kind(admin_client, org):
    """Every new mailbox lists its account in a statement of its own; on
    PostgreSQL each would leave a row of the list's kept count for every
    page to sum until the nightly fold. The import folds them itself."""
    content = xlsx([person(n) for n in range(1, 13)])
    assert confirm(admin_client, org, upload(admin_client, org, content)).status_code == 302
    rows = OfficeTally.objects.filter(office=org.office)
    assert rows.filter(kind="listing").count() == 1
    assert rows.get(kind="listing").n == MailListing.objects.filter(office=org.office).count()
    assert rows.filter(kind="users").count() == 1
    assert (
        rows.get(kind="users").n
        == Account.objects.filter(office=org.office, deleted_at__isnull=True).count()
    )
