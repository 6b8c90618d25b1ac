"""Byte sizes in human units, 1024-based, as mail clients and the original
screen show them."""

from django.utils.formats import number_format
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
