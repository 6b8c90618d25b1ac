from functools import lru_cache

from django import template
from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.template.loader import render_to_string
from django.templatetags.static import static
from django.urls import get_script_prefix, get_urlconf
from django.utils.safestring import mark_safe
from django.utils.translation import get_language

from accounts.formatting import human_bytes as _human_bytes
from accounts.formatting import human_quota as _human_quota
from mailadmin.querystring import query_with

register = template.Library()


@register.simple_tag
def asset(path: str) -> str:
    """A static file's URL, as ``{% static %}`` writes it, worked out once
    per process: the files' URLs only change with a deployment (a new
    ``collectstatic`` and a restart), and looking one up in the manifest
    was tens of microseconds, a dozen times a page."""
    return _asset_url(path)


@lru_cache(maxsize=512)
def _asset_url(path: str) -> str:
    return static(path)


@receiver(setting_changed)
def _forget_asset_urls(*, setting, **kwargs):
    if setting in {"STATIC_URL", "STORAGES", "STATIC_ROOT"}:
        _asset_url.cache_clear()


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


@register.simple_tag(takes_context=True)
def console_nav(context):
    """The management menu of the page's office, ``nav`` marked. Its nine
    links and dozen labels cost half a millisecond a page through the
    template engine (every URL reversed, every label translated), yet they
    are a function of the office's domain, the page and the language: it
    is rendered once per such key (and URL configuration) in each process."""
    office = context["office"]
    return _console_nav(
        get_urlconf() or settings.ROOT_URLCONF,
        get_script_prefix(),
        office.domain,
        context.get("nav") or "",
        get_language(),
    )


@lru_cache(maxsize=2048)
def _console_nav(urlconf, script_prefix, domain: str, nav: str, language: str):
    # The arguments not read here are the key: the links depend on them.
    html = render_to_string("manage/_sidenav.html", {"domain": domain, "nav": nav})
    return mark_safe(html.strip())  # noqa: S308 -- a template's autoescaped output
