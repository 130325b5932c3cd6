"""The TPM2 board keys: model (generic, wled), pixel_order and acknowledges, each checked where it is
written (issue 16, items 10–12)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ledctl import config
from ledctl.drivers import capabilities
from tests.unit.test_config import add_board, both, problems_of, setting, write_config


def tpm2(**fields: object):
    return add_board(**{"id": "t1", "size": "64x32", "colour": "full", "driver": "tpm2", "link": "strip",
                        "address": None, **fields})


def strip_baud(baud: int):
    return setting("links", "strip", "baud", to=baud)


def test_a_tpm2_board_is_generic_and_does_not_acknowledge_by_default(tmp_path: Path) -> None:
    board = config.load(write_config(tmp_path, tpm2())).board("t1")
    assert (board.model, board.pixel_order, board.acknowledges) == ("generic", "", None)
    assert capabilities(board).acknowledges is False  # its delivery is "sent", never "confirmed"
    assert capabilities(board).holds_pages == 1  # one still frame: the host plays every page


def test_a_wled_board_acknowledges_unless_it_says_not(tmp_path: Path) -> None:
    dep = config.load(write_config(tmp_path, both(tpm2(model="wled"), strip_baud(115200))))
    assert capabilities(dep.board("t1")).acknowledges is True
    quiet = tpm2(model="wled", acknowledges=False)
    dep = config.load(write_config(tmp_path, both(quiet, strip_baud(115200))))
    assert capabilities(dep.board("t1")).acknowledges is False  # e.g. a wire with no return path
    dep = config.load(write_config(tmp_path, tpm2(acknowledges=True)))
    assert capabilities(dep.board("t1")).acknowledges is True  # a DIY receiver that answers pings


def test_pixel_order_is_kept_as_written(tmp_path: Path) -> None:
    dep = config.load(write_config(tmp_path, tpm2(pixel_order="bottom-right columns serpentine")))
    assert dep.board("t1").pixel_order == "bottom-right columns serpentine"


@pytest.mark.parametrize(("mutation", "needles"), [
    (tpm2(pixel_order="zigzag"), ['boards[3].pixel_order = "zigzag"', "a start corner", "serpentine"]),
    (tpm2(acknowledges="yes"), ['boards[3].acknowledges = "yes"', "expected true or false"]),
    (tpm2(model="ws2812"), ['boards[3].model = "ws2812"', "generic, wled"]),
    (setting("boards", 1, "pixel_order", to="top-left rows"),
     ['boards[1].pixel_order = "top-left rows"', "no pixel_order: onbon-bx boards do not take it"]),
    (setting("boards", 0, "acknowledges", to=True),
     ["boards[0].acknowledges = true", "no acknowledges: ledctl-mqtt boards do not take it"]),
    # WLED drops a frame 2.5 s after the last: at 9600 baud a 64x32 frame takes 6.4 s.
    (tpm2(model="wled"), ["boards[3].link", "6.41 s at 9600 baud", "at least 49192 baud"]),
    (both(tpm2(model="wled", size="128x64"), strip_baud(115200)),
     ["boards[3].link", "2.13 s at 115200 baud"]),
], ids=["bad-order", "acknowledges-not-bool", "unknown-model", "order-on-onbon", "acknowledges-on-mqtt",
        "wled-at-9600", "wled-frame-too-long-at-115200"])
def test_tpm2_keys_are_checked(tmp_path: Path, mutation, needles: list[str]) -> None:
    problems = problems_of(write_config(tmp_path, mutation))
    assert len(problems) == 1, problems
    for needle in needles:
        assert needle in problems[0], problems


def test_a_generic_board_at_9600_baud_is_fine_for_the_config(tmp_path: Path) -> None:
    # It keeps its frame; a page shorter than two frames is refused at delivery, with the reason.
    assert config.load(write_config(tmp_path, tpm2())).board("t1").link == "strip"
