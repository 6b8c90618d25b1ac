import contextlib

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError
from django.test.utils import override_settings

from accounts.mailstore import MailStoreError
from accounts.models import Account, Office
from devtools.demo import require_embedded_store, seconds_str, seed_office

_nothing = contextlib.nullcontext


class Command(BaseCommand):
    help = "Create a realistic demo office (Korean names, mail, sub-accounts, access history)."

    def add_arguments(self, parser):
        parser.add_argument("--domain", default="example.com")
        parser.add_argument("--accounts", type=int, default=300, help="10 to 100,000")
        parser.add_argument("--admin-password", default=None, help="default: generated")
        parser.add_argument("--seed", type=int, default=1, help="same seed, same office")
        parser.add_argument("--name", default=None, help="the office's display name")
        parser.add_argument(
            "--if-missing",
            action="store_true",
            help="do nothing (and succeed) when the office already exists",
        )
        parser.add_argument("--base-url", default="http://127.0.0.1:8000")

    def handle(self, *args, **opts):
        domain = opts["domain"].strip().lower()
        if not 10 <= opts["accounts"] <= 100_000:
            raise CommandError("--accounts must be between 10 and 100,000.")
        if Office.objects.filter(domain=domain).exists():
            if opts["if_missing"]:
                self.stdout.write(f"Office {domain} already exists; keeping its data.")
                if opts["admin_password"]:
                    admin = Account.objects.get(office__domain=domain, login_id="admin")
                    admin.set_password(opts["admin_password"])
                    admin.save(update_fields=["password"])
                    self.stdout.write("The admin's password was set to DEMO_ADMIN_PASSWORD.")
                else:
                    self.stdout.write(
                        "The admin's password is the one printed when it was created "
                        "(set DEMO_ADMIN_PASSWORD to choose a new one)."
                    )
                self.stdout.write(f"Login: {opts['base_url'].rstrip('/')}/{domain}/login/")
                return
            raise CommandError(f"An office with the domain {domain} already exists.")
        dovecot = settings.MAIL_STORE == "dovecot"
        # With Dovecot as the mail store the demo plans its mail as the
        # embedded store's rows first, then saves it into Dovecot below, so
        # every figure the console shows is then Dovecot's own.
        with override_settings(MAIL_STORE="db") if dovecot else _nothing():
            try:
                require_embedded_store()
            except ImproperlyConfigured as error:
                raise CommandError(str(error)) from None
            result = seed_office(
                domain=domain,
                accounts=opts["accounts"],
                admin_password=opts["admin_password"],
                seed=opts["seed"],
                office_name=opts["name"],
                progress=(lambda text: self.stderr.write(f"  … {text}"))
                if opts["verbosity"] > 1
                else None,
            )
        if dovecot:
            from mailserver.demo import push_office_to_dovecot

            office = Office.objects.get(domain=domain)
            try:
                saved = push_office_to_dovecot(
                    office,
                    progress=(lambda text: self.stderr.write(f"  … {text}"))
                    if opts["verbosity"] > 1
                    else None,
                )
            except MailStoreError as error:
                raise CommandError(f"Dovecot: {error}") from error
            self.stdout.write(f"Saved {saved:,} demo messages in Dovecot (the mail store).")
        self.stdout.write(
            f"Created {domain}: {result.accounts:,} accounts, {result.mailboxes:,} mailboxes, "
            f"{result.subaccounts:,} sub-accounts, {result.messages:,} messages, "
            f"{result.access_rows:,} access rows in {seconds_str(result.seconds)}."
        )
        self.stdout.write(f"Login:    {opts['base_url'].rstrip('/')}/{domain}/login/")
        self.stdout.write("ID:       admin")
        self.stdout.write(f"Password: {result.admin_password}")
