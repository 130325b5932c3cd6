"""Boards alike but for their id and name share one rendered program (a city's thousands of boards
come in a few kinds); each keeps its own id, and a board that differs in anything else, or cannot
show the program, is rendered on its own."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from pathlib import Path

from ledctl import config, pipeline

REPO = Path(__file__).resolve().parents[2]


def test_boards_of_one_kind_share_pages_and_keep_their_ids() -> None:
    dep = config.load(REPO / "config" / "zhenhai.toml").with_sample_data()
    first = next(b for b in dep.boards if b.driver == "ledctl-mqtt")
    twins = (first, replace(first, id="twin-1", name="twin one"),
             replace(first, id="twin-2", name="twin two"))
    other_station = next(s for s, station in dep.stations.items()
                         if s != first.station and station.kind.value == "air")
    cousin = replace(first, id="cousin", name="cousin", station=other_station)
    boards = (*twins, cousin)
    dep = replace(dep, boards=(*dep.boards, *boards[1:]))
    bulletin = pipeline.bulletin_at(dep, pipeline.broadcast_instant(dep, date(2026, 11, 25)))
    results = pipeline.render_fleet(dep, boards, bulletin)
    programs = [r.program for r in results]
    assert all(p is not None for p in programs)
    assert [p.board for p in programs if p] == [b.id for b in boards]
    pages = [p.pages for p in programs if p]
    assert all(page is first_page for p in pages[1:3] for page, first_page in zip(p, pages[0], strict=True))
    for i in (1, 3):  # a twin, and the board of another station: each as if rendered alone
        alone = pipeline.render_fleet(dep, (boards[i],), bulletin)[0].program
        made = programs[i]
        assert alone is not None and made is not None and alone.content_hash() == made.content_hash()
