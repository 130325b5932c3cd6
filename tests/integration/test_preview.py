"""`ledctl preview` as a user runs it: the real config, the sample data, files on disk."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from PIL import Image

REPO = Path(__file__).resolve().parents[2]


def preview(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`ledctl preview --sample-data …`: the showcase previews read the sample data (marked 示例数据)."""
    return subprocess.run([sys.executable, "-m", "ledctl", "--state", str(tmp_path / "state"),
                           "preview", "--sample-data", "--out",
                           str(tmp_path / "pv"), *args],
                          cwd=REPO, capture_output=True, text=True, timeout=120)


def test_whole_fleet(tmp_path: Path, zhenhai) -> None:
    run = preview(tmp_path, "--date", "2026-11-25")
    assert run.returncode == 0, run.stderr
    board_lines = [ln for ln in run.stdout.splitlines() if re.match(r"\[\s*\d+/42\]", ln)]
    assert len(board_lines) == 42
    assert "AQI 84 良 PM2.5" in run.stdout  # zh-urban on 2026-11-24 (sample data, pinned)
    index = (tmp_path / "pv" / "index.html").read_text(encoding="utf-8")
    for board in zhenhai.boards:
        assert f'id="{board.id}"' in index
        pages = sorted((tmp_path / "pv" / board.id).glob("*.png"))
        exact = [p for p in pages if not p.name.endswith(".led.png")]
        look = [p for p in pages if p.name.endswith(".led.png")]
        assert exact and len(exact) == len(look)
        with Image.open(exact[0]) as im:
            assert im.size == (board.size.width, board.size.height)
        with Image.open(look[0]) as im:
            assert im.width % board.size.width == 0 and im.width // board.size.width >= 3
    for area in ("城区", "石化区", "招宝山街道"):
        assert f"<h2>{area} " in index
    assert "Traceback" not in run.stderr


def test_one_board_and_one_group(tmp_path: Path) -> None:
    run = preview(tmp_path, "--date", "2026-11-25", "--board", "zbs-40")
    assert run.returncode == 0 and "[ 1/1] zbs-40" in run.stdout
    run = preview(tmp_path, "--date", "2026-11-25", "--group", "outdoor")
    assert run.returncode == 0 and "/2]" in run.stdout and "outdoor-petrochem" in run.stdout


def test_missing_values_show_updating(tmp_path: Path) -> None:
    run = preview(tmp_path, "--date", "2026-11-21", "--board", "zbs-01")
    assert run.returncode == 0
    assert "数据更新中" in run.stdout and "lacks PM2.5, CO" in run.stdout


def test_no_data_for_the_day_shows_updating_everywhere(tmp_path: Path) -> None:
    run = preview(tmp_path, "--date", "2031-01-01")
    assert run.returncode == 0
    assert run.stdout.count("数据更新中") == 42


def test_unknown_board_is_a_clear_error(tmp_path: Path) -> None:
    run = preview(tmp_path, "--board", "zbs-99")
    assert run.returncode == 2
    assert "zbs-99" in run.stderr and "Traceback" not in run.stderr


def test_bad_date_is_a_clear_error(tmp_path: Path) -> None:
    run = preview(tmp_path, "--date", "25/11/2026")
    assert run.returncode == 2 and "2026-11-25" in run.stderr and "Traceback" not in run.stderr


def test_each_board_gets_a_loop_gif(tmp_path: Path) -> None:
    run = preview(tmp_path, "--date", "2026-11-25", "--group", "outdoor")
    assert run.returncode == 0
    with Image.open(tmp_path / "pv" / "outdoor-urban" / "loop.gif") as gif:
        assert gif.n_frames == 3  # three static pages: air, pollutants, water
        durations = []
        for i in range(gif.n_frames):
            gif.seek(i)
            durations.append(gif.info["duration"])
        assert durations == [10_000, 15_000, 10_000]  # the layout's dwell times
    index = (tmp_path / "pv" / "index.html").read_text(encoding="utf-8")
    assert 'href="outdoor-urban/loop.gif"' in index


def test_a_notice_preview_on_a_bx_board_is_what_the_card_draws(tmp_path: Path) -> None:
    # Issue 16.15: the preview showed ledctl's title page and a green body scrolling in the bottom
    # half, while the card draws the text in its own font, one red line moving left. Now the preview
    # is the card's own drawing (drivers/onbon/card_screen.py) wherever the card draws the text …
    text = "受重污染天气影响，今日PM2.5浓度较高，请减少户外活动。"
    run = preview(tmp_path, "--board", "zbs-40", "--notice", text, "--notice-title", "重污染天气预警")
    assert run.returncode == 0, run.stderr
    assert "card-text scroll-left" in run.stdout
    with Image.open(tmp_path / "pv" / "zbs-40" / "loop.gif") as gif:
        assert gif.n_frames > 50  # it moves, as the card moves it
    # … and where it cannot (not in the card's GB2312 font), the card gets pictures, which cannot
    # move on a BX card: still pages, page after page, as the host will play them.
    run = preview(tmp_path / "tw", "--board", "zbs-40", "--notice", "臺灣氣象署發布大雨特報，請注意防範。",
                  "--notice-title", "大雨特報")
    assert run.returncode == 0, run.stderr
    assert "scroll" not in run.stdout and "notice-2 static" in run.stdout
    pv = tmp_path / "tw" / "pv" / "zbs-40"
    pages = sorted(p for p in pv.glob("*.png") if not p.name.endswith(".led.png"))
    with Image.open(pv / "loop.gif") as gif:
        assert gif.n_frames == len(pages) > 1


def test_notice_with_a_glyph_no_board_has_is_refused_per_board(tmp_path: Path) -> None:
    run = preview(tmp_path, "--group", "outdoor", "--notice", "请注意 😀")
    assert run.returncode == 2
    assert "U+1F600" in run.stdout and "Traceback" not in run.stderr


def test_notice_with_control_characters_is_refused(tmp_path: Path) -> None:
    run = preview(tmp_path, "--notice", "请注意\x07")
    assert run.returncode == 2 and "U+0007" in run.stderr and "Traceback" not in run.stderr


def test_implausible_sample_value_is_never_the_number(tmp_path: Path) -> None:
    # The 10th's PM2.5 of 1850 is refused; the board shows the newest valid day within the freshness
    # window (the 9th, dated on the board), never the implausible figure.
    run = preview(tmp_path, "--date", "2026-11-11", "--board", "outdoor-petrochem")
    assert run.returncode == 0
    assert "rejected zh-jiaochuan 2026-11-10T00:00:00+08:00: pm25 = 1850 outside the plausible" in run.stderr
    assert "(蛟川 2026-11-09)" in run.stdout and "1850" not in run.stdout
    assert (tmp_path / "pv" / "outdoor-petrochem" / "01-air.png").exists()
    late = preview(tmp_path / "late", "--date", "2026-11-12", "--board", "outdoor-petrochem")
    assert "(蛟川 2026-11-11)" in late.stdout  # and the next good day replaces it


def test_the_outdoor_screens_show_last_months_summary_on_the_first_days_of_a_month(tmp_path: Path) -> None:
    # Issue 19.3: the monthly summary (HJ 663) on the outdoor screens, on the first [monthly] days (3).
    run = preview(tmp_path, "--group", "outdoor", "--date", "2026-12-02")
    assert run.returncode == 0, run.stderr
    names = sorted(p.name for p in (tmp_path / "pv" / "outdoor-urban").glob("*.png") if ".led." not in p.name)
    assert "04-month-air.png" in names and "05-month-values.png" in names
    later = preview(tmp_path / "later", "--group", "outdoor", "--date", "2026-12-04")
    assert later.returncode == 0 and not list((tmp_path / "later" / "pv" / "outdoor-urban").glob("*month*"))
