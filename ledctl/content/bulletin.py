"""The bulletin: the latest valid mean per station, assessed — or "data updating".

Stale or invalid data never become a number on a public board. A reading is
rejected (and the reason kept) when a value is outside its plausible range; a
station whose latest usable reading is too old is reported as updating — or,
when configured, with its last valid figures clearly labelled "最近有效" and dated.

A station's figures come from its own source, then its fallbacks in order (`chains`):
the first source with a fresh reading for it wins. Two different records for one station
and period are a fault of the data, shown as such and never as a figure.

When an indicator is missing, HJ 633—2026 §5.3.1 decides: the AQI of the others is
published when it is above 100 (naming what is missing), since the true AQI can only be
higher; otherwise no AQI is published. The same rule is applied to 2012-edition days.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
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
    Standard,
    assess_daily,
    assess_hourly,
    from_us_aqi,
    standard_for,
)
from ledctl.standards.water import WaterInputError, assess_section, class_info

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
    chains: Mapping[str, Sequence[str]] | None = None,
    sample_sources: frozenset[str] = frozenset(),
) -> Bulletin:
    """Assess the latest usable reading of every air station as of `now`.

    A reading counts once its period has ended; readings dated in the future are
    ignored. `standard` forces an HJ 633 edition; otherwise the reading's date picks it.
    `chains` gives each station's sources in order (readings made by hand, with no source,
    count for any station); figures from a source in `sample_sources` are marked as samples.
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
            rejections.append(Rejection(r.station, r.time, why, r.source))
            continue
        by_station.setdefault(r.station, []).append(r)

    out: dict[str, StationBulletin] = {}
    water: dict[str, WaterBulletin] = {}
    for sid, station in stations.items():
        chain = tuple(chains.get(sid, ())) if chains else ()
        candidates, conflicts = _candidates(by_station.get(sid, []), chain, now, max_age)
        sample = bool(candidates) and candidates[0].source in sample_sources
        if station.kind is StationKind.WATER:
            w = _water(station, candidates, now, max_age, conflicts)
            until = _fresh_until(candidates, max_age) if not w.updating else None
            water[sid] = replace(w, sample=sample and not w.updating, valid_until=until)
            continue
        sb = _station(station, candidates, now, max_age, standard, validation, conflicts)
        newest = max((r for r in rejections if r.station == sid and r.time is not None),
                     key=lambda r: r.time, default=None)  # type: ignore[arg-type,return-value]
        if sb.problem and newest and newest.time and (not candidates or newest.time > candidates[0].time):
            # Say first that newer data exist but were rejected, and why.
            why = f"{newest.time:%Y-%m-%d %H:%M} rejected: {newest.reason}"
            sb = replace(sb, problem=f"{why}; {sb.problem}")
        until = None
        if not sb.updating:
            shown = next((r for r in candidates if r.day == sb.day), None)
            if shown is not None and sb.last_valid:  # 最近有效: shown while at most last_valid_days old
                until = shown.time + timedelta(days=validation.last_valid_days)
            elif shown is not None:
                until = _fresh_until([shown], max_age)
        out[sid] = replace(sb, sample=sample and not sb.updating, valid_until=until)
    return Bulletin(issued=now, stations=out, rejections=tuple(rejections), water=water)


def _fresh_until(readings: Sequence[Reading], max_age: timedelta) -> datetime | None:
    """When the newest of `readings` becomes too old to show (its period's end + the window)."""
    if not readings:
        return None
    newest = max(readings, key=lambda r: r.time)
    return newest.time + PERIOD_LENGTH[newest.period] + max_age


def _candidates(readings: list[Reading], chain: tuple[str, ...], now: datetime,
                max_age: timedelta) -> tuple[list[Reading], dict[datetime, str]]:
    """The readings a station's figures may come from, newest first, and the periods whose records
    disagree (period start → what differs).

    With a chain, the first source that has a fresh reading for the station wins; if none has, the
    first that has any (its age then explains 数据更新中).
    """
    def newest_first(rs: Iterable[Reading]) -> list[Reading]:
        return sorted(rs, key=lambda r: r.time, reverse=True)

    chosen = readings
    if chain:
        by_source = {name: [r for r in readings if r.source in (name, "")] for name in chain}
        def is_fresh(rs: list[Reading]) -> bool:
            newest = max(rs, key=lambda r: r.time)
            return now - (newest.time + PERIOD_LENGTH[newest.period]) <= max_age

        fresh = [name for name in chain if by_source[name] and is_fresh(by_source[name])]
        having = [name for name in chain if by_source[name]]
        chosen = by_source[fresh[0]] if fresh else by_source[having[0]] if having else []
    unique: dict[tuple[datetime, str], Reading] = {}
    conflicts: dict[datetime, str] = {}
    for r in chosen:
        key = (r.time, r.period)
        seen = unique.get(key)
        if seen is None:
            unique[key] = r
        elif dict(seen.values) != dict(r.values):
            differs = sorted(p for p in {*seen.values, *r.values} if seen.values.get(p) != r.values.get(p))
            shown = ", ".join(f"{DISPLAY.get(p, p)} {seen.values.get(p, '—')} vs {r.values.get(p, '—')}"
                              for p in differs[:3])
            conflicts[r.time] = f"two different records for {r.time:%Y-%m-%d %H:%M} ({shown})"
    return newest_first(unique.values()), conflicts


def _water(station: Station, candidates: list[Reading], now: datetime, max_age: timedelta,
           conflicts: Mapping[datetime, str]) -> WaterBulletin:
    if not candidates:
        return WaterBulletin(station.id, station.name, None, problem="no usable reading yet")
    latest = candidates[0]
    if now - (latest.time + PERIOD_LENGTH[latest.period]) > max_age:
        return WaterBulletin(station.id, station.name, latest.day,
                             problem=f"latest reading is from {latest.time:%Y-%m-%d}, older than {max_age}")
    if latest.time in conflicts:
        return WaterBulletin(station.id, station.name, latest.day, problem=_conflict(conflicts[latest.time]))
    try:
        a = assess_section(latest.values, lake=station.lake)
    except WaterInputError as e:
        return WaterBulletin(station.id, station.name, latest.day, problem=str(e))
    if a.missing:
        # A class computed without a core item could be better than the truth: not shown.
        return WaterBulletin(station.id, station.name, latest.day, missing=tuple(a.missing),
                             problem=f"{latest.day} lacks {', '.join(a.missing)}")
    return WaterBulletin(station.id, station.name, latest.day, a.label, a.category, a.colour,
                         tuple(a.limiting), tuple(a.missing),
                         reference=tuple((p, class_info(c).label) for p, c in a.reference_classes.items()))


def _conflict(what: str) -> str:
    return f"{what}: the source disagrees with itself; no figure is shown until it is corrected"


def _edition(reading: Reading, standard: str | None) -> Standard:
    return STANDARDS[standard] if standard else standard_for(reading.day)


def _assess(station: Station, reading: Reading, standard: str | None,
            validation: Validation) -> StationBulletin | str:
    """The station's bulletin from one reading, or why it cannot give one."""
    if "us_aqi" in reading.values:  # a feed that only gives an index on the US scale (WAQI)
        return StationBulletin(station.id, station.name, reading.day, from_us_aqi(reading.values["us_aqi"]),
                               reading.values, source=reading.source)
    edition = _edition(reading, standard)
    assess = assess_daily if validation.bulletin == "daily" else assess_hourly
    needed = NEEDED[validation.bulletin]
    missing = tuple(DISPLAY[p] for p in needed if p not in reading.values)
    present = {p: v for p, v in reading.values.items() if p in needed or p in ("o3_1h", "o3_8h")}
    when = f"{reading.period} mean for {reading.time:%Y-%m-%d %H:%M}"
    if missing and not any(p in reading.values for p in needed):
        return f"{when} lacks {', '.join(missing)}"
    try:
        assessment = assess(present, edition)
    except AqiInputError as e:
        return str(e)
    if missing and assessment.aqi <= 100:
        # HJ 633—2026 §5.3.1: with an indicator missing, an AQI of 100 or less from the others is not
        # published (the missing one could make it worse); the figures are marked NA.
        return (f"{when} lacks {', '.join(missing)}; the others give AQI {assessment.display} ≤ 100, "
                "which HJ 633—2026 §5.3.1 does not publish")
    return StationBulletin(station.id, station.name, reading.day, assessment, reading.values,
                           missing=missing, source=reading.source)


def _station(station: Station, candidates: list[Reading], now: datetime, max_age: timedelta,
             standard: str | None, validation: Validation,
             conflicts: Mapping[datetime, str]) -> StationBulletin:
    if not candidates:
        return StationBulletin(station.id, station.name, None, None, problem="no usable reading yet")
    latest = candidates[0]
    problem = ""
    if now - (latest.time + PERIOD_LENGTH[latest.period]) > max_age:
        problem = f"latest reading is from {latest.time:%Y-%m-%d %H:%M}, older than {max_age}"
    elif latest.time in conflicts:
        problem = _conflict(conflicts[latest.time])
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
            if reading.time in conflicts:
                continue
            result = _assess(station, reading, standard, validation)
            if isinstance(result, StationBulletin):
                return replace(result, problem=problem, last_valid=True)
    return StationBulletin(station.id, station.name, latest.day, None, latest.values, problem=problem,
                           source=latest.source)
