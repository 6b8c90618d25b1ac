from django import forms
from django.utils.translation import gettext_lazy as _

from subaccounts.validators import MAX_LENGTH, validate_subaccount_id


class SubAccountAddForm(forms.Form):
    """The [추가하기] field: the ID before ``@domain``.

    Never stripped (whitespace is refused, not silently removed); the browser's
    ``maxlength`` is only a convenience, the validator has the last word.
    """

    local_part = forms.CharField(
        label=_("Sub-account ID"),
        strip=False,
        required=False,  # the validator says "enter the ID" in its own words
        widget=forms.TextInput(
            attrs={
                "maxlength": MAX_LENGTH,
                "autocomplete": "off",
                "autocapitalize": "none",
                "spellcheck": "false",
                "inputmode": "email",
            }
        ),
    )

    def clean_local_part(self) -> str:
        return validate_subaccount_id(self.cleaned_data["local_part"])
