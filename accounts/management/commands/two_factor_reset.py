"""Remove an account's second factor from the command line: for the admin
who lost both the phone and the recovery codes and has no other admin to
reset it from the console."""

from django.core.management.base import BaseCommand, CommandError

from accounts.models import Account, AuditEvent
from accounts.two_factor import two_factor_remove


class Command(BaseCommand):
    help = "Remove the two-factor sign-in (app and recovery codes) of id@domain."

    def add_arguments(self, parser):
        parser.add_argument("address", help="the account's ID with its domain: id@domain")

    def handle(self, *args, address, **options):
        login_id, _, domain = address.strip().lower().partition("@")
        account = Account.objects.filter(office__domain=domain, login_id=login_id).first()
        if account is None:
            raise CommandError(f"No account {address}.")
        removed = two_factor_remove(
            actor=None, account=account, ip=None, action=AuditEvent.Action.TWO_FACTOR_RESET
        )
        self.stdout.write(
            f"{address}: two-factor sign-in removed" if removed else f"{address}: had none"
        )
