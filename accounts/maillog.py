"""Dovecot POP3 and Postfix SMTP AUTH log lines → login events.

Pure parsing, no database: :class:`LogParser` turns one line into a
:class:`LoginEvent`, or says the line belongs to a mail log but is no login
(``Outcome.IGNORED``: connects, deliveries, IMAP logouts …), or that it could
not be understood at all (``Outcome.UNPARSED``: garbage, a login line
without a usable address).

Recognised framings of a line:

- classic syslog ``Mmm dd HH:MM:SS host tag[pid]: message`` (optionally
  ``<pri>`` first, optionally without a host as in Dovecot's own
  ``log_path`` file); the year is not logged, so it is inferred: the latest
  year that does not put the entry after ``now``;
- ISO 8601 / RFC 3339 ``2025-01-12T08:15:02.123456+09:00 host tag: …``
  (fraction and offset optional; ``Z``, ``+0900`` and a space instead of
  ``T`` accepted; no offset means the configured local time zone);
- RFC 5424 ``<pri>1 TIMESTAMP HOST APP PROCID MSGID [SD] message``.

Recognised messages:

- Dovecot 2.3 ``<svc>-login: Login: user=<…>, method=…, rip=…, …`` and 2.4
  ``<svc>-login: Logged in: …`` (with or without ``Info:``), failures
  ``Aborted login (auth failed, …)``, ``Disconnected (auth failed, …)``,
  ``Disconnected: Inactivity (auth failed, …)`` and 2.4 ``Login aborted: …
  (auth failed, …) (auth_failed)``; key=value pairs in any order;
- Postfix ``…/smtpd[pid]: QUEUEID: client=host[ip], sasl_method=…,
  sasl_username=…`` (any ``postfix…/…/smtpd`` tag) and ``warning:
  host[ip]: SASL MECH authentication failed: …[, sasl_username=…]``.
"""

from __future__ import annotations

import datetime as dt
import enum
import functools
import ipaddress
import re
from dataclasses import dataclass

MONTHS = {
    name: number
    for number, name in enumerate(
        ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"),
        start=1,
    )
}

# Dovecot login services → the product's protocols. Dovecot's own
# submission service is SMTP AUTH too; IMAP, ManageSieve … are not counted.
DOVECOT_SERVICES = {"pop3": "pop3", "submission": "smtp"}


class Outcome(enum.Enum):
    IGNORED = "ignored"
    UNPARSED = "unparsed"


@dataclass(frozen=True, slots=True)
class LoginEvent:
    at: dt.datetime  # aware
    protocol: str  # "pop3", "smtp", or the other service's name ("imap", …)
    user: str  # as logged, "" when the server did not log one
    ip: str  # normalised; an IPv4-mapped IPv6 address is stored as IPv4
    succeeded: bool
    session_id: str  # Dovecot session=<…> or Postfix queue id, "" if none
    source: str  # "dovecot" or "postfix"


# --- framing ---------------------------------------------------------------

_CLASSIC = re.compile(
    r"(?:<\d{1,3}>)?(?P<mon>Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) {1,2}"
    r"(?P<day>\d{1,2}) (?P<h>\d\d):(?P<m>\d\d):(?P<s>\d\d)(?:\.\d+)? +"
)
_ISO = re.compile(
    r"(?:<\d{1,3}>)?(?P<ts>\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d)(?P<frac>[.,]\d+)?"
    r"(?P<tz>Z|[+-]\d\d:?\d\d)? +"
)
_RFC5424 = re.compile(
    r"<\d{1,3}>1 (?P<ts>\S+) (?P<host>\S+) (?P<app>\S+) (?P<procid>\S+) (?P<msgid>\S+) "
)
_SD_ELEMENT = re.compile(r'\[(?:[^\]"\\]|\\.|"(?:[^"\\]|\\.)*")*\]')
_TAG = re.compile(r"(?P<tag>[^\s:\[]+)(?:\[\d+\])?: ")
_HOST_TAG = re.compile(r"\S+ (?P<tag>[^\s:\[]+)(?:\[\d+\])?: ")

# --- messages --------------------------------------------------------------

_DOVECOT_LOGIN = re.compile(r"(?P<service>[a-z0-9]+)-login: (?:Info: )?(?P<what>.*)")
_KV_START = re.compile(r": (?=[a-z_]+=)")
# (key, value) pairs, read by findall: dict(findall) is built in C.
_KV = re.compile(r"(?:^|, )([a-z_]+)=(<[^>]*>|[^,]*)")
_FAILURE_PREFIXES = ("Aborted login", "Disconnected", "Login aborted")

_POSTFIX_CLIENT = re.compile(
    r"(?P<qid>[0-9A-Za-z]+): client=[^\[\s,]*\[(?P<ip>[^\]]+)\](?::\d+)?(?P<rest>.*)"
)
_POSTFIX_FAILED = re.compile(
    r"warning: [^\[\s]*\[(?P<ip>[^\]]+)\](?::\d+)?: SASL [\w-]+ authentication failed:?(?P<rest>.*)"
)
_SASL_USERNAME = re.compile(r"(?:^|[,\s])sasl_username=(?P<user>[^,\s]*)")


@functools.lru_cache(maxsize=65536)
def normalise_ip(raw: str) -> str | None:
    """Canonical text of an address; ``::ffff:a.b.c.d`` becomes ``a.b.c.d``."""
    raw = raw.strip()
    if raw[:5].lower() == "ipv6:":
        raw = raw[5:]
    try:
        address = ipaddress.ip_address(raw)
    except ValueError:
        return None
    if address.version == 6 and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return str(address)


class LogParser:
    """Parses lines relative to ``now`` (for the year of classic syslog
    timestamps) in ``time_zone`` (for timestamps logged without an offset)."""

    def __init__(self, *, now: dt.datetime, time_zone: dt.tzinfo, utc: bool = False):
        if now.tzinfo is None:
            raise ValueError("now must be an aware datetime")
        self.now = now
        self.time_zone = time_zone
        # With ``utc``, moments come in UTC: the same instants, but hashing
        # and comparing them no longer asks a zone for its offset each time
        # (the importer does both for every login).
        self.utc = utc
        self._local_now = now.astimezone(time_zone)
        # A log has thousands of lines a second: its timestamp text → the
        # moment, so each second is worked out once.
        self._times: dict = {}

    def _remember(self, key, moment: dt.datetime | None) -> dt.datetime | None:
        if len(self._times) >= 4096:
            self._times.clear()
        if moment is not None and self.utc:
            moment = moment.astimezone(dt.UTC)
        self._times[key] = moment
        return moment

    # -- timestamps --

    def classic_time(self, month: int, day: int, h: int, m: int, s: int) -> dt.datetime | None:
        """The latest moment with this month/day/time that is not after now."""
        year = self._local_now.year
        for candidate in range(year, year - 9, -1):
            try:
                moment = dt.datetime(candidate, month, day, h, m, s, tzinfo=self.time_zone)
            except ValueError:  # Feb 29 of a common year, or day 31 of a short month
                continue
            if moment <= self.now:
                return moment
        return None

    def iso_time(self, ts: str, frac: str | None, tz: str | None) -> dt.datetime | None:
        text = ts.replace(" ", "T")
        if frac:
            text += "." + frac[1:7].ljust(6, "0")
        if tz:
            text += "+00:00" if tz == "Z" else tz
        try:
            moment = dt.datetime.fromisoformat(text)
        except ValueError:
            return None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=self.time_zone)
        return moment

    def _rfc5424_time(self, ts: str) -> dt.datetime | None:
        match = re.fullmatch(
            r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)([.,]\d+)?(Z|[+-]\d\d:\d\d)", ts, re.IGNORECASE
        )
        if not match:
            return None
        return self.iso_time(match[1], match[2], match[3].upper())

    # -- lines --

    def parse(self, line: str) -> LoginEvent | Outcome:
        line = line.rstrip("\r\n")
        at: dt.datetime | None
        if line.startswith("<") and (match := _RFC5424.match(line)):
            at = self._rfc5424_time(match["ts"])
            if at is None:
                return Outcome.UNPARSED
            if self.utc:
                at = at.astimezone(dt.UTC)
            program = match["app"]
            message = line[match.end() :]
            # Structured data: "-" or one or more [id k="v" …] elements.
            if message.startswith("-"):
                message = message[1:]
            else:
                position = 0
                while element := _SD_ELEMENT.match(message, position):
                    position = element.end()
                if position == 0:
                    return Outcome.UNPARSED
                message = message[position:]
            message = message.removeprefix(" ").removeprefix("\ufeff")
        else:
            if match := _CLASSIC.match(line):
                key = match.group("mon", "day", "h", "m", "s")
                try:
                    at = self._times[key]
                except KeyError:
                    at = self._remember(
                        key,
                        self.classic_time(
                            MONTHS[key[0]], int(key[1]), int(key[2]), int(key[3]), int(key[4])
                        ),
                    )
            elif match := _ISO.match(line):
                key = match.group("ts", "tz")
                try:
                    at = self._times[key]
                except KeyError:
                    at = self._remember(key, self.iso_time(key[0], None, key[1]))
                frac = match["frac"]
                if frac and at is not None:
                    at = at.replace(microsecond=int(frac[1:7].ljust(6, "0")))
            else:
                return Outcome.UNPARSED
            if at is None:
                return Outcome.UNPARSED
            start = match.end()
            # "tag: message" (Dovecot's own log file) or "host tag: message".
            tag = _TAG.match(line, start) or _HOST_TAG.match(line, start)
            if tag is None:
                return Outcome.IGNORED
            program = tag["tag"]
            message = line[tag.end() :]
        return self._message(at, program, message)

    def _message(self, at: dt.datetime, program: str, message: str) -> LoginEvent | Outcome:
        if program.startswith("postfix"):
            if program.endswith("/smtpd"):
                return self._postfix(at, message)
            return Outcome.IGNORED
        if program.endswith("-login"):  # Dovecot's log file: the tag is the service
            message = f"{program}: {message}"
        elif not program.startswith("dovecot"):
            return Outcome.IGNORED
        return self._dovecot(at, message)

    def _dovecot(self, at: dt.datetime, message: str) -> LoginEvent | Outcome:
        match = _DOVECOT_LOGIN.match(message)
        if match is None:
            return Outcome.IGNORED
        what = match["what"]
        if what.startswith("Login: "):
            succeeded, pairs = True, what[7:]
        elif what.startswith("Logged in: "):
            succeeded, pairs = True, what[11:]
        elif "(auth failed" in what and what.startswith(_FAILURE_PREFIXES):
            start = _KV_START.search(what)
            if start is None:
                return Outcome.UNPARSED
            succeeded, pairs = False, what[start.end() :]
        else:
            return Outcome.IGNORED  # no auth attempts, proxying, disconnects …
        values = dict(_KV.findall(pairs))
        ip = normalise_ip(values.get("rip", ""))
        user = values.get("user", "").strip("<>").strip()
        if ip is None or (succeeded and not user):
            return Outcome.UNPARSED
        service = match["service"]
        return LoginEvent(
            at=at,
            protocol=DOVECOT_SERVICES.get(service, service),
            user=user,
            ip=ip,
            succeeded=succeeded,
            session_id=values.get("session", "").strip("<>")[:64],
            source="dovecot",
        )

    def _postfix(self, at: dt.datetime, message: str) -> LoginEvent | Outcome:
        if match := _POSTFIX_CLIENT.match(message):
            found = _SASL_USERNAME.search(match["rest"])
            if found is None:  # a client without SMTP AUTH: not a login
                return Outcome.IGNORED
            user, succeeded, session_id = found["user"], True, match["qid"][:64]
            if not user:
                return Outcome.UNPARSED
        elif match := _POSTFIX_FAILED.match(message):
            found = _SASL_USERNAME.search(match["rest"])
            user, succeeded, session_id = (found["user"] if found else ""), False, ""
        else:
            return Outcome.IGNORED
        ip = normalise_ip(match["ip"])
        if ip is None:
            return Outcome.UNPARSED
        return LoginEvent(
            at=at,
            protocol="smtp",
            user=user,
            ip=ip,
            succeeded=succeeded,
            session_id=session_id,
            source="postfix",
        )
