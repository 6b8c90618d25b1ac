"""``manage.py bench_access``: the access history at real mail-client volume
on PostgreSQL (devtools/bench_access.py)."""

import json
import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from devtools import bench_access


class Command(BaseCommand):
    help = (
        "On an office of its own: bytes per login before and after folding, the import "
        "rate of a generated day, 90 days of folded history built in bulk, the pane of the "
        "heaviest account, the list with access=flagged, and pruning one month (PostgreSQL)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--accounts", type=int, default=10_000)
        parser.add_argument("--days", type=int, default=90)
        parser.add_argument("--domain", default="access.bench.example.com")
        parser.add_argument("--repeat", type=int, default=20)
        parser.add_argument("--json", dest="json_path")

    def handle(self, *args, **opts):
        def progress(text):
            self.stderr.write(f"  … {text}")
            sys.stderr.flush()

        try:
            report = bench_access.run(
                domain=opts["domain"],
                accounts=opts["accounts"],
                days=opts["days"],
                repeat=opts["repeat"],
                progress=progress,
            )
        except RuntimeError as error:
            raise CommandError(str(error)) from None
        text = json.dumps(report, ensure_ascii=False, indent=2, default=str)
        self.stdout.write(text)
        if opts["json_path"]:
            Path(opts["json_path"]).write_text(text, encoding="utf-8")
