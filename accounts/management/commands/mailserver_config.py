"""manage.py mailserver_config: Postfix lookup tables and Dovecot settings."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError
from django.db import connection

from accounts.mailserver import MAIL_ROOT, Database, config_files, render
from accounts.models import Office


class Command(BaseCommand):
    help = (
        "Print ready-to-use Postfix lookup tables (virtual mailbox domains, mailboxes, "
        "and sub-account aliases to owner+INBOX.<folder>@domain) and the matching Dovecot "
        "SQL passdb/userdb settings, for this project's database. Each file starts with a "
        "'# ==> path <==' line."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--domain", help="serve only this office (default: every office in the database)"
        )
        parser.add_argument(
            "--db",
            choices=["sqlite", "pgsql"],
            help="lookup table type (default: the database this project runs on)",
        )
        parser.add_argument("--dovecot", choices=["2.3", "2.4"], default="2.3")
        parser.add_argument("--mail-root", default=MAIL_ROOT, help="where the Maildirs live")

    def handle(self, *args, domain, db, dovecot, mail_root, **options):
        if domain and not Office.objects.filter(domain=domain.lower()).exists():
            raise CommandError(f"No office with the domain {domain}.")
        database = Database.from_settings(connection.settings_dict, db)
        actual = "sqlite" if connection.vendor == "sqlite" else "pgsql"
        if db and db != actual:
            self.stderr.write(
                f"warning: this project runs on {connection.vendor}; the {db} connection "
                "settings below are placeholders to edit."
            )
        self.stdout.write(
            render(config_files(database, domain=domain, dovecot=dovecot, mail_root=mail_root)),
            ending="",
        )
