"""Pages whose cost does not grow with the page number.

A page's rows are read in two steps inside one statement: the rows skipped
before the page are walked as keys only (with an index holding the order
and the filters, an index-only walk), and just the page's keys are then read
whole. A page past the middle is read from the end in the reverse order, so
no page walks more than half of the list. Page numbers, ``page=`` URLs and
the last page work as with Django's paginator; the count is one query and
the page another, whatever the page, but for the first page, whose rows
carry the count in their own statement.
"""

from __future__ import annotations

from django.core.paginator import EmptyPage, Page, PageNotAnInteger, Paginator
from django.db import connection
from django.db.models import QuerySet
from django.db.models.expressions import RawSQL


class CountedPaginator(Paginator):
    """A paginator told its count: the screen counts once, its own way."""

    def __init__(self, count: int, per_page: int):
        super().__init__([], per_page)
        self._known_count = count

    @property
    def count(self) -> int:
        return self._known_count


def page_number(paginator: Paginator, raw) -> int:
    """The page asked for, or the first (not a number) or last (too far)."""
    try:
        return paginator.validate_number(raw)
    except PageNotAnInteger:
        return 1
    except EmptyPage:
        return paginator.num_pages


def asks_first_page(raw_number, per_page: int) -> bool:
    """Whether the page asked for is the first whatever the count: none or
    not a number (the first), or 1. (0 and less mean the last.)"""
    return page_number(CountedPaginator(2**62, per_page), raw_number) == 1


def keyed_page(
    queryset: QuerySet,
    raw_number,
    per_page: int,
    count: int | None = None,
    *,
    count_sql: tuple[str, list] | None = None,
) -> Page:
    """One page of an ordered ``queryset`` in two queries (its count, then
    the page's rows). A ``count`` the caller knows, or SQL that reads one
    the database keeps (``count_sql``), replaces counting the rows. The
    first page reads its count in the statement of its rows (an
    uncorrelated subquery, run once): one query."""
    if count is None and asks_first_page(raw_number, per_page):
        if count_sql is None:
            matches, matches_params = queryset.order_by().values("pk").query.sql_with_params()
            sql, params = f"SELECT COUNT(*) FROM ({matches}) counted", list(matches_params)
        else:
            sql, params = count_sql
        page_rows = _rows_by_keys(queryset, queryset.values("pk")[:per_page])
        rows = list(page_rows.annotate(counted_rows=RawSQL(sql, params)))
        if rows:
            count = int(rows[0].counted_rows)
            return Page(rows, 1, Paginator(range(count), per_page))
    if count is None and count_sql is not None:
        with connection.cursor() as cursor:
            cursor.execute(*count_sql)
            count = int(cursor.fetchone()[0])
    if count is None:
        count = queryset.count()
    paginator = Paginator(range(count), per_page)  # told the count, never asks
    number = page_number(paginator, raw_number)
    offset = (number - 1) * per_page
    on_page = max(0, min(per_page, count - offset))
    rows = []
    if on_page:
        keys = queryset.values("pk")
        if offset * 2 > count:
            from_end = count - offset - on_page
            keys = keys.reverse()[from_end : from_end + on_page]
        else:
            keys = keys[offset : offset + on_page]
        rows = list(_rows_by_keys(queryset, keys))
    return Page(rows, number, paginator)


def _rows_by_keys(queryset: QuerySet, keys: QuerySet) -> QuerySet:
    """The page's rows by their keys alone, in the queryset's order, with
    its related rows and columns: the filters were applied to the keys,
    and re-applying them to 50 rows could only mislead the planner."""
    rows = queryset.model._default_manager.filter(pk__in=keys).order_by(*queryset.query.order_by)
    rows.query.select_related = queryset.query.select_related
    rows.query.deferred_loading = queryset.query.deferred_loading
    return rows
