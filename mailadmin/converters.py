"""Path converters: what a URL segment may hold before any view runs.

A segment that can never name a row -- one holding NUL or another control
character -- is turned away by the resolver with 404, so it never reaches a
query (PostgreSQL refuses NUL in text outright and the driver raises, which
would be a 500; SQLite merely finds nothing). Every route with a parameter
uses one of these or Django's ``uuid``/``int``; a test keeps it that way.
"""

from __future__ import annotations


class DomainConverter:
    """A mail domain: at least one dot, so it never shadows /static/ or /i18n/."""

    regex = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?)+"

    def to_python(self, value: str) -> str:
        return value.lower()

    def to_url(self, value: str) -> str:
        return value


class SegmentConverter:
    """One path segment of printable text (an account ID, a sub-account's
    local part): Django's ``str`` without the C0/C1 control characters,
    DEL and the Unicode line and paragraph separators."""

    regex = r"[^/\x00-\x1f\x7f-\x9f\u2028\u2029]+"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


SAFE_CONVERTERS = frozenset({"domain", "segment", "uuid", "int", "slug"})
