"""R1 and R2 are held by the database itself: these tests bypass the
services and Python checks and expect the database to refuse."""

import pytest
from django.db import IntegrityError, transaction

from accounts.models import Account, Address, Folder
from subaccounts.models import SubAccount


def _folder(owner, name):
    inbox = Folder.objects.get(mailbox=owner.mailbox, role=Folder.Role.INBOX)
    return Folder.objects.create(
        office=owner.office,
        mailbox=owner.mailbox,
        parent=inbox,
        name=name,
        role=Folder.Role.SUBACCOUNT,
    )


def _raw_subaccount(owner, slot, local_part):
    folder = _folder(owner, f"{local_part}-{slot}")
    address = Address.objects.create(
        office=owner.office, local_part=f"{local_part}-{slot}", account=owner, folder=folder
    )
    return SubAccount.objects.create(
        office=owner.office,
        owner=owner,
        slot=slot,
        local_part=local_part,
        folder=folder,
        address=address,
    )


@pytest.mark.django_db
def test_sixth_slot_is_refused_by_the_database(org):
    for slot in range(1, 6):
        _raw_subaccount(org.kim, slot, f"kim{slot}")
    with pytest.raises(IntegrityError), transaction.atomic():
        _raw_subaccount(org.kim, 6, "kim6")


@pytest.mark.django_db
def test_slot_zero_is_refused_by_the_database(org):
    with pytest.raises(IntegrityError), transaction.atomic():
        _raw_subaccount(org.kim, 0, "kim0")


@pytest.mark.django_db
def test_a_taken_slot_cannot_be_taken_twice(org):
    _raw_subaccount(org.kim, 1, "one")
    with pytest.raises(IntegrityError), transaction.atomic():
        _raw_subaccount(org.kim, 1, "two")


@pytest.mark.django_db
def test_same_address_in_another_case_is_refused_by_the_database(org):
    with pytest.raises(IntegrityError), transaction.atomic():
        Address.objects.create(office=org.office, local_part="MinJun.Kim", account=org.lee)


@pytest.mark.django_db
def test_group_mail_address_cannot_be_taken_by_a_user(org):
    with pytest.raises(IntegrityError), transaction.atomic():
        Address.objects.create(office=org.office, local_part="TEAM-SALES", account=org.kim)


@pytest.mark.django_db
def test_account_without_mail_still_occupies_its_address(org):
    with pytest.raises(IntegrityError), transaction.atomic():
        Address.objects.create(office=org.office, local_part="nomail", account=org.kim)


@pytest.mark.django_db
def test_the_same_address_is_free_in_another_office(org, other):
    # other office already has minjun.kim: each office is its own namespace
    assert Address.objects.filter(local_part="minjun.kim").count() == 2


@pytest.mark.django_db
def test_subaccount_count_above_five_is_refused_by_the_database(org):
    with pytest.raises(IntegrityError), transaction.atomic():
        Account.objects.filter(pk=org.kim.pk).update(subaccount_count=6)


@pytest.mark.django_db
def test_login_ids_are_stored_lowercase(org):
    with pytest.raises(IntegrityError), transaction.atomic():
        Account.objects.create(office=org.office, login_id="UPPER", email="UPPER@x.y", name="x")


@pytest.mark.django_db
def test_usage_share_is_computed_by_the_database(org):
    mailbox = org.kim.mailbox
    mailbox.quota_bytes = 1000
    mailbox.used_bytes = 925
    mailbox.save()
    mailbox.refresh_from_db()
    assert mailbox.usage_share == 9250
    mailbox.quota_bytes = None
    mailbox.save()
    mailbox.refresh_from_db()
    assert mailbox.usage_share is None
