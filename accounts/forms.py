from django import forms
from django.utils.translation import gettext_lazy as _

from accounts.models import Account, AuditEvent


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


class CodeForm(forms.Form):
    """The third sign-in step, and setting up the app: a six-digit code
    from the authenticator app, or (at sign-in) one recovery code."""

    code = forms.CharField(
        label=_("Code"),
        max_length=32,
        widget=forms.TextInput(
            attrs={
                "autocomplete": "one-time-code",
                "autofocus": True,
                "autocapitalize": "off",
                "spellcheck": "false",
            }
        ),
    )


class AccountUpdateForm(forms.Form):
    """사용자 관리: what an admin changes on one account.

    Accounts without a mailbox have no POP3/SMTP fields, and the removal of
    the mail-only password is offered only while one is set.
    """

    name = forms.CharField(label=_("Name"), max_length=100)
    status = forms.ChoiceField(
        label=_("Status"), choices=Account.Status.choices, widget=forms.RadioSelect
    )
    pop3_enabled = forms.BooleanField(label=_("Use POP3"), required=False)
    smtp_enabled = forms.BooleanField(label=_("Use SMTP"), required=False)
    remove_mail_password = forms.BooleanField(
        label=_("Remove the mail-only password"),
        required=False,
        help_text=_("Mail clients then sign in with the account's own password."),
    )

    def __init__(self, *args, account: Account, **kwargs):
        mailbox = getattr(account, "mailbox", None)
        initial = {"name": account.name, "status": account.status}
        if mailbox is not None:
            initial.update(pop3_enabled=mailbox.pop3_enabled, smtp_enabled=mailbox.smtp_enabled)
        kwargs.setdefault("initial", initial)
        super().__init__(*args, **kwargs)
        if mailbox is None:
            for field in ("pop3_enabled", "smtp_enabled", "remove_mail_password"):
                del self.fields[field]
        elif not mailbox.mail_password:
            del self.fields["remove_mail_password"]

    def changes(self) -> dict:
        """Keyword arguments for :func:`accounts.services.account_update`."""
        data = self.cleaned_data
        changes = {"name": data["name"], "status": data["status"]}
        if "pop3_enabled" in self.fields:
            changes["pop3_enabled"] = data["pop3_enabled"]
            changes["smtp_enabled"] = data["smtp_enabled"]
        if "remove_mail_password" in self.fields:
            changes["remove_mail_password"] = data["remove_mail_password"]
        return changes


class AuditFilterForm(forms.Form):
    """Filters of the audit log; every field is optional."""

    action = forms.ChoiceField(
        label=_("Action"),
        required=False,
        choices=[("", _("All actions")), *AuditEvent.Action.choices],
    )
    actor = forms.CharField(label=_("Actor"), required=False, max_length=100)
    target = forms.CharField(label=_("Target"), required=False, max_length=100)
    date_from = forms.DateField(
        label=_("From"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    date_to = forms.DateField(
        label=_("To"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )

    def clean(self):
        data = super().clean()
        start, end = data.get("date_from"), data.get("date_to")
        if start and end and start > end:
            raise forms.ValidationError(_("The start date must not be after the end date."))
        return data


class UserSearchForm(forms.Form):
    q = forms.CharField(label=_("Search by name or ID"), required=False, max_length=100)
