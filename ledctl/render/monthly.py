"""The monthly air-quality summary of the outdoor screens, through the layout's [monthly] pages.

On the first days of a month (`[monthly] days` of the layout) an outdoor screen can show the
month before as HJ 663 evaluates it: good days and their share, the comprehensive index and its
change against the same month a year earlier, and the six period statistics. The figures come
from `ledctl.standards.period`; one withheld there (数据不足) is never a number here: the layout's
`month_withheld` page says which count is short instead.
"""

from __future__ import annotations

from datetime import date, timedelta

from ledctl.model import Board, Page
from ledctl.render.bulletin import UNKNOWN, _check_sample_marked
from ledctl.render.canvas import FontLoader
from ledctl.render.layout import Layout, render_pages
from ledctl.standards.period import FIGURE, FIGURES, AreaReport, Change, Period, minimum_days


def summary_month(day: date) -> Period:
    """The month a summary shown on `day` is about: the one before."""
    last = day.replace(day=1) - timedelta(days=1)
    return Period.month(last.year, last.month)


def shows_monthly(layout: Layout, day: date) -> bool:
    """Whether boards with `layout` show the monthly summary on `day` (its first `[monthly] days`)."""
    return layout.monthly is not None and day.day <= layout.monthly.days


def _trend(change: Change, unit: str) -> str:
    """下降5.9% / 上升0.5% / 持平, or — when the change is not given."""
    if change.change is None:
        return UNKNOWN
    if change.change == 0:
        return "持平"
    size = abs(change.change)
    return f"{'上升' if change.change > 0 else '下降'}{size}{unit}"


def _days_trend(change: Change) -> str:
    if change.change is None:
        return UNKNOWN
    if change.change == 0:
        return "持平"
    return f"{'增加' if change.change > 0 else '减少'}{abs(change.change)}天"


def monthly_fields(report: AreaReport,
                   sample: bool) -> tuple[dict[str, str], dict[str, str], dict[str, bool]]:
    """(fields, colour meanings, conditions) of one area's month, for the layout's [monthly] pages."""
    s = report.current
    month = s.period.number
    fields = {
        "month": f"{month}月",
        "month_long": s.period.label_zh,
        "area": s.name,
        "days_assessed": str(s.days_assessed),
        "days_in_month": str(s.period.length),
        "good_days": str(s.good_days),
        "good_share": UNKNOWN if s.good_share is None else f"{s.good_share}%",
        "index": UNKNOWN if s.index.value is None else str(s.index.value),
        "index_change": _trend(report.changes["index"], "%"),
        "pm25_change": _trend(report.changes["pm25"], "%"),
        "good_days_change": _days_trend(report.changes["good_days"]),
        "limits": s.index.limits.name,
        "short": "",
    }
    for spec in FIGURES:
        f = s.figures[spec.name]
        fields[spec.name] = UNKNOWN if f.value is None else str(f.value)
    withheld = [s.figures[spec.name] for spec in FIGURES if s.figures[spec.name].value is None]
    if withheld:
        first = withheld[0]
        fields["short"] = ("本月尚未结束" if not s.over else
                           f"{FIGURE[first.name].display}有效{first.n}天，需{minimum_days(month)}天")
    given = s.index.value is not None
    compared = report.changes["index"].change is not None
    facts = {"month_given": given, "month_withheld": not given, "has_change": compared,
             "no_change": not compared, "sample": sample, "real": not sample,
             "any_sample": sample, "all_real": not sample}
    return fields, {"level": "text"}, facts


def render_monthly(board: Board, layout: Layout, report: AreaReport, fonts: FontLoader,
                   sample: bool = False) -> list[Page]:
    """The monthly summary's pages at the board's exact size, fit-checked; none when the layout has no
    [monthly] pages. Sample figures must say 示例 on every page, as in the bulletin."""
    if layout.monthly is None:
        return []
    fields, colours, facts = monthly_fields(report, sample)
    pages = render_pages(board, layout, layout.monthly.pages, fields, colours, facts, fonts)
    if sample:
        _check_sample_marked(board, layout, pages)
    return pages
