from django import template

from accounts.formatting import human_bytes as _human_bytes
from accounts.formatting import human_quota as _human_quota
from mailadmin.querystring import query_with

register = template.Library()


@register.filter
def human_bytes(value):
    return _human_bytes(value)


@register.filter
def human_quota(value):
    return _human_quota(value)


@register.simple_tag(takes_context=True)
def query_replace(context, **changes):
    """The current query string with some parameters replaced (None drops one);
    links built with it keep the filters, search, sort and page size."""
    return query_with(context["request"].GET, **changes)
