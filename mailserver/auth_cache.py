"""Password changes reach the mail servers at the next login.

Dovecot caches its passdb answers (README: ``auth_cache_size``), negative
ones included. The admin's changes flush the cache in the services
(``account_update``) and tell the admin if that failed; a password set or
re-hashed anywhere else (Django re-hashes an old PBKDF2 password at the next
web sign-in, which makes it usable for POP3/SMTP) is flushed here, after the
commit, quietly: the save already happened and nobody is waiting on it.
"""

from __future__ import annotations

import logging

from django.db import transaction

logger = logging.getLogger(__name__)

ACCOUNT_FIELDS = {"password"}
MAILBOX_FIELDS = {"mail_password"}


def _flush_after_commit(account) -> None:
    from django.conf import settings

    from accounts.mailstore import MailStoreError, get_mail_store

    if settings.MAIL_STORE == "db":  # nothing caches the console's answers
        return

    def flush():
        try:
            get_mail_store().refresh_auth(account)
        except MailStoreError as error:
            logger.warning("Dovecot's auth cache not flushed for %s: %s", account.email, error)

    transaction.on_commit(flush)


def account_saved(sender, instance, created, update_fields=None, raw=False, **kwargs) -> None:
    if raw or created:
        return
    if update_fields is None or ACCOUNT_FIELDS & set(update_fields):
        _flush_after_commit(instance)


def mailbox_saved(sender, instance, created, update_fields=None, raw=False, **kwargs) -> None:
    if raw or created:
        return
    if update_fields is None or MAILBOX_FIELDS & set(update_fields):
        _flush_after_commit(instance.account)
