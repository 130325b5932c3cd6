"""The bulletin: latest complete daily mean, freshness, and "data updating" instead of a wrong figure."""

from __future__ import annotations

from dataclasses import replace
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


# -- validation, last valid, hourly, water, US scale -----------------------------------------------

from ledctl.model import StationKind, Validation  # noqa: E402


def test_implausible_value_is_rejected_with_its_reason() -> None:
    bad = dict(FULL, pm25=Decimal("1850"))
    b = build_bulletin([daily(24, bad)], STATIONS, at(25), timedelta(hours=36))
    assert b.stations["a"].updating
    (rejection,) = b.rejections
    assert "pm25 = 1850 outside the plausible 0..1000" in rejection.reason


def test_bounds_come_from_the_validation_settings() -> None:
    strict = Validation(bounds={"pm25": (Decimal(0), Decimal(50))})
    b = build_bulletin([daily(24)], STATIONS, at(25), timedelta(hours=36), validation=strict)
    assert b.stations["a"].updating and "outside the plausible 0..50" in b.rejections[0].reason


def test_last_valid_is_shown_only_when_configured_and_labelled() -> None:
    readings = [daily(20)]
    plain = build_bulletin(readings, STATIONS, at(25), timedelta(hours=36))
    assert plain.stations["a"].updating
    labelled = build_bulletin(readings, STATIONS, at(25), timedelta(hours=36),
                              validation=Validation(show_last_valid=True, last_valid_days=7))
    sb = labelled.stations["a"]
    assert sb.last_valid and sb.assessment is not None and sb.day.isoformat() == "2026-11-20"
    too_old = build_bulletin(readings, STATIONS, at(25), timedelta(hours=36),
                             validation=Validation(show_last_valid=True, last_valid_days=3))
    assert too_old.stations["a"].updating


def test_hourly_bulletin_uses_one_hour_columns() -> None:
    hourly = {k: Decimal(v) for k, v in
              {"pm25": "40", "pm10": "60", "so2": "10", "no2": "250", "co": "1", "o3_1h": "120"}.items()}
    reading = Reading("a", datetime(2026, 11, 25, 9, tzinfo=TZ), "1h", hourly)
    b = build_bulletin([reading], STATIONS, at(25, 11), timedelta(hours=3),
                       validation=Validation(bulletin="hourly"))
    a = b.stations["a"].assessment
    assert a is not None and a.iaqi["no2_1h"] == 105  # NO2 250 on the 1-hour column (200..700 → 100..150)
    assert a.primary == ("NO2",)


def test_us_scale_reading_is_labelled_not_fed_into_hj633() -> None:
    reading = Reading("a", datetime(2026, 11, 25, 9, tzinfo=TZ), "1h", {"us_aqi": Decimal(153)})
    b = build_bulletin([reading], STATIONS, at(25, 11), timedelta(hours=3))
    a = b.stations["a"].assessment
    assert a is not None and a.standard == "us-epa" and a.aqi == 153 and a.iaqi == {}


def test_water_section_gets_its_class_and_missing_core_items_hold_it_back() -> None:
    river = {"w": Station("w", "河", "src", kind=StationKind.WATER)}
    values = {"do": Decimal("4.1"), "codmn": Decimal("7.5"), "nh3n": Decimal("1.32"), "tp": Decimal("0.26")}
    r = Reading("w", datetime(2026, 11, 24, tzinfo=TZ), "24h", values)
    w = build_bulletin([r], river, at(25), timedelta(hours=36)).water["w"]
    assert (w.label, w.category) == ("IV", "轻度污染")
    partial = Reading("w", datetime(2026, 11, 24, tzinfo=TZ), "24h", {"do": Decimal("7.9")})
    w = build_bulletin([partial], river, at(25), timedelta(hours=36)).water["w"]
    assert w.updating and "tp" in w.missing  # a class from DO alone could look better than the truth


# -- HJ 633—2026 §5.3.1: an indicator missing --------------------------------------------------------


def test_missing_indicator_with_aqi_above_100_is_published_naming_it() -> None:
    # §5.3.1: with one indicator missing, the AQI of the others is published when it is above 100
    # (the true AQI can only be higher). PM2.5 250 is AQI 300 重度污染; O3-8h missing.
    heavy = {**{k: v for k, v in FULL.items() if k != "o3_8h"}, "pm25": Decimal("250")}
    sb = build_bulletin([daily(24, heavy)], STATIONS, at(25), timedelta(hours=36)).stations["a"]
    assert not sb.updating
    assert sb.assessment is not None and (sb.assessment.aqi, sb.assessment.category) == (300, "重度污染")
    assert sb.missing == ("O3-8h",)


def test_missing_indicator_with_aqi_100_or_less_is_not_published() -> None:
    partial = {k: v for k, v in FULL.items() if k != "o3_8h"}  # the rest give AQI 84
    sb = build_bulletin([daily(24, partial)], STATIONS, at(25), timedelta(hours=36)).stations["a"]
    assert sb.updating
    assert "O3-8h" in sb.problem and "§5.3.1" in sb.problem


# -- a station's figures come from its own source, then its fallbacks ---------------------------------


def test_station_takes_its_figures_from_its_own_source() -> None:
    mine = replace(daily(24), source="centre")
    other = replace(daily(24, {**FULL, "pm25": Decimal("300")}), source="sample")
    b = build_bulletin([other, mine], STATIONS, at(25), timedelta(hours=36), chains={"a": ("centre",)})
    sb = b.stations["a"]
    assert sb.assessment is not None and sb.assessment.aqi == 84 and sb.source == "centre"


def test_fallback_only_when_the_own_source_has_nothing_fresh() -> None:
    stale = replace(daily(20), source="centre")
    backup = replace(daily(24, {**FULL, "pm25": Decimal("75")}), source="backup")
    b = build_bulletin([stale, backup], STATIONS, at(25), timedelta(hours=36),
                       chains={"a": ("centre", "backup")})
    assert b.stations["a"].source == "backup"
    fresh = replace(daily(24), source="centre")
    b = build_bulletin([fresh, backup], STATIONS, at(25), timedelta(hours=36),
                       chains={"a": ("centre", "backup")})
    assert b.stations["a"].source == "centre" and b.stations["a"].assessment.aqi == 84


def test_sample_source_is_marked() -> None:
    sample = replace(daily(24), source="sample")
    b = build_bulletin([sample], STATIONS, at(25), timedelta(hours=36), chains={"a": ("sample",)},
                       sample_sources=frozenset({"sample"}))
    assert b.stations["a"].sample


# -- duplicates ------------------------------------------------------------------------------------


def test_conflicting_duplicates_are_a_data_problem_never_a_figure() -> None:
    # Two rows for one station and day: 21 vs 300 gave 47 or 350 depending on their order.
    low, high = daily(24, {**FULL, "pm25": Decimal("21")}), daily(24, {**FULL, "pm25": Decimal("300")})
    for order in ([low, high], [high, low]):
        sb = build_bulletin(order, STATIONS, at(25), timedelta(hours=36)).stations["a"]
        assert sb.updating
        assert "two different records" in sb.problem and "PM2.5 21 vs 300" in sb.problem.replace(
            "PM2.5 300 vs 21", "PM2.5 21 vs 300")


def test_identical_duplicates_are_harmless() -> None:
    sb = build_bulletin([daily(24), daily(24)], STATIONS, at(25), timedelta(hours=36)).stations["a"]
    assert sb.assessment is not None and sb.assessment.aqi == 84
