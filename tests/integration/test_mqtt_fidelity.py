"""ledctl-mqtt against a real mosquitto (issue 16, items 13–14): "confirmed" is the pixels read back,
a hung renderer behind a live connection is not healthy, settings survive a reboot, large pages are
chunked to what the board takes, and a board without a clock is told the time."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from PIL import Image

from ledctl import delivery
from ledctl.drivers.base import Content, Outcome
from ledctl.drivers.pool import LinkPool
from ledctl.model import Page, Program
from ledctl.schedule import Settings
from ledctl.simulator.mqtt_board import BoardLogic, MqttBoard
from tests.integration.test_mqtt_delivery import PASSWORDS, broker, contents, dep, now

URBAN = "outdoor-urban"
__all__ = ["broker", "dep"]


def start(dep, logic: BoardLogic, protocol: str = "5") -> MqttBoard:
    client = MqttBoard(logic, dep.links["broker"].url, username=logic.board, password=PASSWORDS[logic.board],
                       protocol=protocol)
    client.start()
    assert client.wait_ready(10), client.connect_errors
    return client


def board_logic(dep, cls: type[BoardLogic] = BoardLogic, **kw: Any) -> BoardLogic:
    board = dep.board(URBAN)
    kw.setdefault("clock", now)
    return cls(dep.site.id, board.id, board.size.width, board.size.height, board.colour.value, **kw)


def eventually(condition: Callable[[], bool], what: str, wait_s: float = 30.0) -> None:
    deadline = time.monotonic() + wait_s
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"never happened: {what}")
        time.sleep(0.05)


def one_board(dep):
    return (dep.board(URBAN),)


def test_confirmed_means_the_screen_read_back_shows_the_page(dep) -> None:
    logic = board_logic(dep)
    client = start(dep, logic)
    try:
        programs = contents(dep, one_board(dep))
        (result,) = delivery.deliver_once(dep, one_board(dep), programs)
        assert result.outcome is Outcome.CONFIRMED, result.describe()
        assert "screen read back: page 1 of" in result.detail and result.pages[0] == result.pages[1]
    finally:
        client.stop()


class WrongPixels(BoardLogic):
    """A board that acks every program and draws something else (a broken panel driver, a tampered
    renderer): an ack alone would call it confirmed."""

    def _frame_info(self) -> dict[str, Any]:
        info = super()._frame_info()
        info["image"].putpixel((0, 0), (1, 2, 3))
        return info


def test_an_ack_with_the_wrong_pixels_on_the_screen_is_not_confirmed(dep) -> None:
    client = start(dep, board_logic(dep, WrongPixels))
    try:
        (result,) = delivery.deliver_once(dep, one_board(dep), contents(dep, one_board(dep)))
        assert result.outcome is Outcome.NACK and "the screen differs from page 1" in result.detail
    finally:
        client.stop()


@pytest.mark.parametrize("watchdog", [True, False], ids=["with-watchdog", "without-watchdog"])
def test_a_hung_renderer_behind_a_live_connection_is_not_healthy(dep, watchdog: bool) -> None:
    logic = board_logic(dep, watchdog=watchdog)
    client = start(dep, logic)
    try:
        with LinkPool(dep.links, dep.boards, dep.site.id, ack_timeout_s=5.0) as pool:
            driver = pool.driver("broker", "ledctl-mqtt")
            programs = contents(dep, one_board(dep))
            results: list = []
            driver.deliver([(dep.board(URBAN), programs[URBAN])], results.append)
            assert results[0].confirmed, results[0].describe()
            (health,) = driver.check(one_board(dep))
            assert health.online and health.shows == programs[URBAN].program.content_hash()
            logic.hang()  # the render task stops; the MQTT connection and its keepalive live on
            if watchdog:  # §9: 5 s without a frame is an alert, said by the board itself
                eventually(lambda: logic.state == "alert", "the watchdog's alert", 20)
            (health,) = driver.check(one_board(dep))
            assert client.connected and not health.online
            assert ("alert: renderer: no frame" in health.detail) if watchdog else \
                ("no screen read-back" in health.detail), health.detail
    finally:
        client.stop()


def test_frames_that_stand_still_in_the_telemetry_are_a_stuck_renderer(dep) -> None:
    logic = board_logic(dep, watchdog=False, telemetry_interval=1.0)
    client = start(dep, logic)
    try:
        with LinkPool(dep.links, dep.boards, dep.site.id, ack_timeout_s=5.0) as pool:
            driver = pool.driver("broker", "ledctl-mqtt")
            state = driver.boards.state_of(URBAN)
            logic.hang()
            hung = time.monotonic()  # two telemetries after the hang, each with the frames it had then
            eventually(lambda: state.frames_before is not None and state.frames_before[1] > hung,
                       "two telemetries after the hang")
            (health,) = driver.check(one_board(dep))
            assert not health.online and health.detail.startswith("renderer stuck"), health.detail
    finally:
        client.stop()


def test_power_and_brightness_come_back_after_a_reboot(dep) -> None:
    logic = board_logic(dep)
    client = start(dep, logic)
    try:
        with LinkPool(dep.links, dep.boards, dep.site.id, ack_timeout_s=5.0) as pool:
            driver = pool.driver("broker", "ledctl-mqtt")
            results: list = []
            driver.apply([(dep.board(URBAN), Settings(power=False, brightness=30))], results.append)
            assert results[0].confirmed, results[0].describe()
    finally:
        client.stop(clean=False)  # the power fails
    rebooted = board_logic(dep)  # nothing kept in RAM
    assert (rebooted.power, rebooted.brightness) == (True, 100)
    client = start(dep, rebooted)
    try:
        eventually(lambda: (rebooted.power, rebooted.brightness) == (False, 30), "the retained settings")
    finally:
        client.stop()


def noise(width: int, height: int) -> Image.Image:
    rng = random.Random(3)
    raw = bytes(rng.randrange(256) for _ in range(width * height * 3))
    return Image.frombytes("RGB", (width, height), raw)


def test_a_page_larger_than_the_board_takes_in_one_message_is_sent_in_parts(dep) -> None:
    logic = board_logic(dep)  # max_message 16384, as the document's minimum
    client = start(dep, logic)
    try:
        board = dep.board(URBAN)
        big = noise(board.size.width, board.size.height)  # ~100 kB of PNG
        program = Program(URBAN, (Page("noise", big, dwell_s=10),))
        (result,) = delivery.deliver_once(dep, (board,), {URBAN: Content(program)})
        assert result.confirmed, result.describe()
        assert logic.snapshot().tobytes() == big.tobytes()
        assert len(logic.pages) == 0 and len(logic._parts) > 5
        small = Program(URBAN, (Page("dark", Image.new("RGB", big.size), dwell_s=10),))
        (result,) = delivery.deliver_once(dep, (board,), {URBAN: Content(small)})
        assert result.confirmed, result.describe()
        eventually(lambda: logic._parts == {}, "the old parts deleted")
    finally:
        client.stop()


def test_a_board_without_a_clock_is_told_the_time_and_shows_a_program_that_expires(dep) -> None:
    logic = board_logic(dep, has_clock=False, clock=lambda: datetime.now(UTC))
    client = start(dep, logic)
    try:
        board = dep.board(URBAN)
        program = Program(URBAN, contents(dep, (board,))[URBAN].program.pages)
        expires = datetime.now(UTC) + timedelta(hours=1)
        (result,) = delivery.deliver_once(dep, (board,), {URBAN: Content(program, expires=expires)})
        assert result.confirmed, result.describe()
        assert logic.clock_source == "controller"
    finally:
        client.stop()


def test_a_page_too_large_for_the_board_is_refused_before_anything_is_sent(dep) -> None:
    board = dep.board(URBAN)
    wide = Image.new("RGB", (8 * board.size.width + 8, board.size.height))
    program = Program(URBAN, (Page("wide", wide, effect="scroll-left", speed_px_s=24),))
    (result,) = delivery.deliver_once(dep, (board,), {URBAN: Content(program)})
    assert result.outcome is Outcome.REFUSED and "page 1 (wide)" in result.detail
