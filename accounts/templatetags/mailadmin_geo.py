"""Country names for access records, from django-countries' catalogue (ISO
3166-1 names with Korean translations, offline)."""

from django import template
from django.utils.translation import gettext as _
from django_countries import countries

register = template.Library()


@register.filter
def country_name(code: str | None) -> str:
    """The country's name in the current language, or "Unknown" for an empty
    code (private, loopback or unresolvable addresses) or one ISO does not
    know."""
    name = countries.name(code.upper()) if code else ""
    return str(name) if name else _("Unknown")
