"""The list's links keep its query string: ``query_with`` must encode
exactly as Django's ``QueryDict.urlencode`` would, which it replaces for
speed (no deep copy per link)."""

from __future__ import annotations

import pytest
from django.http import QueryDict

from mailadmin.querystring import query_with


def django_way(params: QueryDict, **changes) -> str:
    query = params.copy()
    for key, value in changes.items():
        if value is None or value == "":
            query.pop(key, None)
        else:
            query[key] = value
    encoded = query.urlencode()
    return f"?{encoded}" if encoded else "?"


@pytest.mark.parametrize(
    "query",
    [
        "",
        "page=2",
        "q=%EA%B9%80+%EB%AF%BC&sort=-usage&page=3",
        "ids=a&ids=b&page=&q=a%26b%3D%2F~%2B",
        "q=%20%25%23",
    ],
)
@pytest.mark.parametrize(
    "changes",
    [
        {"page": None},
        {"page": 5},
        {"sort": "-last_access", "page": None},
        {"q": ""},
        {"new": "ü /~"},
    ],
)
def test_links_encode_as_django_does(query, changes):
    params = QueryDict(query)
    assert query_with(params, **changes) == django_way(params, **changes)


def test_a_replaced_parameter_keeps_its_place_and_the_rest_stay():
    params = QueryDict("q=kim&page=4&per_page=50")
    assert query_with(params, page=5) == "?q=kim&page=5&per_page=50"
    assert query_with(params, page=None) == "?q=kim&per_page=50"
    assert query_with(QueryDict(""), page=None) == "?"
