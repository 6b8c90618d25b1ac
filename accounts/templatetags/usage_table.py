"""``{% usage_rows rows %}``: the usage list's rows in the list template.

The rows come from the column registry (:mod:`accounts.columns`), rendered
by a compiled Jinja2 template: Django templates were too slow for a hundred
rows of ten cells, and the markup belongs in template files, not Python.
"""

from __future__ import annotations

from django import template

from accounts.columns import render_usage_rows

register = template.Library()


@register.simple_tag(takes_context=True)
def usage_rows(context, rows) -> str:
    return render_usage_rows(context["request"], context["office"], rows)
