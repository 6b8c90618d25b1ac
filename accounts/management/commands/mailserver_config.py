"""manage.py mailserver_config: every Postfix and Dovecot file to install."""

from __future__ import annotations

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import connection

from accounts.mailserver import MAIL_ROOT, Database, Doveadm, config_files, render, vmail_ids
from accounts.models import Office


class Command(BaseCommand):
    help = (
        "Print every file Postfix and Dovecot need to serve this project's offices: the "
        "Postfix lookup tables and main.cf lines, Dovecot's SQL passdb/userdb and conf.d "
        "snippet (quota, quota-status policy service) and, with MAIL_STORE=dovecot, the "
        "doveadm HTTP listener and the usage rows Dovecot writes into this database. Each "
        "file starts with a '# ==> path <==' line."
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
        parser.add_argument("--mail-root", default=MAIL_ROOT, help="where the Maildirs live")

    def handle(self, *args, domain, db, mail_root, **options):
        if domain and not Office.objects.filter(domain=domain.lower()).exists():
            raise CommandError(f"No office with the domain {domain}.")
        database = Database.from_settings(connection.settings_dict, db)
        actual = "sqlite" if connection.vendor == "sqlite" else "pgsql"
        if db and db != actual:
            self.stderr.write(
                f"warning: this project runs on {connection.vendor}; the {db} connection "
                "settings below are placeholders to edit."
            )
        doveadm = None
        if settings.MAIL_STORE == "dovecot":
            try:
                doveadm = Doveadm.from_url(settings.DOVEADM_URL, settings.DOVEADM_API_KEY)
            except ValueError as error:
                raise CommandError(str(error)) from error
            if doveadm.address not in ("127.0.0.1", "::1"):
                self.stderr.write(
                    f"warning: doveadm will listen on {doveadm.address}, not on the loopback: "
                    "keep that port closed to everyone but this console."
                )
        files = config_files(
            database, domain=domain, mail_root=mail_root, doveadm=doveadm, vmail=vmail_ids()
        )
        self.stdout.write(render(files), ending="")
