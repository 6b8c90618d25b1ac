"""Reads for the 메일 사용 현황 screen (SPEC F3), in one place.

The list view and the Excel export both call :func:`usage_rows`, so an admin
downloads exactly the accounts (and the order) the screen selects. Everything
here reads the counters kept by the services (``mailbox.used_bytes``,
``usage_share``, ``last_access_at``, ``account.subaccount_count``): nothing
is summed from messages or the access log per request.

Bad parameters never fail: an unknown filter value, sort key, page or page
size falls back to its default, as a bookmarked or hand-edited URL should.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import django_filters
from django.conf import settings
from django.core.paginator import Page, Paginator
from django.db.models import Exists, F, OuterRef, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.access import access_window_start
from accounts.models import Account, Address, Office
from subaccounts.models import SubAccount

SEARCH_MAX_LENGTH = 100
DEFAULT_SORT = "name"

# The stable tie-break is part of every order: the default order (name, ID,
# primary key) after the chosen key, so equal values never shuffle between
# pages. NULLs (unlimited quota: no share; no access yet) count as the
# smallest value on SQLite and PostgreSQL alike.
_TIE_BREAK = (F("name").asc(), F("login_id").asc(), F("pk").asc())
SORT_FIELDS = {
    "name": "name",
    "login_id": "login_id",
    "usage": "mailbox__used_bytes",
    "share": "mailbox__usage_share",
    "last_access": "mailbox__last_access_at",
}
# The direction a column header offers first: names A→Z, numbers and dates
# largest / most recent first (what an admin looks for).
FIRST_DIRECTION = {"name": "", "login_id": "", "usage": "-", "share": "-", "last_access": "-"}
SORT_CHOICES = [(key, key) for key in SORT_FIELDS] + [(f"-{key}", f"-{key}") for key in SORT_FIELDS]


def ordering_for(sort: str) -> list:
    """The ORDER BY for a whitelisted sort key (``-`` for descending)."""
    descending = sort.startswith("-")
    key = sort.lstrip("-")
    column = F(SORT_FIELDS[key])
    if key == "name":
        order = (F("name"), F("login_id"), F("pk"))
        return [c.desc() if descending else c.asc() for c in order]
    if key == "login_id":
        return [column.desc() if descending else column.asc(), F("pk").asc()]
    primary = column.desc(nulls_last=True) if descending else column.asc(nulls_first=True)
    return [primary, *_TIE_BREAK]


class UsageFilterSet(django_filters.FilterSet):
    q = django_filters.CharFilter(method="filter_search", label=_("Search"))
    subaccounts = django_filters.ChoiceFilter(
        method="filter_subaccounts",
        choices=[("used", _("In use")), ("unused", _("Not used"))],
        empty_label=_("All"),
        label=_("Sub-accounts"),
    )
    status = django_filters.ChoiceFilter(
        field_name="status",
        choices=Account.Status.choices,
        empty_label=_("All"),
        label=_("Account status"),
    )
    sort = django_filters.ChoiceFilter(
        method="filter_nothing", choices=SORT_CHOICES, label=_("Sort")
    )

    class Meta:
        model = Account
        fields: list[str] = []

    def __init__(self, data=None, *args, office: Office, **kwargs):
        self.office = office
        super().__init__(data, *args, **kwargs)

    def filter_search(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        return queryset.filter(search_condition(self.office, value))

    def filter_subaccounts(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        if value == "used":
            return queryset.filter(subaccount_count__gt=0)
        return queryset.filter(subaccount_count=0)

    def filter_nothing(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        return queryset  # the order is applied last, in filter_queryset

    def filter_queryset(self, queryset: QuerySet) -> QuerySet:
        return super().filter_queryset(queryset).order_by(*ordering_for(self.current_sort))

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
        return {
            name: self.cleaned(name)
            for name in ("q", "subaccounts", "status", "sort")
            if self.cleaned(name)
        }

    @property
    def is_filtered(self) -> bool:
        return any(self.cleaned(name) for name in ("q", "subaccounts", "status"))


def search_condition(office: Office, value: str) -> Q:
    """Case-insensitive substring of the name or the ID, or of any address
    of the account (a sub-account's address finds its owner).

    ``local@dom`` is read as an address: the part before ``@`` must end the
    local part, the part after it must begin the office's domain.
    """
    value = value.strip()[:SEARCH_MAX_LENGTH]
    if not value:
        return Q()
    condition = Q(name__icontains=value)
    if "@" in value:
        local, _at, domain = value.rpartition("@")
        if not office.domain.startswith(domain.lower()):
            return condition
        if not local:
            return Q()  # "@gabia…": every address of the office matches
        address = {"local_part__iendswith": local}
        id_match = Q(login_id__iendswith=local)
    else:
        address = {"local_part__icontains": value}
        id_match = Q(login_id__icontains=value)
    # EXISTS, not a join: an owner with several matching sub-accounts is
    # still one row, and the count stays a plain COUNT(*).
    other_addresses = Address.objects.filter(
        office=office, account=OuterRef("pk"), subaccount__isnull=False, **address
    )
    return condition | id_match | Exists(other_addresses)


def mail_accounts(office: Office) -> QuerySet:
    """Every account of the office that uses mail (has a mailbox)."""
    return Account.objects.filter(office=office, mailbox__isnull=False).select_related("mailbox")


def usage_rows(office: Office, params: Mapping[str, Any]) -> tuple[UsageFilterSet, QuerySet]:
    """The filtered, searched and ordered mail accounts for the query
    parameters ``q``, ``subaccounts``, ``status`` and ``sort``."""
    filterset = UsageFilterSet(
        _single_values(params), queryset=mail_accounts(office), office=office
    )
    return filterset, filterset.qs


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

    @property
    def current(self) -> dict[str, str]:
        """The valid filter values in effect ("" where none), for the form."""
        return {name: self.filterset.cleaned(name) or "" for name in ("q", "subaccounts", "status")}

    @property
    def page_range(self) -> list:
        return list(
            self.page.paginator.get_elided_page_range(self.page.number, on_each_side=2, on_ends=1)
        )


def usage_page(office: Office, params: Mapping[str, Any], *, now=None) -> UsagePage:
    """One page of the list with everything its template shows, in a constant
    number of queries: the filtered count, the total (only when filtered),
    the page's rows and one query for the page's sub-account addresses."""
    filterset, queryset = usage_rows(office, params)
    per_page = page_size(params)
    paginator = Paginator(queryset, per_page)
    page = paginator.get_page(params.get("page"))
    rows = list(page.object_list)
    total = mail_accounts(office).count() if filterset.is_filtered else paginator.count
    window_start = access_window_start(office.time_zone, now or timezone.now())
    attach_addresses(office, rows)
    for account in rows:
        last = account.mailbox.last_access_at
        account.recent_access_at = last if last is not None and last >= window_start else None
    return UsagePage(
        filterset=filterset,
        page=page,
        per_page=per_page,
        total=total,
        window_start=window_start,
        rows=rows,
    )


def subaccount_addresses(office: Office, owner_ids: Iterable[int]) -> dict[int, list[str]]:
    """The sub-account addresses of some owners, in slot order, in one query."""
    owner_ids = list(owner_ids)
    found: dict[int, list[str]] = defaultdict(list)
    if not owner_ids:
        return found
    rows = (
        SubAccount.objects.filter(office=office, owner_id__in=owner_ids)
        .order_by("owner_id", "slot")
        .values_list("owner_id", "local_part")
    )
    for owner_id, local_part in rows:
        found[owner_id].append(f"{local_part}@{office.domain}")
    return found


def attach_addresses(office: Office, accounts: Sequence[Account]) -> None:
    found = subaccount_addresses(office, (a.pk for a in accounts))
    for account in accounts:
        account.subaccount_addresses = found.get(account.pk, [])
