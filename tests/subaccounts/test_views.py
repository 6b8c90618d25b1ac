"""The 부계정 설정 dialog through HTTP: the GET shows each rule, the POST
enforces it, errors stay inside the dialog, nothing ever answers 500."""

from __future__ import annotations

import json

import pytest

from accounts.models import AuditEvent, Folder, Message
from accounts.services import message_deliver
from subaccounts.models import SubAccount
from subaccounts.services import subaccount_add
from tests.subaccounts.helpers import (
    HTML_FRAGMENT,
    ID_64,
    INVALID_IDS,
    SQL_FRAGMENT,
    assert_consistent,
    inbox,
)

pytestmark = pytest.mark.django_db

URL = "/gabiaedu.com/manage/mail/accounts/{}/subaccounts/"
DELETE_URL = "/gabiaedu.com/manage/mail/accounts/{}/subaccounts/{}/delete/"
HTMX = {"HTTP_HX_REQUEST": "true", "HTTP_HX_TARGET": "modal-body"}


def add(org, owner, local_part):
    return subaccount_add(actor=org.admin, owner=owner, local_part=local_part)


def text(response) -> str:
    return response.content.decode()


# --- GET: the dialog shows the state and the rules --------------------------


def test_dialog_page_without_htmx_is_a_full_page(admin_client, org):
    add(org, org.kim, "kim.work")
    response = admin_client.get(URL.format("minjun.kim"))
    body = text(response)
    assert response.status_code == 200
    assert body.startswith("<!doctype html>")
    assert "부계정 설정" in body
    assert "minjun.kim@gabiaedu.com" in body
    assert "kim.work@gabiaedu.com" in body
    assert 'aria-label="kim.work@gabiaedu.com 삭제"' in body
    assert "@gabiaedu.com</span>" in body
    assert "1 / 5" in body
    assert "4개 더 추가할 수 있습니다(최대 5개)" in body
    assert "hx-post" not in body  # plain forms: POST, redirect, GET
    # the seed's notes as help text
    assert "부계정은 주계정에 할당된 메일 용량을 공유합니다." in body
    assert "무제한 상품으로 플랜 변경" in body
    assert "그룹메일, 공용메일은 부계정을 추가할 수 없습니다." in body
    assert "부계정은 다른 계정과 중복된 아이디를 사용할 수 없습니다." in body


def test_dialog_for_htmx_is_the_body_only(admin_client, org):
    response = admin_client.get(URL.format("minjun.kim"), **HTMX)
    body = text(response)
    assert response.status_code == 200
    assert "<html" not in body
    assert 'id="modal-title"' in body
    assert 'hx-post="/gabiaedu.com/manage/mail/accounts/minjun.kim/subaccounts/"' in body
    assert 'hx-target="#modal-body"' in body
    assert "data-modal-close" in body
    assert " autofocus" in body


def test_dialog_accepts_the_id_in_any_case(admin_client, org):
    assert admin_client.get(URL.format("MinJun.Kim")).status_code == 200


@pytest.mark.parametrize("who", ["group", "shared"])
def test_group_and_shared_mail_dialog_disables_add_with_the_reason(admin_client, org, who):
    body = text(admin_client.get(URL.format(getattr(org, who).login_id), **HTMX))
    assert "그룹메일, 공용메일은 부계정을 추가할 수 없습니다." in body
    assert 'id="subdlg-reason"' in body
    assert _add_controls_disabled(body)


def test_account_without_mail_dialog_disables_add_with_the_reason(admin_client, org):
    body = text(admin_client.get(URL.format("nomail"), **HTMX))
    assert "부계정은 메일 주소를 사용하는 주계정만 추가할 수 있습니다." in body
    assert _add_controls_disabled(body)


def test_dialog_at_five_disables_add_and_says_why(admin_client, org):
    for n in range(1, 6):
        add(org, org.kim, f"kim{n}")
    body = text(admin_client.get(URL.format("minjun.kim"), **HTMX))
    assert "5 / 5" in body
    assert "0개 더 추가할 수 있습니다" not in body  # the reason says it instead
    assert "부계정이 최대 개수인 5개 있습니다" in body
    assert _add_controls_disabled(body)


def _add_controls_disabled(body: str) -> bool:
    return (
        'name="local_part"' in body
        and body.count(" disabled") == 2
        and 'type="submit" class="btn btn--primary" disabled' in body
    )


def test_dialog_shows_no_other_offices_accounts(admin_client, org, other):
    assert admin_client.get(URL.format("unknown.person")).status_code == 404
    other_only = other.kim.__class__.objects.create_account(
        office=other.office, login_id="only.there", name="x"
    )
    assert admin_client.get(URL.format(other_only.login_id)).status_code == 404


# --- POST add ----------------------------------------------------------------


def test_add_with_htmx_refreshes_the_dialog_and_triggers_the_list(admin_client, org):
    response = admin_client.post(URL.format("minjun.kim"), {"local_part": "Kim.Work"}, **HTMX)
    body = text(response)
    assert response.status_code == 200
    trigger = json.loads(response["HX-Trigger"])
    assert trigger == {"subaccountsChanged": {"login_id": "minjun.kim"}}
    assert "부계정 kim.work@gabiaedu.com 을(를) 추가했습니다." in body
    assert 'aria-label="kim.work@gabiaedu.com 삭제"' in body
    assert "1 / 5" in body
    assert 'value=""' in body  # the field is cleared for the next one
    sub = SubAccount.objects.get()
    assert (sub.owner, sub.local_part) == (org.kim, "kim.work")
    event = AuditEvent.objects.get(action=AuditEvent.Action.SUBACCOUNT_ADD)
    assert event.ip == "127.0.0.1"


def test_add_without_htmx_redirects_back_with_a_message(admin_client, org):
    response = admin_client.post(URL.format("minjun.kim"), {"local_part": "kim.work"})
    assert response.status_code == 302
    assert response["Location"] == URL.format("minjun.kim")
    page = text(admin_client.get(response["Location"]))
    assert "부계정 kim.work@gabiaedu.com 을(를) 추가했습니다." in page
    assert SubAccount.objects.count() == 1


@pytest.mark.parametrize("value", ["a", ID_64, "A.B-C_9"])
def test_valid_ids_are_added_through_the_view(admin_client, org, value):
    response = admin_client.post(URL.format("minjun.kim"), {"local_part": value}, **HTMX)
    assert response.status_code == 200
    assert "HX-Trigger" in response
    assert SubAccount.objects.get().local_part == value.lower()


@pytest.mark.parametrize(("value", "code"), INVALID_IDS)
def test_invalid_ids_are_refused_inside_the_dialog(admin_client, org, value, code):
    response = admin_client.post(URL.format("minjun.kim"), {"local_part": value}, **HTMX)
    body = text(response)
    assert response.status_code == 200  # htmx swaps it into the open dialog
    assert "HX-Trigger" not in response
    assert 'aria-invalid="true"' in body
    assert 'id="subdlg-error" class="subdlg__error" role="alert"' in body
    assert "<script>" not in body
    assert not SubAccount.objects.exists()


@pytest.mark.parametrize(("value", "code"), INVALID_IDS)
def test_invalid_ids_without_htmx_answer_422_with_the_message(admin_client, org, value, code):
    response = admin_client.post(URL.format("minjun.kim"), {"local_part": value})
    assert response.status_code == 422
    assert 'role="alert"' in text(response)
    assert not SubAccount.objects.exists()


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("", "부계정 아이디를 입력하세요."),
        ("a" * 65, "아이디는 최대 64자까지 입력할 수 있습니다(입력한 아이디: 65자)."),
        ("-x", "아이디는 영문자나 숫자로 시작하고 끝나야 합니다."),
        ("x-", "아이디는 영문자나 숫자로 시작하고 끝나야 합니다."),
        ("a..b", "아이디에 마침표(.)를 두 개 연속으로 쓸 수 없습니다."),
        ("한글", "아이디에는 영문자, 숫자, 마침표(.), 하이픈(-), 밑줄(_)만 사용할 수 있습니다."),
        ("a b", "아이디에는 공백이나 줄바꿈을 넣을 수 없습니다."),
        ("abc\n", "아이디에는 공백이나 줄바꿈을 넣을 수 없습니다."),
        ("a@b", "아이디에는 영문자, 숫자"),
        ("a+b", "아이디에는 영문자, 숫자"),
        ("postmaster", "“postmaster” 은(는) 메일 시스템용 예약 아이디라 사용할 수 없습니다."),
    ],
)
def test_each_refusal_says_what_is_wrong(admin_client, org, value, message):
    body = text(admin_client.post(URL.format("minjun.kim"), {"local_part": value}, **HTMX))
    assert message in body


def test_input_is_shown_back_escaped(admin_client, org):
    for value in (HTML_FRAGMENT, '"><img src=x onerror=alert(1)>', SQL_FRAGMENT):
        body = text(admin_client.post(URL.format("minjun.kim"), {"local_part": value}, **HTMX))
        assert "<script>alert" not in body
        assert "<img src=x" not in body
    assert 'value="&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;"' in text(
        admin_client.post(URL.format("minjun.kim"), {"local_part": HTML_FRAGMENT}, **HTMX)
    )
    assert SubAccount.objects.count() == 0
    assert org.kim.__class__.objects.filter(office=org.office).count() == 7


def test_a_null_character_is_refused_not_a_500(admin_client, org):
    response = admin_client.post(URL.format("minjun.kim"), {"local_part": "a\x00b"})
    assert response.status_code == 422
    assert not SubAccount.objects.exists()


def test_a_missing_field_is_refused(admin_client, org):
    response = admin_client.post(URL.format("minjun.kim"), {}, **HTMX)
    assert "부계정 아이디를 입력하세요." in text(response)
    assert not SubAccount.objects.exists()


@pytest.mark.parametrize(
    "value",
    ["seoyeon.lee", "SEOYEON.LEE", "nomail", "team-sales", "help", "kim.work", "KIM.Work"],
)
def test_ids_already_in_use_are_refused_with_409(admin_client, org, value):
    add(org, org.lee, "kim.work")  # an existing sub-account, tried in another case
    response = admin_client.post(URL.format("minjun.kim"), {"local_part": value})
    assert response.status_code == 409
    assert f"{value.lower()}@gabiaedu.com 주소는 이 오피스의 다른 계정이나 부계정이" in text(
        response
    )
    assert not SubAccount.objects.filter(owner=org.kim).exists()
    htmx = admin_client.post(URL.format("minjun.kim"), {"local_part": value}, **HTMX)
    assert htmx.status_code == 200
    assert "이미 사용하고 있습니다" in text(htmx)


def test_sixth_subaccount_is_refused_through_the_view(admin_client, org):
    for n in range(1, 6):
        response = admin_client.post(URL.format("minjun.kim"), {"local_part": f"k{n}"}, **HTMX)
        assert response.status_code == 200 and "HX-Trigger" in response
    assert _add_controls_disabled(text(response))
    response = admin_client.post(URL.format("minjun.kim"), {"local_part": "k6"})
    assert response.status_code == 409
    assert "부계정이 최대 개수인 5개 있습니다" in text(response)
    assert SubAccount.objects.filter(owner=org.kim).count() == 5


@pytest.mark.parametrize("who", ["group", "shared", "nomail"])
def test_accounts_that_cannot_have_subaccounts_are_refused(admin_client, org, who):
    login_id = getattr(org, who).login_id
    response = admin_client.post(URL.format(login_id), {"local_part": "extra"})
    assert response.status_code == 409
    assert not SubAccount.objects.exists()


def test_a_clash_with_an_inbox_folder_is_refused_in_the_dialog(admin_client, org):
    Folder.objects.create(
        office=org.office, mailbox=org.kim.mailbox, parent=inbox(org.kim), name="Projects"
    )
    response = admin_client.post(URL.format("minjun.kim"), {"local_part": "projects"}, **HTMX)
    assert "받은메일함에 이미 “projects” 메일함이 있습니다." in text(response)
    assert not SubAccount.objects.exists()


# --- delete --------------------------------------------------------------------


@pytest.fixture
def kim_work(org):
    sub = add(org, org.kim, "kim.work")
    for size in (1000, 2000, 3000):
        message_deliver(folder=sub.folder, size_bytes=size)
    return sub


def test_delete_confirmation_says_how_many_messages_will_move(admin_client, org, kim_work):
    response = admin_client.get(DELETE_URL.format("minjun.kim", "kim.work"), **HTMX)
    body = text(response)
    assert response.status_code == 200
    assert "<html" not in body
    assert "부계정 메일함의 메일 3통이 받은메일함으로 이동합니다." in body
    assert "<strong>kim.work@gabiaedu.com</strong>" in body
    assert (
        'hx-post="/gabiaedu.com/manage/mail/accounts/minjun.kim/subaccounts/kim.work/delete/"'
        in body
    )
    assert SubAccount.objects.count() == 1  # GET changes nothing


def test_delete_confirmation_without_htmx_is_a_page(admin_client, org, kim_work):
    response = admin_client.get(DELETE_URL.format("minjun.kim", "KIM.WORK"))
    assert response.status_code == 200
    assert text(response).startswith("<!doctype html>")
    assert "메일 3통" in text(response)


def test_delete_with_htmx_moves_mail_and_refreshes_the_dialog(admin_client, org, kim_work):
    response = admin_client.post(DELETE_URL.format("minjun.kim", "kim.work"), **HTMX)
    body = text(response)
    assert response.status_code == 200
    assert json.loads(response["HX-Trigger"]) == {"subaccountsChanged": {"login_id": "minjun.kim"}}
    assert "메일 3통을 받은메일함으로 옮겼습니다." in body
    assert "kim.work@gabiaedu.com 삭제" not in body
    assert "0 / 5" in body
    assert Message.objects.filter(folder=inbox(org.kim)).count() == 3
    org.kim.mailbox.refresh_from_db()
    assert (org.kim.mailbox.used_bytes, org.kim.mailbox.message_count) == (6000, 3)
    assert_consistent(org.office)
    # the address is free again
    again = admin_client.post(URL.format("minjun.kim"), {"local_part": "kim.work"}, **HTMX)
    assert "HX-Trigger" in again
    assert SubAccount.objects.get().local_part == "kim.work"


def test_delete_without_htmx_redirects_back_with_a_message(admin_client, org, kim_work):
    response = admin_client.post(DELETE_URL.format("minjun.kim", "kim.work"))
    assert response.status_code == 302
    assert response["Location"] == URL.format("minjun.kim")
    assert "메일 3통을 받은메일함으로 옮겼습니다." in text(admin_client.get(response["Location"]))
    assert not SubAccount.objects.exists()


def test_deleting_twice_is_answered_inside_the_dialog(admin_client, org, kim_work):
    admin_client.post(DELETE_URL.format("minjun.kim", "kim.work"), **HTMX)
    again = admin_client.post(DELETE_URL.format("minjun.kim", "kim.work"), **HTMX)
    assert again.status_code == 200
    assert "HX-Trigger" not in again
    assert "이 계정의 부계정이 아닙니다" in text(again)
    plain = admin_client.post(DELETE_URL.format("minjun.kim", "kim.work"))
    assert plain.status_code == 409
    assert admin_client.get(DELETE_URL.format("minjun.kim", "kim.work")).status_code == 404


def test_another_owners_subaccount_cannot_be_deleted_through_the_wrong_owner(
    admin_client, org, kim_work
):
    response = admin_client.post(DELETE_URL.format("seoyeon.lee", "kim.work"))
    assert response.status_code == 409
    assert SubAccount.objects.count() == 1


@pytest.mark.parametrize("local_part", [HTML_FRAGMENT.replace("/", ""), "a..b", "한글"])
def test_delete_of_strange_ids_is_a_clean_refusal(admin_client, org, local_part):
    response = admin_client.post(DELETE_URL.format("minjun.kim", local_part), **HTMX)
    assert response.status_code == 200
    assert "<script>" not in text(response)


# --- who may ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "url", [URL.format("minjun.kim"), DELETE_URL.format("minjun.kim", "kim.work")]
)
def test_answers_of_spec_f2(client, org, other, kim_work, url):
    signed_out = client.get(url)
    assert signed_out.status_code == 302
    assert signed_out["Location"].startswith("/gabiaedu.com/login/")
    client.force_login(other.admin)
    assert client.get(url).status_code == 404
    assert client.post(url, {"local_part": "x"}).status_code == 404
    assert client.put(url).status_code == 404
    client.force_login(org.kim)
    assert client.get(url).status_code == 403
    assert client.post(url, {"local_part": "x"}).status_code == 403
    assert SubAccount.objects.count() == 1


def test_other_methods_are_not_allowed(admin_client, org):
    assert admin_client.put(URL.format("minjun.kim")).status_code == 405
    assert admin_client.delete(DELETE_URL.format("minjun.kim", "x")).status_code == 405


def test_post_needs_the_csrf_token(client, org):
    from django.test import Client

    csrf_client = Client(enforce_csrf_checks=True)
    csrf_client.force_login(org.admin)
    response = csrf_client.post(URL.format("minjun.kim"), {"local_part": "kim.work"})
    assert response.status_code == 403
    assert not SubAccount.objects.exists()


def test_dialog_uses_a_constant_number_of_queries(admin_client, org, django_assert_max_num_queries):
    for n in range(1, 5):
        add(org, org.kim, f"kim{n}")
    with django_assert_max_num_queries(7):
        admin_client.get(URL.format("minjun.kim"), **HTMX)


def test_dialog_in_english_when_chosen(admin_client, org):
    admin_client.cookies["mailadmin_language"] = "en"
    admin_client.post(URL.format("minjun.kim"), {"local_part": "k1"})
    body = text(admin_client.get(URL.format("minjun.kim")))
    assert "Sub-account settings" in body
    assert "4 more can be added (at most 5)." in body
    refused = admin_client.post(URL.format("minjun.kim"), {"local_part": "a" * 70}, **HTMX)
    assert "at most 64 characters (this one has 70)" in text(refused)
    confirm = admin_client.get(DELETE_URL.format("minjun.kim", "k1"), **HTMX)
    assert "Its folder holds no mail." in text(confirm)


def test_dialog_body_and_page_are_kept_apart_by_caches(admin_client, org):
    add(org, org.kim, "kim.work")
    for path in (URL.format("minjun.kim"), URL.format("minjun.kim") + "kim.work/delete/"):
        for extra in ({}, HTMX):
            assert "HX-Request" in admin_client.get(path, **extra)["Vary"], (path, extra)


def test_history_restore_of_the_dialog_gets_the_full_page(admin_client, org):
    add(org, org.kim, "kim.work")
    restore = {**HTMX, "HTTP_HX_HISTORY_RESTORE_REQUEST": "true"}
    for path in (URL.format("minjun.kim"), URL.format("minjun.kim") + "kim.work/delete/"):
        response = admin_client.get(path, **restore)
        assert text(response).startswith("<!doctype html>"), path
