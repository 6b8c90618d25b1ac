"""A day of an office's mail log at the rate real mail clients make.

The load model (issue 15): about 60 % of the accounts read their mail with
a POP3 client that polls -- a desktop client (Outlook, Thunderbird) every
5-30 minutes while its computer is on, about 08:30-19:00, and for four in
ten of them a phone as well, every 15-30 minutes from 07:00 to 23:00 on a
mobile carrier's address that changes a few times a day -- about 60 polls
a day each; every account sends about 20 messages through SMTP AUTH in
working hours. Desktop clients sit behind a few office NAT addresses
shared by everyone. About 1 % of polls fail (a password changed, the client
not yet). A few accounts travel (their phone polls from Japan or the US
that day), and a few attackers abroad try passwords: bursts of failed
logins on real and made-up IDs within minutes.

Around the logins, the lines a mail log is mostly made of: IMAP logins
and Postfix queue lines. Lines are in time order, in the framings
``import_maillog`` reads (classic syslog and RFC 3339), like a real
``/var/log/mail.log`` -- at 10,000 accounts about 560,000 login lines a
day.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterator
from dataclasses import dataclass

OFFICE_NAT = ["211.234.10.{}", "211.234.11.{}", "121.134.5.{}"]
MOBILE = ["175.223.{}.{}", "39.7.{}.{}", "223.38.{}.{}", "110.70.{}.{}"]
ABROAD = {"JP": "133.242.{}.{}", "US": "8.8.{}.{}", "GB": "91.198.{}.{}"}
ATTACKERS = ["45.155.{}.{}", "185.220.{}.{}", "194.26.{}.{}", "141.98.{}.{}"]


@dataclass
class DayStats:
    accounts: int = 0
    pop3_users: int = 0
    phones: int = 0
    travellers: int = 0
    attackers: int = 0
    logins: int = 0
    lines: int = 0


def _addr(rng: random.Random, pattern: str) -> str:
    return pattern.format(*(rng.randint(1, 254) for _ in range(pattern.count("{}"))))


def _polls(rng: random.Random, day: dt.datetime, start_h: float, end_h: float, low, high):
    """Poll times of one client: every low-high minutes between the hours."""
    moment = day + dt.timedelta(hours=start_h + rng.uniform(-0.5, 0.5))
    end = day + dt.timedelta(hours=end_h + rng.uniform(-0.5, 0.5))
    interval = rng.uniform(low, high)
    while moment < end:
        yield moment
        moment += dt.timedelta(minutes=interval * rng.uniform(0.95, 1.05))


def day_events(
    users: list[str], day: dt.datetime, *, seed: int = 1, stats: DayStats | None = None
) -> Iterator[tuple[dt.datetime, str, str, str, bool]]:
    """(moment, protocol, user, ip, succeeded) for one office-local day
    (``day`` is its midnight, aware), unsorted."""
    rng = random.Random(seed)
    stats = stats if stats is not None else DayStats()
    nat = [_addr(rng, pattern) for pattern in OFFICE_NAT for _ in range(2)]
    stats.accounts = len(users)
    for user in users:
        desk_ip = rng.choice(nat)
        traveller = rng.random() < 0.005
        if traveller:
            stats.travellers += 1
        if rng.random() < 0.6:  # a POP3 client user
            stats.pop3_users += 1
            if not traveller:
                for moment in _polls(rng, day, 8.5, 19, 5, 30):
                    yield moment, "pop3", user, desk_ip, rng.random() >= 0.01
            if traveller or rng.random() < 0.4:
                stats.phones += 1
                country = rng.choice(list(ABROAD))
                phone_ip = _addr(rng, ABROAD[country] if traveller else rng.choice(MOBILE))
                for moment in _polls(rng, day, 7, 23, 15, 30):
                    if rng.random() < 0.08 and not traveller:  # the carrier moved it
                        phone_ip = _addr(rng, rng.choice(MOBILE))
                    yield moment, "pop3", user, phone_ip, rng.random() >= 0.01
        for _ in range(max(0, int(rng.gauss(20, 6)))):  # SMTP sends
            moment = day + dt.timedelta(hours=rng.uniform(8.5, 19))
            yield moment, "smtp", user, desk_ip, True
    # Attackers: bursts of password guessing, on real and made-up IDs.
    for _ in range(max(1, len(users) // 500)):
        stats.attackers += 1
        ip = _addr(rng, rng.choice(ATTACKERS))
        start = day + dt.timedelta(hours=rng.uniform(0, 24))
        targets = rng.sample(users, min(3, len(users))) + ["admin", "test", "info"]
        for n in range(rng.randint(20, 120)):
            moment = start + dt.timedelta(seconds=n * rng.uniform(1, 8))
            yield moment, rng.choice(("pop3", "smtp")), rng.choice(targets), ip, False


def day_lines(
    users: list[str],
    domain: str,
    day: dt.datetime,
    *,
    seed: int = 1,
    stats: DayStats | None = None,
) -> Iterator[str]:
    """The day's log lines in time order (each ending in a newline)."""
    rng = random.Random(seed + 1)
    stats = stats if stats is not None else DayStats()
    events = sorted(day_events(users, day, seed=seed, stats=stats), key=lambda e: e[0])
    stats.logins = len(events)
    zone = day.tzinfo
    for n, (moment, protocol, user, ip, ok) in enumerate(events):
        local = moment.astimezone(zone)
        classic = f"{local:%b} {local.day:2d} {local:%H:%M:%S}"
        login = f"{user}@{domain}" if rng.random() < 0.8 else user
        session = f"{rng.getrandbits(96):024x}"
        if protocol == "pop3" and ok:
            if n % 3:
                line = (
                    f"{classic} mail dovecot: pop3-login: Login: user=<{login}>, method=PLAIN, "
                    f"rip={ip}, lip=10.0.0.5, mpid={n % 65000}, TLS, session=<{session}>"
                )
            else:
                line = (
                    f"{local.isoformat(timespec='microseconds')} mail dovecot[2211]: pop3-login: "
                    f"Logged in: user=<{login}>, method=PLAIN, rip={ip}, lip=10.0.0.5, "
                    f"mpid={n % 65000}, TLS, session=<{session}>"
                )
        elif protocol == "pop3":
            line = (
                f"{classic} mail dovecot: pop3-login: Aborted login (auth failed, 1 attempts in "
                f"2 secs): user=<{login}>, method=PLAIN, rip={ip}, lip=10.0.0.5, "
                f"session=<{session}>"
            )
        elif ok:
            line = (
                f"{classic} mail postfix/submission/smtpd[{n % 65000}]: "
                f"{session[:11].upper()}: client=unknown[{ip}], sasl_method=PLAIN, "
                f"sasl_username={login}"
            )
        else:
            line = (
                f"{classic} mail postfix/submission/smtpd[{n % 65000}]: warning: "
                f"unknown[{ip}]: SASL PLAIN authentication failed: UGFzc3dvcmQ6, "
                f"sasl_username={login}"
            )
        stats.lines += 1
        yield line + "\n"
        if rng.random() < 0.1:  # the rest of a mail log
            stats.lines += 1
            if rng.random() < 0.5:
                yield (
                    f"{classic} mail dovecot: imap-login: Login: user=<{login}>, method=PLAIN, "
                    f"rip={ip}, lip=10.0.0.5, mpid={n % 65000}, TLS, session=<{session}>\n"
                )
            else:
                yield (
                    f"{classic} mail postfix/qmgr[812]: {session[:11].upper()}: "
                    f"from=<{login}>, size={rng.randint(900, 90000)}, nrcpt=1 (queue active)\n"
                )
