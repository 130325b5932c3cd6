"""Rendering: every board of the deployment, every level, every glyph in its board's font."""

from __future__ import annotations

import os
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import freetype
import pytest
from PIL import Image

from ledctl import fonts
from ledctl.errors import FitError
from ledctl.model import Board, ColourMode, Size, StationBulletin
from ledctl.render.bulletin import render_bulletin
from ledctl.render.canvas import Run, draw_page, line
from ledctl.render.colour import palette
from ledctl.standards.aqi import HJ633_2012, HJ633_2026, assess_daily

GOLDEN = Path(__file__).resolve().parent.parent / "golden"
TZ_DAY = date(2026, 11, 24)


def load_font(name: str) -> fonts.BoardFont:
    return fonts.load(name)


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


def test_spilling_descender_is_a_fit_error() -> None:
    # WenQuanYi 16 px draws "g" two rows below its 16-row line.
    with pytest.raises(FitError, match="ink outside its line"):
        draw_page(BOARD, "p1", [line("µg", font="cjk16", y=0)], load_font)


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

GOLDEN_CASES = [
    ("outdoor-urban", "level2"),
    ("outdoor-petrochem", "level5"),
    ("zbs-01", "level2"),
    ("zbs-01", "tie-two"),
    ("zbs-40", "level4"),
    ("zbs-40", "updating"),
]


@pytest.mark.parametrize(("board_id", "situation"), GOLDEN_CASES)
def test_reference_pictures(zhenhai, board_id: str, situation: str) -> None:
    sb = UPDATING if situation == "updating" else station_bulletin(situation)
    program = render_bulletin(zhenhai.board(board_id), sb, load_font)
    for i, page in enumerate(program.pages, start=1):
        path = GOLDEN / f"{board_id}-{situation}-{i:02d}-{page.name}.png"
        if os.environ.get("LEDCTL_UPDATE_GOLDEN"):
            page.image.save(path)
        expected = Image.open(path).convert("RGB")
        assert expected.size == page.image.size
        assert expected.tobytes() == page.image.tobytes(), f"{path.name} differs from the render"


def test_golden_dates_are_fixed() -> None:
    # The reference pictures show this day; a change here must regenerate them.
    assert datetime(2026, 11, 24).date() == TZ_DAY
