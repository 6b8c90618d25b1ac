"""The audit log: the page and its .xlsx download.

Downloading the log is itself an audited action -- a copy of who did what
leaves the console -- so the download writes its own event.
"""

from __future__ import annotations

from django.db import transaction
from django.http import FileResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from accounts import audit
from accounts.audit_log import (
    action_label,
    describe,
    event_page,
    export_header,
    export_rows,
    filtered_events,
    person,
)
from accounts.forms import AuditFilterForm
from accounts.models import AuditEvent
from accounts.permissions import office_admin_required
from accounts.xlsx import XLSX_CONTENT_TYPE, spooled_file, write_xlsx

AUDIT_PAGE_SIZE = 50


def _render_list(request, form, status=200):
    filters = form.cleaned_data if form.is_valid() else {}
    page = event_page(request.office, filters, request.GET.get("page"), AUDIT_PAGE_SIZE)
    for event in page.object_list:
        # What |date:'c' and |date:"Y-m-d H:i:s" write, without a date
        # format parsed twice per row.
        local = timezone.localtime(event.at)
        event.at_iso = local.isoformat()
        event.at_text = (
            f"{local.year:04d}-{local.month:02d}-{local.day:02d} "
            f"{local.hour:02d}:{local.minute:02d}:{local.second:02d}"
        )
        event.details = describe(event)
        event.action_label = action_label(event.action)
        event.actor_display = person(event.actor, event.actor_label)
        event.target_display = person(event.target, event.target_label)
    return render(
        request,
        "accounts/audit_list.html",
        {"form": form, "page": page, "nav": "audit"},
        status=status,
    )


@office_admin_required
@require_GET
def audit_list(request):
    form = AuditFilterForm(request.GET)
    return _render_list(request, form, status=200 if form.is_valid() else 400)


@office_admin_required
@require_GET
def audit_export(request):
    form = AuditFilterForm(request.GET)
    if not form.is_valid():
        return _render_list(request, form, status=400)
    office = request.office
    events = filtered_events(office, form.cleaned_data)
    fileobj = spooled_file()
    # The file is written before the event so a failed export leaves no
    # event; the event is committed before the file is served, so no download
    # goes unrecorded. Writing happens outside the transaction to keep
    # SQLite's write lock short.
    count = write_xlsx(
        fileobj,
        title=_("Audit log"),
        header=export_header(),
        rows=export_rows(events, office.time_zone),
        number_formats={0: "yyyy-mm-dd hh:mm:ss"},
        column_widths=(20, 22, 26, 26, 60, 18),
    )
    used_filters = {k: str(v) for k, v in form.cleaned_data.items() if v not in (None, "")}
    with transaction.atomic():
        audit.record(
            office=office,
            action=AuditEvent.Action.AUDIT_EXPORT,
            actor=request.user,
            data={"rows": count, **({"filters": used_filters} if used_filters else {})},
            ip=audit.client_ip(request),
        )
    fileobj.seek(0)
    today = timezone.localdate()
    return FileResponse(
        fileobj,
        as_attachment=True,
        filename=f"audit-log-{office.domain}-{today:%Y%m%d}.xlsx",
        content_type=XLSX_CONTENT_TYPE,
    )
