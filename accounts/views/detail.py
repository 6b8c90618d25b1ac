"""The detail pane of one account: its figures, folders and access history.

htmx requests get the pane alone (``account_detail.html#pane``), swapped into
the list's ``<aside id="detail-pane">``; other requests get a full page with
the same pane, so the URL can be bookmarked and works without JavaScript.

The pane makes a constant number of queries whatever the account's history:
the account with its mailbox (one join, through the one permission lookup),
the folders with their message count and size (from the mail store), and
one page of the folded access history (one row per hour, protocol, IP and
result, with its count) and its count -- both bounded by the access window
(:mod:`accounts.access_history`) and served by the fold key's
``(account, hour, …)`` index, so older rows (older partitions, on
PostgreSQL) are never read. The
last access comes from the mailbox's denormalised ``last_access_*`` fields
(the same values the usage list shows), used only when they fall inside
the window.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.core.paginator import EmptyPage, Page, PageNotAnInteger
from django.db.models import Count, Sum
from django.utils import timezone
from django.views.decorators.http import require_GET

from accounts.access_history import access_window_start, fold_hour, recent_access
from accounts.mailstore import MailStoreError, get_mail_store
from accounts.models import AccessLog, Account, Mailbox
from accounts.paging import CountedPaginator
from accounts.permissions import get_account_for_admin, office_admin_required
from mailadmin.htmx import render_htmx

ACCESS_PAGE_SIZE = 20


@dataclass(frozen=True)
class LastAccess:
    at: object
    protocol: str
    ip: str | None
    country: str

    @property
    def protocol_label(self) -> str:
        try:
            return Mailbox.Protocol(self.protocol).label
        except ValueError:
            return self.protocol.upper()


def last_access_in_window(mailbox: Mailbox | None, window_start) -> LastAccess | None:
    """The last successful POP3/SMTP login if it lies inside the window.

    The fields are kept by whatever records access (the importers, the demo)
    and hold the newest *successful* login: a later failed attempt never
    moves them.
    """
    if mailbox is None or recent_access(mailbox.last_access_at, window_start) is None:
        return None
    return LastAccess(
        at=mailbox.last_access_at,
        protocol=mailbox.last_access_protocol,
        ip=mailbox.last_access_ip,
        country=mailbox.last_access_country,
    )


def access_history(account: Account, window_start, page_number) -> Page:
    """One page of the account's folded POP3/SMTP logins inside the
    window, newest first. Two queries whatever the page or the history's
    size: the rows and logins counted together, and the page's rows, both
    bounded by ``hour >= window_start's hour`` on the fold key's index and
    then by the exact window. (``account`` is already scoped to the
    office; leaving ``office`` out lets PostgreSQL use the fold index.)"""
    rows = AccessLog.objects.filter(
        account=account, hour__gte=fold_hour(window_start), last_at__gte=window_start
    )
    totals = rows.aggregate(rows=Count("pk"), logins=Sum("count"))
    paginator = CountedPaginator(totals["rows"], ACCESS_PAGE_SIZE)
    try:
        number = paginator.validate_number(page_number)
    except PageNotAnInteger:
        number = 1
    except EmptyPage:
        number = paginator.num_pages
    offset = (number - 1) * ACCESS_PAGE_SIZE
    page = Page(
        list(rows.order_by("-hour", "-last_at", "-pk")[offset : offset + ACCESS_PAGE_SIZE]),
        number,
        paginator,
    )
    page.logins = totals["logins"] or 0
    return page


def pane_context(request, account: Account) -> dict:
    now = timezone.now()
    window_start = access_window_start(request.office.time_zone, now)
    mailbox = getattr(account, "mailbox", None)
    context = {
        "account": account,
        "mailbox": mailbox,
        "window_start": window_start,
        "window_months": settings.MAILADMIN_ACCESS_WINDOW_MONTHS,
        "last_access": last_access_in_window(mailbox, window_start),
        "subaccount_limit": settings.MAILADMIN_SUBACCOUNT_LIMIT,
        "folders": [],
        "history": None,
    }
    if mailbox is not None and mailbox.quota_bytes:
        # The usage bar turns amber at 80 % and red at 95 % of the quota.
        context["meter_low"] = mailbox.quota_bytes * 8 // 10
        context["meter_high"] = mailbox.quota_bytes * 95 // 100
    if mailbox is not None:
        try:
            context["folders"] = get_mail_store().folder_figures(mailbox)
        except MailStoreError as error:
            # The rest of the pane still helps; the admin sees why the
            # folders are missing.
            context["folders_error"] = str(error)
        context["history"] = access_history(account, window_start, request.GET.get("access_page"))
    return context


@office_admin_required
@require_GET
def account_detail(request, login_id):
    account, _can_write = get_account_for_admin(request, login_id)
    context = {**pane_context(request, account), "nav": "mail_usage"}
    return render_htmx(request, "accounts/account_detail.html", "pane", context)
