"""Golden tests for HJ 633 AQI, derived independently from shared/facts/air-quality.md.

The breakpoint table below is typed in from the facts file (not imported from the
implementation), so a wrong table in `ledctl.standards.aqi` makes these tests fail.
Expected values are computed here with Fractions and math.ceil (向上进位取整).
"""

from __future__ import annotations

import math
from datetime import date
from decimal import ROUND_HALF_EVEN, Decimal
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledctl.standards.aqi import (
    HJ633_2012,
    HJ633_2026,
    STANDARDS,
    AqiInputError,
    assess,
    assess_daily,
    assess_hourly,
    iaqi,
    level_of,
    standard_for,
)

# -- the facts table, typed in verbatim ------------------------------------------------------

_FACTS_2012 = """
IAQI  SO2-24h SO2-1h NO2-24h NO2-1h PM10-24h CO-24h CO-1h O3-1h O3-8h PM2.5-24h
  0      0      0      0      0      0      0     0      0     0      0
 50     50    150     40    100     50      2     5    160   100     35
100    150    500     80    200    150      4    10    200   160     75
150    475    650    180    700    250     14    35    300   215    115
200    800    800    280   1200    350     24    60    400   265    150
300   1600     -     565   2340    420     36    90    800   800    250
400   2100     -     750   3090    500     48   120   1000    -     350
500   2620     -     940   3840    600     60   150   1200    -     500
"""

_COLUMN_OF_HEADER = {
    "SO2-24h": "so2_24h",
    "SO2-1h": "so2_1h",
    "NO2-24h": "no2_24h",
    "NO2-1h": "no2_1h",
    "PM10-24h": "pm10_24h",
    "CO-24h": "co_24h",
    "CO-1h": "co_1h",
    "O3-1h": "o3_1h",
    "O3-8h": "o3_8h",
    "PM2.5-24h": "pm25_24h",
}


def _parse_facts(text: str) -> tuple[tuple[int, ...], dict[str, tuple[int, ...]]]:
    header, *rows = [line.split() for line in text.strip().splitlines()]
    columns = [_COLUMN_OF_HEADER[h] for h in header[1:]]
    steps = tuple(int(r[0]) for r in rows)
    table: dict[str, list[int]] = {c: [] for c in columns}
    for r in rows:
        for column, cell in zip(columns, r[1:], strict=True):
            if cell != "-":
                table[column].append(int(cell))
    return steps, {c: tuple(v) for c, v in table.items()}


STEPS, TABLE_2012 = _parse_facts(_FACTS_2012)
# "What HJ 633-2026 changes": PM2.5 and PM10 only.
TABLE_2026 = dict(
    TABLE_2012,
    pm25_24h=(0, 35, 60, 115, 150, 250, 350, 500),
    pm10_24h=(0, 50, 120, 250, 350, 420, 500, 600),
)
TABLES = {"hj633-2012": TABLE_2012, "hj633-2026": TABLE_2026}
ALL_COLUMNS = tuple(TABLE_2012)
UNCHANGED_COLUMNS = tuple(c for c in ALL_COLUMNS if c not in ("pm25_24h", "pm10_24h"))
SHORT_COLUMNS = ("so2_1h", "o3_8h")  # columns that end before IAQI 500


def _delta(column: str) -> Fraction:
    """The smallest reporting step: 0.01 mg/m³ for CO, 0.1 µg/m³ otherwise."""
    return Fraction(1, 100) if column.startswith("co_") else Fraction(1, 10)


def ref_iaqi(bps: tuple[int, ...], c: Fraction) -> int | None:
    """Reference IAQI: the facts' formula, exact, rounded up; None above the top breakpoint."""
    for i in range(1, len(bps)):
        lo, hi = bps[i - 1], bps[i]
        if lo <= c <= hi:
            value = Fraction(STEPS[i] - STEPS[i - 1], hi - lo) * (c - lo) + STEPS[i - 1]
            return math.ceil(value)
    return None


def rated(standard, column: str, c: Fraction) -> Fraction:
    """The concentration an edition rates. HJ 633—2026 §4.2.2 rounds it first by GB/T 8170
    (round half to even): CO to 0.1 mg/m³, the rest to whole µg/m³. Typed in here with
    Decimal's ROUND_HALF_EVEN, independently of the implementation."""
    if standard.id != "hj633-2026":
        return c
    d = Decimal(c.numerator) / Decimal(c.denominator)
    quantum = Decimal("0.1") if column.startswith("co_") else Decimal(1)
    return Fraction(d.quantize(quantum, rounding=ROUND_HALF_EVEN))


def expected_iaqi(standard, column: str, c: Fraction) -> int | None:
    return ref_iaqi(TABLES[standard.id][column], rated(standard, column, Fraction(c)))


def _unit(standard, column: str) -> Fraction:
    """The smallest step that still changes what the edition rates."""
    if standard.id == "hj633-2026":
        return Fraction(1, 10) if column.startswith("co_") else Fraction(1)
    return _delta(column)


def _dec(x: Fraction) -> str:
    """A Fraction with a finite decimal expansion (as all test concentrations here), as text."""
    d = Decimal(x.numerator) / Decimal(x.denominator)
    assert Fraction(d) == x
    return str(d)


def _param(std_id: str, column: str):
    return pytest.param(STANDARDS[std_id], column, TABLES[std_id][column], id=f"{std_id}-{column}")


EVERY_COLUMN = [_param(s, c) for s in TABLES for c in ALL_COLUMNS]
COLUMNS_2012 = [_param("hj633-2012", c) for c in ALL_COLUMNS]


def test_facts_table_shape() -> None:
    """Guards the typed-in table itself (so a typo here does not silently weaken the tests)."""
    assert STEPS == (0, 50, 100, 150, 200, 300, 400, 500)
    assert len(TABLE_2012) == 10
    for column, bps in TABLE_2012.items():
        assert list(bps) == sorted(set(bps)), column
        expected_len = {"so2_1h": 5, "o3_8h": 6}.get(column, 8)
        assert len(bps) == expected_len, column
    assert TABLE_2012["o3_8h"][-1] == 800
    assert TABLE_2012["so2_1h"][-1] == 800


def test_standards_registry() -> None:
    assert STANDARDS["hj633-2012"] is HJ633_2012
    assert STANDARDS["hj633-2026"] is HJ633_2026
    assert HJ633_2012.id == "hj633-2012"
    assert HJ633_2026.id == "hj633-2026"


# -- 1. every breakpoint, midpoints, just above / below ----------------------------------------


@pytest.mark.parametrize(("standard", "column", "bps"), EVERY_COLUMN)
def test_every_breakpoint_gives_its_iaqi_step_exactly(standard, column, bps) -> None:
    for bp, step in zip(bps, STEPS, strict=False):
        for given_as in (bp, str(bp), Decimal(bp), Decimal(f"{bp}.00")):
            got = iaqi(standard, column, given_as)
            assert got == step, f"{standard.id} {column} at {given_as!r}: {got} != {step}"
            assert type(got) is int


@pytest.mark.parametrize(("standard", "column", "bps"), EVERY_COLUMN)
def test_midpoint_and_third_of_every_segment(standard, column, bps) -> None:
    for i in range(1, len(bps)):
        lo, hi = bps[i - 1], bps[i]
        mid = Fraction(lo + hi, 2)
        expected_mid = STEPS[i - 1] + (STEPS[i] - STEPS[i - 1]) // 2
        assert ref_iaqi(bps, mid) == expected_mid
        expected_mid = expected_iaqi(standard, column, mid)  # 2026: rounded first (637.5 → 638)
        assert iaqi(standard, column, _dec(mid)) == expected_mid, (standard.id, column, mid)
        assert iaqi(standard, column, Decimal(_dec(mid))) == expected_mid, (standard.id, column, mid)
        assert iaqi(standard, column, mid) == expected_mid, (standard.id, column, mid)
        third = lo + Fraction(hi - lo, 3)  # not a finite decimal: pass as a Fraction
        expected_third = math.ceil(STEPS[i - 1] + Fraction(STEPS[i] - STEPS[i - 1], 3))
        if standard.id == "hj633-2026":
            expected_third = expected_iaqi(standard, column, third)
        assert iaqi(standard, column, third) == expected_third, (standard.id, column, third)


@pytest.mark.parametrize(("standard", "column", "bps"), COLUMNS_2012)
def test_just_above_a_breakpoint_rounds_up(standard, column, bps) -> None:
    d = _delta(column)
    for i, bp in enumerate(bps[:-1]):
        c = bp + d
        expected = ref_iaqi(bps, c)
        assert expected == math.ceil(STEPS[i] + Fraction(STEPS[i + 1] - STEPS[i], bps[i + 1] - bp) * d)
        assert expected == STEPS[i] + 1  # never stays at the step: rounded UP
        assert iaqi(standard, column, _dec(c)) == expected, (standard.id, column, _dec(c))
        assert iaqi(standard, column, Decimal(_dec(c))) == expected, (standard.id, column, _dec(c))


@pytest.mark.parametrize(("standard", "column", "bps"), EVERY_COLUMN)
def test_just_below_a_breakpoint_rounds_up_to_the_step(standard, column, bps) -> None:
    d = _delta(column)
    for i, bp in enumerate(bps[1:], start=1):
        c = bp - d
        assert ref_iaqi(bps, c) == STEPS[i]
        assert iaqi(standard, column, _dec(c)) == STEPS[i], (standard.id, column, _dec(c))


@pytest.mark.parametrize(("standard", "column", "bps"), EVERY_COLUMN)
def test_above_the_top_breakpoint_is_not_extrapolated(standard, column, bps) -> None:
    for c in (bps[-1] + _unit(standard, column), Fraction(bps[-1] * 2)):
        assert iaqi(standard, column, _dec(c)) is None, (standard.id, column, c)


# -- 2. exact arithmetic: binary floats would round these up one too far ------------------------

EXACT_CASES = [
    # (standard, column, concentration as text, exact IAQI)
    (HJ633_2012, "co_24h", "2.2", 55),
    (HJ633_2026, "co_24h", "2.2", 55),
    (HJ633_2012, "pm25_24h", "4.9", 7),
    (HJ633_2012, "pm25_24h", "128.3", 169),
    (HJ633_2012, "pm10_24h", "352.1", 203),
    (HJ633_2026, "pm10_24h", "352.1", 203),
    (HJ633_2012, "o3_8h", "102.4", 52),
    (HJ633_2012, "o3_8h", "163.3", 103),
    (HJ633_2026, "o3_8h", "163.3", 103),
    (HJ633_2012, "so2_24h", "2120.8", 404),
]


def _naive_float_iaqi(bps: tuple[int, ...], c: float) -> int:
    for i in range(1, len(bps)):
        lo, hi = bps[i - 1], bps[i]
        if c <= hi:
            return math.ceil((STEPS[i] - STEPS[i - 1]) / (hi - lo) * (c - lo) + STEPS[i - 1])
    raise AssertionError("above the table")


@pytest.mark.parametrize(("standard", "column", "text", "expected"), EXACT_CASES,
                         ids=[f"{s.id}-{c}-{t}" for s, c, t, _ in EXACT_CASES])
def test_exact_arithmetic_where_floats_round_wrong(standard, column, text, expected) -> None:
    bps = TABLES[standard.id][column]
    assert ref_iaqi(bps, Fraction(text)) == expected
    # The case is meaningful: the float formula gives one more.
    assert _naive_float_iaqi(bps, float(text)) == expected + 1
    assert iaqi(standard, column, text) == expected
    assert iaqi(standard, column, Decimal(text)) == expected
    assert iaqi(standard, column, Fraction(text)) == expected


def test_exact_arithmetic_through_assess() -> None:
    a = assess({"co_24h": Decimal("2.2")}, HJ633_2012)
    assert a.aqi == 55
    assert a.iaqi == {"co_24h": 55}
    a = assess({"pm25_24h": "128.3", "so2_24h": "2120.8"}, HJ633_2012)
    assert a.iaqi == {"pm25_24h": 169, "so2_24h": 404}
    assert a.aqi == 404
    assert a.primary == ("SO2",)


# -- 3. what HJ 633-2026 changes ------------------------------------------------------------


def test_pm25_60_is_100_in_2026_but_82_in_2012() -> None:
    # 2012: 50 + (100-50)/(75-35) * (60-35) = 81.25 → rounded up: 82.
    assert ref_iaqi(TABLE_2012["pm25_24h"], Fraction(60)) == 82
    assert iaqi(HJ633_2026, "pm25_24h", "60") == 100
    assert iaqi(HJ633_2012, "pm25_24h", "60") == 82


def test_pm10_120_is_100_in_2026_but_85_in_2012() -> None:
    # 2012: 50 + (100-50)/(150-50) * (120-50) = 85.
    assert iaqi(HJ633_2026, "pm10_24h", "120") == 100
    assert iaqi(HJ633_2012, "pm10_24h", "120") == 85


@pytest.mark.parametrize(("column", "c", "y2012", "y2026"), [
    ("pm25_24h", "75", 100, 114),  # 2026: 100 + 50/55*15 = 113.64 → 114
    ("pm10_24h", "150", 100, 112),  # 2026: 100 + 50/130*30 = 111.54 → 112
])
def test_old_100_points_under_the_new_table(column, c, y2012, y2026) -> None:
    assert ref_iaqi(TABLE_2012[column], Fraction(c)) == y2012
    assert ref_iaqi(TABLE_2026[column], Fraction(c)) == y2026
    assert iaqi(HJ633_2012, column, c) == y2012
    assert iaqi(HJ633_2026, column, c) == y2026


@pytest.mark.parametrize("column", UNCHANGED_COLUMNS)
def test_other_columns_identical_between_editions(column) -> None:
    bps = TABLE_2012[column]
    top = bps[-1]
    points = {Fraction(b) for b in bps}
    points |= {Fraction(top * k, 97) for k in range(98)}  # an irregular grid over the column
    points |= {Fraction(b) + _delta(column) for b in bps[:-1]}
    for c in sorted(points):
        assert iaqi(HJ633_2012, column, c) == ref_iaqi(bps, c), (column, c)
        assert iaqi(HJ633_2026, column, c) == expected_iaqi(HJ633_2026, column, c), (column, c)


# -- 4. date switch ---------------------------------------------------------------------------


@pytest.mark.parametrize(("day", "std_id"), [
    (date(2013, 1, 1), "hj633-2012"),
    (date(2025, 12, 31), "hj633-2012"),
    (date(2026, 2, 28), "hj633-2012"),
    (date(2026, 3, 1), "hj633-2026"),
    (date(2026, 3, 2), "hj633-2026"),
    (date(2027, 1, 1), "hj633-2026"),
])
def test_standard_for_date(day, std_id) -> None:
    assert standard_for(day).id == std_id
    assert standard_for(day) is STANDARDS[std_id]


def test_date_switch_changes_the_daily_aqi() -> None:
    values = {"pm25": Decimal("70"), "pm10": Decimal("100")}
    before = assess_daily(values, standard_for(date(2026, 2, 28)))
    after = assess_daily(values, standard_for(date(2026, 3, 1)))
    # 2012: PM2.5 50 + 50/40*35 = 93.75 → 94; PM10 50 + 50/100*50 = 75.
    assert before.standard == "hj633-2012"
    assert before.iaqi == {"pm25_24h": 94, "pm10_24h": 75}
    assert before.aqi == 94
    assert before.level == 2
    # 2026: PM2.5 100 + 50/55*10 = 109.09 → 110; PM10 50 + 50/70*50 = 85.71 → 86.
    assert after.standard == "hj633-2026"
    assert after.iaqi == {"pm25_24h": 110, "pm10_24h": 86}
    assert after.aqi == 110
    assert after.level == 3
    assert before.aqi != after.aqi


# -- 5. levels, categories, colours ---------------------------------------------------------

LEVEL_CASES = [
    (0, 1, "优", "#00E400"),
    (50, 1, "优", "#00E400"),
    (51, 2, "良", "#FFFF00"),
    (100, 2, "良", "#FFFF00"),
    (101, 3, "轻度污染", "#FF7E00"),
    (150, 3, "轻度污染", "#FF7E00"),
    (151, 4, "中度污染", "#FF0000"),
    (200, 4, "中度污染", "#FF0000"),
    (201, 5, "重度污染", "#99004C"),
    (300, 5, "重度污染", "#99004C"),
    (301, 6, "严重污染", "#7E0023"),
    (500, 6, "严重污染", "#7E0023"),
]
RGB_OF_HEX = {
    "#00E400": (0, 228, 0),
    "#FFFF00": (255, 255, 0),
    "#FF7E00": (255, 126, 0),
    "#FF0000": (255, 0, 0),
    "#99004C": (153, 0, 76),
    "#7E0023": (126, 0, 35),
}


def _concentration_for(bps: tuple[int, ...], target: int) -> Fraction:
    """The exact concentration whose IAQI is `target` (inverse of the facts' formula)."""
    if target == 0:
        return Fraction(0)
    for i in range(1, len(bps)):
        if STEPS[i - 1] < target <= STEPS[i]:
            lo, hi = bps[i - 1], bps[i]
            return lo + Fraction(target - STEPS[i - 1], STEPS[i] - STEPS[i - 1]) * (hi - lo)
    raise AssertionError(target)


def test_colour_hex_matches_rgb_of_facts() -> None:
    for hex_, rgb in RGB_OF_HEX.items():
        assert tuple(int(hex_[k:k + 2], 16) for k in (1, 3, 5)) == rgb


@pytest.mark.parametrize(("aqi", "number", "category", "colour"), LEVEL_CASES)
def test_level_of_boundaries(aqi, number, category, colour) -> None:
    level = level_of(aqi)
    assert level.number == number
    assert level.category == category
    assert level.colour == colour


@pytest.mark.parametrize(("aqi", "number", "category", "colour"), LEVEL_CASES)
@pytest.mark.parametrize("standard", [HJ633_2012], ids=lambda s: s.id)
def test_assessment_level_at_boundaries(standard, aqi, number, category, colour) -> None:
    # 2012 only: under 2026 the rounding first makes some AQIs unreachable from PM2.5 (35 → 50, 36 → 52).
    c = _concentration_for(TABLES[standard.id]["pm25_24h"], aqi)
    a = assess({"pm25_24h": c}, standard)
    assert a.aqi == aqi
    assert (a.level, a.category, a.colour) == (number, category, colour)
    assert a.standard == standard.id
    assert a.above_scale is False
    assert a.display == str(aqi)


# -- 6. primary pollutant ---------------------------------------------------------------------

ALL_AT_50 = {"pm25": "35", "pm10": "50", "so2": "50", "no2": "40", "co": "2", "o3_8h": "100"}


@pytest.mark.parametrize("standard", [HJ633_2012, HJ633_2026], ids=lambda s: s.id)
def test_no_primary_when_every_iaqi_is_50(standard) -> None:
    a = assess_daily({k: Decimal(v) for k, v in ALL_AT_50.items()}, standard)
    assert set(a.iaqi.values()) == {50}
    assert len(a.iaqi) == 6
    assert a.aqi == 50
    assert a.primary == ()
    assert a.level == 1


def test_primary_appears_at_51() -> None:
    # 2012 PM2.5 35.8: 50 + 1.25 * 0.8 = 51 exactly.
    a = assess({"pm25_24h": "35.8", "pm10_24h": "50"}, HJ633_2012)
    assert a.aqi == 51
    assert a.primary == ("PM2.5",)


def test_primary_is_the_pollutant_with_the_highest_iaqi() -> None:
    a = assess_daily({"pm25": Decimal("52"), "pm10": Decimal("78"), "so2": Decimal("8"),
                      "no2": Decimal("41"), "co": Decimal("0.7"), "o3_8h": Decimal("96")}, HJ633_2026)
    # PM2.5: 50 + 50/25*17 = 84; PM10: 50 + 50/70*28 = 70; NO2: 50 + 50/40*1 = 51.25 → 52.
    assert a.iaqi["pm25_24h"] == 84
    assert a.iaqi["pm10_24h"] == 70
    assert a.iaqi["no2_24h"] == 52
    assert a.iaqi["co_24h"] == 18
    assert a.iaqi["so2_24h"] == 8
    assert a.iaqi["o3_8h"] == 48
    assert a.aqi == 84
    assert a.primary == ("PM2.5",)


def test_ties_list_every_pollutant() -> None:
    a = assess_daily({"pm25": Decimal("75"), "pm10": Decimal("150"), "no2": Decimal("41")}, HJ633_2012)
    assert a.iaqi == {"pm25_24h": 100, "pm10_24h": 100, "no2_24h": 52}
    assert a.aqi == 100
    assert set(a.primary) == {"PM2.5", "PM10"}
    assert len(a.primary) == 2


def test_o3_one_hour_and_eight_hour_tie_counts_o3_once() -> None:
    a = assess_daily({"o3_8h": Decimal("160"), "o3_1h": Decimal("200"), "pm25": Decimal("40")}, HJ633_2012)
    assert a.iaqi == {"o3_8h": 100, "o3_1h": 100, "pm25_24h": 57}
    assert a.aqi == 100
    assert a.primary == ("O3",)


# -- 7. above the top -------------------------------------------------------------------------


@pytest.mark.parametrize("standard", [HJ633_2012, HJ633_2026], ids=lambda s: s.id)
def test_pm25_above_500_is_reported_as_above_scale(standard) -> None:
    a = assess({"pm25_24h": "600", "pm10_24h": "100"}, standard)
    assert a.above_scale is True
    assert a.display == ">500"
    assert a.aqi == 500
    assert a.level == 6
    assert a.category == "严重污染"
    assert a.colour == "#7E0023"
    assert "PM2.5" in a.primary


@pytest.mark.parametrize(("standard", "column", "bps"),
                         [p for p in EVERY_COLUMN if p.values[1] not in SHORT_COLUMNS])
def test_every_long_column_above_its_top_is_above_scale(standard, column, bps) -> None:
    at_top = assess({column: str(bps[-1])}, standard)
    assert (at_top.aqi, at_top.above_scale, at_top.display) == (500, False, "500")
    above = assess({column: _dec(bps[-1] + _unit(standard, column))}, standard)
    assert (above.aqi, above.above_scale, above.display, above.level) == (500, True, ">500", 6)


@pytest.mark.parametrize("standard", [HJ633_2012], ids=lambda s: s.id)
def test_o3_8h_above_800_without_1h_is_an_input_error(standard) -> None:
    assert iaqi(standard, "o3_8h", "800") == 300
    with pytest.raises(AqiInputError, match=r"(?i)o3.*8.*800.*1[- ]?h"):
        assess({"o3_8h": "800.1"}, standard)
    with pytest.raises(AqiInputError, match="800"):
        assess_daily({"o3_8h": Decimal("900"), "pm25": Decimal("30")}, standard)


@pytest.mark.parametrize("standard", [HJ633_2012], ids=lambda s: s.id)
def test_o3_8h_above_800_uses_the_1h_iaqi(standard) -> None:
    # O3-1h 500: 200 + (300-200)/(800-400) * 100 = 225.
    a = assess_daily({"o3_8h": Decimal("900"), "o3_1h": Decimal("500"), "pm25": Decimal("30")}, standard)
    assert "o3_8h" not in a.iaqi
    assert a.iaqi["o3_1h"] == 225
    assert a.aqi == 225
    assert a.above_scale is False
    assert a.level == 5
    assert a.primary == ("O3",)


@pytest.mark.parametrize("standard", [HJ633_2012], ids=lambda s: s.id)
def test_so2_1h_above_800_drops_the_1h_column(standard) -> None:
    assert iaqi(standard, "so2_1h", "800") == 200
    # SO2-24h 100: 50 + 50/100*50 = 75.
    a = assess({"so2_1h": "800.1", "so2_24h": "100"}, standard)
    assert "so2_1h" not in a.iaqi
    assert a.iaqi == {"so2_24h": 75}
    assert a.aqi == 75
    assert a.above_scale is False
    assert a.primary == ("SO2",)
    b = assess({"so2_1h": "2000", "so2_24h": "100", "pm25_24h": "10"}, standard)
    assert b.iaqi == {"so2_24h": 75, "pm25_24h": 15}
    assert b.aqi == 75


def test_so2_1h_at_or_below_800_counts() -> None:
    # SO2-1h 700: 150 + 50/150 * 50 = 166.67 → 167.
    a = assess({"so2_1h": "700", "so2_24h": "100"}, HJ633_2012)
    assert a.iaqi == {"so2_1h": 167, "so2_24h": 75}
    assert a.aqi == 167


# -- 8. bad input -----------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["-1", "-0.1", Decimal("-0.01"), Fraction(-1, 3), -5])
def test_negative_concentration_is_an_input_error(value) -> None:
    with pytest.raises(AqiInputError, match="negative"):
        iaqi(HJ633_2026, "pm25_24h", value)
    with pytest.raises(AqiInputError, match="negative"):
        assess({"pm25_24h": value}, HJ633_2026)


@pytest.mark.parametrize("value", ["NaN", "nan", "Infinity", "-Infinity", "inf", "sNaN",
                                   Decimal("NaN"), Decimal("Infinity")])
def test_non_finite_concentration_is_an_input_error(value) -> None:
    with pytest.raises(AqiInputError):
        iaqi(HJ633_2012, "pm10_24h", value)
    with pytest.raises(AqiInputError):
        assess({"pm10_24h": value}, HJ633_2012)


def test_non_numeric_text_is_an_input_error() -> None:
    with pytest.raises(AqiInputError):
        iaqi(HJ633_2012, "pm10_24h", "abc")


def test_unknown_column_is_an_input_error_in_assess() -> None:
    with pytest.raises(AqiInputError, match="pm1_24h"):
        assess({"pm1_24h": "5", "pm25_24h": "10"}, HJ633_2026)


def test_unknown_column_is_an_input_error_in_iaqi() -> None:
    with pytest.raises(AqiInputError):
        iaqi(HJ633_2026, "pm1_24h", "5")


def test_no_concentrations_is_an_input_error() -> None:
    with pytest.raises(AqiInputError):
        assess({}, HJ633_2026)
    with pytest.raises(AqiInputError):
        assess_daily({}, HJ633_2026)


def test_aqi_input_error_is_a_user_error() -> None:
    from ledctl.errors import LedctlError

    assert issubclass(AqiInputError, LedctlError)
    assert AqiInputError.exit_code == 2


# -- 9. properties ----------------------------------------------------------------------------

NAME_OF_COLUMN = {"pm25_24h": "PM2.5", "pm10_24h": "PM10", "so2_24h": "SO2", "no2_24h": "NO2",
                  "co_24h": "CO", "o3_8h": "O3"}
DAILY_OF_COLUMN = {"pm25_24h": "pm25", "pm10_24h": "pm10", "so2_24h": "so2", "no2_24h": "no2",
                   "co_24h": "co", "o3_8h": "o3_8h"}


def _within(column: str, table: dict[str, tuple[int, ...]]) -> st.SearchStrategy[Decimal]:
    places = 2 if column.startswith("co_") else 1
    return st.decimals(min_value=0, max_value=table[column][-1], places=places,
                       allow_nan=False, allow_infinity=False)


standards_st = st.sampled_from([HJ633_2012, HJ633_2026])


@st.composite
def column_and_pair(draw):
    standard = draw(standards_st)
    column = draw(st.sampled_from(ALL_COLUMNS))
    table = TABLES[standard.id]
    a = draw(_within(column, table))
    b = draw(_within(column, table))
    return standard, column, min(a, b), max(a, b)


@st.composite
def daily_readings(draw):
    standard = draw(standards_st)
    table = TABLES[standard.id]
    columns = draw(st.lists(st.sampled_from(list(DAILY_OF_COLUMN)), min_size=1, unique=True))
    return standard, {c: draw(_within(c, table)) for c in columns}


@settings(max_examples=150, deadline=None)
@given(column_and_pair())
def test_iaqi_is_monotonic_and_matches_the_facts(case) -> None:
    standard, column, lo, hi = case
    i_lo = iaqi(standard, column, lo)
    i_hi = iaqi(standard, column, hi)
    assert type(i_lo) is int
    assert type(i_hi) is int
    assert i_lo <= i_hi
    assert 0 <= i_lo <= 500
    assert i_lo == expected_iaqi(standard, column, Fraction(lo))
    assert i_hi == expected_iaqi(standard, column, Fraction(hi))


@settings(max_examples=150, deadline=None)
@given(daily_readings())
def test_aqi_is_the_max_of_the_iaqis_and_an_int(case) -> None:
    standard, columns = case
    a = assess(columns, standard)
    expected = {c: expected_iaqi(standard, c, Fraction(v)) for c, v in columns.items()}
    assert dict(a.iaqi) == expected
    assert a.aqi == max(standard.min_aqi, *expected.values())  # 2026 §4.1.1: 1–500; 2012: 0–500
    assert type(a.aqi) is int
    assert all(type(v) is int for v in a.iaqi.values())
    assert a.above_scale is False
    assert a.level == level_of(a.aqi).number
    if a.aqi > 50:
        assert set(a.primary) == {NAME_OF_COLUMN[c] for c, v in expected.items() if v == a.aqi}
        assert len(a.primary) == len(set(a.primary))
    else:
        assert a.primary == ()
    daily = assess_daily({DAILY_OF_COLUMN[c]: v for c, v in columns.items()}, standard)
    assert daily == a


def test_float_input_is_taken_at_its_written_value() -> None:
    # A JSON feed may hand over 2.2 as a binary float; it must still give exactly 55, not 56.
    from ledctl.standards.aqi import HJ633_2012 as std
    from ledctl.standards.aqi import iaqi as sub_index

    assert sub_index(std, "co_24h", 2.2) == 55


# -- 9. HJ 633—2026, checked against the standard's own text ---------------------------------------
# HJ 633—2026 (issued 2026-02-14, in force 2026-03-01). Each case names its clause.


@pytest.mark.parametrize(("param", "given", "aqi", "category"), [
    # §4.2.2: rounded first by GB/T 8170 (round half to even), then rated.
    ("pm25", "35.4", 50, "优"),  # 35.4 → 35 → 50 (exact arithmetic would give 51 良)
    ("pm25", "35.5", 52, "良"),  # 35.5 → 36 (half to even) → 50 + 50/25 = 52
    ("pm25", "36.5", 52, "良"),  # 36.5 → 36 (half to even, not up)
    ("pm25", "60.5", 100, "良"),  # 60.5 → 60 → 100 (exact: 101 轻度污染)
    ("pm25", "60.51", 101, "轻度污染"),  # 60.51 → 61: more than half rounds up
    ("co", "2.05", 50, "优"),  # CO to 0.1 mg/m³: 2.05 → 2.0 → 50 (exact: 52)
    ("co", "2.15", 55, "良"),  # 2.15 → 2.2 (half to even) → 55
    ("co", "2.25", 55, "良"),  # 2.25 → 2.2
    ("pm10", "120.5", 100, "良"),  # 120.5 → 120 → 100
])
def test_2026_rounds_concentrations_before_the_iaqi(param, given, aqi, category) -> None:
    a = assess_daily({param: Decimal(given)}, HJ633_2026)
    assert (a.aqi, a.category) == (aqi, category)


def test_2012_keeps_its_own_rule_no_rounding_first() -> None:
    assert assess_daily({"pm25": Decimal("35.4")}, HJ633_2012).aqi == 51
    assert assess_daily({"co": Decimal("2.05")}, HJ633_2012).aqi == 52


def test_2026_daily_aqi_has_six_indicators_o3_only_as_8h() -> None:
    # §4.2.2: O3 enters the daily AQI only as the daily maximum 8-hour mean.
    a = assess_daily({"o3_8h": Decimal("150"), "o3_1h": Decimal("220")}, HJ633_2026)
    assert a.aqi == 92  # 50 + 50/60*50 = 91.67 → 92; the 1-hour 220 (IAQI 110) is not part of it
    assert "o3_1h" not in a.iaqi
    # … while the 2012 daily report still includes the O3 1-hour maximum.
    assert assess_daily({"o3_8h": Decimal("150"), "o3_1h": Decimal("220")}, HJ633_2012).aqi == 110
    with pytest.raises(AqiInputError, match="8-hour"):
        assess_daily({"o3_1h": Decimal("220")}, HJ633_2026)


@pytest.mark.parametrize(("given", "aqi"), [("800", 300), ("801", 300), ("900", 300), ("1200", 300)])
def test_2026_o3_8h_above_800_counts_as_300(given, aqi) -> None:
    # Table 3 note c: 臭氧8小时平均浓度值高于800 µg/m³ 的，按 IAQI 300 计。
    a = assess_daily({"o3_8h": Decimal(given), "pm25": Decimal("30")}, HJ633_2026)
    assert (a.aqi, a.category, a.primary, a.above_scale) == (aqi, "重度污染", ("O3",), False)


def test_2026_so2_1h_above_800_counts_as_200() -> None:
    # Table 3 note b: 二氧化硫1小时平均浓度值高于800 µg/m³ 的，按 IAQI 200 计。
    a = assess({"so2_1h": "801", "pm25_24h": "30"}, HJ633_2026)
    assert a.iaqi["so2_1h"] == 200
    assert (a.aqi, a.category) == (200, "中度污染")
    assert assess_hourly({"so2": Decimal("1500")}, HJ633_2026).aqi == 200


def test_2026_aqi_is_never_0() -> None:
    # 2026 §4.1.1: 空气质量指数的范围为1～500 (the 2012 edition's Table 2 starts at 0～50).
    assert assess_daily({"pm25": Decimal("0"), "pm10": Decimal("0")}, HJ633_2026).aqi == 1
    assert assess_daily({"pm25": Decimal("0.4")}, HJ633_2026).aqi == 1
    assert assess_daily({"pm25": Decimal("0")}, HJ633_2012).aqi == 0


def test_2026_hourly_report_rates_o3_by_its_1_hour_mean_only() -> None:
    # 2026 §4.2.3 and Table 5: the real-time report's six indicators are 1-hour means; no O3 8-hour.
    a = assess_hourly({"o3_1h": Decimal("150"), "o3_8h": Decimal("200")}, HJ633_2026)
    assert a.iaqi == {"o3_1h": 47}  # 150/160*50 = 46.9 → 47; the 8-hour 200 (IAQI 134) is not part of it
    b = assess_hourly({"o3_1h": Decimal("150"), "o3_8h": Decimal("200")}, HJ633_2012)
    assert b.aqi == 137  # 2012 §5.1.3 includes the O3 8-hour moving mean: 100 + 50/55*40 → 137
