"""`manage.py bench` runs end to end on a small office, so it cannot rot."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import call_command
from django.db.models import Sum

from accounts.models import AccessLog, Account, Mailbox, Message, Office


@pytest.mark.django_db(transaction=True)
def test_bench_runs_on_a_small_office_and_reports_every_part(tmp_path, settings):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.MAILADMIN_EXPORT_BACKGROUND_ROWS = 50
    out = tmp_path / "bench.json"
    stdout = io.StringIO()
    call_command(
        "bench",
        "--accounts",
        "200",
        "--repeat",
        "2",
        "--json",
        str(out),
        stdout=stdout,
        stderr=io.StringIO(),
    )
    data = json.loads(out.read_text())
    assert data["dataset"]["accounts"] == 200
    assert data["dataset"]["access_rows"] >= 200 * 50
    assert data["dataset"]["messages"] >= 200 * 20

    names = [s["name"] for s in data["scenarios"]]
    expected = [
        "default list",
        "search 김",
        "search rare ID '",
        "both filters",
        "sort usage desc",
        "last page (",
        "middle page (",
        "search kim",
        "search lee",
        "search kim, sort usage desc",
        "search 김, page ",
        "flagged sign-ins (access=flagged)",
        "users: first page",
        "users: middle page (",
        "users: last page (",
        "users: search 김",
        "audit (2,000): first page",
        "audit (2,000): middle page (",
        "audit (2,000): action ",
        "audit (2,000): day ",
        "audit (2,000): actor ",
        "audit (2,000): target ",
        "detail pane (",
        "sub-account dialog (",
        "detail pane (",  # a mailbox of at most 10 messages, the yardstick
        "detail pane (",
        "usage report, 180 days",
    ]
    assert len(names) == len(expected), names
    for name, start in zip(names, expected, strict=True):
        assert name.startswith(start), (name, start)
    assert names[-2].endswith("400 messages)")  # the big mailbox's pane
    small_pane, big_pane = data["scenarios"][-3], data["scenarios"][-2]
    assert small_pane["name"].endswith(" messages)") and small_pane["name"] != big_pane["name"]
    # Folder figures are counters: the big mailbox's pane costs no query more.
    assert big_pane["ours_queries"] == small_pane["ours_queries"]
    *scenarios, report = data["scenarios"]
    lists = [s for s in scenarios if s["admin_median_ms"] is not None]
    others = [s for s in scenarios if s["admin_median_ms"] is None]
    assert len(lists) == 22 and len(others) == 4
    for scenario in lists:
        # Everything counted, the session (with its account and office) included.
        assert 2 <= scenario["ours_queries"] <= 5, scenario
        assert scenario["admin_queries"] >= 4, scenario
        assert scenario["ratio"] is not None
    for scenario in others:  # the panes and the dialog
        assert scenario["ours_queries"] <= 7, scenario
    # The report is timed in turns with the admin's default page.
    assert report["ours_queries"] == 4, report
    assert report["ratio"] is not None

    export = data["export"]
    assert export["rows"] == data["dataset"]["mail_accounts"]
    assert export["xlsx_peak_rss_mb"] > 0 and export["csv_seconds"] > 0
    # The child's own peak, not the parent's inherited one (which is far
    # above either after building the office in-process).
    assert 0 < export["csv_peak_rss_mb"] < 400
    assert export["start_request_status"] == 302 and export["background"] is True

    operations = data["operations"]
    assert operations["delete_subaccount"]["same_statements"] is True
    assert operations["empty_mailbox"]["same_statements"] is True
    assert operations["empty_mailbox"]["big"]["messages"] > 10

    text = stdout.getvalue()
    assert "default list" in text and "ratio" in text

    # The operations' office is gone again; the bench office stays for reuse.
    assert list(Office.objects.values_list("domain", flat=True)) == ["bench.example.com"]
    assert Account.objects.count() == 200

    # A second look at a few pages reuses the office and times just those.
    call_command(
        "bench",
        "--accounts",
        "200",
        "--repeat",
        "1",
        "--skip",
        "export",
        "--skip",
        "operations",
        "--only",
        "default list",
        "--only",
        "users: ",
        "--json",
        str(out),
        stdout=io.StringIO(),
        stderr=io.StringIO(),
    )
    names = [s["name"] for s in json.loads(out.read_text())["scenarios"]]
    assert names[0] == "default list" and len(names) == 5, names
    assert all(name.startswith("users: ") for name in names[1:]), names


@pytest.mark.django_db(transaction=True)
def test_bench_reuses_an_office_of_the_right_size(tmp_path, settings):
    from devtools.bench_data import RARE_COUNTRIES, ensure_dataset

    first = ensure_dataset(domain="bench.example.com", accounts=50)
    again = ensure_dataset(domain="bench.example.com", accounts=50)
    assert again.reused and again.office.pk == first.office.pk
    assert again.access_rows == first.access_rows and again.messages == first.messages
    # Counters and the denormalised last access agree with the rows.
    for mailbox in Mailbox.objects.all():
        messages = Message.objects.filter(mailbox=mailbox)
        assert mailbox.message_count == messages.count()
        assert mailbox.used_bytes == (messages.aggregate(s=Sum("size_bytes"))["s"] or 0)
        newest = (
            AccessLog.objects.filter(account_id=mailbox.account_id, succeeded=True)
            .order_by("-last_at")
            .first()
        )
        assert mailbox.last_access_at == (newest.at if newest else None)
    # The flags an import would have left: sign-ins from the rare countries.
    flagged = set(
        Mailbox.objects.filter(access_flag_at__isnull=False).values_list("account_id", flat=True)
    )
    abroad = set(
        AccessLog.objects.filter(succeeded=True, country__in=RARE_COUNTRIES).values_list(
            "account_id", flat=True
        )
    )
    assert flagged == abroad
    rebuilt = ensure_dataset(domain="bench.example.com", accounts=60)
    assert not rebuilt.reused and Account.objects.count() == 60
