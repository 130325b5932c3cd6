"""The outdoor screens' monthly summary (HJ 663 month figures) through config/layouts: every page fits
both outdoor screens, says what the month's figures are, says 示例数据 on sample data, and never shows a
withheld figure as a number."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from ledctl import fonts, pipeline, report
from ledctl.errors import ConfigError
from ledctl.render import layout as layout_mod
from ledctl.render.monthly import monthly_fields, render_monthly, shows_monthly, summary_month
from ledctl.standards.period import DailyValues, Period, StationSeries, period_report

LAYOUTS = layout_mod.load_dir(Path(__file__).resolve().parents[2] / "config" / "layouts")
OUTDOOR = ["outdoor-urban", "outdoor-petrochem"]  # 256x128 and 192x96


def load_font(name: str) -> fonts.BoardFont:
    return fonts.load(name)


@pytest.fixture(scope="module")
def november(zhenhai_module):
    """The district's November 2026 from the sample data, as `ledctl report --month 2026-11 --sample-data`."""
    dep = zhenhai_module
    readings = report.readings_ended(pipeline.gather(dep).readings, datetime(2026, 12, 1, 0, tzinfo=UTC))
    air = report.air_quality(dep, readings, Period.month(2026, 11), date(2026, 11, 30), "sample")
    return air.areas[0]


@pytest.fixture(scope="module")
def zhenhai_module():
    from ledctl import config

    return config.load(Path(__file__).resolve().parents[2] / "config" / "zhenhai.toml").with_sample_data()


def texts(pages) -> list[str]:
    return [" ".join(text for _, text in page.texts) for page in pages]


def test_outdoor_layouts_show_the_summary_on_the_first_three_days() -> None:
    for name in ("outdoor-large", "outdoor"):
        layout = LAYOUTS[name]
        assert [shows_monthly(layout, date(2026, 12, d)) for d in (1, 2, 3, 4)] == [True, True, True, False]
    assert not shows_monthly(LAYOUTS["community"], date(2026, 12, 1))  # small boards have no room for it
    assert summary_month(date(2027, 1, 2)) == Period.month(2026, 12)


@pytest.mark.parametrize("board_id", OUTDOOR)
def test_the_month_fits_and_says_its_figures(zhenhai_module, november, board_id: str) -> None:
    board = zhenhai_module.board(board_id)
    layout = layout_mod.layout_for(board, LAYOUTS)
    pages = render_monthly(board, layout, november, load_font, sample=True)  # a FitError fails the test
    assert [p.name for p in pages] == ["month-air", "month-values"]
    assert all(p.image.size == (board.size.width, board.size.height) for p in pages)
    said = texts(pages)
    s = november.current
    # The figures `ledctl report` gives for the district (checked by hand for zh-urban in test_cli_report).
    assert f"{s.good_days}" in said[0] and f"{s.good_share}%" in said[0] and str(s.index.value) in said[0]
    assert f"PM2.5 {s.figures['pm25'].value}" in said[1] and f"CO {s.figures['co'].value}" in said[1]
    assert all("示例数据" in t for t in said)
    assert all("11月" in t for t in said)
    assert "同比" not in said[0]  # no sample data for 2025-11: no change is shown


def test_a_withheld_month_says_which_count_is_short_and_shows_no_figure(zhenhai_module) -> None:
    """GB 3095—2026 Table 4: 26 daily values of 27 — the board says 数据不足 and why."""
    values = {"pm25": 30, "pm10": 50, "so2": 8, "no2": 30, "co": 1, "o3_8h": 90}
    days = [DailyValues(date(2026, 11, d), values) for d in range(1, 27)]
    stations = [StationSeries("s", "镇海城区", days)]
    [district, _] = period_report(Period.month(2026, 11), stations, date(2026, 11, 30))
    for board_id in OUTDOOR:
        board = zhenhai_module.board(board_id)
        pages = render_monthly(board, layout_mod.layout_for(board, LAYOUTS), district, load_font)
        said = texts(pages)
        assert [p.name for p in pages] == ["month-short"]
        assert "数据不足，不作月评价" in said[0] and "PM2.5有效26天，需27天" in said[0]
        assert "综合指数" not in said[0] and "30" not in said[0].replace("26天", "")


def test_a_month_against_the_year_before_says_the_change(zhenhai_module) -> None:
    def month(year: int, pm: int) -> list[DailyValues]:
        return [DailyValues(date(year, 11, d), {"pm25": pm, "pm10": 50, "so2": 8, "no2": 30, "co": 1,
                                                 "o3_8h": 90}) for d in range(1, 31)]
    stations = [StationSeries("s", "s", month(2026, 30) + month(2025, 33))]
    [district, _] = period_report(Period.month(2026, 11), stations, date(2026, 11, 30))
    fields, _, facts = monthly_fields(district, sample=False)
    # Index: 8/60 0.13 + 30/40 0.75 + 50/60 0.83 + 1/4 0.25 + 90/160 0.56 (0.5625) + PM2.5 30/30 1.00 = 3.52;
    # a year before PM2.5 33/30 = 1.10: 3.62. (3.52 − 3.62)/3.62 = −2.76 % → 下降2.8%.
    assert (fields["index"], fields["index_change"], facts["has_change"]) == ("3.52", "下降2.8%", True)
    assert fields["pm25_change"] == "下降9.1%"  # (30 − 33)/33 = −9.09 %
    board = zhenhai_module.board("outdoor-urban")
    pages = render_monthly(board, layout_mod.layout_for(board, LAYOUTS), district, load_font)
    assert "同比 下降2.8%" in texts(pages)[0]


def test_an_unknown_monthly_field_is_refused(tmp_path: Path) -> None:
    shipped = Path(__file__).resolve().parents[2] / "config" / "layouts" / "outdoor.toml"
    text = shipped.read_text(encoding="utf-8")
    bad = tmp_path / "outdoor.toml"
    bad.write_text(text.replace("{good_share}", "{aqi}"), encoding="utf-8")
    with pytest.raises(ConfigError, match=r"monthly.page\[0\].lines\[3\].text .*\{aqi\} is not one"):
        layout_mod.load_file(bad)
    assert replace(LAYOUTS["outdoor"], monthly=None).monthly is None
