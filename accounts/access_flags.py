"""Which POP3/SMTP sign-ins an admin should look at.

Three kinds, decided while logins are imported (:mod:`accounts.importers`):

- ``new_country``: a successful sign-in from a country the account has
  not signed in from in the previous 90 days (only once the account has a
  known country at all: the very first sign-ins of an account teach its
  countries, they do not flag -- unless they come from abroad);
- ``foreign``: a successful sign-in from outside the office's home
  countries (``Office.home_countries``, by default the country of the
  office's time zone), from a country already known for the account;
- ``burst``: at least 10 failed sign-ins for one account within 10
  minutes (settings ``MAILADMIN_ACCESS_BURST_*``).

Private, loopback and link-local addresses never flag (they have no
country). The folded access row of a flagged sign-in carries the kind (the
pane's badge); the mailbox keeps the newest one (the list's badge and its
``access=flagged`` filter); each *occurrence* is written to the audit log
once: a country occurrence goes on while the account keeps signing in from
that country with gaps under a day, a burst while failures go on with gaps
under an hour -- a traveller polling from abroad all week is one event, not
two thousand.

The state that decides (countries known per account, recent failures,
open occurrences) is kept in memory for the importer's life and filled from
the database only for the accounts that need it: each mailbox keeps a
summary of its countries of the last 90 days (``access_countries``, the
day of the newest sign-in from each), written back when it changes, so an
import never reads an account's history -- at 10,000 accounts that read,
scattered over the log's pages, cost more than the import itself. Earlier
failures are read back only for the first minutes of a run (a burst that
straddles two imports).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict, deque
from dataclasses import dataclass

from django.conf import settings
from django.db.models import Max

from accounts.geo import is_private
from accounts.models import AccessFlag, AccessLog, Mailbox, Office

COUNTRY_OCCURRENCE_GAP = dt.timedelta(days=1)
BURST_OCCURRENCE_GAP = dt.timedelta(hours=1)


@dataclass
class Occurrence:
    """A flag that starts a new occurrence: one audit event."""

    account_id: int
    kind: str
    at: dt.datetime
    protocol: str
    ip: str
    country: str
    failures: int = 0


class FlagState:
    def __init__(self, office: Office):
        self.office = office
        self.home = office.home_country_codes()
        self.known_days = dt.timedelta(days=settings.MAILADMIN_ACCESS_KNOWN_COUNTRY_DAYS)
        self.burst_failures = settings.MAILADMIN_ACCESS_BURST_FAILURES
        self.burst_window = dt.timedelta(seconds=settings.MAILADMIN_ACCESS_BURST_SECONDS)
        # account → {country: newest successful sign-in}
        self.known: dict[int, dict[str, dt.datetime]] = {}
        # account → {country: ISO day}: the mailbox's access_countries
        self.summary: dict[int, dict[str, str]] = {}
        self.dirty: set[int] = set()
        # account → the mailbox's newest flagged sign-in when first seen
        self.flagged_at: dict[int, dt.datetime | None] = {}
        self.run_start: dt.datetime | None = None
        self.failures: dict[int, deque] = defaultdict(deque)
        # (account, country or "" for a burst) → newest flagged sign-in
        self.open: dict[tuple[int, str], dt.datetime] = {}
        self.open_loaded: set[tuple[int, str]] = set()
        # UTC day ordinal → its ISO text (asked for every sign-in)
        self.days: dict[int, str] = {}

    # -- what the database knows, for the accounts a batch needs --

    def prepare(self, events) -> None:
        """Load what the batch's accounts need: ``events`` are
        (account_id, at, protocol, ip, country, succeeded) tuples. The
        countries come from the mailbox's summary (``access_countries``)
        and its last access, never from the access log."""
        if self.run_start is None and events:
            self.run_start = min(e[1] for e in events)
        new_accounts = {e[0] for e in events if e[0] not in self.known}
        if new_accounts:
            for account_id, summary, country, at, flagged_at in Mailbox.objects.filter(
                account_id__in=new_accounts
            ).values_list(
                "account_id",
                "access_countries",
                "last_access_country",
                "last_access_at",
                "access_flag_at",
            ):
                self.flagged_at[account_id] = flagged_at
                seen: dict[str, dt.datetime] = {}
                for code, day in (summary or {}).items():
                    try:
                        seen[code] = dt.datetime.fromisoformat(day).replace(
                            hour=23, minute=59, second=59, tzinfo=dt.UTC
                        )
                    except (TypeError, ValueError):
                        continue
                if country and at and (country not in seen or seen[country] < at):
                    seen[country] = at
                self.known[account_id] = seen
                self.summary[account_id] = dict(summary or {})
            for account_id in new_accounts:
                self.known.setdefault(account_id, {})
                self.summary.setdefault(account_id, {})
        self._seed_failures(events)

    def summary_changes(self, now: dt.datetime | None = None) -> dict[int, dict[str, str]]:
        """The mailboxes' country summaries that changed since the last
        call (a new country, or a newer day), without days older than the
        known-country window."""
        changed, self.dirty = self.dirty, set()
        floor = ((now or dt.datetime.now(dt.UTC)) - self.known_days).date().isoformat()
        out = {}
        for account_id in changed:
            summary = {c: d for c, d in self.summary[account_id].items() if d >= floor}
            self.summary[account_id] = summary
            out[account_id] = summary
        return out

    def _occurrence_open(self, account_id: int, key: str, at: dt.datetime, gap) -> bool:
        """Whether a flag of this account and key continues an occurrence
        (and remember it as the newest)."""
        slot = (account_id, key)
        flagged_at = self.flagged_at.get(account_id)
        if slot not in self.open_loaded and (flagged_at is None or flagged_at < at - gap):
            # Nothing flagged for the account lately (the mailbox keeps its
            # newest flag): no occurrence to go on with, nothing to ask.
            self.open_loaded.add(slot)
        if slot not in self.open_loaded:
            self.open_loaded.add(slot)
            flags = (
                [AccessFlag.BURST] if key == "" else [AccessFlag.NEW_COUNTRY, AccessFlag.FOREIGN]
            )
            rows = AccessLog.objects.filter(
                account_id=account_id, flag__in=flags, hour__gte=at - gap - dt.timedelta(hours=1)
            )
            if key:
                rows = rows.filter(country=key)
            newest = rows.aggregate(newest=Max("last_at"))["newest"]
            if newest is not None and (slot not in self.open or self.open[slot] < newest):
                self.open[slot] = newest
        previous = self.open.get(slot)
        self.open[slot] = max(previous, at) if previous else at
        return previous is not None and at - previous <= gap and previous - at <= gap

    def _seed_failures(self, events) -> None:
        """An earlier run's failures still inside the burst window of the
        batch's first failure, for the accounts failing for the first time
        in this run (a burst that straddles two hourly imports), in one
        query. The folded rows tell how many failures an hour and IP had
        and when the first and last were: a row that began inside the
        window counts whole, one that began before counts its last failure
        only."""
        first: dict[int, dt.datetime] = {}
        # A failure later than the window after this run's first login has
        # its whole window inside this run (the log is read in order).
        horizon = (self.run_start or dt.datetime.max.replace(tzinfo=dt.UTC)) + self.burst_window
        for account_id, at, _protocol, ip, _country, ok in events:
            if not ok and account_id not in self.failures and account_id not in first:
                if at <= horizon and not is_private(ip):
                    first[account_id] = at
        if not first:
            return
        for account_id in first:
            self.failures[account_id]  # noqa: B018 -- seeded (maybe empty) from here on
        floor = min(first.values()) - self.burst_window
        rows = AccessLog.objects.filter(
            account_id__in=list(first),
            succeeded=False,
            hour__gte=floor - dt.timedelta(hours=1),
            last_at__gte=floor,
            last_at__lte=max(first.values()),
        ).values_list("account_id", "first_at", "last_at", "count")
        seeded: dict[int, list] = defaultdict(list)
        for account_id, first_at, last_at, count in rows:
            start = first[account_id] - self.burst_window
            if last_at < start or last_at > first[account_id]:
                continue
            if first_at >= start:
                seeded[account_id] += [first_at] * (count - 1) + [last_at]
            else:
                seeded[account_id].append(last_at)
        for account_id, moments in seeded.items():
            self.failures[account_id].extend(sorted(moments))

    # -- one sign-in --

    def flag(
        self, account_id: int, at: dt.datetime, protocol: str, ip: str, country: str, ok: bool
    ) -> tuple[str, Occurrence | None]:
        """The flag of one sign-in ("" for none), and the occurrence it
        starts, if any. Call in the order of the log."""
        if ok:
            if not country or is_private(ip):
                return "", None
            seen = self.known.setdefault(account_id, {})
            newest = seen.get(country)
            known = newest is not None and newest >= at - self.known_days
            if country not in self.home:
                kind = AccessFlag.FOREIGN if known else AccessFlag.NEW_COUNTRY
            elif not known and any(t >= at - self.known_days for t in seen.values()):
                kind = AccessFlag.NEW_COUNTRY
            else:
                kind = ""
            if newest is None or newest < at:
                seen[country] = at
            utc = at if at.tzinfo is dt.UTC else at.astimezone(dt.UTC)
            day = self.days.get(ordinal := utc.toordinal())
            if day is None:
                day = self.days[ordinal] = utc.date().isoformat()
            summary = self.summary.setdefault(account_id, {})
            if summary.get(country, "") < day:
                summary[country] = day
                self.dirty.add(account_id)
            if not kind:
                return "", None
            if self._occurrence_open(account_id, country, at, COUNTRY_OCCURRENCE_GAP):
                return kind, None
            return kind, Occurrence(account_id, kind, at, protocol, ip, country)
        if is_private(ip):
            return "", None
        window = self.failures[account_id]
        window.append(at)
        while window and window[0] < at - self.burst_window:
            window.popleft()
        if len(window) < self.burst_failures:
            return "", None
        kind = AccessFlag.BURST
        if self._occurrence_open(account_id, "", at, BURST_OCCURRENCE_GAP):
            return kind, None
        return kind, Occurrence(account_id, kind, at, protocol, ip, country, len(window))
