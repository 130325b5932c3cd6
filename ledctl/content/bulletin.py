"""The daily bulletin: the latest valid daily mean per station, assessed — or "data updating".

Stale or invalid data never becomes a number on a public board. A station whose
latest complete daily mean is too old, or lacks a pollutant HJ 633 needs for the
daily AQI, is reported as updating, with the reason kept for the operator.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta

from ledctl.model import Bulletin, Reading, Station, StationBulletin, StationKind
from ledctl.standards.aqi import STANDARDS, AqiInputError, assess_daily, standard_for

# The daily AQI (HJ 633 日报) needs all six.
DAILY_POLLUTANTS = ("pm25", "pm10", "so2", "no2", "co", "o3_8h")
DISPLAY = {"pm25": "PM2.5", "pm10": "PM10", "so2": "SO2", "no2": "NO2", "co": "CO", "o3_8h": "O3"}
PERIOD_LENGTH = {"24h": timedelta(hours=24), "8h": timedelta(hours=8), "1h": timedelta(hours=1)}


def build_bulletin(
    readings: Iterable[Reading],
    stations: Mapping[str, Station],
    now: datetime,
    max_age: timedelta,
    standard: str | None = None,
) -> Bulletin:
    """Assess the latest complete daily mean of every air station as of `now`.

    A reading counts once its period has ended and while it is younger than
    `max_age`; readings dated in the future are ignored. `standard` forces an
    HJ 633 edition; otherwise the reading's date picks it.
    """
    latest: dict[str, Reading] = {}
    for r in readings:
        if r.period != "24h" or r.station not in stations:
            continue
        if r.time + PERIOD_LENGTH[r.period] > now:
            continue  # not over yet (or a date in the future)
        best = latest.get(r.station)
        if best is None or r.time > best.time:
            latest[r.station] = r

    out: dict[str, StationBulletin] = {}
    for sid, station in stations.items():
        if station.kind is not StationKind.AIR:
            continue
        out[sid] = _station(station, latest.get(sid), now, max_age, standard)
    return Bulletin(issued=now, stations=out)


def _station(
    station: Station, reading: Reading | None, now: datetime, max_age: timedelta, standard: str | None
) -> StationBulletin:
    if reading is None:
        return StationBulletin(station.id, station.name, None, None, problem="no daily mean yet")
    end = reading.time + PERIOD_LENGTH[reading.period]
    if now - end > max_age:
        return StationBulletin(
            station.id, station.name, reading.day, None, reading.values,
            problem=f"latest daily mean is for {reading.day}, older than {max_age}",
        )
    missing = [DISPLAY[p] for p in DAILY_POLLUTANTS if p not in reading.values]
    if missing:
        return StationBulletin(
            station.id, station.name, reading.day, None, reading.values,
            problem=f"daily mean for {reading.day} lacks {', '.join(missing)}",
        )
    edition = STANDARDS[standard] if standard else standard_for(reading.day)
    try:
        assessment = assess_daily(reading.values, edition)
    except AqiInputError as e:
        return StationBulletin(station.id, station.name, reading.day, None, reading.values,
                               problem=str(e))
    return StationBulletin(station.id, station.name, reading.day, assessment, reading.values)
