"""The usage list's read model follows accounts and mailboxes, whatever
writes them (triggers, on SQLite and PostgreSQL)."""

from __future__ import annotations

import pytest
from django.db import connection

from accounts.models import Account, Mailbox, MailListing
from accounts.search_index import (
    ACCOUNT_GRAM_TRIGGERS,
    LISTING_TALLY_TRIGGERS,
    LISTING_TRIGRAM_TRIGGERS,
    SQLITE_TRIGGERS,
    TALLY_TRIGGERS,
    MissingTriggers,
    check_sqlite_triggers,
)
from accounts.services import mailbox_create
from tests.factories import make_account

pytestmark = pytest.mark.django_db


def listing(office):
    return {
        row.login_id: (row.name, row.status, row.subaccount_count)
        for row in MailListing.objects.filter(office=office)
    }


def test_one_row_per_account_that_uses_mail(org, other):
    assert set(listing(org.office)) == {
        "admin",
        "minjun.kim",
        "seoyeon.lee",
        "jiho.park",
        "team-sales",
        "help",
    }  # "nomail" has no mailbox


def test_rows_follow_account_changes_and_mailbox_inserts_and_deletes(org):
    account = make_account(org.office, "late", "늦은사람", mail=False)
    assert "late" not in listing(org.office)
    mailbox_create(account=account)
    assert listing(org.office)["late"] == ("늦은사람", "active", 0)

    Account.objects.filter(pk=account.pk).update(
        name="바뀐이름", status="suspended", subaccount_count=2
    )
    assert listing(org.office)["late"] == ("바뀐이름", "suspended", 2)
    account.refresh_from_db()
    account.name = "다시"
    account.save()
    assert listing(org.office)["late"][0] == "다시"

    Mailbox.objects.filter(account=account).delete()
    assert "late" not in listing(org.office)
    mailbox_create(account=account)
    account.delete()
    assert not MailListing.objects.filter(account_id=account.pk).exists()


def test_bulk_inserts_are_listed_too(org):
    accounts = Account.objects.bulk_create(
        Account(office=org.office, login_id=f"bulk{n}", email=f"bulk{n}@x", name=f"벌크{n}")
        for n in range(3)
    )
    Mailbox.objects.bulk_create(Mailbox(account=a, office=org.office) for a in accounts)
    assert {"bulk0", "bulk1", "bulk2"} <= set(listing(org.office))


@pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite rebuilds tables to alter them")
@pytest.mark.parametrize(
    "trigger",
    sorted(
        SQLITE_TRIGGERS
        | TALLY_TRIGGERS
        | ACCOUNT_GRAM_TRIGGERS
        | LISTING_TRIGRAM_TRIGGERS
        | LISTING_TALLY_TRIGGERS
    ),
)
def test_migrate_fails_loudly_when_a_table_rebuild_lost_a_trigger(org, trigger):
    check_sqlite_triggers(using="default", plan=[("any", False)])  # all present: quiet
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TRIGGER {trigger}")
    with pytest.raises(MissingTriggers, match=trigger):
        check_sqlite_triggers(using="default", plan=[("any", False)])


@pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite's gram table only")
def test_short_hangul_searches_follow_renames(org):
    from accounts.selectors import usage_page

    def found(q):
        return {a.login_id for a in usage_page(org.office, {"q": q, "per_page": 100}).rows}

    account = make_account(org.office, "rename.me", "홍길동")
    assert found("길") == {"rename.me"} and found("길동") == {"rename.me"}
    Account.objects.filter(pk=account.pk).update(name="임꺽정")
    assert found("길") == set() and found("꺽정") == {"rename.me"}
    assert found("김") == {"minjun.kim"}  # 김민준; "nomail" (메일없음) has no mailbox
    Account.objects.filter(pk=account.pk).update(name="장길산")
    assert found("길산") == {"rename.me"}
