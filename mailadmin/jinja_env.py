"""The Jinja2 environment for the hot row templates, and their rendering.

Rows of the usage list and of the pane's access history are rendered by
Jinja2 rather than by Django templates: a Jinja2 template is compiled to a
Python function, so a hundred rows cost about what hand-written Python
cost, while the markup stays in template files. Autoescape is on.

Jinja2 escapes with MarkupSafe, which writes a quote as ``&#34;`` / ``&#39;``
where Django writes ``&quot;`` / ``&#x27;``. :func:`render` rewrites those
two entities in the finished HTML, so the rows read byte for byte like the
Django templates around them. That rewrite is exact: an escaped value can
only contain ``&#34;`` where it had a ``"`` (its own ``&`` became
``&amp;``), and the row templates themselves never write either entity.
It is done once per page rather than per value because a Python
``finalize`` hook (Django's ``conditional_escape`` on every printed value)
tripled the rows' rendering time.
"""

from __future__ import annotations

from urllib.parse import quote

from django.template import engines
from django.utils import timezone
from django.utils.safestring import SafeString, mark_safe
from jinja2 import Environment, Template

from accounts.formatting import human_bytes, human_quota

# What reverse() leaves unquoted in a path segment, so a link built with
# |path_segment equals the one {% url %} builds.
_PATH_SAFE = "!$&'()*+,;=/~:@"


def _path_segment(value: str) -> str:
    return quote(value, safe=_PATH_SAFE)


def _strftime(value, pattern: str) -> str:
    return value.strftime(pattern)


def _isoformat(value) -> str:
    return value.isoformat()


def environment(**options) -> Environment:
    """Filters, not globals, for what rows call often: a filter is called
    directly, a global function through the template context's dispatcher."""
    env = Environment(**options)
    env.filters.update(
        human_bytes=human_bytes,
        human_quota=human_quota,
        localtime=timezone.localtime,
        path_segment=_path_segment,
        strftime=_strftime,
        isoformat=_isoformat,
    )
    return env


def jinja_env() -> Environment:
    return engines["jinja2"].env


def render(template: str | Template, **context) -> SafeString:
    """Render a row template to HTML escaped exactly as Django escapes."""
    if isinstance(template, str):
        template = jinja_env().get_template(template)
    html = template.render(context).replace("&#34;", "&quot;").replace("&#39;", "&#x27;")
    return mark_safe(html)  # noqa: S308 -- autoescaped by Jinja2
