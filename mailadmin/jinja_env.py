"""The Jinja2 environment for the hot row templates, and their rendering.

Rows of the usage list and of the pane's access history are rendered by
Jinja2 rather than by Django templates (so are the list's header, pager
and filter options): a Jinja2 template is compiled to a Python function,
so a hundred rows cost about what hand-written Python cost, while the
markup stays in template files. Autoescape is on.

Printed values are escaped with the standard library's ``html.escape``
(:func:`_escape`), which writes Django's entities. What MarkupSafe escapes
(a ``|e`` filter, the labels written into the rows) has a quote as
``&#34;`` / ``&#39;`` where Django writes ``&quot;`` / ``&#x27;``:
:func:`render` rewrites those two entities in the finished HTML, so the
rows read byte for byte like the Django templates around them. That
rewrite is exact: an escaped value can only contain ``&#34;`` where it had
a ``"`` (its own ``&`` became ``&amp;``), and the row templates themselves
never write either entity.
It is done once per page rather than per value because a Python
``finalize`` hook (Django's ``conditional_escape`` on every printed value)
tripled the rows' rendering time.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from html import escape as html_escape

from django.template import engines
from django.utils import timezone
from django.utils.safestring import SafeString, mark_safe
from jinja2 import Environment, Template
from jinja2.compiler import CodeGenerator

from accounts.formatting import human_bytes, human_quota
from mailadmin.querystring import path_segment


def _strftime(value, pattern: str) -> str:
    return value.strftime(pattern)


def _isoformat(value) -> str:
    return value.isoformat()


def _fixed(value, places: int) -> str:
    """``value`` with ``places`` decimals, rounded half up and never
    grouped: what Django's ``floatformat:"<places>u"`` prints (the report's
    chart coordinates), without its localisation machinery."""
    return str(Decimal(str(value)).quantize(Decimal(1).scaleb(-places), ROUND_HALF_UP))


def _escape(value) -> str:
    """What autoescape does to a printed value, without MarkupSafe's
    ``Markup`` wrapper: a page of rows prints about 1,500 values, and
    building a ``Markup`` object for each (a Python ``__new__``) was about
    a tenth of the rows' instructions. The output is joined into one string at once, so
    nothing downstream needs to know it is safe; the result is the same
    text (Django's entities for quotes, as :func:`render` writes them)."""
    if value.__class__ is str:
        return html_escape(value)
    if hasattr(value, "__html__"):
        return value.__html__()  # already safe markup: as it is
    return html_escape(str(value))


class _CodeGenerator(CodeGenerator):
    """Compiles each autoescaped ``{{ … }}`` to :func:`_escape` (reached as
    ``environment.escape_printed``: ``environment`` is a global of every
    compiled template) instead of MarkupSafe's ``escape``. Should a Jinja2 release change this hook,
    templates fall back to MarkupSafe's escaping: slower, the same text."""

    def _output_child_pre(self, node, frame, finalize) -> None:
        if frame.eval_ctx.autoescape and not frame.eval_ctx.volatile:
            self.write("environment.escape_printed(")
            if finalize.src is not None:
                self.write(finalize.src)
            return
        super()._output_child_pre(node, frame, finalize)


class _Environment(Environment):
    code_generator_class = _CodeGenerator
    escape_printed = staticmethod(_escape)


def environment(**options) -> Environment:
    """Filters, not globals, for what rows call often: a filter is called
    directly, a global function through the template context's dispatcher."""
    env = _Environment(**options)
    env.filters.update(
        fixed=_fixed,
        human_bytes=human_bytes,
        human_quota=human_quota,
        localtime=timezone.localtime,
        path_segment=path_segment,
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
