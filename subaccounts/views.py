"""The 부계정 설정 dialog: list, add and delete an account's sub-accounts.

With htmx the views answer the dialog body, which the shared ``#modal``
shows; errors re-render that body with status 200 (htmx 2 swaps no 4xx) so
the dialog stays open and shows them, and a success re-renders it too and
triggers ``subaccountsChanged`` for the list row and the detail pane.
Without JavaScript the same URLs answer a full page; a success redirects
back to it (POST/redirect/GET) and an error is a 409 or 422 page.
Partials, history restore and ``Vary`` come from :mod:`mailadmin.htmx`; the
owner comes from the one permission lookup, and a POST needs write
permission.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_http_methods
from django_htmx.http import trigger_client_event

from accounts.audit import client_ip
from accounts.models import Account
from accounts.permissions import get_account_for_admin, office_admin_required, require_write
from accounts.services import DomainError
from mailadmin.htmx import render_htmx, wants_partial
from subaccounts import services
from subaccounts.forms import SubAccountAddForm
from subaccounts.models import SubAccount
from subaccounts.services import (
    CONFLICT_CODES,
    add_refusal,
    messages_to_move,
    subaccount_email,
)

DIALOG = "subaccounts/subaccount_dialog.html"
CONFIRM = "subaccounts/subaccount_delete.html"
CHANGED_EVENT = "subaccountsChanged"


def _error_status(error: DomainError) -> int:
    return 409 if getattr(error, "code", None) in CONFLICT_CODES else 422


def _render(request, template: str, context: dict, status: int = 200) -> HttpResponse:
    """The dialog body for htmx (always 200 so htmx swaps it), else the page."""
    in_modal = wants_partial(request)
    return render_htmx(
        request,
        template,
        "body",
        {**context, "in_modal": in_modal},
        status=200 if in_modal else status,
    )


def _dialog_context(owner: Account, form: SubAccountAddForm, notice: str = "") -> dict:
    subaccounts = list(SubAccount.objects.filter(owner=owner).order_by("local_part"))
    for subaccount in subaccounts:
        subaccount.email = subaccount_email(owner, subaccount.local_part)
    count = len(subaccounts)
    maximum = settings.MAILADMIN_SUBACCOUNT_LIMIT
    reason = add_refusal(owner, count)
    return {
        "nav": "mail_usage",
        "owner": owner,
        "subaccounts": subaccounts,
        "count": count,
        "maximum": maximum,
        "remaining": max(0, maximum - count),
        "can_add": not reason,
        "reason": reason,
        "form": form,
        "notice": notice,
    }


def _changed(response: HttpResponse, owner: Account) -> HttpResponse:
    return trigger_client_event(response, CHANGED_EVENT, {"login_id": owner.login_id})


@office_admin_required
@require_http_methods(["GET", "POST"])
def subaccount_dialog(request, login_id):
    """GET: the dialog. POST ``local_part``: add ``local_part@domain``."""
    owner, can_write = get_account_for_admin(request, login_id)
    require_write(request, can_write)
    if request.method == "GET":
        return _render(request, DIALOG, _dialog_context(owner, SubAccountAddForm()))

    form = SubAccountAddForm(request.POST)
    status = 422
    if form.is_valid():
        try:
            subaccount = services.subaccount_add(
                actor=request.user,
                owner=owner,
                local_part=form.cleaned_data["local_part"],
                ip=client_ip(request),
            )
        except DomainError as error:
            form.add_error("local_part", error)
            status = _error_status(error)
        else:
            notice = _("Sub-account %(address)s added.") % {
                "address": subaccount_email(owner, subaccount.local_part)
            }
            if not request.htmx:
                messages.success(request, notice)
                return redirect("subaccounts", owner.office.domain, owner.login_id)
            response = _render(request, DIALOG, _dialog_context(owner, SubAccountAddForm(), notice))
            return _changed(response, owner)
    return _render(request, DIALOG, _dialog_context(owner, form), status=status)


@office_admin_required
@require_http_methods(["GET", "POST"])
def subaccount_delete(request, login_id, local_part):
    """GET: the confirmation (how many messages will move). POST: delete."""
    owner, can_write = get_account_for_admin(request, login_id)
    require_write(request, can_write)
    if request.method == "GET":
        subaccount = (
            SubAccount.objects.select_related("folder")
            .filter(owner=owner, local_part=local_part.lower())
            .first()
        )
        if subaccount is None:
            missing = DomainError(
                _("%(address)s is not a sub-account of this account (any more).")
                % {"address": subaccount_email(owner, local_part.lower())},
                code="missing",
            )
            return _dialog_with_error(request, owner, missing, status=404)
        subaccount.email = subaccount_email(owner, subaccount.local_part)
        context = {
            "nav": "mail_usage",
            "owner": owner,
            "subaccount": subaccount,
            "moving": messages_to_move(subaccount),
        }
        return _render(request, CONFIRM, context)

    try:
        moved = services.subaccount_delete(
            actor=request.user, owner=owner, local_part=local_part, ip=client_ip(request)
        )
    except DomainError as error:
        return _dialog_with_error(request, owner, error, status=_error_status(error))
    notice = ngettext(
        "Sub-account %(address)s deleted. %(count)d message moved to the inbox.",
        "Sub-account %(address)s deleted. %(count)d messages moved to the inbox.",
        moved,
    ) % {"address": subaccount_email(owner, local_part.lower()), "count": moved}
    if not request.htmx:
        messages.success(request, notice)
        return redirect("subaccounts", owner.office.domain, owner.login_id)
    response = _render(request, DIALOG, _dialog_context(owner, SubAccountAddForm(), notice))
    return _changed(response, owner)


def _dialog_with_error(request, owner: Account, error: DomainError, *, status: int):
    context = _dialog_context(owner, SubAccountAddForm())
    context["error"] = " ".join(error.messages)
    return _render(request, DIALOG, context, status=status)
