from django.apps import AppConfig
from django.conf import settings
from django.db.models.signals import post_migrate, post_save, pre_migrate
from django.utils.translation import gettext_lazy as _


class MailserverConfig(AppConfig):
    name = "mailserver"
    verbose_name = _("Mail servers")

    def ready(self) -> None:
        from mailserver.usage_triggers import restore_sqlite_triggers, set_aside_sqlite_triggers

        # SQLite rebuilds a table to alter it and then refuses the rename
        # while a trigger elsewhere names the dropped table: the usage
        # triggers step aside during every migrate and come back after it.
        pre_migrate.connect(set_aside_sqlite_triggers, sender=self)
        post_migrate.connect(restore_sqlite_triggers, sender=self)

        from accounts.models import Mailbox
        from mailserver.auth_cache import account_saved, mailbox_saved

        post_save.connect(account_saved, sender=settings.AUTH_USER_MODEL, dispatch_uid="ms_account")
        post_save.connect(mailbox_saved, sender=Mailbox, dispatch_uid="ms_mailbox")
