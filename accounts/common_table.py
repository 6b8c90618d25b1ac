"""A queryset that reads a common table expression (``WITH name AS …``),
and whose own statement can be compiled once.

Django's ORM has no CTEs. A statement that needs one table of results in
two places (a page's rows filtered by a search's matches, and the number
of those matches beside them) would otherwise run the search twice, or be
two statements. :func:`with_table` puts a materialized CTE in front of the
queryset's own SQL, which the ORM still compiles and turns into model
instances (``select_related`` and all); the queryset's ``RawSQL`` parts
refer to the table by name. Both databases materialize the table once
(PostgreSQL 12+ and SQLite 3.35+ read ``AS MATERIALIZED``).

A statement whose SQL and parameters are fixed by a few values (all but
the table's, which vary) is built and compiled once per process for each
``key``: building the queryset (its clones) and compiling it took about a
millisecond of a 10 ms page. Later executions reuse the SQL and what the
compiler worked out to turn rows into instances (its select list, the
models' column positions, the annotations' positions), which is all
Django's ModelIterable reads from it.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Hashable
from functools import cache
from threading import Lock

from django.db.models import Model, QuerySet
from django.db.models.sql import Query

# What a compiler keeps of a compiled SELECT for turning rows into instances.
_COMPILED_STATE = ("select", "klass_info", "annotation_col_map", "col_count", "has_extra_select")
_COMPILED_MAX = 512

_compiled: OrderedDict[Hashable, tuple] = OrderedDict()
_compiled_lock = Lock()


class _WithCompiler:
    """Mixed in front of the database's own SELECT compiler."""

    def as_sql(self, with_limits=True, with_col_aliases=False):
        compiled = self.query.compiled
        if compiled is None:
            sql, params = super().as_sql(with_limits, with_col_aliases)
            key = self.query.compiled_key
            if key is not None:
                state = tuple(getattr(self, name) for name in _COMPILED_STATE)
                with _compiled_lock:
                    _compiled[key] = (sql, tuple(params), state)
                    while len(_compiled) > _COMPILED_MAX:
                        _compiled.popitem(last=False)  # the oldest
        else:
            sql, params, state = compiled
            for name, value in zip(_COMPILED_STATE, state, strict=True):
                setattr(self, name, value)
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
    compiled_key: Hashable | None = None
    compiled: tuple | None = None  # the key's statement, when compiled before

    def get_compiler(self, using=None, connection=None, elide_empty=True):
        compiler = super().get_compiler(using, connection, elide_empty)
        if self.common_table is not None:
            compiler.__class__ = _compiler_class(compiler.__class__)
        return compiler


def with_table(
    rows: QuerySet | Callable[[], QuerySet],
    name: str,
    sql: str,
    params,
    *,
    key: Hashable | None = None,
    model: type[Model] | None = None,
) -> QuerySet:
    """``rows`` with ``WITH name AS MATERIALIZED (sql)`` in front of its
    statement. ``name`` is SQL written as it is: a plain identifier.

    With a ``key`` (which must tell apart everything the statement's SQL
    and parameters depend on, the table's aside), ``rows`` is a function
    building the queryset, of ``model``'s rows; it is called and compiled
    only the first time the key is met in this process."""
    if not name.isidentifier():
        raise ValueError(f"not a plain identifier: {name!r}")
    compiled = _compiled.get(key) if key is not None else None
    if key is None:
        queryset = rows.all()
    elif compiled is not None:
        # A stand-in (the statement is the key's): the plain manager, so
        # nothing a custom one adds (a prefetch) runs after it.
        queryset = model._base_manager.all()
    else:
        queryset = rows()
        if queryset.model is not model:
            raise ValueError(f"rows of {queryset.model.__name__}, not {model.__name__}")
        queryset = queryset.all()
    queryset.query.__class__ = _WithQuery
    queryset.query.common_table = (name, sql, tuple(params))
    queryset.query.compiled_key = key
    queryset.query.compiled = compiled
    return queryset
