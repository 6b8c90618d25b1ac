"""An admin's own two-factor sign-in (set up, new recovery codes, turn off),
the office's rule that every admin must use it, and a super admin's reset of
another admin's second factor (accounts/two_factor.py does the work)."""

from __future__ import annotations

from django.contrib import messages
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from accounts import two_factor
from accounts.audit import client_ip
from accounts.forms import CodeForm
from accounts.models import AuditEvent
from accounts.permissions import get_account_for_admin, office_admin_required, require_write


def _page(request, *, form=None, codes=None, status=200):
    admin = request.user
    enrolled = two_factor.has_two_factor(admin)
    context = {
        "nav": "two_factor",
        "enrolled": enrolled,
        "form": form or CodeForm(),
        "codes": codes,
        "required": request.office.require_two_factor,
    }
    if not enrolled:
        key = two_factor.setup_key(request.session)
        device = two_factor.setup_device(admin, key)
        context["qr_svg"] = two_factor.qr_svg(device.config_url)
        context["secret"] = two_factor.secret_text(key)
    return render(request, "accounts/two_factor.html", context, status=status)


def _open_before_setup(view):
    """Reachable before setting up when the office requires it (that is
    where everyone is sent)."""
    view.two_factor_setup = True
    return view


@office_admin_required
@_open_before_setup
@require_http_methods(["GET", "POST"])
def two_factor_page(request):
    if request.method == "GET":
        return _page(request)
    admin, ip = request.user, client_ip(request)
    action = request.POST.get("action")
    if action == "policy":
        if not two_factor.has_two_factor(admin):
            messages.error(request, _("Set up two-factor sign-in for yourself first."))
        else:
            required = request.POST.get("required") == "1"
            two_factor.policy_set(actor=admin, required=required, ip=ip)
            messages.success(request, _("The changes were saved."))
        return redirect("two_factor", request.office.domain)
    form = CodeForm(request.POST)
    if action == "setup" and not two_factor.has_two_factor(admin):
        key = two_factor.setup_key(request.session)
        codes = (
            two_factor.setup_confirm(account=admin, key=key, code=form.cleaned_data["code"], ip=ip)
            if form.is_valid()
            else None
        )
        if codes is None:
            form.errors.clear()
            form.add_error("code", _("The code is incorrect."))
            return _page(request, form=form, status=400)
        request.session.pop(two_factor.SETUP_SESSION_KEY, None)
        return _page(request, codes=codes)
    if action in ("codes", "disable") and two_factor.has_two_factor(admin):
        if action == "disable" and request.office.require_two_factor:
            messages.error(request, _("This office requires two-factor sign-in of every admin."))
            return redirect("two_factor", request.office.domain)
        # Changing the second factor takes the second factor.
        if not form.is_valid() or two_factor.verify(admin, form.cleaned_data["code"]) is None:
            form.errors.clear()
            form.add_error("code", _("The code is incorrect."))
            return _page(request, form=form, status=400)
        if action == "codes":
            return _page(request, codes=two_factor.recovery_codes_renew(account=admin, ip=ip))
        two_factor.two_factor_remove(actor=admin, account=admin, ip=ip)
        messages.success(request, _("Two-factor sign-in is turned off."))
        return redirect("two_factor", request.office.domain)
    return redirect("two_factor", request.office.domain)


@office_admin_required
def two_factor_reset(request, login_id):
    """A super admin removes another admin's second factor (a lost phone);
    that admin signs in with the password again and sets up anew."""
    # The account first: an ID this office lacks is 404 whatever the method.
    account, can_write = get_account_for_admin(request, login_id)
    if request.method != "POST":  # nothing to show here: the button is there
        return redirect("user_detail", request.office.domain, account.login_id)
    require_write(request, can_write)
    if account.pk == request.user.pk:
        messages.error(request, _("Manage your own two-factor sign-in on your security page."))
    elif two_factor.two_factor_remove(
        actor=request.user,
        account=account,
        ip=client_ip(request),
        action=AuditEvent.Action.TWO_FACTOR_RESET,
    ):
        messages.success(request, _("Two-factor sign-in of this account was reset."))
    else:
        messages.info(request, _("Nothing was changed."))
    return redirect("user_detail", request.office.domain, account.login_id)
