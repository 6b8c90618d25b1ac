"""``{% report_rows view %}``: a chart's table rows (180 of them for the
half-year storage table), rendered by a compiled Jinja2 template as the
usage list's rows are -- a Django template loop took most of the page's
time."""

from __future__ import annotations

from django import template

from mailadmin.jinja_env import render

register = template.Library()


@register.simple_tag
def report_rows(view) -> str:
    return render("reports/table_rows.html", rows=view.rows)
