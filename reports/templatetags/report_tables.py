"""``{% report_rows view %}``: a chart's table rows (180 of them for the
half-year storage table), rendered by a compiled Jinja2 template as the
usage list's rows are -- a Django template loop took most of the page's
time. ``{% chart_svg view %}``: the chart itself, the same way (its ticks
and bars as a Django template were a fifth of the report's time)."""

from __future__ import annotations

from django import template
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _

from mailadmin.jinja_env import render

register = template.Library()


@register.simple_tag
def report_rows(view) -> str:
    return render("reports/table_rows.html", rows=view.rows)


def chart_svg(view, *, standalone: bool = False) -> SafeString:
    """The chart as SVG markup; ``standalone`` for the PNG (its own size,
    background and heading)."""
    return render(
        "reports/chart_svg.html",
        view=view,
        chart=view.chart,
        standalone=standalone,
        no_data=_("No data"),
    )


register.simple_tag(chart_svg, name="chart_svg")
