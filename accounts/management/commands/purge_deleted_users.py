from django.core.management.base import BaseCommand, CommandError

from accounts.account_services import DELETED_RETENTION, purge_deleted_users
from accounts.formatting import human_bytes
from accounts.models import Office


class Command(BaseCommand):
    help = (
        f"Remove users deleted more than {DELETED_RETENTION.days} days ago, with their mail; "
        "their IDs become free. Safe to run again at any time."
    )

    def add_arguments(self, parser):
        parser.add_argument("--domain", help="only this office")

    def handle(self, *args, **opts):
        office = None
        if opts.get("domain"):
            office = Office.objects.filter(domain=opts["domain"].lower()).first()
            if office is None:
                raise CommandError(f"No office uses the domain {opts['domain']!r}.")
        purged = purge_deleted_users(office=office)
        self.stdout.write(
            f"Purged {purged.accounts} deleted user(s): {purged.messages} message(s), "
            f"{human_bytes(purged.bytes)}."
        )
