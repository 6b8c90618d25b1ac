"""Bulk actions on the usage list: the checked rows, or every account the
list's filters select.

The first POST (from the list's bulk bar) only shows the confirmation,
which states how many accounts the action will change; the second POST
(``confirm``) acts. Without JavaScript both are pages; with htmx the
confirmation is the body of the shared dialog and a success closes it and
refreshes the table. The count is taken again when the admin confirms: if
the filtered set changed in between, the confirmation is shown again with
the new number rather than acting on accounts the admin did not count.

Above ``MAILADMIN_BULK_BACKGROUND_ROWS`` accounts the confirmation starts
a background job instead and the admin watches its progress page.
"""

from __future__ import annotations

import json
import re
from urllib.parse import urlencode

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_GET, require_http_methods

from accounts import audit
from accounts.bulk import BulkAction, accounts_bulk_update, background_threshold, bulk_job_start
from accounts.formatting import human_quota
from accounts.models import BulkJob
from accounts.permissions import can_write, office_admin_required, require_write
from accounts.quota_text import QUOTA_HELP, parse_quota
from accounts.selectors import UsageFilterSet, mail_accounts, usage_rows
from mailadmin.htmx import render_htmx

# More checked IDs than any page shows means a forged form.
MAX_CHECKED = 1000
_ID_SHAPE = re.compile(r"[a-z0-9._-]{1,64}", re.ASCII)


class BulkActionForm(forms.Form):
    action = forms.ChoiceField(label=gettext_lazy("Bulk action"), choices=BulkAction.choices)
    quota = forms.CharField(
        label=gettext_lazy("Quota"), required=False, max_length=40, help_text=QUOTA_HELP
    )
    scope = forms.ChoiceField(choices=[("selected", "selected"), ("filtered", "filtered")])

    def clean(self):
        data = super().clean()
        if data.get("action") == BulkAction.SET_QUOTA:
            try:
                data["quota_bytes"] = parse_quota(data.get("quota") or "")
            except ValidationError as error:
                self.add_error("quota", error)
        return data


def _filters(params) -> dict[str, str]:
    """The list's filters the bar carried (only the valid ones)."""
    return {
        name: params.get(name)
        for name in UsageFilterSet.base_filters
        if name != "sort" and params.get(name)
    }


def _list_url(request, filters: dict[str, str]) -> str:
    url = reverse("mail_accounts", args=[request.office.domain])
    return f"{url}?{urlencode(filters)}" if filters else url


def _targets(request, scope: str) -> tuple[list[int], list[str], dict[str, str] | None]:
    """The account ids the action is for, the checked IDs (as sent back by
    the confirmation) and, for the filtered set, its valid filters."""
    office = request.office
    if scope == "filtered":
        filterset, queryset = usage_rows(office, request.POST)
        ids = list(queryset.order_by().values_list("pk", flat=True))
        applied = {k: v for k, v in filterset.applied.items() if k != "sort"}
        return ids, [], applied
    # Only what can be an ID reaches the database (a NUL byte, say, is an
    # error on PostgreSQL rather than no match).
    checked = [
        value
        for value in (raw.strip().lower() for raw in request.POST.getlist("ids")[:MAX_CHECKED])
        if _ID_SHAPE.fullmatch(value)
    ]
    ids = list(
        mail_accounts(office).filter(login_id__in=checked).order_by().values_list("pk", flat=True)
    )
    return ids, checked, None


def _action_sentence(action: str, count: int, quota_bytes) -> str:
    number = f"{count:,}"
    if action == BulkAction.SUSPEND:
        return _("Suspend %(count)s accounts?") % {"count": number}
    if action == BulkAction.RESUME:
        return _("Set %(count)s accounts active again?") % {"count": number}
    if action == BulkAction.POP3_ON:
        return _("Turn POP3 on for %(count)s accounts?") % {"count": number}
    if action == BulkAction.POP3_OFF:
        return _("Turn POP3 off for %(count)s accounts?") % {"count": number}
    if action == BulkAction.SMTP_ON:
        return _("Turn SMTP on for %(count)s accounts?") % {"count": number}
    if action == BulkAction.SMTP_OFF:
        return _("Turn SMTP off for %(count)s accounts?") % {"count": number}
    return _("Set the quota of %(count)s accounts to %(quota)s?") % {
        "count": number,
        "quota": human_quota(quota_bytes),
    }


@office_admin_required
@require_http_methods(["GET", "POST"])
def account_bulk(request):
    if request.method == "GET":
        # Only a form posts here; an address typed or reloaded goes back to
        # the list.
        return redirect("mail_accounts", request.office.domain)
    require_write(request, can_write(request.user))
    form = BulkActionForm(request.POST)
    filters = _filters(request.POST)
    back = _list_url(request, filters)
    context = {"nav": "mail_usage", "form": form, "back": back, "filters": filters}
    if not form.is_valid():
        context["error"] = " ".join(
            str(message) for errors in form.errors.values() for message in errors
        )
        return _confirmation(request, context, status=400)
    data = form.cleaned_data
    action, scope = data["action"], data["scope"]
    quota_bytes = data.get("quota_bytes")
    ids, checked, applied = _targets(request, scope)
    context.update(
        action=action,
        action_label=BulkAction(action).label,
        scope=scope,
        checked=checked,
        count=len(ids),
        sentence=_action_sentence(action, len(ids), quota_bytes),
        quota=data.get("quota") or "",
    )
    if not ids:
        context["error"] = (
            _("Check at least one account in the list.")
            if scope == "selected"
            else _("No account matches these filters.")
        )
        return _confirmation(request, context, status=400)
    if request.POST.get("confirm") != "1":
        return _confirmation(request, context)
    if request.POST.get("expected") != str(len(ids)):
        context["notice"] = _(
            "The number of accounts changed since you were asked. Check it and confirm again."
        )
        return _confirmation(request, context)
    if len(ids) > background_threshold():
        job = bulk_job_start(
            office=request.office,
            actor=request.user,
            action=action,
            account_ids=ids,
            quota_bytes=quota_bytes,
            filters=filters,
            ip=audit.client_ip(request),
        )
        url = reverse("mail_bulk_job", args=[request.office.domain, job.pk])
        if request.htmx:
            response = HttpResponse(status=204)
            response["HX-Redirect"] = url
            return response
        return redirect(url)
    result = accounts_bulk_update(
        office=request.office,
        actor=request.user,
        action=action,
        account_ids=ids,
        quota_bytes=quota_bytes,
        filters=applied,
        ip=audit.client_ip(request),
    )
    text = _("%(action)s: %(changed)s accounts changed, %(unchanged)s already so.") % {
        "action": BulkAction(action).label,
        "changed": f"{result.changed:,}",
        "unchanged": f"{result.unchanged:,}",
    }
    if result.skipped:
        text += " " + _("Your own account was left out.")
    messages.success(request, text)
    if request.htmx:
        response = HttpResponse(status=204)
        response["HX-Trigger"] = json.dumps({"accountsChanged": True, "closeModal": True})
        return response
    return redirect(back)


def _confirmation(request, context: dict, *, status: int = 200):
    # htmx swaps only a 2xx into the dialog: an error there is a 200 too.
    if request.htmx:
        status = 200
    return render_htmx(request, "accounts/bulk_confirm.html", "bulk-dialog", context, status=status)


def _job_context(request, job: BulkJob) -> dict:
    return {
        "job": job,
        "action_label": BulkAction(job.action).label if job.action in BulkAction.values else "",
        "finished": job.status in (BulkJob.Status.DONE, BulkJob.Status.FAILED),
        "back": _list_url(request, job.params),
        "nav": "mail_usage",
    }


@office_admin_required
@require_GET
def bulk_job(request, bulk_job_id):
    """A background bulk action's page; htmx polls its progress fragment."""
    job = get_object_or_404(BulkJob, pk=bulk_job_id, office=request.office)
    return render_htmx(
        request, "accounts/bulk_job.html", "bulk-progress", _job_context(request, job)
    )
