"""Daily usage snapshots: one row per account and office per day, taken
again the same day without a duplicate, and the daily worker task."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.management import call_command

from accounts.models import AccessLog, Account, Mailbox
from reports.models import AccountUsageDay, CountrySignInDay, OfficeUsageDay
from reports.snapshots import take_snapshot

MB = 1024 * 1024
# 03:00 UTC is noon in Seoul: the office's day is 2026-11-10.
NOON = dt.datetime(2026, 11, 10, 3, 0, tzinfo=dt.UTC)
DAY = dt.date(2026, 11, 10)

pytestmark = pytest.mark.django_db


def usage(account: Account, used: int, messages: int = 0) -> None:
    Mailbox.objects.filter(account=account).update(used_bytes=used, message_count=messages)


def test_taking_the_same_day_twice_replaces_it(org):
    usage(org.kim, 100 * MB, 10)
    take_snapshot(org.office, now=NOON)
    usage(org.kim, 150 * MB, 12)
    take_snapshot(org.office, now=NOON + dt.timedelta(hours=5))

    rows = AccountUsageDay.objects.filter(office=org.office)
    # every account with a mailbox, once (nomail has none)
    assert rows.count() == 6
    assert set(rows.values_list("day", flat=True)) == {DAY}
    kim = rows.get(account=org.kim)
    assert (kim.used_bytes, kim.message_count) == (150 * MB, 12)
    office = OfficeUsageDay.objects.get(office=org.office)
    assert office.day == DAY
    assert office.used_bytes == 150 * MB
    assert office.message_count == 12
    assert office.mailboxes == 6


def test_the_command_is_idempotent_and_a_new_day_adds_rows(org, other, time_machine):
    time_machine.move_to(NOON, tick=False)
    call_command("snapshot_usage")
    call_command("snapshot_usage")
    assert AccountUsageDay.objects.filter(office=org.office).count() == 6
    assert OfficeUsageDay.objects.count() == 2  # both offices, once each
    time_machine.move_to(NOON + dt.timedelta(days=1), tick=False)
    call_command("snapshot_usage", domain=[org.office.domain])
    assert OfficeUsageDay.objects.filter(office=org.office).count() == 2
    assert OfficeUsageDay.objects.filter(office=other.office).count() == 1


def test_a_deleted_user_is_not_snapshotted(org):
    Account.objects.filter(pk=org.lee.pk).update(deleted_at=NOON)
    take_snapshot(org.office, now=NOON)
    assert not AccountUsageDay.objects.filter(account=org.lee).exists()


def test_growth_ranking_is_kept_with_the_day(org):
    usage(org.kim, 100 * MB)
    usage(org.lee, 100 * MB)
    usage(org.park, 500 * MB)
    take_snapshot(org.office, now=NOON - dt.timedelta(days=3))
    usage(org.kim, 400 * MB)  # +300 MB
    usage(org.lee, 150 * MB)  # +50 MB
    usage(org.park, 200 * MB)  # shrank: not ranked
    usage(org.admin, 20 * MB)  # grew from nothing
    snapshot = take_snapshot(org.office, now=NOON)
    ranking = snapshot.top_growth["7"]
    assert ranking == [[org.kim.pk, 300 * MB], [org.lee.pk, 50 * MB], [org.admin.pk, 20 * MB]]
    # the 30-day period starts at the first snapshot kept, three days back
    assert snapshot.top_growth["30"] == ranking


def test_sign_ins_are_counted_per_country_for_the_day_and_the_one_before(org):
    def log(at, country, ok=True):
        AccessLog.objects.create(
            office=org.office,
            account=org.kim,
            protocol="pop3",
            hour=at.replace(minute=0, second=0, microsecond=0),
            first_at=at,
            last_at=at,
            ip="211.234.10.20",
            country=country,
            succeeded=ok,
        )

    log(NOON, "KR")
    log(NOON - dt.timedelta(hours=1), "KR")
    log(NOON - dt.timedelta(hours=2), "US")
    log(NOON - dt.timedelta(hours=3), "US", ok=False)  # failures are not sign-ins
    log(NOON - dt.timedelta(days=1), "JP")
    take_snapshot(org.office, now=NOON)
    take_snapshot(org.office, now=NOON)
    counts = {
        (row.day, row.country): row.sign_ins
        for row in CountrySignInDay.objects.filter(office=org.office)
    }
    assert counts == {
        (DAY, "KR"): 2,
        (DAY, "US"): 1,
        (DAY - dt.timedelta(days=1), "JP"): 1,
    }


def test_history_older_than_the_report_is_dropped(org):
    take_snapshot(org.office, now=NOON - dt.timedelta(days=200))
    take_snapshot(org.office, now=NOON)
    assert set(OfficeUsageDay.objects.values_list("day", flat=True)) == {DAY}
    assert set(AccountUsageDay.objects.values_list("day", flat=True)) == {DAY}


def test_the_worker_keeps_one_daily_snapshot_queued(org):
    from django_tasks_db.models import DBTaskResult

    from reports.tasks import ensure_daily_snapshot_queued, snapshot_usage_daily

    waiting = DBTaskResult.objects.filter(
        task_path=snapshot_usage_daily.module_path, status="READY"
    )
    waiting.delete()
    ensure_daily_snapshot_queued(now=NOON)
    ensure_daily_snapshot_queued(now=NOON)
    assert waiting.count() == 1
    task = waiting.get()
    assert task.run_after > NOON
    # Running it takes every office's snapshot and queues the next day's.
    task.delete()
    snapshot_usage_daily.call()
    assert OfficeUsageDay.objects.filter(office=org.office).count() == 1
    assert waiting.count() == 1
