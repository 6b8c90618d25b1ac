"""A queryset in front of which a common table expression is written."""

from __future__ import annotations

import pytest
from django.db.models import BooleanField
from django.db.models.expressions import RawSQL

from accounts.common_table import with_table
from accounts.models import Account

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
