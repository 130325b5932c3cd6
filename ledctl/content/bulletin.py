"""The bulletin: the latest valid mean per station, assessed — or "data updating".

Stale or invalid data never become a number on a public board. A reading is
rejected (and the reason kept) when a value is outside its plausible range; a
station whose latest usable reading is too old, or lacks a pollutant the AQI
needs, is reported as updating — or, when configured, with its last valid
figures clearly labelled "最近有效" and dated.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace
from datetime import datetime, timedelta

from ledctl.model import (
    Bulletin,
    Reading,
    Rejection,
    Station,
    StationBulletin,
    StationKind,
    Validation,
    WaterBulletin,
)
from ledctl.standards.aqi import (
    STANDARDS,
    AqiInputError,
    assess_daily,
    assess_hourly,
    from_us_aqi,
    standard_for,
)
from ledctl.standards.water import WaterInputError, assess_section

# What each kind of bulletin needs before it may show an AQI.
NEEDED = {
    "daily": ("pm25", "pm10", "so2", "no2", "co", "o3_8h"),
    "hourly": ("pm25", "pm10", "so2", "no2", "co", "o3_1h"),
}
PERIOD_OF = {"daily": "24h", "hourly": "1h"}
DISPLAY = {"pm25": "PM2.5", "pm10": "PM10", "so2": "SO2", "no2": "NO2", "co": "CO", "o3_8h": "O3-8h",
           "o3_1h": "O3-1h"}
PERIOD_LENGTH = {"24h": timedelta(hours=24), "8h": timedelta(hours=8), "1h": timedelta(hours=1)}


def validate(reading: Reading, validation: Validation) -> str:
    """Why `reading` must not be shown ("" when it may)."""
    for param, value in reading.values.items():
        bounds = validation.bounds.get(param)
        if bounds and not bounds[0] <= value <= bounds[1]:
            return f"{param} = {value} outside the plausible {bounds[0]}..{bounds[1]}"
    return ""


def build_bulletin(
    readings: Iterable[Reading],
    stations: Mapping[str, Station],
    now: datetime,
    max_age: timedelta,
    standard: str | None = None,
    validation: Validation | None = None,
) -> Bulletin:
    """Assess the latest usable reading of every air station as of `now`.

    A reading counts once its period has ended; readings dated in the future are
    ignored. `standard` forces an HJ 633 edition; otherwise the reading's date picks it.
    """
    validation = validation or Validation()
    period = PERIOD_OF[validation.bulletin]
    rejections: list[Rejection] = []
    by_station: dict[str, list[Reading]] = {}
    for r in readings:
        if r.station not in stations:
            continue
        wanted = "24h" if stations[r.station].kind is StationKind.WATER else period
        if r.period != wanted and "us_aqi" not in r.values:
            continue
        if r.time + PERIOD_LENGTH[r.period] > now:
            continue  # not over yet (or a date in the future)
        why = validate(r, validation)
        if why:
            rejections.append(Rejection(r.station, r.time, why))
            continue
        by_station.setdefault(r.station, []).append(r)

    out: dict[str, StationBulletin] = {}
    water: dict[str, WaterBulletin] = {}
    for sid, station in stations.items():
        candidates = sorted(by_station.get(sid, []), key=lambda r: r.time, reverse=True)
        if station.kind is StationKind.WATER:
            water[sid] = _water(station, candidates, now, max_age)
        else:
            sb = _station(station, candidates, now, max_age, standard, validation)
            newest = max((r for r in rejections if r.station == sid), key=lambda r: r.time, default=None)
            if sb.problem and newest and (not candidates or newest.time > candidates[0].time):
                # Say first that newer data exist but were rejected, and why.
                why = f"{newest.time:%Y-%m-%d %H:%M} rejected: {newest.reason}"
                sb = replace(sb, problem=f"{why}; {sb.problem}")
            out[sid] = sb
    return Bulletin(issued=now, stations=out, rejections=tuple(rejections), water=water)


def _water(station: Station, candidates: list[Reading], now: datetime, max_age: timedelta) -> WaterBulletin:
    if not candidates:
        return WaterBulletin(station.id, station.name, None, problem="no usable reading yet")
    latest = candidates[0]
    if now - (latest.time + PERIOD_LENGTH[latest.period]) > max_age:
        return WaterBulletin(station.id, station.name, latest.day,
                             problem=f"latest reading is from {latest.time:%Y-%m-%d}, older than {max_age}")
    try:
        a = assess_section(latest.values, lake=station.lake)
    except WaterInputError as e:
        return WaterBulletin(station.id, station.name, latest.day, problem=str(e))
    if a.missing:
        # A class computed without a core item could be better than the truth: not shown.
        return WaterBulletin(station.id, station.name, latest.day, missing=tuple(a.missing),
                             problem=f"{latest.day} lacks {', '.join(a.missing)}")
    return WaterBulletin(station.id, station.name, latest.day, a.label, a.category, a.colour,
                         tuple(a.limiting), tuple(a.missing))


def _assess(station: Station, reading: Reading, standard: str | None,
            validation: Validation) -> StationBulletin | str:
    """The station's bulletin from one reading, or why it cannot give one."""
    if "us_aqi" in reading.values:  # a feed that only gives an index on the US scale (WAQI)
        return StationBulletin(station.id, station.name, reading.day, from_us_aqi(reading.values["us_aqi"]),
                               reading.values)
    missing = [DISPLAY[p] for p in NEEDED[validation.bulletin] if p not in reading.values]
    if missing:
        return f"{reading.period} mean for {reading.time:%Y-%m-%d %H:%M} lacks {', '.join(missing)}"
    edition = STANDARDS[standard] if standard else standard_for(reading.day)
    assess = assess_daily if validation.bulletin == "daily" else assess_hourly
    try:
        assessment = assess(reading.values, edition)
    except AqiInputError as e:
        return str(e)
    return StationBulletin(station.id, station.name, reading.day, assessment, reading.values)


def _station(station: Station, candidates: list[Reading], now: datetime, max_age: timedelta,
             standard: str | None, validation: Validation) -> StationBulletin:
    if not candidates:
        return StationBulletin(station.id, station.name, None, None, problem="no usable reading yet")
    latest = candidates[0]
    problem = ""
    if now - (latest.time + PERIOD_LENGTH[latest.period]) > max_age:
        problem = f"latest reading is from {latest.time:%Y-%m-%d %H:%M}, older than {max_age}"
    else:
        result = _assess(station, latest, standard, validation)
        if isinstance(result, StationBulletin):
            return result
        problem = result
    if validation.show_last_valid:
        oldest = now - timedelta(days=validation.last_valid_days)
        for reading in candidates:
            if reading.time < oldest:
                break
            result = _assess(station, reading, standard, validation)
            if isinstance(result, StationBulletin):
                return StationBulletin(station.id, station.name, result.day, result.assessment,
                                       result.values, problem=problem, last_valid=True)
    return StationBulletin(station.id, station.name, latest.day, None, latest.values, problem=problem)
