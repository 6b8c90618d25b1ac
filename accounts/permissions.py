"""Who may open an office's management console, and what they may do there.

Every management URL is wrapped in :func:`office_admin_required`, which
answers in a fixed order so that a refusal tells an outsider nothing about
the office:

1. an unknown domain is 404 -- there is nothing to sign in to;
2. a visitor who is not signed in is sent to that office's login page, and
   comes back afterwards;
3. a signed-in account of *another* office gets 404 before anything else is
   looked at, the HTTP method included, so it cannot even learn which
   screens or IDs this office has;
4. an account of the same office whose role opens no console gets 403: it
   knows the office exists, it just may not manage it;
5. when the office requires two-factor sign-in, an admin who has not set it
   up is sent to the page that does so (the only one open to them).

Views wrapped here receive ``request.office`` and run with the office's time
zone active; they do not receive ``domain`` themselves.

An account behind a URL is looked up in exactly one place,
:func:`get_account_for_admin` (after healthchecks' ``_get_check_for_user``):
it only ever searches the admin's own office -- so another office's ID is a
404, never a leak -- and it answers, alongside the account, whether this
admin may change it. Views that change anything refuse a POST with 403 when
that answer is no, before they validate a form or call a service.

What a role may do is one table, :data:`ROLE_CAPABILITIES`: a view-only
administrator becomes one more row there (with ``VIEW`` but not ``WRITE``)
and every screen already shows it the right things and refuses its writes.
"""

from __future__ import annotations

from functools import wraps
from urllib.parse import urlencode

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.utils import timezone
from django_htmx.http import HttpResponseClientRedirect

from accounts.models import Account, Office

# What a role may do in the console.
VIEW = "view"  # open the management screens and read every account
WRITE = "write"  # change accounts, empty mailboxes, add and delete sub-accounts

ROLE_CAPABILITIES: dict[str, frozenset[str]] = {
    Account.Role.USER: frozenset(),
    Account.Role.SUPER_ADMIN: frozenset({VIEW, WRITE}),
    # 읽기 전용 관리자: every screen, list, pane and download; no change.
    Account.Role.VIEWER: frozenset({VIEW}),
}

# Methods that only read; any other method changes something and needs WRITE.
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


def console_roles() -> list[str]:
    """The roles that open the console (their sign-ins are audited)."""
    return [role for role, allowed in ROLE_CAPABILITIES.items() if VIEW in allowed]


def capabilities(account: Account) -> frozenset[str]:
    """What ``account``'s role allows; nothing for a role this table lacks."""
    return ROLE_CAPABILITIES.get(account.role, frozenset())


def can_manage(account: Account) -> bool:
    """May open this office's management console."""
    return VIEW in capabilities(account)


def can_write(account: Account) -> bool:
    """May change what the console shows."""
    return WRITE in capabilities(account)


def role_label(account: Account) -> str:
    """The console role's label, "" for an ordinary account."""
    return "" if account.role == Account.Role.USER else account.get_role_display()


def get_office_or_404(domain: str) -> Office:
    return get_object_or_404(Office, domain=domain.lower())


def _has_two_factor(account: Account) -> bool:
    from accounts.two_factor import has_two_factor

    return has_two_factor(account)


def office_admin_required(view):
    """Let only the office's administrators in, answering in the order the
    module docstring gives; the view gets ``request.office``."""

    @wraps(view)
    def wrapper(request, domain, *args, **kwargs):
        user = request.user
        # The session's account comes with its office (the session's row
        # brings both, AccountBackend takes them from there): when that is
        # the page's office, it needs no query of its own.
        own = user.office if user.is_authenticated else None
        office = own if own is not None and own.domain == domain.lower() else None
        if office is None:
            office = get_office_or_404(domain)
        if not user.is_authenticated:
            return redirect_to_login(
                request.get_full_path(), reverse("login", args=[office.domain])
            )
        if user.office_id != office.id:
            raise Http404("not an account of this office")
        if not can_manage(user):
            raise PermissionDenied
        if (
            office.require_two_factor
            and not getattr(view, "two_factor_setup", False)
            and not _has_two_factor(user)
        ):
            # The office requires a second factor of every admin: until this
            # one has set it up, that page is the only one open.
            target = reverse("two_factor", args=[office.domain])
            if getattr(request, "htmx", False):
                return HttpResponseClientRedirect(target)
            return redirect(target)
        if user.must_change_password:
            # A password an admin reset must be replaced before anything else.
            return HttpResponseRedirect(
                reverse("password_change", args=[office.domain])
                + "?"
                + urlencode({"next": request.get_full_path()})
            )
        # A role that may only look is refused every change here, before
        # the view's own method check: a write is 403 whatever its method.
        # (Its own sign-in security is the admin's to change, not the
        # office's.)
        if (
            request.method not in SAFE_METHODS
            and not can_write(user)
            and not getattr(view, "two_factor_setup", False)
        ):
            raise PermissionDenied
        request.office = office
        timezone.activate(office.time_zone)
        try:
            return view(request, *args, **kwargs)
        finally:
            timezone.deactivate()

    wrapper.office_admin_required = True
    return wrapper


def get_account_for_admin(request, login_id: str, **filters) -> tuple[Account, bool]:
    """The account ``login_id`` of the signed-in admin's office, and whether
    this admin may change it.

    Only ever looks inside ``request.office`` (set by
    :func:`office_admin_required`): an ID of another office, or one that
    ``filters`` exclude, is a 404. IDs are matched whatever their case. The
    mailbox comes in the same query (most screens show it) and the office is
    the one already loaded, so the lookup is always one query. A deleted
    user is not found unless ``filters`` ask for it (``deleted_at__isnull``).
    """
    filters.setdefault("deleted_at__isnull", True)
    admin = request.user
    if admin.office_id != request.office.id:  # the decorator refuses this first
        raise Http404("not an account of this office")
    if not can_manage(admin):
        raise PermissionDenied
    account = get_object_or_404(
        Account.objects.select_related("mailbox"),
        office=request.office,
        login_id=login_id.lower(),
        **filters,
    )
    account.office = request.office
    return account, can_write(admin)


def require_write(request, writable: bool) -> None:
    """Refuse (403) a request that would change something when the admin may
    only look."""
    if request.method not in SAFE_METHODS and not writable:
        raise PermissionDenied
