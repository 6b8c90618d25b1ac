"""Reads for the mail usage screen, in one place.

The list view and the Excel export both call :func:`usage_rows`, so an admin
downloads exactly the accounts (and the order) the screen selects. Everything
here reads the counters kept by the services (``mailbox.used_bytes``,
``usage_share``, ``last_access_at``, ``account.subaccount_count``): nothing
is summed from messages or the access log per request.

:class:`UsageFilterSet` is the only definition of the list's filters. The
rows apply it to accounts joined to their mailboxes; the filtered count
applies the *same* filters, with the same cleaned values, to the narrow
``MailListing`` read model (and the search index), which needs no join.
A filter says whether it can run on the read model (:func:`on_listing`);
when an active filter cannot, the count falls back to counting the rows'
own query -- slower, never wrong -- so adding a filter in the FilterSet
alone is enough for rows, count, total and export to agree.

The sort whitelist is the column registry's (:mod:`accounts.columns`).

Bad parameters never fail: an unknown filter value, sort key, page or page
size falls back to its default, as a bookmarked or hand-edited URL should.
"""

from __future__ import annotations

import copy
import datetime as dt
import functools
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import django_filters
from django import forms
from django.conf import settings
from django.core.paginator import Page
from django.db import connection
from django.db.models import BooleanField, Exists, F, OuterRef, Q, QuerySet
from django.db.models.expressions import RawSQL
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from accounts import columns, search_index, tallies
from accounts.access_history import access_window_start, recent_access
from accounts.common_table import with_table
from accounts.models import (
    MAIL_PASSWORD_HASH_PREFIX,
    Account,
    Address,
    MailListing,
    Office,
)
from accounts.paging import CountedPaginator, asks_first_page, page_number

SEARCH_MAX_LENGTH = 100
DEFAULT_SORT = "name"
QUOTA_STATUSES = ("under", "warning", "critical", "over", "unlimited")
# The inactivity thresholds (days without a successful POP3/SMTP sign-in),
# the choices of the list's ``inactive`` filter.
INACTIVE_DAYS = (30, 60, 90)


def sort_choices() -> list[tuple[str, str]]:
    """The whitelist: every column's sort keys, ascending and descending
    (a callable, so the choices follow the registry when it changes)."""
    keys = list(columns.sorts())
    return [(key, key) for key in keys] + [(f"-{key}", f"-{key}") for key in keys]


def ordering_for(sort: str) -> list:
    """The ORDER BY for a whitelisted sort key (``-`` for descending)."""
    return columns.sorts()[sort.lstrip("-")].order(sort.startswith("-"))


def on_listing(filter_: django_filters.Filter) -> django_filters.Filter:
    """Mark a filter as one that runs unchanged on the ``MailListing`` read
    model too (its field exists there, or its method handles that model),
    so the count can use the narrow table."""
    filter_.on_listing = True
    return filter_


class UsageFilterSet(django_filters.FilterSet):
    """The list's filters and sort. Every filter here narrows the rows, the
    count and the export alike; one marked :func:`on_listing` lets the count
    use the read model. ``sort`` is not a filter: it orders, last."""

    q = on_listing(django_filters.CharFilter(method="filter_search", label=_("Search")))
    subaccounts = on_listing(
        django_filters.ChoiceFilter(
            method="filter_subaccounts",
            choices=[("used", _("In use")), ("unused", _("Not used"))],
            empty_label=_("All"),
            label=_("Sub-accounts"),
        )
    )
    status = on_listing(
        django_filters.ChoiceFilter(
            field_name="status",
            choices=Account.Status.choices,
            empty_label=_("All"),
            label=_("Account status"),
        )
    )
    # Not on the read model: it reads the mailbox's stored hash.
    mail_password = django_filters.ChoiceFilter(
        method="filter_mail_password",
        choices=[
            ("in_use", _("In use")),
            ("not_in_use", _("Not in use")),
            ("needs_reset", _("Needs reset")),
        ],
        empty_label=_("All"),
        label=_("Mail-only password"),
    )
    # Not on the read model: it reads the mailbox's share of its quota
    # (basis points, indexed with the office).
    quota = django_filters.ChoiceFilter(
        method="filter_quota",
        choices=[
            ("under", _("Under 80%")),
            ("warning", _("80–95% (warning)")),
            ("critical", _("95–100%")),
            ("over", _("Over quota")),
            ("unlimited", _("Unlimited")),
        ],
        empty_label=_("All"),
        label=_("Quota status"),
    )
    # Not on the read model: it reads the mailbox's last successful
    # POP3/SMTP sign-in (indexed with the office).
    inactive = django_filters.ChoiceFilter(
        method="filter_inactive",
        choices=[
            ("30", _("No access in 30 days")),
            ("60", _("No access in 60 days")),
            ("90", _("No access in 90 days")),
        ],
        empty_label=_("All"),
        label=_("Inactive"),
    )
    # The mailbox's newest flagged sign-in inside the access window; the
    # read model holds a copy of its time (kept by triggers), so it counts
    # there too.
    access = on_listing(
        django_filters.ChoiceFilter(
            method="filter_access",
            choices=[("flagged", _("Flagged sign-ins"))],
            empty_label=_("All"),
            label=_("Sign-ins"),
        )
    )
    sort = on_listing(
        django_filters.ChoiceFilter(method="filter_nothing", choices=sort_choices, label=_("Sort"))
    )

    class Meta:
        model = Account
        fields: list[str] = []

    def __init__(self, data=None, *args, office: Office, **kwargs):
        self.office = office
        self._listing_matches: dict[bool, QuerySet] = {}
        super().__init__(data, *args, **kwargs)

    def get_form_class(self) -> type[forms.Form]:
        """The form class, built once per FilterSet class.

        django-filters builds a new form class on every request, a field
        from each filter; the fields come from the declared filters alone
        (no filter here depends on the request or the office), so one class
        serves every request, its forms sharing its fields (see
        :class:`_SharedFields`). A subclass gets its own."""
        cls = type(self)
        form_class = cls.__dict__.get("_form_class")
        if form_class is None:
            form_class = super().get_form_class()
            form_class.base_fields = _SharedFields(form_class.base_fields)
            cls._form_class = form_class
        return form_class

    def option_labels(self, name: str) -> tuple[tuple[str, str], ...]:
        """A filter's choices with their labels in the active language, the
        empty choice first, for the toolbar's options (see
        :func:`_option_labels`)."""
        return _option_labels(self.get_form_class(), name, get_language())

    def filter_search(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        if queryset.model is MailListing:
            # The read model asks the search index for counting, and walks
            # its own order for a page of a broad search (see search_condition).
            return queryset.filter(
                search_condition(self.office, value, pk="account_id", indexed=self._indexed)
            )
        return queryset.filter(search_condition(self.office, value))

    def filter_subaccounts(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        # subaccount_count exists on Account and on the read model alike.
        if value == "used":
            return queryset.filter(subaccount_count__gt=0)
        return queryset.filter(subaccount_count=0)

    def filter_mail_password(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        if value == "not_in_use":
            return queryset.filter(mailbox__mail_password="")
        queryset = queryset.exclude(mailbox__mail_password="")
        if value == "needs_reset":
            # Stored in a hash the mail server cannot check (see
            # Mailbox.mail_password_needs_reset).
            return queryset.exclude(mailbox__mail_password__startswith=MAIL_PASSWORD_HASH_PREFIX)
        return queryset

    def filter_quota(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        return queryset.filter(quota_condition(value))

    def filter_inactive(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        return queryset.filter(inactive_condition(int(value), timezone.now()))

    def filter_access(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        # A sign-in flagged inside the access window (new country, abroad,
        # a burst of failures: accounts/access_flags.py), as the list's
        # badge shows it.
        if queryset.model is MailListing:
            return queryset.filter(access_flag_at__gte=self.window_start)
        return queryset.filter(mailbox__access_flag_at__gte=self.window_start)

    @cached_property
    def window_start(self) -> dt.datetime:
        """The access window's start, taken once: the rows and the count
        (asked of different tables) must draw the line at the same moment."""
        return access_window_start(self.office.time_zone)

    def filter_nothing(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        return queryset  # the order is applied last, in filter_queryset

    def filter_queryset(self, queryset: QuerySet) -> QuerySet:
        return super().filter_queryset(queryset).order_by(*ordering_for(self.current_sort))

    @property
    def filter_names(self) -> list[str]:
        """The filters proper: every declared one but the sort."""
        return [name for name in self.filters if name != "sort"]

    @cached_property
    def active(self) -> list[str]:
        """The filters with a valid value in effect (asked a few times a
        page; the data and so the answer never change)."""
        return [name for name in self.filter_names if self.cleaned(name)]

    @property
    def counts_on_listing(self) -> bool:
        """Whether every active filter runs on the read model."""
        return all(getattr(self.filters[name], "on_listing", False) for name in self.active)

    _indexed = True  # how filter_search asks the read model (listing_matches)

    def listing_matches(self, *, indexed: bool = True) -> QuerySet:
        """The same filters, with the same cleaned values, applied to the
        office's ``MailListing`` rows (every filter must be
        :func:`on_listing`; see :attr:`counts_on_listing`). A search asks
        the search index (``indexed``: for counting and few matches) or is
        matched row by row as the walk meets them (for a page of many).

        Built once per FilterSet and form of search (a page asks for it to
        count, for a search's few matches and for a page's keys; callers
        derive their queries from it and never evaluate it)."""
        assert self.counts_on_listing, "a filter of this FilterSet cannot run on the read model"
        if indexed not in self._listing_matches:
            rows = MailListing.objects.filter(office=self.office)
            if self.is_bound:
                self.errors  # noqa: B018 -- as .qs: an invalid value is left out, the rest apply
                self._indexed = indexed
                try:
                    rows = super().filter_queryset(rows)
                finally:
                    self._indexed = True
            self._listing_matches[indexed] = rows
        return self._listing_matches[indexed]

    @property
    def current_sort(self) -> str:
        """The sort in effect (the default when absent or not whitelisted)."""
        return self.cleaned("sort") or DEFAULT_SORT

    def cleaned(self, name: str) -> Any:
        if not self.is_bound:
            return None
        self.errors  # noqa: B018 -- validates the form once
        return self.form.cleaned_data.get(name)

    @property
    def applied(self) -> dict[str, str]:
        """The valid filters and sort actually in effect (for the audit log)."""
        return {name: self.cleaned(name) for name in self.filters if self.cleaned(name)}

    @property
    def is_filtered(self) -> bool:
        return bool(self.active)


class _SharedFields(dict):
    """The filter form's fields, shared by its instances.

    A Django form deep-copies its class's fields so that it may change its
    own; the FilterSet's form only validates the query string (the toolbar
    is written from :meth:`UsageFilterSet.option_labels`), never renders or
    changes a field, and the copy of eight choice fields with their widgets
    was a good part of building the FilterSet on every request."""

    def __deepcopy__(self, memo) -> dict:
        return dict(self)


class _FilterCopies(dict):
    """The FilterSet's declared filters, copied for each instance.

    django-filters deep-copies its class's filters for every FilterSet
    (each instance sets itself as their parent), which took the filters'
    choices, labels and widgets along: the biggest part of building the
    FilterSet on each page. Their configuration never changes after the
    class is made, so a shallow copy of each serves; only a ``method``
    filter's proxy holds its filter, and is made anew for the copy."""

    def __deepcopy__(self, memo) -> dict:
        copies = {}
        for name, declared in self.items():
            filter_ = copy.copy(declared)
            if declared.method is not None:
                filter_.method = declared.method  # a proxy bound to the copy
            copies[name] = filter_
        return copies


UsageFilterSet.base_filters = _FilterCopies(UsageFilterSet.base_filters)


@functools.lru_cache(maxsize=64)
def _option_labels(
    form_class: type[forms.Form], name: str, language: str | None
) -> tuple[tuple[str, str], ...]:
    """The labels are lazy translations: written into the toolbar's six
    selects they were translated one by one on every request (a tenth of
    the page's template time); the choices are fixed, so each filter's are
    translated once per language."""
    return tuple((value, str(label)) for value, label in form_class.base_fields[name].choices)


def quota_condition(value: str) -> Q:
    """The accounts (joined to their mailboxes) in one quota-status bucket.
    The list's filter and the report's chart both ask here, so a bar and
    the list it links to count the same accounts."""
    if value == "unlimited":
        return Q(mailbox__usage_share__isnull=True)
    if value == "under":
        return Q(mailbox__usage_share__lt=8000)
    if value == "warning":
        return Q(mailbox__usage_share__gte=8000, mailbox__usage_share__lt=9500)
    # The share is rounded down: a mailbox just over its quota can still
    # read 100.00 %, so "over" compares the bytes themselves.
    over = Q(mailbox__used_bytes__gt=F("mailbox__quota_bytes"))
    if value == "over":
        return over & Q(mailbox__usage_share__isnull=False)
    if value == "critical":
        return Q(mailbox__usage_share__gte=9500) & ~over
    raise ValueError(f"unknown quota status {value!r}")


def inactive_condition(days: int, now: dt.datetime) -> Q:
    """No successful POP3/SMTP sign-in in the last ``days`` days, never
    having signed in included (the mailbox mirrors the newest success)."""
    since = now - dt.timedelta(days=days)
    return Q(mailbox__last_access_at__isnull=True) | Q(mailbox__last_access_at__lt=since)


def search_condition(office: Office, value: str, *, pk: str = "pk", indexed: bool = False) -> Q:
    """Case-insensitive substring of the name or the ID, or of any address
    of the account (a sub-account's address finds its owner).

    ``local@dom`` is read as an address: the part before ``@`` must end the
    local part, the part after it must begin the office's domain.

    Two forms select the same rows. The plain form (``LIKE``) lets
    the database walk the list's order and stop after a page: right when
    many rows match. The ``indexed`` form asks an index for the matches
    (SQLite: FTS5 trigram tables for 3+ characters, gram table for 1-2
    Hangul syllables; PostgreSQL: a UNION of three trigram index scans):
    right for counting, and for the page when few rows match.

    In the plain form ``UPPER()`` is left out where case cannot matter
    (Hangul has none), and addresses are skipped for non-ASCII text because
    sub-account IDs are ASCII. Addresses are matched so that an owner with
    several matching sub-accounts stays one row (see _subaccount_match).
    """
    value = value.strip()[:SEARCH_MAX_LENGTH]
    if not value:
        return Q()
    if "@" in value:
        local, _at, domain = value.rpartition("@")
        if not office.domain.startswith(domain.lower()):
            return Q(name__icontains=value)
        if not local:
            return Q()  # "@gabia…": every address of the office matches
        return (
            Q(name__icontains=value)
            | Q(login_id__iendswith=local)
            | _subaccount_match(office, pk, local_part__iendswith=local)
        )
    if search_index.trigram_countable(value):
        # Three characters: the listed accounts holding them as a piece
        # (ListingTrigram), in both forms; indexed, a join driven by that
        # index range.
        holding = Q(**{f"{pk}__in": RawSQL(search_index.TRIGRAM_MATCH, [office.pk, value])})
        if indexed or pk != "account_id":
            return holding
        # Walking the read model's name or ID index: the OR (never true, a
        # key is never NULL) keeps PostgreSQL from turning the IN into a
        # join probed by index for every walked row (200 ms for lee's first
        # page at 100,000 accounts, whose matches sort late); it hashes the
        # ids once and probes the hash instead (18 ms, where matching the
        # three columns row by row took 70). SQLite, given the plain IN,
        # looks every match up and sorts them all; with the OR it walks the
        # index and probes the list (see _walk_pays). The accounts' own
        # walks (by usage) keep the plain IN: there the OR's guessed
        # selectivity made PostgreSQL sort every match instead (2 ms became
        # 126 for kim).
        return holding | Q(**{f"{pk}__isnull": True})
    if indexed and has_search_index(value):
        if connection.vendor == "postgresql":
            return Q(**{f"{pk}__in": _trigram_matches(office, value)})
        if search_index.gram_searchable(value):
            return Q(**{f"{pk}__in": RawSQL(search_index.GRAM_MATCH, [office.pk, value])})
        phrase = search_index.fts_phrase(value)
        return Q(**{f"{pk}__in": RawSQL(search_index.ACCOUNT_MATCH, [phrase])}) | Q(
            **{f"{pk}__in": RawSQL(search_index.ADDRESS_MATCH, [phrase])}
        )
    lookup = substring_lookup(value)
    condition = Q(**{f"name__{lookup}": value}) | Q(**{f"login_id__{lookup}": value})
    if value.isascii():
        condition |= _subaccount_match(office, pk, **{f"local_part__{lookup}": value})
    return condition


def substring_lookup(value: str) -> str:
    """``icontains`` where case can matter, else ``contains``: ``UPPER()``
    of every name costs more than the match itself, and Hangul has no case.
    (PostgreSQL's trigram indexes hold ``UPPER()`` of the column, so a
    pattern they can answer keeps it.)"""
    trigram = connection.vendor == "postgresql" and len(value) >= search_index.MIN_INDEXED_LENGTH
    return "icontains" if trigram or value.lower() != value.upper() else "contains"


def has_search_index(value: str | None) -> bool:
    """Whether an index can answer this search (see search_condition)."""
    value = (value or "").strip()[:SEARCH_MAX_LENGTH]
    if not value or "@" in value:
        return False
    if len(value) >= search_index.MIN_INDEXED_LENGTH:
        return True
    return connection.vendor == "sqlite" and search_index.gram_searchable(value)


def _trigram_matches(office: Office, value: str) -> RawSQL:
    """The ids whose name, ID or sub-account address contains ``value``, as
    a UNION of three trigram index scans. (An OR of the three lets
    PostgreSQL walk the list's order and filter every row: 100 ms for one
    hit, where this takes under one.)"""
    pattern = f"%{connection.ops.prep_for_like_query(value)}%"
    account = Account._meta.db_table
    address = Address._meta.db_table
    sql = (
        f'SELECT id FROM {account} WHERE office_id = %s AND UPPER("name"::text) LIKE UPPER(%s) '
        f"UNION SELECT id FROM {account} "
        f'WHERE office_id = %s AND UPPER("login_id"::text) LIKE UPPER(%s) '
        f"UNION SELECT account_id FROM {address} WHERE office_id = %s "
        f'AND folder_id IS NOT NULL AND UPPER("local_part"::text) LIKE UPPER(%s)'
    )
    return RawSQL(sql, [office.pk, pattern] * 3)


def _subaccount_owners(office: Office, **local_part_lookup) -> QuerySet:
    return Address.objects.filter(office=office, folder__isnull=False, **local_part_lookup).values(
        "account_id"
    )


def _subaccount_match(office: Office, pk: str, **local_part_lookup) -> Q:
    """Accounts with a sub-account address matching the lookup.

    PostgreSQL gets a correlated ``EXISTS``: it charges an uncorrelated
    ``IN (SELECT …)`` its whole hash build again for every row of a nested
    loop, so with it a broad search never walked the usage index and
    sorted every match instead (about 0.7 s for ``kim`` by usage at 100,000
    accounts, 10-15 ms with ``EXISTS``); it still hashes the subquery once
    where that is cheaper. SQLite builds the ``IN`` list's index once and
    probes it per row, the cheapest form it has.
    """
    if connection.vendor == "postgresql":
        return Q(
            Exists(
                Address.objects.filter(
                    office=office,
                    folder__isnull=False,
                    account_id=OuterRef(pk),
                    **local_part_lookup,
                )
            )
        )
    return Q(**{f"{pk}__in": _subaccount_owners(office, **local_part_lookup)})


def mail_accounts(office: Office) -> QuerySet:
    """Every account of the office that uses mail (has a mailbox).

    The mailbox is joined by its own ``office`` too (always the account's):
    with that condition the database can walk a mailbox index
    (``(office, used_bytes)`` …) to sort by usage, share or last access
    instead of sorting every account of the office."""
    return Account.objects.filter(
        office=office, mailbox__office=office, deleted_at__isnull=True
    ).select_related("mailbox")


def usage_rows(office: Office, params: Mapping[str, Any]) -> tuple[UsageFilterSet, QuerySet]:
    """The filtered, searched and ordered mail accounts for the query
    parameters ``q``, ``subaccounts``, ``status`` and ``sort``."""
    filterset = usage_filterset(office, params)
    return filterset, filterset.qs


def usage_filterset(office: Office, params: Mapping[str, Any]) -> UsageFilterSet:
    """The list's FilterSet over the office's mail accounts; its ``qs`` (the
    rows' query) is built when first read."""
    return UsageFilterSet(_single_values(params), queryset=mail_accounts(office), office=office)


def _single_values(params: Mapping[str, Any]) -> dict[str, Any]:
    # A QueryDict hands a form the last of repeated values; a plain dict of
    # the names the FilterSet knows is what both callers can pass.
    getter = getattr(params, "get", None)
    return {name: getter(name) for name in UsageFilterSet.base_filters if getter(name) is not None}


def page_size(params: Mapping[str, Any]) -> int:
    sizes = settings.MAILADMIN_PAGE_SIZES
    try:
        value = int(str(params.get("per_page", "")).strip())
    except ValueError:
        return sizes[0]
    return value if value in sizes else sizes[0]


@dataclass
class UsagePage:
    filterset: UsageFilterSet
    page: Page
    per_page: int
    total: int
    window_start: dt.datetime
    rows: list[Account] = field(default_factory=list)

    @property
    def filtered_count(self) -> int:
        return self.page.paginator.count

    @property
    def sort(self) -> str:
        return self.filterset.current_sort

    @cached_property
    def current(self) -> dict[str, str]:
        """The valid filter values in effect ("" where none), for the form
        (kept: the page reads it for each filter's options and the bulk form)."""
        filterset = self.filterset
        return {name: filterset.cleaned(name) or "" for name in filterset.filter_names}

    @property
    def page_range(self) -> list:
        return list(
            self.page.paginator.get_elided_page_range(self.page.number, on_each_side=2, on_ends=1)
        )


# An indexed search finding at most this many accounts gets its page from
# the index's matches (sorted after), not from a walk of the list's order.
SEARCH_PROBE_LIMIT = 1000


def _addresses_sql() -> str:
    """The owner's sub-account IDs in the order they were added,
    space-separated (IDs hold no spaces), as a correlated subquery of the
    page's rows. Sub-account addresses are the registry rows that deliver
    into a folder of their own."""
    table = Address._meta.db_table
    if connection.vendor == "postgresql":
        return (
            f"SELECT STRING_AGG(s.local_part, ' ' ORDER BY s.id) FROM {table} s "
            f'WHERE s.account_id = "accounts_account"."id" AND s.folder_id IS NOT NULL'
        )
    return (
        f"SELECT GROUP_CONCAT(local_part, ' ') FROM (SELECT s.local_part FROM {table} s "
        f'WHERE s.account_id = "accounts_account"."id" AND s.folder_id IS NOT NULL '
        f"ORDER BY s.id)"
    )


def _piece_count(office: Office, filterset: UsageFilterSet) -> tuple[str, list] | None:
    """The filtered count as a count of one index range, where a search
    alone is answered by a table of pieces; else None."""
    q = (filterset.cleaned("q") or "").strip()[:SEARCH_MAX_LENGTH]
    if filterset.active != ["q"]:
        return None
    if connection.vendor == "sqlite" and search_index.gram_searchable(q):
        # Every gram row is a listed account: count the index range itself.
        return search_index.GRAM_COUNT, [office.pk, q]
    if search_index.trigram_countable(q):
        # The same for three characters (ListingTrigram).
        return search_index.TRIGRAM_COUNT, [office.pk, q]
    return None


def _probe_matches(office: Office, filterset: UsageFilterSet) -> tuple[int, int, list[int] | None]:
    """(filtered, total, the matches' ids when few) of an indexed search
    in one query: the ids come with their count, so a search that finds a
    handful costs one round trip instead of a count and then a fetch
    (both of which ran the search). The ids are dropped when there are
    more than SEARCH_PROBE_LIMIT; the page then walks the list's order."""
    sql, params = filterset.listing_matches().values("account_id").query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT t.total, m.account_id, m.n "
            f"FROM (SELECT ({tallies.LISTING_COUNT_SQL}) AS total) t "
            f"LEFT JOIN (SELECT account_id, COUNT(*) OVER () AS n FROM ({sql}) matches "
            f"LIMIT {SEARCH_PROBE_LIMIT + 1}) m ON 1 = 1",
            [office.pk, *params],
        )
        found = cursor.fetchall()
    total, first_id, filtered = found[0]
    if first_id is None:
        return 0, total, []
    if filtered > SEARCH_PROBE_LIMIT:
        return filtered, total, None
    return filtered, total, [account_id for _total, account_id, _n in found]


def _count_sql(office: Office, filterset: UsageFilterSet) -> tuple[str, list]:
    """The filtered count as SQL: from the read model when every active
    filter runs there, else from the rows' own query."""
    pieces = _piece_count(office, filterset)
    if pieces is not None:
        return pieces
    if filterset.counts_on_listing:
        matches = filterset.listing_matches()
    else:
        matches = filterset.qs.order_by()
    sql, params = matches.values("pk").query.sql_with_params()
    return f"SELECT COUNT(*) FROM ({sql}) matches", list(params)


def _counts(office: Office, filterset: UsageFilterSet) -> tuple[int, int]:
    """(filtered, total) in one query: the filtered count and the office's
    listed accounts (the count the database keeps)."""
    filtered_sql, params = _count_sql(office, filterset)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT ({filtered_sql}), ({tallies.LISTING_COUNT_SQL})",
            [*params, office.pk],
        )
        filtered, total = cursor.fetchone()
    return filtered, total


# The orders the read model's covering indexes hold (``listing_office_name``,
# ``listing_office_login``): a page of them is an index-only walk.
_LISTING_ORDERS = {
    "name": ("name", "login_id", "account_id"),
    "login_id": ("login_id", "account_id"),
}


def _listing_keys(
    filterset: UsageFilterSet, few_matches, *, walk_pays: bool = True
) -> QuerySet | None:
    """The ids of the list in its order from the read model's covering
    index, when every active filter runs there and the order is one it
    holds; else None. A search is matched on the index's own name and ID
    columns as the walk meets them (and the sub-account addresses by their
    owner), so even a broad one reads narrow index entries, not accounts:
    ``lee`` walked 58,000 accounts, heap and all, to find a page (70 ms at
    100,000 accounts).

    Unless the walk does not pay (see _walk_pays): SQLite then sorts the
    matches from the search's index instead."""
    sort = filterset.current_sort
    listing_order = _LISTING_ORDERS.get(sort.lstrip("-"))
    if few_matches is not None or not listing_order or not filterset.counts_on_listing:
        return None
    descending = sort.startswith("-")
    order = [F(name).desc() if descending else F(name).asc() for name in listing_order]
    if sort.lstrip("-") == "login_id":
        order[-1] = F("account_id").asc()  # as order_by_unique: the key is unique
    # (PostgreSQL hashes the matches once and probes the hash as it walks:
    # cheap enough for any search.)
    sort_matches = not walk_pays and connection.vendor == "sqlite"
    return filterset.listing_matches(indexed=sort_matches).order_by(*order).values("account_id")


def _walk_pays(count: int, total: int) -> bool:
    """Whether walking the list's order to a page of a search beats sorting
    its matches, whatever page and wherever the matches lie, on SQLite.

    Matches cluster (kim's are the 김 names, at the start of the order;
    lee's the 이 names, late), so how far a walk goes cannot be told from
    the count. At worst it reads the whole order (26 ms at 100,000
    accounts), about a quarter of what sorting the same number of matches
    costs per entry. From a fifth of the list on, the walk's worst is
    close to the sort and its best far better (kim, 21,000 matches: 5 ms
    against 24); below that, the sort is never much worse (lee, 14,000
    matches sorting late: 11 ms against 17)."""
    return count * 5 >= total


def _page_keys(
    filterset: UsageFilterSet, queryset: QuerySet, few_matches, *, walk_pays: bool
) -> QuerySet:
    """The ids of the list in its order, as narrow as the order allows (see
    _listing_keys), else the rows' own query reduced to ids."""
    keys = _listing_keys(filterset, few_matches, walk_pays=walk_pays)
    return keys if keys is not None else queryset.values("pk")


def _probes_matches(filterset: UsageFilterSet) -> bool:
    """Whether the search's index hands over its matches for the page to
    sort (when few), rather than the page walking the list's order."""
    return (
        filterset.counts_on_listing
        and has_search_index(filterset.cleaned("q"))
        and _piece_count(filterset.office, filterset) is None
    )


def _first_page(
    office: Office, filterset: UsageFilterSet, per_page: int
) -> tuple[int, int, list[Account]] | None:
    """(filtered, total, rows) of the first page in one statement: the
    page's rows carry both counts (uncorrelated subqueries, run once), so
    the count costs no round trip of its own. None when the page is empty
    (no row to carry the counts)."""
    if filterset.is_filtered:
        count_sql, count_params = _count_sql(office, filterset)
        keys = _listing_keys(filterset, None)
        if keys is None:
            queryset = filterset.qs
        else:
            # Walked on the read model's covering index (see _any_page).
            queryset = (
                mail_accounts(office)
                .filter(pk__in=keys[:per_page])
                .order_by(*ordering_for(filterset.current_sort))
            )
    else:
        count_sql, count_params = tallies.LISTING_COUNT_SQL, [office.pk]
        queryset = filterset.qs
    rows = list(
        queryset.annotate(
            sub_ids=RawSQL(_addresses_sql(), []),
            filtered_count=RawSQL(count_sql, count_params),
            listed_count=RawSQL(tallies.LISTING_COUNT_SQL, [office.pk]),
        )[:per_page]
    )
    if not rows:
        return None
    return int(rows[0].filtered_count), int(rows[0].listed_count), rows


def _in_matches(office: Office, limit: int) -> RawSQL:
    """The account is one of the ``matches`` table's, unless they are more
    than ``limit``: then only its first is (to carry the count); and when
    there are none, any one listed account of the office is (to carry the
    total, its count NULL).

    On PostgreSQL the ids are an array, which it estimates at a handful
    and looks up by primary key; an ``IN`` of the table it estimated at a
    third of its rows and hashed every account of the office against them."""
    matches = (
        "SELECT account_id FROM matches WHERE n <= %s OR r = 1 "
        "UNION ALL SELECT account_id FROM ("
        f"SELECT account_id FROM {MailListing._meta.db_table} WHERE office_id = %s "
        "AND NOT EXISTS (SELECT 1 FROM matches) LIMIT 1) anyone"
    )
    if connection.vendor == "postgresql":
        sql = f'"accounts_account"."id" = ANY(ARRAY({matches}))'
    else:
        sql = f'"accounts_account"."id" IN ({matches})'
    return RawSQL(sql, [limit, office.pk], output_field=BooleanField())


def _searched_first_page(
    office: Office, filterset: UsageFilterSet, per_page: int
) -> tuple[int, int, list[Account]]:
    """(filtered, total, rows) of the first page of a search its index
    answers, in one statement when it finds few: the matches' ids and
    their count are a materialized table (the search runs and is planned
    once), the page's rows are read by those ids and sorted (a bounded
    set: at most SEARCH_PROBE_LIMIT), each carrying the count and the
    office's total. No round trip counts or hands the ids over.

    A search that finds more brings one of its matches only, to carry the
    count and the total; the page then walks the list's order (one more
    statement, as after a count). One that finds nothing brings one listed
    account, to carry the total, and shows none."""
    sql, params = filterset.listing_matches().values("account_id").query.sql_with_params()
    ordering = ordering_for(filterset.current_sort)

    def page_rows() -> QuerySet:
        return (
            mail_accounts(office)
            .filter(_in_matches(office, SEARCH_PROBE_LIMIT))
            .order_by(*ordering)
            .annotate(
                sub_ids=RawSQL(_addresses_sql(), []),
                filtered_count=RawSQL("SELECT n FROM matches LIMIT 1", []),
                listed_count=RawSQL(tallies.LISTING_COUNT_SQL, [office.pk]),
            )[:per_page]
        )

    rows = list(
        with_table(
            page_rows,
            "matches",
            # The count is taken before the LIMIT: it is every match's.
            f"SELECT account_id, COUNT(*) OVER () AS n, ROW_NUMBER() OVER () AS r "
            f"FROM ({sql}) m LIMIT {SEARCH_PROBE_LIMIT + 1}",
            params,
            # Everything the rows' statement is made of but the search.
            key=(
                "searched_first_page",
                connection.vendor,
                office.pk,
                repr(ordering),
                per_page,
                SEARCH_PROBE_LIMIT,
            ),
            model=Account,
        )
    )
    if not rows:
        # The office lists no one (or its read model is behind): counted
        # the usual way.
        return _any_page(office, filterset, {}, per_page)[:3]
    if rows[0].filtered_count is None:
        return 0, int(rows[0].listed_count), []
    count, total = int(rows[0].filtered_count), int(rows[0].listed_count)
    if count > SEARCH_PROBE_LIMIT:
        rows = _any_page(office, filterset, {}, per_page, counted=(count, total, None))[2]
    return count, total, rows


def _any_page(
    office: Office,
    filterset: UsageFilterSet,
    params: Mapping[str, Any],
    per_page: int,
    *,
    counted: tuple[int, int, list[int] | None] | None = None,
) -> tuple[int, int, list[Account], CountedPaginator, int]:
    """(filtered, total, rows, paginator, number) of the page asked for:
    the counts first (the page number is checked against them; ``counted``
    when already known, with the few matches' ids or None), then the
    page's rows."""
    few_matches = None
    if counted is not None:
        count, total, few_matches = counted
    elif not filterset.is_filtered:
        # The read model has a row per listed account (a deleted user's
        # mailbox is kept but not listed); the database keeps their count.
        count = total = tallies.listing_count(office)
    elif _probes_matches(filterset):
        count, total, few_matches = _probe_matches(office, filterset)
    else:
        count, total = _counts(office, filterset)
        if (
            count <= SEARCH_PROBE_LIMIT
            and filterset.counts_on_listing
            and has_search_index(filterset.cleaned("q"))
        ):
            # The ids themselves, not a subquery: with a subquery next to the
            # search's OR, PostgreSQL estimated thousands of matches and
            # walked the name index for a LIMIT 1 (55 ms for one hit).
            few_matches = list(filterset.listing_matches().values_list("account_id", flat=True))
    paginator = CountedPaginator(count, per_page)
    number = page_number(paginator, params.get("page"))
    offset = (number - 1) * per_page
    on_page = max(0, min(per_page, count - offset))
    rows: list[Account] = []
    if on_page:
        if few_matches is not None:
            # Few matches: the index handed them over (every filter applied);
            # sort just those rather than walk the whole order to find them.
            # (The rows' own filtered query is then never built.)
            queryset = mail_accounts(office).filter(pk__in=few_matches)
            queryset = queryset.order_by(*ordering_for(filterset.current_sort))
        else:
            queryset = filterset.qs
        page_rows = queryset.annotate(sub_ids=RawSQL(_addresses_sql(), []))
        # A filtered first page too is walked on the read model's covering
        # index when it holds the order: the accounts that do not match are
        # skipped as narrow index entries, not read with their mailboxes.
        # The unfiltered first page reads its rows directly: every row it
        # meets is on the page.
        filtered_on_listing = filterset.is_filtered and (
            _listing_keys(filterset, few_matches) is not None
        )
        if offset == 0 and not filtered_on_listing:
            rows = list(page_rows[:on_page])
        else:
            # Past the first page, the rows skipped by the OFFSET are read
            # as narrow keys only (an index-only walk where the read model
            # has the order), and just the page's rows are then read whole
            # with their sub-account IDs, in the same statement.
            keys = _page_keys(
                filterset,
                queryset,
                few_matches,
                walk_pays=_walk_pays(count, total),
            )
            if offset * 2 > count:
                from_end = count - offset - on_page
                keys = keys.reverse()[from_end : from_end + on_page]
            else:
                keys = keys[offset : offset + on_page]
            ordering = ordering_for(filterset.current_sort)
            rows = list(
                mail_accounts(office)
                .filter(pk__in=keys)
                .order_by(*ordering)
                .annotate(sub_ids=RawSQL(_addresses_sql(), []))
            )
    return count, total, rows, paginator, number


def usage_page(office: Office, params: Mapping[str, Any], *, now=None) -> UsagePage:
    """One page of the list with everything its template shows, in a constant
    number of queries whatever the page size, so a big office stays fast:

    - the first page: one query, its rows carrying the filtered count and
      the office's total (see _first_page); for a search its index answers,
      the matches found once in the same statement (_searched_first_page);
    - unfiltered: the count of listed accounts the database keeps
      (:mod:`accounts.tallies`) is both the total and the filtered count;
    - filtered: one query with that count and the filtered COUNT, taken
      from the narrow listing table (no join) and the search's index; an
      indexed search's few matches come in the same query, so the page
      sorts just those; otherwise the page walks the list's order;
    - the page's rows with their sub-account IDs aggregated in the same
      query; a page past the middle is
      read in the reverse order from the end, so the OFFSET never exceeds
      half the list.
    """
    filterset = usage_filterset(office, params)
    per_page = page_size(params)
    first = None
    # A later page counts first: its number is checked against the count.
    if asks_first_page(params.get("page"), per_page):
        if _probes_matches(filterset):
            first = _searched_first_page(office, filterset, per_page)
        elif (
            # Any other search its index answers is counted first: few
            # matches are then sorted from their ids, not found by walking
            # the whole order (and SQLite chooses between the two by the
            # count, see _walk_pays).
            not (filterset.counts_on_listing and has_search_index(filterset.cleaned("q")))
            and (connection.vendor == "postgresql" or not filterset.cleaned("q"))
        ):
            first = _first_page(office, filterset, per_page)
    if first is not None:
        count, total, rows = first
        paginator = CountedPaginator(count, per_page)
        number = 1
    else:
        count, total, rows, paginator, number = _any_page(office, filterset, params, per_page)
    page = Page(rows, number, paginator)
    window_start = access_window_start(office.time_zone, now or timezone.now())
    domain = office.domain
    for account in rows:
        account.subaccount_addresses = [f"{lp}@{domain}" for lp in (account.sub_ids or "").split()]
        account.recent_access_at = recent_access(account.mailbox.last_access_at, window_start)
        flagged_at = recent_access(account.mailbox.access_flag_at, window_start)
        account.recent_flag = account.mailbox.access_flag if flagged_at else None
        account.recent_flag_title = (
            timezone.localtime(flagged_at).strftime("%Y-%m-%d %H:%M") if flagged_at else ""
        )
    return UsagePage(
        filterset=filterset,
        page=page,
        per_page=per_page,
        total=total,
        window_start=window_start,
        rows=rows,
    )


def subaccount_addresses(office: Office, owner_ids: Iterable[int]) -> dict[int, list[str]]:
    """The sub-account addresses of some owners, in the order they were
    added, in one query."""
    owner_ids = list(owner_ids)
    found: dict[int, list[str]] = defaultdict(list)
    if not owner_ids:
        return found
    rows = (
        Address.objects.filter(office=office, account_id__in=owner_ids, folder__isnull=False)
        .order_by("account_id", "id")
        .values_list("account_id", "local_part")
    )
    for owner_id, local_part in rows:
        found[owner_id].append(f"{local_part}@{office.domain}")
    return found


def attach_addresses(office: Office, accounts: Sequence[Account]) -> None:
    found = subaccount_addresses(office, (a.pk for a in accounts))
    for account in accounts:
        account.subaccount_addresses = found.get(account.pk, [])
