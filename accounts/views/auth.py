"""Office sign-in and the office home.

Sign-in is per office (``/<domain>/login/``): an ID is unique only inside
its office, so the office comes from the URL and the ID from the form.
"""

from __future__ import annotations

import math
import time
from urllib.parse import urlencode, urlsplit, urlunsplit

from axes.handlers.proxy import AxesProxyHandler
from axes.helpers import get_cool_off
from axes.models import AccessAttempt
from django.conf import settings
from django.contrib import auth, messages
from django.contrib.auth.hashers import make_password
from django.contrib.auth.signals import user_login_failed
from django.contrib.auth.views import redirect_to_login
from django.db import transaction
from django.db.models import Max
from django.http import HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views import i18n
from django.views.decorators.http import require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRedirect

from accounts import audit, throttle, two_factor
from accounts.account_services import password_change_own
from accounts.forms import CodeForm, DomainForm, LoginIdForm, OwnPasswordForm, PasswordForm
from accounts.models import Account, AuditEvent, Office
from accounts.permissions import can_manage, get_office_or_404
from accounts.services import DomainError

GENERIC_LOGIN_ERROR = gettext_lazy("The ID or password is incorrect.")
# In the session between a right password and the second factor.
PENDING_KEY = "two_factor_pending"
MODEL_BACKEND = "accounts.backends.AccountBackend"
LOCKED_OUT_STATUS = 429


def _lockout_minutes_left(request, username: str) -> int:
    """Whole minutes until the cool-off of this address + IP pair ends."""
    last = AccessAttempt.objects.filter(
        username=username, ip_address=audit.client_ip(request)
    ).aggregate(last=Max("attempt_time"))["last"]
    cool_off = get_cool_off(request)
    if last is None or cool_off is None:
        return math.ceil(settings.AXES_COOLOFF_TIME.total_seconds() / 60)
    seconds = (last + cool_off - timezone.now()).total_seconds()
    return max(1, math.ceil(seconds / 60))


def _locked_out(request, context, form, minutes: int):
    form.errors.clear()
    form.add_error(
        None,
        ngettext(
            "Too many failed login attempts. Sign-in with this ID from your network is "
            "blocked for %(minutes)d more minute. Please try again later.",
            "Too many failed login attempts. Sign-in with this ID from your network is "
            "blocked for %(minutes)d more minutes. Please try again later.",
            minutes,
        )
        % {"minutes": minutes},
    )
    context.update(form=form, locked_out=True)
    return render(request, "accounts/login_password.html", context, status=LOCKED_OUT_STATUS)


def _count_failure(
    request, office: Office, login_id: str, account: Account | None, *, unknown: bool
) -> int | None:
    """Count a failed sign-in (a password, or a second-factor code) towards
    the ID's lock and the IP's, audit it, and say for how many minutes it
    locked this sign-in, if it did.

    django-axes has already counted a real ID's password failure (its
    signal fires in authenticate()); ``unknown`` IDs are counted in the IP's
    row instead. Later attempts during a lock are refused before reaching
    here, so each lock is audited once.
    """
    ip = audit.client_ip(request)
    username = f"{login_id}@{office.domain}"
    failure = throttle.record_failure(ip, unknown_username=username if unknown else None)
    admin = account if account is not None and can_manage(account) else None
    if admin is not None:
        audit.record(
            office=office,
            action=AuditEvent.Action.LOGIN_FAILED,
            actor_label=login_id,
            target=admin,
            ip=ip,
        )
    id_locked = failure.id_locked or getattr(request, "axes_locked_out", False)
    if not (id_locked or failure.ip_locked):
        return None
    limit, cooloff = (
        (settings.AXES_FAILURE_LIMIT, settings.AXES_COOLOFF_TIME)
        if id_locked
        else (settings.LOGIN_IP_FAILURE_LIMIT, settings.LOGIN_IP_COOLOFF)
    )
    audit.record(
        office=office,
        action=AuditEvent.Action.LOGIN_LOCKED,
        actor_label=login_id,
        target=account,
        target_label=login_id,
        data={"failures": limit, "cooloff_minutes": round(cooloff.total_seconds() / 60)},
        ip=ip,
    )
    return max(1, math.ceil(cooloff.total_seconds() / 60))


def lockout_response(request, original_response=None, credentials=None) -> HttpResponse:
    """AXES_LOCKOUT_CALLABLE: the login view already answered the lockout
    (status 429, the password step with the message); keep that answer."""
    if original_response is not None and original_response.status_code == LOCKED_OUT_STATUS:
        return original_response
    # Only reached if authenticate() is called somewhere other than the login view.
    return HttpResponse(_("Too many failed login attempts. Please try again later."), status=429)


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


def _login_as_whole_page(request, office: Office, next_url: str):
    """An htmx request sent here by a redirect (signed out, e.g. by the idle
    timeout) would swap the login form into a fragment of the page: have htmx
    load the login as a whole page instead, and come back afterwards to the
    page the user was on."""
    current = urlsplit(request.htmx.current_url or "")
    page = urlunsplit(("", "", current.path, current.query, ""))
    if not page.startswith(f"/{office.domain}/"):
        page = next_url
    target = reverse("login", args=[office.domain])
    if page:
        target += "?" + urlencode({"next": page})
    return HttpResponseClientRedirect(target)


@require_http_methods(["GET", "POST"])
def login(request, domain):
    """Two steps like the original: ① ID → [다음], ② password → [로그인].

    Step one never says whether the ID exists; step two answers a wrong
    password and an unknown ID with the same message.
    """
    office = get_office_or_404(domain)
    next_url = request.POST.get("next") or request.GET.get("next") or ""
    if request.method == "GET" and request.htmx:
        return _login_as_whole_page(request, office, next_url)
    context = {"office": office, "next": next_url}

    if request.method == "POST" and "code" in request.POST:
        return _code_step(request, office, context)
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
    username = f"{login_id}@{office.domain}"
    context["login_id"] = login_id
    ip = audit.client_ip(request)
    # Locks are checked before the password is: a locked IP, or a locked ID +
    # IP pair (AxesStandaloneBackend would refuse the latter too), is refused
    # even with the right password.
    minutes = throttle.ip_locked_minutes(ip)
    if minutes is not None:
        return _locked_out(request, context, form, minutes)
    account = Account.objects.filter(office=office, login_id=login_id).first()
    if account is None:
        minutes = throttle.unknown_id_locked_minutes(ip, username)
        if minutes is not None:
            return _locked_out(request, context, form, minutes)
        # As long as checking a real password, so timing says nothing either.
        make_password(form.cleaned_data["password"])
        user = None
    else:
        if settings.AXES_ENABLED and not AxesProxyHandler.is_allowed(
            request, {"username": username}
        ):
            return _locked_out(request, context, form, _lockout_minutes_left(request, username))
        user = auth.authenticate(request, username=username, password=form.cleaned_data["password"])
    if user is None:
        locked = _count_failure(request, office, login_id, account, unknown=account is None)
        if locked is not None:
            return _locked_out(request, context, form, locked)
        form.add_error(None, GENERIC_LOGIN_ERROR)
        context.update(form=form)
        return render(request, "accounts/login_password.html", context, status=200)

    if can_manage(user) and two_factor.has_two_factor(user):
        # The password was right; the code from the app is the third step.
        request.session[PENDING_KEY] = {
            "account": user.pk,
            "office": office.pk,
            "at": int(time.time()),
        }
        context["form"] = CodeForm()
        return render(request, "accounts/login_code.html", context)
    return _sign_in(request, office, user)


def _sign_in(request, office: Office, user: Account, second_factor: str = "") -> HttpResponse:
    # Signing in to another office replaces the old session entirely; signing
    # in again as the same account still gets a new session key (Django
    # keeps the key then), so a key seen before the sign-in is worth nothing.
    with transaction.atomic():
        request.session.pop(PENDING_KEY, None)
        request.session.cycle_key()
        auth.login(request, user, backend=MODEL_BACKEND)
        if can_manage(user):
            audit.record(
                office=office,
                action=AuditEvent.Action.LOGIN,
                actor=user,
                target=user,
                data={"second_factor": second_factor} if second_factor else None,
                ip=audit.client_ip(request),
            )
    target = _safe_next(request, office)
    if user.must_change_password:
        # An admin reset the password and asked for a new one: nothing else
        # opens until the user has chosen it.
        target = (
            reverse("password_change", args=[office.domain]) + "?" + urlencode({"next": target})
        )
    elif office.require_two_factor and can_manage(user) and not second_factor:
        # Required of every admin, and this one has none yet: set it up first.
        target = reverse("two_factor", args=[office.domain])
    response = HttpResponseRedirect(target)
    if user.language:
        _set_language_cookie(response, user.language)
    return response


def _password_form(account: Account) -> PasswordForm:
    """The password step again (where a lock is shown), for this ID."""
    form = PasswordForm({"login_id": account.login_id})
    form.is_valid()
    return form


def _code_step(request, office: Office, context: dict) -> HttpResponse:
    """The third step: a code from the app (or a recovery code) after the
    right password. A wrong code counts like a wrong password, towards the
    ID's lock and the IP's."""
    pending = request.session.get(PENDING_KEY)
    account = None
    if (
        isinstance(pending, dict)
        and pending.get("office") == office.pk
        and time.time() - pending.get("at", 0) < settings.MAILADMIN_TWO_FACTOR_STEP_SECONDS
    ):
        account = Account.objects.filter(pk=pending.get("account"), office=office).first()
    if account is None:
        request.session.pop(PENDING_KEY, None)
        context["form"] = LoginIdForm()
        context["notice"] = _("Please sign in again.")
        return render(request, "accounts/login_id.html", context, status=400)
    context["login_id"] = account.login_id
    username = f"{account.login_id}@{office.domain}"
    form = CodeForm(request.POST)
    minutes = throttle.ip_locked_minutes(audit.client_ip(request))
    if minutes is None and settings.AXES_ENABLED:
        if not AxesProxyHandler.is_allowed(request, {"username": username}):
            minutes = _lockout_minutes_left(request, username)
    if minutes is not None:
        request.session.pop(PENDING_KEY, None)
        return _locked_out(request, context, _password_form(account), minutes)
    used = two_factor.verify(account, form.data.get("code", "")) if form.is_valid() else None
    if used:
        return _sign_in(request, office, account, second_factor=used)
    # django-axes counts it for the ID (as it would a wrong password).
    user_login_failed.send(sender=__name__, credentials={"username": username}, request=request)
    locked = _count_failure(request, office, account.login_id, account, unknown=False)
    if locked is not None:
        request.session.pop(PENDING_KEY, None)
        return _locked_out(request, context, _password_form(account), locked)
    form.errors.clear()
    form.add_error("code", _("The code is incorrect."))
    context["form"] = form
    return render(request, "accounts/login_code.html", context, status=200)


@require_POST
def logout(request, domain):
    office = get_office_or_404(domain)
    auth.logout(request)
    return redirect("login", domain=office.domain)


def password_change_redirect(request, office: Office):
    """Where a signed-in user who must first choose a new password is sent."""
    return HttpResponseRedirect(
        reverse("password_change", args=[office.domain])
        + "?"
        + urlencode({"next": request.get_full_path()})
    )


@require_http_methods(["GET", "POST"])
def password_change(request, domain):
    """The user's own new password, asked after an admin reset it with
    "must change at the next sign-in"."""
    office = get_office_or_404(domain)
    user = request.user
    if not user.is_authenticated or user.office_id != office.id:
        return redirect_to_login(request.get_full_path(), reverse("login", args=[office.domain]))
    form = OwnPasswordForm(request.POST if request.method == "POST" else None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                password_change_own(account=user, password=form.cleaned_data["new_password"])
            except DomainError as error:
                form.add_error("new_password", error)
            else:
                # The session survives its own password change.
                auth.update_session_auth_hash(request, user)
                messages.success(request, _("Your new password was saved."))
                return HttpResponseRedirect(_safe_next(request, office))
        status = 400
    return render(
        request,
        "accounts/password_change.html",
        {"office": office, "form": form, "next": request.GET.get("next") or ""},
        status=status,
    )


def office_home(request, domain):
    office = get_office_or_404(domain)
    user = request.user
    if not user.is_authenticated or user.office_id != office.id:
        return redirect_to_login(request.get_full_path(), reverse("login", args=[office.domain]))
    if user.must_change_password:
        return password_change_redirect(request, office)
    mailbox = getattr(user, "mailbox", None)
    return render(request, "accounts/office_home.html", {"office": office, "mailbox": mailbox})


def _set_language_cookie(response, language: str) -> None:
    # The same cookie Django's set_language writes.
    response.set_cookie(
        settings.LANGUAGE_COOKIE_NAME,
        language,
        max_age=settings.LANGUAGE_COOKIE_AGE,
        path=settings.LANGUAGE_COOKIE_PATH,
        domain=settings.LANGUAGE_COOKIE_DOMAIN,
        secure=settings.LANGUAGE_COOKIE_SECURE,
        httponly=settings.LANGUAGE_COOKIE_HTTPONLY,
        samesite=settings.LANGUAGE_COOKIE_SAMESITE,
    )


def set_language(request):
    """The language switch: Django's set_language (cookie, redirect back),
    and for a signed-in account the choice is remembered with the account,
    so it follows them to every browser at their next sign-in rather than
    only in the browser that set the cookie."""
    response = i18n.set_language(request)
    language = request.POST.get("language") if request.method == "POST" else None
    supported = {code for code, _name in settings.LANGUAGES}
    user = request.user
    if language in supported and user.is_authenticated and user.language != language:
        Account.objects.filter(pk=user.pk).update(language=language)
    return response
