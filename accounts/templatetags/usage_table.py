"""The usage list's results in the list template: ``{% usage_results %}``
(the count, download link, bulk actions, table and pager, with
``{% usage_header_cells %}``, ``{% usage_rows %}`` and ``{% usage_pager %}``
inside), and the toolbar's filters and search box, ``{% usage_toolbar %}``.

The header and rows come from the column registry (:mod:`accounts.columns`);
all three are rendered by compiled Jinja2 templates: through Django
templates the table took most of the page's time (a hundred rows of ten
cells, and a link per sort and per page, each a query string), and the
markup belongs in template files, not Python. The toolbar is the same
kind of loop (six filters, two dozen options, each comparing its value).
"""

from __future__ import annotations

from functools import cache
from types import SimpleNamespace

from django import template
from django.contrib.humanize.templatetags.humanize import intcomma
from django.urls import reverse
from django.utils.html import escape
from django.utils.safestring import mark_safe
from django.utils.translation import get_language, gettext_noop
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


# The toolbar's filters in their order: (parameter, the select's id, its
# label, translated when the page is rendered).
_TOOLBAR_FILTERS = (
    ("subaccounts", "usage-subaccounts", gettext_noop("Sub-account use")),
    ("status", "usage-status", gettext_noop("Account status")),
    ("mail_password", "usage-mail-password", gettext_noop("Mail-only password")),
    ("quota", "usage-quota", gettext_noop("Quota status")),
    ("inactive", "usage-inactive", gettext_noop("Inactive")),
    ("access", "usage-access", gettext_noop("Sign-ins")),
)


@cache
def _toolbar_text(language: str | None) -> SimpleNamespace:
    """The toolbar's labels in ``language`` (the active one), translated
    once rather than on every page."""
    return SimpleNamespace(
        filters=tuple((name, id_, _(label)) for name, id_, label in _TOOLBAR_FILTERS),
        filter_and_search=_("Filter and search"),
        search=_("Search"),
        name_or_id=_("Name/ID"),
        search_help=_("Finds names, IDs and sub-account addresses containing the text."),
    )


@register.simple_tag(takes_context=True)
def usage_toolbar(context) -> str:
    """The filters and the search box, each filter's value in effect
    selected: one compiled template rather than some forty template nodes."""
    listing = context["listing"]
    filterset = listing.filterset
    text = _toolbar_text(get_language())
    return render(
        "accounts/usage_toolbar.html",
        path=context["request"].path,
        text=text,
        filters=[
            (name, id_, label, filterset.option_labels(name)) for name, id_, label in text.filters
        ],
        current=listing.current,
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


@cache
def _results_text(language: str | None) -> SimpleNamespace:
    """The results' labels in ``language`` (the active one), translated
    once rather than on every page."""
    return SimpleNamespace(
        mail_users=_("Number of mail users"),
        download=_("Download list"),
        bulk_actions=_("Bulk actions"),
        check_page=_("Check all on this page"),
        action=_("Action"),
        quota=_("Quota"),
        quota_example=_("2 GB"),
        quota_help=_("Only for setting the quota: a size such as 2 GB or 500 MB, or “unlimited”."),
        apply_checked=_("Apply to the checked accounts"),
        sort=_("Sort"),
        no_match=_("No account matches these filters."),
        no_account=_("No account uses mail yet."),
        rows_per_page=_("Rows per page"),
        apply=_("Apply"),
    )


def _filled(message: str, **values) -> str:
    """A translated sentence with its values escaped, as ``blocktranslate``
    writes it (the sentence itself as translated)."""
    return mark_safe(message % {name: escape(value) for name, value in values.items()})  # noqa: S308


@register.simple_tag(takes_context=True)
def usage_results(context) -> str:
    """Everything the table's htmx swap replaces but the messages: the
    page's context as the list view made it."""
    request = context["request"]
    listing = context["listing"]
    office = context["office"]
    page = context["page_obj"]
    header = context["header"]
    rows = context["rows"]
    filtered = listing.filterset.is_filtered
    count = intcomma(listing.filtered_count)
    can_write = context["can_write"]
    csrf_token = context.get("csrf_token")
    return render(
        "accounts/usage_results.html",
        text=_results_text(get_language()),
        sort=context["sort"],
        filtered_count=count,
        is_filtered=filtered,
        of_total=_filled(_("of %(total)s"), total=intcomma(listing.total)),
        export_url=reverse("mail_accounts_export", args=[office.domain])
        + query_with(request.GET, page=None, per_page=None),
        export_in_background=context["export_in_background"],
        can_write=can_write,
        bulk_url=reverse("mail_accounts_bulk", args=[office.domain]) if can_write else "",
        csrf_token=str(csrf_token) if csrf_token and csrf_token != "NOTPROVIDED" else "",
        current=list(listing.current.items()),
        bulk_actions=context["bulk_actions"],
        apply_all=_filled(
            _("Apply to all %(count)s matching accounts")
            if filtered
            else _("Apply to all %(count)s accounts"),
            count=count,
        ),
        caption=_filled(
            _("Mail usage status, page %(number)s of %(pages)s"),
            number=page.number,
            pages=page.paginator.num_pages,
        ),
        header_cells=render_usage_header(header),
        rows=render_usage_rows(request, office, rows) if rows else "",
        columns=len(header),
        pager=usage_pager(context, page, context["page_range"])
        if page.paginator.num_pages > 1
        else "",
        page_sizes=context["page_sizes"],
        per_page=listing.per_page,
    )
