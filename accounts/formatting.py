"""Byte sizes in human units, 1024-based, as mail clients and the original
screen show them; choice labels for pages of rows."""

import functools
from collections.abc import Callable

from django.conf import settings
from django.utils.formats import get_format, number_format
from django.utils.translation import get_language
from django.utils.translation import gettext as _

UNITS = ("B", "KB", "MB", "GB", "TB", "PB")

# How a size's number is written: ``(value, decimal places) -> text``.
NumberFormat = Callable[[float, int], str]


def page_number_format() -> NumberFormat:
    """:func:`django.utils.formats.number_format` for one page in the active
    language, with the language's separator looked up once.

    A page of the usage list writes two sizes a row; ``number_format`` looks
    the language and three formats up again for each, which was most of a
    size's cost. Without thousand separators (the project's setting) it
    writes the rounded number's decimals with the language's separator,
    which is what this does; with them on, it is ``number_format`` itself."""
    if settings.USE_THOUSAND_SEPARATOR:
        return number_format
    separator = get_format("DECIMAL_SEPARATOR")

    def written(value: float, digits: int) -> str:
        text = f"{value:.{digits}f}"
        return text.replace(".", separator) if digits and separator != "." else text

    return written


def human_bytes(value: int | None, number: NumberFormat = number_format) -> str:
    if value is None:
        return ""
    size = float(value)
    for unit in UNITS:
        if abs(size) < 1024 or unit == UNITS[-1]:
            if unit == "B":
                return f"{int(size)} B"
            digits = 0 if size >= 100 else 1
            return f"{number(round(size, digits), digits)} {unit}"
        size /= 1024
    raise AssertionError("unreachable")


def human_quota(value: int | None, number: NumberFormat = number_format) -> str:
    return _("Unlimited") if value is None else human_bytes(value, number)


def choice_label(choices, value: str) -> str:
    """The label of a ``TextChoices`` value in the active language, from a
    per-language table. (A model's ``get_FOO_display`` hashes every lazy
    label of the field's choices on each call, which adds up over a page.)"""
    return _choice_labels(choices, get_language()).get(value, value)


@functools.lru_cache(maxsize=64)
def _choice_labels(choices, language: str | None) -> dict[str, str]:
    return {value: str(label) for value, label in choices.choices}
