"""Chart geometry for the report's server-drawn SVG (and its PNG).

The templates only place what is computed here: coordinates in a fixed
``viewBox`` (the SVG scales with the page), axis ticks at round values and
labels formatted as the rest of the console formats sizes and counts.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field

from django.utils.formats import number_format

from accounts.formatting import human_bytes, page_number_format

WIDTH = 640
UNIT = 1024


def sizes_formatter():
    """A formatter that writes sizes exactly as :func:`human_bytes` does,
    with the locale's decimal mark looked up once: ``number_format`` per
    value made a 180-row table the slowest part of the page."""
    number = page_number_format()

    def size_text(value: int) -> str:
        return human_bytes(value, number)

    return size_text


def count_text(value: int, separator: str | None = None) -> str:
    """1,234 (grouped as in the rest of the console, in either language).
    A caller formatting many numbers passes the separator it looked up once
    (the locale lookup dominated a 180-row table)."""
    if separator is None:
        return number_format(value, force_grouping=True)
    return f"{value:,}".replace(",", separator)


def nice_ceiling(value: float) -> tuple[float, float]:
    """(top of the axis, step) for four round steps covering ``value``, in
    1024-based units so that tick labels read 256 MB, 1.5 GB …"""
    if value <= 0:
        return 4.0, 1.0
    scale = 1
    while value / scale >= UNIT and scale < UNIT**5:
        scale *= UNIT
    raw = value / scale / 4
    magnitude = 10 ** math.floor(math.log10(raw))
    for factor in (1, 2, 2.5, 5, 10):
        step = factor * magnitude
        if step * 4 >= value / scale:
            break
    return step * 4 * scale, step * scale


@dataclass
class Tick:
    position: float
    label: str


@dataclass
class LineChart:
    title: str
    y_label: str
    x_label: str
    points: list[tuple[float, float]] = field(default_factory=list)
    y_ticks: list[Tick] = field(default_factory=list)
    x_ticks: list[Tick] = field(default_factory=list)
    width: int = WIDTH
    height: int = 260
    left: int = 78
    right: int = 16
    top: int = 14
    bottom: int = 44
    kind: str = "line"

    @property
    def plot_right(self) -> int:
        return self.width - self.right

    @property
    def plot_bottom(self) -> int:
        return self.height - self.bottom

    @property
    def mid_x(self) -> float:
        return (self.left + self.plot_right) / 2

    @property
    def mid_y(self) -> float:
        return (self.top + self.plot_bottom) / 2

    @property
    def polyline(self) -> str:
        return " ".join(f"{x:.1f},{y:.1f}" for x, y in self.points)

    @property
    def area(self) -> str:
        if len(self.points) < 2:
            return ""
        first, last = self.points[0], self.points[-1]
        return f"{first[0]:.1f},{self.plot_bottom} {self.polyline} {last[0]:.1f},{self.plot_bottom}"


def line_chart(
    title: str, y_label: str, x_label: str, days: list[dt.date], values: list[int], first: dt.date
) -> LineChart:
    """Usage over time: the x axis runs from ``first`` to the last day."""
    chart = LineChart(title=title, y_label=y_label, x_label=x_label)
    last = days[-1] if days else first
    span = max(1, (last - first).days)
    top, step = nice_ceiling(max(values, default=0))
    plot_w = chart.plot_right - chart.left
    plot_h = chart.plot_bottom - chart.top

    def x_of(day: dt.date) -> float:
        return chart.left + plot_w * (day - first).days / span

    def y_of(value: float) -> float:
        return chart.plot_bottom - plot_h * value / top

    chart.points = [(x_of(d), y_of(v)) for d, v in zip(days, values, strict=True)]
    chart.y_ticks = [Tick(y_of(step * i), human_bytes(round(step * i))) for i in range(5)]
    stride = max(1, math.ceil(span / 5))
    chart.x_ticks = [
        Tick(x_of(first + dt.timedelta(days=n)), _short_date(first + dt.timedelta(days=n)))
        for n in range(0, span + 1, stride)
    ]
    return chart


def _short_date(day: dt.date) -> str:
    return f"{day.month}/{day.day}"


@dataclass
class Bar:
    label: str
    value: int
    value_label: str
    href: str = ""
    y: float = 0
    length: float = 0
    value_x: float = 0

    @property
    def short_label(self) -> str:
        """What fits left of the bar (the table has the whole label)."""
        return self.label if len(self.label) <= 14 else self.label[:13] + "…"


@dataclass
class BarChart:
    title: str
    x_label: str
    bars: list[Bar]
    # Narrower than the line chart: bar charts sit two to a row, and a
    # smaller drawing is scaled down less, so its text stays readable.
    width: int = 480
    left: int = 130
    right: int = 80
    top: int = 8
    row: int = 30
    bar: int = 18
    bottom: int = 30
    kind: str = "bar"

    @property
    def height(self) -> int:
        return self.top + self.row * max(1, len(self.bars)) + self.bottom

    @property
    def plot_bottom(self) -> int:
        return self.height - self.bottom

    @property
    def plot_right(self) -> int:
        return self.width - self.right

    @property
    def mid_x(self) -> float:
        return (self.left + self.plot_right) / 2

    @property
    def links(self) -> bool:
        return any(bar.href for bar in self.bars)


def bar_chart(title: str, x_label: str, bars: list[Bar]) -> BarChart:
    """Horizontal bars (labels stay readable on a phone)."""
    chart = BarChart(title=title, x_label=x_label, bars=bars)
    most = max((b.value for b in bars), default=0) or 1
    span = chart.plot_right - chart.left
    for index, bar in enumerate(bars):
        bar.y = chart.top + index * chart.row + (chart.row - chart.bar) / 2
        bar.length = span * bar.value / most
        bar.value_x = chart.left + bar.length + 6
    return chart
