"""사용자 관리: the office's accounts, and one account's settings (name,
status, POP3/SMTP, the mail-only password).

The detail view changes accounts, so a POST needs write permission
(:func:`accounts.permissions.get_account_for_admin`) and every refusal of the
service is shown next to the field it concerns.
"""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Q
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from accounts.audit import client_ip
from accounts.forms import AccountUpdateForm, UserSearchForm
from accounts.models import Account
from accounts.permissions import (
    can_write,
    get_account_for_admin,
    office_admin_required,
    require_write,
)
from accounts.services import DomainError, account_update

USERS_PAGE_SIZE = 20

# Which form field a refusal of the service belongs to (by its code).
ERROR_FIELDS = {
    "name_empty": "name",
    "name_too_long": "name",
    "name_control": "name",
    "status_invalid": "status",
    "suspend_self": "status",
    "suspend_last_admin": "status",
    "no_mail_password": "remove_mail_password",
}


@office_admin_required
@require_GET
def user_list(request):
    form = UserSearchForm(request.GET)
    query = form.cleaned_data["q"].strip() if form.is_valid() else ""
    accounts = Account.objects.filter(office=request.office).select_related("mailbox")
    if query:
        accounts = accounts.filter(Q(name__icontains=query) | Q(login_id__icontains=query))
    page = Paginator(accounts.order_by("name", "login_id", "pk"), USERS_PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    return render(
        request,
        "accounts/user_list.html",
        {
            "form": form,
            "query": query,
            "page": page,
            "nav": "users",
            "can_write": can_write(request.user),
        },
        status=200 if form.is_valid() else 400,
    )


@office_admin_required
@require_http_methods(["GET", "POST"])
def user_detail(request, login_id):
    account, can_write = get_account_for_admin(request, login_id)
    require_write(request, can_write)
    form = AccountUpdateForm(request.POST if request.method == "POST" else None, account=account)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                changes = account_update(
                    actor=request.user, account=account, ip=client_ip(request), **form.changes()
                )
            except DomainError as error:
                field = ERROR_FIELDS.get(error.code)
                form.add_error(field if field in form.fields else None, error)
            else:
                if changes:
                    messages.success(request, _("The changes were saved."))
                else:
                    messages.info(request, _("Nothing was changed."))
                return redirect("user_detail", request.office.domain, account.login_id)
        status = 400
    return render(
        request,
        "accounts/user_detail.html",
        {
            "account": account,
            "mailbox": getattr(account, "mailbox", None),
            "form": form,
            "nav": "users",
        },
        status=status,
    )
