from django import forms
from django.utils.translation import gettext_lazy as _

from accounts.account_services import parse_quota
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


class RoleForm(forms.Form):
    """The console role of one account, granted by a super admin."""

    role = forms.ChoiceField(
        label=_("Administrator role"), choices=Account.Role.choices, widget=forms.RadioSelect
    )


QUOTA_DEFAULT = "default"
QUOTA_SIZE = "size"
QUOTA_UNLIMITED = "unlimited"


class QuotaFieldsMixin:
    """A quota picked as a size typed like ``2 GB``, unlimited, or (where
    offered) the office's default; ``quota_value()`` gives what the services
    take."""

    def clean(self):
        data = super().clean()
        choice = data.get("quota_choice")
        if choice == QUOTA_SIZE:
            try:
                data["quota_bytes"] = parse_quota(data.get("quota_text") or "")
            except forms.ValidationError as error:
                self.add_error("quota_text", error)
        return data

    def quota_value(self):
        choice = self.cleaned_data["quota_choice"]
        if choice == QUOTA_UNLIMITED:
            return None
        if choice == QUOTA_DEFAULT:
            return "default"
        return self.cleaned_data["quota_bytes"]


def _quota_choice_field(with_default: bool) -> forms.ChoiceField:
    choices = [(QUOTA_SIZE, _("Size")), (QUOTA_UNLIMITED, _("Unlimited"))]
    if with_default:
        choices.insert(0, (QUOTA_DEFAULT, _("Office default")))
    return forms.ChoiceField(label=_("Quota"), choices=choices, widget=forms.RadioSelect)


def _quota_text_field() -> forms.CharField:
    return forms.CharField(
        label=_("Quota size"),
        required=False,
        max_length=20,
        help_text=_("For example 2 GB or 500 MB."),
        widget=forms.TextInput(attrs={"placeholder": "2 GB", "spellcheck": "false"}),
    )


class PasswordChoiceMixin:
    """A password the admin types, or one generated and shown once."""

    def clean(self):
        data = super().clean()
        if data.get("password_choice") == "typed" and not data.get("password"):
            self.add_error("password", _("Type the password, or let one be generated."))
        if data.get("password_choice") == "generate":
            data["password"] = ""
        return data


def _password_choice_field() -> forms.ChoiceField:
    return forms.ChoiceField(
        label=_("Password"),
        choices=[("generate", _("Generate one")), ("typed", _("Type one"))],
        initial="generate",
        widget=forms.RadioSelect,
    )


def _password_field(label=None) -> forms.CharField:
    return forms.CharField(
        label=label or _("New password"),
        required=False,
        max_length=128,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )


class UserCreateForm(PasswordChoiceMixin, QuotaFieldsMixin, forms.Form):
    """사용자 추가."""

    name = forms.CharField(label=_("Name"), max_length=100)
    login_id = forms.CharField(
        label=_("ID"),
        max_length=64,
        strip=False,
        help_text=_(
            "English letters, digits, dots (.), hyphens (-) and underscores (_); start and end "
            "with a letter or a digit; at most 64 characters."
        ),
        widget=forms.TextInput(
            attrs={"autocomplete": "off", "autocapitalize": "none", "spellcheck": "false"}
        ),
    )
    department = forms.CharField(label=_("Department"), max_length=100, required=False)
    kind = forms.ChoiceField(
        label=_("Kind"),
        choices=Account.Kind.choices,
        initial=Account.Kind.USER,
        widget=forms.RadioSelect,
    )
    uses_mail = forms.BooleanField(label=_("Uses mail"), required=False, initial=True)
    quota_choice = _quota_choice_field(with_default=True)
    quota_text = _quota_text_field()
    password_choice = _password_choice_field()
    password = _password_field(_("Password"))
    must_change_password = forms.BooleanField(
        label=_("Must change the password at the next sign-in"), required=False
    )

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("initial", {"quota_choice": QUOTA_DEFAULT, "uses_mail": True})
        super().__init__(*args, **kwargs)


class PasswordResetForm(PasswordChoiceMixin, forms.Form):
    password_choice = _password_choice_field()
    password = _password_field()
    must_change = forms.BooleanField(
        label=_("Must change the password at the next sign-in"), required=False, initial=True
    )


class MailPasswordForm(PasswordChoiceMixin, forms.Form):
    """Set or change the mail-only password (POP3/SMTP)."""

    password_choice = _password_choice_field()
    password = _password_field(_("Mail-only password"))


class QuotaForm(QuotaFieldsMixin, forms.Form):
    quota_choice = _quota_choice_field(with_default=False)
    quota_text = _quota_text_field()
    confirm_below_usage = forms.BooleanField(
        label=_("Set it even if it is below the current usage"), required=False
    )


class OfficeSettingsForm(QuotaFieldsMixin, forms.Form):
    quota_choice = _quota_choice_field(with_default=False)
    quota_text = _quota_text_field()


class HomeCountriesForm(forms.Form):
    """Where the office's POP3/SMTP sign-ins are expected from."""

    home_countries = forms.CharField(
        label=_("Home countries"),
        required=False,
        max_length=64,
        help_text=_(
            "Two-letter country codes separated by commas, e.g. KR, JP. A successful "
            "POP3/SMTP sign-in from another country is flagged. Empty: the office's own "
            "country (%(country)s)."
        ),
    )

    def __init__(self, *args, own_country: str = "", **kwargs):
        super().__init__(*args, **kwargs)
        field = self.fields["home_countries"]
        field.help_text = field.help_text % {"country": own_country or "-"}

    def clean_home_countries(self) -> list[str]:
        from accounts.geo import parse_country_codes

        text = self.cleaned_data["home_countries"]
        codes = parse_country_codes(text)
        leftovers = [
            part for part in text.replace(",", " ").replace(";", " ").split() if len(part) != 2
        ]
        if leftovers:
            raise forms.ValidationError(
                _("Enter two-letter country codes (ISO 3166), e.g. KR, JP.")
            )
        return codes


class OwnPasswordForm(forms.Form):
    """The user's own new password, asked at sign-in after an admin's reset."""

    new_password = forms.CharField(
        label=_("New password"),
        max_length=128,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password", "autofocus": True}),
    )
    new_password_again = forms.CharField(
        label=_("New password again"),
        max_length=128,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def clean(self):
        data = super().clean()
        if data.get("new_password") != data.get("new_password_again"):
            self.add_error("new_password_again", _("The two passwords differ."))
        return data
