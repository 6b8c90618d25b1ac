"""What a sub-account ID may look like: the rules every address of the
office follows (:mod:`accounts.validators`), in the sub-account dialog's
words."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from accounts.validators import MAX_LENGTH, validate_local_part

__all__ = ["MAX_LENGTH", "validate_subaccount_id"]


def validate_subaccount_id(value: object) -> str:
    """Return the ID lowercased, or raise ``ValidationError`` saying why not."""
    return validate_local_part(value, required_message=_("Enter the sub-account ID."))
