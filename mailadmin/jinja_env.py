"""The Jinja2 environment for the hot row templates.

Rows of the usage list and of the pane's access history are rendered by
Jinja2 rather than by Django templates: a Jinja2 template is compiled to a
Python function, so a hundred rows cost about what hand-written Python
cost, while the markup stays in template files.

Output is escaped the way Django escapes (``&quot;``, ``&#x27;``), not the
way MarkupSafe does (``&#34;``, ``&#39;``): ``finalize`` hands every
printed value through Django's ``conditional_escape`` first, so the rows
read byte for byte like the Django templates around them. Values already
marked safe pass unchanged.
"""

from __future__ import annotations

from django.utils.html import conditional_escape

from jinja2 import Environment


def environment(**options) -> Environment:
    options.setdefault("finalize", conditional_escape)
    return Environment(**options)
