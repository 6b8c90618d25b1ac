"""manage.py prune_access_logs and reconcile_usage."""

from __future__ import annotations

import datetime as dt
import io

import pytest
import time_machine
from django.core.management import CommandError, call_command
from django.db import connection
from django.utils import timezone

from accounts import access_partitions
from accounts.models import AccessLog, Mailbox
from accounts.services import inbox_of, message_deliver

NOW = dt.datetime(2025, 6, 1, 3, 0, tzinfo=dt.UTC)


def access(account, days_ago: float, *, succeeded=True, protocol="pop3", ip="211.234.1.1"):
    row = AccessLog.login(
        office=account.office,
        account=account,
        protocol=protocol,
        at=NOW - dt.timedelta(days=days_ago),
        ip=ip,
        country="KR",
        succeeded=succeeded,
    )
    row.save()
    return row


def run(command, *args) -> str:
    out, err = io.StringIO(), io.StringIO()
    with time_machine.travel(NOW, tick=False):
        call_command(command, *args, stdout=out, stderr=err)
    return out.getvalue() + err.getvalue()


@pytest.mark.skipif(connection.vendor == "postgresql", reason="whole months on PostgreSQL")
def test_prune_deletes_only_rows_older_than_the_kept_days(org, other):
    kept = [access(org.kim, 1), access(org.kim, 99.9), access(other.kim, 50)]
    for days in (100.1, 150, 400):
        access(org.kim, days)
        access(other.lee, days)

    output = run("prune_access_logs", "--batch-size", "2")

    assert set(AccessLog.objects.values_list("pk", flat=True)) == {row.pk for row in kept}
    assert "deleted: 6 access rows older than 100 days" in output


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL partitions")
def test_prune_drops_whole_months_and_keeps_the_rest(org, other):
    # NOW is 1 June 2025: 100 days back is 21 February. January and older
    # months end before it and go whole; February holds the cutoff and stays.
    with time_machine.travel(NOW, tick=False):
        access_partitions.ensure_months(
            [dt.datetime(2024, 4, 1, tzinfo=dt.UTC), dt.datetime(2025, 1, 1, tzinfo=dt.UTC)]
            + [dt.datetime(2025, month, 1, tzinfo=dt.UTC) for month in range(2, 7)]
        )
    kept = [access(org.kim, 1), access(org.kim, 99.9), access(other.kim, 50)]
    kept += [access(org.kim, 100.1), access(other.lee, 100.1)]  # in February
    for days in (150, 400):
        access(org.kim, days)
        access(other.lee, days)
    stray = access(org.kim, 800)  # a month that has no partition: the default one
    with connection.cursor() as cursor:
        # (The rows were written in this test's transaction: their deferred
        # foreign-key checks would keep a table from being dropped in it.)
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")

    output = run("prune_access_logs", "--batch-size", "2")

    assert set(AccessLog.objects.values_list("pk", flat=True)) == {row.pk for row in kept}
    assert stray.pk not in set(AccessLog.objects.values_list("pk", flat=True))
    months = access_partitions.existing_months()
    names = set(months.values())
    assert "accounts_accesslog_p202501" not in names and "accounts_accesslog_p202404" not in names
    assert {"accounts_accesslog_p202502", "accounts_accesslog_p202508"} <= names  # ahead too
    assert "dropped partition accounts_accesslog_p202501" in output
    assert "deleted: 1 access rows" in output  # the stray, row by row


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL partitions")
def test_a_new_month_takes_its_rows_over_from_the_default_partition(org):
    row = access(org.kim, 900)  # no partition for that month yet
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM accounts_accesslog_default")
        assert cursor.fetchone()[0] == 1

    assert access_partitions.ensure_for([row.hour]) == 1

    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM accounts_accesslog_default")
        assert cursor.fetchone()[0] == 0
        cursor.execute(
            f"SELECT count(*) FROM {access_partitions.partition_name(access_partitions.month_start(row.hour))}"
        )
        assert cursor.fetchone()[0] == 1
    assert AccessLog.objects.get(pk=row.pk).count == 1


def test_prune_can_keep_another_window_for_one_office(org, other):
    access(org.kim, 40)
    access(org.kim, 10)
    access(other.kim, 40)

    output = run("prune_access_logs", "--keep-days", "30", "--domain", "gabiaedu.com")

    assert AccessLog.objects.filter(account=org.kim).count() == 1
    assert AccessLog.objects.filter(account=other.kim).count() == 1
    assert "deleted: 1 access rows" in output
    assert "less than the 3-month access history" in output


def test_prune_refuses_nonsense(org):
    with pytest.raises(CommandError, match="at least 1"):
        run("prune_access_logs", "--keep-days", "0")
    with pytest.raises(CommandError, match="No office"):
        run("prune_access_logs", "--domain", "nowhere.kr")


@pytest.fixture
def drifted(org):
    """Kim: counters wrong and last access stale; Lee: all true."""
    inbox = inbox_of(org.kim.mailbox)
    for size in (1000, 2000, 3000):
        message_deliver(folder=inbox, size_bytes=size)
    message_deliver(folder=inbox_of(org.lee.mailbox), size_bytes=500)
    newest = access(org.kim, 2, protocol="smtp", ip="8.8.8.8")
    access(org.kim, 1, succeeded=False)  # a failure never counts
    access(org.kim, 5)
    Mailbox.objects.filter(account=org.kim).update(
        used_bytes=999, message_count=1, last_access_at=NOW - dt.timedelta(days=5)
    )
    lee_access = access(org.lee, 3)
    Mailbox.objects.filter(account=org.lee).update(
        last_access_at=lee_access.at,
        last_access_protocol="pop3",
        last_access_ip=lee_access.ip,
        last_access_country="KR",
    )
    return newest


def test_reconcile_reports_every_drift_and_changes_nothing(org, drifted):
    output = run("reconcile_usage")

    assert "drift: minjun.kim@gabiaedu.com used_bytes: stored 999, actual 6000" in output
    assert "drift: minjun.kim@gabiaedu.com message_count: stored 1, actual 3" in output
    assert (
        f"drift: minjun.kim@gabiaedu.com last_access_at: stored "
        f"{(NOW - dt.timedelta(days=5)).isoformat()}, actual {drifted.at.isoformat()}"
    ) in output
    assert "drift: minjun.kim@gabiaedu.com last_access_protocol: stored none, actual smtp" in output
    assert "seoyeon.lee" not in output
    assert "with drift: 1; fixed: 0" in output
    assert "run again with --fix" in output
    assert Mailbox.objects.get(account=org.kim).used_bytes == 999


def test_reconcile_fix_stores_the_recomputed_values(org, other, drifted):
    output = run("reconcile_usage", "--fix", "--domain", "gabiaedu.com")

    kim = Mailbox.objects.get(account=org.kim)
    assert (kim.used_bytes, kim.message_count) == (6000, 3)
    assert (kim.last_access_at, kim.last_access_protocol, kim.last_access_ip) == (
        drifted.at,
        "smtp",
        "8.8.8.8",
    )
    assert "fixed: 1" in output
    assert "with drift: 0" in run("reconcile_usage")


def test_pruned_history_is_no_drift_but_a_phantom_recent_access_is(org):
    Mailbox.objects.filter(account=org.kim).update(
        last_access_at=NOW - dt.timedelta(days=200), last_access_protocol="pop3"
    )
    Mailbox.objects.filter(account=org.lee).update(
        last_access_at=NOW - dt.timedelta(days=3), last_access_protocol="pop3"
    )

    output = run("reconcile_usage", "--fix")

    assert "minjun.kim" not in output
    assert "drift: seoyeon.lee@gabiaedu.com last_access_at" in output
    assert Mailbox.objects.get(account=org.lee).last_access_at is None
    assert Mailbox.objects.get(account=org.kim).last_access_at == NOW - dt.timedelta(days=200)


def test_reconcile_of_a_consistent_demo_office_finds_nothing(db):
    from devtools.demo import seed_office

    seed_office(domain="demo.example", accounts=30, now=timezone.now())
    output = io.StringIO()
    call_command("reconcile_usage", stdout=output)
    assert "; with drift: 0;" in output.getvalue()


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL partitions")
def test_every_old_month_goes_in_one_drop(org):
    from django.test.utils import CaptureQueriesContext

    with time_machine.travel(NOW, tick=False):
        access_partitions.ensure_months(
            [dt.datetime(2024, month, 1, tzinfo=dt.UTC) for month in (10, 11, 12)]
            + [dt.datetime(2025, month, 1, tzinfo=dt.UTC) for month in range(1, 7)]
        )
    kept = [access(org.kim, 1), access(org.kim, 100.1)]
    for days in (150, 200, 230):  # January 2025, December and November 2024
        access(org.kim, days)
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")

    with CaptureQueriesContext(connection) as queries:
        output = run("prune_access_logs")

    drops = [q["sql"] for q in queries if q["sql"].startswith("DROP") or "DETACH" in q["sql"]]
    assert drops == [
        "DROP TABLE accounts_accesslog_p202410, accounts_accesslog_p202411, "
        "accounts_accesslog_p202412, accounts_accesslog_p202501"
    ]
    assert set(AccessLog.objects.values_list("pk", flat=True)) == {row.pk for row in kept}
    for name in ("p202410", "p202411", "p202412", "p202501"):
        assert f"dropped partition accounts_accesslog_{name}" in output
    assert "accounts_accesslog_p202502" in access_partitions.existing_months().values()
