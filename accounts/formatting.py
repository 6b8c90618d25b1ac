"""Byte sizes in human units, 1024-based, as mail clients and the original
screen show them; choice labels for pages of rows."""

import functools

from django.utils.formats import number_format
from django.utils.translation import get_language
from django.utils.translation import gettext as _

UNITS = ("B", "KB", "MB", "GB", "TB", "PB")


def human_bytes(value: int | None) -> str:
    if value is None:
        return ""
    size = float(value)
    for unit in UNITS:
        if abs(size) < 1024 or unit == UNITS[-1]:
            if unit == "B":
                return f"{int(size)} B"
            digits = 0 if size >= 100 else 1
            return f"{number_format(round(size, digits), digits)} {unit}"
        size /= 1024
    raise AssertionError("unreachable")


def human_quota(value: int | None) -> str:
    return _("Unlimited") if value is None else human_bytes(value)


def choice_label(choices, value: str) -> str:
    """The label of a ``TextChoices`` value in the active language, from a
    per-language table. (A model's ``get_FOO_display`` hashes every lazy
    label of the field's choices on each call, which adds up over a page.)"""
    return _choice_labels(choices, get_language()).get(value, value)


@functools.lru_cache(maxsize=64)
def _choice_labels(choices, language: str | None) -> dict[str, str]:
    return {value: str(label) for value, label in choices.choices}
