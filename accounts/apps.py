from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = _("Accounts and mail")

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_in

        from mailadmin.middleware import start_idle_clock

        user_logged_in.connect(start_idle_clock, dispatch_uid="mailadmin_start_idle_clock")
