"""The one account lookup and the role table behind it.

No role is view-only yet; these tests give the super admin role the "view"
capability alone (the way a view-only role will be declared) and show that
every screen that looks up an account still shows it, while every change
is refused with 403 and changes nothing.
"""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.test import RequestFactory

from accounts import permissions
from accounts.models import Account
from tests.factories import make_account
from tests.walk import database_fingerprint, populate

pytestmark = pytest.mark.django_db

BASE = "/gabiaedu.com/manage"


@pytest.fixture
def view_only(monkeypatch):
    monkeypatch.setitem(
        permissions.ROLE_CAPABILITIES, Account.Role.SUPER_ADMIN, frozenset({permissions.VIEW})
    )


def lookup(org, user, login_id, **filters):
    request = RequestFactory().get("/")
    request.user = user
    request.office = org.office
    return permissions.get_account_for_admin(request, login_id, **filters)


def test_lookup_returns_the_account_and_that_a_super_admin_may_write(org):
    account, can_write = lookup(org, org.admin, "MinJun.Kim")
    assert account == org.kim and can_write is True


def test_lookup_is_one_query_with_the_mailbox(org, django_assert_num_queries):
    admin = Account.objects.get(pk=org.admin.pk)
    with django_assert_num_queries(1):
        account, _ = lookup(org, admin, "minjun.kim")
        assert account.mailbox.pk and account.office.domain == "gabiaedu.com"


def test_lookup_never_finds_another_offices_account(org, other):
    make_account(other.office, "outsider", "다른 오피스")
    with pytest.raises(Http404):
        lookup(org, org.admin, "outsider")
    other_kim = Account.objects.get(office=other.office, login_id="minjun.kim")
    account, _ = lookup(org, org.admin, "minjun.kim")
    assert account != other_kim
    with pytest.raises(Http404):  # an admin of another office, should a view forget the decorator
        lookup(org, other.admin, "minjun.kim")


def test_lookup_applies_extra_filters(org):
    with pytest.raises(Http404):
        lookup(org, org.admin, "nomail", mailbox__isnull=False)


def test_an_ordinary_account_is_refused(org):
    with pytest.raises(PermissionDenied):
        lookup(org, org.kim, "minjun.kim")


def test_a_role_outside_the_table_may_do_nothing(org):
    org.kim.role = "someday"
    assert permissions.capabilities(org.kim) == frozenset()
    assert not permissions.can_manage(org.kim) and not permissions.can_write(org.kim)


def test_view_only_role_may_look(org, view_only):
    account, can_write = lookup(org, org.admin, "minjun.kim")
    assert account == org.kim and can_write is False


SCREENS = [
    "mail/accounts/minjun.kim/",
    "mail/accounts/minjun.kim/empty/",
    "mail/accounts/minjun.kim/subaccounts/",
    "mail/accounts/minjun.kim/subaccounts/sales.kim/delete/",
    "users/minjun.kim/",
]

CHANGES = [
    ("mail/accounts/minjun.kim/empty/", {"confirm": "1"}),
    ("mail/accounts/minjun.kim/subaccounts/", {"local_part": "intruder"}),
    ("mail/accounts/minjun.kim/subaccounts/sales.kim/delete/", {}),
    ("users/minjun.kim/", {"name": "Taken over", "status": "suspended"}),
]


@pytest.mark.parametrize("path", SCREENS)
def test_view_only_admin_sees_every_account_screen(admin_client, org, view_only, path):
    populate(org)
    assert admin_client.get(f"{BASE}/{path}").status_code == 200


@pytest.mark.parametrize(("path", "data"), CHANGES)
@pytest.mark.parametrize("htmx", [False, True])
def test_view_only_admin_cannot_change_anything(admin_client, org, view_only, path, data, htmx):
    populate(org)
    before = database_fingerprint()
    headers = {"HX-Request": "true"} if htmx else {}
    assert admin_client.post(f"{BASE}/{path}", data, headers=headers).status_code == 403
    assert database_fingerprint() == before
