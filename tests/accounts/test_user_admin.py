"""사용자 관리 beyond the settings form: the view-only admin role and role
changes, adding a user, passwords and the mail-only password, quotas and the
office's default quota -- each through its service and through the page."""

from __future__ import annotations

import shutil
import subprocess

import pytest
from django.contrib.auth.hashers import Argon2PasswordHasher, PBKDF2PasswordHasher, make_password
from django.test import Client

from accounts import account_services as svc
from accounts.models import Account, AuditEvent, Folder, Mailbox
from accounts.services import DomainError, inbox_of, message_deliver
from tests.factories import MB, PASSWORD, make_account

pytestmark = pytest.mark.django_db

DOMAIN = "gabiaedu.com"
USERS = f"/{DOMAIN}/manage/users/"
ADD = f"{USERS}_add/"
SETTINGS = f"/{DOMAIN}/manage/settings/"
GB = 1024 * MB
NEW_PASSWORD = "a fresh long passphrase 42"


def page(login_id: str) -> str:
    return f"{USERS}{login_id}/"


def events(action, **filters):
    return list(AuditEvent.objects.filter(action=action, **filters).order_by("pk"))


def sign_in(login_id: str, password: str) -> Client:
    """Sign in through the real two-step login; the client keeps the session."""
    client = Client()
    response = client.post(
        f"/{DOMAIN}/login/", {"login_id": login_id, "password": password}, follow=False
    )
    client.last_login_response = response
    return client


def can_sign_in(login_id: str, password: str) -> bool:
    client = sign_in(login_id, password)
    return client.last_login_response.status_code == 302


# -- the view-only admin role ------------------------------------------------


def test_super_admin_grants_and_revokes_the_viewer_role_and_both_are_audited(org):
    assert svc.role_set(actor=org.admin, account=org.lee, role=Account.Role.VIEWER)
    org.lee.refresh_from_db()
    assert org.lee.role == Account.Role.VIEWER
    assert svc.role_set(actor=org.admin, account=org.lee, role=Account.Role.USER)
    changes = [e.data["role"] for e in events(AuditEvent.Action.ROLE_CHANGE, target=org.lee)]
    assert changes == [
        {"before": "user", "after": "viewer"},
        {"before": "viewer", "after": "user"},
    ]
    # Asking for the role it already has changes and audits nothing.
    assert not svc.role_set(actor=org.admin, account=org.lee, role=Account.Role.USER)
    assert len(events(AuditEvent.Action.ROLE_CHANGE)) == 2


def test_the_last_super_admin_cannot_be_demoted(org):
    with pytest.raises(DomainError) as refused:
        svc.role_set(actor=org.admin, account=org.admin, role=Account.Role.VIEWER)
    assert refused.value.code == "last_admin"
    org.admin.refresh_from_db()
    assert org.admin.role == Account.Role.SUPER_ADMIN
    # With a second super admin either may step down, but not both.
    svc.role_set(actor=org.admin, account=org.kim, role=Account.Role.SUPER_ADMIN)
    svc.role_set(actor=org.kim, account=org.admin, role=Account.Role.USER)
    with pytest.raises(DomainError):
        svc.role_set(actor=org.kim, account=org.kim, role=Account.Role.USER)


def test_a_suspended_super_admin_does_not_count_as_the_remaining_one(org):
    second = make_account(org.office, "second", role=Account.Role.SUPER_ADMIN)
    second.status = Account.Status.SUSPENDED
    second.save(update_fields=["status"])
    with pytest.raises(DomainError):
        svc.role_set(actor=org.admin, account=org.admin, role=Account.Role.USER)


def test_group_and_shared_mail_cannot_be_administrators(org):
    for account in (org.group, org.shared):
        with pytest.raises(DomainError) as refused:
            svc.role_set(actor=org.admin, account=account, role=Account.Role.VIEWER)
        assert refused.value.code == "role_kind"


def test_a_viewer_cannot_change_roles_even_through_the_service(org):
    svc.role_set(actor=org.admin, account=org.lee, role=Account.Role.VIEWER)
    with pytest.raises(DomainError) as refused:
        svc.role_set(actor=org.lee, account=org.lee, role=Account.Role.SUPER_ADMIN)
    assert refused.value.code == "not_allowed"


def test_role_change_through_the_page(admin_client, org):
    response = admin_client.post(page("seoyeon.lee"), {"action": "role", "role": "viewer"})
    assert response.status_code == 302
    org.lee.refresh_from_db()
    assert org.lee.role == Account.Role.VIEWER
    response = admin_client.post(page("admin"), {"action": "role", "role": "user"})
    assert response.status_code == 400
    assert response.context["role_form"].errors["role"]


def test_a_viewer_signs_in_to_the_console_and_is_refused_writes(org):
    svc.role_set(actor=org.admin, account=org.lee, role=Account.Role.VIEWER)
    client = sign_in("seoyeon.lee", PASSWORD)
    assert client.last_login_response.status_code == 302
    home = client.get(f"/{DOMAIN}/")
    assert 'id="go-manage"' in home.content.decode()
    assert client.get(f"/{DOMAIN}/manage/").status_code == 200
    detail = client.get(page("minjun.kim"))
    assert detail.status_code == 200
    assert "read-only-note" in detail.content.decode()
    assert client.post(page("minjun.kim"), {"action": "role", "role": "viewer"}).status_code == 403
    # Its sign-in is audited like a super admin's.
    assert events(AuditEvent.Action.LOGIN, actor=org.lee)


# -- adding a user -------------------------------------------------------------


def test_account_create_makes_the_account_its_address_and_its_mailbox(org):
    created = svc.account_create(
        actor=org.admin,
        office=org.office,
        login_id="Hana.Yoon",
        name="윤하나",
        department="인사팀",
        password=NEW_PASSWORD,
    )
    account = Account.objects.select_related("mailbox").get(pk=created.account.pk)
    assert (account.login_id, account.email) == ("hana.yoon", "hana.yoon@gabiaedu.com")
    assert account.addresses.get().local_part == "hana.yoon"
    assert account.mailbox.quota_bytes == org.office.default_quota_bytes
    roles = set(Folder.objects.filter(mailbox=account.mailbox).values_list("role", flat=True))
    assert {"inbox", "sent", "drafts", "spam", "trash"} <= roles
    assert created.generated_password == ""
    assert can_sign_in("hana.yoon", NEW_PASSWORD)
    [event] = events(AuditEvent.Action.ACCOUNT_CREATE, target=account)
    assert event.data["generated"] is False and NEW_PASSWORD not in str(event.data)


def test_a_generated_password_is_returned_once_and_works(org):
    created = svc.account_create(actor=org.admin, office=org.office, login_id="gen", name="Gen")
    assert len(created.generated_password) >= 12
    assert created.generated_password not in str(AuditEvent.objects.values_list("data"))
    assert can_sign_in("gen", created.generated_password)


@pytest.mark.parametrize(
    "quota, expected", [(svc.OFFICE_DEFAULT, 1024 * MB), (2 * GB, 2 * GB), (None, None)]
)
def test_quota_of_a_new_mailbox(org, quota, expected):
    created = svc.account_create(
        actor=org.admin, office=org.office, login_id="q", name="Q", quota=quota
    )
    assert Mailbox.objects.get(account=created.account).quota_bytes == expected


def test_ids_follow_the_address_rules_and_stay_unique_across_sub_accounts(org):
    from subaccounts.services import subaccount_add

    subaccount_add(actor=None, owner=org.kim, local_part="sales.kim")
    for login_id, code in [
        ("sales.kim", "login_id_taken"),  # a sub-account's address
        ("MINJUN.KIM", "login_id_taken"),
        ("postmaster", "login_id_invalid"),
        ("bad id", "login_id_invalid"),
        (".dot", "login_id_invalid"),
        ("", "login_id_invalid"),
    ]:
        with pytest.raises(DomainError) as refused:
            svc.account_create(actor=org.admin, office=org.office, login_id=login_id, name="X")
        assert refused.value.code == code, login_id
    assert not Account.objects.filter(name="X").exists()


def test_group_mail_without_mail_and_without_password(org):
    created = svc.account_create(
        actor=org.admin,
        office=org.office,
        login_id="team-hr",
        name="인사팀 그룹메일",
        kind=Account.Kind.GROUP,
        uses_mail=False,
    )
    account = created.account
    assert not account.has_usable_password() and created.generated_password == ""
    assert not Mailbox.objects.filter(account=account).exists()


def test_a_weak_password_is_refused(org):
    with pytest.raises(DomainError) as refused:
        svc.account_create(
            actor=org.admin, office=org.office, login_id="weak", name="W", password="1234"
        )
    assert refused.value.code == "password_invalid"


def test_add_user_page_creates_and_shows_the_generated_password_once(admin_client, org):
    form = admin_client.get(ADD)
    assert form.status_code == 200
    response = admin_client.post(
        ADD,
        {
            "name": "최유진",
            "login_id": "yujin.choi",
            "department": "개발2팀",
            "kind": "user",
            "uses_mail": "on",
            "quota_choice": "size",
            "quota_text": "2 GB",
            "password_choice": "generate",
        },
    )
    assert response.status_code == 200
    shown = response.context["created"].generated_password
    assert shown and shown in response.content.decode()
    account = Account.objects.get(office=org.office, login_id="yujin.choi")
    assert account.mailbox.quota_bytes == 2 * GB
    assert account.department == "개발2팀"
    # Nowhere else: the user's page does not show it again.
    assert shown not in admin_client.get(page("yujin.choi")).content.decode()
    assert can_sign_in("yujin.choi", shown)


def test_add_user_page_shows_refusals_next_to_the_field(admin_client):
    response = admin_client.post(
        ADD,
        {
            "name": "중복",
            "login_id": "minjun.kim",
            "kind": "user",
            "quota_choice": "default",
            "password_choice": "typed",
            "password": NEW_PASSWORD,
        },
    )
    assert response.status_code == 400
    assert response.context["form"].errors["login_id"]
    response = ADD and admin_client.post(
        ADD,
        {
            "name": "크기",
            "login_id": "size",
            "kind": "user",
            "quota_choice": "size",
            "quota_text": "lots",
            "password_choice": "generate",
        },
    )
    assert response.status_code == 400
    assert response.context["form"].errors["quota_text"]


# -- passwords -----------------------------------------------------------------


def test_password_reset_typed_then_must_change_at_next_sign_in(org):
    svc.password_reset(actor=org.admin, account=org.kim, password=NEW_PASSWORD, must_change=True)
    assert not can_sign_in("minjun.kim", PASSWORD)
    client = sign_in("minjun.kim", NEW_PASSWORD)
    assert client.last_login_response["Location"].startswith(f"/{DOMAIN}/password/")
    # Nothing else opens until a new password is chosen.
    assert client.get(f"/{DOMAIN}/")["Location"].startswith(f"/{DOMAIN}/password/")
    same = client.post(
        f"/{DOMAIN}/password/",
        {"new_password": NEW_PASSWORD, "new_password_again": NEW_PASSWORD},
    )
    assert same.status_code == 400
    chosen = "my own new passphrase 7"
    done = client.post(
        f"/{DOMAIN}/password/", {"new_password": chosen, "new_password_again": chosen}
    )
    assert done.status_code == 302
    assert client.get(f"/{DOMAIN}/").status_code == 200
    assert can_sign_in("minjun.kim", chosen)
    [event] = events(AuditEvent.Action.PASSWORD_RESET, target=org.kim)
    assert event.data == {"generated": False, "must_change": True}


def test_an_admin_who_must_change_the_password_is_sent_there_from_the_console(org):
    svc.password_reset(actor=org.admin, account=org.admin, password=NEW_PASSWORD, must_change=True)
    client = Client()
    client.force_login(Account.objects.get(pk=org.admin.pk))
    response = client.get(f"/{DOMAIN}/manage/users/")
    assert response.status_code == 302
    assert response["Location"].startswith(f"/{DOMAIN}/password/")


def test_password_reset_page_generates_and_shows_once(admin_client, org):
    response = admin_client.post(
        page("minjun.kim"), {"action": "password", "password_choice": "generate"}
    )
    assert response.status_code == 200
    shown = response.context["shown_password"]
    assert shown in response.content.decode()
    assert can_sign_in("minjun.kim", shown)


def test_password_reset_refuses_a_weak_password(admin_client, org):
    response = admin_client.post(
        page("minjun.kim"), {"action": "password", "password_choice": "typed", "password": "abc"}
    )
    assert response.status_code == 400
    assert response.context["password_form"].errors["password"]
    assert can_sign_in("minjun.kim", PASSWORD)


def test_mail_password_is_hashed_with_argon2id_and_can_be_removed(org):
    svc.mail_password_set(actor=org.admin, account=org.kim, password=NEW_PASSWORD)
    mailbox = Mailbox.objects.get(account=org.kim)
    assert mailbox.mail_password.startswith("argon2$argon2id$")
    assert not mailbox.mail_password_needs_reset
    assert Argon2PasswordHasher().verify(NEW_PASSWORD, mailbox.mail_password)
    svc.mail_password_set(actor=org.admin, account=org.kim, password=None)
    assert Mailbox.objects.get(account=org.kim).mail_password == ""
    with pytest.raises(DomainError):
        svc.mail_password_set(actor=org.admin, account=org.kim, password=None)
    audited = [e.data for e in events(AuditEvent.Action.MAIL_PASSWORD, target=org.kim)]
    assert [d["mail_password"] for d in audited] == [
        {"before": False, "after": True},
        {"before": True, "after": False},
    ]


def test_mail_password_the_server_cannot_check_is_flagged(admin_client, org):
    Mailbox.objects.filter(account=org.kim).update(
        mail_password=make_password("old", hasher=PBKDF2PasswordHasher())
    )
    for url in (page("minjun.kim"), f"/{DOMAIN}/manage/mail/accounts/minjun.kim/"):
        body = admin_client.get(url).content.decode()
        assert "data-needs-reset" in body, url
    # Setting it again through the page fixes it.
    response = admin_client.post(
        page("minjun.kim"),
        {"action": "mail_password", "password_choice": "typed", "password": NEW_PASSWORD},
    )
    assert response.status_code == 302
    assert not Mailbox.objects.get(account=org.kim).mail_password_needs_reset


def test_mail_password_page_generates_and_removes(admin_client, org):
    response = admin_client.post(
        page("minjun.kim"), {"action": "mail_password", "password_choice": "generate"}
    )
    assert response.status_code == 200 and response.context["shown_mail_password"]
    response = admin_client.post(page("minjun.kim"), {"action": "mail_password_remove"})
    assert response.status_code == 302
    assert Mailbox.objects.get(account=org.kim).mail_password == ""


def test_an_account_without_mail_has_no_mail_password(org):
    with pytest.raises(DomainError) as refused:
        svc.mail_password_set(actor=org.admin, account=org.nomail, password=NEW_PASSWORD)
    assert refused.value.code == "no_mailbox"


# -- quotas ------------------------------------------------------------------


def fill(account: Account, size: int) -> None:
    message_deliver(folder=inbox_of(account.mailbox), size_bytes=size)


@pytest.mark.parametrize(
    "text, expected",
    [("2 GB", 2 * GB), ("500MB", 500 * MB), ("1.5 g", int(1.5 * GB)), ("무제한", None)],
)
def test_parse_quota(text, expected):
    assert svc.parse_quota(text) == expected


@pytest.mark.parametrize("text", ["", "lots", "0 GB", "-1 GB", "9999 TB"])
def test_parse_quota_refuses(text):
    with pytest.raises(DomainError):
        svc.parse_quota(text)


def test_quota_below_usage_needs_confirmation(org):
    fill(org.kim, 300 * MB)
    with pytest.raises(DomainError) as refused:
        svc.quota_set(actor=org.admin, account=org.kim, quota_bytes=100 * MB)
    assert refused.value.code == "quota_below_usage"
    assert Mailbox.objects.get(account=org.kim).quota_bytes == 1024 * MB
    assert svc.quota_set(
        actor=org.admin, account=org.kim, quota_bytes=100 * MB, confirm_below_usage=True
    )
    [event] = events(AuditEvent.Action.QUOTA_CHANGE, target=org.kim)
    assert event.data["quota"] == {"before": 1024 * MB, "after": 100 * MB}
    assert event.data["below_usage"] is True
    assert svc.quota_set(actor=org.admin, account=org.kim, quota_bytes=None)
    assert Mailbox.objects.get(account=org.kim).quota_bytes is None


def test_quota_through_the_page(admin_client, org):
    fill(org.kim, 300 * MB)
    data = {"action": "quota", "quota_choice": "size", "quota_text": "100 MB"}
    response = admin_client.post(page("minjun.kim"), data)
    assert response.status_code == 400
    assert response.context["quota_form"].errors["confirm_below_usage"]
    response = admin_client.post(page("minjun.kim"), {**data, "confirm_below_usage": "on"})
    assert response.status_code == 302
    assert Mailbox.objects.get(account=org.kim).quota_bytes == 100 * MB


def test_the_pane_links_to_the_quota_form(admin_client):
    body = admin_client.get(f"/{DOMAIN}/manage/mail/accounts/minjun.kim/").content.decode()
    assert 'href="/gabiaedu.com/manage/users/minjun.kim/#quota"' in body


def test_office_default_quota(admin_client, org):
    assert admin_client.get(SETTINGS).status_code == 200
    response = admin_client.post(SETTINGS, {"quota_choice": "size", "quota_text": "5 GB"})
    assert response.status_code == 302
    org.office.refresh_from_db()
    assert org.office.default_quota_bytes == 5 * GB
    [event] = events(AuditEvent.Action.OFFICE_SETTINGS)
    assert event.data["default_quota"]["after"] == 5 * GB
    created = svc.account_create(actor=org.admin, office=org.office, login_id="new5", name="N")
    assert created.account.mailbox.quota_bytes == 5 * GB
    # Existing mailboxes keep theirs.
    assert Mailbox.objects.get(account=org.kim).quota_bytes == 1024 * MB
    admin_client.post(SETTINGS, {"quota_choice": "unlimited"})
    org.office.refresh_from_db()
    assert org.office.default_quota_bytes is None


def test_the_usage_list_filters_mail_only_passwords_that_need_a_reset(admin_client, org):
    svc.mail_password_set(actor=org.admin, account=org.lee, password=NEW_PASSWORD)
    Mailbox.objects.filter(account=org.kim).update(
        mail_password=make_password("old", hasher=PBKDF2PasswordHasher())
    )
    url = f"/{DOMAIN}/manage/mail/accounts/"

    def listed(value):
        response = admin_client.get(url, {"mail_password": value})
        assert response.status_code == 200
        return {a.login_id for a in response.context["listing"].rows}

    assert listed("needs_reset") == {"minjun.kim"}
    assert listed("in_use") == {"minjun.kim", "seoyeon.lee"}
    assert "minjun.kim" not in listed("not_in_use")
    export = admin_client.get(f"{url}export.xlsx", {"mail_password": "needs_reset"})
    assert export.status_code == 200


def test_the_audit_log_describes_the_new_events_in_words(org):
    from django.utils import translation

    from accounts.audit_log import describe

    svc.role_set(actor=org.admin, account=org.lee, role=Account.Role.VIEWER)
    svc.quota_set(actor=org.admin, account=org.kim, quota_bytes=None)
    with translation.override("en"):
        role = describe(events(AuditEvent.Action.ROLE_CHANGE)[0])
        quota = describe(events(AuditEvent.Action.QUOTA_CHANGE)[0])
    assert ("Administrator role", "User → View-only admin") in role
    assert ("Quota", "1.0 GB → Unlimited") in quota
    with translation.override("ko"):
        role = describe(events(AuditEvent.Action.ROLE_CHANGE)[0])
    assert ("관리자 권한", "사용자 → 읽기 전용 관리자") in role


@pytest.mark.skipif(shutil.which("doveadm") is None, reason="Dovecot's doveadm is not installed")
def test_dovecot_verifies_the_mail_only_password_set_here_and_refuses_the_account_password(
    org, settings
):
    """The hash the password query hands Dovecot for POP3 after the admin set
    a mail-only password: Dovecot's own checker accepts that password and
    refuses the account's."""
    from tests.accounts.test_mailserver_config import ARGON2_FIRST, dovecot_lookup

    settings.PASSWORD_HASHERS = ARGON2_FIRST
    org.kim.set_password("kim-web-pass")
    org.kim.save(update_fields=["password"])
    svc.mail_password_set(actor=org.admin, account=org.kim, password=NEW_PASSWORD)
    _, pop3_hash = dovecot_lookup("pop3", "minjun.kim")

    def dovecot_accepts(raw: str) -> bool:
        result = subprocess.run(
            ["doveadm", "pw", "-t", pop3_hash, "-p", raw], capture_output=True, timeout=60
        )
        return result.returncode == 0

    assert dovecot_accepts(NEW_PASSWORD)
    assert not dovecot_accepts("kim-web-pass")
    # IMAP keeps the account password.
    _, imap_hash = dovecot_lookup("imap", "minjun.kim")
    assert imap_hash != pop3_hash


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("how", ["demote", "delete"])
def test_two_admins_demoting_or_deleting_each_other_at_once_leave_one(org, how):
    """The admin rows are locked before the check: the second request finds
    its actor no longer an admin, or its target the last one."""
    import threading

    from django.db import close_old_connections, connection

    if connection.vendor != "postgresql":
        pytest.skip("real row locks need PostgreSQL")
    second = make_account(org.office, "admin2", "부관리자", role=Account.Role.SUPER_ADMIN)
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def act(actor_pk: int, target_pk: int) -> None:
        try:
            actor = Account.objects.get(pk=actor_pk)
            target = Account.objects.get(pk=target_pk)
            barrier.wait(timeout=10)
            if how == "demote":
                svc.role_set(actor=actor, account=target, role=Account.Role.USER)
            else:
                svc.account_delete(actor=actor, account=target)
            outcomes.append("ok")
        except DomainError:
            outcomes.append("refused")
        except Exception as error:  # surfaces in the assertion below
            outcomes.append(repr(error))
        finally:
            close_old_connections()
            connection.close()

    threads = [
        threading.Thread(target=act, args=(org.admin.pk, second.pk)),
        threading.Thread(target=act, args=(second.pk, org.admin.pk)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(outcomes) == ["ok", "refused"]
    remaining = Account.objects.filter(
        office=org.office, role=Account.Role.SUPER_ADMIN, deleted_at__isnull=True
    )
    assert remaining.count() == 1


class RecordingMailStore:
    """The embedded store, noting which accounts' password check it was told
    to refresh."""

    refreshed: list[str] = []

    def __new__(cls):
        from accounts.mailstore import DatabaseMailStore

        store = DatabaseMailStore()
        store.refresh_auth = lambda account: cls.refreshed.append(account.login_id)
        return store


def test_every_change_the_mail_servers_see_refreshes_their_password_check(
    org, settings, django_capture_on_commit_callbacks
):
    settings.MAIL_STORE = f"{__name__}.RecordingMailStore"
    changes = [
        (
            "fresh",
            lambda: svc.account_create(
                actor=org.admin, office=org.office, login_id="fresh", name="F"
            ),
        ),
        (
            "minjun.kim",
            lambda: svc.password_reset(actor=org.admin, account=org.kim, password=NEW_PASSWORD),
        ),
        (
            "minjun.kim",
            lambda: svc.mail_password_set(actor=org.admin, account=org.kim, password=NEW_PASSWORD),
        ),
        ("minjun.kim", lambda: svc.quota_set(actor=org.admin, account=org.kim, quota_bytes=None)),
        ("seoyeon.lee", lambda: svc.account_delete(actor=org.admin, account=org.lee)),
        ("seoyeon.lee", lambda: svc.account_restore(actor=org.admin, account=org.lee)),
    ]
    for login_id, change in changes:
        RecordingMailStore.refreshed = []
        with django_capture_on_commit_callbacks() as callbacks:
            change()
        # Nothing is flushed while the change is uncommitted: a login in
        # between would cache the old answer again.
        assert RecordingMailStore.refreshed == []
        for callback in callbacks:
            callback()
        assert set(RecordingMailStore.refreshed) == {login_id}
