"""The importer's batches: a batch of many logins stores exactly what one
login at a time stores (rows, counts, last access, flags and their audit
events), and importing the same lines again adds nothing."""

from __future__ import annotations

import datetime as dt
import io
import zoneinfo

import pytest
import time_machine
from django.core.management import call_command
from django.db import connection

from accounts.importers import AccessLogImporter, import_access_log
from accounts.maillog import LogParser
from accounts.models import AccessImportPosition, AccessLog, AuditEvent, Mailbox

SEOUL = zoneinfo.ZoneInfo("Asia/Seoul")
NOW = dt.datetime(2025, 3, 15, 12, 0, tzinfo=SEOUL)
KR, KR_PHONE, JP, US = "211.234.10.20", "175.223.1.2", "133.242.1.2", "8.8.4.4"


def kst(day, hour, minute=0, second=0, micro=0):
    return dt.datetime(2025, 3, day, hour, minute, second, micro, tzinfo=SEOUL)


def login(user, at, ip, *, ok=True, session="", utc=False):
    # Some lines carry their time in UTC ("Z"), as another host might log.
    stamp = at.astimezone(dt.UTC).isoformat().replace("+00:00", "Z") if utc else at.isoformat()
    if ok:
        return (
            f"{stamp} mail dovecot: pop3-login: Login: user=<{user}>, method=PLAIN, "
            f"rip={ip}, lip=10.0.0.5, session=<{session or at.strftime('%d%H%M%S%f') + ip}>"
        )
    return (
        f"{stamp} mail dovecot: pop3-login: Aborted login (auth failed, 1 attempts in 2 secs): "
        f"user=<{user}>, method=PLAIN, rip={ip}, lip=10.0.0.5"
    )


def day_of_clients() -> list[str]:
    lines = []
    # Kim's desktop polls every five minutes for two hours, his phone twice
    # an hour; the log mixes the office's offset and UTC.
    for n in range(24):
        at = kst(13, 9) + dt.timedelta(minutes=5 * n, seconds=7)
        lines.append(login("minjun.kim", at, KR, utc=n % 3 == 0))
        if n % 6 == 2:
            lines.append(login("minjun.kim@gabiaedu.com", at + dt.timedelta(seconds=30), KR_PHONE))
    # A day later he travels: a new country, polled twelve times in an hour.
    for n in range(12):
        lines.append(login("minjun.kim", kst(14, 9, 5 * n, 1), JP))
    # Lee's password is tried 14 times in four minutes, some in the same
    # second (their fractions differ): one burst.
    for n in range(14):
        lines.append(login("seoyeon.lee", kst(14, 3, n // 4, 10, 1000 * n), US, ok=False))
    lines.append(login("seoyeon.lee", kst(14, 3, 30), KR))
    # The same line logged twice (two syslog daemons): counted once.
    lines.append(lines[5])
    return lines


def stored(office):
    rows = sorted(
        AccessLog.objects.filter(office=office).values_list(
            "account__login_id",
            "protocol",
            "hour",
            "ip",
            "country",
            "succeeded",
            "first_at",
            "last_at",
            "count",
            "flag",
        )
    )
    mailboxes = sorted(
        Mailbox.objects.filter(office=office).values_list(
            "account__login_id",
            "last_access_at",
            "last_access_protocol",
            "last_access_ip",
            "last_access_country",
            "access_flag",
            "access_flag_at",
            "access_countries",
        )
    )
    events = sorted(
        (e.target_id, e.at, sorted(e.data.items()))
        for e in AuditEvent.objects.filter(office=office, action=AuditEvent.Action.ACCESS_FLAGGED)
    )
    return rows, mailboxes, events


def forget_everything(office):
    AccessLog.objects.filter(office=office).delete()
    AuditEvent.objects.filter(office=office, action=AuditEvent.Action.ACCESS_FLAGGED).delete()
    AccessImportPosition.objects.filter(office=office).delete()
    Mailbox.objects.filter(office=office).update(
        last_access_at=None,
        last_access_protocol="",
        last_access_ip=None,
        last_access_country="",
        access_flag=None,
        access_flag_at=None,
        access_countries=None,
    )


def test_one_large_batch_stores_what_one_login_per_batch_stores(org):
    lines = day_of_clients()
    with time_machine.travel(NOW, tick=False):
        one_by_one = import_access_log(office=org.office, lines=lines, now=NOW, batch_size=1)
        expected = stored(org.office)
        forget_everything(org.office)
        together = import_access_log(office=org.office, lines=lines, now=NOW)

    assert stored(org.office) == expected
    assert (together.imported, together.duplicates, dict(together.flagged)) == (
        one_by_one.imported,
        one_by_one.duplicates,
        dict(one_by_one.flagged),
    )
    assert together.commits == 1
    assert one_by_one.commits == together.imported + together.duplicates
    # What the rows say, beyond being the same both ways.
    rows, mailboxes, events = expected
    assert together.imported == 24 + 4 + 12 + 15 and together.duplicates == 1
    desktop = [r for r in rows if r[0] == "minjun.kim" and r[3] == KR]
    assert [(r[2], r[6], r[7], r[8]) for r in desktop] == [
        (kst(13, 9), kst(13, 9, 0, 7), kst(13, 9, 55, 7), 12),
        (kst(13, 10), kst(13, 10, 0, 7), kst(13, 10, 55, 7), 12),
    ]
    travel = [r for r in rows if r[3] == JP]
    assert [(r[8], r[9]) for r in travel] == [(12, "new_country")]
    burst = [r for r in rows if r[0] == "seoyeon.lee" and not r[5]]
    assert [(r[6], r[7], r[8], r[9] != "") for r in burst] == [
        (kst(14, 3, 0, 10), kst(14, 3, 3, 10), 14, True)
    ]
    assert sorted(dict(e[2])["flag"] for e in events) == ["burst", "new_country"]
    kim = next(m for m in mailboxes if m[0] == "minjun.kim")
    assert kim[1:5] == (kst(14, 9, 55, 1), "pop3", JP, "JP")


def test_reading_the_same_file_again_adds_nothing_and_appended_lines_fold_in(org, tmp_path):
    path = tmp_path / "mail.log"
    lines = day_of_clients()[:-1]  # (a line logged twice is found within one run)
    path.write_text("".join(line + "\n" for line in lines[:30]), encoding="utf-8")

    def run():
        out = io.StringIO()
        with time_machine.travel(NOW, tick=False):
            call_command("import_maillog", "--domain", "gabiaedu.com", str(path), stdout=out)
        return out.getvalue()

    run()
    first = stored(org.office)
    again = run()
    assert "imported: 0\n" in again and stored(org.office) == first

    with path.open("a", encoding="utf-8") as handle:
        handle.writelines(line + "\n" for line in lines[30:])
    run()
    assert "imported: 0\n" in run()
    in_two_parts = stored(org.office)
    with time_machine.travel(NOW, tick=False):
        forget_everything(org.office)
        import_access_log(office=org.office, lines=lines, now=NOW)
    # The second part's lines of an hour already stored were added to its
    # rows: two imports (and repeats) store what one import of it all does.
    assert in_two_parts == stored(org.office)
    assert sum(row[8] for row in in_two_parts[0]) == 55


def test_the_parser_works_each_second_out_once_and_keeps_each_lines_fraction():
    parser = LogParser(now=NOW, time_zone=SEOUL, utc=True)
    text = "mail dovecot: pop3-login: Login: user=<a>, method=PLAIN, rip=1.2.3.4, lip=10.0.0.5"
    first = parser.parse(f"2025-03-14T09:01:02.250+09:00 {text}")
    second = parser.parse(f"2025-03-14T09:01:02.750+09:00 {text}")
    whole = parser.parse(f"2025-03-14T09:01:02+09:00 {text}")
    classic = parser.parse(f"Mar 14 09:01:02 {text}")

    assert first.at == kst(14, 9, 1, 2, 250_000) and first.at.tzinfo is dt.UTC
    assert second.at == kst(14, 9, 1, 2, 750_000)
    assert whole.at == classic.at == kst(14, 9, 1, 2) and classic.at.tzinfo is dt.UTC
    # Without utc, the same instants in the zone they were logged in.
    local = LogParser(now=NOW, time_zone=SEOUL)
    assert local.parse(f"Mar 14 09:01:02 {text}").at.tzinfo is SEOUL


@pytest.mark.django_db(transaction=True)
def test_batches_written_beside_the_parser_store_what_batches_written_in_turn_store():
    from tests.conftest import build_office

    org = build_office("gabiaedu.com")
    lines = day_of_clients()
    with time_machine.travel(NOW, tick=False):
        importer = AccessLogImporter(office=org.office, now=NOW, batch_size=3, background=False)
        importer.feed(lines)
        in_turn = importer.finish()
        expected = stored(org.office)
        forget_everything(org.office)
        importer = AccessLogImporter(office=org.office, now=NOW, batch_size=3)
        importer.feed(lines)
        beside = importer.finish()

    assert stored(org.office) == expected
    assert (beside.imported, beside.rows_written, beside.last_access_updated, beside.commits) == (
        in_turn.imported,
        in_turn.rows_written,
        in_turn.last_access_updated,
        in_turn.commits,
    )
    # PostgreSQL writes on the writer's own thread; SQLite in turn.
    assert importer.writer_used is (connection.vendor == "postgresql")


@pytest.mark.django_db(transaction=True)
def test_a_batch_that_fails_to_write_stops_the_import_and_a_new_run_loses_and_repeats_nothing(
    tmp_path, monkeypatch
):
    from accounts import importers
    from tests.conftest import build_office

    org = build_office("gabiaedu.com")
    path = tmp_path / "mail.log"
    lines = day_of_clients()[:-1]
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    written = importers.upsert_folds
    calls = []

    def fails_on_the_third_batch(rows):
        calls.append(len(rows))
        if len(calls) == 3:
            raise RuntimeError("the disk is full")
        return written(rows)

    def run():
        with time_machine.travel(NOW, tick=False):
            call_command(
                "import_maillog",
                "--domain",
                "gabiaedu.com",
                "--batch-size",
                "10",
                str(path),
                stdout=io.StringIO(),
            )

    monkeypatch.setattr(importers, "upsert_folds", fails_on_the_third_batch)
    with pytest.raises(RuntimeError, match="the disk is full"):
        run()
    logins = sum(row[8] for row in stored(org.office)[0])
    assert 0 < logins < len(lines)  # the first batches stayed, with their position
    monkeypatch.setattr(importers, "upsert_folds", written)
    run()
    resumed = stored(org.office)
    with time_machine.travel(NOW, tick=False):
        forget_everything(org.office)
        import_access_log(office=org.office, lines=lines, now=NOW)
    assert resumed == stored(org.office)
