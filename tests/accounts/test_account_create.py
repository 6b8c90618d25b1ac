"""account_create: a new account with its address, mailbox and audit event."""

from __future__ import annotations

import pytest

from accounts.account_services import account_create
from accounts.models import Account, Address, AuditEvent, Folder
from accounts.services import DomainError
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db


def test_creates_account_address_mailbox_and_audit(org):
    account = account_create(
        office=org.office,
        actor=org.admin,
        login_id="New.User",
        name="새 사용자",
        department="인사팀",
        kind=Account.Kind.USER,
        uses_mail=True,
        quota=None,
        password=PASSWORD,
        ip="10.0.0.1",
    ).account
    assert account.login_id == "new.user"
    assert account.check_password(PASSWORD)
    assert account.mailbox.quota_bytes is None
    assert Folder.objects.filter(mailbox=account.mailbox).count() == 5
    assert Address.objects.filter(office=org.office, local_part="new.user").exists()
    event = AuditEvent.objects.get(action="account_create")
    assert event.target == account and event.ip == "10.0.0.1"


def test_office_default_quota_and_no_mail(org):
    with_mail = account_create(office=org.office, actor=org.admin, login_id="a1", name="A").account
    assert with_mail.mailbox.quota_bytes == org.office.default_quota_bytes
    without = account_create(
        office=org.office, actor=org.admin, login_id="a2", name="B", uses_mail=False
    ).account
    assert not without.has_mailbox()


@pytest.mark.parametrize("login_id", ["MINJUN.KIM", "bad id", "postmaster", "", ".dot", "a..b"])
def test_refuses_taken_or_invalid_ids(org, login_id):
    with pytest.raises(DomainError):
        account_create(office=org.office, actor=org.admin, login_id=login_id, name="X")


def test_refuses_a_subaccount_address(org):
    from subaccounts.services import subaccount_add

    subaccount_add(actor=org.admin, owner=org.kim, local_part="kim.extra")
    with pytest.raises(DomainError) as refused:
        account_create(office=org.office, actor=org.admin, login_id="Kim.Extra", name="X")
    assert refused.value.code == "login_id_taken"
