"""The bulletin: latest complete daily mean, freshness, and "data updating" instead of a wrong figure."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from ledctl.content.bulletin import build_bulletin
from ledctl.model import Reading, Station

TZ = ZoneInfo("Asia/Shanghai")
STATIONS = {"a": Station("a", "甲站", "src")}
FULL = {k: Decimal(v) for k, v in
        {"pm25": "52", "pm10": "78", "so2": "8", "no2": "41", "co": "0.7", "o3_8h": "96"}.items()}


def daily(day: int, values: dict[str, Decimal] = FULL) -> Reading:
    return Reading("a", datetime(2026, 11, day, tzinfo=TZ), "24h", values)


def at(day: int, hour: int = 8) -> datetime:
    return datetime(2026, 11, day, hour, tzinfo=TZ)


def test_shows_yesterday_at_the_morning_broadcast() -> None:
    b = build_bulletin([daily(23), daily(24), daily(25)], STATIONS, at(25), timedelta(hours=36))
    sb = b.stations["a"]
    assert sb.day.isoformat() == "2026-11-24"  # 25th's mean is not over yet
    assert sb.assessment is not None and sb.assessment.aqi == 84


def test_stale_data_becomes_updating() -> None:
    b = build_bulletin([daily(20)], STATIONS, at(25), timedelta(hours=36))
    sb = b.stations["a"]
    assert sb.updating and "older than" in sb.problem


def test_missing_pollutant_becomes_updating_not_a_lower_aqi() -> None:
    partial = {k: v for k, v in FULL.items() if k != "pm25"}
    b = build_bulletin([daily(24, partial)], STATIONS, at(25), timedelta(hours=36))
    sb = b.stations["a"]
    assert sb.updating and "PM2.5" in sb.problem


def test_no_data_at_all() -> None:
    b = build_bulletin([], STATIONS, at(25), timedelta(hours=36))
    assert b.stations["a"].updating


def test_unknown_stations_are_ignored() -> None:
    other = Reading("zz", datetime(2026, 11, 24, tzinfo=TZ), "24h", FULL)
    b = build_bulletin([other], STATIONS, at(25), timedelta(hours=36))
    assert set(b.stations) == {"a"} and b.stations["a"].updating


def test_standard_follows_the_reading_date() -> None:
    feb = Reading("a", datetime(2026, 2, 28, tzinfo=TZ), "24h", FULL)
    mar = Reading("a", datetime(2026, 3, 1, tzinfo=TZ), "24h", FULL)
    before = build_bulletin([feb], STATIONS, datetime(2026, 3, 1, 8, tzinfo=TZ), timedelta(hours=36))
    after = build_bulletin([mar], STATIONS, datetime(2026, 3, 2, 8, tzinfo=TZ), timedelta(hours=36))
    assert before.stations["a"].assessment.standard == "hj633-2012"  # type: ignore[union-attr]
    assert after.stations["a"].assessment.standard == "hj633-2026"  # type: ignore[union-attr]
