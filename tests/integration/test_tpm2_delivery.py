"""TPM2 boards through the real dispatcher and driver, over pty and TCP wires paced at their baud rate,
to the emulators: WLED's serial input (its 2.5 s realtime timeout, its count bug, its ping) and a
strict generic receiver (issue 16, items 10–12)."""

from __future__ import annotations

import re
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from PIL import Image

from ledctl.clock import FixedClock
from ledctl.dispatch import Dispatcher, Intent
from ledctl.drivers.base import Outcome
from ledctl.model import ColourMode, Page, Program, Size
from ledctl.schedule import Settings
from ledctl.simulator.tpm2_receiver import Tpm2Receiver, WledSerial
from ledctl.simulator.wire import SimulatedWire
from ledctl.store import Store

BOARD = "zbs-12"
T0 = datetime(2026, 11, 25, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
WAIT_S = 60.0  # how long a condition may take before the test gives up (never a timing assertion)


class RecordingWled(WledSerial):
    """WLED's serial input, remembering every picture it showed (in order)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        self.shown: list[bytes] = []

    def _show(self) -> bytes:
        out = super()._show()
        self.shown.append(self.snapshot().tobytes())
        return out


def eventually(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT_S
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"never happened: {what}")
        time.sleep(0.05)


def solid(size: tuple[int, int], colour: tuple[int, int, int]) -> Image.Image:
    return Image.new("RGB", size, colour)


@pytest.fixture
def tpm2(zhenhai, tmp_path: Path):
    """`make(device, **board)`: a dispatcher driving one TPM2 board on a pty wire to `device`."""
    made: list[tuple[Dispatcher, SimulatedWire]] = []

    def make(device, *, baud: int = 115200, pty: bool = True, **fields: object) -> Dispatcher:
        fields = {"driver": "tpm2", "address": None, "colour": ColourMode.FULL, "model": "wled", **fields}
        board = replace(zhenhai.board(BOARD), **fields)
        wire = SimulatedWire(BOARD, [device], baud=baud)
        url = wire.listen_pty() if pty else wire.listen_tcp()
        links = {"dtu-12": replace(zhenhai.links["dtu-12"], url=url, baud=baud)}
        dep = replace(zhenhai, boards=(board,), links=links)
        dispatcher = Dispatcher(dep, Store(tmp_path / f"s{len(made)}.sqlite"), FixedClock(T0))
        made.append((dispatcher, wire))
        return dispatcher

    yield make
    for dispatcher, wire in made:
        dispatcher.close()
        wire.stop()


def program(*pages: Page) -> Intent:
    return Intent.of(Program(BOARD, pages), "test")


def test_wled_keeps_the_picture_because_ledctl_keeps_sending_it(tpm2) -> None:
    # WLED leaves realtime mode 2.5 s after the last frame (wled.h realtimeTimeoutMs); sent once, the
    # picture would be gone — here WLED is "on" with its own orange, which would come back.
    wled = RecordingWled(16, 8, own=(255, 160, 0))
    dispatcher = tpm2(wled, size=Size(16, 8))
    page = solid((16, 8), (0, 0, 255))
    dispatcher.set_intended({BOARD: program(Page("p", page, dwell_s=10.0))})
    dispatcher.settle(max_passes=1)
    result = dispatcher.view()[BOARD].last_result
    assert result is not None and result.outcome is Outcome.CONFIRMED, result
    assert "ping answered" in result.detail and "again every 1 s" in result.detail
    # The first frame after a pause is shown black (realtimeLock clears the strip): it went twice.
    assert wled.shown[:2] == [bytes(16 * 8 * 3), page.tobytes()]
    # Frames keep coming, a second apart: after six of them the first is long past WLED's 2.5 s.
    eventually(lambda: len(wled.shown) >= 6, "six frames shown")
    assert wled.in_realtime and wled.snapshot().tobytes() == page.tobytes()
    assert set(wled.shown[1:]) == {page.tobytes()}


def test_the_loop_the_dispatcher_plays_stays_up_between_pages(tpm2) -> None:
    # The dispatcher puts page after page up at its dwell (issue 16.1); between two pages the keeper
    # sends the page on show again, so WLED never falls back to its own light.
    wled = RecordingWled(16, 8, own=(255, 160, 0))
    dispatcher = tpm2(wled, size=Size(16, 8))
    red, green = solid((16, 8), (255, 0, 0)), solid((16, 8), (0, 255, 0))
    dispatcher.set_intended({BOARD: program(Page("a", red, dwell_s=8.0), Page("b", green, dwell_s=8.0))})
    dispatcher.settle(max_passes=1)
    view = dispatcher.view()[BOARD]
    assert view.page == 0 and view.pages == (1, 2) and view.confirmed is None  # one page up of two
    shown = len(wled.shown)
    eventually(lambda: len(wled.shown) >= shown + 3, "page 1 sent again, three times")
    assert wled.in_realtime and wled.snapshot().tobytes() == red.tobytes()
    dispatcher.clock.advance(seconds=8)  # page 1's dwell is over: page 2
    dispatcher.settle(max_passes=1)
    view = dispatcher.view()[BOARD]
    assert view.confirmed == view.intended and view.pages == (2, 2), view.last_result
    assert "page 2 of 2 sent, then the ping answered" in view.last_result.detail  # type: ignore[union-attr]
    eventually(lambda: wled.snapshot().tobytes() == green.tobytes(), "page 2 on the panel")


def test_a_receiver_that_cannot_acknowledge_is_sent_never_confirmed(tpm2) -> None:
    receiver = Tpm2Receiver(16, 8)  # answers no ping, like most receivers other than WLED
    dispatcher = tpm2(receiver, size=Size(16, 8), model="generic")
    page = solid((16, 8), (255, 255, 0))
    intent = program(Page("p", page, dwell_s=5.0))
    dispatcher.set_intended({BOARD: intent})
    dispatcher.settle(max_passes=1)
    view = dispatcher.view()[BOARD]
    assert view.last_result is not None and view.last_result.outcome is Outcome.SENT, view.last_result
    assert "cannot acknowledge" in view.last_result.detail
    row = dispatcher.store.boards()[BOARD]
    assert (row.confirmed, row.sent) == (None, intent.hash) and dispatcher.store.displays(BOARD) == []
    eventually(lambda: receiver.snapshot().tobytes() == page.tobytes(), "the page on the panel")
    assert receiver.stats.pings == 0
    # A health check asks nothing of it (it would not answer): online stays unknown, not "offline".
    dispatcher.check_health()
    dispatcher.settle(max_passes=1)
    assert dispatcher.view()[BOARD].online is None


def test_a_snake_wired_panel_shows_the_picture_the_right_way_round(tpm2) -> None:
    receiver = Tpm2Receiver(16, 8, order="bottom-right columns serpentine", answers_ping=True)
    dispatcher = tpm2(receiver, size=Size(16, 8), model="generic", acknowledges=True,
                      pixel_order="bottom-right columns serpentine", pty=False)
    image = Image.new("RGB", (16, 8))
    for x in range(16):
        for y in range(8):
            image.putpixel((x, y), (x * 16, y * 32, 255 - x * 8))
    dispatcher.set_intended({BOARD: program(Page("p", image))})
    dispatcher.settle(max_passes=1)
    assert dispatcher.view()[BOARD].last_result.confirmed  # type: ignore[union-attr]
    assert receiver.snapshot().tobytes() == image.tobytes()  # the ping went after the frame


def test_a_size_wled_miscounts_is_padded_so_no_pixel_is_read_as_a_command(tpm2) -> None:
    # 20x20 = 1200 bytes = 04 B0: unpadded, WLED would read the last pixel as commands, and 0xB7 switches
    # it to 1,500,000 baud — deaf to everything after.
    wled = RecordingWled(20, 20)
    dispatcher = tpm2(wled, size=Size(20, 20))
    image = solid((20, 20), (255, 0, 0))
    image.putpixel((19, 19), (0xB7, ord("v"), ord("L")))
    dispatcher.set_intended({BOARD: program(Page("p", image))})
    dispatcher.settle(max_passes=1)
    assert dispatcher.view()[BOARD].last_result.confirmed  # type: ignore[union-attr]
    assert wled.snapshot().tobytes() == image.tobytes()
    assert (wled.baud, wled.stats.commands, wled.stats.garbled) == (115200, [], 0)


class Streaming:
    """A receiver that talks all the time (a WLED left streaming its LEDs, a debug console): its bytes
    include 0xAC, which is not an answer to a ping."""

    def receive(self, chunk: bytes) -> bytes:
        return b"\x01\xac\x02"

    def snapshot(self) -> Image.Image:
        return Image.new("RGB", (16, 8))


def test_a_stray_ac_in_other_bytes_is_not_a_ping_answer(tpm2) -> None:
    dispatcher = tpm2(Streaming(), size=Size(16, 8))
    dispatcher.check_health()
    dispatcher.settle(max_passes=1)
    assert dispatcher.view()[BOARD].online is False
    assert "lone AC" in dispatcher.store.boards()[BOARD].last_error


def test_screen_off_on_wled_is_dark_frames_kept_up_not_its_own_light(tpm2) -> None:
    wled = RecordingWled(16, 8, own=(255, 160, 0))
    dispatcher = tpm2(wled, size=Size(16, 8))
    dispatcher.set_intended({BOARD: program(Page("p", solid((16, 8), (0, 0, 255)), dwell_s=10.0))})
    dispatcher.set_settings({BOARD: Settings(power=False, brightness=None)})
    dispatcher.settle(max_passes=1)
    assert dispatcher.view()[BOARD].settings_confirmed == Settings(power=False, brightness=None).key()
    shown = len(wled.shown)
    eventually(lambda: len(wled.shown) >= shown + 4, "four more frames")
    assert wled.in_realtime and wled.snapshot().getbbox() is None  # dark, not WLED's orange
    dispatcher.set_settings({BOARD: Settings(power=True, brightness=40)})
    dispatcher.settle(max_passes=1)
    eventually(lambda: wled.snapshot().getpixel((0, 0)) == (0, 0, 102), "the page at 40 %")


def test_closing_the_dispatcher_stops_the_keeper(tpm2) -> None:
    wled = RecordingWled(16, 8)
    dispatcher = tpm2(wled, size=Size(16, 8))
    dispatcher.set_intended({BOARD: program(Page("p", solid((16, 8), (0, 0, 255)), dwell_s=10.0))})
    dispatcher.settle(max_passes=1)
    assert any(t.name == "tpm2-dtu-12" for t in threading.enumerate())
    dispatcher.close()
    assert not any(t.name == "tpm2-dtu-12" for t in threading.enumerate())


@pytest.mark.slow
def test_broadcast_and_boards_say_sent_for_a_receiver_that_cannot_acknowledge(site: Path, tmp_path) -> None:
    from ledctl import config
    from ledctl.simulator.fleet import Fleet

    text = site.read_text(encoding="utf-8")
    text = text.replace('driver = "onbon-bx"\nmodel = "BX-5K2"\nlink = "dtu-12"\naddress = 1',
                        'driver = "tpm2"\nlink = "dtu-12"')
    text = re.sub(r'(\[links\.dtu-12\]\nurl = "[^"]+"\n)baud = 9600', r"\1baud = 115200", text)
    site.write_text(text, encoding="utf-8")
    dep = config.load(site)
    assert (dep.board(BOARD).driver, dep.board(BOARD).model, dep.links["dtu-12"].baud) == ("tpm2", "generic",
                                                                                           115200)
    fleet = Fleet(dep, clock=lambda: T0)
    fleet.build({BOARD})
    fleet.start()
    try:
        def ledctl(*args: str) -> subprocess.CompletedProcess[str]:
            argv = [sys.executable, "-m", "ledctl", "--state", str(tmp_path / "st"), *args, "-c", str(site)]
            return subprocess.run(argv, capture_output=True, text=True, timeout=300, cwd=tmp_path)

        run = ledctl("broadcast", "--board", BOARD, "--date", "2026-11-25")
        assert run.returncode == 0, run.stdout + run.stderr
        assert f"{BOARD}: sent: page 1 of 2 sent; the receiver cannot acknowledge" in run.stdout
        assert re.search(rf"^{BOARD}\s+sent: page 2 of 2 sent", run.stdout, re.MULTILINE), run.stdout
        assert "0/1 confirmed" in run.stdout and "1 sent, unconfirmed" in run.stdout
        shown = ledctl("boards")
        assert re.search(rf"^{BOARD}\s+\?\s+sent\s", shown.stdout, re.MULTILINE), shown.stdout
    finally:
        fleet.stop()
