"""일괄 등록 (bulk registration) on 사용자 관리: the template download, the
upload with its preview, and the confirmation that applies it.

The uploaded file is kept under MEDIA_ROOT between the preview and the
confirmation (named by a random token the admin's session holds), and read
again when confirmed: the browser never sends the rows back, and what is
applied is checked against the preview the admin saw
(:func:`accounts.bulk_import.apply`).
"""

from __future__ import annotations

import time
import uuid
from pathlib import Path

from django import forms
from django.conf import settings
from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods

from accounts import bulk_import
from accounts.audit import client_ip
from accounts.formatting import human_quota
from accounts.models import Account
from accounts.permissions import can_write, office_admin_required, require_write
from accounts.xlsx import XLSX_CONTENT_TYPE, spooled_file
from accounts.xlsx_reader import MAX_FILE_BYTES, SpreadsheetError

SESSION_KEY = "bulk_imports"
# Rows shown in the preview besides the rows in error (all of those show).
PREVIEW_ROWS = 300
# An upload nobody confirmed is deleted after this long.
UPLOAD_TTL_SECONDS = 24 * 3600

# Which change of the preview each column shows.
_CHANGE_KEYS = {
    "name": "name",
    "department": "department",
    "status": "status",
    "quota": "quota_bytes",
    "pop3": "pop3_enabled",
    "smtp": "smtp_enabled",
}


class ImportForm(forms.Form):
    file = forms.FileField(
        label=gettext_lazy("Excel file (.xlsx)"),
        help_text=gettext_lazy("At most 10,000 rows and 10 MB."),
        widget=forms.ClearableFileInput(
            attrs={
                "accept": ".xlsx,application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
            }
        ),
    )


def _folder(office) -> Path:
    return Path(settings.MEDIA_ROOT) / "imports" / str(office.pk)


def _prune(folder: Path) -> None:
    if not folder.is_dir():
        return
    limit = time.time() - UPLOAD_TTL_SECONDS
    for path in folder.glob("*.xlsx"):
        if path.stat().st_mtime < limit:
            path.unlink(missing_ok=True)


def _stored(request, token: str) -> tuple[Path, str] | None:
    """The upload ``token`` names, if this session made it."""
    try:
        token = str(uuid.UUID(token))
    except (ValueError, TypeError):
        return None
    filename = request.session.get(SESSION_KEY, {}).get(token)
    path = _folder(request.office) / f"{token}.xlsx"
    if filename is None or not path.is_file():
        return None
    return path, filename


def _value_text(key: str, value) -> str:
    if key == "quota_bytes":
        return human_quota(value)
    if key == "status" and value in Account.Status.values:
        return str(Account.Status(value).label)
    if isinstance(value, bool):
        return _("On") if value else _("Off")
    return "-" if value in (None, "") else str(value)


def _display(preview: bulk_import.Preview) -> dict:
    """The preview as the template shows it: errors first, then up to
    PREVIEW_ROWS other rows."""
    labels = {column.key: column.header for column in bulk_import.COLUMNS}
    status_labels = {
        bulk_import.NEW: _("New"),
        bulk_import.CHANGED: _("Changed"),
        bulk_import.UNCHANGED: _("Unchanged"),
        bulk_import.ERROR: _("Error"),
    }
    errors = [row for row in preview.rows if row.status == bulk_import.ERROR]
    others = [row for row in preview.rows if row.status != bulk_import.ERROR]
    # Changes and additions before unchanged rows: they are what will happen.
    others.sort(key=lambda row: (row.status == bulk_import.UNCHANGED, row.number))
    shown = errors + others[:PREVIEW_ROWS]
    rows = []
    for row in shown:
        cells = []
        for key in preview.columns:
            text = row.cells.get(key, "")
            if key == "password" and text:
                text = "••••••"
            change = row.changes.get(_CHANGE_KEYS.get(key, ""), None)
            cells.append(
                {
                    "text": text,
                    "error": row.errors.get(key, ""),
                    "change": (
                        f"{_value_text(_CHANGE_KEYS[key], change['before'])} → "
                        f"{_value_text(_CHANGE_KEYS[key], change['after'])}"
                        if change
                        else ""
                    ),
                }
            )
        rows.append(
            {
                "number": row.number,
                "status": row.status,
                "status_label": status_labels[row.status],
                "cells": cells,
            }
        )
    return {
        "headers": [labels[key] for key in preview.columns],
        "rows": rows,
        "hidden": len(preview.rows) - len(shown),
        "counts": {
            "new": preview.count(bulk_import.NEW),
            "changed": preview.count(bulk_import.CHANGED),
            "unchanged": preview.count(bulk_import.UNCHANGED),
            "error": preview.count(bulk_import.ERROR),
        },
    }


def _page(request, form, *, preview=None, token="", status=200, notice=""):
    context = {
        "nav": "users",
        "form": form,
        "notice": notice,
        "max_mb": MAX_FILE_BYTES >> 20,
        "can_write": can_write(request.user),
    }
    if preview is not None:
        context.update(preview=preview, token=token, digest=preview.digest(), **_display(preview))
    return render(request, "accounts/user_import.html", context, status=status)


@office_admin_required
@require_http_methods(["GET", "POST"])
def user_import(request):
    """GET: the page with the template and the upload form. POST: read the
    file and show the preview; nothing is written."""
    require_write(request, can_write(request.user))
    if request.method == "GET":
        return _page(request, ImportForm())
    form = ImportForm(request.POST, request.FILES)
    if not form.is_valid():
        return _page(request, form, status=400)
    upload = form.cleaned_data["file"]
    try:
        preview = bulk_import.preview(
            upload,
            office=request.office,
            actor=request.user,
            filename=upload.name,
            size=upload.size,
        )
    except SpreadsheetError as error:
        form.add_error("file", str(error))
        return _page(request, form, status=400)
    token = ""
    if not preview.has_errors:
        folder = _folder(request.office)
        folder.mkdir(parents=True, exist_ok=True)
        _prune(folder)
        token = str(uuid.uuid4())
        upload.seek(0)
        with (folder / f"{token}.xlsx").open("wb") as target:
            for chunk in upload.chunks():
                target.write(chunk)
        stored = request.session.get(SESSION_KEY, {})
        stored[token] = upload.name[-200:]
        request.session[SESSION_KEY] = stored
    return _page(request, ImportForm(), preview=preview, token=token)


@office_admin_required
@require_http_methods(["GET", "POST"])
def user_import_confirm(request):
    if request.method == "GET":
        # A reload of the confirmed page: back to the upload.
        return redirect("user_import", request.office.domain)
    require_write(request, can_write(request.user))
    found = _stored(request, request.POST.get("token", ""))
    if found is None:
        messages.error(request, _("That upload has expired. Upload the file again."))
        return redirect("user_import", request.office.domain)
    path, filename = found
    started = time.monotonic()
    try:
        with path.open("rb") as upload:
            result = bulk_import.apply(
                upload,
                office=request.office,
                actor=request.user,
                filename=filename,
                digest=request.POST.get("digest", ""),
                ip=client_ip(request),
            )
    except bulk_import.PreviewChanged as changed:
        token = request.POST["token"] if not changed.preview.has_errors else ""
        return _page(
            request,
            ImportForm(),
            preview=changed.preview,
            token=token,
            notice=_(
                "The accounts changed since the preview was made. "
                "Here is the preview again; check it before confirming."
            ),
        )
    except SpreadsheetError as error:
        form = ImportForm()
        form.add_error(None, str(error))
        return _page(request, form, status=400)
    path.unlink(missing_ok=True)
    stored = request.session.get(SESSION_KEY, {})
    stored.pop(request.POST["token"], None)
    request.session[SESSION_KEY] = stored
    messages.success(
        request,
        _(
            "Bulk registration done in %(seconds).1f s: %(created)s accounts added, "
            "%(updated)s changed, %(unchanged)s unchanged."
        )
        % {
            "seconds": time.monotonic() - started,
            "created": f"{result.created:,}",
            "updated": f"{result.updated:,}",
            "unchanged": f"{result.unchanged:,}",
        },
    )
    return redirect("users", request.office.domain)


@office_admin_required
@require_GET
def user_import_template(request):
    target = spooled_file()
    bulk_import.write_template(target)
    target.seek(0)
    response = HttpResponse(target.read(), content_type=XLSX_CONTENT_TYPE)
    response["Content-Disposition"] = 'attachment; filename="bulk-registration-template.xlsx"'
    return response
