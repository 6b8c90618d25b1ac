"""``manage.py bench``: the product's screens side by side with the Django
admin changelist for the same model, on the same big office.

The yardstick is the changelist because it is what a Django developer would
write for the same screen: a ratio to it stays meaningful from one machine
to another, where absolute times do not. The product's list is expected to
be no slower than the changelist at 100,000 accounts (README,
"Performance").

Everything runs in one process through the real URL stack
(:class:`django.test.Client` with a real session of the office's super admin),
so every SQL query is counted, the session's (which brings the signed-in
account and its office) included. The admin is installed and routed only
inside :func:`admin_installed`; its pages are served through the same
session and authentication middleware as ours.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import math
import os
import statistics
import subprocess
import sys
import time
import zoneinfo
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

from django.conf import settings
from django.db import connection
from django.db.models import Count, Q
from django.test import Client
from django.test.utils import CaptureQueriesContext, modify_settings, override_settings
from django.urls import reverse

from accounts.models import AccessLog, Account, Mailbox, Office
from devtools.bench_data import Dataset, drop_office
from reports.models import AccountUsageDay

PER_PAGE = 50


@dataclass
class Timing:
    median_ms: float
    p95_ms: float
    queries: int
    status: int


@dataclass
class Scenario:
    name: str
    ours_url: str
    admin_url: str | None = None
    htmx: bool = False
    ours: Timing | None = None
    admin: Timing | None = None

    def row(self) -> dict:
        ratio = None
        if self.ours and self.admin:
            ratio = round(self.ours.median_ms / self.admin.median_ms, 3)
        return {
            "name": self.name,
            "ours_median_ms": self.ours.median_ms if self.ours else None,
            "ours_p95_ms": self.ours.p95_ms if self.ours else None,
            "ours_queries": self.ours.queries if self.ours else None,
            "admin_median_ms": self.admin.median_ms if self.admin else None,
            "admin_p95_ms": self.admin.p95_ms if self.admin else None,
            "admin_queries": self.admin.queries if self.admin else None,
            "ratio": ratio,
        }


@dataclass
class Report:
    database: str
    dataset: dict
    scenarios: list[Scenario] = field(default_factory=list)
    export: dict = field(default_factory=dict)
    operations: dict = field(default_factory=dict)

    def as_json(self) -> dict:
        rows = [s.row() for s in self.scenarios]
        admin_default = next(
            (s.admin.median_ms for s in self.scenarios if s.name == "default list" and s.admin),
            None,
        )
        for scenario, row in zip(self.scenarios, rows, strict=True):
            if scenario.admin is None and admin_default and scenario.ours:
                # Pane, dialog and report are held against the admin's
                # default page.
                row["ratio_to_admin_default"] = round(scenario.ours.median_ms / admin_default, 3)
        return {
            "database": self.database,
            "dataset": self.dataset,
            "scenarios": rows,
            "export": self.export,
            "operations": self.operations,
        }


@contextlib.contextmanager
def admin_installed():
    """The Django admin and the bench's changelist, for this process only."""
    with (
        modify_settings(INSTALLED_APPS={"append": "django.contrib.admin"}),
        override_settings(
            ROOT_URLCONF="devtools.bench_urls",
            ALLOWED_HOSTS=[*settings.ALLOWED_HOSTS, "testserver"],
        ),
    ):
        yield


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    index = max(0, math.ceil(fraction * len(ordered)) - 1)
    return ordered[index]


def _count_queries(client: Client, url: str, headers: dict) -> tuple[int, int]:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url, headers=headers)
    return len(captured.captured_queries), response.status_code


def _measure(
    pairs: list[tuple[str, Client, str, dict]], repeat: int, warmup: int = 2
) -> dict[str, Timing]:
    """Time each URL ``repeat`` times, interleaved so that noise on a shared
    machine falls on all of them alike; queries are counted on a separate,
    warm request so the capture does not slow the timed ones."""
    samples: dict[str, list[float]] = {key: [] for key, *_ in pairs}
    counted: dict[str, tuple[int, int]] = {}
    for key, client, url, headers in pairs:
        for _ in range(warmup):
            client.get(url, headers=headers)
        counted[key] = _count_queries(client, url, headers)
        if counted[key][1] != 200:
            raise RuntimeError(f"{key}: {url} answered {counted[key][1]}")
    for _ in range(repeat):
        for key, client, url, headers in pairs:
            started = time.perf_counter()
            response = client.get(url, headers=headers)
            if response.streaming:
                b"".join(response.streaming_content)
            else:
                response.content  # noqa: B018  (the body is rendered by now)
            samples[key].append((time.perf_counter() - started) * 1000)
    return {
        key: Timing(
            median_ms=round(statistics.median(values), 2),
            p95_ms=round(percentile(values, 0.95), 2),
            queries=counted[key][0],
            status=counted[key][1],
        )
        for key, values in samples.items()
    }


def _search_hits(office: Office, fragment: str) -> int:
    return (
        Account.objects.filter(office=office, mailbox__isnull=False, deleted_at__isnull=True)
        .filter(
            Q(name__icontains=fragment)
            | Q(login_id__icontains=fragment)
            | Q(subaccounts__local_part__icontains=fragment)
        )
        .values("id")
        .distinct()
        .count()
    )


def _rare_fragment(office: Office) -> str:
    """A realistic partial ID an admin types: part of a surname-style ID
    (``ers-12`` of ``anders-1234``) that finds a handful of accounts (2 to
    10) in names, IDs and sub-account addresses alike, not just one."""
    candidates = (
        Account.objects.filter(office=office, mailbox__isnull=False)
        .order_by("-id")
        .values_list("login_id", flat=True)[:200]
    )
    fallback = None
    for login_id in candidates:
        for cut in (2, 3, 1):
            fragment = login_id[cut:-1] if len(login_id) > cut + 4 else ""
            if len(fragment) < 4:
                continue
            hits = _search_hits(office, fragment)
            if 2 <= hits <= 10:
                return fragment
            if hits == 1 and fallback is None:
                fallback = fragment
    if fallback:
        return fallback
    raise RuntimeError("no rare ID fragment found in the bench office")


def _busiest_account(office: Office) -> Account:
    top = (
        AccessLog.objects.filter(office=office)
        .values("account_id")
        .annotate(n=Count("id"))
        .order_by("-n")
        .first()
    )
    return Account.objects.get(pk=top["account_id"])


def build_scenarios(dataset: Dataset) -> list[Scenario]:
    from devtools.bench_admin import USAGE_COLUMN

    office = dataset.office
    domain = office.domain
    ours = reverse("mail_accounts", kwargs={"domain": domain})
    changelist = reverse("bench_admin:accounts_account_changelist")
    fragment = _rare_fragment(office)
    last_page = max(1, math.ceil(dataset.mail_accounts / PER_PAGE))
    busiest = _busiest_account(office)
    with_subs = (
        Account.objects.filter(office=office, subaccount_count__gt=0, mailbox__isnull=False)
        .order_by("-subaccount_count", "id")
        .first()
    )
    dialog_owner = busiest if busiest.subaccount_count else with_subs
    middle = max(1, (last_page + 1) // 2)
    kim_pages = max(1, math.ceil(_search_hits(office, "김") / PER_PAGE))
    deep_kim = max(1, (kim_pages + 1) // 2)
    list_scenarios = [
        ("default list", "", ""),
        ("search 김", "q=김", "q=김"),
        (f"search rare ID '{fragment}'", f"q={fragment}", f"q={fragment}"),
        (
            "both filters",
            "subaccounts=used&status=active",
            "subaccounts=used&status__exact=active",
        ),
        ("sort usage desc", "sort=-usage", f"o=-{USAGE_COLUMN}"),
        (f"last page ({last_page})", f"page={last_page}", f"p={last_page}"),
        (f"middle page ({middle})", f"page={middle}", f"p={middle}"),
        ("search kim", "q=kim", "q=kim"),
        ("search lee", "q=lee", "q=lee"),
        ("search kim, sort usage desc", "q=kim&sort=-usage", f"q=kim&o=-{USAGE_COLUMN}"),
        (f"search 김, page {deep_kim}", f"q=김&page={deep_kim}", f"q=김&p={deep_kim}"),
        # The admin has no such filter: its default page is the yardstick.
        ("flagged sign-ins (access=flagged)", "access=flagged", ""),
    ]
    scenarios = [
        Scenario(
            name=name,
            ours_url=f"{ours}?{ours_query + '&' if ours_query else ''}per_page={PER_PAGE}",
            admin_url=f"{changelist}?{admin_query}" if admin_query else changelist,
        )
        for name, ours_query, admin_query in list_scenarios
    ]
    scenarios += _users_scenarios(office)
    scenarios += _audit_scenarios(dataset)
    scenarios.append(
        Scenario(
            name=f"detail pane ({busiest.login_id}, "
            f"{AccessLog.objects.filter(account=busiest).count():,} access rows)",
            ours_url=reverse(
                "mail_account_detail", kwargs={"domain": domain, "login_id": busiest.login_id}
            ),
            htmx=True,
        )
    )
    scenarios.append(
        Scenario(
            name=f"sub-account dialog ({dialog_owner.login_id})",
            ours_url=reverse(
                "subaccounts", kwargs={"domain": domain, "login_id": dialog_owner.login_id}
            ),
            htmx=True,
        )
    )
    if dataset.big_mailbox is not None:
        big = dataset.big_mailbox
        # Its yardstick: the pane of a mailbox holding a handful of messages
        # (the one closest to 10), which should cost the same.
        small = (
            Mailbox.objects.filter(office=office, message_count__gt=0, message_count__lte=10)
            .select_related("account")
            .order_by("-message_count", "pk")
            .first()
        )
        if small is not None:
            scenarios.append(
                Scenario(
                    name=f"detail pane ({small.account.login_id}, "
                    f"{small.message_count:,} messages)",
                    ours_url=reverse(
                        "mail_account_detail",
                        kwargs={"domain": domain, "login_id": small.account.login_id},
                    ),
                    htmx=True,
                )
            )
        scenarios.append(
            Scenario(
                name=f"detail pane ({big.account.login_id}, {big.message_count:,} messages)",
                ours_url=reverse(
                    "mail_account_detail",
                    kwargs={"domain": domain, "login_id": big.account.login_id},
                ),
                htmx=True,
            )
        )
    from reports.models import OfficeUsageDay

    scenarios.append(
        Scenario(
            name=f"usage report, 180 days "
            f"({OfficeUsageDay.objects.filter(office=office).count()} daily snapshots)",
            ours_url=reverse("mail_report", kwargs={"domain": domain}) + "?period=180",
            # Timed in turns with the admin's default page, the yardstick
            # for a page that has no changelist of its own.
            admin_url=changelist,
        )
    )
    return scenarios


def _users_scenarios(office: Office) -> list[Scenario]:
    """사용자 관리 against a changelist of every listed account."""
    ours = reverse("users", kwargs={"domain": office.domain})
    changelist = reverse("bench_users_admin:accounts_account_changelist")
    listed = Account.objects.filter(office=office, deleted_at__isnull=True).count()
    last = max(1, math.ceil(listed / PER_PAGE))
    middle = max(1, (last + 1) // 2)
    return [
        Scenario(
            name=f"users: {name}", ours_url=f"{ours}?{query}", admin_url=f"{changelist}?{admin}"
        )
        for name, query, admin in (
            ("first page", "", ""),
            (f"middle page ({middle})", f"page={middle}", f"p={middle}"),
            (f"last page ({last})", f"page={last}", f"p={last}"),
            ("search 김", "q=김", "q=김"),
        )
    ]


def _audit_scenarios(dataset: Dataset) -> list[Scenario]:
    """The audit log against a changelist of AuditEvent: pages, and each
    filter (the actor and target filters against the admin's search of
    the same labels)."""
    from accounts.models import AuditEvent

    office = dataset.office
    ours = reverse("audit", kwargs={"domain": office.domain})
    changelist = reverse("bench_admin:accounts_auditevent_changelist")
    events = dataset.audit_events
    last = max(1, math.ceil(events / PER_PAGE))
    middle = max(1, (last + 1) // 2)
    newest = AuditEvent.objects.filter(office=office).order_by("-at").values_list("at", flat=True)
    day = (newest.first() or dt.datetime.now(dt.UTC)).date() - dt.timedelta(days=30)
    # The office's calendar day, as the product reads its date filter.
    zone = zoneinfo.ZoneInfo(office.time_zone)
    day_start = quote(dt.datetime.combine(day, dt.time(), zone).isoformat())
    day_end = quote(dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), zone).isoformat())
    actor = (
        AuditEvent.objects.filter(office=office, actor__isnull=False)
        .values_list("actor__login_id", flat=True)
        .first()
        or "admin"
    )
    target = (
        AuditEvent.objects.filter(office=office, target__isnull=False)
        .order_by("-at")
        .values_list("target__login_id", flat=True)
        .first()
        or "admin"
    )
    return [
        Scenario(
            name=f"audit ({events:,}): {name}",
            ours_url=f"{ours}?{query}",
            admin_url=f"{changelist}?{admin}",
        )
        for name, query, admin in (
            ("first page", "", ""),
            (f"middle page ({middle})", f"page={middle}", f"p={middle}"),
            ("action quota changes", "action=quota_change", "action__exact=quota_change"),
            (
                f"day {day}",
                f"date_from={day}&date_to={day}",
                f"at__gte={day_start}&at__lt={day_end}",
            ),
            (f"actor {actor}", f"actor={actor}", f"q={actor}"),
            (f"target {target}", f"target={target}", f"q={target}"),
        )
    ]


def run_pages(
    dataset: Dataset,
    repeat: int,
    progress: Callable[[str], None],
    only: tuple[str, ...] = (),
) -> list[Scenario]:
    # Timed as production serves them: with DEBUG on, every query of both
    # sides would also be formatted into connection.queries, templates
    # would carry debug annotations and Jinja2 would stat its files on
    # every render (2 ms of a 14 ms page at 10,000 accounts). The query
    # counts are captured separately and do not depend on it.
    with admin_installed(), override_settings(DEBUG=False):
        scenarios = build_scenarios(dataset)
        if only:
            # A second look at a few pages without re-timing all of them.
            scenarios = [s for s in scenarios if s.name.startswith(only)]
        client = Client()
        client.force_login(dataset.admin)  # a real session row, read on every request
        for scenario in scenarios:
            progress(f"timing {scenario.name}")
            headers = {"HX-Request": "true"} if scenario.htmx else {}
            pairs = [("ours", client, scenario.ours_url, headers)]
            if scenario.admin_url:
                pairs.append(("admin", client, scenario.admin_url, {}))
            timings = _measure(pairs, repeat)
            scenario.ours = timings["ours"]
            scenario.admin = timings.get("admin")
    return scenarios


# --- the export, in a fresh process ---------------------------------------


def own_peak_rss_kb() -> int:
    """This process's own peak RSS. On Linux ``ru_maxrss`` survives
    fork and exec, so a child of the big bench process would report the
    parent's peak (722 MB for xlsx and CSV alike); ``VmHWM`` belongs to the
    address space exec made, i.e. to this process alone."""
    import resource

    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def export_child(domain: str, fmt: str, output: str) -> dict:
    """Runs inside the child process: write every mail account of the office
    to ``output`` with the product's roster generator and report time and
    peak memory (the process's own, Django included)."""
    import csv

    from accounts.exports import roster_header, roster_rows, roster_write

    office = Office.objects.get(domain=domain)
    started = time.perf_counter()
    if fmt == "xlsx":
        with open(output, "wb") as fileobj:
            rows = roster_write(fileobj, office=office, params={}).rows
    else:
        _filterset, row_iter = roster_rows(office, {})
        rows = 0
        with open(output, "w", newline="", encoding="utf-8") as fileobj:
            writer = csv.writer(fileobj)
            writer.writerow(roster_header())
            for row in row_iter:
                writer.writerow(row)
                rows += 1
    seconds = time.perf_counter() - started
    return {
        "format": fmt,
        "rows": rows,
        "seconds": round(seconds, 2),
        "peak_rss_mb": round(own_peak_rss_kb() / 1024, 1),
        "bytes": os.path.getsize(output),
    }


def child_env(**extra: str) -> dict[str, str]:
    """The environment for a child process that must use the very database
    this process uses (a test database included)."""
    env = os.environ.copy()
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        env["SQLITE_PATH"] = str(db["NAME"])
        env.pop("DATABASE_URL", None)
    else:
        user = quote(db.get("USER") or "")
        password = quote(db.get("PASSWORD") or "")
        auth = f"{user}:{password}@" if password else (f"{user}@" if user else "")
        host = db.get("HOST") or "localhost"
        port = f":{db['PORT']}" if db.get("PORT") else ""
        env["DATABASE_URL"] = f"postgres://{auth}{host}{port}/{quote(db['NAME'])}"
    env.update(extra)
    return env


def time_export_start(dataset: Dataset) -> dict:
    """The request behind [목록 다운로드] for the whole office: above the
    threshold it only records a job and queues it (the job is removed
    again; no worker runs it here)."""
    from django_tasks_db.models import DBTaskResult

    from accounts.models import ExportJob

    url = reverse("mail_accounts_export", kwargs={"domain": dataset.office.domain})
    with admin_installed():
        client = Client()
        client.force_login(dataset.admin)
        before = set(ExportJob.objects.values_list("pk", flat=True))
        with CaptureQueriesContext(connection) as captured:
            started = time.perf_counter()
            response = client.get(url)
            elapsed = time.perf_counter() - started
    new_jobs = ExportJob.objects.exclude(pk__in=before)
    job_ids = [str(pk) for pk in new_jobs.values_list("pk", flat=True)]
    for task in DBTaskResult.objects.filter(status="READY"):
        if task.args_kwargs.get("args") and task.args_kwargs["args"][0] in job_ids:
            task.delete()
    new_jobs.delete()
    return {
        "start_request_ms": round(elapsed * 1000, 1),
        "start_request_status": response.status_code,
        "start_request_queries": len(captured.captured_queries),
        "background": bool(job_ids),
    }


def run_export(domain: str, workdir: Path, progress) -> dict:
    results = {}
    for fmt in ("xlsx", "csv"):
        progress(f"export as {fmt} in a fresh process")
        output = workdir / f"bench-export.{fmt}"
        started = time.perf_counter()
        completed = subprocess.run(
            [
                sys.executable,
                str(Path(settings.BASE_DIR) / "manage.py"),
                "bench",
                "--export-child",
                fmt,
                "--domain",
                domain,
                "--output",
                str(output),
            ],
            capture_output=True,
            text=True,
            check=False,
            env=child_env(),
        )
        if completed.returncode != 0:
            raise RuntimeError(f"export child failed:\n{completed.stderr[-3000:]}")
        result = json.loads(completed.stdout.strip().splitlines()[-1])
        result["wall_seconds"] = round(time.perf_counter() - started, 2)
        results[fmt] = result
        output.unlink(missing_ok=True)
    xlsx, csv_ = results["xlsx"], results["csv"]
    return {
        "rows": xlsx["rows"],
        "xlsx_seconds": xlsx["seconds"],
        "xlsx_wall_seconds": xlsx["wall_seconds"],
        "xlsx_peak_rss_mb": xlsx["peak_rss_mb"],
        "xlsx_bytes": xlsx["bytes"],
        "csv_seconds": csv_["seconds"],
        "csv_wall_seconds": csv_["wall_seconds"],
        "csv_peak_rss_mb": csv_["peak_rss_mb"],
        "ratio_xlsx_to_csv": round(xlsx["seconds"] / max(csv_["seconds"], 0.001), 2),
    }


# --- destructive operations, on an office of their own ---------------------


def run_operations(domain: str, big_subaccount: int, big_mailbox: int, progress) -> dict:
    from devtools import bench_ops

    ops_domain = f"ops.{domain}"
    old = Office.objects.filter(domain=ops_domain).first()
    if old is not None:
        drop_office(old)
    try:
        return bench_ops.measure(ops_domain, big_subaccount, big_mailbox, progress)
    finally:
        office = Office.objects.filter(domain=ops_domain).first()
        if office is not None:
            drop_office(office)


# --- printing ---------------------------------------------------------------


def format_report(report: Report) -> str:
    data = report.as_json()
    lines = [
        f"database: {report.database}",
        "dataset: " + ", ".join(f"{k} {v:,}" for k, v in report.dataset.items() if k != "domain"),
        "",
        f"{'scenario':44} {'ours med':>9} {'p95':>8} {'q':>3}   {'admin med':>9} {'p95':>8}"
        f" {'q':>3}   {'ratio':>6}",
    ]
    for row in data["scenarios"]:
        admin = (
            f"{row['admin_median_ms']:>9.1f} {row['admin_p95_ms']:>8.1f} {row['admin_queries']:>3}"
            if row["admin_median_ms"] is not None
            else f"{'-':>9} {'-':>8} {'-':>3}"
        )
        ratio = row["ratio"] if row["ratio"] is not None else row.get("ratio_to_admin_default")
        suffix = "" if row["ratio"] is not None else " (vs admin default page)"
        lines.append(
            f"{row['name'][:44]:44} {row['ours_median_ms']:>9.1f} {row['ours_p95_ms']:>8.1f}"
            f" {row['ours_queries']:>3}   {admin}   {ratio if ratio is not None else '-':>6}"
            + suffix
        )
    if data["export"]:
        lines += ["", "export: " + json.dumps(data["export"], ensure_ascii=False)]
    if data["operations"]:
        lines += ["operations:"]
        for name, values in data["operations"].items():
            lines.append(f"  {name}: " + json.dumps(values, ensure_ascii=False))
    return "\n".join(lines)


def run(
    *,
    dataset: Dataset,
    repeat: int,
    workdir: Path,
    big_subaccount: int,
    big_mailbox: int,
    progress: Callable[[str], None],
    skip: frozenset[str] = frozenset(),
    only: tuple[str, ...] = (),
) -> Report:
    report = Report(
        database=connection.vendor,
        dataset={
            "domain": dataset.office.domain,
            "accounts": dataset.accounts,
            "mail_accounts": dataset.mail_accounts,
            "access_rows": dataset.access_rows,
            "messages": dataset.messages,
            "account_snapshot_rows": AccountUsageDay.objects.filter(office=dataset.office).count(),
        },
    )
    if "pages" not in skip:
        report.scenarios = run_pages(dataset, repeat, progress, only)
    if "export" not in skip:
        progress("timing the request that starts a full export")
        report.export = time_export_start(dataset)
        report.export.update(run_export(dataset.office.domain, workdir, progress))
    if "operations" not in skip:
        report.operations = run_operations(
            dataset.office.domain, big_subaccount, big_mailbox, progress
        )
    return report
