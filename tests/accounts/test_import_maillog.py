"""manage.py import_maillog: every resulting login (folded by hour,
protocol, IP and result), idempotency, last access."""

from __future__ import annotations

import datetime as dt
import gzip
import io
import zoneinfo

import pytest
import time_machine
from django.core.management import CommandError, call_command

from accounts.importers import import_access_log
from accounts.models import AccessLog, Mailbox
from tests.accounts.mail_helpers import make_subaccount

SEOUL = zoneinfo.ZoneInfo("Asia/Seoul")
NOW = dt.datetime(2025, 3, 15, 12, 0, tzinfo=SEOUL)


def kst(*args) -> dt.datetime:
    return dt.datetime(*args, tzinfo=SEOUL)


# (line, what it must become): a row (ID, protocol, at, ip, country,
# succeeded, session id), or the counter it lands in.
LOG = [
    (
        "Mar 14 09:01:02 mail dovecot: pop3-login: Login: user=<minjun.kim@gabiaedu.com>, "
        "method=PLAIN, rip=211.234.10.20, lip=10.0.0.5, mpid=41230, TLS, "
        "session=<Z2Nq8rUAqtXT6goU>",
        (
            "minjun.kim",
            "pop3",
            kst(2025, 3, 14, 9, 1, 2),
            "211.234.10.20",
            "KR",
            True,
            "Z2Nq8rUAqtXT6goU",
        ),
    ),
    (
        "Mar  1 08:00:00 mail dovecot[1234]: pop3-login: Login: user=<seoyeon.lee>, "
        "method=LOGIN, rip=::ffff:8.8.4.4, lip=::ffff:10.0.0.5, mpid=41231, secured, "
        "session=<aB3dE5fG7hI9jK1l>",
        (
            "seoyeon.lee",
            "pop3",
            kst(2025, 3, 1, 8, 0, 0),
            "8.8.4.4",
            "US",
            True,
            "aB3dE5fG7hI9jK1l",
        ),
    ),
    (
        "Dec 31 23:59:59 mail dovecot: pop3-login: Login: user=<minjun.kim@gabiaedu.com>, "
        "method=PLAIN, rip=2001:e60:1234:5678::1, lip=2001:db8::25, mpid=3, TLS, "
        "session=<v6sessionAAAAAAA>",
        (
            "minjun.kim",
            "pop3",
            kst(2024, 12, 31, 23, 59, 59),
            "2001:e60:1234:5678::1",
            "KR",
            True,
            "v6sessionAAAAAAA",
        ),
    ),
    (
        "Mar 15 11:59:59 pop3-login: Info: Login: user=<MinJun.Kim@GabiaEdu.com>, "
        "method=PLAIN, rip=133.242.1.2, lip=10.0.0.5, mpid=5, TLS, session=<logfileformat001>",
        (
            "minjun.kim",
            "pop3",
            kst(2025, 3, 15, 11, 59, 59),
            "133.242.1.2",
            "JP",
            True,
            "logfileformat001",
        ),
    ),
    (
        "Mar 15 12:00:01 mail dovecot: pop3-login: Login: user=<minjun.kim@gabiaedu.com>, "
        "method=PLAIN, rip=211.234.10.21, lip=10.0.0.5, session=<futurelineAAAAAA>",
        (
            "minjun.kim",
            "pop3",
            kst(2024, 3, 15, 12, 0, 1),
            "211.234.10.21",
            "KR",
            True,
            "futurelineAAAAAA",
        ),
    ),
    (
        "2025-03-14T10:15:30.123456+09:00 mail dovecot[2211]: pop3-login: Logged in: "
        "user=<seoyeon.lee@gabiaedu.com>, method=PLAIN, rip=85.214.132.117, lip=192.0.2.10, "
        "mpid=9912, TLS, session=<Xy12Zw34Ab56Cd78>",
        (
            "seoyeon.lee",
            "pop3",
            kst(2025, 3, 14, 10, 15, 30),
            "85.214.132.117",
            "DE",
            True,
            "Xy12Zw34Ab56Cd78",
        ),
    ),
    # A sub-account's address counts for its owner.
    (
        "2025-03-14T01:20:00Z mail dovecot[2211]: pop3-login: Info: Logged in: "
        "session=<subAcctSession01>, method=PLAIN, user=<sales@gabiaedu.com>, "
        "rip=2406:5900:1::77, lip=192.0.2.10, mpid=9913, TLS",
        (
            "minjun.kim",
            "pop3",
            kst(2025, 3, 14, 10, 20),
            "2406:5900:1::77",
            "KR",
            True,
            "subAcctSession01",
        ),
    ),
    (
        "<22>1 2025-03-14T11:00:00.5+09:00 mail.gabiaedu.com dovecot 2211 - - pop3-login: "
        "Logged in: user=<jiho.park@gabiaedu.com>, method=PLAIN, rip=121.134.5.6, "
        "lip=10.0.0.5, session=<rfc5424sess00001>",
        (
            "jiho.park",
            "pop3",
            kst(2025, 3, 14, 11, 0, 0),
            "121.134.5.6",
            "KR",
            True,
            "rfc5424sess00001",
        ),
    ),
    (
        "<22>1 2025-03-14T11:05:00+09:00 mail.gabiaedu.com postfix/submission/smtpd 23456 - "
        '[meta sequenceId="7"] 4Z9X1C0A3F: client=unknown[211.234.10.20], '
        "sasl_method=PLAIN, sasl_username=minjun.kim@gabiaedu.com",
        ("minjun.kim", "smtp", kst(2025, 3, 14, 11, 5), "211.234.10.20", "KR", True, "4Z9X1C0A3F"),
    ),
    (
        "Mar 14 09:30:12 mail postfix/smtpd[23456]: 4F2B81C0A3F: client=unknown[1.11.2.3], "
        "sasl_method=LOGIN, sasl_username=seoyeon.lee",
        ("seoyeon.lee", "smtp", kst(2025, 3, 14, 9, 30, 12), "1.11.2.3", "KR", True, "4F2B81C0A3F"),
    ),
    (
        "Mar 14 09:31:00 mail postfix-out/smtps/smtpd[777]: 4dJ7Bs3ZQ1z9sVj: "
        "client=pc.example.net[2001:e60:aaaa::5]:51234, sasl_username=minjun.kim@gabiaedu.com, "
        "sasl_method=PLAIN",
        (
            "minjun.kim",
            "smtp",
            kst(2025, 3, 14, 9, 31),
            "2001:e60:aaaa::5",
            "KR",
            True,
            "4dJ7Bs3ZQ1z9sVj",
        ),
    ),
    (
        "Mar 14 09:40:00 mail postfix/submission/smtpd[23457]: warning: unknown[175.223.10.1]: "
        "SASL PLAIN authentication failed: (reason unavailable), "
        "sasl_username=seoyeon.lee@gabiaedu.com",
        ("seoyeon.lee", "smtp", kst(2025, 3, 14, 9, 40), "175.223.10.1", "KR", False, ""),
    ),
    (
        "Mar 14 09:41:00 mail postfix/smtpd[23458]: warning: unknown[36.110.1.2]: "
        "SASL LOGIN authentication failed: UGFzc3dvcmQ6",
        "no user",
    ),
    (
        "Mar 14 09:42:00 mail dovecot: pop3-login: Aborted login (auth failed, 1 attempts in "
        "2 secs): user=<minjun.kim@gabiaedu.com>, method=PLAIN, rip=113.160.1.2, lip=10.0.0.5, "
        "TLS, session=<failSession0001>",
        (
            "minjun.kim",
            "pop3",
            kst(2025, 3, 14, 9, 42),
            "113.160.1.2",
            "VN",
            False,
            "failSession0001",
        ),
    ),
    (
        "Mar 14 09:43:00 mail dovecot: pop3-login: Disconnected (auth failed, 3 attempts in 15 "
        "secs): user=<seoyeon.lee>, method=PLAIN, rip=10.1.2.3, lip=10.0.0.5, "
        "session=<failSession0002>",
        ("seoyeon.lee", "pop3", kst(2025, 3, 14, 9, 43), "10.1.2.3", "", False, "failSession0002"),
    ),
    (
        "2025-03-14T09:44:00+09:00 mail dovecot[2211]: pop3-login: Login aborted: Connection "
        "closed (auth failed, 1 attempts in 2 secs) (auth_failed): "
        "user=<minjun.kim@gabiaedu.com>, method=PLAIN, rip=64.233.160.5, lip=10.0.0.5, TLS, "
        "session=<failSession0003>",
        (
            "minjun.kim",
            "pop3",
            kst(2025, 3, 14, 9, 44),
            "64.233.160.5",
            "US",
            False,
            "failSession0003",
        ),
    ),
    (
        "Mar 14 09:45:00 mail dovecot: pop3-login: Disconnected (auth failed, 1 attempts in 4 "
        "secs): user=<>, method=PLAIN, rip=36.110.9.9, lip=10.0.0.5, session=<failSession0004>",
        "no user",
    ),
    (
        "Mar 14 09:46:00 mail dovecot: imap-login: Login: user=<minjun.kim@gabiaedu.com>, "
        "method=PLAIN, rip=211.234.10.20, lip=10.0.0.5, mpid=1, TLS, session=<imapSession00001>",
        "skipped",
    ),
    (
        "Mar 14 09:46:30 mail dovecot: managesieve-login: Login: user=<seoyeon.lee>, "
        "method=PLAIN, rip=211.234.10.20, lip=10.0.0.5, mpid=2, TLS, session=<sieveSession0001>",
        "skipped",
    ),
    (
        "Mar 14 09:52:00 mail dovecot: submission-login: Login: user=<seoyeon.lee@gabiaedu.com>, "
        "method=PLAIN, rip=1.11.9.9, lip=10.0.0.5, mpid=7, TLS, session=<submissionSess01>",
        (
            "seoyeon.lee",
            "smtp",
            kst(2025, 3, 14, 9, 52),
            "1.11.9.9",
            "KR",
            True,
            "submissionSess01",
        ),
    ),
    (
        "Mar 14 09:47:00 mail dovecot: pop3-login: Login: user=<ghost@gabiaedu.com>, "
        "method=PLAIN, rip=211.234.10.20, lip=10.0.0.5, session=<ghostSession0001>",
        "unknown",
    ),
    # Another office's user, even with an ID that exists here.
    (
        "Mar 14 09:47:30 mail dovecot: pop3-login: Login: user=<minjun.kim@other.co.kr>, "
        "method=PLAIN, rip=211.234.10.20, lip=10.0.0.5, session=<otherOffice00001>",
        "unknown",
    ),
    # An account without mail: the attempt is kept, there is no mailbox to update.
    (
        "Mar 14 09:47:40 mail dovecot: pop3-login: Aborted login (auth failed, 1 attempts in 3 "
        "secs): user=<nomail@gabiaedu.com>, method=PLAIN, rip=211.234.3.3, lip=10.0.0.5, "
        "session=<noMailSession001>",
        (
            "nomail",
            "pop3",
            kst(2025, 3, 14, 9, 47, 40),
            "211.234.3.3",
            "KR",
            False,
            "noMailSession001",
        ),
    ),
    (
        "Mar 14 09:48:00 mail dovecot: pop3-login: Disconnected (no auth attempts in 0 secs): "
        "user=<>, rip=1.2.3.4, lip=10.0.0.5, session=<x>",
        "ignored",
    ),
    (
        "Mar 14 09:49:00 mail postfix/smtpd[1]: 1A2B3C4D5E: client=mx.google.com[209.85.220.41]",
        "ignored",
    ),
    (
        "Mar 14 09:50:00 mail dovecot: pop3(minjun.kim@gabiaedu.com)<41230><Z2Nq8rUAqtXT6goU>: "
        "Disconnected: Logged out top=0/0, retr=2/4096, del=0/2, size=8192",
        "ignored",
    ),
    ("this is not a log line", "unparsed"),
    (
        "Mar 14 09:51:00 mail dovecot: pop3-login: Login: user=<minjun.kim@gabiaedu.com>, "
        "method=PLAIN, rip=999.1.1.1, lip=10.0.0.5, session=<badAddress00001>",
        "unparsed",
    ),
    # The first line once more (e.g. logged by two syslog daemons).
    (
        "Mar 14 09:01:02 mail dovecot: pop3-login: Login: user=<minjun.kim@gabiaedu.com>, "
        "method=PLAIN, rip=211.234.10.20, lip=10.0.0.5, mpid=41230, TLS, "
        "session=<Z2Nq8rUAqtXT6goU>",
        "duplicate",
    ),
]

EXPECTED_ROWS = sorted(
    (row for _, row in LOG if isinstance(row, tuple)), key=lambda r: (r[2], r[0], r[6])
)


def fold(rows) -> list[tuple]:
    """Logins → the folded rows they must become: (ID, protocol, UTC hour,
    ip, country, succeeded, first, last, count)."""
    folds: dict[tuple, list] = {}
    for login_id, protocol, at, ip, country, succeeded, _session in rows:
        hour = at.astimezone(dt.UTC).replace(minute=0, second=0)
        key = (login_id, protocol, hour, ip, succeeded)
        if key not in folds:
            folds[key] = [country, at, at, 0]
        entry = folds[key]
        entry[1], entry[2], entry[3] = min(entry[1], at), max(entry[2], at), entry[3] + 1
    return sorted(
        (login_id, protocol, hour, ip, country, ok, first, last, count)
        for (login_id, protocol, hour, ip, ok), (country, first, last, count) in folds.items()
    )


EXPECTED_FOLDS = fold(EXPECTED_ROWS)


def outcome_count(label: str) -> int:
    return sum(1 for _, row in LOG if row == label)


@pytest.fixture
def sales(org):
    return make_subaccount(org.kim, "sales")


@pytest.fixture
def logfile(tmp_path):
    path = tmp_path / "mail.log"
    path.write_text("".join(line + "\n" for line, _ in LOG), encoding="utf-8")
    return path


def stored_rows(office):
    return sorted(
        (login_id, protocol, hour, ip, country, ok, first, last, count)
        for login_id, protocol, hour, ip, country, ok, first, last, count in AccessLog.objects.filter(
            office=office
        ).values_list(
            "account__login_id",
            "protocol",
            "hour",
            "ip",
            "country",
            "succeeded",
            "first_at",
            "last_at",
            "count",
        )
    )


def run(*args) -> str:
    out = io.StringIO()
    with time_machine.travel(NOW, tick=False):
        call_command("import_maillog", *args, stdout=out)
    return out.getvalue()


def test_every_line_becomes_the_right_row_or_count(org, other, sales, logfile):
    output = run("--domain", "gabiaedu.com", str(logfile))

    assert stored_rows(org.office) == EXPECTED_FOLDS
    assert not AccessLog.objects.filter(office=other.office).exists()
    assert f"lines read: {len(LOG)}" in output
    assert f"imported: {len(EXPECTED_ROWS)}" in output
    assert f"duplicates: {outcome_count('duplicate')}" in output
    assert f"unknown users: {outcome_count('unknown')} (" in output
    assert "ghost@gabiaedu.com" in output and "minjun.kim@other.co.kr" in output
    assert f"failed logins without a user: {outcome_count('no user')}" in output
    assert f"skipped protocols: {outcome_count('skipped')} (imap 1, managesieve 1)" in output
    assert f"other lines ignored: {outcome_count('ignored')}" in output
    assert f"unparsed lines: {outcome_count('unparsed')}" in output
    # The first unparsed lines are shown with file and line number.
    unparsed = [n for n, (_, row) in enumerate(LOG, start=1) if row == "unparsed"]
    assert f"{logfile}:{unparsed[0]}: this is not a log line" in output
    assert f"{logfile}:{unparsed[1]}: Mar 14 09:51:00" in output


def test_second_import_of_the_same_file_adds_nothing(org, sales, logfile):
    run("--domain", "gabiaedu.com", str(logfile))
    before = stored_rows(org.office)

    output = run("--domain", "gabiaedu.com", str(logfile))

    assert stored_rows(org.office) == before
    assert "imported: 0\n" in output
    assert "lines read: 0\n" in output
    assert f"already imported: {logfile.stat().st_size:,} bytes skipped" in output


def test_a_renamed_and_compressed_file_is_the_same_source(org, sales, logfile, tmp_path):
    run("--domain", "gabiaedu.com", str(logfile))
    rotated = tmp_path / "mail.log.1.gz"
    with gzip.open(rotated, "wb") as handle:
        handle.write(logfile.read_bytes())
    logfile.unlink()

    output = run("--domain", "gabiaedu.com", str(rotated))

    assert stored_rows(org.office) == EXPECTED_FOLDS
    assert "imported: 0\n" in output


def test_lines_appended_later_are_imported_once(org, sales, tmp_path):
    path = tmp_path / "mail.log"
    # (Without the last line: the first one logged twice, which is caught
    # within one run.)
    lines = [line + "\n" for line, _ in LOG[:-1]]
    path.write_text("".join(lines[:8]), encoding="utf-8")
    run("--domain", "gabiaedu.com", str(path))
    with path.open("a", encoding="utf-8") as handle:
        handle.write("".join(lines[8:]))

    output = run("--domain", "gabiaedu.com", str(path))

    assert stored_rows(org.office) == EXPECTED_FOLDS
    assert f"lines read: {len(lines) - 8}" in output


def test_last_access_follows_the_newest_success(org, sales, logfile):
    run("--domain", "gabiaedu.com", str(logfile))

    kim = Mailbox.objects.get(account=org.kim)
    assert (kim.last_access_at, kim.last_access_protocol, kim.last_access_ip) == (
        kst(2025, 3, 15, 11, 59, 59),
        "pop3",
        "133.242.1.2",
    )
    assert kim.last_access_country == "JP"
    lee = Mailbox.objects.get(account=org.lee)
    # Lee's 2.4 POP3 login at 10:15:30 is newer than the SMTP ones.
    assert (lee.last_access_at, lee.last_access_protocol, lee.last_access_country) == (
        kst(2025, 3, 14, 10, 15, 30),
        "pop3",
        "DE",
    )
    # Failed attempts never count as an access.
    admin = Mailbox.objects.get(account=org.admin)
    assert admin.last_access_at is None


def test_an_older_import_does_not_move_last_access_back(org, tmp_path):
    Mailbox.objects.filter(account=org.kim).update(
        last_access_at=kst(2025, 3, 15, 8, 0),
        last_access_protocol="smtp",
        last_access_ip="211.234.1.1",
        last_access_country="KR",
    )
    path = tmp_path / "old.log"
    path.write_text(LOG[0][0] + "\n")

    run("--domain", "gabiaedu.com", str(path))

    kim = Mailbox.objects.get(account=org.kim)
    assert (kim.last_access_at, kim.last_access_protocol) == (kst(2025, 3, 15, 8, 0), "smtp")
    assert AccessLog.objects.filter(account=org.kim).count() == 1


def test_gzip_files_and_stdin_are_read(org, sales, logfile, tmp_path, monkeypatch):
    lines = logfile.read_text().splitlines(keepends=True)
    zipped = tmp_path / "mail.log.1.gz"
    with gzip.open(zipped, "wt", encoding="utf-8") as handle:
        handle.writelines(lines[:10])
    monkeypatch.setattr("sys.stdin", io.StringIO("".join(lines[10:])))

    output = run("--domain", "gabiaedu.com", str(zipped), "-")

    assert stored_rows(org.office) == EXPECTED_FOLDS
    assert f"lines read: {len(LOG)}" in output
    assert "stdin:" in output  # the unparsed samples name their source


def test_small_batches_count_the_same(org, sales, logfile):
    output = run("--domain", "gabiaedu.com", "--batch-size", "3", str(logfile))

    assert stored_rows(org.office) == EXPECTED_FOLDS
    assert f"imported: {len(EXPECTED_ROWS)}" in output
    assert f"duplicates: {outcome_count('duplicate')}" in output


def test_a_replayed_stream_adds_nothing(org, sales):
    lines = [line for line, _ in LOG]
    first = import_access_log(office=org.office, lines=lines, now=NOW, stream="journal")
    # journalctl -f starts with the last lines it already showed.
    second = import_access_log(office=org.office, lines=lines[-6:], now=NOW, stream="journal")

    assert (first.imported, first.duplicates) == (len(EXPECTED_ROWS), 1)
    assert second.imported == 0
    assert stored_rows(org.office) == EXPECTED_FOLDS


def test_folding_keeps_the_exact_last_access_and_each_client_per_hour(org):
    lines = []
    for minute in range(0, 60, 5):  # a client polling every five minutes
        lines.append(
            f"2025-03-15T10:{minute:02d}:07+09:00 mail dovecot: pop3-login: Login: "
            f"user=<minjun.kim>, method=PLAIN, rip=211.234.10.20, lip=10.0.0.5, "
            f"session=<poll{minute:02d}>"
        )
    lines.append(  # the phone, from another address, in the same hour
        "2025-03-15T10:31:00+09:00 mail dovecot: pop3-login: Login: user=<minjun.kim>, "
        "method=PLAIN, rip=175.223.1.2, lip=10.0.0.5, session=<phone>"
    )
    lines.append(  # the last one, in the next hour
        "2025-03-15T11:02:09+09:00 mail dovecot: pop3-login: Login: user=<minjun.kim>, "
        "method=PLAIN, rip=211.234.10.20, lip=10.0.0.5, session=<next>"
    )

    stats = import_access_log(office=org.office, lines=lines, now=NOW)

    assert stats.imported == 14
    rows = list(
        AccessLog.objects.filter(account=org.kim)
        .order_by("hour", "ip")
        .values_list("hour", "ip", "first_at", "last_at", "count")
    )
    assert rows == [
        (
            kst(2025, 3, 15, 10),
            "175.223.1.2",
            kst(2025, 3, 15, 10, 31),
            kst(2025, 3, 15, 10, 31),
            1,
        ),
        (
            kst(2025, 3, 15, 10),
            "211.234.10.20",
            kst(2025, 3, 15, 10, 0, 7),
            kst(2025, 3, 15, 10, 55, 7),
            12,
        ),
        (
            kst(2025, 3, 15, 11),
            "211.234.10.20",
            kst(2025, 3, 15, 11, 2, 9),
            kst(2025, 3, 15, 11, 2, 9),
            1,
        ),
    ]
    kim = Mailbox.objects.get(account=org.kim)
    assert (kim.last_access_at, kim.last_access_ip, kim.last_access_protocol) == (
        kst(2025, 3, 15, 11, 2, 9),
        "211.234.10.20",
        "pop3",
    )
    assert kim.last_access_country == "KR"


def test_bad_arguments_are_refused_clearly(org, tmp_path):
    with pytest.raises(CommandError, match="No office with the domain nowhere.kr"):
        run("--domain", "nowhere.kr", str(tmp_path / "x.log"))
    with pytest.raises(CommandError, match="Cannot read"):
        run("--domain", "gabiaedu.com", str(tmp_path / "missing.log"))
    with pytest.raises(CommandError, match="Unknown time zone"):
        run("--domain", "gabiaedu.com", "--time-zone", "Mars/Olympus", "-")
