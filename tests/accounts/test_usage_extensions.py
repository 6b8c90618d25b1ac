"""A filter or a column added in one place reaches every part of the list.

The filter is declared only in a test subclass of ``UsageFilterSet``, the
column only as one entry of the column registry; the rows, the counts, the
sort, the header and the Excel roster must all follow without another edit.
"""

from __future__ import annotations

import io
from html.parser import HTMLParser

import django_filters
import jinja2
import openpyxl
import pytest
from django.db import connection
from django.template import engines
from django.test.utils import CaptureQueriesContext

from accounts import columns, selectors
from accounts.models import Account, AuditEvent, Mailbox, MailListing
from tests.accounts.usage_data import add_subaccount, set_usage
from tests.factories import MB, make_account

pytestmark = pytest.mark.django_db

URL = "/gabiaedu.com/manage/mail/accounts/"
EXPORT_URL = "/gabiaedu.com/manage/mail/accounts/export.xlsx"


# -- the test-only filters: declared here and nowhere else -------------------


class ExtendedFilterSet(selectors.UsageFilterSet):
    # A mailbox field the read model does not carry: the count must fall
    # back to the rows' own query and still agree with them.
    quota = django_filters.ChoiceFilter(
        method="filter_quota", choices=[("unlimited", "Unlimited"), ("limited", "Limited")]
    )
    # A field the read model carries: the count stays on the narrow table.
    prefix = selectors.on_listing(
        django_filters.CharFilter(field_name="login_id", lookup_expr="istartswith")
    )

    def filter_quota(self, queryset, name, value):
        return queryset.filter(mailbox__quota_bytes__isnull=value == "unlimited")


@pytest.fixture
def extended_filters(monkeypatch):
    monkeypatch.setattr(selectors, "UsageFilterSet", ExtendedFilterSet)


# -- the test-only column: declared here and nowhere else --------------------

MESSAGES_CELL = '<td class="usage-table__messages num">{{ mailbox.message_count }}</td>'
MESSAGES = columns.Column(
    "messages",
    label="Messages",
    cell="tests/messages_cell.html",
    sorts=(
        columns.Sort(
            "messages",
            "Messages",
            columns.order_by_value("mailbox__message_count", nullable=False),
            first_descending=True,
        ),
    ),
    fields=("mailbox__message_count",),
    exports=(
        columns.ExportCell("Messages", lambda row, ctx: row.mailbox__message_count, 14, "#,##0"),
    ),
)


@pytest.fixture
def extra_column(monkeypatch):
    registry = list(columns.USAGE_COLUMNS)
    after_usage = [c.name for c in registry].index("usage") + 1
    registry.insert(after_usage, MESSAGES)
    monkeypatch.setattr(columns, "USAGE_COLUMNS", tuple(registry))
    env = engines["jinja2"].env
    monkeypatch.setattr(
        env,
        "loader",
        jinja2.ChoiceLoader([jinja2.DictLoader({MESSAGES.cell: MESSAGES_CELL}), env.loader]),
    )


# -- data ---------------------------------------------------------------------


@pytest.fixture
def people(org):
    add_subaccount(org.kim, "kim-sales")
    set_usage(org.kim, 300 * MB, message_count=30)
    set_usage(org.lee, 900 * MB, message_count=90)
    set_usage(org.shared, 2048 * MB, quota_bytes=None, message_count=7)
    set_usage(org.group, 5 * MB, quota_bytes=None, message_count=200)
    for n in range(25):
        account = make_account(org.office, f"user{n:02d}", f"사용자{n:02d}", password=None)
        set_usage(account, n * MB, message_count=n, quota_bytes=None if n % 5 == 0 else 100 * MB)
    return org


def list_all(client, params) -> tuple[list[str], int, int]:
    """Every ID the list shows over all its pages, its count and total."""
    found, page = [], 1
    while True:
        response = client.get(URL, {**params, "page": page, "per_page": 20})
        assert response.status_code == 200
        listing = response.context["listing"]
        found += [a.login_id for a in response.context["rows"]]
        if not response.context["page_obj"].has_next():
            return found, listing.filtered_count, listing.total
        page += 1


def exported(client, params) -> openpyxl.worksheet.worksheet.Worksheet:
    response = client.get(EXPORT_URL, params)
    assert response.status_code == 200
    return openpyxl.load_workbook(io.BytesIO(b"".join(response.streaming_content))).active


def expected_ids(**lookups) -> list[str]:
    accounts = Account.objects.filter(
        office__domain="gabiaedu.com", mailbox__isnull=False, **lookups
    )
    return [a.login_id for a in sorted(accounts, key=lambda a: (a.name, a.login_id, a.pk))]


# -- the filter -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "lookups"),
    [
        ({"quota": "unlimited"}, {"mailbox__quota_bytes__isnull": True}),
        ({"quota": "limited"}, {"mailbox__quota_bytes__isnull": False}),
        ({"prefix": "USER1"}, {"login_id__istartswith": "user1"}),
        (
            {"prefix": "user", "quota": "unlimited", "status": "active"},
            {"login_id__startswith": "user", "mailbox__quota_bytes__isnull": True},
        ),
        (
            {"q": "사용자0", "quota": "limited"},
            {"name__contains": "사용자0", "mailbox__quota_bytes__isnull": False},
        ),
        ({"quota": "bogus"}, {}),  # an invalid value is ignored, as for every filter
    ],
)
def test_an_added_filter_narrows_rows_count_and_export_alike(
    admin_client, people, extended_filters, params, lookups
):
    ids, count, total = list_all(admin_client, params)
    assert ids == expected_ids(**lookups)
    assert count == len(ids)
    assert total == Mailbox.objects.filter(office=people.office).count()
    sheet = exported(admin_client, params)
    assert [row[1] for row in sheet.iter_rows(min_row=2, values_only=True)] == ids
    event = AuditEvent.objects.filter(action=AuditEvent.Action.ROSTER_EXPORT).latest("pk")
    assert event.data["filters"] == {k: v for k, v in params.items() if v != "bogus"}


def test_an_added_filter_shows_the_filtered_count_and_total(admin_client, people, extended_filters):
    response = admin_client.get(URL, {"quota": "unlimited"})
    listing = response.context["listing"]
    assert listing.filterset.is_filtered
    assert listing.current["quota"] == "unlimited"
    assert listing.filtered_count == 7 < listing.total


def count_query(client, params) -> str:
    with CaptureQueriesContext(connection) as captured:
        client.get(URL, params)
    (sql,) = [q["sql"] for q in captured.captured_queries if "COUNT(*)" in q["sql"].upper()]
    return sql


def test_a_filter_the_read_model_carries_is_counted_there(admin_client, people, extended_filters):
    admin_client.get(URL)  # the session's own queries
    listing = MailListing._meta.db_table
    assert listing in count_query(admin_client, {"prefix": "user", "status": "active"})
    # A mailbox field the read model lacks: the rows' own query counts.
    sql = count_query(admin_client, {"prefix": "user", "quota": "limited"})
    # (The same statement also counts the office's listed accounts, the
    # total, on the read model: only the filtered count is looked at here.)
    filtered = sql.rsplit(f"(SELECT COUNT(*) FROM {listing} WHERE office_id", 1)[0]
    assert listing not in filtered and Mailbox._meta.db_table in filtered


def test_filters_that_claim_the_read_model_give_its_count(people):
    """Each filter marked as running on the read model selects the same
    accounts there as on the rows (its field has the same meaning)."""
    for params in (
        {"status": "suspended"},
        {"subaccounts": "used"},
        {"subaccounts": "unused"},
        {"q": "kim"},
        {"q": "사용자1"},
        {"prefix": "user2"},
    ):
        filterset = ExtendedFilterSet(
            params, queryset=selectors.mail_accounts(people.office), office=people.office
        )
        assert filterset.counts_on_listing
        on_rows = sorted(filterset.qs.values_list("pk", flat=True))
        on_listing = sorted(filterset.listing_matches().values_list("account_id", flat=True))
        assert on_rows == on_listing, params


# -- the column -----------------------------------------------------------------


def test_an_added_column_has_a_header_with_a_sort_link(admin_client, people, extra_column):
    body = admin_client.get(URL).content.decode()
    assert 'id="sort-messages"' in body and "Messages" in body
    assert 'href="?sort=-messages"' in body  # a count: largest first
    response = admin_client.get(URL, {"sort": "-messages"})
    assert (
        response.context["header"][
            [c["name"] for c in response.context["header"]].index("messages")
        ]["aria_sort"]
        == "descending"
    )


def test_an_added_column_has_its_cell_in_every_row(admin_client, people, extra_column):
    response = admin_client.get(URL, {"q": "minjun"})
    body = response.content.decode()
    assert '<td class="usage-table__messages num">30</td>' in body
    # It sits between the usage and the empty-mailbox cells.
    row = body[body.index('<tr data-login-id="minjun.kim"') :]
    row = row[: row.index("</tr>")]
    assert (
        row.index('class="usage-cell"') < row.index("usage-table__messages") < row.index("/empty/")
    )


# A label is written into the compiled rows as text: markup and template
# syntax in it (a careless translation) must come out as the same text.
ODD_LABEL = '<b>{{ 7 * 7 }}</b> & "{% if %}"'
ODD_CELL = '<td class="usage-table__odd" data-label="{{ labels.odd }}">{{ text.empty }}</td>'


class OddCells(HTMLParser):
    """The odd column's cells as the browser reads them: (data-label, text)."""

    def __init__(self, html: str):
        super().__init__(convert_charrefs=True)
        self.cells: list[list[str]] = []
        self._open = False
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag == "td" and attributes.get("class") == "usage-table__odd":
            self.cells.append([attributes.get("data-label"), ""])
            self._open = True

    def handle_endtag(self, tag):
        if tag == "td":
            self._open = False

    def handle_data(self, data):
        if self._open:
            self.cells[-1][1] += data


def test_a_label_is_text_in_every_row_whatever_it_holds(admin_client, people, monkeypatch):
    odd = columns.Column("odd", label=ODD_LABEL, cell="tests/odd_cell.html")
    monkeypatch.setattr(columns, "USAGE_COLUMNS", (*columns.USAGE_COLUMNS, odd))
    env = engines["jinja2"].env
    monkeypatch.setattr(
        env, "loader", jinja2.ChoiceLoader([jinja2.DictLoader({odd.cell: ODD_CELL}), env.loader])
    )
    body = admin_client.get(URL, {"per_page": 50}).content.decode()
    cells = OddCells(body).cells
    # Every row has the cell, its label the label's own text (nothing run)
    # and the page-wide text in the page's language.
    assert len(cells) == len(expected_ids())
    assert {(label, text) for label, text in cells} == {(ODD_LABEL, "비우기")}
    # Nowhere on the page did the label's template run, as markup or as
    # escaped text (a bare "49" can be part of the CSRF token).
    assert "49</b>" not in body and "49&lt;/b&gt;" not in body
    # Another label for the same cell: the rows follow it, not an earlier page's.
    relabeled = columns.Column("odd", label="Plain", cell=odd.cell)
    monkeypatch.setattr(columns, "USAGE_COLUMNS", (*columns.USAGE_COLUMNS[:-1], relabeled))
    body = admin_client.get(URL).content.decode()
    assert 'class="usage-table__odd" data-label="Plain"' in body


def test_an_empty_list_spans_every_column(admin_client, people, extra_column):
    body = admin_client.get(URL, {"q": "없는사람"}).content.decode()
    # ten registry columns (the bulk checkboxes among them) and the extra one
    assert 'colspan="11"' in body


@pytest.mark.parametrize("sort", ["messages", "-messages"])
def test_an_added_column_sorts_the_list_and_the_export(admin_client, people, extra_column, sort):
    ids, _count, _total = list_all(admin_client, {"sort": sort})
    accounts = Account.objects.filter(office=people.office, mailbox__isnull=False).select_related(
        "mailbox"
    )
    by_name = sorted(accounts, key=lambda a: (a.name, a.login_id, a.pk))
    order = sorted(by_name, key=lambda a: a.mailbox.message_count, reverse=sort.startswith("-"))
    assert ids == [a.login_id for a in order]
    sheet = exported(admin_client, {"sort": sort})
    assert [row[1] for row in sheet.iter_rows(min_row=2, values_only=True)] == ids


def test_an_added_column_is_in_the_export_with_its_format_and_width(
    admin_client, people, extra_column
):
    sheet = exported(admin_client, {"q": "minjun"})
    header = [cell.value for cell in sheet[1]]
    at = header.index("Messages")
    assert header[at - 1] == "사용률" and header[at + 1] == "POP3"
    row = sheet[2]
    assert row[at].value == 30 and row[at].number_format == "#,##0"
    assert sheet.column_dimensions[openpyxl.utils.get_column_letter(at + 1)].width == 14
    # The formats of the columns after it moved with them.
    assert row[at - 1].number_format == "0.00%"
    assert row[header.index("마지막 접속")].number_format == "yyyy-mm-dd hh:mm:ss"
