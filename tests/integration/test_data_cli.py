"""`ledctl water`, `ledctl data fetch/show` and the last good data surviving a source outage."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def ledctl(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "ledctl", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=120)


def test_water_json() -> None:
    run = ledctl("water", "--do", "4.1", "--codmn", "7.5", "--nh3n", "1.32", "--tp", "0.26", "--json")
    assert run.returncode == 0, run.stderr
    out = json.loads(run.stdout)
    assert out["class"] == "IV" and out["category"] == "轻度污染"
    assert set(out["limiting"]) == {"do", "codmn", "nh3n", "tp"}


def test_water_lake_uses_lake_limits() -> None:
    river = json.loads(ledctl("water", "--tp", "0.04", "--json").stdout)
    lake = json.loads(ledctl("water", "--tp", "0.04", "--lake", "--json").stdout)
    assert (river["class"], lake["class"]) == ("II", "III")


def test_water_bad_input_is_a_clear_error() -> None:
    run = ledctl("water", "--tp", "-1")
    assert run.returncode == 2 and "negative" in run.stderr and "Traceback" not in run.stderr


def test_us_epa_scale() -> None:
    out = json.loads(ledctl("aqi", "--standard", "us-epa", "--pm25", "35.4", "--json").stdout)
    assert (out["standard"], out["aqi"], out["category"]) == ("us-epa", 100, "Moderate")
    out = json.loads(ledctl("aqi", "--standard", "us-epa", "--pm25", "35.49", "--json").stdout)
    assert out["aqi"] == 100  # truncated to 0.1 first, as the EPA does


def test_unusable_state_folder_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    run = ledctl("--state", str(blocker / "state"), "data", "show", "--date", "2026-11-11", "--json")
    assert run.returncode == 2  # the state folder cannot be created: a clear error, not a traceback
    assert "cannot open the store" in run.stderr and "Traceback" not in run.stderr


def test_last_good_data_survive_a_source_outage(tmp_path: Path) -> None:
    text = (REPO / "config" / "zhenhai.toml").read_text(encoding="utf-8")
    good = text.replace('"sample-data/', f'"{REPO}/config/sample-data/')
    good += f'\n[layouts]\ndir = "{REPO}/config/layouts"\n'
    cfg = tmp_path / "site.toml"
    cfg.write_text(good, encoding="utf-8")
    state = str(tmp_path / "state")
    run = ledctl("--state", state, "data", "fetch", "--sample-data", "--date", "2026-11-25", "-c", str(cfg))
    assert run.returncode == 0, run.stderr
    assert (tmp_path / "state" / "ledctl.sqlite").exists()

    cfg.write_text(good.replace("air-daily.csv", "gone.csv"), encoding="utf-8")  # the source is down
    run = ledctl("--state", state, "data", "show", "--sample-data", "--date", "2026-11-25", "--json",
                 "-c", str(cfg))
    assert run.returncode == 0, run.stderr
    assert "gone.csv does not exist" in run.stderr and "last good data" in run.stderr
    shown = json.loads(run.stdout)
    assert shown["air"]["zh-urban"]["aqi"] == 84  # 2026-11-24 from the store
    water = shown["water"]["xiepu-dahe"]
    assert water["class"] == "IV"
    assert any("1850" in r["reason"] for r in shown["rejections"])


def test_the_shipped_config_never_shows_sample_data_as_real(tmp_path: Path) -> None:
    """With the monitoring centre down, the production config has no sample fallback: the boards say
    数据更新中 — never a synthetic figure such as 镇海城区 AQI 47 优 with nothing marking it."""
    run = ledctl("--state", str(tmp_path), "data", "show", "--date", "2026-11-25", "--json")
    assert run.returncode == 0, run.stderr
    shown = json.loads(run.stdout)
    assert all(station["updating"] and station["aqi"] is None for station in shown["air"].values())
    assert all(w["class"] is None for w in shown["water"].values())
    # Asked for explicitly, the sample data say what they are.
    run = ledctl("--state", str(tmp_path / "s"), "data", "show", "--sample-data", "--date", "2026-11-25",
                 "--json")
    shown = json.loads(run.stdout)
    assert shown["air"]["zh-urban"]["aqi"] is not None and shown["air"]["zh-urban"]["sample"] is True


def test_water_plain_text_output() -> None:
    # `ledctl water` without --json crashed (it iterated a dict's keys as items).
    run = ledctl("water", "--do", "8", "--codmn", "3", "--nh3n", "0.3", "--tp", "0.02", "--tn", "1.8",
                 "--lake")
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines()[0].startswith("II类 优")
    assert "总氮" in run.stdout and "单独评价" in run.stdout
