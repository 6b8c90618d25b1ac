"""Office sign-in (SPEC F1) and the office home."""

from __future__ import annotations

from django.contrib import auth
from django.contrib.auth.views import redirect_to_login
from django.db import transaction
from django.http import HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST

from accounts import audit
from accounts.forms import DomainForm, LoginIdForm, PasswordForm
from accounts.models import Account, AuditEvent, Office
from accounts.scoping import get_office_or_404

GENERIC_LOGIN_ERROR = gettext_lazy("The ID or password is incorrect.")


def root(request):
    """`/`: asks for the company domain and sends the visitor to its login."""
    form = DomainForm(request.GET or None)
    if form.is_valid():
        domain = form.cleaned_data["domain"]
        if Office.objects.filter(domain=domain).exists():
            return redirect("login", domain=domain)
        form.add_error("domain", _("No office uses this domain."))
    return render(request, "accounts/root.html", {"form": form})


def _safe_next(request, office: Office) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target.startswith(f"/{office.domain}/") and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return reverse("office_home", args=[office.domain])


@require_http_methods(["GET", "POST"])
def login(request, domain):
    """Two steps like the original: ① ID → [다음], ② password → [로그인].

    Step one never says whether the ID exists; step two answers a wrong
    password and an unknown ID with the same message.
    """
    office = get_office_or_404(domain)
    next_url = request.POST.get("next") or request.GET.get("next") or ""
    context = {"office": office, "next": next_url}

    if request.method == "GET" or "password" not in request.POST:
        id_form = LoginIdForm(request.POST if request.method == "POST" else None)
        if request.method == "POST" and id_form.is_valid():
            context["form"] = PasswordForm(initial={"login_id": id_form.cleaned_data["login_id"]})
            context["login_id"] = id_form.cleaned_data["login_id"]
            return render(request, "accounts/login_password.html", context)
        context["form"] = id_form
        return render(request, "accounts/login_id.html", context)

    form = PasswordForm(request.POST)
    if not form.is_valid():
        context["form"] = LoginIdForm()
        return render(request, "accounts/login_id.html", context, status=400)
    login_id = form.cleaned_data["login_id"].strip().lower().split("@", 1)[0]
    user = auth.authenticate(
        request,
        username=f"{login_id}@{office.domain}",
        password=form.cleaned_data["password"],
    )
    if user is None:
        admin = Account.objects.filter(
            office=office, login_id=login_id, is_office_admin=True
        ).first()
        if admin is not None:
            audit.record(
                office=office,
                action=AuditEvent.Action.LOGIN_FAILED,
                actor_label=login_id,
                target=admin,
                ip=audit.client_ip(request),
            )
        form.add_error(None, GENERIC_LOGIN_ERROR)
        context.update(form=form, login_id=login_id)
        return render(request, "accounts/login_password.html", context, status=200)

    # Signing in to another office replaces the old session entirely.
    with transaction.atomic():
        auth.login(request, user)
        if user.is_office_admin:
            audit.record(
                office=office,
                action=AuditEvent.Action.LOGIN,
                actor=user,
                target=user,
                ip=audit.client_ip(request),
            )
    return HttpResponseRedirect(_safe_next(request, office))


@require_POST
def logout(request, domain):
    office = get_office_or_404(domain)
    auth.logout(request)
    return redirect("login", domain=office.domain)


def office_home(request, domain):
    office = get_office_or_404(domain)
    user = request.user
    if not user.is_authenticated or user.office_id != office.id:
        return redirect_to_login(request.get_full_path(), reverse("login", args=[office.domain]))
    mailbox = getattr(user, "mailbox", None)
    return render(request, "accounts/office_home.html", {"office": office, "mailbox": mailbox})
