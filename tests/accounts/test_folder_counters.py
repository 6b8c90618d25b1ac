"""Each folder's message count and size are counters kept by every write of
messages (delivery, import, 비우기, a sub-account's deletion moving its mail
to the inbox and deleting its folders), always equal to the folder's
messages; ``reconcile_usage`` finds and fixes a drifted one; migration 0012
fills them for the mail already stored."""

from __future__ import annotations

import io
import threading
import time

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.db.models import Count, Sum
from django.db.utils import IntegrityError

from accounts.importers import import_maildir
from accounts.mailstore import get_mail_store
from accounts.models import Folder, Mailbox, Message
from accounts.services import inbox_of, mailbox_empty, message_deliver
from subaccounts.services import subaccount_add, subaccount_delete
from tests.accounts.test_import_maildir import message, put
from tests.accounts.usage_data import bulk_deliver


def counted(mailbox: Mailbox) -> dict[str, tuple[int, int]]:
    """Each folder's (count, size) as its messages add up."""
    rows = (
        Message.objects.filter(mailbox=mailbox)
        .values("folder")
        .annotate(n=Count("pk"), size=Sum("size_bytes"))
    )
    found = {row["folder"]: (row["n"], row["size"]) for row in rows}
    return {f.name: found.get(f.pk, (0, 0)) for f in Folder.objects.filter(mailbox=mailbox)}


def stored(mailbox: Mailbox) -> dict[str, tuple[int, int]]:
    return {f.name: (f.message_count, f.size_bytes) for f in Folder.objects.filter(mailbox=mailbox)}


def assert_counters_true(mailbox: Mailbox) -> None:
    assert stored(mailbox) == counted(mailbox)
    # And together they are the mailbox's own counters.
    mailbox.refresh_from_db()
    values = stored(mailbox).values()
    assert sum(n for n, _ in values) == mailbox.message_count
    assert sum(size for _, size in values) == mailbox.used_bytes


@pytest.mark.django_db
def test_delivery_counts_the_message_in_its_folder(org):
    mailbox = org.kim.mailbox
    sent = Folder.objects.get(mailbox=mailbox, role=Folder.Role.SENT)
    for size in (100, 250, 4000):
        message_deliver(folder=inbox_of(mailbox), size_bytes=size)
    message_deliver(folder=sent, size_bytes=70)

    assert stored(mailbox)["Inbox"] == (3, 4350)
    assert stored(mailbox)["Sent"] == (1, 70)
    assert stored(mailbox)["Trash"] == (0, 0)
    assert_counters_true(mailbox)


@pytest.mark.django_db
def test_import_counts_each_folder_it_fills(org, tmp_path):
    mailbox = org.kim.mailbox
    message_deliver(folder=inbox_of(mailbox), size_bytes=5)  # already there
    sales = subaccount_add(actor=None, owner=org.kim, local_part="sales")
    put(tmp_path, "", "cur", "1.M1P1.mail,S=5000:2,S", message("one"))
    put(tmp_path, "", "new", "2.M2P2.mail,S=600", message("two"))
    put(tmp_path, ".INBOX.sales", "cur", "3.M3P3.mail,S=1200:2,S", message("order"))
    put(tmp_path, ".Projects.2024", "cur", "4.M4P4.mail,S=110:2,S", message("p24"))

    import_maildir(account=org.kim, path=tmp_path, append=True)

    figures = stored(mailbox)
    assert figures["Inbox"] == (3, 5605)
    assert figures[sales.folder.name] == (1, 1200)
    assert figures["2024"] == (1, 110)
    assert figures["Projects"] == (0, 0)  # its own messages only, not its child's
    assert_counters_true(mailbox)


@pytest.mark.django_db
def test_emptying_the_mailbox_zeroes_every_folder(org):
    mailbox = org.kim.mailbox
    sales = subaccount_add(actor=None, owner=org.kim, local_part="sales")
    bulk_deliver(org.kim, 40, 1000)
    bulk_deliver(org.kim, 5, 300, folder=sales.folder)
    message_deliver(folder=Folder.objects.get(mailbox=mailbox, role="trash"), size_bytes=9)

    mailbox_empty(account=org.kim, actor=org.admin)

    assert set(stored(mailbox).values()) == {(0, 0)}
    assert_counters_true(mailbox)


@pytest.mark.django_db
def test_deleting_a_sub_account_moves_its_folders_counters_to_the_inbox(org):
    mailbox = org.kim.mailbox
    bulk_deliver(org.kim, 7, 100)
    sales = subaccount_add(actor=None, owner=org.kim, local_part="sales")
    # A folder the user made inside the sub-account's: it goes too.
    below = get_mail_store().create_folder(
        mailbox, parent=sales.folder, name="2024", role=Folder.Role.CUSTOM
    )
    bulk_deliver(org.kim, 30, 2000, folder=sales.folder)
    message_deliver(folder=below, size_bytes=555)
    assert_counters_true(mailbox)

    assert subaccount_delete(actor=org.admin, owner=org.kim, local_part="sales") == 31

    assert stored(mailbox)["Inbox"] == (38, 700 + 60_000 + 555)
    assert not Folder.objects.filter(pk__in=[sales.folder.pk, below.pk]).exists()
    assert_counters_true(mailbox)


@pytest.mark.django_db
def test_the_sub_account_dialog_reads_the_folders_counters(org, django_assert_num_queries):
    sales = subaccount_add(actor=None, owner=org.kim, local_part="sales")
    below = get_mail_store().create_folder(
        org.kim.mailbox, parent=sales.folder, name="old", role=Folder.Role.CUSTOM
    )
    bulk_deliver(org.kim, 300, 10, folder=sales.folder)
    message_deliver(folder=below, size_bytes=7)

    with django_assert_num_queries(1) as captured:
        usage = get_mail_store().folder_tree_usage(sales.folder)
    assert (usage.messages, usage.bytes) == (301, 3007)
    assert "accounts_message" not in captured.captured_queries[0]["sql"]


@pytest.mark.django_db
def test_the_database_refuses_a_negative_counter(org):
    inbox = inbox_of(org.kim.mailbox)
    with pytest.raises(IntegrityError):
        Folder.objects.filter(pk=inbox.pk).update(message_count=-1)


# -- reconcile_usage ------------------------------------------------------------


def reconcile(*args) -> str:
    out = io.StringIO()
    call_command("reconcile_usage", *args, stdout=out)
    return out.getvalue()


@pytest.mark.django_db
def test_reconcile_reports_and_fixes_a_drifted_folder(org):
    mailbox = org.kim.mailbox
    inbox = inbox_of(mailbox)
    bulk_deliver(org.kim, 4, 250)
    # The mailbox's counters are right; only the folders' drifted.
    Folder.objects.filter(pk=inbox.pk).update(message_count=9, size_bytes=1)
    Folder.objects.filter(mailbox=mailbox, role="sent").update(message_count=2)

    report = reconcile()
    assert "drift: minjun.kim@gabiaedu.com folder Inbox: message_count: stored 9, actual 4" in (
        report
    )
    assert "folder Inbox: size_bytes: stored 1, actual 1000" in report
    assert "folder Sent: message_count: stored 2, actual 0" in report
    assert "with drift: 1; fixed: 0" in report
    assert stored(mailbox)["Inbox"] == (9, 1)  # reported, not changed

    assert "fixed: 1" in reconcile("--fix")
    assert_counters_true(mailbox)
    assert "with drift: 0" in reconcile()


# -- concurrency (real threads, as in tests/subaccounts/test_concurrency.py) --


def _shared_database_or_skip():
    if connection.vendor == "sqlite" and connection.is_in_memory_db():
        pytest.skip(
            "the in-memory SQLite test database cannot be shared by concurrent "
            "connections; run on PostgreSQL (make test-pg) or with SQLITE_TEST_PATH set"
        )


@pytest.mark.django_db(transaction=True)
def test_deliveries_at_once_into_one_folder_all_count(org):
    from tests.subaccounts.test_concurrency import THREADS, run_together

    _shared_database_or_skip()
    inbox = inbox_of(org.kim.mailbox)
    results = run_together(
        [lambda n=n: message_deliver(folder=inbox, size_bytes=100 + n) for n in range(THREADS)]
    )

    assert not [r for r in results if isinstance(r, BaseException)]
    inbox.refresh_from_db()
    assert (inbox.message_count, inbox.size_bytes) == (THREADS, sum(range(100, 100 + THREADS)))
    assert_counters_true(org.kim.mailbox)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("round_", range(3))
def test_emptying_while_a_sub_account_is_deleted_neither_fails(org, round_):
    """Both change the same folders' counters (and a delivery the inbox's),
    released together in every order: each succeeds and the counters end
    equal to the messages left. (The interleaving that would deadlock is
    forced in the next test.)"""
    from tests.subaccounts.test_concurrency import run_together

    _shared_database_or_skip()
    sales = subaccount_add(actor=None, owner=org.kim, local_part="sales")
    bulk_deliver(org.kim, 200, 10, folder=sales.folder)
    bulk_deliver(org.kim, 50, 10)
    calls = [
        lambda: mailbox_empty(account=org.kim, actor=org.admin),
        lambda: subaccount_delete(actor=org.admin, owner=org.kim, local_part="sales"),
        lambda: message_deliver(folder=inbox_of(org.kim.mailbox), size_bytes=3),
    ]
    calls = calls[round_:] + calls[:round_]

    results = run_together(calls)

    assert not [r for r in results if isinstance(r, BaseException)], results
    assert not Folder.objects.filter(pk=sales.folder.pk).exists()
    assert_counters_true(org.kim.mailbox)


@pytest.mark.django_db(transaction=True)
def test_emptying_waits_for_a_sub_account_delete_holding_its_folders(org, monkeypatch):
    """The interleaving that would deadlock: the delete has locked the
    sub-account's folders and not yet moved their mail when 비우기 starts.
    Were 비우기 to delete those messages (row locks) and then wait for the
    folder rows to zero them, the delete's move would wait for those very
    messages. Both take the mailbox row first, so 비우기 waits instead."""
    if connection.vendor != "postgresql":
        pytest.skip("SQLite runs one writing transaction at a time: nothing interleaves")
    sales = subaccount_add(actor=None, owner=org.kim, local_part="sales")
    bulk_deliver(org.kim, 20, 10, folder=sales.folder)
    bulk_deliver(org.kim, 5, 10)
    folders_locked = threading.Event()
    get = Folder.objects.get

    def slow_inbox_lookup(*args, **kwargs):
        # Called by the move right after it locked the folders.
        if kwargs.get("role") == Folder.Role.INBOX:
            folders_locked.set()
            time.sleep(2)  # room for 비우기 to get as far as it can
        return get(*args, **kwargs)

    monkeypatch.setattr(Folder.objects, "get", slow_inbox_lookup)
    results: dict[str, object] = {}

    def run(name, call, wait=None):
        try:
            if wait is not None:
                assert wait.wait(timeout=30)
            results[name] = call()
        except BaseException as error:  # noqa: BLE001 - reported to the test
            results[name] = error
        finally:
            connection.close()

    threads = [
        threading.Thread(
            target=run,
            args=(
                "delete",
                lambda: subaccount_delete(actor=None, owner=org.kim, local_part="sales"),
            ),
        ),
        threading.Thread(
            target=run,
            args=("empty", lambda: mailbox_empty(account=org.kim, actor=org.admin), folders_locked),
        ),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert results["delete"] == 20, results
    assert results["empty"].messages == 25, results  # the moved mail too: it came after
    assert_counters_true(org.kim.mailbox)


# -- migration 0012 -------------------------------------------------------------

BEFORE = [("accounts", "0011_listing_audit_indexes")]
AFTER = [("accounts", "0012_folder_counters")]


@pytest.mark.django_db(transaction=True)
def test_migration_fills_the_counters_of_mail_already_stored():
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    old = executor.loader.project_state(BEFORE).apps
    Office = old.get_model("accounts", "Office")
    Account = old.get_model("accounts", "Account")
    OldMailbox = old.get_model("accounts", "Mailbox")
    OldFolder = old.get_model("accounts", "Folder")
    OldMessage = old.get_model("accounts", "Message")
    office = Office.objects.create(domain="fill.test", name="Fill")
    account = Account.objects.create(
        office=office, login_id="kim", email="kim@fill.test", name="Kim", password="!"
    )
    mailbox = OldMailbox.objects.create(account=account, office=office)
    inbox = OldFolder.objects.create(office=office, mailbox=mailbox, name="Inbox", role="inbox")
    sent = OldFolder.objects.create(office=office, mailbox=mailbox, name="Sent", role="sent")
    empty = OldFolder.objects.create(office=office, mailbox=mailbox, name="Trash", role="trash")
    OldMessage.objects.bulk_create(
        [OldMessage(office=office, mailbox=mailbox, folder=inbox, size_bytes=s) for s in (1, 2, 3)]
        + [OldMessage(office=office, mailbox=mailbox, folder=sent, size_bytes=1000)]
    )

    try:
        executor = MigrationExecutor(connection)
        executor.migrate(AFTER)
        figures = dict(
            Folder.objects.filter(pk__in=[inbox.pk, sent.pk, empty.pk]).values_list(
                "name", "message_count"
            )
        )
        sizes = dict(
            Folder.objects.filter(pk__in=[inbox.pk, sent.pk, empty.pk]).values_list(
                "name", "size_bytes"
            )
        )
        assert figures == {"Inbox": 3, "Sent": 1, "Trash": 0}
        assert sizes == {"Inbox": 6, "Sent": 1000, "Trash": 0}
        # The columns carry the CHECK the model declares.
        with pytest.raises(IntegrityError):
            Folder.objects.filter(pk=inbox.pk).update(size_bytes=-5)

        # Reversible: back to 0011 drops the columns, forward fills again.
        executor = MigrationExecutor(connection)
        executor.migrate(BEFORE)
        with connection.cursor() as cursor:
            columns = {
                c.name
                for c in connection.introspection.get_table_description(cursor, "accounts_folder")
            }
        assert "message_count" not in columns and "size_bytes" not in columns
        executor = MigrationExecutor(connection)
        executor.migrate(AFTER)
        assert Folder.objects.get(pk=inbox.pk).message_count == 3
    finally:
        call_command("migrate", verbosity=0)
