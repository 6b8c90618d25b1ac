"""사용자 관리: the office's accounts; one account's settings (name, status,
POP3/SMTP), its administrator role, passwords and quota; adding a user.

Views that change accounts need write permission: a POST from an admin who
may only look is refused (403) by :func:`office_admin_required` before the
view runs, and :func:`accounts.permissions.get_account_for_admin` answers
the same for a view reached otherwise. Every refusal of a service is shown
next to the field it concerns.

The one account page carries several forms; each posts its ``action`` to
the same URL, so the page that shows a form is the one that answers it. A
generated password is shown once, in the answer to the POST that made it,
and stored nowhere in clear.
"""

from __future__ import annotations

from django.contrib import messages
from django.db.models import Q
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import formats, timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from accounts import tallies
from accounts.account_services import (
    DELETED_RETENTION,
    account_create,
    account_delete,
    account_restore,
    deletion_facts,
    mail_password_set,
    office_default_quota_set,
    office_home_countries_set,
    password_reset,
    quota_set,
    role_set,
)
from accounts.audit import client_ip
from accounts.formatting import choice_label, human_bytes
from accounts.forms import (
    QUOTA_SIZE,
    QUOTA_UNLIMITED,
    AccountUpdateForm,
    HomeCountriesForm,
    MailPasswordForm,
    OfficeSettingsForm,
    PasswordResetForm,
    QuotaForm,
    RoleForm,
    UserCreateForm,
    UserSearchForm,
)
from accounts.geo import country_of_time_zone
from accounts.models import Account
from accounts.paging import keyed_page
from accounts.permissions import (
    can_manage,
    can_write,
    get_account_for_admin,
    office_admin_required,
    require_write,
)
from accounts.selectors import substring_lookup
from accounts.services import DomainError, account_update
from accounts.two_factor import has_two_factor
from mailadmin.querystring import path_segment

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
    "role_invalid": "role",
    "role_kind": "role",
    "last_admin": "role",
    "login_id_invalid": "login_id",
    "login_id_taken": "login_id",
    "kind_invalid": "kind",
    "password_invalid": "password",
    "quota_invalid": "quota_text",
    "quota_range": "quota_text",
    "quota_below_usage": "confirm_below_usage",
}


def _add_error(form, error: DomainError) -> None:
    field = ERROR_FIELDS.get(error.code)
    form.add_error(field if field in form.fields else None, error)


@office_admin_required
@require_GET
def user_list(request):
    form = UserSearchForm(request.GET)
    query = form.cleaned_data["q"].strip() if form.is_valid() else ""
    accounts = Account.objects.filter(
        office=request.office, deleted_at__isnull=True
    ).select_related("mailbox")
    if query:
        lookup = substring_lookup(query)
        accounts = accounts.filter(
            Q(**{f"name__{lookup}": query}) | Q(**{f"login_id__{lookup}": query})
        )
    # Count, then the page (keys from the listed accounts' covering index).
    # Without a search the database has kept the count; a syllable or two
    # is counted on the accounts' Hangul pieces. Either count is read in
    # the first page's own statement.
    page = keyed_page(
        accounts.order_by("name", "login_id", "pk"),
        request.GET.get("page"),
        USERS_PAGE_SIZE,
        count_sql=tallies.users_count_sql(request.office, query),
    )
    # Each row's link, as {% url 'user_detail' %} would write it: the
    # route resolved once for the page rather than once per row.
    base = reverse("users", args=[request.office.domain])
    for account in page.object_list:
        account.detail_url = f"{base}{path_segment(account.login_id)}/"
        account.kind_label = choice_label(Account.Kind, account.kind)
        account.status_label = choice_label(Account.Status, account.status)
        account.role_label = choice_label(Account.Role, account.role)
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


def _quota_initial(quota_bytes: int | None) -> dict:
    if quota_bytes is None:
        return {"quota_choice": QUOTA_UNLIMITED}
    return {"quota_choice": QUOTA_SIZE, "quota_text": human_bytes(quota_bytes)}


# The forms of the account page, by the ``action`` they post.
ACTIONS = ("settings", "role", "password", "mail_password", "mail_password_remove", "quota")


def _forms(account: Account, data=None, action: str | None = None) -> dict:
    """Every form of the account page; the one ``action`` names is bound."""

    def bound(name):
        return data if action == name else None

    mailbox = getattr(account, "mailbox", None)
    forms = {
        "form": AccountUpdateForm(bound("settings"), account=account),
        "role_form": RoleForm(bound("role"), initial={"role": account.role}),
        "password_form": PasswordResetForm(bound("password")),
        "mail_password_form": MailPasswordForm(bound("mail_password")),
        "quota_form": None,
    }
    if mailbox is not None:
        forms["quota_form"] = QuotaForm(bound("quota"), initial=_quota_initial(mailbox.quota_bytes))
    return forms


def _run_action(request, account: Account, action: str, forms: dict):
    """Validate the posted form and call its service. Returns (done, extra
    context): a generated password to show once, or a message."""
    actor, ip = request.user, client_ip(request)
    if action == "settings":
        form = forms["form"]
        if form.is_valid():
            changes = account_update(actor=actor, account=account, ip=ip, **form.changes())
            return True, {"notice": _("The changes were saved.") if changes else None}
        return False, {}
    if action == "role":
        form = forms["role_form"]
        if form.is_valid():
            changed = role_set(actor=actor, account=account, role=form.cleaned_data["role"], ip=ip)
            return True, {"notice": _("The role was changed.") if changed else None}
        return False, {}
    if action == "password":
        form = forms["password_form"]
        if form.is_valid():
            generated = password_reset(
                actor=actor,
                account=account,
                password=form.cleaned_data["password"],
                must_change=form.cleaned_data["must_change"],
                ip=ip,
            )
            return True, {"notice": _("The password was reset."), "shown_password": generated}
        return False, {}
    if action == "mail_password":
        form = forms["mail_password_form"]
        if form.is_valid():
            generated = mail_password_set(
                actor=actor, account=account, password=form.cleaned_data["password"], ip=ip
            )
            return True, {
                "notice": _("The mail-only password was set."),
                "shown_mail_password": generated,
            }
        return False, {}
    if action == "mail_password_remove":
        mail_password_set(actor=actor, account=account, password=None, ip=ip)
        return True, {"notice": _("The mail-only password was removed.")}
    if action == "quota":
        form = forms["quota_form"]
        if form is not None and form.is_valid():
            changed = quota_set(
                actor=actor,
                account=account,
                quota_bytes=form.quota_value(),
                confirm_below_usage=form.cleaned_data["confirm_below_usage"],
                ip=ip,
            )
            return True, {"notice": _("The quota was changed.") if changed else None}
        return False, {}
    return False, {"action_error": _("Unknown action.")}


_ACTION_FORM = {
    "settings": "form",
    "role": "role_form",
    "password": "password_form",
    "mail_password": "mail_password_form",
    "mail_password_remove": "mail_password_form",
    "quota": "quota_form",
}


@office_admin_required
@require_http_methods(["GET", "POST"])
def user_detail(request, login_id):
    account, can_write = get_account_for_admin(request, login_id)
    require_write(request, can_write)
    action = request.POST.get("action", "settings") if request.method == "POST" else None
    if action is not None and action not in ACTIONS:
        action = "settings"
    forms = _forms(account, request.POST if action else None, action)
    context = {
        "account": account,
        "nav": "users",
        "action": action,
        "retention_days": DELETED_RETENTION.days,
    }
    status = 200
    if action:
        try:
            done, extra = _run_action(request, account, action, forms)
        except DomainError as error:
            form = forms.get(_ACTION_FORM[action])
            if form is None:
                form = forms["form"]
            _add_error(form, error)
            done, extra = False, {}
        context.update(extra)
        if not done:
            status = 400
        elif not (extra.get("shown_password") or extra.get("shown_mail_password")):
            messages.success(request, extra.get("notice") or _("Nothing was changed."))
            return redirect("user_detail", request.office.domain, account.login_id)
        else:
            # Shown once, on this answer: the page is not redirected, and the
            # forms are fresh (nothing typed is sent back).
            account.refresh_from_db()
            account.office = request.office
            forms = _forms(account)
    context.update(forms)
    context["mailbox"] = getattr(account, "mailbox", None)
    context["console_admin"] = can_manage(account)
    context["has_two_factor"] = context["console_admin"] and has_two_factor(account)
    return render(request, "accounts/user_detail.html", context, status=status)


@office_admin_required
@require_http_methods(["GET", "POST"])
def user_add(request):
    """사용자 추가."""
    form = UserCreateForm(request.POST if request.method == "POST" else None)
    status = 200
    created = None
    if request.method == "POST":
        if form.is_valid():
            data = form.cleaned_data
            try:
                created = account_create(
                    actor=request.user,
                    office=request.office,
                    login_id=data["login_id"],
                    name=data["name"],
                    department=data["department"],
                    kind=data["kind"],
                    uses_mail=data["uses_mail"],
                    quota=form.quota_value(),
                    password=data["password"],
                    must_change_password=data["must_change_password"],
                    ip=client_ip(request),
                )
            except DomainError as error:
                _add_error(form, error)
        if created is None:
            status = 400
        elif not created.generated_password:
            messages.success(
                request,
                _("%(name)s (%(address)s) was added.")
                % {"name": created.account.name, "address": created.account.email},
            )
            return redirect("user_detail", request.office.domain, created.account.login_id)
    return render(
        request,
        "accounts/user_add.html",
        {"form": form, "created": created, "nav": "users"},
        status=status,
    )


@office_admin_required
@require_http_methods(["GET", "POST"])
def office_settings(request):
    """The office's settings: the quota new mailboxes get, and the home
    countries of its sign-ins (two forms on one page, told apart by
    ``section``)."""
    office = request.office
    posted = request.method == "POST"
    section = request.POST.get("section", "quota") if posted else ""
    own_country = country_of_time_zone(office.time_zone)
    form = OfficeSettingsForm(
        request.POST if section == "quota" else None,
        initial=_quota_initial(office.default_quota_bytes),
    )
    countries_form = HomeCountriesForm(
        request.POST if section == "home_countries" else None,
        initial={"home_countries": office.home_countries or ""},
        own_country=own_country,
    )
    status = 200
    if posted:
        bound = countries_form if section == "home_countries" else form
        if bound.is_valid():
            try:
                if bound is form:
                    changed = office_default_quota_set(
                        actor=request.user,
                        office=office,
                        quota_bytes=form.quota_value(),
                        ip=client_ip(request),
                    )
                    done = _("The default quota was changed.")
                else:
                    changed = office_home_countries_set(
                        actor=request.user,
                        office=office,
                        countries=countries_form.cleaned_data["home_countries"],
                        ip=client_ip(request),
                    )
                    done = _("The home countries were changed.")
            except DomainError as error:
                _add_error(bound, error)
            else:
                messages.success(request, done if changed else _("Nothing was changed."))
                return redirect("office_settings", office.domain)
        status = 400
    return render(
        request,
        "accounts/office_settings.html",
        {
            "form": form,
            "countries_form": countries_form,
            "home_countries": sorted(office.home_country_codes()),
            "nav": "office_settings",
        },
        status=status,
    )


@office_admin_required
@require_http_methods(["GET", "POST"])
def user_delete(request, login_id):
    """삭제: GET asks for confirmation, naming the user and its mail; only a
    POST deletes."""
    account, can_write = get_account_for_admin(request, login_id)
    require_write(request, can_write)
    error = None
    if request.method == "POST":
        try:
            account_delete(actor=request.user, account=account, ip=client_ip(request))
        except DomainError as refused:
            error = refused.message
        else:
            messages.success(
                request,
                _(
                    "%(name)s (%(login_id)s) was deleted. It can be restored from the deleted "
                    "users until %(until)s."
                )
                % {
                    "name": account.name,
                    "login_id": account.login_id,
                    "until": formats.date_format(
                        timezone.localtime(account.deleted_at + DELETED_RETENTION), "Y-m-d"
                    ),
                },
            )
            return redirect("users", request.office.domain)
    return render(
        request,
        "accounts/user_delete.html",
        {
            "account": account,
            "facts": deletion_facts(account),
            "retention_days": DELETED_RETENTION.days,
            "error": error,
            "nav": "users",
        },
        status=400 if error else 200,
    )


@office_admin_required
@require_http_methods(["GET", "POST"])
def deleted_users(request):
    """The users deleted in the last 30 days; a super admin restores one by
    posting its ``login_id``."""
    office = request.office
    if request.method == "POST":
        login_id = request.POST.get("login_id", "")[:64]
        if "\x00" in login_id:  # no ID has one (and PostgreSQL refuses it)
            raise Http404("no such deleted user")
        account, can_write = get_account_for_admin(request, login_id, deleted_at__isnull=False)
        require_write(request, can_write)
        try:
            account_restore(actor=request.user, account=account, ip=client_ip(request))
        except DomainError as refused:
            messages.error(request, refused.message)
        else:
            messages.success(
                request,
                _("%(name)s (%(login_id)s) was restored.")
                % {"name": account.name, "login_id": account.login_id},
            )
        return redirect("deleted_users", office.domain)
    accounts = list(
        Account.objects.filter(office=office, deleted_at__isnull=False)
        .select_related("mailbox")
        .order_by("-deleted_at", "pk")
    )
    for account in accounts:
        account.purge_on = account.deleted_at + DELETED_RETENTION
    return render(
        request,
        "accounts/deleted_users.html",
        {"accounts": accounts, "retention_days": DELETED_RETENTION.days, "nav": "users"},
    )
