"""What the database keeps so that counting is an index range: the
per-office counts (users not deleted, audit events by action) and the
search pieces (Hangul pieces of the accounts, three-character pieces of the
listing) stay equal to what counting the rows gives after every way of
writing them; the pages show them; an import's open transaction never makes
an admin's action wait on the counts; the migrations fill what was there."""

from __future__ import annotations

import datetime as dt
import io
import threading

import pytest
from django.core.management import call_command
from django.db import connection, connections, transaction
from django.db.models import Count
from django.utils import timezone

from accounts import tallies
from accounts.account_services import account_delete, account_restore, purge_deleted_users
from accounts.audit import record
from accounts.models import Account, AuditEvent, Mailbox, MailListing, Office, OfficeTally
from tests.factories import make_account, make_office, migrate_to


def true_users(office) -> int:
    return Account.objects.filter(office=office, deleted_at__isnull=True).count()


def true_audit(office) -> dict[str, int]:
    rows = AuditEvent.objects.filter(office=office).values("action").annotate(n=Count("pk"))
    return {row["action"]: row["n"] for row in rows}


def assert_tallies_true(office) -> None:
    assert tallies.users_count(office) == true_users(office)
    assert tallies.listing_count(office) == MailListing.objects.filter(office=office).count()
    by_action = true_audit(office)
    assert tallies.audit_count(office) == sum(by_action.values())
    for action in AuditEvent.Action.values:
        assert tallies.audit_count(office, action) == by_action.get(action, 0), action


@pytest.mark.django_db
def test_users_are_counted_through_create_delete_restore_and_purge(org):
    other = make_office("other.test")
    make_account(other, "elsewhere", "다른회사")
    assert_tallies_true(org.office)
    before = tallies.users_count(org.office)

    new = make_account(org.office, "new.user", "신입")
    Account.objects.bulk_create(
        Account(office=org.office, login_id=f"bulk{n}", email=f"bulk{n}@x", name=f"벌크{n}")
        for n in range(5)
    )
    assert tallies.users_count(org.office) == before + 6
    assert_tallies_true(org.office)

    account_delete(actor=org.admin, account=new)
    assert tallies.users_count(org.office) == before + 5
    new.refresh_from_db()
    account_restore(actor=org.admin, account=new)
    assert tallies.users_count(org.office) == before + 6
    # Ordinary changes (name, status, quota) leave the count alone.
    Account.objects.filter(office=org.office).update(name="같은이름", status=Account.Status.ACTIVE)
    assert_tallies_true(org.office)

    new.refresh_from_db()
    account_delete(actor=org.admin, account=new)
    Account.objects.filter(pk=new.pk).update(deleted_at=timezone.now() - dt.timedelta(days=400))
    purge_deleted_users(office=org.office)
    assert not Account.objects.filter(pk=new.pk).exists()
    Account.objects.filter(login_id="bulk0", office=org.office).delete()
    assert tallies.users_count(org.office) == before + 4
    assert_tallies_true(org.office)
    assert tallies.users_count(other) == 1


@pytest.mark.django_db
def test_listed_accounts_are_counted_through_mailboxes_deletion_and_restore(org):
    other = make_office("other.test")
    make_account(other, "elsewhere", "다른회사")
    before = tallies.listing_count(org.office)
    assert before == MailListing.objects.filter(office=org.office).count() > 0

    # Only an account with a mailbox is listed.
    make_account(org.office, "no.mail", "메일없음", mail=False)
    new = make_account(org.office, "new.user", "신입")
    assert tallies.listing_count(org.office) == before + 1
    # Ordinary changes of the account or the mailbox leave the count alone.
    Account.objects.filter(office=org.office).update(name="같은이름")
    Mailbox.objects.filter(office=org.office).update(used_bytes=5)
    assert_tallies_true(org.office)

    account_delete(actor=org.admin, account=new)  # the mailbox is kept, not listed
    assert tallies.listing_count(org.office) == before
    new.refresh_from_db()
    account_restore(actor=org.admin, account=new)
    assert tallies.listing_count(org.office) == before + 1
    Mailbox.objects.filter(account=new).delete()
    assert tallies.listing_count(org.office) == before
    assert_tallies_true(org.office)
    assert tallies.listing_count(other) == 1

    if connection.vendor == "sqlite":
        # The listing rewritten in place (the mailbox trigger's INSERT OR
        # REPLACE) is still one listed account.
        with connection.cursor() as cursor:
            cursor.execute(
                "INSERT OR REPLACE INTO accounts_maillisting "
                "SELECT * FROM accounts_maillisting WHERE office_id = %s LIMIT 1",
                [org.office.pk],
            )
        assert_tallies_true(org.office)


@pytest.mark.django_db
def test_audit_events_are_counted_by_action_however_written(org):
    record(office=org.office, action=AuditEvent.Action.LOGIN, actor=org.admin)
    AuditEvent.objects.bulk_create(
        AuditEvent(office=org.office, action=AuditEvent.Action.QUOTA_CHANGE, actor=org.admin)
        for _ in range(7)
    )
    assert tallies.audit_count(org.office, AuditEvent.Action.QUOTA_CHANGE) == 7
    assert_tallies_true(org.office)

    # An event moved to another action moves its count; other updates don't.
    moved = AuditEvent.objects.filter(action=AuditEvent.Action.QUOTA_CHANGE).first()
    AuditEvent.objects.filter(pk=moved.pk).update(action=AuditEvent.Action.ROLE_CHANGE)
    AuditEvent.objects.filter(office=org.office).update(data={"x": 1})
    assert tallies.audit_count(org.office, AuditEvent.Action.QUOTA_CHANGE) == 6
    assert tallies.audit_count(org.office, AuditEvent.Action.ROLE_CHANGE) == 1
    two = AuditEvent.objects.filter(action=AuditEvent.Action.QUOTA_CHANGE).values_list(
        "pk", flat=True
    )[:2]
    AuditEvent.objects.filter(pk__in=list(two)).delete()
    assert tallies.audit_count(org.office, AuditEvent.Action.QUOTA_CHANGE) == 4
    assert_tallies_true(org.office)


@pytest.mark.django_db
def test_fold_keeps_every_count_in_one_row_per_kind(org):
    for n in range(3):
        record(office=org.office, action=AuditEvent.Action.LOGIN, actor=org.admin)
        make_account(org.office, f"fold{n}", "접기")
    counts = (tallies.users_count(org.office), tallies.audit_count(org.office))
    rows_before = OfficeTally.objects.filter(office=org.office).count()

    removed = tallies.fold(org.office)

    kinds = OfficeTally.objects.filter(office=org.office).values_list("kind", flat=True)
    assert len(kinds) == len(set(kinds))  # one row per kind
    assert rows_before - removed == len(kinds)
    if connection.vendor == "postgresql":
        assert removed > 0  # a row per statement until folded
    else:
        assert removed == 0  # SQLite keeps one row per kind throughout
    assert (tallies.users_count(org.office), tallies.audit_count(org.office)) == counts
    assert_tallies_true(org.office)


@pytest.mark.django_db
def test_prune_folds_the_counts(org):
    record(office=org.office, action=AuditEvent.Action.LOGIN, actor=org.admin)
    record(office=org.office, action=AuditEvent.Action.LOGIN, actor=org.admin)
    call_command("prune_access_logs", stdout=io.StringIO())
    kinds = list(OfficeTally.objects.filter(office=org.office).values_list("kind", flat=True))
    assert len(kinds) == len(set(kinds))
    assert_tallies_true(org.office)


@pytest.mark.django_db
def test_deleting_an_office_deletes_its_counts(org):
    other = make_office("gone.test")
    make_account(other, "someone", "누군가")
    record(office=other, action=AuditEvent.Action.LOGIN)
    assert OfficeTally.objects.filter(office_id=other.pk).exists()
    other_pk = other.pk
    other.delete()
    assert not OfficeTally.objects.filter(office_id=other_pk).exists()
    assert_tallies_true(org.office)


@pytest.mark.django_db
def test_pages_show_the_kept_counts(org, client):
    AuditEvent.objects.bulk_create(
        AuditEvent(office=org.office, action=AuditEvent.Action.QUOTA_CHANGE, actor=org.admin)
        for _ in range(60)
    )
    client.force_login(org.admin)
    users_url = f"/{org.office.domain}/manage/users/"
    audit_url = f"/{org.office.domain}/manage/audit/"
    users = client.get(users_url)
    assert users.context["page"].paginator.count == true_users(org.office)
    audit = client.get(audit_url)
    assert (
        audit.context["page"].paginator.count
        == AuditEvent.objects.filter(office=org.office).count()
    )
    usage = client.get(f"/{org.office.domain}/manage/mail/accounts/")
    assert usage.context["page_obj"].paginator.count == tallies.listing_count(org.office) > 0
    quota = client.get(audit_url, {"action": "quota_change"})
    assert quota.context["page"].paginator.count == 60
    assert quota.context["page"].paginator.num_pages == 2
    # A search or a day is still counted on the rows.
    searched = client.get(users_url, {"q": "kim"})
    assert searched.context["page"].paginator.count == 1


# -- two writers at once (PostgreSQL: a real second connection) ---------------


@pytest.mark.django_db(transaction=True)
def test_an_open_transaction_writing_events_does_not_block_another(org):
    if connection.vendor != "postgresql":
        pytest.skip("SQLite has one writer at a time whatever is counted")
    holding = threading.Event()
    release = threading.Event()
    errors: list[BaseException] = []

    def long_import():
        # Like the importer: a transaction that writes events and stays open.
        try:
            with transaction.atomic():
                AuditEvent.objects.bulk_create(
                    AuditEvent(office=org.office, action=AuditEvent.Action.ACCESS_FLAGGED)
                    for _ in range(3)
                )
                holding.set()
                release.wait(30)
        except BaseException as error:  # noqa: BLE001 -- reported below
            errors.append(error)
        finally:
            connections.close_all()

    thread = threading.Thread(target=long_import)
    thread.start()
    try:
        assert holding.wait(30)
        # An admin's action meanwhile: refused at once if it had to wait
        # for the import's lock, instead of hanging.
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SET LOCAL lock_timeout = '1s'")
            record(office=org.office, action=AuditEvent.Action.LOGIN, actor=org.admin)
            make_account(org.office, "while.importing", "가져오는중")
    finally:
        release.set()
        thread.join(30)
    assert not errors
    assert_tallies_true(org.office)
    assert tallies.audit_count(org.office, AuditEvent.Action.ACCESS_FLAGGED) == 3


# -- migration 0014 ---------------------------------------------------------------


BEFORE = [("accounts", "0013_listing_access_flag")]
AFTER = [("accounts", "0014_office_tallies")]


@pytest.mark.django_db(transaction=True)
def test_migration_counts_the_rows_already_there():
    old = migrate_to(BEFORE)
    OldOffice = old.get_model("accounts", "Office")
    OldAccount = old.get_model("accounts", "Account")
    OldEvent = old.get_model("accounts", "AuditEvent")
    office = OldOffice.objects.create(domain="fill.test", name="Fill")
    for n in range(4):
        OldAccount.objects.create(
            office=office,
            login_id=f"u{n}",
            email=f"u{n}@fill.test",
            name="U",
            password="!",
            deleted_at=timezone.now() if n == 0 else None,
        )
    OldEvent.objects.bulk_create(
        [OldEvent(office=office, action="login") for _ in range(3)]
        + [OldEvent(office=office, action="quota_change")]
    )
    try:
        migrate_to(AFTER)
        filled = Office.objects.get(pk=office.pk)
        assert tallies.users_count(filled) == 3
        assert tallies.audit_count(filled) == 4
        assert tallies.audit_count(filled, "login") == 3
        # The triggers are there: a new event counts.
        AuditEvent.objects.create(office=filled, action="login")
        assert tallies.audit_count(filled, "login") == 4

        migrate_to(BEFORE)
        assert "accounts_officetally" not in connection.introspection.table_names()
        AuditEvent.objects.filter(office_id=office.pk).delete()  # no trigger left to fail
    finally:
        call_command("migrate", verbosity=0)


# -- the accounts' Hangul pieces (사용자 관리's search of a syllable or two) -----


def gram_count(office, term: str) -> int:
    return tallies.users_count_known(office, term)


def like_count(office, term: str) -> int:
    from django.db.models import Q

    return (
        Account.objects.filter(office=office, deleted_at__isnull=True)
        .filter(Q(name__icontains=term) | Q(login_id__icontains=term))
        .count()
    )


TERMS = ["김", "민", "김민", "민준", "서", "이서", "관리", "자", "ㄱ", "é"]


def assert_grams_true(office) -> None:
    for term in TERMS:
        assert gram_count(office, term) == like_count(office, term), term


@pytest.mark.django_db
def test_syllable_counts_follow_every_change_of_the_accounts(org):
    other = make_office("other.test")
    make_account(other, "kim.other", "김다른")
    assert gram_count(org.office, "김") == 1  # 김민준 (the other office's is not counted)
    assert_grams_true(org.office)

    kim2 = make_account(org.office, "kim.two", "김민지")
    Account.objects.bulk_create(
        Account(office=org.office, login_id=f"bulk{n}", email=f"bulk{n}@x", name=f"김서{n}")
        for n in range(4)
    )
    assert gram_count(org.office, "김") == 6
    assert gram_count(org.office, "김서") == 4
    assert_grams_true(org.office)

    # A rename drops the old pieces and adds the new; a repeated syllable
    # counts the account once.
    Account.objects.filter(pk=kim2.pk).update(name="박민박")
    assert gram_count(org.office, "김") == 5
    assert gram_count(org.office, "박") == like_count(org.office, "박")
    # Updates of other columns leave them alone.
    Account.objects.filter(office=org.office).update(status=Account.Status.ACTIVE)
    assert_grams_true(org.office)

    # Deleted users are not on the page, nor counted; restored ones are again.
    kim2.refresh_from_db()
    account_delete(actor=org.admin, account=kim2)
    assert gram_count(org.office, "박") == like_count(org.office, "박")
    kim2.refresh_from_db()
    account_restore(actor=org.admin, account=kim2)
    assert_grams_true(org.office)
    Account.objects.filter(login_id="bulk0", office=org.office).delete()
    Account.objects.filter(pk=kim2.pk).update(office=other)
    assert_grams_true(org.office)
    assert_grams_true(other)


@pytest.mark.django_db
def test_users_page_counts_a_syllable_search_on_the_pieces(org, client):
    from accounts.views.users import USERS_PAGE_SIZE

    Account.objects.bulk_create(
        Account(office=org.office, login_id=f"kim{n}", email=f"kim{n}@x", name=f"김{n:03}")
        for n in range(USERS_PAGE_SIZE + 5)
    )
    client.force_login(org.admin)
    url = f"/{org.office.domain}/manage/users/"
    first = client.get(url, {"q": "김"}).context["page"]
    assert first.paginator.count == USERS_PAGE_SIZE + 6  # and 김민준
    assert first.paginator.num_pages == 2
    second = client.get(url, {"q": "김", "page": 2}).context["page"]
    shown = [a.login_id for a in [*first.object_list, *second.object_list]]
    assert sorted(shown) == sorted(
        Account.objects.filter(office=org.office, name__contains="김").values_list(
            "login_id", flat=True
        )
    )


BEFORE_GRAMS = [("accounts", "0014_office_tallies")]
AFTER_GRAMS = [("accounts", "0015_account_grams")]


@pytest.mark.django_db(transaction=True)
def test_migration_gives_the_accounts_already_there_their_pieces():
    old = migrate_to(BEFORE_GRAMS)
    OldOffice = old.get_model("accounts", "Office")
    OldAccount = old.get_model("accounts", "Account")
    office = OldOffice.objects.create(domain="grams.test", name="Grams")
    for n, (name, deleted) in enumerate([("김민준", False), ("김서연", False), ("김삭제", True)]):
        OldAccount.objects.create(
            office=office,
            login_id=f"u{n}",
            email=f"u{n}@grams.test",
            name=name,
            password="!",
            deleted_at=timezone.now() if deleted else None,
        )
    try:
        migrate_to(AFTER_GRAMS)
        filled = Office.objects.get(pk=office.pk)
        assert gram_count(filled, "김") == 2
        assert gram_count(filled, "서연") == 1
        assert gram_count(filled, "삭제") == 0
        assert_grams_true(filled)
    finally:
        call_command("migrate", verbosity=0)


# -- three-character searches counted on the listing's pieces -------------------

THREE = ["kim", "KIM", "lee", "min", "sal", "les", "김민준", "민준", "ale", "a.b", "%_%", "x y"]


def list_count(office, term: str) -> int:
    from accounts.selectors import usage_page

    return usage_page(office, {"q": term}).filtered_count


def plain_count(office, term: str) -> int:
    """The listed accounts whose name, ID or sub-account address contains
    ``term``, matched with LIKE alone."""
    from django.db.models import Exists, OuterRef, Q

    from accounts.models import Address, MailListing

    by_address = Address.objects.filter(
        account_id=OuterRef("account_id"), folder__isnull=False, local_part__icontains=term
    )
    return (
        MailListing.objects.filter(office=office)
        .filter(Q(name__icontains=term) | Q(login_id__icontains=term) | Exists(by_address))
        .count()
    )


def assert_three_true(office) -> None:
    from accounts.models import ListingTrigram

    for term in THREE:
        expected = plain_count(office, term)
        assert list_count(office, term) == expected, term
        if len(term) == 3:
            pieces = ListingTrigram.objects.filter(office=office, gram=term.upper())
            assert pieces.count() == expected, term


@pytest.mark.django_db
def test_three_character_searches_count_the_pieces_after_every_change(org):
    from accounts.models import ListingTrigram, Mailbox
    from accounts.services import mailbox_create
    from subaccounts.services import subaccount_add, subaccount_delete

    assert ListingTrigram.objects.filter(office=org.office).exists()
    assert list_count(org.office, "kim") == 1  # minjun.kim
    assert_three_true(org.office)

    subaccount_add(actor=None, owner=org.lee, local_part="sales")
    subaccount_add(actor=None, owner=org.lee, local_part="kimchi")
    assert list_count(org.office, "kim") == 2  # and 이서연 by her sub-account
    assert list_count(org.office, "sal") == plain_count(org.office, "sal") >= 1
    subaccount_delete(actor=None, owner=org.lee, local_part="kimchi")
    assert list_count(org.office, "kim") == 1
    assert_three_true(org.office)

    # Renames, a new listed account, a mailbox gone, a user deleted.
    Account.objects.filter(pk=org.kim.pk).update(login_id="minjun.lee", name="이민준")
    new = make_account(org.office, "alex.kim", "알렉스")
    assert list_count(org.office, "kim") == 1  # alex.kim only
    assert_three_true(org.office)
    Mailbox.objects.filter(account=new).delete()
    assert list_count(org.office, "kim") == 0
    mailbox_create(account=new)
    assert list_count(org.office, "kim") == 1
    account_delete(actor=org.admin, account=org.lee)
    assert list_count(org.office, "sal") == plain_count(org.office, "sal")
    assert_three_true(org.office)


# -- migration 0018: the usage list's total -----------------------------------

BEFORE_LISTING = [("accounts", "0017_audit_person_indexes_partial")]
AFTER_LISTING = [("accounts", "0018_listing_tally")]


@pytest.mark.django_db(transaction=True)
def test_migration_counts_the_listed_accounts_already_there():
    old = migrate_to(BEFORE_LISTING)
    OldOffice = old.get_model("accounts", "Office")
    OldAccount = old.get_model("accounts", "Account")
    OldMailbox = old.get_model("accounts", "Mailbox")
    office = OldOffice.objects.create(domain="listed.test", name="Listed")
    for n in range(4):
        account = OldAccount.objects.create(
            office=office, login_id=f"u{n}", email=f"u{n}@listed.test", name="U", password="!"
        )
        if n:  # the first uses no mail: not listed
            OldMailbox.objects.create(account=account, office=office, quota_bytes=1)
    try:
        migrate_to(AFTER_LISTING)
        filled = Office.objects.get(pk=office.pk)
        assert tallies.listing_count(filled) == 3
        Mailbox.objects.filter(office=filled).first().delete()  # the triggers are there
        assert tallies.listing_count(filled) == 2

        migrate_to(BEFORE_LISTING)
        assert not OfficeTally.objects.filter(kind=tallies.LISTING).exists()
        Mailbox.objects.filter(office=filled).delete()  # and gone again: nothing counts
        assert not OfficeTally.objects.filter(kind=tallies.LISTING).exists()
    finally:
        call_command("migrate", verbosity=0)
