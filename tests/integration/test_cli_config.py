"""`ledctl config check` as a user runs it: a real process, the real config, exit codes and streams."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def config_check(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if k != "LEDCTL_CONFIG"}
    base["PYTHONUTF8"] = "1"
    return subprocess.run([sys.executable, "-m", "ledctl", "config", "check", *args],
                          cwd=REPO, capture_output=True, text=True, encoding="utf-8",
                          env={**base, **(env or {})}, timeout=60)


def broken_copy(tmp_path: Path, old: str, new: str) -> Path:
    """The shipped config with one line changed."""
    text = (REPO / "config" / "zhenhai.toml").read_text(encoding="utf-8")
    assert old in text
    path = tmp_path / "zhenhai.toml"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return path


def test_shipped_config_passes_by_default() -> None:
    run = config_check()
    assert run.returncode == 0, run.stderr
    assert "config/zhenhai.toml: OK" in run.stdout
    assert "42 boards" in run.stdout
    assert run.stderr == ""


def test_json_summary() -> None:
    run = config_check("-c", "config/zhenhai.toml", "--json")
    assert run.returncode == 0, run.stderr
    summary = json.loads(run.stdout)
    assert summary["ok"] is True and summary["boards"] == 42
    groups = {g: len(ids) for g, ids in summary["groups"].items()}
    assert groups["all"] == 42 and groups["outdoor"] == 2 and groups["community"] == 40
    assert {d: len(ids) for d, ids in summary["drivers"].items()} == {"ledctl-mqtt": 2, "onbon-bx": 40}
    links = summary["links"]
    assert sum(len(link["boards"]) for link in links.values()) == 42
    assert len(links["bus-a"]["boards"]) > 1 and links["bus-a"]["url"].startswith("socket://127.0.0.1:")
    assert links["broker"]["url"].startswith("mqtt://")


def test_broken_config_exits_2_with_file_and_key_path(tmp_path: Path) -> None:
    # zbs-01 is the third [[boards]] entry, boards[2]
    path = broken_copy(tmp_path, 'size = "128x32"', 'size = "128×32"')
    run = config_check("-c", str(path))
    assert run.returncode == 2
    assert f'{path}: boards[2].size = "128×32": expected WIDTHxHEIGHT like 128x32' in run.stderr
    assert "Traceback" not in run.stderr
    assert run.stdout == ""


def test_env_var_names_the_config(tmp_path: Path) -> None:
    path = broken_copy(tmp_path, 'link = "bus-a"', 'link = "bus-c"')
    run = config_check(env={"LEDCTL_CONFIG": str(path)})
    assert run.returncode == 2
    assert f'{path}: boards[2].link = "bus-c": expected one of the [links]' in run.stderr
    assert "Traceback" not in run.stderr


def test_missing_file_exits_2_without_traceback(tmp_path: Path) -> None:
    run = config_check("-c", str(tmp_path / "nowhere.toml"))
    assert run.returncode == 2
    assert f"{tmp_path / 'nowhere.toml'}: no such file" in run.stderr
    assert "Traceback" not in run.stderr


def test_timezone_typo_exits_2_without_traceback(tmp_path: Path) -> None:
    path = broken_copy(tmp_path, 'timezone = "Asia/Shanghai"', 'timezone = "Asia"')
    run = config_check("-c", str(path))
    assert "Traceback" not in run.stderr, run.stderr
    assert run.returncode == 2
    assert f'{path}: site.timezone = "Asia": expected an IANA time zone' in run.stderr
