"""Period air-quality statistics (月、季、年评价) per HJ 663, from daily values. Pure: no I/O, no clock.

For a month, a quarter or a year, and for one station or the district, from the daily values
(24-hour means of PM2.5, PM10, SO2, NO2 and CO; the O3 daily maximum 8-hour mean):

* days assessed, good days (优良天数: daily AQI ≤ 100) and their share, days per AQI level. Each
  day is rated by the HJ 633 edition in force on it, with the rule for a missing indicator of
  HJ 633—2026 §5.3.1 (the AQI of the others counts only when above 100);
* the period means of PM2.5, PM10, SO2 and NO2 (GB 3095—2026 §3.11–3.13: the arithmetic mean of
  the daily means), the 95th percentile of daily CO and the 90th percentile of the daily maximum
  8-hour O3 (HJ 663 Appendix A: k = 1 + (n − 1)·p %, m = X(s) + (X(s+1) − X(s))·(k − s));
* the comprehensive index (环境空气质量综合指数): Σ C_i / S_i over the six, with the secondary
  limits of GB 3095 in force at the end of the period, each ratio rounded to 0.01;
* the change against the same period of the year before.

A figure is given only when the data are complete enough (GB 3095—2026 §6.4 Table 4: at least
27 daily values in every month, 25 in February, and 324 in a year); otherwise it is withheld,
saying which count is short and of how many needed. Results are rounded once, at the end, by
GB/T 8170 (round half to even on the exact value): concentrations to whole µg/m³, CO to
0.1 mg/m³, shares and changes to 0.1, the index to 0.01. Arithmetic is exact (Fractions).

Which of these rules the standard's own text was read for, and which are ledctl's reading of
secondary sources, is set out in docs/standards.md ("Period statistics").
"""

from __future__ import annotations

import calendar
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from fractions import Fraction

from ledctl.errors import LedctlError
from ledctl.model import Assessment
from ledctl.standards.aqi import AqiInputError, assess_daily, standard_for


class PeriodInputError(LedctlError):
    pass


# -- the period ---------------------------------------------------------------------------------

QUARTER_ZH = ("第一季度", "第二季度", "第三季度", "第四季度")


@dataclass(frozen=True, slots=True)
class Period:
    """A calendar month, quarter or year."""

    kind: str  # "month" | "quarter" | "year"
    year: int
    number: int = 0  # the month 1–12 or the quarter 1–4; 0 for a year

    @classmethod
    def month(cls, year: int, month: int) -> Period:
        _check_year(year)
        if not 1 <= month <= 12:
            raise PeriodInputError(f"month {month}: give 1..12")
        return cls("month", year, month)

    @classmethod
    def quarter(cls, year: int, quarter: int) -> Period:
        _check_year(year)
        if not 1 <= quarter <= 4:
            raise PeriodInputError(f"quarter {quarter}: give 1..4")
        return cls("quarter", year, quarter)

    @classmethod
    def whole_year(cls, year: int) -> Period:
        _check_year(year)
        return cls("year", year)

    @property
    def months(self) -> tuple[int, ...]:
        """The calendar months the period is made of."""
        if self.kind == "month":
            return (self.number,)
        if self.kind == "quarter":
            return tuple(range(3 * self.number - 2, 3 * self.number + 1))
        return tuple(range(1, 13))

    @property
    def first(self) -> date:
        return date(self.year, self.months[0], 1)

    @property
    def last(self) -> date:
        month = self.months[-1]
        return date(self.year, month, calendar.monthrange(self.year, month)[1])

    @property
    def length(self) -> int:
        return (self.last - self.first).days + 1

    @property
    def label(self) -> str:
        if self.kind == "month":
            return f"{self.year}-{self.number:02d}"
        if self.kind == "quarter":
            return f"{self.year}Q{self.number}"
        return str(self.year)

    @property
    def label_zh(self) -> str:
        if self.kind == "month":
            return f"{self.year}年{self.number}月"
        if self.kind == "quarter":
            return f"{self.year}年{QUARTER_ZH[self.number - 1]}"
        return f"{self.year}年"

    def previous_year(self) -> Period:
        """The same period one year earlier (同期)."""
        return Period(self.kind, self.year - 1, self.number)

    def __contains__(self, day: object) -> bool:
        return isinstance(day, date) and self.first <= day <= self.last


def _check_year(year: int) -> None:
    if not 2000 <= year <= 2999:
        raise PeriodInputError(f"year {year}: give a year like 2026")


def parse_month(text: str) -> Period:
    m = re.fullmatch(r"(\d{4})-(\d{2})", text.strip())
    if not m or not 1 <= int(m.group(2)) <= 12 or not 2000 <= int(m.group(1)) <= 2999:
        raise PeriodInputError("a month like 2026-11")
    return Period.month(int(m.group(1)), int(m.group(2)))


def parse_quarter(text: str) -> Period:
    m = re.fullmatch(r"(\d{4})[Qq]([0-9])", text.strip())
    if not m or not 1 <= int(m.group(2)) <= 4 or not 2000 <= int(m.group(1)) <= 2999:
        raise PeriodInputError("a quarter like 2026Q4 (Q1 to Q4)")
    return Period.quarter(int(m.group(1)), int(m.group(2)))


def parse_year(text: str) -> Period:
    m = re.fullmatch(r"\d{4}", text.strip())
    if not m or not 2000 <= int(text) <= 2999:
        raise PeriodInputError("a year like 2026")
    return Period.whole_year(int(text))


# -- completeness (GB 3095—2026 §6.4, Table 4) ---------------------------------------------------

MIN_DAYS_MONTH = 27
MIN_DAYS_FEBRUARY = 25
MIN_DAYS_YEAR = 324
COMPLETENESS_CLAUSE = "GB 3095—2026 Table 4"


def minimum_days(month: int) -> int:
    """Daily values a month needs (GB 3095—2026 Table 4: 每月至少有27个日平均浓度值（二月至少有25个）)."""
    return MIN_DAYS_FEBRUARY if month == 2 else MIN_DAYS_MONTH


@dataclass(frozen=True, slots=True)
class Shortfall:
    """One count that is short: `have` daily values in `span` (a month or the year), `need` needed."""

    span: str
    have: int
    need: int

    def __str__(self) -> str:
        return f"{self.span} has {self.have} of the {self.need} daily values needed"


def shortfalls(period: Period, days: Iterable[date]) -> list[Shortfall]:
    """Every count of `period` that is short of GB 3095—2026 Table 4, given the days with a value.

    Every month of the period needs its minimum (a quarter has no row of its own in Table 4:
    ledctl asks each of its months for theirs); a year needs 324 days besides.
    """
    inside = [d for d in set(days) if d in period]
    short = []
    for month in period.months:
        have = sum(1 for d in inside if d.month == month)
        need = minimum_days(month)
        if have < need:
            short.append(Shortfall(f"{period.year}-{month:02d}", have, need))
    if period.kind == "year" and len(inside) < MIN_DAYS_YEAR:
        short.append(Shortfall(str(period.year), len(inside), MIN_DAYS_YEAR))
    return short


# -- percentiles (HJ 663 Appendix A) --------------------------------------------------------------

def percentile(values: Sequence[Fraction | Decimal | int], p: int) -> Fraction:
    """The p-th percentile of a series as HJ 663 Appendix A computes it.

    Sort ascending to X(1) … X(n); k = 1 + (n − 1)·p %; s is the integer part of k;
    m_p = X(s) + (X(s+1) − X(s))·(k − s), and m_p = X(s) when k is an integer.
    """
    if not values:
        raise PeriodInputError("a percentile of no values")
    if not 0 <= p <= 100:
        raise PeriodInputError(f"percentile {p}: give 0..100")
    xs = sorted(Fraction(v) for v in values)
    k = 1 + Fraction(len(xs) - 1) * Fraction(p, 100)
    s = math.floor(k)
    if s >= len(xs):  # k = n only for p = 100
        return xs[-1]
    return xs[s - 1] + (xs[s] - xs[s - 1]) * (k - s)


def gbt8170(value: Fraction, digits: int) -> Decimal:
    """`value` rounded to `digits` decimals by GB/T 8170 (half to even on the exact value)."""
    r = Fraction(round(value, digits))
    return (Decimal(r.numerator) / Decimal(r.denominator)).quantize(Decimal(1).scaleb(-digits))


# -- the figures ------------------------------------------------------------------------------

PARAMETERS = ("pm25", "pm10", "so2", "no2", "co", "o3_8h")  # what a day's AQI is made of


@dataclass(frozen=True, slots=True)
class FigureSpec:
    name: str
    parameter: str  # the daily value it is made of
    statistic: str  # "mean", "p95", "p90"
    digits: int  # decimals it is published with
    unit: str
    display: str
    label_zh: str


FIGURES = (
    FigureSpec("pm25", "pm25", "mean", 0, "µg/m³", "PM2.5", "PM2.5平均浓度"),
    FigureSpec("pm10", "pm10", "mean", 0, "µg/m³", "PM10", "PM10平均浓度"),
    FigureSpec("so2", "so2", "mean", 0, "µg/m³", "SO2", "SO2平均浓度"),
    FigureSpec("no2", "no2", "mean", 0, "µg/m³", "NO2", "NO2平均浓度"),
    FigureSpec("co", "co", "p95", 1, "mg/m³", "CO", "CO日均值第95百分位数"),
    FigureSpec("o3", "o3_8h", "p90", 0, "µg/m³", "O3", "O3日最大8小时平均第90百分位数"),
)
FIGURE = {f.name: f for f in FIGURES}


@dataclass(frozen=True, slots=True)
class Figure:
    """One period statistic: its value as published, or why it is withheld."""

    name: str
    statistic: str
    value: Decimal | None
    n: int  # daily values of the period it was made from
    withheld: str = ""  # why there is no value ("" when there is one)
    exact: Fraction | None = field(default=None, compare=False)  # before rounding


# -- the comprehensive index -------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Limits:
    """The secondary limits S_i of the comprehensive index: annual for SO2, NO2, PM10 and PM2.5,
    the 24-hour limit for CO and the daily maximum 8-hour limit for O3."""

    id: str
    name: str
    since: date
    values: Mapping[str, Decimal]


GB3095_2012 = Limits("gb3095-2012", "GB 3095—2012 二级", date(2016, 1, 1), {
    "so2": Decimal(60), "no2": Decimal(40), "pm10": Decimal(70), "pm25": Decimal(35),
    "co": Decimal(4), "o3": Decimal(160)})
# GB 3095—2026 Table 1 and §4.4: the transitional limits from 2026-03-01 to 2030-12-31 …
GB3095_2026_TRANSITIONAL = Limits("gb3095-2026-transitional", "GB 3095—2026 过渡阶段二级", date(2026, 3, 1), {
    "so2": Decimal(60), "no2": Decimal(40), "pm10": Decimal(60), "pm25": Decimal(30),
    "co": Decimal(4), "o3": Decimal(160)})
# … and the limits themselves from 2031-01-01.
GB3095_2026 = Limits("gb3095-2026", "GB 3095—2026 二级", date(2031, 1, 1), {
    "so2": Decimal(20), "no2": Decimal(30), "pm10": Decimal(50), "pm25": Decimal(25),
    "co": Decimal(4), "o3": Decimal(160)})
LIMITS = {lim.id: lim for lim in (GB3095_2012, GB3095_2026_TRANSITIONAL, GB3095_2026)}


def limits_for(day: date) -> Limits:
    """The limits in force on `day`."""
    return max((lim for lim in LIMITS.values() if lim.since <= day), key=lambda lim: lim.since,
               default=GB3095_2012)


@dataclass(frozen=True, slots=True)
class ComprehensiveIndex:
    limits: Limits
    value: Decimal | None
    parts: Mapping[str, Decimal] = field(default_factory=dict)  # I_i = C_i / S_i, rounded to 0.01
    withheld: str = ""


def comprehensive_index(figures: Mapping[str, Figure], limits: Limits) -> ComprehensiveIndex:
    """Σ I_i, I_i = C_i / S_i of the six published statistics, each I_i rounded to 0.01 first.

    Rounding each I_i before the sum is what the published reports do: it reproduces their
    figures, where the unrounded sum does not (the tests show two).
    """
    missing = [FIGURE[n].display for n in limits.values if figures[n].value is None]
    if missing:
        return ComprehensiveIndex(limits, None, withheld=f"needs all six statistics; "
                                                          f"{', '.join(missing)} withheld")
    parts = {n: gbt8170(Fraction(figures[n].value) / Fraction(s), 2)  # type: ignore[arg-type]
             for n, s in limits.values.items()}
    return ComprehensiveIndex(limits, sum(parts.values(), Decimal("0.00")), parts)


# -- one day ------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class DailyValues:
    """One day's values of a station or the district, keyed by parameter (pm25, pm10, so2, no2,
    co, o3_8h), in µg/m³ (CO in mg/m³). A parameter without a valid value is absent."""

    day: date
    values: Mapping[str, Decimal | Fraction]


def daily_aqi(day: DailyValues) -> Assessment | str:
    """The day's AQI under the HJ 633 edition in force on it, or why the day has none.

    An indicator missing: the AQI of the others counts when it is above 100, since the true one
    can only be higher; otherwise the day has no AQI (HJ 633—2026 §5.3.1, applied to 2012 days too).
    """
    present = {p: v for p, v in day.values.items() if p in PARAMETERS}
    missing = [p for p in PARAMETERS if p not in present]
    if not present:
        return "no values"
    try:
        assessment = assess_daily(present, standard_for(day.day))  # type: ignore[arg-type]
    except AqiInputError as e:
        return str(e)
    if missing and assessment.aqi <= 100:
        return f"lacks {', '.join(missing)}; the others give AQI {assessment.aqi} ≤ 100 (HJ 633—2026 §5.3.1)"
    return assessment


def district_series(stations: Iterable[Sequence[DailyValues]]) -> list[DailyValues]:
    """The district's daily values: for each day and parameter, the arithmetic mean of the stations
    that have a valid value for it (the city-scale value of HJ 663 from its stations' values)."""
    by_day: dict[date, dict[str, list[Fraction]]] = {}
    for series in stations:
        for d in series:
            for param, value in d.values.items():
                by_day.setdefault(d.day, {}).setdefault(param, []).append(Fraction(value))
    return [DailyValues(day, {p: sum(vs, Fraction(0)) / len(vs) for p, vs in params.items()})
            for day, params in sorted(by_day.items())]


# -- one area over one period --------------------------------------------------------------------

LEVEL_NAMES = ("优", "良", "轻度污染", "中度污染", "重度污染", "严重污染")


@dataclass(frozen=True, slots=True)
class AreaStats:
    """The period statistics of one station or of the district."""

    area: str  # a station id, or "district"
    name: str
    period: Period
    over: bool  # every day of the period has ended
    days_ended: int  # days of the period up to the last day that has ended
    days_assessed: int  # days with a daily AQI (有效监测天数)
    by_level: tuple[int, int, int, int, int, int]  # days at AQI level 1 … 6
    not_assessed: tuple[tuple[date, str], ...]  # days with values but no AQI, and why
    figures: Mapping[str, Figure]
    index: ComprehensiveIndex
    editions: tuple[str, ...]  # the HJ 633 editions that rated its days

    @property
    def good_days(self) -> int:
        return self.by_level[0] + self.by_level[1]

    @property
    def good_share(self) -> Decimal | None:
        """优良天数比例 in per cent, to 0.1: good days over days assessed."""
        if not self.days_assessed:
            return None
        return gbt8170(Fraction(100 * self.good_days, self.days_assessed), 1)


def evaluate(period: Period, series: Sequence[DailyValues], as_of: date, *, area: str = "district",
             name: str = "", limits: Limits | None = None) -> AreaStats:
    """The statistics of `period` from one area's daily values.

    `as_of` is the last day that has ended (the caller's clock); a period running past it gives
    its day counts so far and withholds every statistic of the whole period. `limits` default to
    those in force on the period's last day.
    """
    days: dict[date, DailyValues] = {}
    for d in series:
        if d.day not in period:
            continue
        if d.day in days:
            raise PeriodInputError(f"{name or area}: two sets of daily values for {d.day}; give one per day")
        days[d.day] = d
    over = as_of >= period.last
    ended = max(0, min((as_of - period.first).days + 1, period.length))

    by_level = [0] * 6
    not_assessed: list[tuple[date, str]] = []
    editions: set[str] = set()
    for day, d in sorted(days.items()):
        rated = daily_aqi(d)
        if isinstance(rated, str):
            not_assessed.append((day, rated))
            continue
        by_level[rated.level - 1] += 1
        editions.add(rated.standard)

    figures = {spec.name: _figure(spec, period, days, over, ended) for spec in FIGURES}
    index = comprehensive_index(figures, limits or limits_for(period.last))
    if not over:  # one reason, not six
        index = ComprehensiveIndex(index.limits, None, withheld=figures["pm25"].withheld)
    return AreaStats(area, name, period, over, ended, sum(by_level), tuple(by_level),  # type: ignore[arg-type]
                     tuple(not_assessed), figures, index, tuple(sorted(editions)))


def _figure(spec: FigureSpec, period: Period, days: Mapping[date, DailyValues], over: bool,
            ended: int) -> Figure:
    have = {day: Fraction(d.values[spec.parameter]) for day, d in days.items()
            if spec.parameter in d.values}
    n = len(have)
    if not over:
        return Figure(spec.name, spec.statistic, None, n,
                      f"{period.label} is not over: {ended} of its {period.length} days have ended")
    short = shortfalls(period, have)
    if short:
        return Figure(spec.name, spec.statistic, None, n,
                      f"{'; '.join(str(s) for s in short)} ({COMPLETENESS_CLAUSE})")
    values = list(have.values())
    if spec.statistic == "mean":
        exact = sum(values, Fraction(0)) / n
    else:
        exact = percentile(values, int(spec.statistic[1:]))
    return Figure(spec.name, spec.statistic, gbt8170(exact, spec.digits), n, exact=exact)


# -- against the same period of the year before -------------------------------------------------

@dataclass(frozen=True, slots=True)
class Change:
    """A figure against the same period a year earlier (同比)."""

    name: str
    current: Decimal | int | None
    previous: Decimal | int | None
    change: Decimal | int | None
    unit: str  # "%" (relative change), "percentage points", "days"
    withheld: str = ""


def compare(current: AreaStats, previous: AreaStats) -> dict[str, Change]:
    """Each figure against the year before, from the published (rounded) figures of both.

    Concentrations and the index change in per cent of the earlier figure (to 0.1), the good-day
    share in percentage points, day counts in days. Both periods must be over.
    """
    empty = [s.period.label for s in (current, previous)
             if not s.days_assessed and all(f.n == 0 for f in s.figures.values())]
    if empty:  # one plain reason rather than every count that is short
        none = f"no daily values for {', '.join(empty)}"
        return {name: Change(name, None, None, None, unit, none) for name, unit in CHANGE_UNITS.items()}
    changes: dict[str, Change] = {}
    for spec in FIGURES:
        now, then = current.figures[spec.name], previous.figures[spec.name]
        changes[spec.name] = _relative(spec.name, now.value, then.value,
                                       now.withheld and f"this period: {now.withheld}",
                                       then.withheld and f"{previous.period.label}: {then.withheld}")
    changes["index"] = _relative("index", current.index.value, previous.index.value,
                                 current.index.withheld and f"this period: {current.index.withheld}",
                                 previous.index.withheld and f"{previous.period.label}: "
                                                             f"{previous.index.withheld}")
    not_over = [s.period.label for s in (current, previous) if not s.over]
    none = [s.period.label for s in (current, previous) if not s.days_assessed]
    why = (f"{', '.join(not_over)} not over" if not_over else
           f"no day assessed in {', '.join(none)}" if none else "")
    share_now, share_then = current.good_share, previous.good_share
    changes["good_share"] = Change("good_share", share_now, share_then,
                                   None if why else share_now - share_then,  # type: ignore[operator]
                                   "percentage points", why)
    for name, now_days, then_days in (
        ("good_days", current.good_days, previous.good_days),
        *((f"level{i + 1}", current.by_level[i], previous.by_level[i]) for i in range(6)),
    ):
        changes[name] = Change(name, now_days, then_days, None if why else now_days - then_days, "days", why)
    return changes


CHANGE_UNITS = {**{spec.name: "%" for spec in FIGURES}, "index": "%", "good_share": "percentage points",
                "good_days": "days", **{f"level{i}": "days" for i in range(1, 7)}}


def _relative(name: str, now: Decimal | None, then: Decimal | None, why_now: str, why_then: str) -> Change:
    why = "; ".join(w for w in (why_now, why_then) if w)
    if not why and then == 0:
        why = f"{name} was 0 the year before: no relative change"
    if why or now is None or then is None:
        return Change(name, now, then, None, "%", why)
    return Change(name, now, then, gbt8170((Fraction(now) - Fraction(then)) / Fraction(then) * 100, 1), "%")


# -- a whole report -----------------------------------------------------------------------------

DISTRICT = "district"


@dataclass(frozen=True, slots=True)
class StationSeries:
    id: str
    name: str
    days: Sequence[DailyValues]


@dataclass(frozen=True, slots=True)
class AreaReport:
    current: AreaStats
    previous: AreaStats  # the same period a year earlier, with the same limits
    changes: Mapping[str, Change]
    stations: tuple[str, ...] = ()  # the district: the stations it is made of


def period_report(period: Period, stations: Sequence[StationSeries], as_of: date,
                  district_name: str = "全区") -> list[AreaReport]:
    """The district first (from its stations' daily values), then each station."""
    members = tuple(s.id for s in stations)
    areas = [(DISTRICT, district_name, district_series(s.days for s in stations), members)]
    areas += [(s.id, s.name, list(s.days), ()) for s in stations]
    reports = []
    for area, name, series, parts in areas:
        current = evaluate(period, series, as_of, area=area, name=name)
        # Like for like: the year before is measured against the same limits.
        previous = evaluate(period.previous_year(), series, as_of, area=area, name=name,
                            limits=current.index.limits)
        reports.append(AreaReport(current, previous, compare(current, previous), parts))
    return reports
