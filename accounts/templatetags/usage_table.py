"""The usage list's table in the list template: ``{% usage_header_cells %}``,
``{% usage_rows %}`` and ``{% usage_pager %}``, and the toolbar's
``{% filter_options %}``.

The header and rows come from the column registry (:mod:`accounts.columns`);
all three are rendered by compiled Jinja2 templates: through Django
templates the table took most of the page's time (a hundred rows of ten
cells, and a link per sort and per page, each a query string), and the
markup belongs in template files, not Python. The filters' options are
the same kind of loop (two dozen options, each comparing its value).
"""

from __future__ import annotations

from django import template
from django.utils.translation import gettext as _

from accounts.columns import render_usage_header, render_usage_rows
from mailadmin.jinja_env import render
from mailadmin.querystring import query_with

register = template.Library()


@register.simple_tag
def usage_header_cells(header) -> str:
    return render_usage_header(header)


@register.simple_tag(takes_context=True)
def usage_rows(context, rows) -> str:
    return render_usage_rows(context["request"], context["office"], rows)


@register.simple_tag
def filter_options(listing, name: str) -> str:
    """A toolbar filter's options, the value in effect selected."""
    return render(
        "accounts/filter_options.html",
        choices=listing.filterset.option_labels(name),
        current=listing.current[name],
    )


@register.simple_tag(takes_context=True)
def usage_pager(context, page, page_range) -> str:
    """The page links, each keeping the list's filters, search and sort."""
    params = context["request"].GET
    ellipsis = page.paginator.ELLIPSIS
    return render(
        "accounts/usage_pager.html",
        current=page.number,
        previous=query_with(params, page=page.previous_page_number())
        if page.has_previous()
        else "",
        next=query_with(params, page=page.next_page_number()) if page.has_next() else "",
        pages=[
            (None, "") if number == ellipsis else (number, query_with(params, page=number))
            for number in page_range
        ],
        text={"pages": _("Pages"), "previous": _("Previous"), "next": _("Next")},
    )
