"""manage.py reconcile_usage [--fix] [--domain D]: recompute counters, report drift."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from accounts.maintenance import reconcile_usage
from accounts.models import Office


class Command(BaseCommand):
    help = (
        "Recompute every mailbox's usage and message count from its messages and its "
        "last access from the access log; report every drift, and store the recomputed "
        "values with --fix."
    )

    def add_arguments(self, parser):
        parser.add_argument("--fix", action="store_true", help="store the recomputed values")
        parser.add_argument("--domain", help="only this office (default: every office)")

    def handle(self, *args, fix, domain, **options):
        office = None
        if domain:
            office = Office.objects.filter(domain=domain.lower()).first()
            if office is None:
                raise CommandError(f"No office with the domain {domain}.")
        result = reconcile_usage(office=office, fix=fix)
        for drift in result.drifts:
            self.stdout.write(
                f"drift: {drift.address} {drift.field}: stored {_show(drift.stored)}, "
                f"actual {_show(drift.actual)}"
            )
        drifted = len({d.mailbox_id for d in result.drifts})
        self.stdout.write(
            f"mailboxes checked: {result.mailboxes:,}; with drift: {drifted:,}; "
            f"fixed: {result.fixed:,}"
        )
        if drifted and not fix:
            self.stdout.write("run again with --fix to store the recomputed values")


def _show(value) -> str:
    if value is None or value == "":
        return "none"
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)
