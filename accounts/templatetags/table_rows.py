"""``{% audit_rows events %}`` and ``{% user_rows accounts %}``: the rows of
the audit log and of 사용자 관리.

Fifty rows of six cells through Django templates were the biggest part of
either page (2.7 ms of the audit log's first page at 10,000 accounts,
1.8 ms of the users page's); they are rendered by compiled Jinja2
templates instead, as the usage list's rows are, while the markup stays
in template files. Each view has prepared its rows' labels and links.
"""

from __future__ import annotations

from functools import cache
from types import SimpleNamespace

from django import template
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from mailadmin.jinja_env import render

register = template.Library()


@cache
def _audit_text(language: str | None) -> SimpleNamespace:
    """The cells' labels in ``language`` (the active one), once."""
    return SimpleNamespace(
        action=_("Action"), actor=_("Actor"), target=_("Target"), details=_("Details")
    )


@cache
def _user_text(language: str | None) -> SimpleNamespace:
    return SimpleNamespace(
        id=_("ID"),
        department=_("Department"),
        kind=_("Kind"),
        mail=_("Mail"),
        status=_("Status"),
        uses_mail=_("Uses mail"),
        no_mail=_("No mail"),
    )


@register.simple_tag
def audit_rows(events) -> str:
    return render("accounts/audit_rows.html", events=events, text=_audit_text(get_language()))


@register.simple_tag
def user_rows(accounts) -> str:
    return render("accounts/user_rows.html", accounts=accounts, text=_user_text(get_language()))
