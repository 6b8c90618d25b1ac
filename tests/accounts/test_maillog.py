"""The log parser alone: verbatim Dovecot and Postfix lines of every form."""

from __future__ import annotations

import datetime as dt
import zoneinfo

import pytest

from accounts.maillog import LoginEvent, LogParser, Outcome, normalise_ip

SEOUL = zoneinfo.ZoneInfo("Asia/Seoul")
# 2025-03-15 12:00:00 in Seoul.
NOW = dt.datetime(2025, 3, 15, 3, 0, tzinfo=dt.UTC)


@pytest.fixture
def parser():
    return LogParser(now=NOW, time_zone=SEOUL)


def seoul(*args) -> dt.datetime:
    return dt.datetime(*args, tzinfo=SEOUL)


def offset(hours: int, *args) -> dt.datetime:
    return dt.datetime(*args, tzinfo=dt.timezone(dt.timedelta(hours=hours)))


LOGINS = [
    # Dovecot 2.3, classic syslog with host and "dovecot:" tag.
    (
        "Mar 14 09:01:02 mail dovecot: pop3-login: Login: user=<minjun.kim@gabiaedu.com>, "
        "method=PLAIN, rip=211.234.10.20, lip=10.0.0.5, mpid=41230, TLS, "
        "session=<Z2Nq8rUAqtXT6goU>",
        LoginEvent(
            seoul(2025, 3, 14, 9, 1, 2),
            "pop3",
            "minjun.kim@gabiaedu.com",
            "211.234.10.20",
            True,
            "Z2Nq8rUAqtXT6goU",
            "dovecot",
        ),
    ),
    # Space-padded day, dovecot[pid], IPv4-mapped IPv6 stored as IPv4.
    (
        "Mar  1 08:00:00 mail dovecot[1234]: pop3-login: Login: user=<seoyeon.lee>, "
        "method=LOGIN, rip=::ffff:8.8.4.4, lip=::ffff:10.0.0.5, mpid=41231, secured, "
        "session=<aB3dE5fG7hI9jK1l>",
        LoginEvent(
            seoul(2025, 3, 1, 8, 0, 0),
            "pop3",
            "seoyeon.lee",
            "8.8.4.4",
            True,
            "aB3dE5fG7hI9jK1l",
            "dovecot",
        ),
    ),
    # IPv6; December seen in March belongs to the year before.
    (
        "Dec 31 23:59:59 mail dovecot: pop3-login: Login: user=<minjun.kim@gabiaedu.com>, "
        "method=PLAIN, rip=2001:e60:1234:5678::1, lip=2001:db8::25, mpid=3, TLS, "
        "session=<v6sessionAAAAAAA>",
        LoginEvent(
            seoul(2024, 12, 31, 23, 59, 59),
            "pop3",
            "minjun.kim@gabiaedu.com",
            "2001:e60:1234:5678::1",
            True,
            "v6sessionAAAAAAA",
            "dovecot",
        ),
    ),
    # Dovecot's own log file (log_path): no host, the service is the tag, "Info:".
    (
        "Mar 15 11:59:59 pop3-login: Info: Login: user=<MinJun.Kim@GabiaEdu.com>, "
        "method=PLAIN, rip=133.242.1.2, lip=10.0.0.5, mpid=5, TLS, session=<logfileformat001>",
        LoginEvent(
            seoul(2025, 3, 15, 11, 59, 59),
            "pop3",
            "MinJun.Kim@GabiaEdu.com",
            "133.242.1.2",
            True,
            "logfileformat001",
            "dovecot",
        ),
    ),
    # One second after now: this year would be the future, so it is last year.
    (
        "Mar 15 12:00:01 mail dovecot: pop3-login: Login: user=<minjun.kim@gabiaedu.com>, "
        "method=PLAIN, rip=211.234.10.21, lip=10.0.0.5, session=<futurelineAAAAAA>",
        LoginEvent(
            seoul(2024, 3, 15, 12, 0, 1),
            "pop3",
            "minjun.kim@gabiaedu.com",
            "211.234.10.21",
            True,
            "futurelineAAAAAA",
            "dovecot",
        ),
    ),
    # Feb 29 in a common year: the latest leap year.
    (
        "Feb 29 10:00:00 mail dovecot: pop3-login: Login: user=<seoyeon.lee@gabiaedu.com>, "
        "method=PLAIN, rip=211.234.10.22, lip=10.0.0.5, session=<leapdaySession01>",
        LoginEvent(
            seoul(2024, 2, 29, 10, 0, 0),
            "pop3",
            "seoyeon.lee@gabiaedu.com",
            "211.234.10.22",
            True,
            "leapdaySession01",
            "dovecot",
        ),
    ),
    # Dovecot 2.4 "Logged in:", RFC 3339 with fraction and offset.
    (
        "2025-03-14T10:15:30.123456+09:00 mail dovecot[2211]: pop3-login: Logged in: "
        "user=<seoyeon.lee@gabiaedu.com>, method=PLAIN, rip=85.214.132.117, lip=192.0.2.10, "
        "mpid=9912, TLS, session=<Xy12Zw34Ab56Cd78>",
        LoginEvent(
            offset(9, 2025, 3, 14, 10, 15, 30, 123456),
            "pop3",
            "seoyeon.lee@gabiaedu.com",
            "85.214.132.117",
            True,
            "Xy12Zw34Ab56Cd78",
            "dovecot",
        ),
    ),
    # 2.4 with "Info:", UTC "Z", IPv6, pairs in another order.
    (
        "2025-03-14T01:20:00Z mail dovecot[2211]: pop3-login: Info: Logged in: "
        "session=<subAcctSession01>, method=PLAIN, user=<sales@gabiaedu.com>, "
        "rip=2406:5900:1::77, lip=192.0.2.10, mpid=9913, TLS",
        LoginEvent(
            dt.datetime(2025, 3, 14, 1, 20, tzinfo=dt.UTC),
            "pop3",
            "sales@gabiaedu.com",
            "2406:5900:1::77",
            True,
            "subAcctSession01",
            "dovecot",
        ),
    ),
    # journalctl -o short-iso: offset without a colon.
    (
        "2025-03-14T09:53:00+0900 mail dovecot[2211]: pop3-login: Login: "
        "user=<seoyeon.lee@gabiaedu.com>, method=PLAIN, rip=126.1.2.10, lip=10.0.0.5, "
        "session=<journalSession01>",
        LoginEvent(
            offset(9, 2025, 3, 14, 9, 53),
            "pop3",
            "seoyeon.lee@gabiaedu.com",
            "126.1.2.10",
            True,
            "journalSession01",
            "dovecot",
        ),
    ),
    # Dovecot log_timestamp "%Y-%m-%d %H:%M:%S ": no offset, the local zone.
    (
        "2025-03-14 09:54:00 pop3-login: Info: Login: user=<minjun.kim>, method=PLAIN, "
        "rip=211.234.99.1, lip=10.0.0.5, session=<isoNoOffset0001>",
        LoginEvent(
            seoul(2025, 3, 14, 9, 54),
            "pop3",
            "minjun.kim",
            "211.234.99.1",
            True,
            "isoNoOffset0001",
            "dovecot",
        ),
    ),
    # RFC 5424 from Dovecot.
    (
        "<22>1 2025-03-14T11:00:00.5+09:00 mail.gabiaedu.com dovecot 2211 - - pop3-login: "
        "Logged in: user=<jiho.park@gabiaedu.com>, method=PLAIN, rip=121.134.5.6, "
        "lip=10.0.0.5, session=<rfc5424sess00001>",
        LoginEvent(
            offset(9, 2025, 3, 14, 11, 0, 0, 500000),
            "pop3",
            "jiho.park@gabiaedu.com",
            "121.134.5.6",
            True,
            "rfc5424sess00001",
            "dovecot",
        ),
    ),
    # RFC 5424 from Postfix submission, with structured data.
    (
        "<22>1 2025-03-14T11:05:00+09:00 mail.gabiaedu.com postfix/submission/smtpd 23456 - "
        '[meta sequenceId="7" note="a \\] b"] 4Z9X1C0A3F: client=unknown[211.234.10.20], '
        "sasl_method=PLAIN, sasl_username=minjun.kim@gabiaedu.com",
        LoginEvent(
            offset(9, 2025, 3, 14, 11, 5),
            "smtp",
            "minjun.kim@gabiaedu.com",
            "211.234.10.20",
            True,
            "4Z9X1C0A3F",
            "postfix",
        ),
    ),
    # Postfix smtpd, classic syslog, bare ID.
    (
        "Mar 14 09:30:12 mail postfix/smtpd[23456]: 4F2B81C0A3F: client=unknown[1.11.2.3], "
        "sasl_method=LOGIN, sasl_username=seoyeon.lee",
        LoginEvent(
            seoul(2025, 3, 14, 9, 30, 12),
            "smtp",
            "seoyeon.lee",
            "1.11.2.3",
            True,
            "4F2B81C0A3F",
            "postfix",
        ),
    ),
    # Another instance and service, client port logging, pairs swapped, IPv6.
    (
        "Mar 14 09:31:00 mail postfix-out/smtps/smtpd[777]: 4dJ7Bs3ZQ1z9sVj: "
        "client=pc.example.net[2001:e60:aaaa::5]:51234, sasl_username=minjun.kim@gabiaedu.com, "
        "sasl_method=PLAIN",
        LoginEvent(
            seoul(2025, 3, 14, 9, 31),
            "smtp",
            "minjun.kim@gabiaedu.com",
            "2001:e60:aaaa::5",
            True,
            "4dJ7Bs3ZQ1z9sVj",
            "postfix",
        ),
    ),
    # Postfix 3 failure naming the user.
    (
        "Mar 14 09:40:00 mail postfix/submission/smtpd[23457]: warning: unknown[175.223.10.1]: "
        "SASL PLAIN authentication failed: (reason unavailable), "
        "sasl_username=seoyeon.lee@gabiaedu.com",
        LoginEvent(
            seoul(2025, 3, 14, 9, 40),
            "smtp",
            "seoyeon.lee@gabiaedu.com",
            "175.223.10.1",
            False,
            "",
            "postfix",
        ),
    ),
    # Postfix failure without a user.
    (
        "Mar 14 09:41:00 mail postfix/smtpd[23458]: warning: unknown[36.110.1.2]: "
        "SASL LOGIN authentication failed: UGFzc3dvcmQ6",
        LoginEvent(seoul(2025, 3, 14, 9, 41), "smtp", "", "36.110.1.2", False, "", "postfix"),
    ),
    # Dovecot 2.3 failures.
    (
        "Mar 14 09:42:00 mail dovecot: pop3-login: Aborted login (auth failed, 1 attempts in "
        "2 secs): user=<minjun.kim@gabiaedu.com>, method=PLAIN, rip=113.160.1.2, lip=10.0.0.5, "
        "TLS, session=<failSession0001>",
        LoginEvent(
            seoul(2025, 3, 14, 9, 42),
            "pop3",
            "minjun.kim@gabiaedu.com",
            "113.160.1.2",
            False,
            "failSession0001",
            "dovecot",
        ),
    ),
    (
        "Mar 14 09:43:00 mail dovecot: pop3-login: Disconnected (auth failed, 3 attempts in 15 "
        "secs): user=<seoyeon.lee>, method=PLAIN, rip=10.1.2.3, lip=10.0.0.5, "
        "session=<failSession0002>",
        LoginEvent(
            seoul(2025, 3, 14, 9, 43),
            "pop3",
            "seoyeon.lee",
            "10.1.2.3",
            False,
            "failSession0002",
            "dovecot",
        ),
    ),
    (
        "Jun 23 00:52:43 vhost1-ua dovecot: pop3-login: Disconnected: Inactivity (auth failed, "
        "1 attempts): user=<info>, method=PLAIN, rip=193.95.245.163, lip=176.214.13.210",
        LoginEvent(
            seoul(2024, 6, 23, 0, 52, 43), "pop3", "info", "193.95.245.163", False, "", "dovecot"
        ),
    ),
    # Dovecot 2.4 failure.
    (
        "2025-03-14T09:44:00+09:00 mail dovecot[2211]: pop3-login: Login aborted: Connection "
        "closed (auth failed, 1 attempts in 2 secs) (auth_failed): "
        "user=<minjun.kim@gabiaedu.com>, method=PLAIN, rip=64.233.160.5, lip=10.0.0.5, TLS, "
        "session=<failSession0003>",
        LoginEvent(
            offset(9, 2025, 3, 14, 9, 44),
            "pop3",
            "minjun.kim@gabiaedu.com",
            "64.233.160.5",
            False,
            "failSession0003",
            "dovecot",
        ),
    ),
    # Failures without a user: empty user=<> and no user= at all.
    (
        "Mar 14 09:45:00 mail dovecot: pop3-login: Disconnected (auth failed, 1 attempts in 4 "
        "secs): user=<>, method=PLAIN, rip=36.110.9.9, lip=10.0.0.5, session=<failSession0004>",
        LoginEvent(
            seoul(2025, 3, 14, 9, 45), "pop3", "", "36.110.9.9", False, "failSession0004", "dovecot"
        ),
    ),
    (
        "Jun 14 00:48:21 platypus dovecot: pop3-login: Disconnected (auth failed, 1 attempts): "
        "method=PLAIN, rip=59.167.242.100, lip=113.212.99.194, TLS: Disconnected",
        LoginEvent(
            seoul(2024, 6, 14, 0, 48, 21), "pop3", "", "59.167.242.100", False, "", "dovecot"
        ),
    ),
    # Other services parse too (the importer counts and skips them) …
    (
        "Mar 14 09:46:00 mail dovecot: imap-login: Login: user=<minjun.kim@gabiaedu.com>, "
        "method=PLAIN, rip=211.234.10.20, lip=10.0.0.5, mpid=1, TLS, session=<imapSession00001>",
        LoginEvent(
            seoul(2025, 3, 14, 9, 46),
            "imap",
            "minjun.kim@gabiaedu.com",
            "211.234.10.20",
            True,
            "imapSession00001",
            "dovecot",
        ),
    ),
    # … except Dovecot's submission service, which is SMTP AUTH.
    (
        "Mar 14 09:52:00 mail dovecot: submission-login: Login: user=<seoyeon.lee@gabiaedu.com>, "
        "method=PLAIN, rip=1.11.9.9, lip=10.0.0.5, mpid=7, TLS, session=<submissionSess01>",
        LoginEvent(
            seoul(2025, 3, 14, 9, 52),
            "smtp",
            "seoyeon.lee@gabiaedu.com",
            "1.11.9.9",
            True,
            "submissionSess01",
            "dovecot",
        ),
    ),
    # BSD syslog received over the network keeps its <pri>.
    (
        "<38>Mar 14 09:55:00 mail dovecot: pop3-login: Login: user=<minjun.kim>, method=PLAIN, "
        "rip=211.234.7.7, lip=10.0.0.5, session=<bsdPriSession01>",
        LoginEvent(
            seoul(2025, 3, 14, 9, 55),
            "pop3",
            "minjun.kim",
            "211.234.7.7",
            True,
            "bsdPriSession01",
            "dovecot",
        ),
    ),
]

NOT_LOGINS = [
    # Mail-log lines that are no login attempt.
    (
        "Mar 14 09:48:00 mail dovecot: pop3-login: Disconnected (no auth attempts in 0 secs): "
        "user=<>, rip=1.2.3.4, lip=10.0.0.5, session=<x>",
        Outcome.IGNORED,
    ),
    (
        "Mar 14 09:49:00 mail postfix/smtpd[1]: 1A2B3C4D5E: client=mx.google.com[209.85.220.41]",
        Outcome.IGNORED,
    ),
    (
        "Mar 14 09:49:01 mail postfix/qmgr[2]: 1A2B3C4D5E: from=<a@example.net>, size=2048, "
        "nrcpt=1 (queue active)",
        Outcome.IGNORED,
    ),
    (
        "Mar 14 09:50:00 mail dovecot: pop3(minjun.kim@gabiaedu.com)<41230><Z2Nq8rUAqtXT6goU>: "
        "Disconnected: Logged out top=0/0, retr=2/4096, del=0/2, size=8192",
        Outcome.IGNORED,
    ),
    (
        "Mar 14 09:50:30 mail postfix/smtpd[3]: connect from unknown[211.234.10.20]",
        Outcome.IGNORED,
    ),
    ("Mar 14 09:50:31 mail CRON[99]: (root) CMD (run-parts /etc/cron.hourly)", Outcome.IGNORED),
    # Garbage and login lines that cannot be used.
    ("this is not a log line", Outcome.UNPARSED),
    ("Foo 99 99:99:99 junk", Outcome.UNPARSED),
    ("Feb 30 10:00:00 mail dovecot: pop3-login: Login: user=<a>, rip=1.2.3.4", Outcome.UNPARSED),
    (
        "Mar 14 09:51:00 mail dovecot: pop3-login: Login: user=<minjun.kim@gabiaedu.com>, "
        "method=PLAIN, rip=999.1.1.1, lip=10.0.0.5, session=<badAddress00001>",
        Outcome.UNPARSED,
    ),
    ("<22>1 - mail dovecot 1 - - pop3-login: Login: user=<a>, rip=1.2.3.4", Outcome.UNPARSED),
    (
        "2025-13-45T99:00:00Z mail dovecot: pop3-login: Login: user=<a>, rip=1.2.3.4",
        Outcome.UNPARSED,
    ),
]


@pytest.mark.parametrize(("line", "expected"), LOGINS)
def test_login_lines_become_events(parser, line, expected):
    assert parser.parse(line) == expected


@pytest.mark.parametrize(("line", "expected"), NOT_LOGINS)
def test_other_lines_are_ignored_or_unparsed(parser, line, expected):
    assert parser.parse(line) is expected


def test_there_are_at_least_twenty_distinct_login_lines():
    assert len({line for line, _ in LOGINS}) >= 20


def test_classic_year_is_never_in_the_future():
    # Just after New Year in Seoul: a Dec 31 line is from the old year,
    # a Jan 1 line from the new one.
    parser = LogParser(now=seoul(2026, 1, 1, 0, 5), time_zone=SEOUL)
    assert parser.classic_time(12, 31, 23, 59, 0) == seoul(2025, 12, 31, 23, 59)
    assert parser.classic_time(1, 1, 0, 4, 59) == seoul(2026, 1, 1, 0, 4, 59)
    assert parser.classic_time(1, 1, 0, 5, 1) == seoul(2025, 1, 1, 0, 5, 1)


def test_classic_time_is_read_in_the_given_zone():
    parser = LogParser(now=NOW, time_zone=zoneinfo.ZoneInfo("UTC"))
    event = parser.parse(LOGINS[0][0])
    assert event.at == dt.datetime(2025, 3, 14, 9, 1, 2, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("211.234.10.20", "211.234.10.20"),
        ("::ffff:211.234.10.20", "211.234.10.20"),
        ("2001:0DB8:0000::0001", "2001:db8::1"),
        ("ipv6:2001:db8::1", "2001:db8::1"),
        ("999.1.1.1", None),
        ("unknown", None),
    ],
)
def test_addresses_are_normalised(raw, expected):
    assert normalise_ip(raw) == expected


def test_now_must_be_aware():
    with pytest.raises(ValueError):
        LogParser(now=dt.datetime(2025, 1, 1), time_zone=SEOUL)
