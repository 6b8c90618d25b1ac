"""bulk_create_subaccounts keeps every invariant subaccount_add keeps, in a
fixed number of statements."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, connection
from django.test.utils import CaptureQueriesContext

from accounts.models import Account, Address, Folder, SenderAddress
from subaccounts.builders import NewSubAccount, bulk_create_subaccounts
from subaccounts.models import SubAccount
from subaccounts.services import subaccount_add
from tests.factories import make_account
from tests.subaccounts.helpers import assert_consistent, inbox

pytestmark = pytest.mark.django_db


def test_built_subaccounts_keep_every_invariant(org, other):
    subaccount_add(actor=org.admin, owner=org.kim, local_part="kim-first")
    built = bulk_create_subaccounts(
        [
            NewSubAccount(owner=org.kim, local_part="Kim-Sales"),
            NewSubAccount(owner=org.kim, local_part="kim-cs", inbox=inbox(org.kim)),
            NewSubAccount(owner=org.lee, local_part="lee.hr"),
            NewSubAccount(owner=other.kim, local_part="other-kim"),
        ]
    )
    assert [(s.owner_id, s.local_part, s.slot) for s in built] == [
        (org.kim.pk, "kim-sales", 2),
        (org.kim.pk, "kim-cs", 3),
        (org.lee.pk, "lee.hr", 1),
        (other.kim.pk, "other-kim", 1),
    ]
    assert_consistent()
    assert built[0].folder.parent == inbox(org.kim)
    assert built[0].address.folder_id == built[0].folder_id
    assert SenderAddress.objects.filter(account=other.kim, address="other-kim@other.co.kr").exists()
    assert org.kim.subaccount_count == 3  # the objects passed in agree too
    assert Account.objects.get(pk=org.kim.pk).subaccount_count == 3


def test_statements_do_not_grow_with_the_number_of_subaccounts(org):
    def build(prefix, owners):
        entries = [
            NewSubAccount(owner=owner, local_part=f"{prefix}{n}-{owner.pk}")
            for owner in owners
            for n in range(2)
        ]
        with CaptureQueriesContext(connection) as captured:
            bulk_create_subaccounts(entries)
        return len(captured.captured_queries)

    few = build("a", [org.kim])
    many_owners = [make_account(org.office, f"user{n}") for n in range(8)]
    assert build("b", many_owners) == few
    assert_consistent()


@pytest.mark.parametrize(
    ("owner", "local_part", "reason"),
    [
        ("group", "team-x", "only a user account"),
        ("nomail", "nomail-x", "uses mail"),
        ("kim", "postmaster", "postmaster"),
        ("kim", "a b", "'a b'"),
    ],
)
def test_a_broken_rule_writes_nothing(org, owner, local_part, reason):
    entries = [
        NewSubAccount(owner=org.lee, local_part="lee-ok"),
        NewSubAccount(owner=getattr(org, owner), local_part=local_part),
    ]
    with pytest.raises(ValueError, match=reason):
        bulk_create_subaccounts(entries)
    assert not SubAccount.objects.exists() and not Folder.objects.filter(role="subaccount")


def test_the_limit_holds(org, settings):
    entries = [NewSubAccount(owner=org.kim, local_part=f"kim-{n}") for n in range(6)]
    with pytest.raises(ValueError, match="more than 5"):
        bulk_create_subaccounts(entries)
    assert not SubAccount.objects.exists()


def test_a_taken_address_is_the_databases_refusal(org):
    with pytest.raises(IntegrityError):
        bulk_create_subaccounts([NewSubAccount(owner=org.kim, local_part="seoyeon.lee")])
    assert Address.objects.filter(local_part="seoyeon.lee").count() == 1


class RecordingStore:
    """A mail store that is not the embedded one: folders must come from
    its ``create_folder``, one by one, as in the service."""

    created: list[str] = []

    def create_folder(self, mailbox, *, parent, name, role):
        RecordingStore.created.append(name)
        return Folder.objects.create(
            office_id=mailbox.office_id, mailbox=mailbox, parent=parent, name=name, role=role
        )


def test_another_mail_store_creates_the_folders_itself(org, settings):
    settings.MAIL_STORE = "tests.subaccounts.test_builders.RecordingStore"
    RecordingStore.created = []
    bulk_create_subaccounts(
        [
            NewSubAccount(owner=org.kim, local_part="kim-a"),
            NewSubAccount(owner=org.lee, local_part="lee-a"),
        ]
    )
    assert RecordingStore.created == ["kim-a", "lee-a"]
    assert_consistent()
