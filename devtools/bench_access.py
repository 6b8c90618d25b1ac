"""``manage.py bench_access``: the access history at real mail-client
volume (issue 15), on the configured database (PostgreSQL for the figures).

What it does, in order, on an office of its own (``--accounts``, 10,000 by
default; built once by the demo generator and reused):

1. generates two days of that office's mail log with the load model of
   :mod:`devtools.maillog_model` (written to files, not timed);
2. **bytes per login before**: the template day's logins stored one row per
   login in a table laid out exactly as the access log was before migration
   0010 (same columns, unique key and indexes), measured with
   ``pg_total_relation_size``;
3. **cold import**: ``import_maillog``'s reader and importer on the
   template day (the day before yesterday) into an empty history;
4. **90 days of history in bulk**: that day's folded rows copied to each of
   the days before it (one INSERT … SELECT per ten days), so the office
   holds ``--days`` days at the generated rate without importing 50
   million lines;
5. **warm import**: yesterday's log (another seed) imported on top of that
   history -- the steady state, with the flags' look-ups;
6. **bytes per login after**: every partition's size over the logins
   folded into it;
7. **the pane** of the account with the most rows in the window, and of a
   light one: median and p95 of 20 requests, queries counted;
8. **the list with access=flagged** against the admin changelist's default
   page (as the bench does);
9. **prune_access_logs of one month**: ``keep_days`` chosen so that
   exactly the oldest month goes.
"""

from __future__ import annotations

import datetime as dt
import tempfile
import time
import zoneinfo
from collections.abc import Callable
from pathlib import Path

from django.db import DatabaseError, connection, transaction
from django.db.models import Count, Sum
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts import access_partitions
from accounts.access_history import access_window_start, fold_hour
from accounts.importers import BATCH_SIZE, AccessLogImporter
from accounts.maillog_files import read_once
from accounts.maintenance import prune_access_logs
from accounts.models import AccessLog, Account, AuditEvent, Office
from devtools.bench_data import drop_office
from devtools.demo import seed_office
from devtools.maillog_model import DayStats, day_events, day_lines

OLD_TABLE = "bench_old_accesslog"


def _say(progress, text):
    if progress:
        progress(text)


def ensure_office(domain: str, accounts: int, progress) -> Office:
    office = Office.objects.filter(domain=domain).first()
    if office is not None and Account.objects.filter(office=office).count() != accounts:
        drop_office(office, progress)
        office = None
    if office is None:
        _say(progress, f"seeding {accounts:,} accounts")
        office = seed_office(domain=domain, accounts=accounts, seed=11, progress=progress).office
    return office


def reset_access(office: Office) -> None:
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("DELETE FROM accounts_accesslog WHERE office_id = %s", [office.pk])
        cursor.execute(
            "DELETE FROM accounts_accessimportposition WHERE office_id = %s", [office.pk]
        )
        cursor.execute(
            "DELETE FROM accounts_auditevent WHERE office_id = %s AND action = %s",
            [office.pk, AuditEvent.Action.ACCESS_FLAGGED],
        )
        cursor.execute(
            "UPDATE accounts_mailbox SET last_access_at = NULL, last_access_protocol = '', "
            "last_access_ip = NULL, last_access_country = '', access_flag = NULL, access_countries = NULL, "
            "access_flag_at = NULL WHERE office_id = %s",
            [office.pk],
        )


def users_of(office: Office) -> list[str]:
    return list(
        Account.objects.filter(office=office, mailbox__isnull=False, deleted_at__isnull=True)
        .order_by("pk")
        .values_list("login_id", flat=True)
    )


def table_bytes(name: str) -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_total_relation_size(%s::regclass)", [name])
        return cursor.fetchone()[0]


def access_log_bytes() -> int:
    """The partitioned access log: every partition with its indexes."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT COALESCE(SUM(pg_total_relation_size(inhrelid)), 0) FROM pg_inherits "
            "WHERE inhparent = 'accounts_accesslog'::regclass"
        )
        return int(cursor.fetchone()[0])


def old_layout_bytes(office: Office, users: list[str], day: dt.datetime, seed: int) -> dict:
    """One row per login, as before migration 0010 (its DDL, written out)."""
    ids = dict(Account.objects.filter(office=office).values_list("login_id", "pk"))
    import random

    rng = random.Random(seed)
    rows = []
    for moment, protocol, user, ip, ok in day_events(users, day, seed=seed):
        account_id = ids.get(user)
        if account_id is None:
            continue
        if protocol == "pop3":
            session = f"{rng.getrandbits(96):024x}"[:16]
        else:
            session = f"{rng.getrandbits(44):011X}" if ok else ""
        rows.append(
            (office.pk, account_id, protocol, moment.replace(microsecond=0), ip, ok, session)
        )
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {OLD_TABLE}")
        cursor.execute(
            f"CREATE TABLE {OLD_TABLE} (id bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY, "
            "protocol varchar(4) NOT NULL, at timestamptz NOT NULL, ip inet NOT NULL, "
            "country varchar(2) NOT NULL, succeeded boolean NOT NULL, "
            "session_id varchar(64) NOT NULL, account_id bigint NOT NULL, "
            "office_id bigint NOT NULL, CONSTRAINT bench_old_unique_event UNIQUE "
            "(account_id, protocol, at, ip, succeeded, session_id))"
        )
        cursor.execute(f"CREATE INDEX bench_old_account_at ON {OLD_TABLE} (account_id, at DESC)")
        cursor.execute(f"CREATE INDEX bench_old_office_at ON {OLD_TABLE} (office_id, at)")
        cursor.execute(f"CREATE INDEX bench_old_account ON {OLD_TABLE} (account_id)")
        cursor.execute(f"CREATE INDEX bench_old_office ON {OLD_TABLE} (office_id)")
        for start in range(0, len(rows), 50_000):
            chunk = rows[start : start + 50_000]
            cursor.execute(
                f"INSERT INTO {OLD_TABLE} (office_id, account_id, protocol, at, ip, succeeded, "
                "session_id, country) SELECT o, a, p, t, i, s, sid, 'KR' FROM unnest("
                "%s::bigint[], %s::bigint[], %s::text[], %s::timestamptz[], %s::text[]::inet[], "
                "%s::boolean[], %s::text[]) AS v(o, a, p, t, i, s, sid) ON CONFLICT DO NOTHING",
                [list(column) for column in zip(*chunk, strict=True)],
            )
        cursor.execute(f"VACUUM ANALYZE {OLD_TABLE}")
        cursor.execute(f"SELECT count(*) FROM {OLD_TABLE}")
        stored = cursor.fetchone()[0]
    size = table_bytes(OLD_TABLE)
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE {OLD_TABLE}")
    return {"logins": stored, "bytes": size, "bytes_per_login": round(size / max(1, stored), 1)}


def timed_import(office: Office, path: Path, batch_size: int = BATCH_SIZE) -> dict:
    """As ``import_maillog FILE`` does, with its default batch size."""
    importer = AccessLogImporter(office=office, batch_size=batch_size)
    started = time.perf_counter()
    read_once(importer, [str(path)], batch_size)
    stats = importer.finish()
    seconds = time.perf_counter() - started
    return {
        "lines": stats.lines,
        "logins": stats.imported,
        "rows_written": stats.rows_written,
        "seconds": round(seconds, 1),
        "lines_per_second": round(stats.lines / seconds),
        "flagged": dict(stats.flagged),
    }


def copy_history(office: Office, template: dt.datetime, days: int, progress) -> None:
    """The template day's folded rows copied to each of the ``days - 2``
    days before it, ten days per statement."""
    start, end = fold_hour(template), fold_hour(template + dt.timedelta(days=1))
    access_partitions.ensure_months([template - dt.timedelta(days=d) for d in range(0, days + 1)])
    step = 10
    for low in range(1, days - 1, step):
        high = min(days - 2, low + step - 1)
        _say(progress, f"history: days {low}-{high} before the template day")
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                "INSERT INTO accounts_accesslog (office_id, account_id, protocol, hour, ip, "
                "country, succeeded, first_at, last_at, count, flag) "
                "SELECT office_id, account_id, protocol, hour - k * interval '1 day', ip, country, "
                "succeeded, first_at - k * interval '1 day', last_at - k * interval '1 day', "
                "count, flag FROM accounts_accesslog, generate_series(%s, %s) AS k "
                "WHERE office_id = %s AND hour >= %s AND hour < %s",
                [low, high, office.pk, start, end],
            )
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE accounts_accesslog")
        # The bulk copy left gigabytes of dirty pages and WAL: without a
        # checkpoint here, the import timed next would share the disk with
        # writing them out -- a cost of building the bench's history, not
        # of a day's import into an office that has had its history for
        # months. (It needs a superuser or pg_checkpoint; without one the
        # import is timed as it comes.)
        try:
            cursor.execute("CHECKPOINT")
        except DatabaseError as error:
            _say(progress, f"no checkpoint before the timed import: {error}".strip())


def median_ms(values):
    ordered = sorted(values)
    return round(ordered[len(ordered) // 2], 2)


def time_pane(client: Client, office: Office, account: Account, repeat: int) -> dict:
    from devtools.bench import _measure

    url = reverse(
        "mail_account_detail", kwargs={"domain": office.domain, "login_id": account.login_id}
    )
    timing = _measure([("pane", client, url, {"HX-Request": "true"})], repeat)["pane"]
    return {"median_ms": timing.median_ms, "p95_ms": timing.p95_ms, "queries": timing.queries}


def run(
    *,
    domain: str,
    accounts: int,
    days: int,
    repeat: int,
    progress: Callable[[str], None] | None = None,
) -> dict:
    if connection.vendor != "postgresql":
        raise RuntimeError("bench_access measures PostgreSQL (partitions, sizes)")
    office = ensure_office(domain, accounts, progress)
    reset_access(office)
    users = users_of(office)
    zone = zoneinfo.ZoneInfo(office.time_zone)
    today = timezone.now().astimezone(zone).date()
    yesterday = dt.datetime.combine(today - dt.timedelta(days=1), dt.time(), zone)
    template = yesterday - dt.timedelta(days=1)
    report: dict = {"database": connection.vendor, "accounts": accounts, "days": days}
    with tempfile.TemporaryDirectory(prefix="bench-access-") as workdir:
        files = {}
        for name, day, seed in (("template", template, 2), ("yesterday", yesterday, 1)):
            _say(progress, f"generating {name}'s log ({day:%Y-%m-%d})")
            stats = DayStats()
            path = Path(workdir) / f"{name}.log"
            with path.open("w", encoding="utf-8") as handle:
                handle.writelines(day_lines(users, office.domain, day, seed=seed, stats=stats))
            files[name] = path
            report[f"{name}_log"] = {
                "date": f"{day:%Y-%m-%d}",
                "lines": stats.lines,
                "logins": stats.logins,
                "pop3_clients": stats.pop3_users,
                "phones": stats.phones,
                "travellers": stats.travellers,
                "attackers": stats.attackers,
                "bytes": path.stat().st_size,
            }
        _say(progress, "bytes per login in the old one-row-per-login layout")
        report["before"] = old_layout_bytes(office, users, template, seed=2)
        _say(progress, "cold import of the template day")
        report["cold_import"] = timed_import(office, files["template"])
        copy_history(office, template, days, progress)
        _say(progress, "warm import of yesterday on top of the history")
        report["warm_import"] = timed_import(office, files["yesterday"])
        _say(progress, "re-importing yesterday (must add nothing)")
        again = timed_import(office, files["yesterday"])
        report["reimport_logins_added"] = again["logins"]
    with connection.cursor() as cursor:
        # The imports moved every mailbox's last access many times: as
        # autovacuum would, before anything is timed.
        cursor.execute("VACUUM ANALYZE")
    totals = AccessLog.objects.filter(office=office).aggregate(
        rows=Count("pk"), logins=Sum("count")
    )
    size = access_log_bytes()
    report["after"] = {
        "rows": totals["rows"],
        "logins": totals["logins"],
        "bytes": size,
        "bytes_per_login": round(size / max(1, totals["logins"]), 1),
        "bytes_per_row": round(size / max(1, totals["rows"]), 1),
        "logins_per_row": round(totals["logins"] / max(1, totals["rows"]), 2),
    }
    report["after"]["reduction"] = round(
        report["before"]["bytes_per_login"] / max(0.1, report["after"]["bytes_per_login"]), 1
    )
    # The pane: the account with the most rows in the window, and a light one.
    window_start = access_window_start(office.time_zone)
    per_account = (
        AccessLog.objects.filter(office=office, hour__gte=fold_hour(window_start))
        .values("account_id")
        .annotate(rows=Count("pk"), logins=Sum("count"))
        .order_by("-rows")
    )
    heaviest = per_account.first()
    lightest = per_account.last()
    from devtools.bench import admin_installed

    admin = Account.objects.get(office=office, login_id="admin")
    panes = {}
    with admin_installed():  # (its settings let the test client in)
        client = Client()
        client.force_login(admin)
        for label, entry in (("heaviest", heaviest), ("lightest", lightest)):
            account = Account.objects.get(pk=entry["account_id"])
            _say(progress, f"timing the pane of {account.login_id} ({entry['rows']:,} rows)")
            panes[label] = {
                "login_id": account.login_id,
                "rows": entry["rows"],
                "logins": entry["logins"],
                **time_pane(client, office, account, repeat),
            }
    report["pane"] = panes
    report["list_flagged"] = time_flagged_list(office, admin, repeat, progress)
    report["prune"] = time_prune(progress)
    return report


def time_flagged_list(office: Office, admin: Account, repeat: int, progress) -> dict:
    from devtools.bench import _measure, admin_installed

    _say(progress, "timing the list with access=flagged against the admin changelist")
    with admin_installed():
        client = Client()
        client.force_login(admin)
        ours = reverse("mail_accounts", kwargs={"domain": office.domain})
        changelist = reverse("bench_admin:accounts_account_changelist")
        timings = _measure(
            [
                ("ours", client, f"{ours}?access=flagged&per_page=50", {}),
                ("admin", client, changelist, {}),
            ],
            repeat,
        )
    flagged = office.mailboxes.filter(access_flag_at__gte=access_window_start(office.time_zone))
    return {
        "flagged_accounts": flagged.count(),
        "ours_median_ms": timings["ours"].median_ms,
        "ours_queries": timings["ours"].queries,
        "admin_median_ms": timings["admin"].median_ms,
        "ratio": round(timings["ours"].median_ms / timings["admin"].median_ms, 3),
    }


def time_prune(progress) -> dict:
    """prune_access_logs with keep_days such that exactly the oldest month
    ends before the cutoff."""
    months = sorted(access_partitions.existing_months().items())
    filled = [(m, n) for m, n in months if access_partitions.estimated_rows(n) > 0]
    oldest, name = filled[0]
    end = access_partitions.next_month(oldest)
    now = timezone.now()
    keep_days = (now - end).days
    rows = access_partitions.estimated_rows(name)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*), COALESCE(SUM(count), 0) FROM {name}")
        exact_rows, logins = cursor.fetchone()
    _say(progress, f"pruning {name} ({exact_rows:,} rows, {logins:,} logins)")
    started = time.perf_counter()
    result = prune_access_logs(keep_days=keep_days)
    seconds = time.perf_counter() - started
    return {
        "partition": name,
        "rows": exact_rows,
        "logins": int(logins),
        "keep_days": keep_days,
        "dropped": [n for n, _ in result.partitions],
        "estimated_rows": rows,
        "seconds": round(seconds, 3),
    }
