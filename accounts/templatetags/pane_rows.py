"""``{% access_rows rows %}``: the detail pane's access-history rows.

A page of the history holds 20 rows, and through Django templates they
were a third of the pane's time; they are rendered by a compiled Jinja2
template instead (``jinja2/accounts/access_rows.html``), which costs about
what hand-written Python did while the markup stays in a template.
"""

from __future__ import annotations

import functools

from django import template
from django.template import engines
from django.utils import timezone
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _

from accounts.models import Mailbox
from accounts.templatetags.mailadmin_geo import country_name

register = template.Library()


@register.simple_tag
def access_rows(rows) -> str:
    html = (
        engines["jinja2"]
        .env.get_template("accounts/access_rows.html")
        .render(
            rows=rows,
            zone=timezone.get_current_timezone(),
            localtime=timezone.localtime,
            protocols=dict(Mailbox.Protocol.choices),
            success=_("Success"),
            failure=_("Failed"),
            # A page's rows mostly share a few countries: look each up once.
            country_name=functools.lru_cache(maxsize=None)(country_name),
        )
    )
    return mark_safe(html)  # noqa: S308 -- autoescaped by Jinja2 with Django's escape
