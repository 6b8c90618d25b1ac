"""Reading the audit log: one filter for the page and the
download, and the readable form of an event's details."""

from __future__ import annotations

import datetime as dt
import functools
import zoneinfo
from collections.abc import Iterator
from typing import Any

from django.core.exceptions import EmptyResultSet
from django.core.paginator import Page
from django.db import connection
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from accounts import tallies
from accounts.bulk import BulkAction
from accounts.formatting import choice_label, human_bytes, human_quota
from accounts.models import AccessFlag, Account, AuditEvent, Office
from accounts.paging import keyed_page


def filtered_events(office: Office, filters: dict[str, Any]) -> QuerySet[AuditEvent]:
    """The office's events matching ``filters`` (the cleaned
    :class:`~accounts.forms.AuditFilterForm`), newest first. Dates are days
    of the office's calendar."""
    return _events(office, filters, _person_arms(office, filters))


# The events' own columns, and of their actor and target accounts what a
# row shows (person): two whole accounts a row, password hashes and
# timestamps among them, were a fifth of the page's rows' cost.
_EVENT_COLUMNS = (
    *(field.name for field in AuditEvent._meta.concrete_fields),
    "actor__name",
    "actor__login_id",
    "target__name",
    "target__login_id",
)


def _events(
    office: Office, filters: dict[str, Any], persons: dict[str, tuple[Q, Q]]
) -> QuerySet[AuditEvent]:
    """filtered_events with the actor and target filters' arms given."""
    events = (
        AuditEvent.objects.filter(office=office)
        .select_related("actor", "target")
        .only(*_EVENT_COLUMNS)
    )
    if filters.get("action"):
        events = events.filter(action=filters["action"])
    for by_account, by_label in persons.values():
        events = events.filter(by_account | by_label)
    zone = zoneinfo.ZoneInfo(office.time_zone)
    if filters.get("date_from"):
        events = events.filter(at__gte=dt.datetime.combine(filters["date_from"], dt.time(), zone))
    if filters.get("date_to"):
        end = filters["date_to"] + dt.timedelta(days=1)
        events = events.filter(at__lt=dt.datetime.combine(end, dt.time(), zone))
    return events.order_by("-at", "-pk")


PERSON_IDS_LIMIT = 500


def _person_arms(office: Office, filters: dict[str, Any]) -> dict[str, tuple[Q, Q]]:
    """The actor and target filters in effect, each as its two disjoint
    arms: events whose actor (or target) is an account of the office whose
    name or ID contains the text -- asked by the stored account ids, on the
    ``(office, actor|target, -at)`` index, not by scanning every event's
    text -- and events without one (a failed login's tried ID, a purged
    user) whose stored label contains it."""
    arms = {}
    for role in ("actor", "target"):
        text = (filters.get(role) or "").strip()
        if not text:
            continue
        accounts = (
            Account.objects.filter(office=office)
            .filter(Q(name__icontains=text) | Q(login_id__icontains=text))
            .values_list("pk", flat=True)
        )
        # The ids themselves (one small query, the names' trigram indexes):
        # given a subquery, PostgreSQL cannot tell one account from
        # thousands and walks the whole log newest first to find a user's
        # few events (0.5 s at 100,000 events). A term matching very many
        # accounts stays a subquery.
        ids = list(accounts[: PERSON_IDS_LIMIT + 1])
        if len(ids) > PERSON_IDS_LIMIT:
            ids = accounts
        # (The label's non-empty test, implied by the match, names the
        # partial index of such events.)
        label_only = Q(**{f"{role}__isnull": True}) & ~Q(**{f"{role}_label": ""})
        arms[role] = (
            Q(**{f"{role}_id__in": ids}),
            label_only & Q(**{f"{role}_label__icontains": text}),
        )
    return arms


def _count_by_arms(office: Office, filters: dict[str, Any], persons) -> int:
    """The filtered events counted as the sum of one person filter's two
    arms, each on its own index, in one query. Counted as one OR, SQLite
    scanned the whole log (the actor filter 'admin' at 1,000,000 events:
    200 ms, against 12 ms for both arms)."""
    role, (by_account, by_label) = next(iter(persons.items()))
    rest = _events(office, filters, {r: arms for r, arms in persons.items() if r != role})
    parts, params = [], []
    for arm in (by_account, by_label):
        try:
            sql, arm_params = rest.filter(arm).order_by().values("pk").query.sql_with_params()
        except EmptyResultSet:  # no account matches: nothing to count on that side
            continue
        parts.append(f"(SELECT COUNT(*) FROM ({sql}) arm)")
        params.extend(arm_params)
    if not parts:
        return 0
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {' + '.join(parts)}", params)
        return cursor.fetchone()[0]


def event_page(office: Office, filters: dict[str, Any], number, per_page: int) -> Page:
    """One page of :func:`filtered_events` in two queries whatever the page
    (:func:`accounts.paging.keyed_page`: the keys of the events before it
    are an index-only walk of ``(office, -at, -id)``). The whole log and
    one action's events are counted by the database as they are written
    (:mod:`accounts.tallies`); an actor or target filter counts its two
    arms apart; other filters count their matches."""
    persons = _person_arms(office, filters)
    count = count_sql = None
    if persons:
        count = _count_by_arms(office, filters, persons)
    elif not any(filters.get(name) for name in ("date_from", "date_to")):
        count_sql = tallies.audit_count_sql(office, filters.get("action") or None)
    return keyed_page(
        _events(office, filters, persons), number, per_page, count=count, count_sql=count_sql
    )


def action_label(action: str) -> str:
    """An action's label in the active language (``get_action_display``
    hashes all 26 lazy labels on every call: two thirds of the audit page's
    Python time for 50 events)."""
    return choice_label(AuditEvent.Action, action)


def _field_labels() -> dict[str, str]:
    # Built once per language, not per event: ~80 catalogue lookups for each
    # of a page's 50 events were a fifth of the page's time.
    return _field_labels_in(get_language())


@functools.lru_cache(maxsize=16)
def _field_labels_in(language: str | None) -> dict[str, str]:
    return {
        "name": _("Name"),
        "status": _("Status"),
        "pop3_enabled": "POP3",
        "smtp_enabled": "SMTP",
        "mail_password": _("Mail-only password"),
        "messages": _("Messages"),
        "message_count": _("Messages"),
        "moved_messages": _("Messages moved"),
        "messages_moved": _("Messages moved"),
        "slot": _("Sub-account slot"),
        # a mail action the mail store refused: its message
        "failed": _("Failed"),
        "bytes": _("Size"),
        "size_bytes": _("Size"),
        "local_part": _("Sub-account ID"),
        "address": _("Address"),
        "rows": _("Rows"),
        "filters": _("Filters"),
        # the filters of a download (usage list, audit log)
        "q": _("Search"),
        "subaccounts": _("Sub-accounts"),
        "inactive": _("Inactive"),
        "sort": _("Sort"),
        "action": _("Action"),
        "actor": _("Actor"),
        "target": _("Target"),
        "date_from": _("From"),
        "date_to": _("To"),
        "filename": _("File name"),
        # bulk actions and bulk registration (accounts.bulk, accounts.bulk_import)
        "batch": _("Bulk change no."),
        "accounts": _("Accounts"),
        "changed": _("Changed"),
        "unchanged": _("Unchanged"),
        "skipped": _("Left out"),
        "created": _("Added"),
        "updated": _("Changed"),
        "quota_bytes": _("Quota"),
        "department": _("Department"),
        "kind": _("Kind"),
        "mail": _("Uses mail"),
        # login_locked (accounts.views.auth)
        "failures": _("Failed attempts"),
        "cooloff_minutes": _("Blocked for (minutes)"),
        # 사용자 관리 (accounts.account_services)
        "role": _("Administrator role"),
        "quota": _("Quota"),
        "default_quota": _("Default quota"),
        "used": _("Usage"),
        "used_bytes": _("Usage"),
        "below_usage": _("Below the usage"),
        "password": _("Password"),
        "generated": _("Generated"),
        "must_change": _("Must change at next sign-in"),
        "must_change_password": _("Must change at next sign-in"),
        "addresses": _("Addresses"),
        "deleted_at": _("Deleted"),
        # a flagged POP3/SMTP sign-in (accounts.access_flags)
        "flag": _("Flag"),
        "protocol": _("Type"),
        "country": _("Country"),
        "sign_in_ip": _("Sign-in IP"),
        "sign_in_at": _("Sign-in time"),
        "access": _("Sign-ins"),
        "home_countries": _("Home countries"),
    }


QUOTA_FILTER_LABELS = {
    "under": _("Under 80%"),
    "warning": _("80–95% (warning)"),
    "critical": _("95–100%"),
    "over": _("Over quota"),
    "unlimited": _("Unlimited"),
}


def _value(key: str, value: Any) -> str:
    if key == "quota" and isinstance(value, str) and value in QUOTA_FILTER_LABELS:
        return str(QUOTA_FILTER_LABELS[value])  # a download's quota-status filter
    if key == "inactive" and isinstance(value, str) and value.isdigit():
        return _("No access in %(days)s days") % {"days": value}
    if key in ("quota", "default_quota") and (value is None or isinstance(value, int)):
        return human_quota(value)
    if key == "quota_bytes" and value is None:
        return _("Unlimited")
    if value is None or value == "":
        return "-"
    if key == "role" and value in Account.Role.values:
        return str(Account.Role(value).label)
    if key == "kind" and value in Account.Kind.values:
        return str(Account.Kind(value).label)
    if key == "used" and isinstance(value, int):
        return human_bytes(value)
    if key == "status" and value in Account.Status.values:
        return str(Account.Status(value).label)
    if key in ("pop3_enabled", "smtp_enabled") and isinstance(value, bool):
        return _("On") if value else _("Off")
    if key == "mail_password" and isinstance(value, bool):
        return _("Set") if value else _("Not set")
    if isinstance(value, bool):
        return _("Yes") if value else _("No")
    if isinstance(value, int) and "bytes" in key:
        return human_bytes(value)
    if key == "flag" and value in AccessFlag.values:
        return str(AccessFlag(value).label)
    if key == "access" and value == "flagged":
        return _("Flagged sign-ins")
    if key == "protocol" and isinstance(value, str):
        return value.upper()
    if key == "subaccounts" and value in ("used", "unused"):
        return _("In use") if value == "used" else _("Not used")
    if key == "action" and value in AuditEvent.Action.values:
        return str(AuditEvent.Action(value).label)
    if key == "action" and value in BulkAction.values:
        return str(BulkAction(value).label)
    if key == "kind" and value in Account.Kind.values:
        return str(Account.Kind(value).label)
    if isinstance(value, dict):
        labels = _field_labels()
        return ", ".join(f"{labels.get(k, k)}={_value(k, v)}" for k, v in value.items())
    if isinstance(value, list | tuple):
        return ", ".join(_value(key, v) for v in value)
    return str(value)


def describe(event: AuditEvent) -> list[tuple[str, str]]:
    """The event's details as (label, text) pairs, a change as
    ``before → after``."""
    labels = _field_labels()
    details = []
    data = event.data if isinstance(event.data, dict) else {"": event.data}
    for key, value in data.items():
        label = labels.get(key, key.replace("_", " "))
        if isinstance(value, dict) and set(value) == {"before", "after"}:
            text = f"{_value(key, value['before'])} → {_value(key, value['after'])}"
        else:
            text = _value(key, value)
        details.append((label, text))
    return details


def person(account: Account | None, label: str) -> str:
    if account is not None:
        return f"{account.name} ({account.login_id})"
    return label or "-"


def export_rows(events: QuerySet[AuditEvent], time_zone: str) -> Iterator[list[Any]]:
    zone = zoneinfo.ZoneInfo(time_zone)
    for event in events.iterator(chunk_size=2000):
        yield [
            timezone.localtime(event.at, zone).replace(tzinfo=None),
            action_label(event.action),
            person(event.actor, event.actor_label),
            person(event.target, event.target_label),
            "; ".join(f"{label}: {text}" for label, text in describe(event)),
            event.ip or "",
        ]


def export_header() -> list[str]:
    return [_("Time"), _("Action"), _("Actor"), _("Target"), _("Details"), _("IP")]
