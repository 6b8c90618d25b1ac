"""메일 사용 현황: the mail usage list, its Excel download and 비우기."""

from __future__ import annotations

import json

from django.conf import settings
from django.contrib import messages
from django.db import transaction
from django.http import FileResponse, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from accounts import audit
from accounts.bulk import BulkAction
from accounts.columns import usage_header
from accounts.export_jobs import export_job_start
from accounts.exports import roster_write
from accounts.formatting import human_bytes
from accounts.models import AuditEvent
from accounts.permissions import (
    can_write,
    get_account_for_admin,
    office_admin_required,
    require_write,
)
from accounts.selectors import usage_page, usage_rows
from accounts.services import DomainError, mailbox_empty
from accounts.xlsx import XLSX_CONTENT_TYPE, spooled_file
from mailadmin.htmx import render_htmx

TABLE_ID = "account-table"


@office_admin_required
@require_GET
def account_list(request):
    listing = usage_page(request.office, request.GET)
    context = {
        "nav": "mail_usage",
        "listing": listing,
        "filterset": listing.filterset,
        "page_obj": listing.page,
        "page_range": listing.page_range,
        "rows": listing.rows,
        "sort": listing.sort,
        "header": usage_header(listing.sort, request.GET),
        "page_sizes": settings.MAILADMIN_PAGE_SIZES,
        "table_id": TABLE_ID,
        "can_write": can_write(request.user),
        "bulk_actions": BulkAction.choices,
        # A big list is prepared in the background: the link then leads to
        # the progress page rather than straight to a file.
        "export_in_background": listing.filtered_count > settings.MAILADMIN_EXPORT_BACKGROUND_ROWS,
    }
    # Only the filter form and the pager swap the table alone.
    return render_htmx(request, "accounts/account_list.html", TABLE_ID, context, target=TABLE_ID)


@office_admin_required
@require_GET
def account_export(request):
    """④ 목록 다운로드: the accounts the list's parameters select, all pages,
    as .xlsx. The file is complete and its audit event committed before the
    first byte is sent, so no copy of the list leaves the console unrecorded.

    More rows than MAILADMIN_EXPORT_BACKGROUND_ROWS: the file is written by
    the background worker instead; this request only records the job and
    sends the admin to its progress page, so no request runs long enough to
    time out."""
    filterset, queryset = usage_rows(request.office, request.GET)
    total = queryset.count()
    if total > settings.MAILADMIN_EXPORT_BACKGROUND_ROWS:
        job = export_job_start(
            office=request.office,
            actor=request.user,
            params=filterset.applied,
            total=total,
            ip=audit.client_ip(request),
        )
        return redirect("mail_export_job", domain=request.office.domain, job_id=job.pk)
    target = spooled_file()
    roster = roster_write(target, office=request.office, params=request.GET)
    with transaction.atomic():
        audit.record(
            office=request.office,
            action=AuditEvent.Action.ROSTER_EXPORT,
            actor=request.user,
            data={"filters": roster.filters, "rows": roster.rows, "filename": roster.filename},
            ip=audit.client_ip(request),
        )
    target.seek(0)
    return FileResponse(
        target, as_attachment=True, filename=roster.filename, content_type=XLSX_CONTENT_TYPE
    )


def _next_url(request) -> str:
    """Where to go back to: the list (with its filters) unless a safe local
    URL of this office's list was passed along."""
    fallback = reverse("mail_accounts", args=[request.office.domain])
    candidate = request.POST.get("next") or request.GET.get("next") or ""
    if candidate.startswith(fallback) and url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return fallback


@office_admin_required
@require_http_methods(["GET", "POST"])
def account_empty(request, login_id):
    """비우기: delete all of an account's mail. GET shows the confirmation; only
    a POST empties, so a link followed by a crawler or a prefetch deletes nothing."""
    account, can_write = get_account_for_admin(request, login_id, mailbox__isnull=False)
    require_write(request, can_write)
    next_url = _next_url(request)
    error = None
    if request.method == "POST":
        try:
            result = mailbox_empty(account=account, actor=request.user, ip=audit.client_ip(request))
        except DomainError as refused:
            error = refused.message
    if request.method == "POST" and error is None:
        messages.success(
            request,
            _(
                "The mailbox of %(name)s (%(login_id)s) was emptied: "
                "%(messages)s messages, %(size)s deleted."
            )
            % {
                "name": account.name,
                "login_id": account.login_id,
                "messages": f"{result.messages:,}",
                "size": human_bytes(result.bytes),
            },
        )
        if request.htmx:
            # The list (and any pane) listens for mailboxEmptied and reloads
            # itself, showing the message; the dialog closes.
            response = HttpResponse(status=204)
            response["HX-Trigger"] = json.dumps(
                {"mailboxEmptied": {"login_id": account.login_id}, "closeModal": True}
            )
            return response
        return redirect(next_url)
    context = {
        "nav": "mail_usage",
        "account": account,
        "mailbox": account.mailbox,
        "next": next_url,
        "error": error,
    }
    # The mail store failed: nothing changed; the confirmation shows why
    # (htmx swaps only a 2xx into the dialog).
    status = 503 if error and not request.htmx else 200
    return render_htmx(
        request, "accounts/account_empty.html", "empty-dialog", context, status=status
    )
