"""A queryset in front of which a common table expression is written."""

from __future__ import annotations

import pytest
from django.db.models import BooleanField
from django.db.models.expressions import RawSQL

from accounts.common_table import with_table
from accounts.models import Account, Office

pytestmark = pytest.mark.django_db


def in_picked() -> RawSQL:
    return RawSQL(
        '"accounts_account"."id" IN (SELECT id FROM picked)', [], output_field=BooleanField()
    )


def test_the_table_is_read_by_the_rows_and_their_annotations_through_clones(org, other):
    picked = with_table(
        Account.objects.select_related("office"),
        "picked",
        "SELECT id FROM accounts_account WHERE login_id = %s",
        ["admin"],
    )
    # A later filter, annotation and slice keep the table and its parameters
    # ahead of the statement's own.
    rows = list(
        picked.filter(in_picked(), office=org.office)
        .annotate(picked_count=RawSQL("SELECT COUNT(*) FROM picked", []))
        .order_by("pk")[:5]
    )
    assert [(a.login_id, a.office.domain, a.picked_count) for a in rows] == [
        ("admin", "gabiaedu.com", 2)  # the other office's admin is picked too
    ]
    # The queryset it was made from is left as it was.
    assert Account.objects.select_related("office").filter(office=org.office).count() > 1


def test_a_name_must_be_a_plain_identifier():
    with pytest.raises(ValueError):
        with_table(Account.objects.all(), "picked; DELETE", "SELECT 1", [])


def test_a_keyed_statement_is_built_once_and_reads_each_tables_parameters(org, other):
    built = []

    def rows():
        built.append(1)
        return Account.objects.select_related("office").filter(in_picked()).order_by("pk")

    key = ("test", object())  # this test's own: the compiled statements outlive it

    def picked(office):
        return list(
            with_table(
                rows,
                "picked",
                "SELECT id FROM accounts_account WHERE login_id = %s AND office_id = %s",
                ["admin", office.pk],
                key=key,
                model=Account,
            )
        )

    first, second = picked(org.office), picked(other.office)
    assert len(built) == 1
    assert [(a.login_id, a.office.domain) for a in first] == [("admin", "gabiaedu.com")]
    assert [(a.login_id, a.office.domain) for a in second] == [("admin", "other.co.kr")]


def test_a_keyed_statement_is_of_the_model_named():
    with pytest.raises(ValueError):
        with_table(
            lambda: Account.objects.all(),
            "picked",
            "SELECT 1",
            [],
            key=("test", object()),
            model=Office,
        )
