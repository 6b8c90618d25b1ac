"""Quotas as an admin types them: ``2 GB``, ``500MB``, ``1.5 TB``,
``무제한`` / ``unlimited``; the same 1024-based units the screens show, so a
value copied from the list or the roster reads back as what it said."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

UNIT_BYTES = {
    "B": 1,
    "KB": 1024,
    "K": 1024,
    "MB": 1024**2,
    "M": 1024**2,
    "GB": 1024**3,
    "G": 1024**3,
    "TB": 1024**4,
    "T": 1024**4,
}
# No mailbox needs more; a larger number is a typo (or an attempt to
# overflow the column).
MAX_QUOTA_BYTES = 1024**5

UNLIMITED_WORDS = {"unlimited", "무제한", "none", "∞"}

_QUOTA_RE = re.compile(r"(\d+(?:\.\d+)?)\s*([A-Za-z]*)", re.ASCII)
_GROUPED_RE = re.compile(r"\d{1,3}(?:,\d{3})+(?:\.\d+)?", re.ASCII)

QUOTA_HELP = gettext_lazy("A size such as 2 GB or 500 MB, or “unlimited”.")


def is_unlimited(text: str) -> bool:
    word = text.strip().lower()
    return word in UNLIMITED_WORDS or word == _("Unlimited").lower()


def parse_quota(text: str) -> int | None:
    """Bytes for ``text``, ``None`` for unlimited; raises
    ``ValidationError`` saying what is wrong. Empty text is an error here:
    callers decide what an empty cell means."""
    value = text.strip()
    if not value:
        raise ValidationError(_("Enter a quota."), code="quota_empty")
    if is_unlimited(value):
        return None
    number_part = re.match(r"[\d.,]+", value)
    if number_part and _GROUPED_RE.fullmatch(number_part.group()):
        value = number_part.group().replace(",", "") + value[number_part.end() :]
    match = _QUOTA_RE.fullmatch(value)
    if not match:
        raise ValidationError(
            _("“%(text)s” is not a quota: write a size such as 2 GB or 500 MB, or “unlimited”."),
            code="quota_invalid",
            params={"text": text.strip()[:40]},
        )
    unit = match.group(2).upper()
    if not unit:
        raise ValidationError(
            _("Add a unit to “%(text)s”: KB, MB, GB or TB."),
            code="quota_unit_missing",
            params={"text": text.strip()[:40]},
        )
    if unit not in UNIT_BYTES:
        raise ValidationError(
            _("“%(unit)s” is not a size unit: use KB, MB, GB or TB."),
            code="quota_unit",
            params={"unit": match.group(2)[:10]},
        )
    try:
        amount = Decimal(match.group(1)) * UNIT_BYTES[unit]
    except InvalidOperation:  # pragma: no cover - the pattern admits only numbers
        raise ValidationError(_("Enter a quota."), code="quota_invalid") from None
    return checked_quota(int(amount))


def checked_quota(size: int) -> int:
    """A byte count as a quota, or ``ValidationError``."""
    if size <= 0:
        raise ValidationError(_("A quota must be larger than zero."), code="quota_zero")
    if size > MAX_QUOTA_BYTES:
        raise ValidationError(_("A quota can be at most 1 PB."), code="quota_too_large")
    return size
