"""Page effects: the frames a board plays and how long each stays."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from ledctl.model import Page, Program, Size
from ledctl.render.effects import BLINK_PERIOD_S, Frame, frames, program_frames

BOARD = Size(16, 8)
DARK = (0, 0, 0)


def column_colour(x: int) -> tuple[int, int, int]:
    """A distinct, never-dark colour per column."""
    return (x % 251 + 1, x // 251 + 1, 200)


def row_colour(y: int) -> tuple[int, int, int]:
    return (200, y % 251 + 1, y // 251 + 1)


def columns_image(width: int, height: int) -> Image.Image:
    image = Image.new("RGB", (width, height))
    for x in range(width):
        for y in range(height):
            image.putpixel((x, y), column_colour(x))
    return image


def rows_image(width: int, height: int) -> Image.Image:
    image = Image.new("RGB", (width, height))
    for y in range(height):
        for x in range(width):
            image.putpixel((x, y), row_colour(y))
    return image


def page(image: Image.Image, effect: str, dwell_s: float = 8.0, speed_px_s: float = 0.0) -> Page:
    return Page(name="p", image=image, effect=effect, dwell_s=dwell_s, speed_px_s=speed_px_s)


def is_dark(image: Image.Image) -> bool:
    return image.getbbox() is None


def visible_columns(image: Image.Image) -> list[int | None]:
    """For each board column, which page column it shows (None: dark); checks every row agrees."""
    by_colour = {column_colour(x): x for x in range(1000)}
    out: list[int | None] = []
    for x in range(image.width):
        colours = {image.getpixel((x, y)) for y in range(image.height)}
        assert len(colours) == 1, f"column {x} is not one colour: {colours}"
        colour = colours.pop()
        out.append(None if colour == DARK else by_colour[colour])
    return out


def visible_rows(image: Image.Image) -> list[int | None]:
    by_colour = {row_colour(y): y for y in range(1000)}
    out: list[int | None] = []
    for y in range(image.height):
        colours = {image.getpixel((x, y)) for x in range(image.width)}
        assert len(colours) == 1, f"row {y} is not one colour: {colours}"
        colour = colours.pop()
        out.append(None if colour == DARK else by_colour[colour])
    return out


def expected_columns(offset: int, image_width: int, board_width: int) -> list[int | None]:
    """The page column at each board column when the page's left edge is at board_width - offset."""
    left = board_width - offset
    return [x - left if 0 <= x - left < image_width else None for x in range(board_width)]


# ---------------------------------------------------------------------------
# static


def test_static_is_one_frame_of_the_whole_dwell():
    image = columns_image(16, 8)
    out = list(frames(page(image, "static", dwell_s=7.5), BOARD))
    assert len(out) == 1
    assert isinstance(out[0], Frame)
    assert out[0].duration_s == 7.5
    assert out[0].image.size == (16, 8)
    assert out[0].image.tobytes() == image.tobytes()


# ---------------------------------------------------------------------------
# blink


def test_blink_alternates_the_page_and_a_dark_frame_half_a_second_each():
    image = columns_image(16, 8)
    out = list(frames(page(image, "blink", dwell_s=3.0), BOARD))
    assert BLINK_PERIOD_S == 1.0
    assert [f.duration_s for f in out] == [0.5] * 6
    for i, f in enumerate(out):
        assert f.image.size == (16, 8)
        if i % 2 == 0:
            assert f.image.tobytes() == image.tobytes()
        else:
            assert is_dark(f.image)
            assert f.image.mode == image.mode


def test_blink_with_a_dwell_not_a_multiple_of_half_a_second_ends_with_a_short_frame():
    out = list(frames(page(columns_image(16, 8), "blink", dwell_s=1.75), BOARD))
    assert [f.duration_s for f in out] == [0.5, 0.5, 0.5, 0.25]
    assert [is_dark(f.image) for f in out] == [False, True, False, True]
    assert sum(f.duration_s for f in out) == 1.75


@pytest.mark.parametrize("dwell", [0.2, 1.3, 2.7, 4.1, 8.0, 9.99])
def test_blink_durations_sum_to_the_dwell(dwell):
    out = list(frames(page(columns_image(16, 8), "blink", dwell_s=dwell), BOARD))
    assert math.isclose(sum(f.duration_s for f in out), dwell, rel_tol=0, abs_tol=1e-9)
    assert len(out) == math.ceil(round(dwell / 0.5, 6))
    assert all(0 < f.duration_s <= 0.5 + 1e-12 for f in out)
    assert all(math.isclose(f.duration_s, 0.5) for f in out[:-1])
    assert [is_dark(f.image) for f in out] == [i % 2 == 1 for i in range(len(out))]


@settings(max_examples=200, deadline=None)
@given(dwell=st.floats(min_value=0.01, max_value=60.0, allow_nan=False))
def test_property_blink_durations_sum_to_the_dwell(dwell):
    out = list(frames(page(Image.new("1", (16, 8), 1), "blink", dwell_s=dwell), BOARD))
    assert math.isclose(sum(f.duration_s for f in out), dwell, rel_tol=1e-12, abs_tol=1e-9)
    assert all(f.duration_s > 0 for f in out)
    assert all(f.image.size == (16, 8) for f in out)


# ---------------------------------------------------------------------------
# scroll-left


def test_scroll_left_enters_from_the_right_and_leaves_at_the_left():
    board = Size(16, 8)
    image = columns_image(40, 8)
    # speed 25 px/s at 25 fps: one pixel per frame
    out = list(frames(page(image, "scroll-left", speed_px_s=25.0), board, fps=25.0))
    travel = 40 + 16
    assert len(out) == travel + 1
    assert all(f.image.size == (16, 8) for f in out)
    assert is_dark(out[0].image)
    assert visible_columns(out[1].image) == [None] * 15 + [0]
    assert visible_columns(out[16].image) == list(range(16))
    assert visible_columns(out[40].image) == list(range(24, 40))
    assert visible_columns(out[travel - 1].image) == [39] + [None] * 15
    assert is_dark(out[-1].image)
    for offset, f in enumerate(out):
        assert visible_columns(f.image) == expected_columns(offset, 40, 16), offset


def test_scroll_left_frame_durations_follow_the_speed():
    board = Size(16, 8)
    image = columns_image(48, 8)
    out = list(frames(page(image, "scroll-left", speed_px_s=50.0), board, fps=25.0))
    step = 2  # 50 px/s at 25 fps
    travel = 48 + 16
    assert all(f.duration_s == pytest.approx(step / 50.0) for f in out)
    # one frame per offset 0, step, ..., travel: the total is (travel + step) / speed
    assert len(out) == travel // step + 1
    assert sum(f.duration_s for f in out) == pytest.approx((48 + 16 + step) / 50.0)
    assert visible_columns(out[16 // step].image) == list(range(16))
    assert is_dark(out[0].image) and is_dark(out[-1].image)


def test_scroll_left_crops_a_taller_image_to_the_board_height():
    image = columns_image(20, 12)
    out = list(frames(page(image, "scroll-left", speed_px_s=25.0), BOARD, fps=25.0))
    assert all(f.image.size == (16, 8) for f in out)
    assert visible_columns(out[16].image) == list(range(16))


def test_scroll_left_last_frame_is_dark_when_the_step_does_not_divide_the_travel():
    # 75 px/s at 25 fps: 3 px per frame; travel 40 + 16 = 56 is not a multiple of 3.
    image = columns_image(40, 8)
    out = list(frames(page(image, "scroll-left", speed_px_s=75.0), BOARD, fps=25.0))
    assert all(f.duration_s == pytest.approx(3 / 75.0) for f in out)
    assert is_dark(out[0].image)
    assert is_dark(out[-1].image), f"last frame still shows page columns {visible_columns(out[-1].image)}"


def test_scroll_left_without_speed_lasts_the_dwell():
    # frames(): a scroll lasts its travel at its speed, plus one dark step before the next page.
    image = columns_image(176, 8)  # travel 192 px over 8 s: 24 px/s, 1 px per frame at 25 fps
    out = list(frames(page(image, "scroll-left", dwell_s=8.0), BOARD, fps=25.0))
    assert is_dark(out[0].image) and is_dark(out[-1].image)
    assert out[-1].duration_s == pytest.approx(1 / 24)
    assert sum(f.duration_s for f in out) == pytest.approx(8.0 + 1 / 24, abs=1e-6)


@settings(max_examples=200, deadline=None)
@given(
    image_width=st.integers(min_value=1, max_value=80),
    board_width=st.integers(min_value=1, max_value=32),
    speed=st.sampled_from([10.0, 25.0, 50.0, 60.0, 75.0, 100.0, 125.0]),
    fps=st.sampled_from([10.0, 25.0, 50.0]),
)
def test_property_scroll_left_positions_and_durations(image_width, board_width, speed, fps):
    board = Size(board_width, 4)
    image = columns_image(image_width, 4)
    out = list(frames(page(image, "scroll-left", speed_px_s=speed), board, fps=fps))
    step = max(1, round(speed / fps))
    travel = image_width + board_width
    offsets = [*range(0, travel, step), travel]  # every step, and always the image fully gone
    assert len(out) == len(offsets)
    for offset, f in zip(offsets, out, strict=True):
        assert f.image.size == (board_width, 4)
        assert f.duration_s == pytest.approx(step / speed)
        assert visible_columns(f.image) == expected_columns(offset, image_width, board_width)
    assert sum(f.duration_s for f in out) == pytest.approx(len(offsets) * step / speed)
    assert is_dark(out[0].image) and is_dark(out[-1].image)


# ---------------------------------------------------------------------------
# scroll-up


def test_scroll_up_enters_from_the_bottom_and_leaves_at_the_top():
    board = Size(16, 8)
    image = rows_image(16, 30)
    out = list(frames(page(image, "scroll-up", speed_px_s=25.0), board, fps=25.0))
    travel = 30 + 8
    assert len(out) == travel + 1
    assert all(f.image.size == (16, 8) for f in out)
    assert is_dark(out[0].image)
    assert visible_rows(out[1].image) == [None] * 7 + [0]
    assert visible_rows(out[8].image) == list(range(8))
    assert visible_rows(out[30].image) == list(range(22, 30))
    assert visible_rows(out[travel - 1].image) == [29] + [None] * 7
    assert is_dark(out[-1].image)
    assert sum(f.duration_s for f in out) == pytest.approx((travel + 1) / 25.0)


def test_scroll_up_crops_a_wider_image_to_the_board_width():
    image = columns_image(24, 20)
    out = list(frames(page(image, "scroll-up", speed_px_s=25.0), BOARD, fps=25.0))
    assert all(f.image.size == (16, 8) for f in out)
    assert visible_columns(out[8].image) == list(range(16))


def test_scroll_up_last_frame_is_dark_when_the_step_does_not_divide_the_travel():
    # 50 px/s at 25 fps: 2 px per frame; travel 31 + 8 = 39 is odd.
    image = rows_image(16, 31)
    out = list(frames(page(image, "scroll-up", speed_px_s=50.0), BOARD, fps=25.0))
    assert is_dark(out[0].image)
    assert is_dark(out[-1].image), f"last frame still shows page rows {visible_rows(out[-1].image)}"


# ---------------------------------------------------------------------------
# unknown effects, programs


def test_unknown_effect_raises_value_error():
    with pytest.raises(ValueError, match="sparkle"):
        list(frames(page(columns_image(16, 8), "sparkle"), BOARD))


def test_program_frames_play_the_pages_in_order():
    a = columns_image(16, 8)
    b = Image.new("RGB", (16, 8), (9, 9, 9))
    program = Program(board="b1", pages=(page(a, "static", dwell_s=4.0), page(b, "blink", dwell_s=1.5)))
    out = list(program_frames(program, BOARD))
    assert [f.duration_s for f in out] == [4.0, 0.5, 0.5, 0.5]
    assert out[0].image.tobytes() == a.tobytes()
    assert out[1].image.tobytes() == b.tobytes()
    assert is_dark(out[2].image)
    assert out[3].image.tobytes() == b.tobytes()
    assert sum(f.duration_s for f in out) == 5.5


def test_program_frames_with_a_scroll_page_is_the_concatenation_of_its_pages():
    pages = (
        page(columns_image(16, 8), "static", dwell_s=2.0),
        page(columns_image(30, 8), "scroll-left", speed_px_s=25.0),
        page(columns_image(16, 8), "blink", dwell_s=1.0),
    )
    out = list(program_frames(Program(board="b1", pages=pages), BOARD, fps=25.0))
    parts = [list(frames(p, BOARD, fps=25.0)) for p in pages]
    assert [f.duration_s for f in out] == [f.duration_s for part in parts for f in part]
    assert [f.image.tobytes() for f in out] == [f.image.tobytes() for part in parts for f in part]
    assert len(out) == 1 + (30 + 16 + 1) + 2


def test_program_frames_with_an_unknown_effect_raises():
    program = Program(board="b1", pages=(page(columns_image(16, 8), "wipe"),))
    with pytest.raises(ValueError):
        list(program_frames(program, BOARD))


def test_empty_program_has_no_frames():
    assert list(program_frames(Program(board="b1", pages=()), BOARD)) == []
