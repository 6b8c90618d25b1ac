"""``{% access_rows rows %}``: the detail pane's access-history rows.

A page of the history holds 20 rows, and through Django templates they
were a third of the pane's time; they are rendered by a compiled Jinja2
template instead (``accounts/jinja2/accounts/access_rows.html``), which costs about
what hand-written Python did while the markup stays in a template.
"""

from __future__ import annotations

import functools

from django import template
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import AccessFlag, Mailbox
from accounts.templatetags.mailadmin_geo import country_name
from mailadmin.jinja_env import render

register = template.Library()


@register.simple_tag
def access_rows(rows) -> str:
    return render(
        "accounts/access_rows.html",
        rows=rows,
        zone=timezone.get_current_timezone(),
        protocols=dict(Mailbox.Protocol.choices),
        success=_("Success"),
        failure=_("Failed"),
        flags={key: str(label) for key, label in AccessFlag.choices},
        # A page's rows mostly share a few countries: look each up once.
        country_name=functools.lru_cache(maxsize=None)(country_name),
    )
