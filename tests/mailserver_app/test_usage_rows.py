"""Dovecot's usage rows (quota_clone) reach the mailboxes through triggers."""

from __future__ import annotations

import pytest
from django.db import connection

from accounts.models import Mailbox
from mailserver import usage_triggers
from mailserver.models import MailUsage

pytestmark = pytest.mark.django_db


def upsert(username: str, size: int, messages: int) -> None:
    """What Dovecot's dict-sql sends for quota_clone's two keys."""
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO mailserver_mailusage (username, bytes, messages) VALUES (%s, %s, %s) "
            "ON CONFLICT (username) DO UPDATE SET bytes = excluded.bytes, "
            "messages = excluded.messages",
            [username, size, messages],
        )


def test_a_usage_row_sets_the_mailbox_counters(org, other):
    upsert("minjun.kim@gabiaedu.com", 12_345, 7)
    kim = Mailbox.objects.get(account=org.kim)
    assert (kim.used_bytes, kim.message_count) == (12_345, 7)
    upsert("minjun.kim@gabiaedu.com", 100, 1)
    kim.refresh_from_db()
    assert (kim.used_bytes, kim.message_count) == (100, 1)
    # Nobody else's mailbox moves; an unknown user changes nothing.
    assert Mailbox.objects.get(account=other.kim).used_bytes == 0
    upsert("nobody@gabiaedu.com", 5, 5)
    assert MailUsage.objects.count() == 2


@pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite's table rebuilds only")
def test_sqlite_triggers_step_aside_during_migrate_and_come_back(org):
    def triggers():
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = %s",
                [usage_triggers.TABLE],
            )
            return sorted(row[0] for row in cursor.fetchall())

    assert triggers() == ["mailserver_usage_ai", "mailserver_usage_au"]
    usage_triggers.set_aside_sqlite_triggers()
    assert triggers() == []
    # (Now a rebuild of accounts_mailbox, which altering it means, can
    # rename its new table into place.)
    usage_triggers.restore_sqlite_triggers()
    assert triggers() == ["mailserver_usage_ai", "mailserver_usage_au"]
    upsert("minjun.kim@gabiaedu.com", 42, 1)
    assert Mailbox.objects.get(account=org.kim).used_bytes == 42


@pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks: PostgreSQL")
@pytest.mark.django_db(transaction=True)
def test_a_mailbox_the_console_holds_locked_is_not_waited_for(org):
    """비우기 holds the mailbox row while Dovecot expunges; Dovecot's usage
    write (which the expunge waits for) must not wait for the console."""
    import threading
    import time

    from django.db import connections, transaction

    locked, release = threading.Event(), threading.Event()

    def console():
        with transaction.atomic():
            Mailbox.objects.select_for_update().get(account=org.kim)
            locked.set()
            release.wait(10)
        connections.close_all()

    thread = threading.Thread(target=console)
    thread.start()
    try:
        assert locked.wait(10)
        started = time.monotonic()
        upsert("minjun.kim@gabiaedu.com", 999, 9)
        waited = time.monotonic() - started
    finally:
        release.set()
        thread.join()
    assert waited < 2
    assert MailUsage.objects.get(username="minjun.kim@gabiaedu.com").bytes == 999
    assert Mailbox.objects.get(account=org.kim).used_bytes == 0  # left to the console
    # Unlocked, the next write goes through.
    upsert("minjun.kim@gabiaedu.com", 1000, 10)
    assert Mailbox.objects.get(account=org.kim).used_bytes == 1000
