import argparse
import json
import sys
import tempfile
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError

from devtools import bench
from devtools.bench_data import ensure_dataset
from devtools.demo import require_embedded_store


class Command(BaseCommand):
    help = (
        "Build (or reuse) a big office and time the usage list, detail pane and "
        "sub-account dialog against a Django admin changelist of the same model; "
        "also the export and the bulk operations."
    )

    def add_arguments(self, parser):
        parser.add_argument("--accounts", type=int, default=100_000, help="office size")
        parser.add_argument("--domain", default="bench.example.com")
        parser.add_argument("--repeat", type=int, default=20, help="timed requests per page")
        parser.add_argument("--json", dest="json_path", default=None, help="write results here")
        parser.add_argument(
            "--skip",
            action="append",
            choices=["pages", "export", "operations"],
            default=[],
            help="leave out a part (repeatable)",
        )
        parser.add_argument(
            "--only",
            action="append",
            default=[],
            metavar="TEXT",
            help="time only the page scenarios whose name starts with TEXT (repeatable)",
        )
        parser.add_argument(
            "--big-subaccount",
            type=int,
            default=None,
            help="messages in the deleted sub-account's folder (default 10,000 at 100,000 accounts, scaled)",
        )
        parser.add_argument(
            "--big-mailbox",
            type=int,
            default=None,
            help="messages in the emptied mailbox (default 50,000 at 100,000 accounts, scaled)",
        )
        parser.add_argument(
            "--pane-mailbox",
            type=int,
            default=None,
            help="messages in the mailbox whose detail pane is timed (default 2 per account)",
        )
        # Internal: the export measured in a fresh process.
        parser.add_argument("--export-child", choices=["xlsx", "csv"], help=argparse.SUPPRESS)
        parser.add_argument("--output", help=argparse.SUPPRESS)

    def handle(self, *args, **opts):
        if opts["export_child"]:
            result = bench.export_child(opts["domain"], opts["export_child"], opts["output"])
            self.stdout.write(json.dumps(result))
            return
        try:
            require_embedded_store()
        except ImproperlyConfigured as error:
            raise CommandError(str(error)) from None
        accounts = opts["accounts"]
        if not 10 <= accounts <= 100_000:
            raise CommandError("--accounts must be between 10 and 100,000.")
        if opts["repeat"] < 1:
            raise CommandError("--repeat must be at least 1.")
        scale = accounts / 100_000
        big_subaccount = opts["big_subaccount"] or max(20, round(10_000 * scale))
        big_mailbox = opts["big_mailbox"] or max(50, round(50_000 * scale))

        def progress(text):
            if opts["verbosity"] > 0:
                self.stderr.write(f"  … {text}")
                sys.stderr.flush()

        dataset = ensure_dataset(
            domain=opts["domain"],
            accounts=accounts,
            progress=progress,
            pane_mailbox=opts["pane_mailbox"],
        )
        progress(
            f"dataset {'reused' if dataset.reused else 'built'}: {dataset.accounts:,} accounts, "
            f"{dataset.access_rows:,} access rows, {dataset.messages:,} messages "
            f"({dataset.built_seconds:.0f} s)"
        )
        with tempfile.TemporaryDirectory(prefix="mailadmin-bench-") as workdir:
            report = bench.run(
                dataset=dataset,
                repeat=opts["repeat"],
                workdir=Path(workdir),
                big_subaccount=big_subaccount,
                big_mailbox=big_mailbox,
                progress=progress,
                skip=frozenset(opts["skip"]),
                only=tuple(opts["only"]),
            )
        self.stdout.write(bench.format_report(report))
        if opts["json_path"]:
            Path(opts["json_path"]).write_text(
                json.dumps(report.as_json(), ensure_ascii=False, indent=2), encoding="utf-8"
            )
            self.stdout.write(f"\nwrote {opts['json_path']}")
