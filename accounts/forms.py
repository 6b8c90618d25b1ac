from django import forms
from django.utils.translation import gettext_lazy as _


class DomainForm(forms.Form):
    domain = forms.CharField(
        label=_("Company domain"),
        max_length=253,
        widget=forms.TextInput(attrs={"placeholder": "example.com", "autocomplete": "url"}),
    )

    def clean_domain(self):
        return self.cleaned_data["domain"].strip().lower().removeprefix("@")


class LoginIdForm(forms.Form):
    login_id = forms.CharField(
        label=_("ID"),
        max_length=64,
        widget=forms.TextInput(attrs={"autocomplete": "username", "autofocus": True}),
    )

    def clean_login_id(self):
        value = self.cleaned_data["login_id"].strip().lower()
        # Accept the full address as well as the bare ID.
        return value.split("@", 1)[0]


class PasswordForm(forms.Form):
    login_id = forms.CharField(max_length=64, widget=forms.HiddenInput)
    password = forms.CharField(
        label=_("Password"),
        max_length=4096,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password", "autofocus": True}),
    )
