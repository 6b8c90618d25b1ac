"""Office scoping for every management URL (SPEC F2, R7).

The order of the answers is part of the contract:

1. an unknown domain is 404;
2. a visitor who is not signed in is sent to that office's login;
3. a signed-in account of another office gets 404 -- before anything else,
   the HTTP method included, so nothing about the office leaks;
4. an ordinary account of the same office gets 403.

Views wrapped here receive ``request.office`` and run with the office's time
zone active; they do not receive ``domain`` themselves.
"""

from __future__ import annotations

from functools import wraps

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils import timezone

from accounts.models import Account, Office


def get_office_or_404(domain: str) -> Office:
    return get_object_or_404(Office, domain=domain.lower())


def office_admin_required(view):
    @wraps(view)
    def wrapper(request, domain, *args, **kwargs):
        office = get_office_or_404(domain)
        user = request.user
        if not user.is_authenticated:
            return redirect_to_login(
                request.get_full_path(), reverse("login", args=[office.domain])
            )
        if user.office_id != office.id:
            raise Http404("not an account of this office")
        if not user.is_office_admin:
            raise PermissionDenied
        request.office = office
        timezone.activate(office.time_zone)
        try:
            return view(request, *args, **kwargs)
        finally:
            timezone.deactivate()

    wrapper.office_admin_required = True
    return wrapper


def get_account_or_404(request, login_id: str, **filters) -> Account:
    """An account of the admin's office, by ID; never another office's."""
    return get_object_or_404(
        Account.objects.select_related("office"),
        office=request.office,
        login_id=login_id.lower(),
        **filters,
    )
