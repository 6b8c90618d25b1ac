"""manage.py prune_access_logs [--keep-days N]: drop old access history
(whole months on PostgreSQL, batches elsewhere)."""

from __future__ import annotations

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from accounts import tallies
from accounts.access_history import longest_window_days
from accounts.maintenance import prune_access_logs
from accounts.models import Office


class Command(BaseCommand):
    help = (
        "Delete access history older than N days (default 100: the 3-month window the "
        "detail pane shows, plus a margin). On PostgreSQL whole months are dropped (a month "
        "goes once it ended more than N days ago) and the next months are created ahead; "
        "elsewhere, and with --domain, rows are deleted in batches. Also folds the counts "
        "the database keeps per office (PostgreSQL adds a row per statement) into one row each."
    )

    def add_arguments(self, parser):
        parser.add_argument("--keep-days", type=int, default=100, metavar="N")
        parser.add_argument("--domain", help="only this office (default: every office)")
        parser.add_argument("--batch-size", type=int, default=5000)

    def handle(self, *args, keep_days, domain, batch_size, **options):
        if keep_days < 1:
            raise CommandError("--keep-days must be at least 1.")
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1.")
        office = None
        if domain:
            office = Office.objects.filter(domain=domain.lower()).first()
            if office is None:
                raise CommandError(f"No office with the domain {domain}.")
        window_days = longest_window_days()
        if keep_days < window_days:
            self.stderr.write(
                f"warning: keeping {keep_days} days is less than the "
                f"{settings.MAILADMIN_ACCESS_WINDOW_MONTHS}-month access history the "
                "detail pane shows."
            )
        result = prune_access_logs(keep_days=keep_days, office=office, batch_size=batch_size)
        for name, rows in result.partitions:
            self.stdout.write(f"dropped partition {name} (about {rows:,} rows)")
        if result.created:
            self.stdout.write(f"created {result.created} month(s) ahead")
        self.stdout.write(f"deleted: {result.rows:,} access rows older than {keep_days} days")
        folded = tallies.fold(office)
        if folded:
            self.stdout.write(f"folded {folded:,} count rows")
