"""`ledctl aqi`: JSON output, the standard picked by date or flag, and user errors without tracebacks."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from datetime import UTC, datetime

import pytest

from ledctl.cli import main
from ledctl.clock import FixedClock

REQUIRED_KEYS = {"standard", "aqi", "level", "category", "color", "primary", "iaqi"}
# A clock far from the 2026-03-01 switch, so tests that do not care about the date are stable.
CLOCK = FixedClock(datetime(2026, 11, 25, 4, 0, tzinfo=UTC))


def run(capsys, argv: list[str], clock: FixedClock = CLOCK) -> tuple[int, str, str]:
    """Run the CLI in-process: (exit code, stdout, stderr), argparse exits included."""
    try:
        code = main(argv, clock=clock)
    except SystemExit as e:
        code = e.code
    out, err = capsys.readouterr()
    return code, out, err


def run_json(capsys, argv: list[str], clock: FixedClock = CLOCK) -> dict:
    code, out, err = run(capsys, [*argv, "--json"], clock)
    assert code == 0, err
    assert err == ""
    return json.loads(out)


def test_json_output_for_the_issue_example(capsys) -> None:
    doc = run_json(capsys, ["aqi", "--date", "2026-11-25", "--pm25", "52", "--pm10", "78"])
    assert set(doc) >= REQUIRED_KEYS
    assert set(doc) - REQUIRED_KEYS <= {"display", "above_scale"}  # README: "plus display"
    assert "colour" not in doc
    # 2026: PM2.5 50 + 50/25*17 = 84; PM10 50 + 50/70*28 = 70.
    assert doc["standard"] == "hj633-2026"
    assert doc["aqi"] == 84
    assert type(doc["aqi"]) is int
    assert doc["level"] == 2
    assert doc["category"] == "良"
    assert doc["color"] == "#FFFF00"
    assert re.fullmatch(r"#[0-9A-F]{6}", doc["color"])
    assert doc["primary"] == ["PM2.5"]
    assert doc["iaqi"] == {"PM2.5": 84, "PM10": 70}


def test_json_iaqi_keyed_by_pollutant_name(capsys) -> None:
    doc = run_json(capsys, ["aqi", "--date", "2026-11-24", "--pm25", "52", "--pm10", "78", "--so2", "8",
                            "--no2", "41", "--co", "0.7", "--o3-8h", "96"])
    assert doc["iaqi"] == {"PM2.5": 84, "PM10": 70, "SO2": 8, "NO2": 52, "CO": 18, "O3": 48}
    assert doc["aqi"] == 84
    assert doc["primary"] == ["PM2.5"]


def test_json_ties_list_both_pollutants(capsys) -> None:
    doc = run_json(capsys, ["aqi", "--standard", "hj633-2012", "--pm25", "75", "--pm10", "150"])
    assert doc["aqi"] == 100
    assert sorted(doc["primary"]) == ["PM10", "PM2.5"]


def test_json_no_primary_at_50(capsys) -> None:
    doc = run_json(capsys, ["aqi", "--date", "2026-11-25", "--pm25", "35", "--pm10", "50"])
    assert doc["aqi"] == 50
    assert doc["level"] == 1
    assert doc["color"] == "#00E400"
    assert doc["primary"] == []


def test_standard_flag_overrides(capsys) -> None:
    doc = run_json(capsys, ["aqi", "--standard", "hj633-2012", "--pm25", "52", "--pm10", "78"])
    # 2012: PM2.5 50 + 50/40*17 = 71.25 → 72; PM10 50 + 50/100*28 = 64.
    assert doc["standard"] == "hj633-2012"
    assert doc["aqi"] == 72
    assert doc["iaqi"] == {"PM2.5": 72, "PM10": 64}
    doc = run_json(capsys, ["aqi", "--standard", "hj633-2026", "--pm25", "52", "--pm10", "78"],
                   clock=FixedClock(datetime(2020, 1, 1, tzinfo=UTC)))
    assert doc["standard"] == "hj633-2026"
    assert doc["aqi"] == 84


@pytest.mark.parametrize(("day", "std_id", "aqi"), [
    ("2026-02-28", "hj633-2012", 94),
    ("2026-03-01", "hj633-2026", 110),
])
def test_date_picks_the_standard(capsys, day, std_id, aqi) -> None:
    doc = run_json(capsys, ["aqi", "--date", day, "--pm25", "70", "--pm10", "100"])
    assert doc["standard"] == std_id
    assert doc["aqi"] == aqi


@pytest.mark.parametrize(("instant", "std_id"), [
    (datetime(2026, 2, 28, 15, 59, 59, tzinfo=UTC), "hj633-2012"),  # 23:59:59 on 28 Feb in Shanghai
    (datetime(2026, 2, 28, 16, 0, tzinfo=UTC), "hj633-2026"),  # 00:00 on 1 March in Shanghai
    (datetime(2026, 2, 28, 17, 0, tzinfo=UTC), "hj633-2026"),
])
def test_without_date_the_clock_day_in_shanghai_picks_the_standard(capsys, instant, std_id) -> None:
    doc = run_json(capsys, ["aqi", "--pm25", "70", "--pm10", "100"], clock=FixedClock(instant))
    assert doc["standard"] == std_id


def test_above_scale_in_json(capsys) -> None:
    doc = run_json(capsys, ["aqi", "--date", "2026-11-25", "--pm25", "600"])
    assert doc["aqi"] == 500
    assert doc["level"] == 6
    assert doc["color"] == "#7E0023"
    assert doc["display"] == ">500"


def test_text_output(capsys) -> None:
    argv = ["aqi", "--date", "2026-11-24", "--pm25", "52", "--pm10", "78", "--co", "0.7"]
    code, out, err = run(capsys, argv)
    assert code == 0, err
    first = out.splitlines()[0]
    assert "AQI 84" in first
    assert "良" in first
    assert "#FFFF00" in first
    assert "首要污染物 PM2.5" in first
    assert "[hj633-2026]" in first


def _assert_user_error(code, out: str, err: str, *needles: str) -> None:
    assert code == 2
    assert "Traceback" not in out + err
    for needle in needles:
        assert needle in err, (needle, err)


def test_date_and_standard_together_is_a_usage_error(capsys) -> None:
    code, out, err = run(capsys, ["aqi", "--date", "2026-11-25", "--standard", "hj633-2012", "--pm25", "52"])
    _assert_user_error(code, out, err, "--standard", "--date")


def test_unknown_standard_is_a_usage_error(capsys) -> None:
    code, out, err = run(capsys, ["aqi", "--standard", "hj633-2099", "--pm25", "52"])
    _assert_user_error(code, out, err, "--standard")


def test_bad_date_is_a_usage_error(capsys) -> None:
    code, out, err = run(capsys, ["aqi", "--date", "2026-13-01", "--pm25", "52"])
    _assert_user_error(code, out, err, "--date", "2026-13-01")


@pytest.mark.parametrize("argv", [
    ["--pm25", "abc"],
    ["--pm25", "-5"],
    ["--pm25=-5"],
    ["--pm25", "NaN"],
    ["--pm25", "Infinity"],
])
def test_bad_concentration_is_a_usage_error_naming_the_flag(capsys, argv) -> None:
    code, out, err = run(capsys, ["aqi", "--date", "2026-11-25", *argv, "--pm10", "78"])
    _assert_user_error(code, out, err, "--pm25")
    assert out == ""


def test_negative_concentration_message_says_negative(capsys) -> None:
    code, out, err = run(capsys, ["aqi", "--pm10", "-5"])
    _assert_user_error(code, out, err, "--pm10", "negative")


def test_bad_o3_flag_is_named_with_its_dash(capsys) -> None:
    code, out, err = run(capsys, ["aqi", "--o3-8h", "x"])
    _assert_user_error(code, out, err, "--o3-8h")


def test_no_pollutant_is_a_helpful_usage_error(capsys) -> None:
    code, out, err = run(capsys, ["aqi", "--date", "2026-11-25"])
    _assert_user_error(code, out, err, "--pm25")
    assert "concentration" in err
    assert out == ""


def test_2012_o3_8h_above_800_without_1h_is_a_usage_error(capsys) -> None:
    code, out, err = run(capsys, ["aqi", "--date", "2025-11-25", "--o3-8h", "900"])
    _assert_user_error(code, out, err, "800")


def test_2026_o3_8h_above_800_counts_as_300(capsys) -> None:
    # HJ 633—2026 Table 3 note c: above 800 µg/m³ the O3 8-hour IAQI counts as 300.
    doc = run_json(capsys, ["aqi", "--date", "2026-11-25", "--o3-8h", "900"])
    assert (doc["aqi"], doc["category"], doc["primary"]) == (300, "重度污染", ["O3"])


def test_2026_rounds_before_the_iaqi(capsys) -> None:
    # HJ 633—2026 §4.2.2, the issue's own example: PM2.5 35.4 → 35 → AQI 50 优.
    code, out, err = run(capsys, ["aqi", "--date", "2026-11-24", "--pm25", "35.4", "--json"])
    assert code == 0
    assert (json.loads(out)["aqi"], json.loads(out)["category"]) == (50, "优")
    assert "rated as 35" in err  # the note says why
    code, out, err = run(capsys, ["aqi", "--date", "2026-11-24", "--o3-8h", "150", "--o3-1h", "220",
                                  "--json"])
    assert json.loads(out)["aqi"] == 92  # §4.2.2: O3-1h is not part of the 2026 daily AQI
    assert "--o3-1h is not part" in err


def test_2012_o3_8h_above_800_with_1h_uses_the_1h_value(capsys) -> None:
    doc = run_json(capsys, ["aqi", "--date", "2025-11-25", "--o3-8h", "900", "--o3-1h", "500"])
    assert doc["aqi"] == 225
    assert doc["primary"] == ["O3"]
    assert "O3" not in doc["iaqi"]  # the 8-h sub-index is dropped above 800
    assert list(doc["iaqi"].values()) == [225]


def test_module_entry_point_bad_number_exits_2_without_traceback() -> None:
    proc = subprocess.run([sys.executable, "-m", "ledctl", "aqi", "--pm25", "abc"],
                          capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stdout + proc.stderr
    assert "--pm25" in proc.stderr
    assert proc.stdout == ""
