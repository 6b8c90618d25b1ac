"""The usage report: quota-status and inactivity counts that agree with the
lists they link to, the forecast, downloads, and a constant query count."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from django.conf import settings
from django.db.models import Sum
from django.urls import reverse
from django.utils import timezone
from openpyxl import load_workbook

from accounts.models import Account, Mailbox
from reports.models import OfficeUsageDay
from reports.report import Point, forecast, linear_fit, office_report
from reports.snapshots import take_snapshot
from tests.factories import make_account, make_office

MB = 1024 * 1024
GB = 1024 * MB

pytestmark = pytest.mark.django_db


def report_url(org, **params):
    return reverse("mail_report", args=[org.office.domain])


def list_ids(client, org, **params) -> set[str]:
    response = client.get(reverse("mail_accounts", args=[org.office.domain]), params)
    assert response.status_code == 200
    assert response.context["listing"].filtered_count == len(response.context["rows"])
    return {a.login_id for a in response.context["rows"]}


def set_mailbox(account, **fields):
    Mailbox.objects.filter(account=account).update(**fields)


@pytest.fixture
def quota_office(org):
    """One mailbox in each quota bucket (quota 1,000 MB unless unlimited)."""
    quota = 1000 * MB
    set_mailbox(org.admin, used_bytes=100 * MB, quota_bytes=quota)  # under
    set_mailbox(org.kim, used_bytes=850 * MB, quota_bytes=quota)  # warning
    set_mailbox(org.lee, used_bytes=990 * MB, quota_bytes=quota)  # critical
    set_mailbox(org.park, used_bytes=1000 * MB + 1, quota_bytes=quota)  # over, reads 100.00 %
    set_mailbox(org.group, used_bytes=1000 * MB, quota_bytes=quota)  # exactly full: critical
    set_mailbox(org.shared, used_bytes=5 * GB, quota_bytes=None)  # unlimited
    return org


def test_quota_buckets_match_the_fixture_and_the_lists_they_link_to(admin_client, quota_office):
    org = quota_office
    report = office_report(org.office, 30)
    assert report.quota_counts == {
        "under": 1,
        "warning": 1,
        "critical": 2,
        "over": 1,
        "unlimited": 1,
    }
    response = admin_client.get(report_url(org))
    assert response.status_code == 200
    quota_chart = next(c for c in response.context["charts"] if c.name == "quota")
    for bar in quota_chart.chart.bars:
        query = bar.href.split("?", 1)[1]
        bucket = query.removeprefix("quota=")
        assert len(list_ids(admin_client, org, quota=bucket)) == bar.value
    html = response.content.decode()
    assert "?quota=warning" in html


@pytest.fixture
def inactive_office(org):
    now = timezone.now()
    for account, days in [
        (org.admin, 10),
        (org.kim, 45),
        (org.lee, 75),
        (org.park, None),  # never signed in
        (org.group, 100),
        (org.shared, 5),
    ]:
        at = None if days is None else now - dt.timedelta(days=days)
        set_mailbox(account, last_access_at=at)
    return org


def test_inactivity_counts_match_the_fixture(admin_client, inactive_office):
    org = inactive_office
    assert office_report(org.office, 30).inactive_counts == {30: 4, 60: 3, 90: 2}
    html = admin_client.get(report_url(org)).content.decode()
    assert "?inactive=60" in html


@pytest.mark.parametrize(
    "days, found",
    [
        ("30", {"minjun.kim", "seoyeon.lee", "jiho.park", "team-sales"}),
        ("60", {"seoyeon.lee", "jiho.park", "team-sales"}),
        ("90", {"jiho.park", "team-sales"}),
    ],
)
def test_inactive_filter_in_rows_count_and_export(admin_client, inactive_office, days, found):
    from accounts.exports import roster_rows

    org = inactive_office
    assert list_ids(admin_client, org, inactive=days) == found
    _filterset, rows = roster_rows(org.office, {"inactive": days})
    assert {row[1] for row in rows} == found  # the ID column
    response = admin_client.get(
        reverse("mail_accounts", args=[org.office.domain]), {"inactive": days}
    )
    assert f'value="{days}" selected' in response.content.decode()


def test_an_unknown_inactivity_value_is_ignored(admin_client, inactive_office):
    assert len(list_ids(admin_client, inactive_office, inactive="7")) == 6


def series(slope: float, start: int, days: int = 30) -> list[Point]:
    first = dt.date(2026, 10, 1)
    return [Point(first + dt.timedelta(days=n), round(start + slope * n), 0) for n in range(days)]


def test_linear_fit_recovers_a_known_line():
    intercept, slope = linear_fit([(x, 5 + 3 * x) for x in range(10)])
    assert (round(intercept, 6), round(slope, 6)) == (5, 3)


def test_forecast_with_a_known_slope():
    points = series(slope=10 * MB, start=1 * GB)  # last day: 1 GB + 290 MB
    result = forecast(points, 2 * GB)
    assert result.state == "reaches"
    assert round(result.slope) == 10 * MB
    assert result.days == round((2 * GB - (1 * GB + 290 * MB)) / (10 * MB))  # 73
    assert result.on == dt.date(2026, 10, 30) + dt.timedelta(days=73)


def test_forecast_only_fits_the_last_30_days():
    old = series(slope=100 * MB, start=0, days=60)
    flat_tail = [Point(p.day, old[29].used_bytes, 0) for p in old[30:]]
    result = forecast(old[:30] + flat_tail, 100 * GB)
    assert result.state == "not_growing"


def test_forecast_states():
    assert forecast([], 1 * GB).state == "no_history"
    assert forecast(series(MB, 0, days=1), 1 * GB).state == "no_history"
    assert forecast(series(MB, 0), None).state == "no_limit"
    assert forecast(series(MB, 2 * GB), 1 * GB).state == "reached"
    assert forecast(series(-MB, 100 * MB), 1 * GB).state == "not_growing"
    assert forecast(series(1, 0), 1 * GB).state == "beyond"  # a byte a day


def test_the_forecast_is_said_in_words_on_the_page(admin_client, org, time_machine):
    for account in (org.admin, org.kim, org.lee, org.park, org.group, org.shared):
        set_mailbox(account, quota_bytes=1 * GB, used_bytes=0)
    start = dt.datetime(2026, 11, 1, 3, 0, tzinfo=dt.UTC)
    for n in range(10):
        set_mailbox(org.kim, used_bytes=n * 100 * MB)  # +100 MB a day
        take_snapshot(org.office, now=start + dt.timedelta(days=n))
    time_machine.move_to(start + dt.timedelta(days=9), tick=False)
    # 6 GB in all, 900 MB used: 5.12 GB to go at 100 MB a day = 52 days.
    admin_client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    response = admin_client.get(report_url(org))
    text = response.context["forecast"]
    assert "100 MB a day" in text
    assert "6.0 GB" in text
    assert "in about 52 days" in text


def test_the_page_shows_svg_charts_with_titles_and_tables(admin_client, org):
    take_snapshot(org.office, now=timezone.now() - dt.timedelta(days=1))
    take_snapshot(org.office)
    html = admin_client.get(report_url(org)).content.decode()
    assert html.count('class="chart__svg ') == 5
    for name in ("storage", "growth", "quota", "inactive", "countries"):
        assert f'<title id="chart-{name}-title">' in html
        assert f"-/chart/{name}.png?period=30" in html
        assert f"-/chart/{name}.xlsx?period=30" in html
    assert "<table" in html
    assert 'aria-current="page"' in html


@pytest.mark.parametrize("period", ["", "7", "180", "abc", "-1", "99999999999999999999", "30\x00"])
def test_any_period_parameter_answers(admin_client, org, period):
    response = admin_client.get(report_url(org), {"period": period})
    assert response.status_code == 200
    assert response.context["report"].period in (7, 30, 90, 180)


def test_png_and_xlsx_downloads(admin_client, quota_office):
    org = quota_office
    base = reverse("mail_report", args=[org.office.domain])
    png = admin_client.get(f"{base}-/chart/quota.png")
    assert png.status_code == 200
    assert png["Content-Type"] == "image/png"
    assert png.content.startswith(b"\x89PNG")
    assert "attachment" in png["Content-Disposition"]
    admin_client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    xlsx = admin_client.get(f"{base}-/chart/quota.xlsx")
    assert xlsx.status_code == 200
    sheet = load_workbook(io.BytesIO(xlsx.content)).active
    values = [[cell.value for cell in row] for row in sheet.iter_rows()]
    assert values[0] == ["Quota status", "Accounts"]
    assert [row[1] for row in values[1:]] == [1, 1, 2, 1, 1]
    assert admin_client.get(f"{base}-/chart/nope.png").status_code == 404


def test_account_report_from_the_pane(admin_client, org):
    take_snapshot(org.office)
    pane = admin_client.get(reverse("mail_account_detail", args=[org.office.domain, "minjun.kim"]))
    url = reverse("mail_report_account", args=[org.office.domain, "minjun.kim"])
    assert url in pane.content.decode()
    response = admin_client.get(url)
    assert response.status_code == 200
    assert response.content.decode().count('class="chart__svg ') == 2
    png = admin_client.get(f"{url}-/chart/storage.png")
    assert png.content.startswith(b"\x89PNG")
    assert (
        admin_client.get(
            reverse("mail_report_account", args=[org.office.domain, "nobody"])
        ).status_code
        == 404
    )


def test_a_viewer_may_read_the_report(client, org):
    viewer = make_account(org.office, "viewer1", "뷰어", role=Account.Role.VIEWER)
    client.force_login(viewer)
    assert client.get(report_url(org)).status_code == 200
    assert (
        client.get(
            reverse("mail_report", args=[org.office.domain]) + "-/chart/storage.xlsx"
        ).status_code
        == 200
    )


def test_an_ordinary_account_may_not(user_client, org):
    assert user_client.get(report_url(org)).status_code == 403


def _grow_office(org, extra: int):
    for n in range(extra):
        make_account(org.office, f"extra{n}", f"추가{n}")
    start = timezone.now() - dt.timedelta(days=40)
    for day in range(0, 41, 5):
        Mailbox.objects.filter(office=org.office).update(used_bytes=day * MB)
        take_snapshot(org.office, now=start + dt.timedelta(days=day))


@pytest.mark.parametrize("extra", [0, 12])
def test_report_query_count_is_constant(admin_client, org, extra, django_assert_num_queries):
    _grow_office(org, extra)
    assert OfficeUsageDay.objects.filter(office=org.office).count() == 9
    # the session with its account and the account's office; daily totals,
    # growth names, live counts with the sign-ins per country
    with django_assert_num_queries(4):
        response = admin_client.get(report_url(org), {"period": "90"})
    assert response.status_code == 200
    assert len(response.context["report"].growth) == min(10, 6 + extra)


@pytest.mark.parametrize("language", ["ko", "en"])
def test_the_reports_size_formatter_writes_what_human_bytes_writes(language):
    from django.utils import translation

    from accounts.formatting import human_bytes
    from reports.charts import sizes_formatter

    with translation.override(language):
        size_text = sizes_formatter()
        for value in [
            0,
            1,
            1023,
            1024,
            1536,
            99 * MB + 1,
            100 * MB,
            1000 * MB,
            5 * GB + 7,
            3 * 1024**5,
        ]:
            assert size_text(value) == human_bytes(value), value


def test_index_counts_equal_the_lists_conditions(quota_office, django_assert_num_queries):
    from reports.report import exact_counts, live_counts

    org = quota_office
    now = timezone.now()
    set_mailbox(org.kim, last_access_at=now - dt.timedelta(days=61))
    set_mailbox(org.admin, last_access_at=now - dt.timedelta(days=2))
    with django_assert_num_queries(1):
        fast = live_counts(org.office, now)
    assert fast == exact_counts(org.office, now)
    assert fast["inactive_30"] == 5  # kim and the four that never signed in


def test_a_deleted_users_mailbox_is_left_out_as_the_list_leaves_it(admin_client, quota_office):
    from accounts.account_services import account_delete
    from reports.report import live_counts

    org = quota_office
    account_delete(actor=org.admin, account=org.kim)  # the warning bucket's only account
    counts = live_counts(org.office, timezone.now())
    assert counts["quota_warning"] == 0
    assert counts["mailboxes"] == 5
    assert list_ids(admin_client, org, quota="warning") == set()


def test_sign_ins_per_country_come_with_the_counts(org, django_assert_num_queries):
    from reports.models import CountrySignInDay
    from reports.report import live_counts
    from reports.snapshots import office_day

    today = office_day(org.office, timezone.now())
    rows = [("KR", 0, 40), ("KR", 3, 2), ("US", 1, 7), ("", 2, 5), ("CN", 95, 9)]
    CountrySignInDay.objects.bulk_create(
        CountrySignInDay(
            office=org.office, day=today - dt.timedelta(days=ago), country=c, sign_ins=n
        )
        for c, ago, n in rows
    )
    # Another office's sign-ins are not counted.
    other = make_office("other.test")
    CountrySignInDay.objects.create(office=other, day=today, country="KR", sign_ins=1000)
    report = office_report(org.office, 30)
    assert report.countries == [("KR", 42), ("US", 7), ("", 5)]  # CN was 95 days ago
    assert report.sign_ins == 54
    none = (
        CountrySignInDay.objects.filter(office=org.office, day__gt=today)
        .values("country")
        .annotate(n=Sum("sign_ins"))
        .values_list("country", "n")
    )
    with django_assert_num_queries(1):
        assert live_counts(org.office, timezone.now(), countries=none)["countries"] == []
