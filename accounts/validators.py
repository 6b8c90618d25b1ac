"""What an ID may look like: an account's and a sub-account's ID share one
rule, since both occupy an address of the office.

The ID is the local part of ``ID@domain``. Input is lowercased but never
trimmed: a space, tab or line break anywhere is refused rather than silently
removed, so what the admin sees is what gets created. Each refusal says in
plain words what is wrong.
"""

from __future__ import annotations

import re

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from accounts.models import RESERVED_LOCAL_PARTS

MAX_LENGTH = 64

# Checked on the input as typed, before lowercasing: str.lower() maps a few
# non-ASCII letters onto ASCII ones (the Kelvin sign "K" becomes "k"), which
# must not sneak through.
_ALLOWED = re.compile(r"[A-Za-z0-9._-]+", re.ASCII)
_EDGE = re.compile(r"[A-Za-z0-9]", re.ASCII)


def validate_local_part(value: object, *, required=None) -> str:
    """Return the ID lowercased, or raise ``ValidationError`` saying why not
    (``required``: the message for an empty ID)."""
    if not isinstance(value, str) or value == "":
        raise ValidationError(required or _("Enter the ID."), code="required")
    if any(ch.isspace() for ch in value):
        raise ValidationError(_("The ID cannot contain spaces or line breaks."), code="whitespace")
    if len(value) > MAX_LENGTH:
        raise ValidationError(
            _("The ID can have at most %(limit)d characters (this one has %(length)d)."),
            code="max_length",
            params={"limit": MAX_LENGTH, "length": len(value)},
        )
    if not _ALLOWED.fullmatch(value):
        raise ValidationError(
            _(
                "The ID may contain only English letters, digits, "
                "dots (.), hyphens (-) and underscores (_)."
            ),
            code="characters",
        )
    if not (_EDGE.fullmatch(value[0]) and _EDGE.fullmatch(value[-1])):
        raise ValidationError(
            _("The ID must start and end with a letter or a digit."), code="edges"
        )
    if ".." in value:
        raise ValidationError(_("The ID cannot contain two dots in a row."), code="dots")
    local_part = value.lower()
    if local_part in RESERVED_LOCAL_PARTS:
        raise ValidationError(
            _("“%(id)s” is reserved for the mail system and cannot be used."),
            code="reserved",
            params={"id": local_part},
        )
    return local_part
