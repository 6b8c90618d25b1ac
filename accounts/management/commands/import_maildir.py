"""manage.py import_maildir --domain D --account ID PATH: a Maildir++ tree → a mailbox."""

from __future__ import annotations

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from accounts.import_dovecot import import_maildir_into_dovecot
from accounts.importers import MaildirError, import_maildir
from accounts.models import Account


class Command(BaseCommand):
    help = (
        "Load a Maildir++ tree (cur/, new/, .Folder/ and nested .A.B/ subfolders; sizes "
        "from Dovecot's ,S= or the file) into the account's mailbox. A folder named like "
        "one of the account's sub-accounts (.INBOX.<id> or .<id>) lands in its folder; "
        "other folders are created as needed. Messages and counters change in one "
        "transaction. With MAIL_STORE=dovecot the messages are stored in Dovecot (which "
        "counts them); a message Dovecot already holds is skipped, so a second run adds "
        "nothing twice."
    )

    def add_arguments(self, parser):
        parser.add_argument("--domain", required=True)
        parser.add_argument("--account", required=True, metavar="ID", help="the account's ID")
        parser.add_argument("path", metavar="PATH", help="the Maildir (holding cur/ and new/)")
        parser.add_argument(
            "--append",
            action="store_true",
            help="import even though the mailbox already holds messages",
        )

    def handle(self, *args, domain, account, path, append, **options):
        target = (
            Account.objects.select_related("office")
            .filter(office__domain=domain.lower(), login_id=account.lower())
            .first()
        )
        if target is None:
            raise CommandError(f"No account {account} in the office {domain}.")
        if not target.has_mailbox():
            raise CommandError(f"{target.login_id} does not use mail (has no mailbox).")
        if settings.MAIL_STORE == "dovecot":
            return self._into_dovecot(target, path, append)
        try:
            stats = import_maildir(account=target, path=path, append=append)
        except MaildirError as error:
            raise CommandError(str(error)) from error
        out = self.stdout.write
        for label in sorted(stats.per_folder):
            out(
                f"{label}: {stats.per_folder[label]:,} messages, "
                f"{stats.bytes_per_folder[label]:,} bytes"
            )
        out(f"messages imported: {stats.messages:,} ({stats.bytes:,} bytes)")
        out(f"folders created: {stats.folders_created:,}")
        if stats.skipped_files:
            out(f"unreadable files skipped: {stats.skipped_files:,}")

    def _into_dovecot(self, target, path, append):
        try:
            stats = import_maildir_into_dovecot(account=target, path=path, append=append)
        except MaildirError as error:
            raise CommandError(str(error)) from error
        out = self.stdout.write
        for label in sorted(stats.per_folder):
            out(
                f"{label}: {stats.per_folder[label]:,} messages, "
                f"{stats.bytes_per_folder[label]:,} bytes"
            )
        out(f"messages stored in Dovecot: {stats.messages:,} ({stats.bytes:,} bytes)")
        out(f"already in Dovecot (skipped): {stats.duplicates:,}")
        out(f"folders created: {stats.folders_created:,}")
        if stats.skipped_files:
            out(f"unreadable or non-UTF-8 files skipped: {stats.skipped_files:,}")
