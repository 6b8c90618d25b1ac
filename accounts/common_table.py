"""A queryset that reads a common table expression (``WITH name AS …``).

Django's ORM has no CTEs. A statement that needs one table of results in
two places (a page's rows filtered by a search's matches, and the number
of those matches beside them) would otherwise run the search twice, or be
two statements. :func:`with_table` puts a materialized CTE in front of the
queryset's own SQL, which the ORM still compiles and turns into model
instances (``select_related`` and all); the queryset's ``RawSQL`` parts
refer to the table by name.

Both databases materialize the table once (PostgreSQL 12+ and SQLite
3.35+ read ``AS MATERIALIZED``).
"""

from __future__ import annotations

from functools import cache

from django.db.models import QuerySet
from django.db.models.sql import Query


class _WithCompiler:
    """Mixed in front of the database's own SELECT compiler."""

    def as_sql(self, *args, **kwargs):
        sql, params = super().as_sql(*args, **kwargs)
        name, table_sql, table_params = self.query.common_table
        return (
            f"WITH {name} AS MATERIALIZED ({table_sql}) {sql}",
            (*table_params, *params),
        )


@cache
def _compiler_class(base: type) -> type:
    return type(f"With{base.__name__}", (_WithCompiler, base), {})


class _WithQuery(Query):
    # Kept by clones (a slice, a further filter): Query.clone copies the
    # instance's class and attributes.
    common_table: tuple[str, str, tuple] | None = None

    def get_compiler(self, using=None, connection=None, elide_empty=True):
        compiler = super().get_compiler(using, connection, elide_empty)
        if self.common_table is not None:
            compiler.__class__ = _compiler_class(compiler.__class__)
        return compiler


def with_table(queryset: QuerySet, name: str, sql: str, params) -> QuerySet:
    """``queryset`` with ``WITH name AS MATERIALIZED (sql)`` in front of its
    statement. ``name`` is SQL written as it is: a plain identifier."""
    if not name.isidentifier():
        raise ValueError(f"not a plain identifier: {name!r}")
    queryset = queryset.all()
    queryset.query.__class__ = _WithQuery
    queryset.query.common_table = (name, sql, tuple(params))
    return queryset
