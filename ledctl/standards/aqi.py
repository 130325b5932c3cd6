"""Air quality index per HJ 633 (2012 and 2026 editions), with exact arithmetic.

IAQI_P = (IAQI_hi - IAQI_lo) / (BP_hi - BP_lo) * (C_P - BP_lo) + IAQI_lo, rounded up;
AQI = max(IAQI_P). Computed with Fractions: binary floating point turns an exact
55 into 55.00000000000001 and rounds it up to 56.

What the 2026 edition (HJ 633—2026, in force 2026-03-01) changes beyond its table, each rule
checked against the standard's own text:

* §4.2.2: concentrations are rounded *before* the IAQI, by GB/T 8170 (round half to even):
  SO2, NO2, O3, PM10 and PM2.5 to whole µg/m³, CO to 0.1 mg/m³. PM2.5 35.4 → 35 → IAQI 50.
* §4.2.2: the daily AQI has six indicators; O3 enters only as the daily maximum 8-hour mean.
* Table 3 note b: SO2 1-hour above 800 µg/m³ counts as IAQI 200;
  note c: O3 8-hour above 800 µg/m³ counts as IAQI 300.
* §4.1.1: the AQI ranges 1–500 (the 2012 edition's table starts at 0).
* §4.2.3: the hourly report rates O3 by its 1-hour mean only; PM10 and PM2.5 1-hour means are
  rated on the 24-hour breakpoints (§4.2.4).

HJ 633—2012 keeps its own rules: no rounding first, the daily report includes the O3 1-hour
maximum, and above 800 the 24-hour SO2 / 1-hour O3 sub-index stands in.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from fractions import Fraction

from ledctl.errors import LedctlError
from ledctl.model import Assessment

IAQI_STEPS = (0, 50, 100, 150, 200, 300, 400, 500)

# Column name → display name of the pollutant.
POLLUTANT_OF_COLUMN = {
    "so2_24h": "SO2",
    "so2_1h": "SO2",
    "no2_24h": "NO2",
    "no2_1h": "NO2",
    "pm10_24h": "PM10",
    "co_24h": "CO",
    "co_1h": "CO",
    "o3_1h": "O3",
    "o3_8h": "O3",
    "pm25_24h": "PM2.5",
}

# For a daily report: reading parameter → table column.
DAILY_COLUMNS = {
    "pm25": "pm25_24h",
    "pm10": "pm10_24h",
    "so2": "so2_24h",
    "no2": "no2_24h",
    "co": "co_24h",
    "o3_8h": "o3_8h",
}

_TABLE_2012: dict[str, tuple[int, ...]] = {
    # µg/m³; CO in mg/m³. One entry per IAQI step; shorter columns end early.
    "so2_24h": (0, 50, 150, 475, 800, 1600, 2100, 2620),
    "so2_1h": (0, 150, 500, 650, 800),
    "no2_24h": (0, 40, 80, 180, 280, 565, 750, 940),
    "no2_1h": (0, 100, 200, 700, 1200, 2340, 3090, 3840),
    "pm10_24h": (0, 50, 150, 250, 350, 420, 500, 600),
    "co_24h": (0, 2, 4, 14, 24, 36, 48, 60),
    "co_1h": (0, 5, 10, 35, 60, 90, 120, 150),
    "o3_1h": (0, 160, 200, 300, 400, 800, 1000, 1200),
    "o3_8h": (0, 100, 160, 215, 265, 800),
    "pm25_24h": (0, 35, 75, 115, 150, 250, 350, 500),
}

_TABLE_2026 = dict(
    _TABLE_2012,
    pm25_24h=(0, 35, 60, 115, 150, 250, 350, 500),
    pm10_24h=(0, 50, 120, 250, 350, 420, 500, 600),
)


@dataclass(frozen=True, slots=True)
class Standard:
    """One edition of HJ 633. `since` is the first day it applies."""

    id: str
    since: date
    breakpoints: Mapping[str, tuple[int, ...]]
    rounds_first: bool = False  # concentrations rounded (GB/T 8170) before the IAQI
    daily_o3_1h: bool = True  # the daily AQI includes the O3 1-hour maximum
    fixed_above_top: Mapping[str, int] = field(default_factory=dict)  # column → IAQI above its top
    min_aqi: int = 0  # the lowest AQI the edition publishes (2026 §4.1.1: 1～500; 2012 Table 2: 0～50)
    hourly_o3_8h: bool = True  # the hourly (real-time) report includes the O3 8-hour moving mean


HJ633_2012 = Standard("hj633-2012", date(2012, 2, 29), _TABLE_2012)
HJ633_2026 = Standard(
    "hj633-2026", date(2026, 3, 1), _TABLE_2026,
    rounds_first=True,  # §4.2.2
    daily_o3_1h=False,  # §4.2.2: six indicators, O3 as the daily maximum 8-hour mean
    fixed_above_top={"so2_1h": 200, "o3_8h": 300},  # Table 3 notes b and c
    min_aqi=1,  # §4.1.1: 空气质量指数的范围为1～500
    hourly_o3_8h=False,  # §4.2.3 and Table 5: the real-time report rates O3 by its 1-hour mean only
)
STANDARDS = {s.id: s for s in (HJ633_2012, HJ633_2026)}


@dataclass(frozen=True, slots=True)
class Level:
    number: int
    top: int  # highest AQI of the level (None-free: level 6 is open-ended)
    category: str
    colour: str
    colour_name: str


LEVELS = (
    Level(1, 50, "优", "#00E400", "绿色"),
    Level(2, 100, "良", "#FFFF00", "黄色"),
    Level(3, 150, "轻度污染", "#FF7E00", "橙色"),
    Level(4, 200, "中度污染", "#FF0000", "红色"),
    Level(5, 300, "重度污染", "#99004C", "紫色"),
    Level(6, 10**9, "严重污染", "#7E0023", "褐红色"),
)


class AqiInputError(LedctlError):
    pass


def standard_for(day: date) -> Standard:
    """The edition in force on `day` (the reading's date in Asia/Shanghai)."""
    return HJ633_2026 if day >= HJ633_2026.since else HJ633_2012


def level_of(aqi: int) -> Level:
    for level in LEVELS:
        if aqi <= level.top:
            return level
    raise AssertionError("unreachable: level 6 is open-ended")


def _exact(value: Decimal | Fraction | int | float | str) -> Fraction:
    if isinstance(value, bool):
        raise AqiInputError(f"concentration {value!r} is not a number")
    if isinstance(value, Fraction | int):
        return Fraction(value)
    try:
        # A float goes through its shortest text form: 2.2 means 2.2, not 2.2000000000000001776…
        d = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
    except (InvalidOperation, TypeError, ValueError):
        raise AqiInputError(f"concentration {value!r} is not a number") from None
    if not d.is_finite():
        raise AqiInputError(f"concentration {value!r} is not a finite number")
    return Fraction(d)


def rounded(standard: Standard, column: str, concentration: Decimal | Fraction | int | str) -> Fraction:
    """The concentration the edition rates: as given (2012), or rounded by GB/T 8170 (2026 §4.2.2).

    GB/T 8170 rounds half to even on the exact value ("四舍六入五成双"), which is what
    Python's round() does on a Fraction: 35.5 → 36, 36.5 → 36, 2.05 → 2.0, 2.051 → 2.1.
    """
    c = _exact(concentration)
    if c < 0:
        raise AqiInputError(f"{column}: concentration {concentration} is negative")
    if not standard.rounds_first:
        return c
    return Fraction(round(c, ROUNDING_DIGITS.get(column, 0)))


# Decimal places each column is rounded to before the IAQI (HJ 633—2026 §4.2.2): CO to 0.1 mg/m³,
# everything else to whole µg/m³.
ROUNDING_DIGITS = {"co_24h": 1, "co_1h": 1}


def iaqi(standard: Standard, column: str, concentration: Decimal | Fraction | int | str) -> int | None:
    """The sub-index of one pollutant, rounded up; None above the column's top breakpoint."""
    if column not in standard.breakpoints:
        raise AqiInputError(f"unknown pollutant column {column!r}; known: {', '.join(standard.breakpoints)}")
    c = rounded(standard, column, concentration)
    bps = standard.breakpoints[column]
    for i in range(1, len(bps)):
        lo, hi = bps[i - 1], bps[i]
        if c <= hi:
            i_lo, i_hi = IAQI_STEPS[i - 1], IAQI_STEPS[i]
            value = Fraction(i_hi - i_lo, hi - lo) * (c - lo) + i_lo
            return math.ceil(value)
    return None


def assess(
    concentrations: Mapping[str, Decimal | Fraction | int | str],
    standard: Standard,
) -> Assessment:
    """AQI, level, category, colour and primary pollutant(s) from concentrations by column.

    Columns are those of the table ("pm25_24h", "o3_8h", "o3_1h", …). Above a
    short column's top (SO2-1h, O3-8h) the HJ 633 fall-backs apply; above any
    other column's top the result is "> 500".
    """
    if not concentrations:
        raise AqiInputError("no concentrations given: give at least one pollutant")
    unknown = sorted(set(concentrations) - set(standard.breakpoints))
    if unknown:
        raise AqiInputError(f"unknown pollutant column(s): {', '.join(unknown)}")

    sub: dict[str, int] = {}
    above = False
    for column, value in concentrations.items():
        index = iaqi(standard, column, value)
        if index is None:
            index, above_here = _above_top(standard, column, concentrations)
            above = above or above_here
            if index is None:
                continue
        sub[column] = index

    aqi = max(sub.values()) if sub else 500
    if above:
        aqi = 500
    aqi = max(aqi, standard.min_aqi)
    level = level_of(aqi)
    primary: tuple[str, ...] = ()
    if aqi > 50:
        names = [POLLUTANT_OF_COLUMN[c] for c, v in sub.items() if v == aqi]
        primary = tuple(dict.fromkeys(names))  # ties list all, once each
    return Assessment(
        standard=standard.id,
        aqi=aqi,
        level=level.number,
        category=level.category,
        colour=level.colour,
        primary=primary,
        iaqi=sub,
        above_scale=above,
    )


def _above_top(
    standard: Standard, column: str, concentrations: Mapping[str, Decimal | Fraction | int | str]
) -> tuple[int | None, bool]:
    """HJ 633 rules for a concentration above the column's top breakpoint.

    Returns (IAQI to use for this column or None to drop it, whether AQI is "> 500").
    """
    if column in standard.fixed_above_top:  # HJ 633—2026 Table 3 notes b and c
        return standard.fixed_above_top[column], False
    if column == "so2_1h":
        # SO2 1-h above 800: no 1-h sub-index; the 24-h sub-index is used.
        if "so2_24h" not in concentrations:
            raise AqiInputError("SO2 1-hour value is above 800 µg/m³: the 24-hour SO2 value is needed")
        return None, False
    if column == "o3_8h":
        # O3 8-h above 800: no 8-h sub-index; the 1-h sub-index is used.
        if "o3_1h" not in concentrations:
            raise AqiInputError(
                "O3 8-hour value is above 800 µg/m³: HJ 633 then uses the 1-hour O3 value; give it"
            )
        return None, False
    return 500, True


def daily_parameters(standard: Standard) -> tuple[str, ...]:
    """The reading parameters the edition's daily AQI is made of."""
    return (*DAILY_COLUMNS, "o3_1h") if standard.daily_o3_1h else tuple(DAILY_COLUMNS)


def assess_daily(values: Mapping[str, Decimal], standard: Standard) -> Assessment:
    """Assess daily (24-h) values keyed by reading parameter (pm25, pm10, so2, no2, co, o3_8h, o3_1h).

    Under HJ 633—2026 an O3 1-hour value is not part of the daily AQI (§4.2.2) and is left out.
    """
    columns: dict[str, Decimal] = {}
    for param, value in values.items():
        if param in DAILY_COLUMNS:
            columns[DAILY_COLUMNS[param]] = value
        elif param == "o3_1h" and standard.daily_o3_1h:
            columns["o3_1h"] = value
    if not columns and "o3_1h" in values:
        raise AqiInputError(f"{standard.id}: the daily AQI rates O3 by its daily maximum 8-hour mean "
                            "(HJ 633—2026 §4.2.2), not the 1-hour value; give the 8-hour value")
    return assess(columns, standard)


# -- hourly reports ---------------------------------------------------------------------------------

# For an hourly (real-time) report: the 1-hour columns for SO2, NO2, CO and O3. PM2.5 and PM10 have no
# 1-hour column: HJ 633—2026 §4.2.4 rates their 1-hour means on the 24-hour breakpoints. (HJ 633—2012
# Table 4 rated the PM 24-hour *moving* mean instead, which a 1-hour feed does not carry; ledctl rates
# the 1-hour mean for both editions and says so in docs/standards.md.)
HOURLY_COLUMNS = {
    "pm25": "pm25_24h",
    "pm10": "pm10_24h",
    "so2": "so2_1h",
    "no2": "no2_1h",
    "co": "co_1h",
    "o3_1h": "o3_1h",
    "o3_8h": "o3_8h",
}


def assess_hourly(values: Mapping[str, Decimal], standard: Standard) -> Assessment:
    """Assess hourly values keyed by reading parameter (pm25, pm10, so2, no2, co, o3_1h, o3_8h)."""
    columns = {HOURLY_COLUMNS[p]: v for p, v in values.items()
               if p in HOURLY_COLUMNS and (p != "o3_8h" or standard.hourly_o3_8h)}
    high_so2 = "so2_1h" in columns and iaqi(standard, "so2_1h", columns["so2_1h"]) is None
    if high_so2 and "so2_1h" not in standard.fixed_above_top and "so2_24h" not in columns:
        # SO2 1-h above 800 is rated on its 24-h value, which an hourly report does not have.
        raise AqiInputError("SO2 1-hour value is above 800 µg/m³: rate it with the 24-hour mean")
    return assess(columns, standard)


# -- US EPA (optional second standard) -----------------------------------------------------------------

US_EPA = "us-epa"
# PM2.5, 2024 revision (in force 2024-05-06), µg/m³ truncated to 0.1: (C_lo, C_hi, I_lo, I_hi).
_US_PM25 = (
    (Decimal("0.0"), Decimal("9.0"), 0, 50),
    (Decimal("9.1"), Decimal("35.4"), 51, 100),
    (Decimal("35.5"), Decimal("55.4"), 101, 150),
    (Decimal("55.5"), Decimal("125.4"), 151, 200),
    (Decimal("125.5"), Decimal("225.4"), 201, 300),
    (Decimal("225.5"), Decimal("325.4"), 301, 500),
)
US_LEVELS = (
    Level(1, 50, "Good", "#00E400", "green"),
    Level(2, 100, "Moderate", "#FFFF00", "yellow"),
    Level(3, 150, "Unhealthy for Sensitive Groups", "#FF7E00", "orange"),
    Level(4, 200, "Unhealthy", "#FF0000", "red"),
    Level(5, 300, "Very Unhealthy", "#8F3F97", "purple"),
    Level(6, 10**9, "Hazardous", "#7E0023", "maroon"),
)
US_CATEGORY_ZH = ("优", "中等", "对敏感人群不健康", "不健康", "非常不健康", "危险")


def us_level(aqi: int) -> Level:
    return next(level for level in US_LEVELS if aqi <= level.top)


def assess_us_epa(values: Mapping[str, Decimal | str | int]) -> Assessment:
    """US EPA AQI from PM2.5 (the only pollutant ledctl rates on the US scale).

    Concentrations are truncated to 0.1 µg/m³; the index is rounded to the nearest
    integer (half up), as the EPA does. Above 325.4 the AQI is "> 500".
    """
    other = sorted(set(values) - {"pm25"})
    if other:
        raise AqiInputError(f"the US EPA scale in ledctl rates PM2.5 only; remove {', '.join(other)}")
    if "pm25" not in values:
        raise AqiInputError("the US EPA scale needs --pm25")
    c = Decimal(_exact_decimal(values["pm25"])).quantize(Decimal("0.1"), rounding="ROUND_DOWN")
    if c < 0:
        raise AqiInputError(f"PM2.5 concentration {values['pm25']} is negative")
    for c_lo, c_hi, i_lo, i_hi in _US_PM25:
        if c <= c_hi:
            exact = Fraction(i_hi - i_lo) / Fraction(c_hi - c_lo) * Fraction(c - c_lo) + i_lo
            aqi = int(Decimal(exact.numerator) / Decimal(exact.denominator) + Decimal("0.5"))
            level = us_level(aqi)
            return Assessment(US_EPA, aqi, level.number, level.category, level.colour,
                              ("PM2.5",) if aqi > 50 else (), {"pm25_24h": aqi})
    level = US_LEVELS[-1]
    return Assessment(US_EPA, 500, level.number, level.category, level.colour, ("PM2.5",), {"pm25_24h": 500},
                      above_scale=True)


def from_us_aqi(value: Decimal | int) -> Assessment:
    """An Assessment for an AQI already on the US scale (e.g. from WAQI); it is labelled so."""
    aqi = int(value)
    if aqi < 0:
        raise AqiInputError(f"US AQI {value} is negative")
    level = us_level(min(aqi, 500))
    return Assessment(US_EPA, min(aqi, 500), level.number, level.category, level.colour, (), {},
                      above_scale=aqi > 500)


def _exact_decimal(value: Decimal | str | int | float) -> Decimal:
    fraction = _exact(value)
    return Decimal(fraction.numerator) / Decimal(fraction.denominator)
