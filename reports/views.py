"""메일 사용 리포트: the office's report, an account's, and each chart's
PNG and .xlsx."""

from __future__ import annotations

import datetime as dt
import io
import re
from dataclasses import dataclass, field
from urllib.parse import urlencode

from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.formats import date_format, get_format
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET
from django_countries import countries

from accounts.formatting import human_bytes, human_quota
from accounts.permissions import get_account_for_admin, office_admin_required
from accounts.selectors import INACTIVE_DAYS, QUOTA_STATUSES
from accounts.xlsx import XLSX_CONTENT_TYPE, write_xlsx
from reports import charts
from reports.charts import Bar, count_text
from reports.report import account_report, office_report, period_from
from reports.snapshots import PERIODS
from reports.templatetags.report_tables import chart_svg


@dataclass
class Cell:
    text: str
    href: str = ""
    numeric: bool = False


@dataclass
class ChartView:
    """One chart with everything around it: the drawing, the table that
    says the same in text, and the rows of its .xlsx."""

    name: str
    chart: charts.LineChart | charts.BarChart
    header: list[str]
    rows: list[list[Cell]]
    xlsx_header: list[str]
    xlsx_rows: list[list] = field(default_factory=list)
    empty: str = ""

    @property
    def title(self) -> str:
        return self.chart.title

    @property
    def standalone_height(self) -> int:
        return self.chart.height + 34


def _quota_labels() -> dict[str, str]:
    return {
        "under": _("Under 80%"),
        "warning": _("80–95% (warning)"),
        "critical": _("95–100%"),
        "over": _("Over quota"),
        "unlimited": _("Unlimited"),
    }


def _country_name(code: str) -> str:
    return str(countries.name(code)) if code else _("Unknown")


def _storage_chart(report, title: str) -> ChartView:
    first = report.today - dt.timedelta(days=report.period)
    series = report.series
    separator = get_format("THOUSAND_SEPARATOR")
    size_text = charts.sizes_formatter()
    chart = charts.line_chart(
        title,
        _("Storage used"),
        _("Date"),
        [p.day for p in series],
        [p.used_bytes for p in series],
        first,
    )
    return ChartView(
        name="storage",
        chart=chart,
        header=[_("Date"), _("Storage used"), _("Messages")],
        rows=[
            [
                Cell(p.day.isoformat()),
                Cell(size_text(p.used_bytes), numeric=True),
                Cell(count_text(p.message_count, separator), numeric=True),
            ]
            for p in reversed(series)
        ],
        xlsx_header=[_("Date"), _("Storage used (bytes)"), _("Messages")],
        xlsx_rows=[[p.day, p.used_bytes, p.message_count] for p in series],
        empty=_("No daily snapshots yet: they are taken once a day."),
    )


def _countries_chart(report) -> ChartView:
    bars = [Bar(_country_name(c), n, count_text(n)) for c, n in report.countries]
    return ChartView(
        name="countries",
        chart=charts.bar_chart(_("Sign-ins by country"), _("Successful sign-ins"), bars),
        header=[_("Country"), _("Successful sign-ins")],
        rows=[[Cell(b.label), Cell(b.value_label, numeric=True)] for b in bars],
        xlsx_header=[_("Country"), _("Country code"), _("Successful sign-ins")],
        xlsx_rows=[[_country_name(c), c, n] for c, n in report.countries],
        empty=_("No successful POP3/SMTP sign-ins in this period."),
    )


def office_charts(request, report) -> list[ChartView]:
    domain = report.office.domain
    list_url = reverse("mail_accounts", args=[domain])
    labels = _quota_labels()
    quota_bars = [
        Bar(
            labels[v],
            report.quota_counts[v],
            count_text(report.quota_counts[v]),
            f"{list_url}?{urlencode({'quota': v})}",
        )
        for v in QUOTA_STATUSES
    ]
    inactive_bars = [
        Bar(
            _("No access in %(days)s days") % {"days": d},
            report.inactive_counts[d],
            count_text(report.inactive_counts[d]),
            f"{list_url}?{urlencode({'inactive': d})}",
        )
        for d in INACTIVE_DAYS
    ]
    growth_bars = [
        Bar(
            row.account.name,
            row.grown_bytes,
            "+" + human_bytes(row.grown_bytes),
            reverse("mail_report_account", args=[domain, row.account.login_id])
            + f"?period={report.period}",
        )
        for row in report.growth
    ]
    return [
        _storage_chart(report, _("Total storage used")),
        ChartView(
            name="growth",
            chart=charts.bar_chart(_("Top 10 accounts by growth"), _("Growth"), growth_bars),
            header=[_("Account"), _("Growth")],
            rows=[
                [Cell(f"{r.account.name} ({r.account.login_id})", b.href), Cell(b.value_label)]
                for r, b in zip(report.growth, growth_bars, strict=True)
            ],
            xlsx_header=[_("Name"), _("ID"), _("Growth (bytes)")],
            xlsx_rows=[[r.account.name, r.account.login_id, r.grown_bytes] for r in report.growth],
            empty=_("No account grew in this period (or there is no earlier snapshot yet)."),
        ),
        ChartView(
            name="quota",
            chart=charts.bar_chart(_("Accounts by quota status"), _("Accounts"), quota_bars),
            header=[_("Quota status"), _("Accounts")],
            rows=[[Cell(b.label, b.href), Cell(b.value_label, numeric=True)] for b in quota_bars],
            xlsx_header=[_("Quota status"), _("Accounts")],
            xlsx_rows=[[b.label, b.value] for b in quota_bars],
        ),
        ChartView(
            name="inactive",
            chart=charts.bar_chart(
                _("Inactive accounts (no successful POP3/SMTP sign-in)"),
                _("Accounts"),
                inactive_bars,
            ),
            header=[_("Inactive"), _("Accounts")],
            rows=[
                [Cell(b.label, b.href), Cell(b.value_label, numeric=True)] for b in inactive_bars
            ],
            xlsx_header=[_("Inactive"), _("Accounts")],
            xlsx_rows=[[b.label, b.value] for b in inactive_bars],
        ),
        _countries_chart(report),
    ]


def account_charts(request, report) -> list[ChartView]:
    return [
        _storage_chart(report, _("Storage used")),
        _countries_chart(report),
    ]


def forecast_text(forecast, *, office: bool) -> str:
    """The forecast in words."""
    limit_name = _("the office's total quota") if office else _("the quota")
    if forecast.state == "no_history":
        return _("Not enough history for a forecast yet (it needs two daily snapshots).")
    per_day = human_bytes(round(abs(forecast.slope)))
    if forecast.state == "no_limit":
        return _(
            "There is no total to reach: unlimited mailboxes have no limit. "
            "Usage changes by about %(per_day)s a day."
        ) % {"per_day": ("+" if forecast.slope >= 0 else "−") + per_day}
    values = {"limit": human_quota(forecast.limit), "name": limit_name, "per_day": per_day}
    if forecast.state == "reached":
        return _("Usage has already reached %(name)s (%(limit)s).") % values
    if forecast.state == "not_growing":
        return (
            _(
                "Usage has not grown over the last 30 days, so at this trend it will not "
                "reach %(name)s (%(limit)s)."
            )
            % values
        )
    if forecast.state == "beyond":
        return (
            _(
                "At the current trend (about +%(per_day)s a day over the last 30 days), usage "
                "will not reach %(name)s of %(limit)s within ten years."
            )
            % values
        )
    values.update(
        {"date": date_format(forecast.on, "DATE_FORMAT"), "days": count_text(forecast.days)}
    )
    return (
        _(
            "At the current trend (about +%(per_day)s a day over the last 30 days), usage "
            "reaches %(name)s of %(limit)s around %(date)s, in about %(days)s days."
        )
        % values
    )


def _periods(report) -> list[tuple[int, str, bool]]:
    return [(p, _("%(days)s days") % {"days": p}, p == report.period) for p in PERIODS]


@office_admin_required
@require_GET
def office_report_view(request):
    report = office_report(request.office, period_from(request.GET.get("period")))
    return render(
        request,
        "reports/report.html",
        {
            "nav": "mail_report",
            "report": report,
            "charts": office_charts(request, report),
            "periods": _periods(report),
            "forecast": forecast_text(report.forecast, office=True),
            "download_base": reverse("mail_report", args=[request.office.domain]) + "-/chart/",
        },
    )


@office_admin_required
@require_GET
def account_report_view(request, login_id):
    account, _writable = get_account_for_admin(request, login_id)
    report = account_report(account, period_from(request.GET.get("period")))
    return render(
        request,
        "reports/report.html",
        {
            "nav": "mail_report",
            "report": report,
            "charts": account_charts(request, report),
            "periods": _periods(report),
            "forecast": forecast_text(report.forecast, office=False),
            "download_base": reverse(
                "mail_report_account", args=[request.office.domain, account.login_id]
            )
            + "-/chart/",
        },
    )


def _chart_by_name(chart_views: list[ChartView], name: str) -> ChartView:
    for view in chart_views:
        if view.name == name:
            return view
    raise Http404("no such chart")


def _filename(report, chart: ChartView, extension: str) -> str:
    who = report.office.domain
    if report.kind == "account":
        who = f"{report.account.login_id}@{who}"
    safe = re.sub(r"[^A-Za-z0-9@._-]", "_", who)
    return f"report-{safe}-{chart.name}-{report.period}d-{report.today:%Y%m%d}.{extension}"


def chart_png(report, chart: ChartView) -> bytes:
    """The chart as PNG: the very SVG the page shows, standalone (its own
    title, white background), rasterised by CairoSVG."""
    import cairosvg

    svg = chart_svg(chart, standalone=True)
    return cairosvg.svg2png(bytestring=svg.encode("utf-8"), scale=2)


def _download(request, report, chart_views, name: str, extension: str) -> HttpResponse:
    chart = _chart_by_name(chart_views, name)
    if extension == "png":
        body, content_type = chart_png(report, chart), "image/png"
    else:
        target = io.BytesIO()
        write_xlsx(
            target,
            title=chart.title,
            header=chart.xlsx_header,
            rows=chart.xlsx_rows,
            column_widths=[24] + [18] * (len(chart.xlsx_header) - 1),
        )
        body, content_type = target.getvalue(), XLSX_CONTENT_TYPE
    response = HttpResponse(body, content_type=content_type)
    response["Content-Disposition"] = (
        f'attachment; filename="{_filename(report, chart, extension)}"'
    )
    return response


@office_admin_required
@require_GET
def office_chart_download(request, chart, extension):
    report = office_report(request.office, period_from(request.GET.get("period")))
    return _download(request, report, office_charts(request, report), chart, extension)


@office_admin_required
@require_GET
def account_chart_download(request, login_id, chart, extension):
    account, _writable = get_account_for_admin(request, login_id)
    report = account_report(account, period_from(request.GET.get("period")))
    return _download(request, report, account_charts(request, report), chart, extension)
