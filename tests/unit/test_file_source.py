"""The local file source: CSV and JSON, units, missing values, clear errors."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from ledctl.errors import DataError
from ledctl.sources.file import FileSource


def source(tmp_path: Path, name: str, text: str) -> FileSource:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return FileSource("test", path, "Asia/Shanghai")


def test_csv_daily_rows(tmp_path: Path) -> None:
    s = source(tmp_path, "a.csv", "station,date,pm25,pm10,co\nzh-urban,2026-11-24,52,78,0.7\n")
    (r,) = s.fetch().readings
    assert r.station == "zh-urban" and r.period == "24h"
    assert r.time.isoformat() == "2026-11-24T00:00:00+08:00"
    assert r.values == {"pm25": Decimal(52), "pm10": Decimal(78), "co": Decimal("0.7")}


def test_empty_cell_is_not_measured(tmp_path: Path) -> None:
    (r,) = source(tmp_path, "a.csv", "station,date,pm25,co\nzh,2026-11-20,,0.7\n").fetch().readings
    assert "pm25" not in r.values and r.values["co"] == Decimal("0.7")


def test_column_with_unit_is_converted(tmp_path: Path) -> None:
    (r,) = source(tmp_path, "a.csv", "station,date,co[µg/m3]\nzh,2026-11-20,700\n").fetch().readings
    assert r.values["co"] == Decimal("0.7")  # canonical mg/m³


def test_ppb_of_a_gas_is_converted_at_the_reference_state(tmp_path: Path) -> None:
    # GB 3095 (amendment 2018) fixes 298.15 K and 101.325 kPa for gases: 24.465 L/mol.
    # NO2 20 ppb = 20 × 46.0055 / 24.465 = 37.609… µg/m³.
    (r,) = source(tmp_path, "a.csv", "station,date,no2[ppb],co[ppm]\nzh,2026-11-20,20,1\n").fetch().readings
    assert round(r.values["no2"], 3) == Decimal("37.609")
    assert round(r.values["co"], 4) == Decimal("1.1449")  # 1 ppm × 28.010 / 24.465 mg/m³


def test_ppb_of_particles_is_refused(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="gases only"):
        source(tmp_path, "a.csv", "station,date,pm25[ppb]\nzh,2026-11-20,20\n").fetch()


def test_hourly_rows_need_a_period(tmp_path: Path) -> None:
    s = source(tmp_path, "a.csv", "station,time,period,pm25\nzh,2026-11-24T15:00+08:00,1h,40\n")
    (r,) = s.fetch().readings
    assert r.period == "1h" and r.time.hour == 15
    bad = source(tmp_path, "b.csv", "station,time,period,pm25\nzh,2026-11-24T15:00,2h,40\n")
    with pytest.raises(DataError, match="period"):
        bad.fetch()


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("", "empty file"),
        ("station,pm25\nzh,3\n", "header needs"),
        ("station,date,pm2.5\nzh,2026-11-24,3\n", "not a known parameter"),
        ("station,date,pm25\nzh,24/11/2026,3\n", "YYYY-MM-DD"),
        ("station,date,pm25\nzh,2026-11-24,abc\n", "not a number"),
        ("station,date,pm25\nzh,2026-11-24,-3\n", "0 or more"),
        ("station,date,pm25\nzh,2026-11-24,NaN\n", "0 or more"),
        ("station,date,pm25\nzh,2026-11-24\n", "cells"),
    ],
)
def test_bad_csv_names_file_line_and_fix(tmp_path: Path, text: str, match: str) -> None:
    with pytest.raises(DataError, match=match) as err:
        source(tmp_path, "bad.csv", text).fetch()
    assert "bad.csv" in str(err.value)


def test_json_readings_with_units(tmp_path: Path) -> None:
    text = """{"readings": [{"station": "zh", "date": "2026-11-24",
                "values": {"pm25": 52, "co": {"value": 700, "unit": "ug/m3"}, "so2": null}}]}"""
    (r,) = source(tmp_path, "a.json", text).fetch().readings
    assert r.values == {"pm25": Decimal(52), "co": Decimal("0.7")}


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("{", "not valid JSON"),
        ("[]", "readings"),
        ('{"readings": [{"date": "2026-11-24"}]}', "station"),
        ('{"readings": [{"station": "zh", "date": "2026-11-24", "values": {"pm1": 3}}]}', "pm1"),
        ('{"readings": [{"station": "zh", "date": "2026-11-24", "values": {"pm25": true}}]}', "number"),
    ],
)
def test_bad_json(tmp_path: Path, text: str, match: str) -> None:
    with pytest.raises(DataError, match=match):
        source(tmp_path, "bad.json", text).fetch()


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="does not exist"):
        FileSource("x", tmp_path / "nope.csv", "Asia/Shanghai").fetch()


def test_sample_data_set_is_complete(repo: Path) -> None:
    air = FileSource("air", repo / "config/sample-data/air-daily.csv", "Asia/Shanghai").fetch().readings
    days = {r.day for r in air}
    assert len(days) >= 40
    assert {r.station for r in air} == {"zh-urban", "zh-jiaochuan", "zh-zhaobaoshan"}
    assert any(len(r.values) < 6 for r in air), "the sample must include missing values"
    water = FileSource("w", repo / "config/sample-data/water-daily.csv", "Asia/Shanghai").fetch().readings
    assert {"do", "codmn", "nh3n", "tp"} <= set().union(*(r.values for r in water))


from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


@settings(max_examples=300, deadline=None)
@given(body=st.text(alphabet=st.sampled_from(list("station,date,pm25,co[ug/m3]\n,2026-11-24 1.5-e9x\"{}[]:")),
                    max_size=120),
       suffix=st.sampled_from([".csv", ".json"]))
def test_any_file_content_is_readings_or_a_clear_error(tmp_path_factory, body: str, suffix: str) -> None:
    path = tmp_path_factory.mktemp("fuzz") / f"data{suffix}"
    path.write_text(body, encoding="utf-8")
    try:
        readings = FileSource("fuzz", path, "Asia/Shanghai").fetch().readings
    except DataError as e:
        assert "fuzz" in str(e) or "data" in str(e)
    else:
        assert all(v >= 0 for r in readings for v in r.values.values())
