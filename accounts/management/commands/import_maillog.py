"""manage.py import_maillog --domain D [FILE ...]: POP3/SMTP logins → access log."""

from __future__ import annotations

import gzip
import io
import sys
import zoneinfo
from contextlib import contextmanager

from django.core.management.base import BaseCommand, CommandError

from accounts.importers import AccessImportStats, AccessLogImporter
from accounts.models import Office


@contextmanager
def open_log(name: str):
    """A text stream of the file, of stdin for "-", decompressed for .gz."""
    if name == "-":
        stream = sys.stdin
        buffer = getattr(stream, "buffer", None)
        if buffer is not None:
            stream = io.TextIOWrapper(buffer, encoding="utf-8", errors="replace")
        yield stream
        return
    try:
        if name.endswith(".gz"):
            handle = gzip.open(name, "rt", encoding="utf-8", errors="replace")
        else:
            handle = open(name, encoding="utf-8", errors="replace")  # noqa: SIM115
    except OSError as error:
        raise CommandError(f"Cannot read {name}: {error.strerror or error}") from error
    with handle:
        yield handle


class Command(BaseCommand):
    help = (
        "Import Dovecot POP3 and Postfix SMTP AUTH logins (syslog, RFC 3339 or RFC 5424 "
        "lines; plain or .gz files; '-' or no file reads stdin) into the office's access "
        "log. Importing the same lines again adds nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument("--domain", required=True, help="the office whose users logged in")
        parser.add_argument("files", nargs="*", metavar="FILE", help="log files; '-' is stdin")
        parser.add_argument(
            "--time-zone",
            help="zone of timestamps logged without an offset (default: the office's)",
        )
        parser.add_argument("--batch-size", type=int, default=5000)

    def handle(self, *args, domain, files, time_zone, batch_size, **options):
        office = Office.objects.filter(domain=domain.lower()).first()
        if office is None:
            raise CommandError(f"No office with the domain {domain}.")
        try:
            zone = zoneinfo.ZoneInfo(time_zone or office.time_zone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError) as error:
            raise CommandError(f"Unknown time zone {time_zone}.") from error
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1.")
        importer = AccessLogImporter(office=office, time_zone=zone, batch_size=batch_size)
        for name in files or ["-"]:
            with open_log(name) as stream:
                importer.feed(stream, source="stdin" if name == "-" else name)
        self.report(importer.finish())

    def report(self, stats: AccessImportStats) -> None:
        out = self.stdout.write
        out(f"lines read: {stats.lines:,}")
        out(f"imported: {stats.imported:,}")
        out(f"duplicates: {stats.duplicates:,}")
        unknown = f"unknown users: {stats.unknown_users:,}"
        if stats.unknown_user_names:
            names = ", ".join(name for name, _ in stats.unknown_user_names.most_common(5))
            unknown += f" ({names}{', …' if len(stats.unknown_user_names) > 5 else ''})"
        out(unknown)
        out(f"failed logins without a user: {stats.failed_without_user:,}")
        skipped = f"skipped protocols: {sum(stats.skipped_protocols.values()):,}"
        if stats.skipped_protocols:
            parts = ", ".join(f"{p} {n:,}" for p, n in stats.skipped_protocols.most_common())
            skipped += f" ({parts})"
        out(skipped)
        out(f"other lines ignored: {stats.ignored:,}")
        out(f"unparsed lines: {stats.unparsed:,}")
        for sample in stats.unparsed_samples:
            out(f"  {sample}")
        out(f"last access moved forward: {stats.last_access_updated:,}")
