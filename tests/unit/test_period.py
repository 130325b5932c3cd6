"""Golden tests for the period statistics (HJ 663 月、季、年评价), worked out by hand here.

Every expected figure below is a literal computed in the comments beside it, from the rules
of docs/standards.md ("Period statistics"), never from `ledctl.standards.period` itself: a wrong
formula, count or rounding in the module makes these tests fail. Each test names the clause it
checks. Clauses marked (secondary) were read in a secondary source, not in the standard's text.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from fractions import Fraction

import pytest

from ledctl.standards.period import (
    GB3095_2012,
    GB3095_2026,
    GB3095_2026_TRANSITIONAL,
    DailyValues,
    Figure,
    Period,
    PeriodInputError,
    StationSeries,
    comprehensive_index,
    daily_aqi,
    district_series,
    evaluate,
    gbt8170,
    limits_for,
    parse_month,
    parse_quarter,
    parse_year,
    percentile,
    period_report,
)

# -- the worked example: June 2026, one station, 30 days ---------------------------------------

PM25 = [17, 18, 25, 31, 40, 22, 15, 14, 28, 35, 47, 60, 52, 38, 27,
        19, 19, 23, 33, 41, 56, 75, 68, 44, 30, 26, 21, 17, 18, 16]
CO = ["0.6", "0.7", "0.8", "0.9", "1.0", "0.8", "0.7", "0.6", "0.9", "1.1", "1.3", "1.6", "1.4", "1.2", "1.0",
      "0.8", "0.7", "0.9", "1.0", "1.2", "1.5", "2.0", "2.4", "1.3", "1.0", "0.9", "0.8", "0.7", "0.7", "0.6"]
O3 = [88, 95, 102, 110, 120, 131, 140, 150, 170, 188, 96, 84, 77, 90, 105,
      115, 125, 135, 145, 100, 92, 86, 80, 99, 108, 118, 128, 138, 158, 112]


def june(year: int, extra_pm: int = 0) -> list[DailyValues]:
    """The example month: PM10 = PM2.5 + 20, SO2 8, NO2 27 every day; `extra_pm` added to both PM."""
    return [DailyValues(date(year, 6, i + 1), {
        "pm25": Decimal(PM25[i] + extra_pm), "pm10": Decimal(PM25[i] + extra_pm + 20), "so2": Decimal(8),
        "no2": Decimal(27), "co": Decimal(CO[i]), "o3_8h": Decimal(O3[i])}) for i in range(30)]


JULY_1 = date(2026, 7, 1)


def test_worked_example_means_round_half_to_even() -> None:
    """GB 3095—2026 §3.11 (月平均: the arithmetic mean of the month's daily means); GB/T 8170 rounding."""
    stats = evaluate(Period.month(2026, 6), june(2026), JULY_1)
    # PM2.5: 17+18+25+31+40+22+15+14+28+35 = 245; 47+60+52+38+27+19+19+23+33+41 = 359;
    #        56+75+68+44+30+26+21+17+18+16 = 371; Σ = 975; 975 / 30 = 32.5 → half to even → 32 (not 33).
    assert sum(PM25) == 245 + 359 + 371 == 975
    assert stats.figures["pm25"].exact == Fraction(65, 2)
    assert stats.figures["pm25"].value == Decimal("32")
    # PM10 = PM2.5 + 20: Σ = 975 + 600 = 1575; 1575 / 30 = 52.5 → 52.
    assert stats.figures["pm10"].value == Decimal("52")
    assert stats.figures["so2"].value == Decimal("8") and stats.figures["no2"].value == Decimal("27")
    assert all(f.n == 30 and not f.withheld for f in stats.figures.values())


def test_worked_example_co_95th_percentile_interpolates() -> None:
    """HJ 663 Appendix A (secondary): k = 1 + (n − 1)·p %, m = X(s) + (X(s+1) − X(s))·(k − s)."""
    stats = evaluate(Period.month(2026, 6), june(2026), JULY_1)
    # CO sorted: 0.6 ×3, 0.7 ×5, 0.8 ×4, 0.9 ×4, 1.0 ×4, 1.1, 1.2 ×2, 1.3 ×2, 1.4, 1.5, 1.6, 2.0, 2.4
    # (3+5+4+4+4+1+2+2+1+1 = 27 values up to 1.5, so X(28) = 1.6, X(29) = 2.0, X(30) = 2.4).
    # k = 1 + 29 × 0.95 = 28.55, s = 28: m = 1.6 + (2.0 − 1.6) × 0.55 = 1.82 → 1.8 mg/m³.
    # (Nearest rank ⌈0.95 × 30⌉ = 29 would give 2.0.)
    assert sorted(Decimal(c) for c in CO)[27:30] == [Decimal("1.6"), Decimal("2.0"), Decimal("2.4")]
    assert stats.figures["co"].exact == Fraction(182, 100)
    assert stats.figures["co"].value == Decimal("1.8")


def test_worked_example_o3_90th_percentile_interpolates() -> None:
    """HJ 663 Appendix A (secondary): the 90th percentile of the daily maximum 8-hour means."""
    stats = evaluate(Period.month(2026, 6), june(2026), JULY_1)
    # O3 sorted: 77 80 84 86 88 90 92 95 96 99 100 102 105 108 110 112 115 118 120 125 128 131 135 138
    #            140 145 150 158 170 188; k = 1 + 29 × 0.9 = 27.1, s = 27: X(27) = 150, X(28) = 158;
    # m = 150 + 8 × 0.1 = 150.8 → 151 µg/m³ (nearest rank would give 150).
    assert sorted(O3)[26:28] == [150, 158]
    assert stats.figures["o3"].exact == Fraction(1508, 10)
    assert stats.figures["o3"].value == Decimal("151")


def test_worked_example_days_per_level_under_hj633_2026() -> None:
    """HJ 633—2026 Table 1 and Table 3 for each day; 优良 = AQI ≤ 100; share of days assessed, to 0.1 %."""
    stats = evaluate(Period.month(2026, 6), june(2026), JULY_1)
    # PM2.5 IAQI 50 at 35, 100 at 60, 150 at 115; O3-8h 50 at 100, 100 at 160, 150 at 215.
    # Level 1 (every IAQI ≤ 50: PM2.5 ≤ 35, PM10 ≤ 50, O3 ≤ 100, CO ≤ 2): days 1 (17/37/88) and 2 (18/38/95).
    # Level 3: day 9 O3 170 → 100 + 10×50/55 = 109.1 → 110; day 10 O3 188 → 125.5 → 126;
    #          day 22 PM2.5 75 → 100 + 15×50/55 = 113.6 → 114; day 23 PM2.5 68 → 107.3 → 108.
    # Day 12 PM2.5 60 → exactly 100: 良. The other 24 days are 良. Good days 2 + 24 = 26;
    # 26 / 30 = 86.67 % → 86.7 %.
    assert stats.by_level == (2, 24, 4, 0, 0, 0)
    assert stats.days_assessed == 30 and stats.good_days == 26
    assert stats.good_share == Decimal("86.7")
    assert stats.editions == ("hj633-2026",)


def test_worked_example_comprehensive_index_with_the_limits_in_force() -> None:
    """Comprehensive index Σ C_i/S_i (secondary: 城市环境空气质量排名技术规定), limits of GB 3095—2026 Table 1
    transitional (§4.4: 2026-03-01 to 2030-12-31); each C_i/S_i rounded to 0.01 by GB/T 8170, then summed."""
    stats = evaluate(Period.month(2026, 6), june(2026), JULY_1)
    # SO2 8/60 = 0.133 → 0.13; NO2 27/40 = 0.675 → 0.68 (5 after an odd 7: up); PM10 52/60 = 0.867 → 0.87;
    # PM2.5 32/30 = 1.067 → 1.07; CO 1.8/4 = 0.45; O3 151/160 = 0.94375 → 0.94.
    # Σ = 0.13 + 0.68 + 0.87 + 1.07 + 0.45 + 0.94 = 4.14.
    assert stats.index.limits is GB3095_2026_TRANSITIONAL
    assert dict(stats.index.parts) == {
        "so2": Decimal("0.13"), "no2": Decimal("0.68"), "pm10": Decimal("0.87"),
        "pm25": Decimal("1.07"), "co": Decimal("0.45"), "o3": Decimal("0.94")}
    assert stats.index.value == Decimal("4.14")


def test_worked_example_against_the_year_before() -> None:
    """同比: the same period a year earlier, its days rated by HJ 633—2012 (in force then), its index with
    this period's limits (like for like); changes from the published figures."""
    june_2025 = june(2025, extra_pm=2)  # PM2.5 and PM10 2 µg/m³ higher every day
    both_years = [StationSeries("a", "A", june(2026) + june_2025)]
    [district, station] = period_report(Period.month(2026, 6), both_years, JULY_1)
    assert district.stations == ("a",) and station.current.area == "a"
    previous = station.previous
    # 2025: PM2.5 Σ = 975 + 60 = 1035, /30 = 34.5 → 34; PM10 54.5 → 54.
    assert previous.figures["pm25"].value == Decimal("34") and previous.figures["pm10"].value == Decimal("54")
    # HJ 633—2012 (PM2.5 100 at 75): day 22 PM2.5 77 → 100 + 2×50/40 = 102.5 → 103 (轻度);
    # day 23 70 → 93.75 → 94; days 9 and 10 O3 → 110, 126. Level 1: days 1 (19/39/88) and 2 (20/40/95).
    # So 2 + 25 good, 3 level 3; 27/30 = 90.0 %.
    assert previous.by_level == (2, 25, 3, 0, 0, 0) and previous.good_share == Decimal("90.0")
    assert previous.editions == ("hj633-2012",)
    # Index 2025 with the 2026 transitional limits: 0.13 + 0.68 + 54/60 = 0.90 + 34/30 = 1.133 → 1.13
    # + 0.45 + 0.94 = 4.23.
    assert previous.index.limits is GB3095_2026_TRANSITIONAL and previous.index.value == Decimal("4.23")
    c = station.changes
    # PM2.5 (32 − 34)/34 = −5.88 % → −5.9 %; PM10 (52 − 54)/54 = −3.70 % → −3.7 %; CO and O3 unchanged.
    assert c["pm25"].change == Decimal("-5.9") and c["pm10"].change == Decimal("-3.7")
    assert c["co"].change == Decimal("0.0") and c["o3"].change == Decimal("0.0")
    # Index (4.14 − 4.23)/4.23 = −2.13 % → −2.1 %; share 86.7 − 90.0 = −3.3 points; good days 26 − 27 = −1.
    assert c["index"].change == Decimal("-2.1") and c["index"].unit == "%"
    assert c["good_share"].change == Decimal("-3.3") and c["good_share"].unit == "percentage points"
    assert c["good_days"].change == -1 and c["level3"].change == 1


# -- percentiles at the edges (HJ 663 Appendix A, secondary) --------------------------------------

def test_percentile_the_secondary_sources_own_check() -> None:
    """HJ 663 Appendix A as quoted: {3,4,8,2,5,4}, p = 90 → sorted 2 3 4 4 5 8, k = 1 + 5×0.9 = 5.5,
    m = 5 + (8 − 5)×0.5 = 6.5."""
    assert percentile([3, 4, 8, 2, 5, 4], 90) == Fraction(13, 2)


def test_percentile_when_k_is_an_integer_takes_that_value() -> None:
    """HJ 663 Appendix A: 当k为整数时，s与k相等 — no interpolation."""
    values = [10 * i for i in range(31, 0, -1)]  # 310, 300, … 10, given unsorted
    # n = 31, p = 90: k = 1 + 30 × 0.9 = 28 → X(28) = 280 exactly.
    assert percentile(values, 90) == 280
    # n = 21, p = 95: k = 1 + 20 × 0.95 = 20 → X(20) = 200.
    assert percentile([10 * i for i in range(1, 22)], 95) == 200


def test_percentile_when_k_has_a_fraction_interpolates() -> None:
    """HJ 663 Appendix A (secondary): m = X(s) + (X(s+1) − X(s))·(k − s)."""
    # n = 31, p = 95: k = 1 + 30 × 0.95 = 29.5 → 290 + (300 − 290) × 0.5 = 295.
    assert percentile([10 * i for i in range(1, 32)], 95) == 295
    # n = 28 (a whole February), p = 95: k = 1 + 27 × 0.95 = 26.65 → 260 + 10 × 0.65 = 266.5;
    # p = 90: k = 1 + 27 × 0.9 = 25.3 → 250 + 10 × 0.3 = 253.
    feb = [10 * i for i in range(1, 29)]
    assert percentile(feb, 95) == Fraction(5330, 20) and percentile(feb, 90) == 253
    # n = 25 (February's minimum), p = 95: k = 1 + 24 × 0.95 = 23.8 → 230 + 10 × 0.8 = 238;
    # p = 90: k = 1 + 24 × 0.9 = 22.6 → 220 + 6 = 226.
    assert percentile(feb[:25], 95) == 238 and percentile(feb[:25], 90) == 226
    # n = 1: k = 1 → the value itself.
    assert percentile([Decimal("0.7")], 95) == Fraction(7, 10)


def test_gbt8170_rounds_half_to_even_once_on_the_exact_value() -> None:
    """GB/T 8170 进舍规则 (secondary): 5 followed by nothing → to even; 5 followed by more → up."""
    assert gbt8170(Fraction(65, 2), 0) == Decimal("32")
    assert gbt8170(Fraction(67, 2), 0) == Decimal("34")
    assert gbt8170(Fraction(2051, 1000), 1) == Decimal("2.1")
    assert gbt8170(Fraction(205, 100), 1) == Decimal("2.0")


# -- completeness at the edges (GB 3095—2026 §6.4 Table 4) ----------------------------------------

def days_of(first: date, count: int, **values: object) -> list[DailyValues]:
    base = {"pm25": 30, "pm10": 50, "so2": 8, "no2": 30, "co": "0.8", "o3_8h": 90}
    base.update(values)
    return [DailyValues(first + timedelta(days=i), {k: Decimal(str(v)) for k, v in base.items()})
            for i in range(count)]


def test_a_month_with_exactly_27_days_is_given() -> None:
    """GB 3095—2026 Table 4: 每月至少有27个日平均浓度值."""
    stats = evaluate(Period.month(2026, 11), days_of(date(2026, 11, 1), 27), date(2026, 12, 1))
    assert stats.figures["pm25"].value == Decimal("30") and stats.figures["pm25"].n == 27
    assert stats.index.value is not None


def test_a_month_one_day_short_is_withheld_saying_which_count() -> None:
    """GB 3095—2026 Table 4: 26 daily values in November are one short of 27."""
    stats = evaluate(Period.month(2026, 11), days_of(date(2026, 11, 1), 26), date(2026, 12, 1))
    for f in stats.figures.values():
        assert f.value is None
        assert f.withheld == "2026-11 has 26 of the 27 daily values needed (GB 3095—2026 Table 4)"
    assert stats.index.value is None and "PM2.5" in stats.index.withheld
    # The days are still counted: the share is over the days assessed.
    assert stats.days_assessed == 26 and stats.good_share == Decimal("100.0")


def test_february_needs_25_days() -> None:
    """GB 3095—2026 Table 4: 二月至少有25个日平均浓度值 — in a common and in a leap year."""
    feb = Period.month(2027, 2)
    enough = evaluate(feb, days_of(date(2027, 2, 1), 25), date(2027, 3, 1)).figures["co"]
    assert enough.value == Decimal("0.8")
    short = evaluate(feb, days_of(date(2027, 2, 1), 24), date(2027, 3, 1)).figures["co"]
    assert short.value is None and short.withheld.startswith("2027-02 has 24 of the 25 daily values needed")
    leap = Period.month(2028, 2)
    assert leap.length == 29
    leap_o3 = evaluate(leap, days_of(date(2028, 2, 1), 25), date(2028, 3, 1)).figures["o3"]
    assert leap_o3.value == Decimal("90")


def test_one_pollutant_short_withholds_it_and_the_index_only() -> None:
    """GB 3095—2026 Table 4 counts each pollutant's daily values on its own."""
    days = days_of(date(2026, 11, 1), 30)
    # CO missing on four days: 26 CO values.
    days[:4] = [DailyValues(d.day, {k: v for k, v in d.values.items() if k != "co"}) for d in days[:4]]
    stats = evaluate(Period.month(2026, 11), days, date(2026, 12, 1))
    assert stats.figures["co"].value is None and "26 of the 27" in stats.figures["co"].withheld
    assert stats.figures["pm25"].value == Decimal("30")
    assert stats.index.value is None and stats.index.withheld == "needs all six statistics; CO withheld"
    # HJ 633—2026 §5.3.1: those four days lack CO and the others give AQI ≤ 100, so they are not assessed.
    assert stats.days_assessed == 26 and len(stats.not_assessed) == 4


def test_a_quarter_needs_every_month() -> None:
    """GB 3095—2026 Table 4 has no quarter row: each month of the quarter needs its own minimum."""
    q1 = Period.quarter(2027, 1)
    enough = days_of(date(2027, 1, 1), 27) + days_of(date(2027, 2, 1), 25) + days_of(date(2027, 3, 1), 27)
    assert evaluate(q1, enough, date(2027, 4, 1)).figures["pm10"].value == Decimal("50")
    short = days_of(date(2027, 1, 1), 26) + days_of(date(2027, 2, 1), 28) + days_of(date(2027, 3, 1), 31)
    withheld = evaluate(q1, short, date(2027, 4, 1)).figures["pm10"]
    assert withheld.value is None and withheld.n == 85
    assert withheld.withheld.startswith("2027-01 has 26 of the 27")


def test_a_year_needs_324_days_besides_every_month() -> None:
    """GB 3095—2026 Table 4: 每年至少有324个日平均浓度值；每月至少有27个（二月至少有25个）."""
    year = Period.whole_year(2027)
    months = []
    for m in range(1, 13):
        months += days_of(date(2027, m, 1), 25 if m == 2 else 27)
    # Every month at its minimum: 11 × 27 + 25 = 322 days, two short of 324.
    assert len(months) == 322
    stats = evaluate(year, months, date(2028, 1, 1))
    assert stats.figures["no2"].withheld == \
        "2027 has 322 of the 324 daily values needed (GB 3095—2026 Table 4)"
    more = [*months, *days_of(date(2027, 12, 28), 2)]
    assert evaluate(year, more, date(2028, 1, 1)).figures["no2"].value == Decimal("30")


def test_a_period_not_over_withholds_its_statistics_but_counts_its_days() -> None:
    """GB 3095—2026 §3.11: a monthly mean is over the calendar month; a running month has none yet."""
    stats = evaluate(Period.month(2026, 11), days_of(date(2026, 11, 1), 28), date(2026, 11, 28))
    assert stats.figures["pm25"].withheld == "2026-11 is not over: 28 of its 30 days have ended"
    assert not stats.over and stats.days_ended == 28 and stats.days_assessed == 28


# -- days, the district, the limits ---------------------------------------------------------

def test_a_missing_indicator_counts_only_above_100() -> None:
    """HJ 633—2026 §5.3.1: with an indicator missing, the AQI of the others is published when above 100."""
    polluted = DailyValues(date(2026, 12, 20), {"pm25": Decimal(182), "pm10": Decimal(236)})
    clean = DailyValues(date(2026, 12, 21), {"pm25": Decimal(30), "pm10": Decimal(50)})
    # PM2.5 182 (2026 table: 150 → 200, 250 → 300): 200 + 32 × 100/100 = 232 → 重度污染 (level 5).
    assert daily_aqi(polluted).aqi == 232  # type: ignore[union-attr]
    assert isinstance(daily_aqi(clean), str) and "§5.3.1" in daily_aqi(clean)  # type: ignore[operator]


def test_days_are_rated_by_the_edition_in_force_that_day() -> None:
    """HJ 633—2012 before 2026-03-01, HJ 633—2026 from then on: PM2.5 70 is 良 on 02-28 and 轻度 on 03-01."""
    feb_28 = DailyValues(date(2026, 2, 28), {"pm25": Decimal(70), "pm10": Decimal(100), "so2": Decimal(9),
                                             "no2": Decimal(47), "co": Decimal("0.8"), "o3_8h": Decimal(70)})
    mar_1 = DailyValues(date(2026, 3, 1), {**feb_28.values, "so2": Decimal(8)})
    # 2012: PM2.5 70 → 50 + 35 × 50/40 = 93.75 → 94 (良); 2026: 100 + 10 × 50/55 = 109.1 → 110 (轻度污染).
    assert daily_aqi(feb_28).aqi == 94 and daily_aqi(mar_1).aqi == 110  # type: ignore[union-attr]
    stats = evaluate(Period.quarter(2026, 1), [feb_28, mar_1], date(2026, 4, 1))
    assert stats.by_level == (0, 1, 1, 0, 0, 0) and stats.editions == ("hj633-2012", "hj633-2026")


def test_the_district_is_the_mean_of_its_stations_each_day() -> None:
    """HJ 663 city scale (secondary): each pollutant's district value is the arithmetic mean of the stations'
    valid values that day; the district AQI is rated from those means (HJ 633—2026 §4.2.1–4.2.2)."""
    a = [DailyValues(date(2026, 11, 24), {"pm25": Decimal(52), "pm10": Decimal(78), "co": Decimal("0.7")})]
    b = [DailyValues(date(2026, 11, 24), {"pm25": Decimal(58), "pm10": Decimal(90)})]
    c = [DailyValues(date(2026, 11, 24), {"pm25": Decimal(47), "pm10": Decimal(70), "co": Decimal("0.6")})]
    [day] = district_series([a, b, c])
    # PM2.5 (52 + 58 + 47)/3 = 157/3 = 52.33; PM10 (78 + 90 + 70)/3 = 238/3;
    # CO (0.7 + 0.6)/2 = 0.65 (b has none).
    assert day.values == {"pm25": Fraction(157, 3), "pm10": Fraction(238, 3), "co": Fraction(13, 20)}


def test_the_limits_follow_gb3095_by_date() -> None:
    """GB 3095—2026 §4.4: transitional limits from 2026-03-01 to 2030-12-31, Table 1 limits from
    2031-01-01."""
    assert limits_for(date(2026, 2, 28)) is GB3095_2012
    assert limits_for(date(2026, 3, 1)) is GB3095_2026_TRANSITIONAL
    assert limits_for(date(2030, 12, 31)) is GB3095_2026_TRANSITIONAL
    assert limits_for(date(2031, 1, 1)) is GB3095_2026
    assert GB3095_2026_TRANSITIONAL.values["pm25"] == 30 and GB3095_2026.values["pm25"] == 25
    # A period is measured against the limits in force on its last day: Q1 2026 ends under 2026.
    assert evaluate(Period.quarter(2026, 1), [], date(2026, 4, 1)).index.limits is GB3095_2026_TRANSITIONAL


def figures(**published: str) -> dict[str, Figure]:
    return {name: Figure(name, "mean", Decimal(v), 30) for name, v in published.items()}


def test_index_matches_heyuan_february_2022() -> None:
    """Comprehensive index with GB 3095—2012 limits, checked against a published report (河源市, 2022年2月:
    SO2 3, NO2 13, PM10 16, PM2.5 13 µg/m³, CO P95 0.9 mg/m³, O3 P90 87 µg/m³, 综合指数 1.73)."""
    # 3/60 = 0.05; 13/40 = 0.325 → 0.32 (5 after an even 2: down); 16/70 = 0.229 → 0.23; 13/35 = 0.371 → 0.37;
    # 0.9/4 = 0.225 → 0.22; 87/160 = 0.544 → 0.54. Σ = 1.73 as published. (Unrounded: 1.744 → 1.74;
    # half up on each: 1.75. Neither is what was published.)
    published = figures(so2="3", no2="13", pm10="16", pm25="13", co="0.9", o3="87")
    index = comprehensive_index(published, GB3095_2012)
    assert index.value == Decimal("1.73")


def test_index_and_share_match_a_published_first_quarter() -> None:
    """Comprehensive index per HJ 663-2013 and the share of good days, checked against a published report
    (奈曼, 第一季度: 有效监测天数91, 优51 良35 轻度2 重度3, 优良率94.5%; SO2 9, NO2 14, PM10 77, CO 1.1,
    O3-8h 96, PM2.5 23; 综合质量指数 3.14)."""
    # 9/60 = 0.15; 14/40 = 0.35; 77/70 = 1.10; 1.1/4 = 0.275 → 0.28 (5 after an odd 7: up); 96/160 = 0.60;
    # 23/35 = 0.657 → 0.66. Σ = 3.14 as published (unrounded: 3.132 → 3.13).
    published = figures(so2="9", no2="14", pm10="77", pm25="23", co="1.1", o3="96")
    index = comprehensive_index(published, GB3095_2012)
    assert index.value == Decimal("3.14")
    # 91 days in a first quarter: a leap year (2024: 31 + 29 + 31). 86 good of 91 = 94.505 % → 94.5 %.
    q1 = (days_of(date(2024, 1, 1), 51, pm25=20, pm10=30)  # 优
          + days_of(date(2024, 2, 21), 35, pm25=50, pm10=60)  # 良 (2012: 50 + 15 × 50/40 = 68.75 → 69)
          + days_of(date(2024, 3, 27), 2, pm25=100, pm10=110)  # 轻度 (2012: 100 + 25 × 50/40 = 131.25 → 132)
          + days_of(date(2024, 3, 29), 3, pm25=200, pm10=210))  # 重度 (2012: 200 + 50 × 100/100 = 250)
    stats = evaluate(Period.quarter(2024, 1), q1, date(2024, 4, 1))
    assert stats.days_assessed == 91 and stats.by_level == (51, 35, 2, 0, 3, 0)
    assert stats.good_share == Decimal("94.5")


# -- what the caller gives -------------------------------------------------------------------

@pytest.mark.parametrize("text", ["2026Q5", "2026Q0", "2026-Q4", "26Q4", "Q4", ""])
def test_a_bad_quarter_says_the_form(text: str) -> None:
    with pytest.raises(PeriodInputError, match="a quarter like 2026Q4"):
        parse_quarter(text)


@pytest.mark.parametrize("text", ["2026-13", "2026-00", "2026-1", "2026/11", "november"])
def test_a_bad_month_says_the_form(text: str) -> None:
    with pytest.raises(PeriodInputError, match="a month like 2026-11"):
        parse_month(text)


def test_periods_parse_and_name_themselves() -> None:
    q = parse_quarter("2026q4")
    assert (q.first, q.last, q.length, q.label, q.label_zh) == (
        date(2026, 10, 1), date(2026, 12, 31), 92, "2026Q4", "2026年第四季度")
    assert parse_month("2027-02").length == 28 and parse_year("2028").length == 366
    assert q.previous_year() == Period.quarter(2025, 4)
    with pytest.raises(PeriodInputError, match="a year like 2026"):
        parse_year("1999")


def test_two_values_for_one_day_are_refused() -> None:
    twice = days_of(date(2026, 11, 1), 1) * 2
    with pytest.raises(PeriodInputError, match="two sets of daily values for 2026-11-01"):
        evaluate(Period.month(2026, 11), twice, date(2026, 12, 1), name="镇海城区")
