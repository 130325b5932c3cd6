"""Every page the sample data can produce fits every board: each day of the data set, each kind of board."""

from __future__ import annotations

from datetime import date, timedelta

from ledctl import pipeline
from ledctl.content.bulletin import build_bulletin
from ledctl.render.cache import PageCache
from ledctl.render.layout import load_dir


def test_every_day_of_the_sample_fits_every_kind_of_board(zhenhai) -> None:
    readings = pipeline.read_all(zhenhai)
    # One board per (size, colour, station) stands for all boards like it.
    kinds = {}
    for board in zhenhai.boards:
        kinds.setdefault((board.size, board.colour, board.station), board)
    boards = tuple(kinds.values())
    days = sorted({r.day for r in readings})
    assert days[0] == date(2026, 1, 1) and len(days) >= 700
    layouts = load_dir(zhenhai.layouts_dir)
    cache = PageCache()
    seen_levels: set[int] = set()
    updating = 0
    for day in [*days, days[-1] + timedelta(days=1)]:
        now = pipeline.broadcast_instant(zhenhai, day + timedelta(days=1))
        bulletin = build_bulletin(readings, zhenhai.stations, now, timedelta(hours=36))
        for sb in bulletin.stations.values():
            if sb.assessment:
                seen_levels.add(sb.assessment.level)
            else:
                updating += 1
        for result in pipeline.render_fleet(zhenhai, boards, bulletin, cache, layouts):
            assert result.error == "", f"{day}: {result.error}"
    assert {1, 2, 3, 4, 5} <= seen_levels
    assert updating > 0  # the sample's missing values did show as 数据更新中
