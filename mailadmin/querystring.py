"""Links that keep the list's query string: filters, search, sort and page
size, with some parameters replaced; and links to a row's own page."""

from __future__ import annotations

from urllib.parse import quote, urlencode

from django.http import QueryDict


def query_with(params: QueryDict, **changes) -> str:
    """``params`` as a query string (``?…``) with ``changes`` applied: a
    value replaces the parameter (where it was), None or "" drops it.

    Encoded as ``QueryDict.urlencode`` does, without its deep copy of the
    parameters: a page of the list builds a link per sort and per page."""
    query = dict(params.lists())
    for key, value in changes.items():
        if value is None or value == "":
            query.pop(key, None)
        else:
            query[key] = [value]
    encoded = urlencode(query, doseq=True)
    return f"?{encoded}" if encoded else "?"


# What reverse() leaves unquoted in a path segment, so a link built with
# path_segment equals the one {% url %} builds.
_PATH_SAFE = "!$&'()*+,;=/~:@"


def path_segment(value: str) -> str:
    """``value`` quoted as ``reverse()`` quotes a ``<segment:…>`` argument:
    a page of rows links each row as its list's URL plus this, instead of
    resolving the same route once per row."""
    return quote(value, safe=_PATH_SAFE)
