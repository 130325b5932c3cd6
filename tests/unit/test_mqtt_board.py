"""The ledctl-mqtt board emulator's protocol logic (no broker), against docs/protocols/ledctl-mqtt.md.

Pages and manifests are built here by hand (hashlib, Pillow), never by ledctl's controller code.
"""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from PIL import Image

from ledctl.drivers.ledctl_mqtt import MqttBoards
from ledctl.simulator.mqtt_board import BoardLogic, Outgoing

SITE, BOARD = "zh", "b-1"
PREFIX = f"ledctl/v1/{SITE}/{BOARD}/"
W, H = 8, 4
T0 = datetime(2026, 11, 25, 8, 0, 0, tzinfo=timezone(timedelta(hours=8)))

RED, GREEN, BLUE, YELLOW, BLACK = (255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 0), (0, 0, 0)


class Clock:
    def __init__(self, now: datetime = T0) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def png(width: int = W, height: int = H, colour: tuple[int, int, int] = RED, *,
        pixel: Callable[[int, int], tuple[int, int, int]] | None = None, mode: str = "RGB") -> bytes:
    img = Image.new("RGB", (width, height), colour)
    if pixel is not None:
        for y in range(height):
            for x in range(width):
                img.putpixel((x, y), pixel(x, y))
    buf = io.BytesIO()
    img.convert(mode).save(buf, "PNG")
    return buf.getvalue()


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def manifest(pages: list[dict[str, Any]], *, hash: str = "h-a", protocol: Any = 1,
             valid_from: datetime | None = None, expires: datetime | None = None, size: Any = None,
             colour: str = "full") -> bytes:
    body = {
        "protocol": protocol, "hash": hash, "board": BOARD, "size": size or [W, H], "colour": colour,
        "valid_from": valid_from.isoformat() if valid_from else None,
        "expires": expires.isoformat() if expires else None,
        "pages": [{"index": i, **page} for i, page in enumerate(pages)],
        "some_future_key": {"ignored": True},
    }
    return json.dumps(body).encode()


def spec(data: bytes, *, effect: str = "static", dwell: float = 10.0, speed: float = 0,
         width: int = W, height: int = H, digest: str | None = None) -> dict[str, Any]:
    return {"name": "p", "effect": effect, "dwell": dwell, "speed": speed, "width": width, "height": height,
            "sha256": digest or sha(data)}


def new_board(colour: str = "full", width: int = W, height: int = H) -> tuple[BoardLogic, Clock]:
    clock = Clock()
    return BoardLogic(SITE, BOARD, width, height, colour, clock=clock), clock


def send(board: BoardLogic, name: str, payload: bytes, **kw: Any) -> list[Outgoing]:
    return board.on_message(PREFIX + name, payload, **kw)


def load(board: BoardLogic, pages: list[bytes], specs: list[dict[str, Any]] | None = None,
         response_topic: str | None = None, correlation: bytes | None = None, **kw: Any) -> list[Outgoing]:
    """Pages first, then the manifest (the controller's order)."""
    for i, data in enumerate(pages):
        assert send(board, f"page/{i}", data) == []
    return send(board, "program", manifest(specs or [spec(p) for p in pages], **kw),
            response_topic=response_topic, correlation=correlation)


def by_topic(out: list[Outgoing], name: str) -> list[Outgoing]:
    return [o for o in out if o.topic == PREFIX + name]


def assert_switched(out: list[Outgoing], program_hash: str) -> None:
    assert [o.topic for o in out] == [PREFIX + "ack", PREFIX + "status"]
    ack, status = out
    assert ack.json()["hash"] == program_hash and ack.json()["ok"] is True
    assert ack.retain is False and ack.correlation is None
    assert status.retain is True
    assert status.json()["state"] == "online" and status.json()["program"] == program_hash


def error_ack(out: list[Outgoing]) -> dict[str, Any]:
    acks = by_topic(out, "ack")
    assert len(acks) == 1, out
    body = acks[0].json()
    assert body["ok"] is False
    return body


def colour_at(board: BoardLogic, x: int = 0, y: int = 0) -> tuple[int, int, int]:
    snap = board.snapshot()
    assert snap.mode == "RGB" and snap.size == (board.width, board.height)
    return snap.getpixel((x, y))


def is_dark(board: BoardLogic) -> bool:
    return board.snapshot().getextrema() == ((0, 0), (0, 0), (0, 0))


# -- connection ------------------------------------------------------------------------------------


def test_hello_publishes_info_and_init_then_online_once_subscribed() -> None:
    board, _ = new_board("red-green")
    info, status = board.hello()
    assert info.topic == PREFIX + "info" and info.retain
    assert info.json() == {"width": W, "height": H, "colour": "red-green", "firmware": "ledctl-sim 1",
                           "protocol": 1, "max_message": 16384, "max_page_pixels": 8 * W * H}
    assert status.topic == PREFIX + "status" and status.retain
    assert status.json()["state"] == "init" and status.json()["program"] == ""
    assert datetime.fromisoformat(status.json()["at"]) == T0
    status, telemetry = board.subscribed()  # §1: on the SUBACK
    assert status.json()["state"] == "online" and status.retain
    assert telemetry.topic == PREFIX + "telemetry" and not telemetry.retain


def test_will_is_offline_status_with_the_hash_on_air() -> None:
    board, _ = new_board()
    assert board.will().json() == {"state": "offline", "program": ""}
    assert_switched(load(board, [png()]), "h-a")
    will = board.will()
    assert will.topic == PREFIX + "status" and will.retain
    assert will.json() == {"state": "offline", "program": "h-a"}
    assert board.goodbye()[0].json()["state"] == "offline"


def test_messages_for_other_boards_are_ignored() -> None:
    board, _ = new_board()
    assert board.on_message("ledctl/v1/zh/other/program", manifest([])) == []
    assert board.program_hash == ""


# -- switching ---------------------------------------------------------------------------------------


def test_switches_when_every_page_arrived_before_the_manifest() -> None:
    board, _ = new_board()
    out = load(board, [png(colour=RED), png(colour=GREEN)])
    assert_switched(out, "h-a")
    assert board.program_hash == "h-a" and board.pending is None
    assert colour_at(board) == RED


@pytest.mark.parametrize("order", [(0, 1, 2), (2, 1, 0), (1, 2, 0)])
def test_pages_after_the_manifest_in_any_order(order: tuple[int, ...]) -> None:
    board, _ = new_board()
    pages = [png(colour=c) for c in (RED, GREEN, BLUE)]
    assert send(board, "program", manifest([spec(p) for p in pages])) == []
    assert board.program_hash == "" and board.pending is not None
    assert board.pending["missing"] == [0, 1, 2]
    for n, index in enumerate(order):
        out = send(board, f"page/{index}", pages[index])
        if n < len(order) - 1:
            assert out == [] and board.program_hash == ""
    assert_switched(out, "h-a")
    assert board.pending is None


def test_old_program_stays_on_air_while_the_next_pages_arrive() -> None:
    board, _ = new_board()
    assert_switched(load(board, [png(colour=RED)]), "h-a")
    new_page = png(colour=BLUE)
    assert send(board, "page/0", new_page) == []  # overwrites the retained page 0 of program A
    assert board.program_hash == "h-a" and colour_at(board) == RED
    assert_switched(send(board, "program", manifest([spec(new_page)], hash="h-b")), "h-b")
    assert colour_at(board) == BLUE


def test_deleted_page_is_waited_for() -> None:
    board, _ = new_board()
    pages = [png(colour=RED), png(colour=GREEN)]
    for i, data in enumerate(pages):
        send(board, f"page/{i}", data)
    assert send(board, "page/1", b"") == []  # an empty retained message deletes the page
    assert 1 not in board.pages
    assert send(board, "program", manifest([spec(p) for p in pages])) == []
    assert board.pending is not None and board.pending["missing"] == [1]
    assert_switched(send(board, "page/1", pages[1]), "h-a")


def test_sha256_mismatch_error_ack_keeps_the_old_program_then_switches_on_the_right_page() -> None:
    board, _ = new_board()
    assert_switched(load(board, [png(colour=RED)]), "h-a")
    right, wrong = png(colour=GREEN), png(colour=BLUE)
    send(board, "page/0", wrong)
    out = send(board, "program", manifest([spec(right)], hash="h-b"))
    body = error_ack(out)
    assert body["hash"] == "h-b" and body["error"] == "page 0: sha256 mismatch"
    assert by_topic(out, "status") == []
    assert board.program_hash == "h-a" and colour_at(board) == RED
    assert board.pending is not None and board.pending["mismatched"] == [0]
    assert send(board, "page/3", png()) == []  # the same error is not acked again
    assert_switched(send(board, "page/0", right), "h-b")
    assert colour_at(board) == GREEN


def test_wrong_page_size_is_an_error_and_the_old_program_stays() -> None:
    board, _ = new_board()
    assert_switched(load(board, [png(colour=RED)]), "h-a")
    small = png(W - 1, H, GREEN)
    out = load(board, [small], [spec(small, width=W, height=H)], hash="h-b")
    body = error_ack(out)
    assert body["hash"] == "h-b"
    assert body["error"] == f"page 0: size {W - 1}x{H}, manifest says {W}x{H}"
    assert board.program_hash == "h-a" and board.pending is None and colour_at(board) == RED
    assert any("h-b" in e and "size" in e for e in board.errors)


@pytest.mark.parametrize(("data", "reason"), [
    (b"GIF89a not a png at all", "not a PNG"),
    (png()[:40], "does not decode"),
    (png(mode="RGBA"), "mode RGBA"),
    (png(mode="P"), "mode P"),
])
def test_page_that_is_not_an_rgb_png_is_an_error(data: bytes, reason: str) -> None:
    board, _ = new_board()
    assert_switched(load(board, [png(colour=RED)]), "h-a")
    body = error_ack(load(board, [data], [spec(data)], hash="h-b"))
    assert body["hash"] == "h-b" and body["error"].startswith("page 0: ") and reason in body["error"]
    assert board.program_hash == "h-a"


def test_unknown_protocol_is_ignored_with_an_error_ack() -> None:
    board, _ = new_board()
    assert_switched(load(board, [png(colour=RED)]), "h-a")
    page = png(colour=GREEN)
    send(board, "page/0", page)
    out = send(board, "program", manifest([spec(page)], hash="h-b", protocol=2))
    body = error_ack(out)
    assert body["hash"] == "h-b" and "protocol" in body["error"]
    assert by_topic(out, "status") == []
    assert board.program_hash == "h-a" and board.pending is None


@pytest.mark.parametrize(("payload", "needle"), [
    (b"{not json", "JSON"),
    (b"[1, 2]", "object"),
    (manifest([], size=[W * 2, H]), "size"),
    (manifest([{"effect": "wipe", "dwell": 1, "speed": 0, "width": W, "height": H, "sha256": "0" * 64}]),
     "unknown effect"),
])
def test_bad_manifests_are_error_acks(payload: bytes, needle: str) -> None:
    board, _ = new_board()
    body = error_ack(send(board, "program", payload))
    assert needle in body["error"]
    assert board.program_hash == "" and board.pending is None


def test_empty_program_goes_dark_with_a_status_and_no_ack() -> None:
    board, _ = new_board()
    assert_switched(load(board, [png(colour=RED)]), "h-a")
    out = send(board, "program", b"")
    assert len(out) == 1 and out[0].topic == PREFIX + "status" and out[0].retain
    assert out[0].json()["program"] == "" and out[0].json()["state"] == "online"
    assert board.program_hash == "" and is_dark(board)


def test_republished_program_is_acked_again_without_restarting_the_loop() -> None:
    board, clock = new_board()
    red, green = png(colour=RED), png(colour=GREEN)
    assert_switched(load(board, [red, green], [spec(red, dwell=5), spec(green, dwell=5)]), "h-a")
    clock.advance(6)
    assert colour_at(board) == GREEN
    assert_switched(send(board, "program", manifest([spec(red, dwell=5), spec(green, dwell=5)])), "h-a")
    assert colour_at(board) == GREEN


# -- acks: MQTT 5 response topic, 3.1.1 fallback --------------------------------------------------------


def test_ack_goes_to_the_response_topic_with_the_correlation_data() -> None:
    board, _ = new_board()
    page = png()
    send(board, "page/0", page)
    out = send(board, "program", manifest([spec(page)]), response_topic="ledctl/ctl/replies/7",
               correlation=b"\x00corr-1")
    ack, status = out
    assert ack.topic == "ledctl/ctl/replies/7" and ack.correlation == b"\x00corr-1" and not ack.retain
    assert ack.json()["hash"] == "h-a" and ack.json()["ok"] is True
    assert status.topic == PREFIX + "status" and status.correlation is None and status.retain


def test_ack_falls_back_to_the_board_ack_topic() -> None:
    board, _ = new_board()
    out = load(board, [png()])
    assert out[0].topic == PREFIX + "ack" and out[0].correlation is None
    datetime.fromisoformat(out[0].json()["at"])


def test_error_ack_for_pages_arriving_later_uses_the_manifest_response_topic() -> None:
    board, _ = new_board()
    bad = b"garbage"
    send(board, "program", manifest([spec(bad)]), response_topic="r/1", correlation=b"c")
    out = send(board, "page/0", bad)
    assert len(out) == 1 and out[0].topic == "r/1" and out[0].correlation == b"c"
    assert out[0].json()["ok"] is False


def test_status_is_retained_with_the_hash_and_time() -> None:
    board, clock = new_board()
    clock.advance(1)
    status = by_topic(load(board, [png()]), "status")[0]
    assert status.retain and status.correlation is None
    body = status.json()
    assert body["program"] == "h-a" and body["state"] == "online"
    assert datetime.fromisoformat(body["at"]) == T0 + timedelta(seconds=1)


# -- time: expiry and valid_from ---------------------------------------------------------------------


def test_expiry_drops_the_program_by_the_clock() -> None:
    board, clock = new_board()
    assert_switched(load(board, [png(colour=RED)], expires=T0 + timedelta(seconds=60)), "h-a")
    clock.advance(59)
    assert board.tick() == [] and colour_at(board) == RED
    clock.advance(1)
    assert is_dark(board)  # the display goes dark even before the next tick
    out = board.tick()
    assert len(out) == 1 and out[0].topic == PREFIX + "status" and out[0].retain
    assert out[0].json()["program"] == ""
    assert board.program_hash == "" and is_dark(board)
    assert board.tick() == []


def test_already_expired_manifest_is_refused() -> None:
    board, _ = new_board()
    body = error_ack(load(board, [png()], expires=T0 - timedelta(seconds=1)))
    assert "expired" in body["error"] and board.program_hash == ""


def test_future_valid_from_is_held_until_then() -> None:
    board, clock = new_board()
    assert_switched(load(board, [png(colour=RED)]), "h-a")
    green = png(colour=GREEN)
    out = load(board, [green], valid_from=T0 + timedelta(minutes=5), hash="h-b",
               response_topic="r/9", correlation=b"k")
    assert out == []
    assert board.program_hash == "h-a" and board.held == "h-b" and colour_at(board) == RED
    clock.advance(299)
    assert board.tick() == [] and colour_at(board) == RED
    clock.advance(1)
    ack, status = board.tick()
    assert ack.topic == "r/9" and ack.correlation == b"k" and ack.json()["hash"] == "h-b"
    assert status.json()["program"] == "h-b"
    assert board.program_hash == "h-b" and board.held == "" and colour_at(board) == GREEN


def test_past_valid_from_switches_at_once() -> None:
    board, _ = new_board()
    assert_switched(load(board, [png()], valid_from=T0 - timedelta(hours=1)), "h-a")


# -- commands ---------------------------------------------------------------------------------------


def cmd(board: BoardLogic, body: Any, **kw: Any) -> list[Outgoing]:
    return send(board, "cmd", json.dumps(body).encode(), **kw)


def settings(board: BoardLogic, body: Any, **kw: Any) -> list[Outgoing]:
    return send(board, "settings", json.dumps(body).encode(), **kw)


def test_brightness_setting() -> None:
    board, _ = new_board()
    assert board.brightness == 100
    out = settings(board, {"id": "s-17", "brightness": 70})
    assert len(out) == 1 and out[0].topic == PREFIX + "ack" and not out[0].retain
    assert out[0].json() == {"cmd": "s-17", "ok": True}
    assert board.brightness == 70


@pytest.mark.parametrize("value", [101, -1, "70", True, None])
def test_invalid_brightness_is_refused(value: Any) -> None:
    board, _ = new_board()
    out = settings(board, {"id": "s-1", "brightness": value})
    body = out[0].json()
    assert body["cmd"] == "s-1" and body["ok"] is False and "brightness" in body["error"]
    assert board.brightness == 100


def test_power_setting_darkens_and_restores_the_screen() -> None:
    board, _ = new_board()
    load(board, [png(colour=RED)])
    assert settings(board, {"id": "s-18", "power": False})[0].json() == {"cmd": "s-18", "ok": True}
    assert board.power is False and is_dark(board)
    assert board.program_hash == "h-a"  # still its program, just not lit
    settings(board, {"id": "s-19", "power": True})
    assert board.power is True and colour_at(board) == RED
    bad = settings(board, {"id": "s-20", "power": "off"})[0].json()
    assert bad["ok"] is False and board.power is True


def test_power_and_brightness_are_not_commands() -> None:
    # §6, §7: a command is not retained, so a screen switched off by one would light again after a
    # reboot; they are settings.
    board, _ = new_board()
    body = cmd(board, {"id": "c-1", "power": False})[0].json()
    assert body["ok"] is False and "settings" in body["error"] and board.power is True


def test_settings_survive_a_reboot_because_they_are_retained_and_subscribed_first() -> None:
    board, _ = new_board()
    assert board.subscriptions[0] == PREFIX + "settings"
    settings(board, {"id": "s-1", "power": False, "brightness": 30})
    rebooted, _ = new_board()  # RAM is gone; the broker hands the retained settings back first
    assert (rebooted.power, rebooted.brightness) == (True, 100)
    settings(rebooted, {"id": "s-1", "power": False, "brightness": 30})
    load(rebooted, [png(colour=RED)])
    assert (rebooted.power, rebooted.brightness) == (False, 30) and is_dark(rebooted)


def test_reannounce_publishes_info_status_and_telemetry_again() -> None:
    board, _ = new_board()
    load(board, [png()])
    out = cmd(board, {"id": "c-19", "reannounce": True})
    assert out[0].json() == {"cmd": "c-19", "ok": True}
    assert [o.topic for o in out[1:]] == [PREFIX + "info", PREFIX + "status", PREFIX + "telemetry"]
    assert out[1].retain and out[2].retain and out[2].json()["program"] == "h-a"


def test_command_ack_uses_the_response_topic() -> None:
    board, _ = new_board()
    out = cmd(board, {"id": "c-5", "reannounce": True}, response_topic="r/c", correlation=b"xyz")
    assert out[0].topic == "r/c" and out[0].correlation == b"xyz"


@pytest.mark.parametrize("payload", [b"not json", b'{"brightness": 10}', b'{"id": "c-6"}'])
def test_malformed_commands_are_refused(payload: bytes) -> None:
    board, _ = new_board()
    out = send(board, "cmd", payload)
    assert len(out) == 1 and out[0].json()["ok"] is False and out[0].json()["error"]
    assert board.brightness == 100 and board.errors


# -- the display --------------------------------------------------------------------------------------


def test_dark_without_a_program() -> None:
    board, _ = new_board()
    assert is_dark(board)


def test_pages_loop_by_their_dwell() -> None:
    board, clock = new_board()
    red, green = png(colour=RED), png(colour=GREEN)
    load(board, [red, green], [spec(red, dwell=5), spec(green, dwell=3)])
    assert colour_at(board) == RED
    clock.advance(4.9)
    assert colour_at(board) == RED
    clock.advance(0.2)  # 5.1 s
    assert colour_at(board) == GREEN
    clock.advance(2.8)  # 7.9 s
    assert colour_at(board) == GREEN
    clock.advance(0.2)  # 8.1 s: the loop starts again
    assert colour_at(board) == RED


def test_brightness_is_not_applied_to_pixels() -> None:
    board, _ = new_board()
    load(board, [png(colour=YELLOW)])
    cmd(board, {"id": "c", "brightness": 10})
    assert colour_at(board) == YELLOW


def test_blink_is_dark_half_of_each_second() -> None:
    board, clock = new_board()
    load(board, [png(colour=RED)], [spec(png(colour=RED), effect="blink", dwell=4)])
    seen = {}
    for t in (0, 0.25, 0.49, 0.5, 0.75, 0.99, 1.0, 1.25, 1.5, 3.75):
        clock.now = T0 + timedelta(seconds=t)
        seen[t] = colour_at(board, 3, 2)
    assert seen == {0: RED, 0.25: RED, 0.49: RED, 0.5: BLACK, 0.75: BLACK, 0.99: BLACK,
                    1.0: RED, 1.25: RED, 1.5: BLACK, 3.75: BLACK}


def gradient(x: int, y: int) -> tuple[int, int, int]:
    return (10 * x + 5, 20 * y + 5, 200)


def test_scroll_left_enters_from_the_right_at_its_speed() -> None:
    board, clock = new_board()
    image = png(2 * W, H, pixel=gradient)
    after = png(colour=GREEN)
    load(board, [image, after], [spec(image, effect="scroll-left", speed=2, width=2 * W),
                                 spec(after, dwell=5)])
    assert is_dark(board)  # t = 0: the image starts just beyond the right edge
    clock.advance(3)  # 6 px in: image column 0 at board column W - 6
    snap = board.snapshot()
    for x in range(W):
        expected = BLACK if x < W - 6 else gradient(x - (W - 6), 1)
        assert snap.getpixel((x, 1)) == expected, x
    clock.advance(5)  # t = 8 s, 16 px: image columns 8..15 fill the board
    assert [board.snapshot().getpixel((x, 0)) for x in range(W)] == [gradient(8 + x, 0) for x in range(W)]
    clock.advance(3.9)  # t = 11.9 s, 23 px: only the last image column at board column 0
    snap = board.snapshot()
    assert snap.getpixel((0, 0)) == gradient(2 * W - 1, 0) and snap.getpixel((1, 0)) == BLACK
    clock.advance(0.2)  # t = 12.1 s: travel (16 + 8 px) / 2 px/s = 12 s is over, the next page
    assert colour_at(board) == GREEN


def test_scroll_up_enters_from_the_bottom() -> None:
    board, clock = new_board()
    image = png(W, 2 * H, pixel=gradient)
    load(board, [image], [spec(image, effect="scroll-up", speed=4, height=2 * H)])
    clock.advance(0.5)  # 2 px: image rows 0..1 on board rows H-2..H-1
    snap = board.snapshot()
    assert [snap.getpixel((2, y)) for y in range(H)] == [BLACK, BLACK, gradient(2, 0), gradient(2, 1)]


def test_mono_red_board_shows_what_it_got() -> None:
    board, _ = new_board("mono-red")
    checker = png(pixel=lambda x, y: RED if (x + y) % 2 else BLACK)
    assert_switched(load(board, [checker], colour="mono-red"), "h-a")
    assert board.snapshot().tobytes() == Image.open(io.BytesIO(checker)).convert("RGB").tobytes()
    assert board.errors == []


def test_mono_red_board_does_not_remap_other_colours_but_notes_them() -> None:
    board, _ = new_board("mono-red")
    assert_switched(load(board, [png(colour=GREEN)], colour="full"), "h-a")
    assert colour_at(board) == GREEN
    assert any("colour" in e for e in board.errors)


class _NoLink:
    inbox = None


def test_an_offline_will_never_counts_as_showing_its_program() -> None:
    boards = MqttBoards(_NoLink(), "site")  # type: ignore[arg-type]
    boards._take("ledctl/v1/site/b1/status", json.dumps({"state": "offline", "program": "H"}).encode())
    assert boards.states["b1"].shows == "" and boards.states["b1"].online is False
    boards._take("ledctl/v1/site/b1/status", json.dumps({"state": "online", "program": "H"}).encode())
    assert boards.states["b1"].shows == "H"
