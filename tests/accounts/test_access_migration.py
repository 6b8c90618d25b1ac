"""Migration 0010 folds an existing one-row-per-login access log without
losing a login (on PostgreSQL into monthly partitions)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE = [("accounts", "0009_auditevent_actions_order")]
AFTER = [("accounts", "0010_access_folded")]


def test_existing_rows_are_folded_without_losing_a_login():
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    old = executor.loader.project_state(BEFORE).apps
    Office = old.get_model("accounts", "Office")
    Account = old.get_model("accounts", "Account")
    AccessLog = old.get_model("accounts", "AccessLog")
    office = Office.objects.create(domain="fold.test", name="Fold")
    account = Account.objects.create(
        office=office, login_id="kim", email="kim@fold.test", name="Kim", password="!"
    )
    base = dt.datetime(2025, 1, 31, 23, 0, tzinfo=dt.UTC)
    rows = []
    for minute in range(0, 120, 5):  # polling across an hour and a month boundary
        rows.append(("pop3", base + dt.timedelta(minutes=minute), "211.234.1.1", True))
    rows += [("smtp", base + dt.timedelta(minutes=7), "211.234.1.1", True)]
    rows += [("pop3", base + dt.timedelta(minutes=9), "8.8.8.8", False)]
    AccessLog.objects.bulk_create(
        AccessLog(
            office=office,
            account=account,
            protocol=protocol,
            at=at,
            ip=ip,
            country="KR",
            succeeded=ok,
            session_id=f"s{n}",
        )
        for n, (protocol, at, ip, ok) in enumerate(rows)
    )

    executor = MigrationExecutor(connection)
    executor.migrate(AFTER)
    try:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT protocol, hour, ip, succeeded, first_at, last_at, count "
                "FROM accounts_accesslog ORDER BY hour, protocol, ip"
            )
            folded = cursor.fetchall()
        assert sum(row[-1] for row in folded) == len(rows)
        assert len(folded) == 4  # pop3 in two hours, smtp, the failure
        assert sorted(row[-1] for row in folded) == [1, 1, 12, 12]
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT count(*) FROM accounts_accesslog_p202502 WHERE protocol = 'pop3'"
                )
                assert cursor.fetchone()[0] == 1  # February's hour in February's partition
    finally:
        call_command("migrate", verbosity=0)
