#!/usr/bin/env python3
"""Generate the synthetic SAMPLE data set in ``config/sample-data/``.

The files written here are NOT real measurements. They are a deterministic,
synthetic stand-in for the daily data that Zhenhai district's automatic air
and surface-water monitoring stations publish, made so that the tests and the
demo of ``ledctl`` get realistic-looking input with a few known ("pinned")
values. Station ids and names are real places; the numbers are invented.

Outputs (UTF-8, LF line endings, one row per station and day from 2026-01-01
to 2027-12-31 inclusive, sorted by date then station id; an empty cell is a
missing value):

``air-daily.csv``
    ``station,date,pm25,pm10,so2,no2,co,o3_8h`` -- 24-hour means in µg/m³,
    except ``co`` in mg/m³. ``o3_8h`` is the day's maximum 8-hour running
    mean. CO has one decimal, everything else is an integer, as CNEMC
    publishes them.
``water-daily.csv``
    ``station,date,do,codmn,nh3n,tp,tn`` -- daily means in mg/L from automatic
    surface-water stations; two decimals, ``tp`` three.

How the data are shaped:

* One shared regional weather series drives everything: rain days (more of
  them in the plum-rain season, plus the odd typhoon), an AR(1) "stagnation"
  index (poor dispersion, so PM, NO2 and CO build up over several days) and an
  AR(1) "sunshine" index (photochemistry, so O3). Rain lowers both.
* Air: log-normal values around monthly medians typical of Ningbo -- PM is
  highest in Dec-Feb, O3_8h in May-Sep (where it is usually the primary
  pollutant). A fixed list of episodes is laid over that background: winter
  PM2.5 episodes reaching HJ 633 levels 3 to 5, two spring dust days with a
  high PM10/PM2.5 ratio, and summer O3 episodes (O3_8h 160-215, level 3).
  Stations differ by fixed factors: zh-jiaochuan, next to the petrochemical
  area, has more SO2 and NO2 (and occasional plume days); the coastal
  zh-zhaobaoshan is a little cleaner. PM10 is PM2.5 times a seasonal
  coarse-fraction ratio and always greater than PM2.5.
* Water: dissolved oxygen follows water temperature (a station-specific
  fraction of saturation, so it is lowest in summer); CODMn, NH3-N, TP and TN
  wander as AR(1) processes around station baselines (mostly GB 3838 class
  II-IV) and spike after heavy rain (first flush), strongest at xiepu-dahe,
  which then occasionally falls to class "worse than V".
* About 1 % of the value cells are blanked at random, never in pinned rows.
* Finally the pinned rows (``AIR_PINS`` and ``WATER_PINS`` below, also listed
  in ``config/sample-data/README.md``) overwrite the generated values.

Determinism: every random draw comes from ``random.Random`` instances seeded
from one fixed seed (separate streams for weather, air, water and missing
cells), and nothing depends on the clock, so two runs give byte-identical
files.

Regenerate (from the repository root; needs only the standard library)::

    python tools/make_sample_data.py

``--out-dir DIR`` writes elsewhere; ``--seed N`` changes every value except
the pinned rows.
"""

from __future__ import annotations

import argparse
import calendar
import csv
import math
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import TypeAlias

START = date(2026, 1, 1)
END = date(2027, 12, 31)
DEFAULT_SEED = 20261125
MISSING_RATE = 0.01
DEFAULT_OUT_DIR = Path(__file__).resolve().parent.parent / "config" / "sample-data"

AIR_FILE = "air-daily.csv"
WATER_FILE = "water-daily.csv"
AIR_COLUMNS = ("pm25", "pm10", "so2", "no2", "co", "o3_8h")
AIR_DECIMALS = {"pm25": 0, "pm10": 0, "so2": 0, "no2": 0, "co": 1, "o3_8h": 0}
WATER_COLUMNS = ("do", "codmn", "nh3n", "tp", "tn")
WATER_DECIMALS = {"do": 2, "codmn": 2, "nh3n": 2, "tp": 3, "tn": 2}

Row: TypeAlias = dict[str, float | None]
Table: TypeAlias = dict[tuple[date, str], Row]
Pins: TypeAlias = Mapping[tuple[date, str], Mapping[str, float | None]]

# --------------------------------------------------------------------------
# Pinned rows: exact values that tests and the demo rely on.
# --------------------------------------------------------------------------


def _air(
    pm25: float | None,
    pm10: float | None,
    so2: float | None,
    no2: float | None,
    co: float | None,
    o3_8h: float | None,
) -> dict[str, float | None]:
    return {"pm25": pm25, "pm10": pm10, "so2": so2, "no2": no2, "co": co, "o3_8h": o3_8h}


def _water(do: float, codmn: float, nh3n: float, tp: float, tn: float) -> dict[str, float | None]:
    return {"do": do, "codmn": codmn, "nh3n": nh3n, "tp": tp, "tn": tn}


AIR_PINS: dict[tuple[date, str], dict[str, float | None]] = {
    # A 良 day with PM2.5 as the primary pollutant: what the boards show on 2026-11-25,
    # since a board shows the previous day's daily mean.
    (date(2026, 11, 24), "zh-urban"): _air(52, 78, 8, 41, 0.7, 96),
    (date(2026, 11, 24), "zh-jiaochuan"): _air(58, 90, 14, 52, 0.8, 88),
    (date(2026, 11, 24), "zh-zhaobaoshan"): _air(47, 70, 7, 36, 0.6, 99),
    # An instrument fault: a PM2.5 value no real air has (above the plausible 1000 µg/m³); the
    # bulletin must reject it and show 数据更新中, never the figure.
    (date(2026, 11, 10), "zh-jiaochuan"): {"pm25": 1850.0},
    # Missing values: only these two cells are forced empty, the rest is generated.
    (date(2026, 11, 20), "zh-zhaobaoshan"): {"pm25": None, "co": None},
    # Peak of a heavy (重度, level 5) PM2.5 episode; no missing cells.
    (date(2026, 12, 20), "zh-urban"): _air(182, 236, 13, 66, 1.4, 34),
    (date(2026, 12, 20), "zh-jiaochuan"): _air(194, 251, 22, 78, 1.5, 29),
    (date(2026, 12, 20), "zh-zhaobaoshan"): _air(168, 218, 11, 57, 1.3, 38),
    # Summer ozone day: O3_8h level 3 (160-215), low PM.
    (date(2026, 7, 15), "zh-urban"): _air(24, 47, 7, 27, 0.5, 186),
    (date(2026, 7, 15), "zh-jiaochuan"): _air(27, 53, 12, 34, 0.6, 176),
    (date(2026, 7, 15), "zh-zhaobaoshan"): _air(21, 41, 6, 22, 0.5, 194),
    # Same PM on both sides of 2026-03-01, where the HJ 633 breakpoint table
    # changes (2012 -> 2026 edition); PM2.5 is the primary pollutant on both.
    (date(2026, 2, 28), "zh-urban"): _air(70, 100, 9, 47, 0.8, 70),
    (date(2026, 3, 1), "zh-urban"): _air(70, 100, 8, 44, 0.7, 78),
}

WATER_PINS: dict[tuple[date, str], dict[str, float | None]] = {
    (date(2026, 11, 24), "yongjiang-zhaobaoshan"): _water(7.8, 3.6, 0.42, 0.118, 1.85),
    (date(2026, 11, 24), "zhongdahe"): _water(5.6, 5.2, 0.86, 0.19, 2.10),
    (date(2026, 11, 24), "xiepu-dahe"): _water(4.1, 7.5, 1.32, 0.26, 2.90),
}

# --------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------


def date_range(start: date, end: date) -> list[date]:
    """Every day from ``start`` to ``end`` inclusive."""
    return [start + timedelta(days=i) for i in range((end - start).days + 1)]


def day_of_year(day: date) -> int:
    return day.timetuple().tm_yday


def seasonal(day: date, monthly: Sequence[float]) -> float:
    """Linearly interpolate a table of 12 mid-month values to ``day`` (cyclic)."""
    year_len = 366 if calendar.isleap(day.year) else 365
    pos = (day_of_year(day) - 0.5) / year_len * 12.0 - 0.5
    lo = math.floor(pos)
    frac = pos - lo
    return monthly[lo % 12] * (1.0 - frac) + monthly[(lo + 1) % 12] * frac


def annual_cos(day: date, peak_doy: float) -> float:
    """Cosine of the annual cycle: 1 on day-of-year ``peak_doy``, -1 half a year later."""
    return math.cos(2.0 * math.pi * (day_of_year(day) - peak_doy) / 365.25)


class AR1:
    """Stationary Gaussian AR(1) process with marginal standard deviation ``sd``."""

    def __init__(self, rng: random.Random, phi: float, sd: float) -> None:
        self._rng = rng
        self._phi = phi
        self._sd = sd
        self.value = rng.gauss(0.0, sd)

    def step(self) -> float:
        innovation = self._sd * math.sqrt(1.0 - self._phi**2)
        self.value = self._phi * self.value + self._rng.gauss(0.0, innovation)
        return self.value


@dataclass(frozen=True)
class Episode:
    """A pollution episode: a smooth bump of ``length`` days peaking at ``peak``."""

    start: date
    length: int
    peak: float

    def weight(self, day: date) -> float:
        i = (day - self.start).days
        if not 0 <= i < self.length:
            return 0.0
        return math.pow(math.sin(math.pi * (i + 1) / (self.length + 1)), 1.5)


def strongest(episodes: Sequence[Episode], day: date) -> tuple[float, float]:
    """Return ``(level, weight)`` of the episode contributing most on ``day``."""
    best = (0.0, 0.0)
    for episode in episodes:
        w = episode.weight(day)
        if w > 0.0 and episode.peak * w > best[0]:
            best = (episode.peak * w, w)
    return best


# --------------------------------------------------------------------------
# Shared weather
# --------------------------------------------------------------------------

# Chance of a day with significant rain (>~10 mm) per month; plum rains in June.
RAIN_PROB = (0.08, 0.10, 0.12, 0.12, 0.13, 0.22, 0.13, 0.13, 0.13, 0.07, 0.07, 0.06)
TYPHOON_PROB = 0.008  # per day in Jul-Sep


@dataclass(frozen=True)
class Weather:
    rain_mm: float
    stagnation: float  # ~N(0, 1); > 0 means poor dispersion
    sunshine: float  # ~N(0, 1); > 0 means sunny, photochemically active
    runoff: float  # decaying sum of recent rain, drives first-flush pollution


def make_weather(days: Sequence[date], rng: random.Random) -> list[Weather]:
    stagnation = AR1(rng, 0.75, 1.0)
    sunshine = AR1(rng, 0.6, 1.0)
    runoff = 0.0
    previous_wash = 0.0
    out: list[Weather] = []
    for day in days:
        rain = 0.0
        if rng.random() < RAIN_PROB[day.month - 1]:
            rain = 8.0 + rng.expovariate(1.0 / 18.0)
        if day.month in (7, 8, 9) and rng.random() < TYPHOON_PROB:
            rain += rng.uniform(80.0, 180.0)
        wash = min(rain / 20.0, 2.0)
        stag = stagnation.step() - 0.8 * wash - 0.4 * previous_wash
        sun = sunshine.step() - 0.9 * wash - 0.3 * previous_wash
        runoff = 0.55 * runoff + rain / 30.0
        out.append(Weather(rain, stag, sun, runoff))
        previous_wash = wash
    return out


# --------------------------------------------------------------------------
# Air
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class AirStation:
    station_id: str
    name: str
    pm: float  # multiplier on the regional PM level
    so2: float  # median SO2, µg/m³
    no2: float  # multiplier on the regional NO2 level
    co: float  # multiplier on the regional CO level
    o3: float  # multiplier on the regional O3_8h level
    plume_prob: float  # daily chance of an industrial SO2/NO2 plume


AIR_STATIONS = (
    # id, name, pm, so2, no2, co, o3, plume_prob
    AirStation("zh-urban", "镇海城区", 1.00, 7.0, 1.00, 1.00, 1.00, 0.0),
    AirStation("zh-jiaochuan", "蛟川", 1.06, 12.0, 1.15, 1.08, 0.95, 0.05),
    AirStation("zh-zhaobaoshan", "招宝山", 0.92, 6.0, 0.85, 0.95, 1.04, 0.0),
)

# Monthly medians for the urban station (Jan..Dec).
PM25_MEDIAN = (34, 29, 28, 24, 21, 15, 11, 11, 14, 19, 25, 31)  # µg/m³
PM10_RATIO = (1.50, 1.55, 1.70, 1.78, 1.75, 1.72, 1.80, 1.82, 1.75, 1.65, 1.58, 1.50)
NO2_MEDIAN = (38, 31, 33, 29, 25, 21, 17, 17, 22, 29, 34, 37)  # µg/m³
SO2_SEASON = (1.25, 1.15, 1.05, 0.95, 0.90, 0.85, 0.80, 0.80, 0.85, 0.95, 1.10, 1.20)
CO_MEDIAN = (0.75, 0.70, 0.65, 0.60, 0.58, 0.55, 0.50, 0.50, 0.52, 0.58, 0.65, 0.72)  # mg/m³
O3_MEDIAN = (55, 68, 85, 100, 122, 108, 112, 118, 120, 98, 75, 58)  # µg/m³
O3_CAP = 212.0  # keep ozone within HJ 633 level 3

# Urban-station PM2.5 peaks of the scripted episodes (mostly winter haze).
PM_EPISODES = (
    Episode(date(2026, 1, 5), 7, 128),
    Episode(date(2026, 1, 20), 5, 88),
    Episode(date(2026, 2, 14), 5, 140),  # around the Spring Festival (2026-02-17)
    Episode(date(2026, 3, 11), 5, 86),
    Episode(date(2026, 11, 11), 5, 90),
    Episode(date(2026, 12, 1), 5, 96),
    Episode(date(2026, 12, 17), 7, 185),  # peak pinned on 2026-12-20
    Episode(date(2027, 1, 11), 7, 165),
    Episode(date(2027, 1, 25), 5, 124),
    Episode(date(2027, 2, 4), 5, 135),  # around the Spring Festival (2027-02-06)
    Episode(date(2027, 2, 21), 5, 92),
    Episode(date(2027, 10, 27), 5, 82),
    Episode(date(2027, 11, 19), 5, 96),
    Episode(date(2027, 12, 7), 7, 205),
    Episode(date(2027, 12, 23), 5, 96),
)
# Spring dust from the north: urban PM10 peaks, PM2.5 only about a third of it.
DUST_EPISODES = (
    Episode(date(2026, 3, 24), 4, 300),
    Episode(date(2027, 4, 7), 4, 270),
)
# Summer ozone episodes: urban O3_8h peaks (level 3 is 160-215).
O3_EPISODES = (
    Episode(date(2026, 5, 19), 4, 182),
    Episode(date(2026, 7, 13), 4, 188),  # includes the pinned 2026-07-15
    Episode(date(2026, 8, 24), 3, 176),
    Episode(date(2026, 9, 11), 3, 170),
    Episode(date(2027, 5, 27), 4, 195),
    Episode(date(2027, 7, 24), 3, 180),
    Episode(date(2027, 9, 4), 4, 178),
)
SPRING_FESTIVAL = (date(2026, 2, 17), date(2027, 2, 6))


def _holiday_no2_factor(day: date) -> float:
    """Less traffic and industry in the week after the Spring Festival."""
    for festival in SPRING_FESTIVAL:
        if 0 <= (day - festival).days < 7:
            return 0.7
    return 1.0


def make_air(days: Sequence[date], weather: Sequence[Weather], rng: random.Random) -> Table:
    table: Table = {}
    pm_noise = {s.station_id: AR1(rng, 0.5, 0.12) for s in AIR_STATIONS}
    for day, wx in zip(days, weather, strict=True):
        pm_episode, w_pm = strongest(PM_EPISODES, day)
        dust, _ = strongest(DUST_EPISODES, day)
        o3_episode, _ = strongest(O3_EPISODES, day)
        for st in AIR_STATIONS:
            pm25 = (
                seasonal(day, PM25_MEDIAN)
                * st.pm
                * math.exp(0.33 * wx.stagnation + pm_noise[st.station_id].step())
            )
            ratio = seasonal(day, PM10_RATIO) * math.exp(rng.gauss(0.0, 0.07))
            if pm_episode > 0.0:
                pm25 = max(pm25, pm_episode * st.pm * math.exp(rng.gauss(0.0, 0.06)))
                ratio -= (ratio - 1.3) * w_pm  # haze is mostly fine, secondary aerosol
            pm10 = pm25 * max(ratio, 1.08)
            if dust > 0.0:
                pm10 = max(pm10, dust * st.pm * math.exp(rng.gauss(0.0, 0.06)))
                pm25 = max(pm25, pm10 * rng.uniform(0.28, 0.36))
            pm25 = round(max(pm25, 3.0))
            pm10 = max(round(pm10), pm25 + 2)

            so2 = st.so2 * seasonal(day, SO2_SEASON)
            so2 *= math.exp(0.15 * wx.stagnation + rng.gauss(0.0, 0.22))
            no2 = seasonal(day, NO2_MEDIAN) * st.no2 * _holiday_no2_factor(day)
            no2 *= math.exp(0.2 * wx.stagnation + rng.gauss(0.0, 0.12)) * (1.0 + 0.25 * w_pm)
            if rng.random() < st.plume_prob:
                so2 *= rng.uniform(1.6, 2.6)
                no2 *= rng.uniform(1.1, 1.35)
            co = seasonal(day, CO_MEDIAN) * st.co
            co *= math.exp(0.2 * wx.stagnation + rng.gauss(0.0, 0.1)) * (1.0 + 0.5 * w_pm)

            o3 = seasonal(day, O3_MEDIAN) * st.o3
            o3 *= math.exp(0.22 * wx.sunshine + rng.gauss(0.0, 0.08)) * (1.0 - 0.3 * w_pm)
            if o3_episode > 0.0:
                o3 = max(o3, o3_episode * st.o3 * math.exp(rng.gauss(0.0, 0.04)))
            o3 = min(o3, O3_CAP)

            table[(day, st.station_id)] = {
                "pm25": pm25,
                "pm10": pm10,
                "so2": round(max(so2, 2.0)),
                "no2": round(max(no2, 3.0)),
                "co": round(max(co, 0.2), 1),
                "o3_8h": round(max(o3, 5.0)),
            }
    return table


# --------------------------------------------------------------------------
# Water
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class WaterStation:
    station_id: str
    name: str
    do_frac: float  # dissolved oxygen as a fraction of saturation
    codmn: float  # baseline values, mg/L
    nh3n: float
    tp: float
    tn: float
    flush: float  # sensitivity to first-flush runoff after rain


WATER_STATIONS = (
    WaterStation("yongjiang-zhaobaoshan", "甬江招宝山", 0.76, 3.4, 0.38, 0.105, 1.80, 0.25),
    WaterStation("zhongdahe", "中大河", 0.54, 4.8, 0.72, 0.16, 2.05, 0.35),
    WaterStation("xiepu-dahe", "澥浦大河", 0.42, 6.8, 1.0, 0.215, 2.75, 0.60),
)

# (log-noise sd, AR(1) phi) per parameter
WATER_NOISE = {
    "do": (0.06, 0.8),
    "codmn": (0.10, 0.85),
    "nh3n": (0.15, 0.85),
    "tp": (0.12, 0.85),
    "tn": (0.08, 0.85),
}


def water_temperature(day: date) -> float:
    """Plain-river water temperature, °C: about 8 at the end of January, 29 in August."""
    return 18.5 - 10.5 * annual_cos(day, 30.0)


def do_saturation(temp_c: float) -> float:
    """Dissolved-oxygen saturation in fresh water at 1 atm, mg/L."""
    return 14.62 - 0.3898 * temp_c + 0.006969 * temp_c**2 - 0.00005897 * temp_c**3


def make_water(days: Sequence[date], weather: Sequence[Weather], rng: random.Random) -> Table:
    table: Table = {}
    noise = {
        (s.station_id, p): AR1(rng, phi, sd)
        for s in WATER_STATIONS
        for p, (sd, phi) in WATER_NOISE.items()
    }
    for day, wx in zip(days, weather, strict=True):
        saturation = do_saturation(water_temperature(day))
        winter = annual_cos(day, 20.0)  # +1 in mid-January
        summer = annual_cos(day, 200.0)  # +1 in mid-July
        for st in WATER_STATIONS:
            n = {p: math.exp(noise[(st.station_id, p)].step()) for p in WATER_NOISE}
            k = st.flush * wx.runoff
            do = saturation * st.do_frac * n["do"] / (1.0 + 0.5 * k)
            codmn = st.codmn * (1.0 + 0.08 * summer) * n["codmn"] * (1.0 + 0.5 * k)
            nh3n = st.nh3n * (1.0 + 0.15 * winter) * n["nh3n"] * (1.0 + k)
            tp = st.tp * (1.0 + 0.1 * summer) * n["tp"] * math.pow(1.0 + k, 0.9)
            tn = st.tn * (1.0 + 0.12 * winter) * n["tn"] * (1.0 + 0.4 * k)
            table[(day, st.station_id)] = {
                "do": round(max(do, 0.5), 2),
                "codmn": round(max(codmn, 1.0), 2),
                "nh3n": round(max(nh3n, 0.05), 2),
                "tp": round(max(tp, 0.01), 3),
                "tn": round(max(tn, 0.3), 2),
            }
    return table


# --------------------------------------------------------------------------
# Missing cells, pins, output
# --------------------------------------------------------------------------


def blank_cells(table: Table, columns: Sequence[str], pins: Pins, rng: random.Random) -> None:
    """Blank about ``MISSING_RATE`` of the value cells, leaving pinned rows alone."""
    for key in sorted(table):
        for column in columns:
            hit = rng.random() < MISSING_RATE
            if hit and key not in pins:
                table[key][column] = None


def apply_pins(table: Table, pins: Pins) -> None:
    for key, values in pins.items():
        table[key].update(values)


def format_value(value: float | None, decimals: int) -> str:
    return "" if value is None else f"{value:.{decimals}f}"


def write_csv(
    path: Path,
    table: Table,
    columns: Sequence[str],
    decimals: Mapping[str, int],
) -> int:
    """Write ``table`` sorted by date then station id; return the number of data rows."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(["station", "date", *columns])
        for day, station in sorted(table, key=lambda k: (k[0], k[1])):
            row = table[(day, station)]
            cells = [format_value(row[c], decimals[c]) for c in columns]
            writer.writerow([station, day.isoformat(), *cells])
    return len(table)


def build(
    seed: int,
    maker: Callable[[Sequence[date], Sequence[Weather], random.Random], Table],
    stream: str,
    columns: Sequence[str],
    pins: Pins,
) -> Table:
    days = date_range(START, END)
    weather = make_weather(days, random.Random(f"{seed}:weather"))
    table = maker(days, weather, random.Random(f"{seed}:{stream}"))
    blank_cells(table, columns, pins, random.Random(f"{seed}:{stream}:missing"))
    apply_pins(table, pins)
    return table


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--out-dir", type=Path, default=DEFAULT_OUT_DIR)
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    args = parser.parse_args(argv)
    out_dir: Path = args.out_dir
    seed: int = args.seed

    air = build(seed, make_air, "air", AIR_COLUMNS, AIR_PINS)
    water = build(seed, make_water, "water", WATER_COLUMNS, WATER_PINS)
    for name, table, columns, decimals in (
        (AIR_FILE, air, AIR_COLUMNS, AIR_DECIMALS),
        (WATER_FILE, water, WATER_COLUMNS, WATER_DECIMALS),
    ):
        rows = write_csv(out_dir / name, table, columns, decimals)
        print(f"wrote {out_dir / name} ({rows} rows)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
