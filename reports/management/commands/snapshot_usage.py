from django.core.management.base import BaseCommand, CommandError

from accounts.formatting import human_bytes
from reports.snapshots import snapshot_all


class Command(BaseCommand):
    help = (
        "Store today's usage of every account and office (or of the offices given) "
        "for the usage report; running it again the same day replaces that day."
    )

    def add_arguments(self, parser):
        parser.add_argument("--domain", action="append", default=[], help="only this office")

    def handle(self, *args, domain, **options):
        snapshots = snapshot_all(domains=domain)
        if domain and len(snapshots) != len(set(domain)):
            raise CommandError("unknown office domain")
        for snapshot in snapshots:
            self.stdout.write(
                f"{snapshot.office.domain} {snapshot.day}: {snapshot.mailboxes:,} mailboxes, "
                f"{human_bytes(snapshot.used_bytes)}, {snapshot.message_count:,} messages"
            )
