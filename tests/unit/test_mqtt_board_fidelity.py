"""The rules docs/protocols/ledctl-mqtt.md adds for firmware writers (issue 16, items 13–14), on the
board emulator without a broker: message size and chunking, page limits, the clock, the screen
read-back, telemetry, the lifecycle and the watchdog. Pages and manifests are built by hand."""

from __future__ import annotations

import base64
import io
import json
import re
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from ledctl.simulator.mqtt_board import BoardLogic, Outgoing
from tests.unit.test_mqtt_board import (
    BOARD,
    GREEN,
    PREFIX,
    RED,
    SITE,
    T0,
    Clock,
    H,
    W,
    by_topic,
    cmd,
    error_ack,
    gradient,
    is_dark,
    load,
    manifest,
    png,
    send,
    settings,
    sha,
    spec,
)

REPO = Path(__file__).resolve().parents[2]


class Mono:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def board_with(**kw: Any) -> tuple[BoardLogic, Clock, Mono]:
    clock, mono = Clock(), Mono()
    return BoardLogic(SITE, BOARD, W, H, "full", clock=clock, monotonic=mono, **kw), clock, mono


def screen_of(out: list[Outgoing]) -> dict[str, Any]:
    (answer,) = by_topic(out, "screen")
    assert not answer.retain
    return answer.json()


def image_of(body: dict[str, Any]) -> Image.Image:
    return Image.open(io.BytesIO(base64.b64decode(body["png"])))


# -- §3: the scroll rule and the document's own example --------------------------------------------


def test_the_documents_manifest_example_follows_its_own_scroll_rule() -> None:
    text = (REPO / "docs" / "protocols" / "ledctl-mqtt.md").read_text(encoding="utf-8")
    section = text[text.index("## 3. The manifest"):text.index("## 4.")]
    example = json.loads(re.search(r"```json\n(.*?)```", section, re.S).group(1))  # type: ignore[union-attr]
    board_width, board_height = example["size"]
    scrolls = [p for p in example["pages"] if p["effect"].startswith("scroll")]
    assert scrolls
    for page in scrolls:
        across = page["effect"] == "scroll-left"
        travel = page["width"] + board_width if across else page["height"] + board_height
        assert page["dwell"] == pytest.approx(travel / page["speed"], abs=0.001), page


def test_a_scroll_lasts_its_travel_at_its_speed() -> None:
    board, clock, _ = board_with()
    image = png(3 * W, H, pixel=gradient)
    after = png(colour=GREEN)
    load(board, [image, after], [spec(image, effect="scroll-left", speed=4, width=3 * W, dwell=8.0),
                                 spec(after, dwell=5)])
    clock.advance((3 * W + W) / 4 - 0.01)  # (24 + 8) px at 4 px/s: 8 s
    assert not is_dark(board) or board.snapshot().getpixel((0, 0)) != GREEN
    clock.advance(0.02)
    assert board.snapshot().getpixel((0, 0)) == GREEN


# -- §4: message size, chunking, page limits -------------------------------------------------------


def noisy_png(width: int, height: int) -> bytes:
    import random

    rng = random.Random(7)
    noise = bytes(rng.randrange(256) for _ in range(width * height * 3))
    img = Image.frombytes("RGB", (width, height), noise)
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


def test_a_page_larger_than_max_message_is_dropped_by_the_board() -> None:
    board, _, _ = board_with(max_page_pixels=100 * 64)
    big = noisy_png(100, 64)  # ~19 kB: more than a 16 kB receive buffer
    assert len(big) > 16384
    out = load(board, [big], [spec(big, width=100, height=64)])
    assert board.program_hash == "" and any("max_message" in e for e in board.errors)
    assert by_topic(out, "ack") == []  # it just never arrives whole: the board keeps waiting


def test_a_chunked_page_is_joined_checked_and_shown() -> None:
    board, _, _ = board_with(max_page_pixels=100 * 64)
    big = noisy_png(100, 64)
    first, second = big[:16384], big[16384:]
    page = {**spec(big, width=100, height=64), "bytes": len(big), "parts": 2}
    assert send(board, "page/0/1", second) == []  # retained parts come in any order after a reconnect
    assert send(board, "program", manifest([page], size=[W, H])) == []  # waiting for part 0
    out = send(board, "page/0/0", first)
    assert by_topic(out, "ack")[0].json()["ok"] is True
    assert board.program_hash == "h-a"


def test_a_chunked_page_of_the_wrong_length_is_an_error() -> None:
    board, _, _ = board_with(max_page_pixels=100 * 64)
    big = noisy_png(100, 64)
    page = {**spec(big, width=100, height=64), "bytes": len(big) + 1, "parts": 2}
    send(board, "page/0/0", big[:16384])
    send(board, "page/0/1", big[16384:])
    body = error_ack(send(board, "program", manifest([page])))
    assert "bytes" in body["error"] and board.program_hash == ""


def test_a_page_larger_than_the_board_holds_is_refused() -> None:
    board, _, _ = board_with()  # max_page_pixels: 8 x its area = 256
    wide = png(8 * W + 1, H)
    body = error_ack(load(board, [wide], [spec(wide, width=8 * W + 1, effect="scroll-left", speed=4)]))
    assert "max_page_pixels" in body["error"]


def test_at_most_64_pages() -> None:
    board, _, _ = board_with()
    page = png()
    body = error_ack(send(board, "program", manifest([spec(page)] * 65)))
    assert "at most 64" in body["error"]


def test_max_message_is_at_least_16_kb() -> None:
    with pytest.raises(ValueError, match="16384"):
        board_with(max_message=4096)


# -- §11: a board without a clock ------------------------------------------------------------------


def test_a_board_without_a_clock_holds_a_program_that_expires_until_it_gets_the_time() -> None:
    board, clock, _ = board_with(has_clock=False)
    page = png(colour=RED)
    out = load(board, [page], expires=T0.replace(hour=9))
    assert error_ack(out)["error"] == "no clock: waiting for the time" and is_dark(board)
    assert error_ack(out)["at"] is None  # it does not know what time it is
    out = cmd(board, {"id": "c-1", "time": T0.isoformat()})
    assert out[0].json() == {"cmd": "c-1", "ok": True}
    assert by_topic(out, "ack")[1].json()["hash"] == "h-a" and board.program_hash == "h-a"
    assert board.clock_source == "controller"
    clock.advance(3600)  # 09:00: it counts on by itself, and drops the program
    board.tick()
    assert board.program_hash == "" and is_dark(board)


def test_a_board_without_a_clock_shows_a_program_with_no_times_at_once() -> None:
    board, _, _ = board_with(has_clock=False)
    load(board, [png(colour=RED)])
    assert board.program_hash == "h-a"


# -- §10: the screen read-back ---------------------------------------------------------------------


def test_the_screen_is_read_back_by_the_render_loop() -> None:
    board, _, _ = board_with()
    page = png(pixel=gradient)
    load(board, [page])
    assert cmd(board, {"id": "c-9", "screen": True}) == []  # no ack: the answer is the screen
    body = screen_of(board.render())
    assert (body["id"], body["program"], body["page"], body["origin"], body["lit"]) == ("c-9", "h-a", 0,
                                                                                      [0, 0], True)
    assert image_of(body).tobytes() == board.snapshot().tobytes() == Image.open(io.BytesIO(page)).tobytes()
    assert board.render() == []  # answered once


def test_a_scroll_reads_back_with_where_its_image_is() -> None:
    board, clock, _ = board_with()
    image = png(2 * W, H, pixel=gradient)
    load(board, [image], [spec(image, effect="scroll-left", speed=2, width=2 * W)])
    clock.advance(3)
    cmd(board, {"id": "c-1", "screen": True})
    body = screen_of(board.render())
    assert body["origin"] == [W - 6, 0] and body["lit"] is True
    expected = Image.new("RGB", (W, H))
    expected.paste(Image.open(io.BytesIO(image)), tuple(body["origin"]))
    assert image_of(body).tobytes() == expected.tobytes()


def test_a_screen_that_is_off_reads_back_dark_and_says_so() -> None:
    board, _, _ = board_with()
    load(board, [png(colour=RED)])
    settings(board, {"id": "s-1", "power": False})
    cmd(board, {"id": "c-1", "screen": True})
    body = screen_of(board.render())
    assert body["power"] is False and image_of(body).getbbox() is None and body["program"] == "h-a"


# -- §8, §9: lifecycle, telemetry, the watchdog ----------------------------------------------------


def test_telemetry_comes_every_interval_with_frames_uptime_and_the_last_error() -> None:
    board, _, mono = board_with(telemetry_interval=30)
    board.hello()
    first = board.subscribed()[1].json()
    assert (first["state"], first["interval"], first["clock"]) == ("online", 30, "sntp")
    assert first["last_error"] is None
    for _ in range(29):  # the render loop runs (once a second here)
        mono.now += 1
        board.render()
        assert board.tick() == []
    mono.now += 1
    board.render()
    cmd(board, {"id": "c-1", "nonsense": True})
    (tele,) = board.tick()
    body = tele.json()
    assert tele.topic == PREFIX + "telemetry" and not tele.retain
    assert body["frames"] == 30 and body["uptime"] == 30 and "no known command" in body["last_error"]["error"]


def test_a_stuck_renderer_stops_counting_and_answering_and_the_watchdog_says_alert() -> None:
    board, _, mono = board_with()
    board.hello()
    board.subscribed()
    load(board, [png(colour=RED)])
    board.render()
    board.hang()  # the render task is stuck; MQTT lives on
    cmd(board, {"id": "c-1", "screen": True})
    assert board.render() == [] and board.frames == 1
    mono.now += 5.1
    out = board.tick()
    status, tele = by_topic(out, "status")[0].json(), by_topic(out, "telemetry")[0].json()
    assert status["state"] == "alert" and "no frame" in status["error"]
    assert tele["state"] == "alert" and tele["frames"] == 1
    board.hang(False)
    out = board.render()
    assert screen_of(out)["id"] == "c-1"  # the waiting request is answered at last
    assert by_topic(out, "status")[0].json()["state"] == "online"


def test_without_the_watchdog_a_stuck_renderer_still_shows_in_its_frames() -> None:
    # A firmware that forgot the watchdog: the status stays "online", but the frames stand still, and
    # the controller sees that (tests/integration/test_mqtt_fidelity.py).
    board, _, mono = board_with(watchdog=False, telemetry_interval=10)
    board.hello()
    board.subscribed()
    board.render()
    board.hang()
    mono.now += 10
    (tele,) = board.tick()
    assert tele.json()["state"] == "online" and tele.json()["frames"] == 1


# -- §12: at boot ----------------------------------------------------------------------------------


def test_at_boot_the_board_is_dark_and_shows_only_a_verified_program() -> None:
    board, _, _ = board_with()
    assert board.hello()[1].json()["state"] == "init" and is_dark(board)
    send(board, "page/0", png(colour=RED))  # a page alone (a cache) is not a program
    assert is_dark(board)
    send(board, "program", manifest([spec(png(colour=RED))]))
    assert not is_dark(board)
    assert sha(png(colour=RED))  # the page it shows is the one the manifest named
