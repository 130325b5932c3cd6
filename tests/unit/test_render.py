"""Rendering: every board of the deployment, every level, every glyph in its board's font."""

from __future__ import annotations

import dataclasses
import os
from datetime import date
from decimal import Decimal
from pathlib import Path

import freetype
import pytest
from PIL import Image

from ledctl import fonts
from ledctl.errors import FitError
from ledctl.model import Board, ColourMode, Size, StationBulletin
from ledctl.render import layout as layout_mod
from ledctl.render.bulletin import render_bulletin as render_with
from ledctl.render.canvas import Run, draw_page, line
from ledctl.render.colour import palette
from ledctl.render.notice import render_notice
from ledctl.standards.aqi import HJ633_2012, HJ633_2026, assess_daily

GOLDEN = Path(__file__).resolve().parent.parent / "golden"
TZ_DAY = date(2026, 11, 24)


def load_font(name: str) -> fonts.BoardFont:
    return fonts.load(name)


LAYOUTS = layout_mod.load_dir(Path(__file__).resolve().parents[2] / "config" / "layouts")


def render_bulletin(board: Board, sb: StationBulletin, fonts_: object = None):
    return render_with(board, sb, load_font, layout_mod.layout_for(board, LAYOUTS))


def values(**kw: object) -> dict[str, Decimal]:
    base = {"pm25": "20", "pm10": "30", "so2": "5", "no2": "20", "co": "0.5", "o3_8h": "60"}
    base.update({k: str(v) for k, v in kw.items()})
    return {k: Decimal(v) for k, v in base.items()}


# One bulletin per situation a board must be able to show.
SITUATIONS = {
    "level1": values(),
    "level2": values(pm25=52, pm10=78),
    "level3-o3": values(o3_8h=190),
    "level4": values(pm25=130, pm10=160),
    "level5": values(pm25=200, pm10=260),
    "level6": values(pm25=400, pm10=450),
    "above-scale": values(pm25=650, pm10=700),
    "tie-two": values(pm25=75, pm10=150),  # both IAQI 100 under HJ 633-2012
    "tie-three": values(pm25=75, pm10=150, no2=80),
}


def station_bulletin(name: str) -> StationBulletin:
    v = SITUATIONS[name]
    standard = HJ633_2012 if name.startswith("tie") else HJ633_2026
    return StationBulletin("zh-urban", "镇海城区", TZ_DAY, assess_daily(v, standard), v)


UPDATING = StationBulletin("zh-urban", "镇海城区", None, None, problem="no data")


def test_situations_cover_every_level() -> None:
    levels = {station_bulletin(n).assessment.level for n in SITUATIONS}  # type: ignore[union-attr]
    assert levels == {1, 2, 3, 4, 5, 6}
    assert station_bulletin("tie-three").assessment.primary == ("PM2.5", "PM10", "NO2")  # type: ignore[union-attr]


@pytest.mark.parametrize("situation", [*SITUATIONS, "updating"])
def test_every_board_renders_with_every_glyph_in_its_font(zhenhai, situation: str) -> None:
    sb = UPDATING if situation == "updating" else station_bulletin(situation)
    faces: dict[str, freetype.Face] = {}
    for board in zhenhai.boards:
        program = render_bulletin(board, sb, load_font)
        assert program.pages, board.id
        for page in program.pages:
            assert page.image.size == (board.size.width, board.size.height)
            assert page.texts, (board.id, page.name)
            for font_name, text in page.texts:
                # Checked here against the font file itself, independently of the renderer.
                path = str(fonts.load(font_name).path)
                face = faces.setdefault(path, freetype.Face(path))
                missing = [c for c in text if face.get_char_index(ord(c)) == 0]
                assert not missing, f"{board.id}/{page.name}: {text!r} lacks {missing} in {font_name}"


@pytest.mark.parametrize("mode", [ColourMode.MONO_RED, ColourMode.RED_GREEN])
def test_reduced_boards_only_use_their_colours(zhenhai, mode: ColourMode) -> None:
    allowed = palette(mode)
    boards = [b for b in zhenhai.boards if b.colour is mode]
    assert boards
    for name in SITUATIONS:
        for page in render_bulletin(boards[0], station_bulletin(name), load_font).pages:
            used = {colour for _, colour in page.image.getcolors(maxcolors=1 << 16)}
            assert used <= allowed, (name, page.name, used - allowed)


def test_level_colour_reduced_on_red_green_board(zhenhai) -> None:
    board = zhenhai.board("zbs-01")
    heavy = render_bulletin(board, station_bulletin("level5"), load_font).pages[0].image
    good = render_bulletin(board, station_bulletin("level2"), load_font).pages[0].image
    colours = lambda im: {c for _, c in im.getcolors()}  # noqa: E731
    assert (255, 255, 0) in colours(good)  # yellow (良) stays yellow: red + green
    assert (255, 255, 0) not in colours(heavy)  # purple (重度) becomes red
    assert (255, 0, 0) in colours(heavy)


def test_updating_never_shows_a_figure(zhenhai) -> None:
    for board in zhenhai.boards:
        for page in render_bulletin(board, UPDATING, load_font).pages:
            said = "".join(text for _, text in page.texts)
            assert "更新中" in said
            assert not any(ch.isdigit() for ch in said), (board.id, said)


def test_above_scale_reads_more_than_500(zhenhai) -> None:
    program = render_bulletin(zhenhai.board("outdoor-urban"), station_bulletin("above-scale"), load_font)
    assert any(">500" in text for _, text in program.pages[0].texts)


BOARD = Board("t-1", "test", Size(64, 16), ColourMode.RED_GREEN, "onbon-bx", "l", "s")


def test_missing_glyph_is_a_fit_error_not_a_box() -> None:
    with pytest.raises(FitError) as err:
        draw_page(BOARD, "p1", [line("AQI 😀", font="latin5x7", y=0)], load_font)
    message = str(err.value)
    assert "t-1" in message and "p1" in message and "U+1F600" in message and "latin5x7" in message


def test_too_wide_is_a_fit_error() -> None:
    with pytest.raises(FitError, match="px wide"):
        draw_page(BOARD, "p1", [line("空气质量优良", font="cjk16", y=0)], load_font)


def test_below_the_board_is_a_fit_error() -> None:
    with pytest.raises(FitError, match="rows"):
        draw_page(BOARD, "p1", [line("AQI", font="latin5x7", y=10)], load_font)


def test_a_descender_that_fits_its_line_is_moved_into_it_not_refused() -> None:
    # WenQuanYi 16 px draws "g", "/" and "(" up to two rows below its 16-row line (its cell is 18
    # rows): the glyph is no taller than the line, so it is moved up into it — "20毫米/小时" in a real
    # rainstorm warning must reach the board.
    wide = dataclasses.replace(BOARD, size=Size(160, 32))
    page = draw_page(wide, "p1", [line("µg 20毫米/小时 (y)", font="cjk16", y=16)], load_font)
    ink = page.image.getbbox()
    assert ink is not None and ink[1] >= 16 and ink[3] <= 32


def test_ink_taller_than_its_line_is_a_fit_error() -> None:
    from ledctl import fonts

    real = fonts.load("cjk16")
    squeezed = dataclasses.replace(real, spec=dataclasses.replace(real.spec, line_height=10))
    with pytest.raises(FitError, match="ink outside its line"):
        draw_page(BOARD, "p1", [line("空气", font="cjk16", y=0)], lambda name: squeezed)


def test_text_is_one_bit_crisp() -> None:
    page = draw_page(BOARD, "p1", [line(Run("空气", "#00E400"), font="cjk16", y=0)], load_font)
    assert {c for _, c in page.image.getcolors()} == {(0, 0, 0), (0, 255, 0)}


def test_program_hash_changes_with_content(zhenhai) -> None:
    board = zhenhai.board("zbs-01")
    a = render_bulletin(board, station_bulletin("level2"), load_font)
    b = render_bulletin(board, station_bulletin("level2"), load_font)
    c = render_bulletin(board, station_bulletin("level3-o3"), load_font)
    assert a.content_hash() == b.content_hash() != c.content_hash()


# -- reference pictures, compared pixel for pixel -------------------------------------------------
# Regenerate after an intended change with: LEDCTL_UPDATE_GOLDEN=1 make test (then look at them).

BOARD_CLASSES = ["outdoor-urban", "outdoor-petrochem", "zbs-01", "zbs-40"]  # one board per layout

SHORT = "今日空气质量良好，适宜户外活动。"
LONG = "受重污染天气影响，今日PM2.5浓度较高。请减少户外活动，儿童、老人及呼吸系统疾病患者注意防护。" * 2


def notice_pages(board: Board, case: str) -> list:
    layout = layout_mod.layout_for(board, LAYOUTS)
    if case == "notice-scroll-up":
        flow = dataclasses.replace(layout.notice.flow, overflow="scroll-up")
        layout = dataclasses.replace(layout, notice=dataclasses.replace(layout.notice, flow=flow))
    elif case == "notice-scroll-left":
        flow = dataclasses.replace(layout.notice.flow, overflow="scroll-left")
        layout = dataclasses.replace(layout, notice=dataclasses.replace(layout.notice, flow=flow))
    elif case == "notice-paged":
        flow = dataclasses.replace(layout.notice.flow, overflow="page")
        layout = dataclasses.replace(layout, notice=dataclasses.replace(layout.notice, flow=flow))
    body = SHORT if case in ("notice-static", "notice-blink") else LONG
    if board.size.width >= 256 and case not in ("notice-static", "notice-blink"):
        body = LONG * 2  # the large screen holds LONG on one page
    if board.size.width <= 64:
        body = "注意防护" if case in ("notice-static", "notice-blink") else SHORT
    return render_notice(board, layout, load_font, title="重污染预警" if board.size.width > 64 else "预警",
                         body=body, day=TZ_DAY, blink=case == "notice-blink")


CASES = ["level2", "level5", "tie-two", "updating", "notice-static", "notice-blink", "notice-paged",
         "notice-scroll-left", "notice-scroll-up"]
EXPECTED_EFFECTS = {"notice-blink": "blink", "notice-scroll-left": "scroll-left",
                    "notice-scroll-up": "scroll-up"}


def case_pages(dep, board_id: str, case: str) -> list:
    board = dep.board(board_id)
    if case.startswith("notice"):
        return notice_pages(board, case)
    sb = UPDATING if case == "updating" else station_bulletin(case)
    return list(render_bulletin(board, sb).pages)


def golden_name(board_id: str, case: str, i: int, page) -> str:
    return f"{board_id}-{case}-{i:02d}-{page.name}-{page.effect}.png"


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("board_id", BOARD_CLASSES)
def test_reference_pictures(zhenhai, board_id: str, case: str) -> None:
    pages = case_pages(zhenhai, board_id, case)
    if case in EXPECTED_EFFECTS:
        assert EXPECTED_EFFECTS[case] in {p.effect for p in pages}
    if case == "notice-paged":
        assert len(pages) >= 2 and {p.effect for p in pages} == {"static"}
    for i, page in enumerate(pages, start=1):
        path = GOLDEN / golden_name(board_id, case, i, page)
        if os.environ.get("LEDCTL_UPDATE_GOLDEN"):
            page.image.save(path)
        expected = Image.open(path).convert("RGB")
        assert expected.size == page.image.size
        assert expected.tobytes() == page.image.tobytes(), f"{path.name} differs from the render"


def test_no_stray_reference_pictures(zhenhai) -> None:
    # Every file in tests/golden is a page of a case above: a renamed or dropped page leaves no orphan
    # behind (the old check compared only the first word of the name, and could not fail).
    expected = {golden_name(board_id, case, i, page)
                for board_id in BOARD_CLASSES for case in CASES
                for i, page in enumerate(case_pages(zhenhai, board_id, case), start=1)}
    assert {p.name for p in GOLDEN.glob("*.png")} == expected
