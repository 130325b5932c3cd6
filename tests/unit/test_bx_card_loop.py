"""A BX card that cycles its loop itself (`loop = "card"`): the special area's text mode (protocol
document §8.3, A4 01 DataType 0 and A4 02), chosen per board; the pages drawn in the card's font
as the previews show them (issue 16, "choose per board")."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from PIL import Image

from ledctl import config
from ledctl.drivers import capabilities, driver_class
from ledctl.drivers.onbon import commands
from ledctl.drivers.onbon.card_screen import NotCardText, page_rows, page_text
from ledctl.model import Board, ColourMode, Page, Program, Size, TextLine
from tests.unit.test_config import problems_of, setting, write_config

RED, GREEN, YELLOW = (255, 0, 0), (0, 255, 0), (255, 255, 0)
BOARD = Board("b1", "b1", Size(128, 32), ColourMode.RED_GREEN, "onbon-bx", "l", "s", address=1, loop="card")


def page(*lines: TextLine, name: str = "air", effect: str = "static") -> Page:
    return Page(name, Image.new("RGB", (128, 32)), effect, 8.0, lines=lines)


AIR = page(TextLine(0, "cjk16", (("空气质量 ", RED), ("良", YELLOW))),
           TextLine(16, "cjk16", (("AQI ", GREEN), ("84", YELLOW))))


def test_loop_is_a_bx_board_key_checked_where_it_is_written(tmp_path: Path) -> None:
    dep = config.load(write_config(tmp_path, setting("boards", 1, "loop", to="card")))
    assert dep.boards[1].loop == "card" and capabilities(dep.boards[1]).holds_pages == 16
    problems = problems_of(write_config(tmp_path, setting("boards", 1, "loop", to="sometimes")))
    assert len(problems) == 1 and 'boards[1].loop = "sometimes"' in problems[0] and '"card"' in problems[0]
    problems = problems_of(write_config(tmp_path, setting("boards", 0, "loop", to="card")))
    assert len(problems) == 1 and "no loop: ledctl-mqtt boards do not take it" in problems[0], problems


def test_lines_become_rows_of_the_card_font_centred_with_half_width_spaces() -> None:
    # "空气质量 良" is 88 px in the 16-dot font: centred on 128 px it starts at 20 px; the text mode
    # has no alignment, so it starts after round(20 / 8) = 2 (2.5, half to even) spaces; "AQI 84"
    # (48 px) after five.
    assert page_rows(BOARD, AIR) == [[("  空气质量 ", 1), ("良", 3)], [("     AQI ", 2), ("84", 3)]]
    raw = page_text(BOARD, AIR)
    assert raw == (b"\\FO000\\C1  " + "空气质量 ".encode("gb2312") + b"\\C3" + "良".encode("gb2312")
                   + b"\\n\\C2     AQI \\C384")


def test_a_row_left_dark_is_an_empty_line() -> None:
    lower = page(TextLine(16, "cjk16", (("数据更新中", RED),), align="left"))
    assert page_rows(BOARD, lower) == [[], [("数据更新中", 1)]]


@pytest.mark.parametrize(("bad", "why"), [
    (page(TextLine(0, "cjk24", (("AQI", RED),))), "not the card's 16-dot font"),
    (page(TextLine(8, "cjk16", (("AQI", RED),))), "not on a row"),
    (page(TextLine(0, "cjk16", (("AQI", (255, 128, 0)),))), "colour"),
    (page(TextLine(0, "cjk16", (("空气质量空气质量空气质量", RED),))), "wider than the board"),
    (replace(AIR, lines=None), "a picture"),
    (replace(AIR, effect="scroll-left"), "a picture"),
])
def test_what_the_card_cannot_draw_as_text_is_named(bad: Page, why: str) -> None:
    with pytest.raises(NotCardText, match=why):
        page_rows(BOARD, bad)


def test_a_loop_with_a_page_the_card_cannot_draw_goes_as_pictures_the_host_plays() -> None:
    driver = driver_class(BOARD)
    text_only = Program("b1", (AIR, AIR))
    assert driver.card_loop(BOARD, text_only) is not None and not driver.host_plays(BOARD, text_only)
    with_picture = Program("b1", (AIR, replace(AIR, lines=None)))
    assert driver.card_loop(BOARD, with_picture) is None and driver.host_plays(BOARD, with_picture)
    traditional = Program("b1", (page(TextLine(0, "cjk16", (("體", RED),))),))  # not in GB2312
    assert driver.card_loop(BOARD, traditional) is None
    host = replace(BOARD, loop="")
    assert driver.card_loop(host, text_only) is None and driver.host_plays(host, text_only)


def test_the_preview_of_a_card_loop_is_the_card_s_drawing_with_one_dwell() -> None:
    short = replace(AIR, name="source", dwell_s=6.0)
    shown = driver_class(BOARD).as_shown(BOARD, Program("b1", (AIR, short)))
    assert [p.dwell_s for p in shown.pages] == [8.0, 8.0]  # the area has one StayTime for every page
    assert shown.pages[0].image.getbbox() is not None  # drawn, not the blank picture it was given
    assert shown.pages[0].lines == AIR.lines  # what goes to the card is what was drawn


def test_the_set_up_is_the_document_s_text_mode() -> None:
    # Field by field as A4 01 in the protocol document (V9): text, n pages, loop, multi-line,
    # manual line breaks, StayTime in 0.5 s.
    data = commands.special_area_setup(0, 0, 16, 32, bitmap=False, pages=2, stay_half_seconds=16)
    assert data[:5] == bytes((0xA4, 0x01, 0x01, 0, 0))
    assert data[5:13] == bytes((0, 0, 0, 0, 16, 0, 32, 0))
    assert data[13:18] == bytes((0, 2, 0, 0, 0))  # DataType text, Pagetotal 2, RunState loop, no timeout
    assert data[18:23] == bytes((0x02, 0, 0x01, 16, 0))  # multi-line, spacing 0, manual breaks, 8 s


def test_config_check_says_when_a_layout_s_pages_cannot_go_as_card_text() -> None:
    from ledctl.render.layout import load_dir

    driver = driver_class(BOARD)
    community = load_dir(Path(__file__).resolve().parents[2] / "config" / "layouts")["community"]
    outline = [(s.name, s.effect, [(slot.font, slot.y) for slot in s.slots]) for s in community.bulletin]
    assert driver.layout_notes(BOARD, outline) == []  # the shipped community layout: 16-px lines only
    big = [("air", "static", [("cjk24", 0)]), ("source", "scroll-left", [("cjk16", 16)])]
    [note] = driver.layout_notes(BOARD, big)
    assert "page(s) air, source" in note and "pictures the host plays" in note
    assert driver.layout_notes(replace(BOARD, loop="host"), big) == []


def test_a_card_board_gets_its_text_lines_after_a_board_of_its_kind_was_drawn_as_pictures(zhenhai) -> None:
    # The render caches are keyed by what decides the pixels; whether the lines are kept is part of
    # that: a card board drawn after a host board of the same size and colours still gets its text.
    from datetime import date

    from ledctl import pipeline
    from ledctl.render.cache import PageCache
    from ledctl.render.layout import clear_caches

    clear_caches()
    host, card = zhenhai.board("zbs-09"), replace(zhenhai.board("zbs-10"), loop="card")
    bulletin = pipeline.bulletin_at(zhenhai, pipeline.broadcast_instant(zhenhai, date(2026, 11, 25)))
    [first, second] = pipeline.render_fleet(zhenhai, (host, card), bulletin, PageCache())
    assert all(p.lines is None for p in first.program.pages)
    assert second.program is not None and all(p.lines for p in second.program.pages)
    assert driver_class(card).card_loop(card, second.program) is not None
