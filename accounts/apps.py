from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = _("Accounts and mail")

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_in

        from accounts.search_index import ensure_sqlite_search_index, refresh_sqlite_statistics
        from mailadmin.middleware import start_idle_clock

        user_logged_in.connect(start_idle_clock, dispatch_uid="mailadmin_start_idle_clock")
        post_migrate.connect(ensure_sqlite_search_index, sender=self)
        post_migrate.connect(refresh_sqlite_statistics, sender=self)
