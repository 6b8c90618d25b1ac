"""HTML inspection shared by the hardening tests: forms of a page, and what
the Content Security Policy would refuse (inline script, inline style,
event-handler attributes, javascript: URLs, hx-on)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html.parser import HTMLParser

HANDLER_ATTRIBUTE = re.compile(r"^on[a-z]+$")


@dataclass
class Form:
    method: str
    action: str | None
    fields: dict[str, list[str]] = field(default_factory=dict)
    selects: dict[str, list[str]] = field(default_factory=dict)


class PageParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.forms: list[Form] = []
        self.links: list[str] = []
        self.hx_posts: list[str] = []
        self.csp_problems: list[str] = []
        self._form: Form | None = None
        self._by_id: dict[str, Form] = {}
        self._select: tuple[Form, str] | None = None
        self._in_inline_script = False

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        for name, value in attrs:
            if name == "style":
                self.csp_problems.append(f"<{tag} style={value!r}>")
            if HANDLER_ATTRIBUTE.match(name) or name.startswith(("hx-on", "data-hx-on")):
                self.csp_problems.append(f"<{tag} {name}={value!r}>")
            if (
                name in {"href", "src", "action", "formaction"}
                and value
                and value.strip().lower().startswith("javascript:")
            ):
                self.csp_problems.append(f"<{tag} {name}={value!r}>")
        if attributes.get("href"):
            self.links.append(attributes["href"])
        if attributes.get("hx-get"):
            self.links.append(attributes["hx-get"])
        if attributes.get("hx-post"):
            self.hx_posts.append(attributes["hx-post"])
        if tag == "script":
            if not attributes.get("src"):
                self._in_inline_script = True
                self.csp_problems.append("inline <script>")
        elif tag == "style":
            self.csp_problems.append("inline <style>")
        elif tag == "form":
            form = self._by_id.get(attributes.get("id") or "") or Form(method="get", action=None)
            form.method = (attributes.get("method") or "get").lower()
            form.action = attributes.get("action")
            if attributes.get("id"):
                self._by_id[attributes["id"]] = form
            self.forms.append(form)
            self._form = form
        elif tag in {"input", "textarea", "button", "select"}:
            # A control belongs to its enclosing form or to the one its
            # form="…" attribute names, wherever that stands in the page.
            owner = self._form
            if attributes.get("form"):
                owner = self._by_id.setdefault(attributes["form"], Form(method="get", action=None))
            name = attributes.get("name")
            if owner is not None and name:
                if tag == "select":
                    self._select = (owner, name)
                    owner.fields.setdefault(name, [])
                    owner.selects.setdefault(name, [])
                else:
                    owner.fields.setdefault(name, []).append(attributes.get("value") or "")
        elif tag == "option" and self._select:
            owner, name = self._select
            owner.selects[name].append(attributes.get("value") or "")

    def handle_endtag(self, tag):
        if tag == "form":
            self._form = None
        elif tag == "select":
            self._select = None
        elif tag == "script":
            self._in_inline_script = False


def parse(html: str) -> PageParser:
    parser = PageParser()
    parser.feed(html)
    parser.close()
    return parser


def csp_problems(html: str) -> list[str]:
    return parse(html).csp_problems


def forms(html: str) -> list[Form]:
    return parse(html).forms
