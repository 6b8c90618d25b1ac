"""The benchmark's dataset: a big office built once and reused.

Accounts, mailboxes, folders and sub-accounts come from the demo generator
(:func:`devtools.demo.seed_office`, bulk inserts); the access log and the
messages are then topped up to their targets with set-based SQL (a recursive
series crossed with the mailboxes), so millions of rows take minutes, and the
counters and the denormalised last access are recomputed from the rows with
one UPDATE each. The same SQL runs on SQLite and PostgreSQL; only the date
arithmetic and the ``inet`` cast differ.
"""

from __future__ import annotations

import datetime as dt
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from django.db import connection, transaction
from django.db.models.functions import Mod
from django.utils import timezone

from accounts import access_partitions, tallies
from accounts.models import (
    AccessFlag,
    AccessLog,
    Account,
    AuditEvent,
    Folder,
    Mailbox,
    Message,
    Office,
)
from devtools.demo import require_embedded_store, seed_office
from devtools.usage_history import build_history, has_history
from reports.snapshots import take_snapshot

HISTORY_SECONDS = 183 * 86400  # six months of access, like the demo

# Tables holding an office's rows, children first (one DELETE each).
OFFICE_TABLES = (
    # the report's snapshots (they point at accounts)
    "reports_accountusageday",
    "reports_officeusageday",
    "reports_countrysigninday",
    "accounts_accesslog",
    "accounts_message",
    "accounts_senderaddress",
    "subaccounts_subaccount",
    "accounts_address",
    "accounts_folder",
    "accounts_mailbox",
    "accounts_auditevent",
)


@dataclass
class Targets:
    accounts: int
    access_rows: int
    messages: int
    heavy_history: int
    audit_events: int
    big_mailbox: int

    @classmethod
    def for_accounts(cls, accounts: int) -> Targets:
        # 100,000 accounts -> 5,000,000 access rows and 2,000,000 messages;
        # the busiest account gets 50,000 access rows of its own.
        return cls(
            accounts=accounts,
            access_rows=50 * accounts,
            messages=20 * accounts,
            heavy_history=min(50_000, max(100, accounts // 2)),
            # 100,000 accounts -> 1,000,000 audit events and one mailbox of
            # 200,000 messages (the pane must not read them).
            audit_events=10 * accounts,
            big_mailbox=2 * accounts,
        )


@dataclass
class Dataset:
    office: Office
    admin: Account
    accounts: int
    mail_accounts: int
    access_rows: int
    messages: int
    built_seconds: float
    reused: bool
    audit_events: int = 0
    big_mailbox: Mailbox | None = None


def _say(progress: Callable[[str], None] | None, text: str) -> None:
    if progress:
        progress(text)


def drop_office(office: Office, progress=None) -> None:
    """Delete an office and everything in it with one statement per table
    (the ORM's cascade would load millions of rows into Python)."""
    from django.apps import apps

    tables = list(OFFICE_TABLES)
    if apps.is_installed("accounts") and _table_exists("accounts_exportjob"):
        tables.insert(0, "accounts_exportjob")
    with transaction.atomic(), connection.cursor() as cursor:
        for table in tables:
            _say(progress, f"deleting {table} of {office.domain}")
            cursor.execute(f"DELETE FROM {table} WHERE office_id = %s", [office.pk])
        cursor.execute("DELETE FROM accounts_account WHERE office_id = %s", [office.pk])
        cursor.execute("DELETE FROM accounts_office WHERE id = %s", [office.pk])


def _table_exists(name: str) -> bool:
    return name in connection.introspection.table_names()


def ensure_dataset(
    *,
    domain: str,
    accounts: int,
    progress: Callable[[str], None] | None = None,
    pane_mailbox: int | None = None,
) -> Dataset:
    """The bench office at the requested size: reused when it is already
    there, topped up when rows are missing, rebuilt when its size differs.
    ``pane_mailbox`` sets how many messages the big mailbox (whose pane is
    timed) holds, instead of 2 per account."""
    require_embedded_store()
    started = time.perf_counter()
    targets = Targets.for_accounts(accounts)
    if pane_mailbox is not None:
        targets.big_mailbox = pane_mailbox
    office = Office.objects.filter(domain=domain).first()
    reused = office is not None
    if office is not None and Account.objects.filter(office=office).count() != accounts:
        _say(progress, f"{domain} has another size: rebuilding it")
        drop_office(office, progress)
        office = None
        reused = False
    if office is None:
        _say(progress, f"seeding {accounts:,} accounts")
        office = seed_office(
            domain=domain,
            accounts=accounts,
            seed=7,
            office_name="Bench 주식회사",
            progress=progress,
        ).office
    access_now = AccessLog.objects.filter(office=office).count()
    messages_now = Message.objects.filter(office=office).count()
    heavy = _heavy_account(office)
    heavy_now = AccessLog.objects.filter(account=heavy).count()
    changed = False
    # Generated logins that share a fold key (account, hour, protocol, IP,
    # result) are one row: a top-up reaches about 95 % of its target, so
    # 90 % counts as reached.
    if heavy_now < targets.heavy_history * 0.9:
        _say(progress, f"giving {heavy.login_id} a long access history")
        _insert_access(office, targets.heavy_history - heavy_now, only_account=heavy)
        access_now += targets.heavy_history - heavy_now
        changed = True
    if access_now < targets.access_rows * 0.9:
        _top_up_access(office, targets.access_rows - access_now, progress)
        changed = True
    if messages_now < targets.messages:
        _top_up_messages(office, targets.messages - messages_now, progress)
        changed = True
    audit_now = AuditEvent.objects.filter(office=office).count()
    if audit_now < targets.audit_events:
        _top_up_audit(office, targets.audit_events - audit_now, progress)
        changed = True
    if not has_history(office):
        _say(progress, "building 180 days of usage snapshots")
        build_history(office, progress=progress)
        changed = True
    if changed:
        reused = False
        _say(progress, "recomputing counters and last access")
        recompute_denormalised(office)
    if big_mailbox(office, targets.big_mailbox) is None:
        reused = False
        target = _big_mailbox_candidate(office)
        _say(progress, f"giving {target.account.login_id} {targets.big_mailbox:,} messages")
        inbox = Folder.objects.get(mailbox=target, role=Folder.Role.INBOX)
        insert_messages(inbox, targets.big_mailbox - target.message_count)
        changed = True
    analyze = changed
    if not Mailbox.objects.filter(office=office, access_flag_at__isnull=False).exists():
        # Flags change no counter or snapshot (a small office may have
        # none), but they rewrite mailbox rows: vacuum after them too, or
        # the mailbox counts stop being index-only.
        _say(progress, "flagging sign-ins from abroad")
        if flag_foreign_sign_ins(office):
            analyze = True
    if changed:
        take_snapshot(office)  # today's row from the recomputed counters
    if tallies.fold(office):
        # The counts as the nightly job leaves them (an office built by an
        # earlier version of the seed kept a row per mailbox).
        analyze = True
    if changed or analyze:
        # Fresh statistics for the planner, and on PostgreSQL a visibility
        # map so that counts can be index-only (autovacuum would get there
        # later; the benchmark should not depend on when).
        _say(progress, "analyzing")
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE" if connection.vendor == "postgresql" else "ANALYZE")
    mail_accounts = Mailbox.objects.filter(office=office).count()
    return Dataset(
        office=office,
        admin=Account.objects.get(office=office, login_id="admin"),
        accounts=accounts,
        mail_accounts=mail_accounts,
        access_rows=AccessLog.objects.filter(office=office).count(),
        messages=Message.objects.filter(office=office).count(),
        built_seconds=time.perf_counter() - started,
        reused=reused,
        audit_events=AuditEvent.objects.filter(office=office).count(),
        big_mailbox=big_mailbox(office, targets.big_mailbox),
    )


# Countries the generated history visits rarely (a few thousand accounts
# each, where Japan and the US are visited by most): the sign-ins an import
# would flag as abroad, so the access=flagged list has a realistic few
# percent of the office to page through.
RARE_COUNTRIES = ("CN", "DE", "PH")


def flag_foreign_sign_ins(office: Office) -> int:
    """Flag each mailbox whose history holds a successful sign-in from a
    rare country, at its newest such sign-in: what the importer's abroad
    flag would have left on the mailbox, set in one statement."""
    marks = ", ".join(["%s"] * len(RARE_COUNTRIES))
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {Mailbox._meta.db_table} SET access_flag = %s, access_flag_at = flagged.at "
            f"FROM (SELECT account_id, MAX(last_at) AS at FROM {AccessLog._meta.db_table} "
            f"WHERE office_id = %s AND succeeded AND country IN ({marks}) "
            f"GROUP BY account_id) flagged "
            f"WHERE {Mailbox._meta.db_table}.account_id = flagged.account_id",
            [AccessFlag.FOREIGN.value, office.pk, *RARE_COUNTRIES],
        )
        return cursor.rowcount


def _heavy_account(office: Office) -> Account:
    """The account given the longest history: a user with the most
    sub-accounts, so its pane and dialog show everything at once."""
    return (
        Account.objects.filter(office=office, kind=Account.Kind.USER, mailbox__isnull=False)
        .exclude(login_id__in=["admin", "itadmin"])
        .order_by("-subaccount_count", "id")
        .first()
    )


def big_mailbox(office: Office, messages: int) -> Mailbox | None:
    """The bench's big mailbox, once it holds ``messages`` messages."""
    return (
        Mailbox.objects.filter(office=office, message_count__gte=messages)
        .select_related("account")
        .order_by("-message_count")
        .first()
    )


def _big_mailbox_candidate(office: Office) -> Mailbox:
    # A plain user's mailbox (not the one with the long access history).
    heavy = _heavy_account(office)
    return (
        Mailbox.objects.filter(office=office, account__kind=Account.Kind.USER)
        .exclude(account=heavy)
        .exclude(account__login_id__in=["admin", "itadmin"])
        .select_related("account")
        .order_by("account_id")[10]
    )


# The actions of the generated audit log, with the share of a hundred each
# gets; the rest are user changes. Admin events have an actor, failed logins
# only the label of the ID that was tried.
AUDIT_MIX = (
    ("login", 12),
    ("logout", 8),
    ("login_failed", 5),
    ("subaccount_add", 10),
    ("subaccount_delete", 5),
    ("quota_change", 10),
    ("password_reset", 5),
    ("roster_export", 2),
    ("mail_password", 3),
)
AUDIT_ACTORS = 20  # admins who act, among the office's first accounts


def _top_up_audit(office: Office, needed: int, progress) -> None:
    """``needed`` more audit events, set-based: every listed account is the
    target of about the same number of events spread over a year, acted on
    by one of a handful of admins."""
    accounts = Account.objects.filter(office=office).order_by("id")
    actors = list(accounts.values_list("id", "login_id")[:AUDIT_ACTORS])
    targets = accounts.count()
    per_account = math.ceil(needed / max(1, targets))
    cases, start = [], 0
    for action, share in AUDIT_MIX:
        cases.append(f"WHEN b.k < {start + share} THEN '{action}'")
        start += share
    action_sql = f"CASE {' '.join(cases)} ELSE 'account_update' END"
    actor_case = " ".join(f"WHEN {i} THEN {pk}" for i, (pk, _login) in enumerate(actors))
    label_case = " ".join(f"WHEN {i} THEN '{login}'" for i, (_pk, login) in enumerate(actors))
    moment, inet = _vendor_sql()
    secs = f"(g.n * 7919 + a.id * 104729) %% {365 * 86400}"
    pick = f"((g.n * 7 + a.id * 13) %% {len(actors)})"
    sql = (
        _series(per_account) + ", b0 AS (SELECT a.id AS aid, a.login_id AS alogin, g.n AS n, "
        "(g.n * 37 + a.id * 11) %% 100 AS k, "
        + pick
        + " AS who, "
        + moment.format(secs=secs)
        + " AS at FROM accounts_account a, g WHERE a.office_id = %s AND a.id BETWEEN %s AND %s) "
        "INSERT INTO accounts_auditevent "
        "(office_id, actor_id, actor_label, action, target_id, target_label, data, ip, at) "
        "SELECT %s, "
        f"CASE WHEN b.k BETWEEN 20 AND 24 THEN NULL ELSE CASE b.who {actor_case} END END, "
        f"CASE WHEN b.k BETWEEN 20 AND 24 THEN b.alogin ELSE CASE b.who {label_case} END END, "
        f"{action_sql}, "
        "CASE WHEN b.k < 25 OR b.k BETWEEN 58 AND 59 THEN NULL ELSE b.aid END, "
        "CASE WHEN b.k < 25 OR b.k BETWEEN 58 AND 59 THEN '' ELSE b.alogin END, "
        "'{}', " + inet.format(ip="'211.234.10.' || (b.n %% 250 + 1)") + ", b.at FROM b0 AS b"
    )
    ids = list(accounts.values_list("id", flat=True))
    step = max(1, 400_000 // per_account)
    for index in range(0, len(ids), step):
        chunk = ids[index : index + step]
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql, [_now_param(), office.pk, chunk[0], chunk[-1], office.pk])
        _say(progress, f"audit events: {AuditEvent.objects.filter(office=office).count():,}")


def _vendor_sql() -> tuple[str, str]:
    """(expression of ``%s``-now minus ``{secs}`` seconds, inet cast template)."""
    if connection.vendor == "postgresql":
        return "(%s::timestamptz - ({secs}) * interval '1 second')", "CAST({ip} AS inet)"
    return "strftime('%%Y-%%m-%%d %%H:%%M:%%S', %s, '-' || ({secs}) || ' seconds')", "{ip}"


def _hour_sql(moment: str) -> str:
    """The start of the UTC hour of a moment expression (the fold key)."""
    if connection.vendor == "postgresql":
        return f"(date_trunc('hour', ({moment}) AT TIME ZONE 'UTC') AT TIME ZONE 'UTC')"
    return f"strftime('%%Y-%%m-%%d %%H:00:00', {moment})"


def _now_param():
    now = timezone.now().replace(microsecond=0)
    if connection.vendor == "postgresql":
        return now
    return now.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S")


def _series(count: int) -> str:
    limit = int(count)
    return f"WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < {limit}) "


def _insert_access(
    office: Office, per_account: int, *, only_account: Account | None = None, id_range=None
) -> None:
    moment, inet = _vendor_sql()
    secs = f"(g.n * 7919 + a.id * 104729) %% {HISTORY_SECONDS}"
    ip = inet.format(
        ip="CASE (g.n + a.id) %% 10 "
        "WHEN 0 THEN '8.8.' || ((g.n * 13 + a.id) %% 254 + 1) || '.' || (a.id %% 254 + 1) "
        "WHEN 1 THEN '133.242.' || ((g.n * 13 + a.id) %% 254 + 1) || '.' || (a.id %% 254 + 1) "
        "ELSE '211.234.' || ((g.n * 31 + a.id) %% 254 + 1) || '.' || (a.id %% 254 + 1) END"
    )
    where = ["a.office_id = %s", "m.account_id = a.id"]
    params: list = [_now_param(), office.pk]
    if only_account is not None:
        where.append("a.id = %s")
        params.append(only_account.pk)
    else:
        where.append("a.id %% 5 <> 0")
        where.append("a.id BETWEEN %s AND %s")
        params.extend(id_range)
    at = moment.format(secs=secs)
    # One login per generated row, folded like the importer's rows (hour,
    # first = last = the login); a second login with the same fold key in
    # the same hour is left out.
    sql = (
        _series(per_account) + "INSERT INTO accounts_accesslog "
        "(office_id, account_id, protocol, hour, ip, country, succeeded, first_at, last_at, "
        "count, flag) "
        "SELECT a.office_id, a.id, "
        "CASE WHEN (g.n + a.id) %% 3 = 0 THEN 'smtp' ELSE 'pop3' END, "
        + _hour_sql(at)
        + ", "
        + ip
        + ", CASE (g.n + a.id) %% 10 WHEN 0 THEN 'US' WHEN 1 THEN 'JP' ELSE 'KR' END, "
        "((g.n + a.id) %% 20 <> 0), " + at + ", " + at + ", 1, '' "
        "FROM accounts_account a, accounts_mailbox m, g WHERE "
        + " AND ".join(where)
        + " ON CONFLICT DO NOTHING"
    )
    params = params[:1] * 3 + params[1:]
    now = timezone.now()
    access_partitions.ensure_months(
        [now - dt.timedelta(days=d) for d in range(0, HISTORY_SECONDS // 86400 + 31, 28)]
    )
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, params)


def _id_chunks(office: Office, rows_per_account: int, max_rows: int = 400_000):
    ids = Mailbox.objects.filter(office=office).order_by("account_id")
    first = ids.values_list("account_id", flat=True).first()
    last = ids.values_list("account_id", flat=True).last()
    step = max(1, max_rows // max(1, rows_per_account))
    start = first
    while start <= last:
        yield (start, start + step - 1)
        start += step


def _top_up_access(office: Office, needed: int, progress) -> None:
    eligible = (
        Mailbox.objects.filter(office=office)
        .annotate(bucket=Mod("account_id", 5))
        .exclude(bucket=0)  # mirrors the INSERT's ``a.id % 5 <> 0``
        .count()
    )
    per_account = math.ceil(needed / max(1, eligible))
    done = 0
    for id_range in _id_chunks(office, per_account * 5 // 4):
        _insert_access(office, per_account, id_range=id_range)
        done = AccessLog.objects.filter(office=office).count()
        _say(progress, f"access rows: {done:,}")


def _top_up_messages(office: Office, needed: int, progress) -> None:
    mailboxes = Mailbox.objects.filter(office=office).count()
    per_mailbox = math.ceil(needed / max(1, mailboxes))
    moment, _ = _vendor_sql()
    secs = f"(g.n * 7919 + f.id * 104729) %% {3 * 365 * 86400}"
    for low, high in _id_chunks(office, per_mailbox):
        sql = (
            _series(per_mailbox) + "INSERT INTO accounts_message "
            "(office_id, mailbox_id, folder_id, size_bytes, subject, sender, received_at) "
            "SELECT f.office_id, f.mailbox_id, f.id, "
            "600 + (g.n * 7919 + f.id * 104729) %% 400000, "
            "'벤치 메일 ' || g.n, 'bench@partner.example.net', "
            + moment.format(secs=secs)
            + " FROM accounts_folder f, accounts_mailbox m, g "
            "WHERE f.office_id = %s AND f.role = 'inbox' AND m.id = f.mailbox_id "
            "AND m.account_id BETWEEN %s AND %s"
        )
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql, [_now_param(), office.pk, low, high])
        _say(progress, f"messages: {Message.objects.filter(office=office).count():,}")


def recompute_denormalised(office: Office) -> None:
    """Counters (the mailboxes' and the folders') equal to the messages, and
    last access equal to the newest successful access row: one set-based
    UPDATE each."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "UPDATE accounts_mailbox SET "
            "used_bytes = COALESCE((SELECT SUM(size_bytes) FROM accounts_message m "
            "  WHERE m.mailbox_id = accounts_mailbox.id), 0), "
            "message_count = (SELECT COUNT(*) FROM accounts_message m "
            "  WHERE m.mailbox_id = accounts_mailbox.id) "
            "WHERE office_id = %s",
            [office.pk],
        )
        cursor.execute(FOLDER_RECOUNT + "WHERE office_id = %s", [office.pk])
        newest = (
            "FROM accounts_accesslog l WHERE l.account_id = accounts_mailbox.account_id "
            "AND l.succeeded"
        )
        cursor.execute(
            "UPDATE accounts_mailbox SET "
            "(last_access_at, last_access_protocol, last_access_ip, last_access_country) = "
            f"(SELECT l.last_at, l.protocol, l.ip, l.country {newest} "
            "ORDER BY l.last_at DESC LIMIT 1) "
            f"WHERE office_id = %s AND EXISTS (SELECT 1 {newest})",
            [office.pk],
        )


# Each folder's counters from its messages (the (folder, size_bytes) index).
FOLDER_RECOUNT = (
    "UPDATE accounts_folder SET "
    "size_bytes = COALESCE((SELECT SUM(size_bytes) FROM accounts_message m "
    "  WHERE m.folder_id = accounts_folder.id), 0), "
    "message_count = (SELECT COUNT(*) FROM accounts_message m "
    "  WHERE m.folder_id = accounts_folder.id) "
)


def insert_messages(folder, count: int) -> None:
    """``count`` messages into one folder with one INSERT, and the mailbox's
    and the folder's counters recomputed with them, so that the counters
    equal the messages (as the services keep them) before the operation
    being measured."""
    moment, _ = _vendor_sql()
    sql = (
        _series(count) + "INSERT INTO accounts_message "
        "(office_id, mailbox_id, folder_id, size_bytes, subject, sender, received_at) "
        "SELECT %s, %s, %s, 1000 + g.n %% 5000, 'bench ' || g.n, 'bench@partner.example.net', "
        + moment.format(secs="g.n * 60")
        + " FROM g"
    )
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, [folder.office_id, folder.mailbox_id, folder.pk, _now_param()])
        cursor.execute(
            "UPDATE accounts_mailbox SET "
            "used_bytes = COALESCE((SELECT SUM(size_bytes) FROM accounts_message m "
            "  WHERE m.mailbox_id = accounts_mailbox.id), 0), "
            "message_count = (SELECT COUNT(*) FROM accounts_message m "
            "  WHERE m.mailbox_id = accounts_mailbox.id) "
            "WHERE id = %s",
            [folder.mailbox_id],
        )
        cursor.execute(FOLDER_RECOUNT + "WHERE id = %s", [folder.pk])
