"""What the mail servers write into the console's database."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class MailUsage(models.Model):
    """Dovecot's own figures for one user, written by its ``quota_clone``
    plugin (through dict-sql) after every delivery and expunge.

    Dovecot knows users by their address only, so the row is keyed by it.
    A database trigger copies every write into ``accounts_mailbox`` (used
    bytes and message count), where the usage list sorts and filters on
    indexed columns; Django only reads this table (``reconcile_usage``).
    """

    username = models.CharField(_("user"), max_length=320, primary_key=True)
    bytes = models.BigIntegerField(_("bytes"), db_default=0)
    messages = models.BigIntegerField(_("messages"), db_default=0)

    class Meta:
        verbose_name = _("mail server usage")
        verbose_name_plural = _("mail server usage")

    def __str__(self) -> str:
        return self.username
