"""manage.py import_maillog --domain D [--follow] [FILE ...]: POP3/SMTP
logins → the folded access log."""

from __future__ import annotations

import signal
import zoneinfo

from django.core.management.base import BaseCommand, CommandError

from accounts import maillog_files
from accounts.importers import BATCH_SIZE, AccessImportStats, AccessLogImporter
from accounts.models import Office


class Command(BaseCommand):
    help = (
        "Import Dovecot POP3 and Postfix SMTP AUTH logins (syslog, RFC 3339 or RFC 5424 "
        "lines; plain or .gz files; '-' or no file reads stdin) into the office's access "
        "log, folded by hour, protocol, IP and result. Each file's position is committed "
        "with its logins, so importing the same file again adds nothing; stdin is one "
        "continuing stream whose replayed lines are skipped. --follow keeps reading like "
        "tail -F (rotation and truncation handled), committing at least every second."
    )

    def add_arguments(self, parser):
        parser.add_argument("--domain", required=True, help="the office whose users logged in")
        parser.add_argument("files", nargs="*", metavar="FILE", help="log files; '-' is stdin")
        parser.add_argument(
            "--time-zone",
            help="zone of timestamps logged without an offset (default: the office's)",
        )
        parser.add_argument(
            "--batch-size",
            type=int,
            default=BATCH_SIZE,
            help=f"logins per transaction when reading a backlog (default {BATCH_SIZE:,})",
        )
        parser.add_argument(
            "--follow",
            action="store_true",
            help="keep following the files (or stdin) for new lines until stopped",
        )
        parser.add_argument(
            "--stream",
            default="stdin",
            help="name under which stdin's position is kept (default: stdin)",
        )

    def handle(self, *args, domain, files, time_zone, batch_size, follow, stream, **options):
        office = Office.objects.filter(domain=domain.lower()).first()
        if office is None:
            raise CommandError(f"No office with the domain {domain}.")
        try:
            zone = zoneinfo.ZoneInfo(time_zone or office.time_zone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError) as error:
            raise CommandError(f"Unknown time zone {time_zone}.") from error
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1.")
        files = files or ["-"]
        if "-" in files and len(files) > 1 and follow:
            raise CommandError("--follow reads either files or stdin ('-'), not both.")
        for name in files:
            if name != "-" and not follow:
                try:
                    with open(name, "rb"):
                        pass
                except OSError as error:
                    raise CommandError(f"Cannot read {name}: {error.strerror or error}") from error
        importer = AccessLogImporter(office=office, time_zone=zone, batch_size=batch_size)
        stopping = []

        def stop(signum, frame):
            stopping.append(signum)

        if follow:
            signal.signal(signal.SIGTERM, stop)
            signal.signal(signal.SIGINT, stop)
        try:
            if follow and files == ["-"]:
                importer.use_stream(stream)
                maillog_files.follow_stream(
                    importer, maillog_files.stdin_text(), stop=lambda: bool(stopping)
                )
            elif follow:
                maillog_files.follow(
                    importer, files, stop=lambda: bool(stopping), batch_size=batch_size
                )
            else:
                paths = [name for name in files if name != "-"]
                maillog_files.read_once(importer, paths, batch_size)
                if "-" in files:
                    importer.use_stream(stream)
                    importer.feed(maillog_files.stdin_text(), source="stdin")
        finally:
            stats = importer.finish()
        self.report(stats)

    def report(self, stats: AccessImportStats) -> None:
        out = self.stdout.write
        out(f"lines read: {stats.lines:,}")
        out(f"imported: {stats.imported:,}")
        out(f"rows written: {stats.rows_written:,}")
        out(f"duplicates: {stats.duplicates:,}")
        out(f"already imported: {stats.skipped_bytes:,} bytes skipped")
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
        flagged = f"flagged sign-ins: {sum(stats.flagged.values()):,}"
        if stats.flagged:
            flagged += (
                " (" + ", ".join(f"{k} {n:,}" for k, n in sorted(stats.flagged.items())) + ")"
            )
        out(flagged)
