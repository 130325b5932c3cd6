"""`ledctl report --month|--quarter|--year`: the HJ 663 block on the sample data, worked out by hand here,
in text, JSON and CSV; the store as the source of daily values; bad periods as one-line errors."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from ledctl import config, pipeline
from ledctl.cli import main
from ledctl.clock import FixedClock
from ledctl.store import Store

REPO = Path(__file__).resolve().parents[2]
AFTER_NOVEMBER = FixedClock(datetime(2026, 12, 5, 2, 0, tzinfo=UTC))  # 2026-12-05 10:00 in Zhenhai


def run(capsys, argv: list[str], clock: FixedClock = AFTER_NOVEMBER) -> tuple[int, str, str]:
    try:
        code = main(argv, clock=clock)
    except SystemExit as e:
        code = e.code
    out, err = capsys.readouterr()
    return code, out, err


def air_json(capsys, state: Path, *flags: str, clock: FixedClock = AFTER_NOVEMBER) -> dict:
    code, out, err = run(capsys, ["--state", str(state), "report", *flags, "--format", "json"], clock)
    assert code == 0, err
    return json.loads(out)["air_quality"]


def area(doc: dict, area_id: str) -> dict:
    return next(a for a in doc["areas"] if a["area"] == area_id)


# zh-urban, November 2026, as config/sample-data/air-daily.csv has it (SO2 empty on the 15th, O3 on the 21st).
PM25 = [9, 6, 16, 20, 29, 32, 30, 21, 35, 22, 31, 75, 85, 80, 53, 25, 32, 45, 27, 22, 26, 37, 42, 52, 23, 18,
        14, 21, 31, 34]
PM10 = [16, 9, 26, 32, 50, 47, 47, 36, 55, 34, 41, 102, 110, 106, 79, 42, 47, 69, 41, 32, 40, 59, 63, 78,
        37, 30, 23, 34, 50, 50]
SO2 = [7, 4, 6, 6, 8, 9, 9, 7, 8, 8, 6, 11, 10, 6, 7, 9, 10, 10, 8, 10, 9, 10, 8, 7, 6, 6, 7, 8, 10]  # 29
NO2 = [19, 16, 27, 23, 33, 31, 43, 32, 42, 38, 34, 41, 50, 47, 45, 29, 38, 39, 27, 33, 42, 45, 36, 41, 37, 27,
       21, 34, 31, 40]


def test_sample_data_month_matches_the_hand_computation(capsys, tmp_path: Path) -> None:
    """HJ 663 monthly figures of 镇海城区 for 2026-11 from the sample data (GB 3095—2026 §3.11 means,
    HJ 663 Appendix A percentiles, GB 3095—2026 Table 4 counts, GB/T 8170 rounding)."""
    doc = air_json(capsys, tmp_path, "--month", "2026-11", "--sample-data")
    assert doc["period"] == "2026-11" and doc["over"] is True and doc["limits"] == "gb3095-2026-transitional"
    urban = area(doc, "zh-urban")
    figures = {name: f["value"] for name, f in urban["figures"].items()}
    # PM2.5: Σ = 993 over 30 days = 33.1 → 33.       PM10: Σ = 1485 / 30 = 49.5 → half to even → 50.
    assert sum(PM25) == 993 and sum(PM10) == 1485
    # SO2: 29 values (≥ 27), Σ = 230 / 29 = 7.93 → 8.  NO2: Σ = 1041 / 30 = 34.7 → 35.
    assert (len(SO2), sum(SO2), sum(NO2)) == (29, 230, 1041)
    # CO sorted: 0.4 ×2, 0.5 ×4, 0.6 ×2, 0.7 ×10, 0.8 ×7, 0.9 ×3, 1.0 ×2 — X(28) = 0.9, X(29) = 1.0;
    #   k = 1 + 29 × 0.95 = 28.55 → 0.9 + 0.1 × 0.55 = 0.955 → 1.0.
    # O3 (29 values): … X(26) = 93, X(27) = 96, X(28) = 100, X(29) = 138; k = 1 + 28 × 0.9 = 26.2
    #   → 93 + 3 × 0.2 = 93.6 → 94.
    assert figures == {"pm25": "33", "pm10": "50", "so2": "8", "no2": "35", "co": "1.0", "o3": "94"}
    assert urban["figures"]["so2"]["daily_values"] == 29 and urban["figures"]["o3"]["daily_values"] == 29
    # Index, transitional limits: 8/60 = 0.13; 35/40 = 0.875 → 0.88; 50/60 = 0.83; 33/30 = 1.10; 1.0/4 = 0.25;
    #   94/160 = 0.5875 → 0.59. Σ = 3.78.
    assert urban["comprehensive_index"]["value"] == "3.78"
    # Days (HJ 633—2026): the 15th lacks SO2 and the 21st O3, and the others give AQI ≤ 100 there (§5.3.1),
    # so 28 days are assessed. Level 3: the 12th (PM2.5 75 → 114), 13th (85 → 123), 14th (80 → 119).
    # Level 2: the 3rd (O3 138 → 82), 7th (NO2 43 → 54), 9th (PM10 55 → 54), 18th (PM2.5 45 → 70), 22nd (37),
    # 23rd (42), 24th (52). The other 18 are 优. Good 25 of 28 = 89.29 % → 89.3 %.
    assert urban["days_assessed"] == 28 and [d["day"] for d in urban["days_not_assessed"]] == [
        "2026-11-15", "2026-11-21"]
    assert urban["days_by_level"] == {"优": 18, "良": 7, "轻度污染": 3, "中度污染": 0, "重度污染": 0,
                                      "严重污染": 0}
    assert (urban["good_days"], urban["good_share_percent"]) == (25, "89.3")
    # The year before has no sample data: no change is given, and it says why.
    assert urban["change"]["pm25"] == {"value": None, "unit": "%", "withheld": "no daily values for 2025-11"}
    # The district is made of the three air stations.
    district = area(doc, "district")
    assert district["stations"] == ["zh-urban", "zh-jiaochuan", "zh-zhaobaoshan"]
    assert district["days_assessed"] == 30
    assert doc["readings_refused"] == 1  # the pinned PM2.5 1850 of zh-jiaochuan on 2026-11-10


def test_text_and_csv_carry_the_same_figures(capsys, tmp_path: Path) -> None:
    code, text, err = run(capsys, ["--state", str(tmp_path), "report", "--month", "2026-11", "--sample-data"])
    assert code == 0, err
    assert "环境空气质量统计 / air quality (HJ 663) 2026年11月" in text and "示例数据" in text
    urban = text[text.index("  镇海城区"):text.index("  蛟川")]
    assert "优良天数 good days:           25 (89.3 %)" in urban
    assert "PM10 平均 mean:               50 µg/m³" in urban and "综合指数 comprehensive index: 3.78" in urban
    code, out, err = run(capsys, ["--state", str(tmp_path), "report", "--month", "2026-11", "--sample-data",
                                  "--format", "csv"])
    rows = dict(row for row in csv.reader(io.StringIO(out)) if row)
    assert rows["air.zh-urban.co"] == "1.0" and rows["air.zh-urban.index"] == "3.78"
    assert rows["air.zh-urban.good_share_percent"] == "89.3" and rows["air.zh-urban.days_level3"] == "3"
    assert rows["air.zh-urban.previous_year.pm25.withheld"] == \
        "2025-11 has 0 of the 27 daily values needed (GB 3095—2026 Table 4)"


def test_a_running_quarter_counts_its_days_and_withholds_its_statistics(capsys, tmp_path: Path) -> None:
    """GB 3095—2026 §3.12: a quarterly mean is over the calendar quarter; 2026Q4 is not over on 2026-11-29."""
    on_the_29th = FixedClock(datetime(2026, 11, 29, 2, 0, tzinfo=UTC))
    doc = air_json(capsys, tmp_path, "--quarter", "2026Q4", "--sample-data", clock=on_the_29th)
    assert doc["period"] == "2026Q4" and doc["over"] is False and doc["as_of"] == "2026-11-28"
    district = area(doc, "district")
    assert district["days_ended"] == 59 and district["days_in_period"] == 92  # 31 + 28 days, of 31 + 30 + 31
    assert district["figures"]["pm25"] == {"statistic": "mean", "value": None, "unit": "µg/m³",
                                           "daily_values": 59,
                                           "withheld": "2026Q4 is not over: 59 of its 92 days have ended"}


def test_a_whole_quarter_of_sample_data(capsys, tmp_path: Path) -> None:
    """HJ 663 quarter: every month of 2026Q4 has its 27 days, so every figure is given
    (GB 3095—2026 Table 4)."""
    doc = air_json(capsys, tmp_path, "--quarter", "2026Q4", "--sample-data",
                   clock=FixedClock(datetime(2027, 1, 2, 2, 0, tzinfo=UTC)))
    for a in doc["areas"]:
        assert all(f["value"] is not None for f in a["figures"].values()), a["area"]
        assert a["comprehensive_index"]["value"] is not None
    # The pinned heavy-pollution day 2026-12-20 is 重度污染 at every station.
    assert all(a["days_by_level"]["重度污染"] >= 1 for a in doc["areas"])


def test_the_store_is_where_daily_values_come_from(capsys, tmp_path: Path) -> None:
    """Without --sample-data the daily values are those kept in the store, from each station's own source."""
    dep = config.load(REPO / "config" / "zhenhai.toml").with_sample_data()
    november = [replace(r, source="centre") for r in pipeline.gather(dep).readings
                if r.station == "zh-urban" and r.time.strftime("%Y-%m") == "2026-11"]
    with Store(tmp_path / "ledctl.sqlite") as store:
        store.save_readings("centre", november, datetime(2026, 12, 1, tzinfo=UTC))
    doc = air_json(capsys, tmp_path, "--month", "2026-11")
    urban = area(doc, "zh-urban")
    assert urban["figures"]["pm10"]["value"] == "50" and urban["comprehensive_index"]["value"] == "3.78"
    assert area(doc, "zh-jiaochuan")["figures"]["pm25"]["withheld"] == \
        "2026-11 has 0 of the 27 daily values needed (GB 3095—2026 Table 4)"


@pytest.mark.parametrize(("flags", "message"), [
    (["--quarter", "2026Q5"], "ledctl: --quarter '2026Q5': give a quarter like 2026Q4 (Q1 to Q4)\n"),
    (["--month", "2026-13"], "ledctl: --month '2026-13': give a month like 2026-11\n"),
    (["--year", "20x6"], "ledctl: --year '20x6': give a year like 2026\n"),
])
def test_a_bad_period_is_one_line_naming_the_flag(capsys, tmp_path: Path, flags: list[str],
                                                  message: str) -> None:
    code, out, err = run(capsys, ["--state", str(tmp_path), "report", *flags])
    assert (code, out, err) == (2, "", message)


def test_against_the_same_month_a_year_earlier(capsys, tmp_path: Path) -> None:
    """同比 on the sample data: 镇海城区 PM2.5 in 2027-11 against 2026-11 (computed above: 33)."""
    doc = air_json(capsys, tmp_path, "--month", "2027-11", "--sample-data",
                   clock=FixedClock(datetime(2027, 12, 5, 2, 0, tzinfo=UTC)))
    urban = area(doc, "zh-urban")
    # 2027-11 PM2.5: 17+18+17+15+17+22+25+18+20+24 = 193; 33+33+27+23+22+23+28+28+34+79 = 330;
    # 99+78+36+27+25+27+27+35+23+28 = 405; Σ = 928 over 30 days = 30.93 → 31.
    assert 193 + 330 + 405 == 928
    assert urban["figures"]["pm25"]["value"] == "31"
    assert urban["previous_year"]["figures"]["pm25"]["value"] == "33"
    # (31 − 33) / 33 = −6.06 % → −6.1 %.
    assert urban["change"]["pm25"] == {"value": "-6.1", "unit": "%", "withheld": None}
    # The year before is measured against the same (transitional) limits, like for like.
    assert urban["previous_year"]["comprehensive_index"]["limits"] == "gb3095-2026-transitional"
