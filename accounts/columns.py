"""The usage list's columns, declared once.

Like the admin's ``list_display`` (walked by ``result_headers`` and
``items_for_result``), :data:`USAGE_COLUMNS` is the one description of the
list's columns, and everything that shows them walks it:

- the table header is rendered from :func:`usage_header` (a Jinja2
  template, as the rows), so the header, its sort links and the empty
  row's ``colspan`` follow the registry;
- the rows are one Jinja2 template stitched from each column's cell
  template (:func:`render_usage_rows`);
- the sort whitelist and each sort's ORDER BY come from the columns'
  :class:`Sort` entries (:mod:`accounts.selectors`);
- the Excel roster writes each column's :class:`ExportCell` entries, with
  their number formats and widths (:mod:`accounts.exports`).

A column may have no place on screen (the account kind is a badge inside
the name cell, but a column of its own in the file) or no place in the file
(the buttons). Adding a column is one entry here plus, if it is shown, one
cell template in ``accounts/jinja2/accounts/usage_cells/``.

Why the rows are stitched rather than included: rendering a hundred rows
of ten cells through Django templates took most of the page's time, and
calling a Jinja2 macro or ``{% include %}`` per cell still costs a few
milliseconds a page. Concatenating the cell templates into the row loop
before compiling gives one compiled function per registry, as fast as the
Python-built markup it replaces, with no HTML in Python.
"""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any
from urllib.parse import quote

from django.db.models import F, OrderBy
from django.http import QueryDict
from django.urls import reverse
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import get_language, gettext
from django.utils.translation import gettext_lazy as _
from jinja2 import Template
from markupsafe import escape

from accounts.access_history import recent_access
from accounts.formatting import human_bytes, human_quota, page_number_format
from accounts.models import AccessFlag, Account, Mailbox
from accounts.permissions import can_write
from mailadmin.jinja_env import jinja_env, render
from mailadmin.querystring import query_with

ROWS_TEMPLATE = "accounts/usage_rows.html"
HEADER_TEMPLATE = "accounts/usage_header.html"
CELLS_MARKER = "{# cells #}"


# --- Sorting ---------------------------------------------------------------

# The stable tie-break is part of every order: the default order (name, ID,
# primary key) after the chosen key, so equal values never shuffle between
# pages.
_TIE_BREAK = (F("name").asc(), F("login_id").asc(), F("pk").asc())


def order_by_name(descending: bool) -> list[OrderBy]:
    order = (F("name"), F("login_id"), F("pk"))
    return [c.desc() if descending else c.asc() for c in order]


def order_by_unique(field_name: str) -> Callable[[bool], list[OrderBy]]:
    """A unique key within the office: the primary key settles the rest."""

    def order(descending: bool) -> list[OrderBy]:
        column = F(field_name)
        return [column.desc() if descending else column.asc(), F("pk").asc()]

    return order


def order_by_value(field_name: str, *, nullable: bool = True) -> Callable[[bool], list[OrderBy]]:
    """A value many accounts share, then the default order. NULLs
    (unlimited quota: no share; no access yet) count as the smallest value
    on SQLite and PostgreSQL alike; a column that is never NULL gets no
    NULLS clause, which would keep the database from using its index for
    the order."""

    def order(descending: bool) -> list[OrderBy]:
        column = F(field_name)
        if not nullable:
            primary = column.desc() if descending else column.asc()
        else:
            primary = column.desc(nulls_last=True) if descending else column.asc(nulls_first=True)
        return [primary, *_TIE_BREAK]

    return order


@dataclass(frozen=True)
class Sort:
    """One sort a column's header offers (``?sort=key`` / ``-key``)."""

    key: str
    label: str | Promise
    order: Callable[[bool], list[OrderBy]]
    # The direction a header offers first: names A→Z, numbers and dates
    # largest / most recent first (what an admin looks for).
    first_descending: bool = False
    # A second sort in the same header is set apart by this class.
    wrapper_class: str = ""


# --- Export ----------------------------------------------------------------


@dataclass
class ExportContext:
    """What every export cell may need, computed once per file (and the
    sub-account addresses once per chunk of rows)."""

    zone: zoneinfo.ZoneInfo
    window_start: dt.datetime
    kinds: dict[str, str]
    statuses: dict[str, str]
    on: str
    off: str
    flags: dict[str, str] = field(default_factory=dict)
    addresses: dict[int, list[str]] = field(default_factory=dict)

    def recent(self, moment: dt.datetime | None) -> bool:
        return recent_access(moment, self.window_start) is not None


@dataclass(frozen=True)
class ExportCell:
    """One spreadsheet column: its header, its value for a row (a named
    tuple of the fields the column lists), number format and width."""

    header: str | Promise
    value: Callable[[Any, ExportContext], Any]
    width: float
    number_format: str | None = None


# --- Columns ---------------------------------------------------------------


@dataclass(frozen=True)
class Column:
    """One column of the usage list.

    ``label``: the header on screen (None: the column is not shown).
    ``cell``: its cell template in the Jinja2 directory; it sees
    ``account``, ``mailbox``, ``url`` (the account's page) and the page's
    ``text``, ``labels`` (the shown columns' headers by name, for its
    ``data-label``), ``next_param``, ``zone``, ``protocols`` and
    ``number`` (how the page writes a size's number).
    ``header_class``: a class for its ``<th>``.
    ``sorts``: the sorts its header offers, the first one as its label.
    ``fields``: what the export reads from the database (``values_list``
    names) and its ``exports`` compute from.
    """

    name: str
    label: str | Promise | None = None
    cell: str | None = None
    header_class: str = ""
    sorts: tuple[Sort, ...] = ()
    fields: tuple[str, ...] = ()
    exports: tuple[ExportCell, ...] = ()

    @property
    def shown(self) -> bool:
        return self.label is not None


def _local_naive(moment: dt.datetime, zone: zoneinfo.ZoneInfo) -> dt.datetime:
    # Excel has no time zones: office-local wall time, as the screen shows.
    return moment.astimezone(zone).replace(tzinfo=None)


USAGE_COLUMNS: tuple[Column, ...] = (
    # The bulk bar's checkboxes (form="bulk-form": the table is not inside
    # that form, so the filters' form and the rows stay separate).
    Column(
        "select",
        label=_("Select"),
        cell="accounts/usage_cells/select.html",
        header_class="usage-table__select",
    ),
    Column(
        "name",
        label=_("Name"),
        cell="accounts/usage_cells/name.html",
        sorts=(Sort("name", _("Name"), order_by_name),),
        fields=("name",),
        exports=(ExportCell(_("Name"), lambda row, ctx: row.name, 16),),
    ),
    Column(
        "login_id",
        label=_("ID"),
        cell="accounts/usage_cells/login_id.html",
        sorts=(Sort("login_id", _("ID"), order_by_unique("login_id")),),
        fields=("login_id",),
        exports=(ExportCell(_("ID"), lambda row, ctx: row.login_id, 22),),
    ),
    Column(
        "email",
        label=_("Email"),
        cell="accounts/usage_cells/email.html",
        fields=("email",),
        exports=(
            ExportCell(_("Email"), lambda row, ctx: row.email, 32),
            ExportCell(
                _("Sub-accounts"), lambda row, ctx: ", ".join(ctx.addresses.get(row.pk, [])), 40
            ),
        ),
    ),
    Column(
        "subaccount_settings",
        label=_("Sub-account settings"),
        cell="accounts/usage_cells/subaccount_settings.html",
    ),
    Column(
        "kind",  # on screen: a badge in the name cell
        fields=("kind",),
        exports=(ExportCell(_("Kind"), lambda row, ctx: ctx.kinds.get(row.kind, row.kind), 12),),
    ),
    Column(
        "usage",
        label=_("Usage"),
        cell="accounts/usage_cells/usage.html",
        header_class="usage-table__usage",
        sorts=(
            Sort(
                "usage",
                _("Usage"),
                order_by_value("mailbox__used_bytes", nullable=False),
                first_descending=True,
            ),
            Sort(
                "share",
                _("Usage share"),
                order_by_value("mailbox__usage_share"),
                first_descending=True,
                wrapper_class="usage-table__share-sort",
            ),
        ),
        fields=("mailbox__used_bytes", "mailbox__quota_bytes", "mailbox__usage_share"),
        exports=(
            ExportCell(_("Usage (bytes)"), lambda row, ctx: row.mailbox__used_bytes, 16, "#,##0"),
            ExportCell(_("Usage"), lambda row, ctx: human_bytes(row.mailbox__used_bytes), 12),
            ExportCell(_("Quota (bytes)"), lambda row, ctx: row.mailbox__quota_bytes, 16, "#,##0"),
            ExportCell(_("Quota"), lambda row, ctx: human_quota(row.mailbox__quota_bytes), 12),
            ExportCell(
                _("Usage share"),
                # Stored in hundredths of a percent; Excel wants a fraction.
                lambda row, ctx: (
                    None if row.mailbox__usage_share is None else row.mailbox__usage_share / 10000
                ),
                10,
                "0.00%",
            ),
        ),
    ),
    Column("empty", label=_("Empty"), cell="accounts/usage_cells/empty.html"),
    Column(
        "protocols",
        label="POP3/SMTP",
        cell="accounts/usage_cells/protocols.html",
        fields=("mailbox__pop3_enabled", "mailbox__smtp_enabled"),
        exports=(
            ExportCell(
                "POP3", lambda row, ctx: ctx.on if row.mailbox__pop3_enabled else ctx.off, 10
            ),
            ExportCell(
                "SMTP", lambda row, ctx: ctx.on if row.mailbox__smtp_enabled else ctx.off, 10
            ),
        ),
    ),
    Column(
        "status",
        label=_("Status"),
        cell="accounts/usage_cells/status.html",
        fields=("status",),
        exports=(
            ExportCell(_("Status"), lambda row, ctx: ctx.statuses.get(row.status, row.status), 10),
        ),
    ),
    Column(
        "last_access",
        label=_("Last access"),
        cell="accounts/usage_cells/last_access.html",
        sorts=(
            Sort(
                "last_access",
                _("Last access"),
                order_by_value("mailbox__last_access_at"),
                first_descending=True,
            ),
        ),
        fields=(
            "mailbox__last_access_at",
            "mailbox__last_access_protocol",
            "mailbox__access_flag",
            "mailbox__access_flag_at",
        ),
        # Only access within the window counts, as on screen.
        exports=(
            ExportCell(
                _("Last access"),
                lambda row, ctx: (
                    _local_naive(row.mailbox__last_access_at, ctx.zone)
                    if ctx.recent(row.mailbox__last_access_at)
                    else None
                ),
                20,
                "yyyy-mm-dd hh:mm:ss",
            ),
            ExportCell(
                _("Last access type"),
                lambda row, ctx: (
                    row.mailbox__last_access_protocol.upper()
                    if ctx.recent(row.mailbox__last_access_at) and row.mailbox__last_access_protocol
                    else ""
                ),
                10,
            ),
            ExportCell(
                _("Flagged sign-in"),
                lambda row, ctx: (
                    ctx.flags.get(row.mailbox__access_flag, row.mailbox__access_flag)
                    if ctx.recent(row.mailbox__access_flag_at) and row.mailbox__access_flag
                    else ""
                ),
                16,
            ),
            ExportCell(
                _("Flagged at"),
                lambda row, ctx: (
                    _local_naive(row.mailbox__access_flag_at, ctx.zone)
                    if ctx.recent(row.mailbox__access_flag_at)
                    else None
                ),
                20,
                "yyyy-mm-dd hh:mm:ss",
            ),
        ),
    ),
)


def usage_columns() -> tuple[Column, ...]:
    """The registry in effect (read at call time, so a test can extend it)."""
    return USAGE_COLUMNS


def shown_columns() -> list[Column]:
    return [column for column in usage_columns() if column.shown]


def sorts() -> dict[str, Sort]:
    """Every sort key the list accepts, by key."""
    return {sort.key: sort for column in usage_columns() for sort in column.sorts}


# --- Header ----------------------------------------------------------------


def usage_header(current_sort: str, params: QueryDict) -> list[dict[str, Any]]:
    """The header cells: each shown column's label, class, ``aria-sort``
    and sort links (what each link asks for next, and its URL: the list's
    query string with that sort, from the first page)."""
    header = []
    for column in shown_columns():
        links = []
        state = "none"
        for sort in column.sorts:
            if current_sort == sort.key:
                link_state, next_sort = "ascending", f"-{sort.key}"
            elif current_sort == f"-{sort.key}":
                link_state, next_sort = "descending", sort.key
            else:
                link_state = "none"
                next_sort = f"-{sort.key}" if sort.first_descending else sort.key
            if state == "none":
                state = link_state
            links.append(
                {
                    "key": sort.key,
                    "label": sort.label,
                    "aria_sort": link_state,
                    "next": next_sort,
                    "url": query_with(params, sort=next_sort, page=None),
                    "wrapper_class": sort.wrapper_class,
                }
            )
        header.append(
            {
                "name": column.name,
                "label": column.label,
                "class": column.header_class,
                "aria_sort": state,
                "links": links,
            }
        )
    return header


def render_usage_header(header: list[dict[str, Any]]) -> str:
    """The header's cells, as safe HTML (a Jinja2 template, as the rows:
    through Django templates the sort links cost more than ten rows)."""
    return render(HEADER_TEMPLATE, header=header)


# --- Rows ------------------------------------------------------------------


# Compiled row templates by (environment, cell templates, language, column
# labels), with the loader's up-to-date checks of the files they were
# stitched from.
_STITCHED: dict[tuple, tuple[Template, list[Callable[[], bool]]]] = {}

# A page-wide label printed in a cell: ``{{ text.empty }}``, ``{{ labels.usage }}``.
_PAGE_CONSTANT = re.compile(r"\{\{ (text|labels)\.(\w+) \}\}")


def _bake_constants(source: str, constants: dict[str, SimpleNamespace]) -> str:
    """Write the page's labels into the row source as text.

    They are the same on every row of a page in one language, yet printed
    ten to twenty times a row: looked up and escaped once per row, they
    were about a sixth of the rows' instructions. Escaped here once instead
    (a brace as an entity, so a translation can never open a Jinja2 tag);
    a name that is not a plain string stays an expression."""

    def literal(match: re.Match) -> str:
        value = getattr(constants[match[1]], match[2], None)
        if not isinstance(value, str):
            return match[0]
        return str(escape(value)).replace("{", "&#123;")

    return _PAGE_CONSTANT.sub(literal, source)


def _rows_template(
    cells: tuple[str, ...], text: SimpleNamespace, labels: SimpleNamespace
) -> Template:
    """The row loop with every shown column's cell template inlined and the
    page's labels written in, compiled once per set of columns and labels
    in each language (again when a file changed, where the environment
    reloads templates: in development)."""
    env = jinja_env()
    key = (env, cells, get_language(), tuple(vars(labels).items()))
    cached = _STITCHED.get(key)
    if cached and not (env.auto_reload and not all(check() for check in cached[1])):
        return cached[0]
    checks = []
    frame, _filename, uptodate = env.loader.get_source(env, ROWS_TEMPLATE)
    checks.append(uptodate)
    sources = []
    for name in cells:
        source, _filename, uptodate = env.loader.get_source(env, name)
        sources.append(source.rstrip("\n"))  # one row is one line
        checks.append(uptodate)
    stitched = _bake_constants(
        frame.replace(CELLS_MARKER, "".join(sources), 1),
        {"text": text, "labels": labels},
    )
    template = env.from_string(stitched)
    _STITCHED[key] = (template, [check for check in checks if check is not None])
    return template


def _row_text() -> SimpleNamespace:
    """The page's labels, translated once per page rather than per row.
    (A namespace, not a dict: Jinja2 reads ``text.sub`` as an attribute
    first, and a dict would make it fail over to a key lookup each time.)"""
    kinds = dict(Account.Kind.choices)
    return SimpleNamespace(
        kinds={key: str(label) for key, label in kinds.items()},
        statuses={key: str(label) for key, label in Account.Status.choices},
        select=gettext("Select"),
        sub=gettext("Sub"),
        sub_hidden=gettext("sub-account"),
        settings=gettext("Sub-account settings"),
        not_for={
            key: gettext("Not for %(kind)s") % {"kind": label} for key, label in kinds.items()
        },
        empty=gettext("Empty"),
        on=gettext("On"),
        off=gettext("Off"),
        no_access=gettext("No access in the last 3 months"),
        flags={key: str(label) for key, label in AccessFlag.choices},
    )


def _column_labels() -> SimpleNamespace:
    """Each shown column's header by column name, for the cells'
    ``data-label``: on a narrow screen a row is laid out as a card and the
    cells name themselves, since the header row is out of sight."""
    return SimpleNamespace(**{column.name: str(column.label) for column in shown_columns()})


# The page's labels and the columns' headers by (registry, language),
# with the registry they were read from.
_PAGE_TEXT: dict[
    tuple[int, str | None], tuple[tuple[Column, ...], SimpleNamespace, SimpleNamespace]
] = {}


def _page_text() -> tuple[SimpleNamespace, SimpleNamespace]:
    """:func:`_row_text` and :func:`_column_labels`, translated once per
    language rather than on every page (two dozen translations and three
    choice tables each time); again for another registry."""
    registry = usage_columns()
    key = (id(registry), get_language())
    cached = _PAGE_TEXT.get(key)
    if cached is None or cached[0] is not registry:
        cached = (registry, _row_text(), _column_labels())
        _PAGE_TEXT[key] = cached
    return cached[1], cached[2]


def render_usage_rows(request, office, rows: Sequence[Account]) -> str:
    """The table rows of the accounts on the page, as safe HTML."""
    text, labels = _page_text()
    template = _rows_template(tuple(column.cell for column in shown_columns()), text, labels)
    return render(
        template,
        rows=rows,
        base=reverse("mail_accounts", args=[office.domain]),
        next_param=quote(request.get_full_path(), safe="/"),  # as |urlencode
        text=text,
        labels=labels,
        zone=timezone.get_current_timezone(),
        protocols=dict(Mailbox.Protocol.choices),
        USER=Account.Kind.USER.value,
        ACTIVE=Account.Status.ACTIVE.value,
        can_write=can_write(request.user),
        number=page_number_format(),
    )


# --- Export ----------------------------------------------------------------


def export_columns() -> list[ExportCell]:
    return [cell for column in usage_columns() for cell in column.exports]


def export_fields() -> list[str]:
    """The ``values_list`` names the export reads (``pk`` first: the
    sub-account addresses are fetched by owner)."""
    names = ["pk"]
    for column in usage_columns():
        names += [name for name in column.fields if name not in names]
    return names
