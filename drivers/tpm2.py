"""TPM2 over serial: raw RGB frames for WLED, Glediator-style receivers and DIY boards.

A data frame is `C9 DA <size, big-endian> <R G B …> 36`; a ping is `C9 AA 00 00 36`. There is
no address, no checksum and no acknowledgement of a frame, and a receiver holds one still
frame: the host plays the loop (the dispatcher sends one page at a time, `Content.page`, each for
its dwell). This driver keeps a `Keeper` per board on the link's wire, which puts the page on it
and — for WLED, which leaves "realtime" mode 2.5 s after the last frame — sends it again every
second in between, for as long as ledctl runs.

What a delivery can say depends on the receiver (`acknowledges`, from the board's config or its
`model`): only WLED answers the ping (`C9 AA` → the single byte `AC`, wled_serial.cpp), so a
page to it is "confirmed" when it went out and the ping was answered after it — all TPM2 can
tell. Any other receiver is "sent", never "confirmed".

The models (`model = "…"` in the board's config):

* `generic` (the default): a receiver that takes exactly width × height × 3 bytes, keeps the last
  frame, and answers no ping (unless the board says `acknowledges = true`).
* `wled`: WLED's serial input (wled00/wled_serial.cpp `handleSerial`). It answers the ping; it
  drops a frame 2.5 s after the last one (wled.h `realtimeTimeoutMs`), so the keeper refreshes it
  every second; it shows the first frame after such a pause black (udp.cpp `realtimeLock` clears
  the strip on entering realtime mode), so that frame is sent twice; and it miscounts the pixels
  of a frame whose size's high byte is not a multiple of 3 (it divides each byte of the size by 3
  apart), reading the last pixel and the end byte as commands — 0xB0–0xB7 change its baud rate —
  so such a payload is padded with black pixels past the end of the panel, which WLED ignores
  (FX.h `setPixelColor`: `if (n < getLengthTotal())`), to a size it counts right.
"""

from __future__ import annotations

import math
import re
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

from PIL import Image

from ledctl.drivers.base import (
    Capabilities,
    Content,
    Driver,
    DriverSpec,
    Health,
    Outcome,
    ProtocolError,
    Report,
    Result,
)
from ledctl.drivers.link import LinkError, SerialLink
from ledctl.model import Board, ColourMode, Link, Page, Size

if TYPE_CHECKING:
    from ledctl.schedule import Settings

START = 0xC9
DATA = 0xDA
COMMAND = 0xAA
END = 0x36
PING_REPLY = 0xAC
MAX_PAYLOAD = 0xFFFF  # 21,845 RGB pixels

MODELS = ("generic", "wled")
WLED_TIMEOUT_S = 2.5  # wled.h: realtimeTimeoutMs _INIT(2500), then udp.cpp exitRealtime()
REFRESH_S = 1.0  # a WLED frame is sent again 1 s after the last one ended …
MAX_FRAME_S = WLED_TIMEOUT_S - REFRESH_S - 0.25  # … so a frame must cross the wire within 1.25 s
PING_MARGIN_S = 0.25  # how long a receiver may take to answer a ping, beyond the wire time
PING_QUIET_S = 0.05  # after the AC, how long nothing else may arrive (a lone AC is the answer)
LINK_RETRY_S = 1.0  # after a wire error, the keeper tries again this much later

CORNERS = ("top-left", "top-right", "bottom-left", "bottom-right")
ALIASES = {"row-major": "top-left rows", "column-major": "top-left columns",
           "serpentine": "top-left rows serpentine"}
PIXEL_ORDER_HELP = ('a start corner (top-left, top-right, bottom-left, bottom-right), "rows" or "columns", '
                    'and "serpentine" for snake wiring, e.g. "bottom-left columns serpentine"')


class Tpm2Error(ProtocolError):
    pass


# -- pixel order ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PixelOrder:
    """Where the receiver's first LED is and how the chain runs: along rows or columns, each line
    the same way (progressive) or every other one back (serpentine, snake-wired). The same four
    choices as WLED's 2D panel set-up (FX_2Dfcn.cpp `setUpMatrix`: bottomStart, rightStart,
    vertical, serpentine) and Adafruit's NeoMatrix."""

    bottom: bool = False
    right: bool = False
    columns: bool = False
    serpentine: bool = False

    @classmethod
    def parse(cls, text: str) -> PixelOrder:
        words = re.split(r"[\s,]+", ALIASES.get(text.strip().lower(), text.strip().lower()))
        corner, direction, snake = "top-left", "rows", False
        for word in filter(None, words):
            if word in CORNERS:
                corner = word
            elif word in ("rows", "columns"):
                direction = word
            elif word in ("serpentine", "progressive"):
                snake = word == "serpentine"
            else:
                raise Tpm2Error(f"pixel order {text!r}: expected {PIXEL_ORDER_HELP}")
        return cls(corner.startswith("bottom"), corner.endswith("right"), direction == "columns", snake)

    def __str__(self) -> str:
        corner = f"{'bottom' if self.bottom else 'top'}-{'right' if self.right else 'left'}"
        lines = "columns" if self.columns else "rows"
        return f"{corner} {lines}" + (" serpentine" if self.serpentine else "")

    def positions(self, width: int, height: int) -> list[tuple[int, int]]:
        """(x, y) of each LED of the chain, first to last."""
        lines, along = (width, height) if self.columns else (height, width)
        flip_line = self.right if self.columns else self.bottom  # which end the first line is at
        flip_along = self.bottom if self.columns else self.right  # which way the first line runs
        out = []
        for line in range(lines):
            at = lines - 1 - line if flip_line else line
            backwards = flip_along != (self.serpentine and line % 2 == 1)
            for step in range(along):
                pos = along - 1 - step if backwards else step
                out.append((at, pos) if self.columns else (pos, at))
        return out


@lru_cache(maxsize=32)
def _led_indexes(width: int, height: int, order: PixelOrder) -> tuple[int, ...]:
    return tuple(y * width + x for x, y in order.positions(width, height))


def pixels(image: Image.Image, order: str | PixelOrder = "top-left rows") -> bytes:
    """The image's pixels as R G B bytes in the order of the receiver's LEDs."""
    order = PixelOrder.parse(order) if isinstance(order, str) else order
    rgb = image.convert("RGB")
    raw = rgb.tobytes()
    if order == PixelOrder():
        return raw
    return b"".join(raw[3 * i:3 * i + 3] for i in _led_indexes(rgb.width, rgb.height, order))


# -- frames --------------------------------------------------------------------------------------


def data_frame(payload: bytes) -> bytes:
    if len(payload) > MAX_PAYLOAD:
        raise Tpm2Error(f"a TPM2 frame carries at most {MAX_PAYLOAD} bytes; this one has {len(payload)}")
    return bytes((START, DATA, len(payload) >> 8, len(payload) & 0xFF)) + payload + bytes((END,))


def ping_frame() -> bytes:
    return bytes((START, COMMAND, 0x00, 0x00, END))


def wled_counts_right(size: int) -> bool:
    """Whether WLED reads exactly `size` bytes of pixels: it counts (hi * 256) / 3 + lo / 3 pixels
    (wled_serial.cpp, TPM2_Header_CountHi/Lo), which is size / 3 only when both parts divide."""
    return size >= 3 and (size >> 8) % 3 == 0 and size % 3 == 0


def wled_padded(size: int) -> int:
    """The least payload size ≥ `size` that WLED counts right (at most 65535: 0xFF is a multiple of 3)."""
    padded = size
    while not wled_counts_right(padded):
        padded += 1
    return padded


@dataclass(frozen=True, slots=True)
class Tpm2Frame:
    packet_type: int
    payload: bytes


class Tpm2Decoder:
    """Receiver-side framing, byte by byte, for tests and tools (the simulator has its own)."""

    def __init__(self) -> None:
        self._buffer = bytearray()

    def feed(self, chunk: bytes) -> list[Tpm2Frame]:
        self._buffer += chunk
        frames = []
        while True:
            start = self._buffer.find(bytes((START,)))
            if start < 0:
                self._buffer.clear()
                return frames
            del self._buffer[:start]
            if len(self._buffer) < 4:
                return frames
            size = (self._buffer[2] << 8) | self._buffer[3]
            if len(self._buffer) < 4 + size + 1:
                return frames
            if self._buffer[4 + size] != END or self._buffer[1] not in (DATA, COMMAND):
                del self._buffer[:1]  # not a frame after all: look for the next start byte
                continue
            frames.append(Tpm2Frame(self._buffer[1], bytes(self._buffer[4:4 + size])))
            del self._buffer[:4 + size + 1]


# -- one receiver --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Receiver:
    """What the host must know of one board's receiver."""

    size: Size
    order: PixelOrder
    model: str  # "generic" or "wled"
    acknowledges: bool

    @classmethod
    def of(cls, board: Board) -> Receiver:
        model = board.model or MODELS[0]
        acknowledges = board.acknowledges if board.acknowledges is not None else model == "wled"
        return cls(board.size, PixelOrder.parse(board.pixel_order or "top-left rows"), model, acknowledges)

    @property
    def keeps_frames(self) -> bool:
        return self.model != "wled"

    def payload_size(self) -> int:
        raw = self.size.width * self.size.height * 3
        return wled_padded(raw) if self.model == "wled" else raw

    def frame_bytes(self) -> int:
        return 4 + self.payload_size() + 1

    def encode(self, image: Image.Image, brightness: int = 100) -> bytes:
        if image.size != (self.size.width, self.size.height):
            canvas = Image.new("RGB", (self.size.width, self.size.height))
            canvas.paste(image.convert("RGB"), (0, 0))
            image = canvas
        if brightness < 100:  # TPM2 has no commands: the host dims the pixels it sends
            image = image.convert("RGB").point(lambda v: v * brightness // 100)
        payload = pixels(image, self.order)
        return data_frame(payload + bytes(self.payload_size() - len(payload)))


class Keeper:
    """The host side of one receiver on its wire: puts the frame it should show on it, and — for a
    receiver that drops a frame after a while (WLED) — sends it again before that, dimmed or dark
    as the settings say. A thread of its own per WLED board; every frame and ping takes the wire
    (`SerialLink.exclusive`), so the dispatcher's pages, settings and health checks go between
    frames. The dispatcher plays the loop (one page at a time, `Content.page`); this keeps the page
    up in between."""

    def __init__(self, link: SerialLink, receiver: Receiver,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.link = link
        self.receiver = receiver
        self.clock = clock
        self.refresh_s = None if receiver.keeps_frames else REFRESH_S
        self.frame_s = link.byte_time(receiver.frame_bytes())
        self._cond = threading.Condition()
        self._image: Image.Image | None = None  # the page it should show (None: nothing yet)
        self._gen = 0  # one per change of what to show (a page, the settings)
        self._sent_gen = 0  # the generation of the last frame that went out
        self._power = True
        self._brightness = 100
        self._frame: bytes | None = None  # the encoded frame of the current generation
        self._last_end = -math.inf  # when the last frame was through the wire (estimated)
        self._wire_free = 0.0
        self._stop = False
        self._thread: threading.Thread | None = None
        self.error = ""  # the wire's last error, "" once a frame went out again
        self.frames_sent = 0
        self.bytes_out = 0

    # -- what to show --------------------------------------------------------------------------

    def show(self, image: Image.Image) -> int:
        """Put `image` (a page, cut to the board) on the receiver; returns its generation."""
        with self._cond:
            self._image = image
            return self._changed()

    def settings(self, power: bool, brightness: int | None) -> int:
        with self._cond:
            self._power = power
            self._brightness = 100 if brightness is None else max(0, min(100, brightness))
            return self._changed()

    def _changed(self) -> int:
        self._gen += 1
        self._frame = None
        self._start()
        self._cond.notify_all()
        return self._gen

    @property
    def power(self) -> bool:
        with self._cond:
            return self._power

    @property
    def has_something(self) -> bool:
        with self._cond:
            return not self._power or self._image is not None

    def wait_sent(self, gen: int, timeout_s: float) -> bool:
        """Until the frame of generation `gen` (or a later one) went out, the wire fails, or time."""
        deadline = time.monotonic() + timeout_s
        with self._cond:
            while self._sent_gen < gen:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or self.error or self._stop or self.link.cancelled:
                    break
                self._cond.wait(min(remaining, 0.2))
            sent = self._sent_gen >= gen
        # Until it has crossed the wire (a DTU socket takes the bytes at once).
        rest = self._wire_free - self.clock()
        if sent and rest > 0:
            time.sleep(rest)
        return sent

    def close(self) -> None:
        with self._cond:
            self._stop = True
            self._cond.notify_all()
            thread = self._thread
        if thread is not None:
            thread.join(timeout=5)

    # -- the thread ---------------------------------------------------------------------------

    def _start(self) -> None:
        if self._thread is None and not self._stop:
            self._thread = threading.Thread(target=self._run, name=f"tpm2-{self.link.name}", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        while True:
            with self._cond:
                if self._stop or self.link.cancelled:
                    return
                now = self.clock()
                something = not self._power or self._image is not None
                refresh_at = self._last_end + self.refresh_s if self.refresh_s else math.inf
                if not something or (self._sent_gen == self._gen and now < refresh_at):
                    wake = refresh_at if something else math.inf
                    self._cond.wait(None if wake == math.inf else max(0.001, wake - now))
                    continue
                if self._wire_free > now:  # the last frame is still crossing
                    self._cond.wait(self._wire_free - now)
                    continue
                gen = self._gen
                if self._frame is None:
                    size = self.receiver.size
                    dark = Image.new("RGB", (size.width, size.height))
                    image = self._image if self._power and self._image is not None else dark
                    self._frame = self.receiver.encode(image, self._brightness if self._power else 100)
                frame = self._frame
                # WLED shows the first frame after a pause black (realtimeLock clears the strip): twice.
                count = 2 if not self.receiver.keeps_frames and now > self._last_end + WLED_TIMEOUT_S else 1
            try:
                with self.link.exclusive():
                    for _ in range(count):
                        self.link.write(frame)
                    self._wire_free = max(self.clock(), self._wire_free) + self.frame_s * count
            except LinkError as e:
                with self._cond:
                    self.error = str(e)
                    self._cond.notify_all()
                    self._cond.wait(LINK_RETRY_S)
                continue
            with self._cond:
                self._last_end = self._wire_free
                self._sent_gen = max(self._sent_gen, gen)
                self.frames_sent += count
                self.bytes_out += len(frame) * count
                self.error = ""
                self._cond.notify_all()

    # -- the ping -----------------------------------------------------------------------------

    def ping(self) -> tuple[bool, str]:
        """Ask the receiver `C9 AA`; answered only by a lone `AC` (anything else with it — a stream,
        a "Baud is now" — is not an answer: a byte 0xAC can occur in those)."""
        with self.link.exclusive():
            self.link.discard_input()
            self.link.write(ping_frame())
            now = time.monotonic()
            self._wire_free = max(now, self._wire_free) + self.link.byte_time(len(ping_frame()))
            deadline = self._wire_free + self.link.byte_time(1) + PING_MARGIN_S
            got = bytearray()
            while time.monotonic() < deadline:
                got += self.link.read(deadline)
                if got:
                    deadline = min(deadline, time.monotonic() + PING_QUIET_S + self.link.byte_time(8))
        if got == bytes((PING_REPLY,)):
            return True, "ping answered"
        if not got:
            return False, "no ping reply"
        return False, (f"no ping reply: {len(got)} other byte(s) instead of a lone AC "
                       f"({bytes(got[:8]).hex(' ')}…)")


def still(page: Page, size: Size) -> Image.Image:
    """A page as one still frame (TPM2 boards take still pages: their capabilities say so)."""
    image = page.image.convert("RGB")
    if image.size == (size.width, size.height):
        return image
    frame = Image.new("RGB", (size.width, size.height))
    frame.paste(image, (0, 0))
    return frame


class Tpm2Driver(Driver):
    """One TPM2 receiver on a serial link (TPM2 has no addresses: one board per link)."""

    # RGB frames of at most 65535 payload bytes (21,845 pixels).
    spec = DriverSpec("tpm2", "serial", frozenset(ColourMode), needs_address=False,
                      max_bytes_per_page=MAX_PAYLOAD, one_board_per_link=True, models=MODELS,
                      options=("pixel_order", "acknowledges"))

    def __init__(self, link: SerialLink) -> None:
        self.link = link
        self._keepers: dict[str, Keeper] = {}
        self._lock = threading.Lock()

    @classmethod
    def capabilities(cls, board: Board) -> Capabilities:
        # No font, one still frame at a time: the host plays the loop; only a receiver that answers
        # the ping can confirm anything.
        receiver = Receiver.of(board)
        return Capabilities(holds_pages=1, effects=frozenset({"static"}),
                            largest_message=receiver.frame_bytes(), acknowledges=receiver.acknowledges)

    @classmethod
    def option_problem(cls, key: str, value: object) -> str | None:
        if key == "pixel_order" and isinstance(value, str):
            try:
                PixelOrder.parse(value)
            except Tpm2Error:
                return PIXEL_ORDER_HELP
        return None

    @classmethod
    def link_problem(cls, board: Board, link: Link) -> str | None:
        receiver = Receiver.of(board)
        if receiver.model == "wled" and receiver.payload_size() > MAX_PAYLOAD:
            return (f"a {board.size} frame for WLED is {receiver.payload_size()} bytes once padded "
                    f"(WLED miscounts other sizes); TPM2 carries at most {MAX_PAYLOAD}")
        seconds = receiver.frame_bytes() * 10 / link.baud
        if receiver.model == "wled" and seconds > MAX_FRAME_S:
            needed = math.ceil(receiver.frame_bytes() * 10 / MAX_FRAME_S)
            return (f"a {board.size} frame takes {seconds:.2f} s at {link.baud} baud, but WLED drops a "
                    f"frame {WLED_TIMEOUT_S:g} s after the last one, so ledctl must send one at least "
                    f"every {REFRESH_S + MAX_FRAME_S:g} s: the link needs at least {needed} baud "
                    "(WLED starts at 115200)")
        return None

    def keeper(self, board: Board) -> Keeper:
        with self._lock:
            found = self._keepers.get(board.id)
            if found is None:
                found = self._keepers[board.id] = Keeper(self.link, Receiver.of(board))
            return found

    def deliver(self, jobs: Sequence[tuple[Board, Content]], report: Report) -> None:
        for board, content in jobs:
            report(self._deliver(board, content))

    def _deliver(self, board: Board, content: Content) -> Result:
        start = time.monotonic()
        program = content.program
        pages = len(program.pages)
        if not pages:
            return Result(board.id, Outcome.REFUSED, "the program has no pages", "frame")
        if content.page is None and pages > 1 and content.whole:
            return Result(board.id, Outcome.REFUSED, "this needs several pages; the host plays TPM2 "
                          "loops only in the service", "frame", 0, 0.0, (0, pages))
        index = content.page if content.page is not None else 0
        which = "the page" if pages == 1 else f"page {index + 1} of {pages}"
        counted = (1, 1) if content.page is not None else (1, pages)
        keeper = self.keeper(board)
        before = keeper.bytes_out
        gen = keeper.show(still(program.pages[index], board.size))

        def result(outcome: Outcome, detail: str, sent: bool = True) -> Result:
            return Result(board.id, outcome, detail, "frame", keeper.bytes_out - before,
                          time.monotonic() - start, counted if sent else (0, counted[1]))

        if not keeper.power:
            # The screen is off: dark frames go out, and this page once it is on again. Nothing of it
            # is on the panel, so nothing to confirm.
            return result(Outcome.SENT, f"the screen is off: {which} goes up when it is on", sent=False)
        if not keeper.wait_sent(gen, 4 * keeper.frame_s + 2.0):
            why = keeper.error or ("cancelled (shutting down)" if self.link.cancelled
                                   else "the frame did not go out")
            return result(Outcome.LINK, why, sent=False)
        keep = "" if keeper.receiver.keeps_frames else f"; ledctl sends it again every {REFRESH_S:g} s"
        if not keeper.receiver.acknowledges:
            return result(Outcome.SENT, f"{which} sent; the receiver cannot acknowledge{keep}")
        try:
            answered, why = keeper.ping()
        except LinkError as e:
            return result(Outcome.LINK, str(e), sent=False)
        if answered:
            return result(Outcome.CONFIRMED, f"{which} sent, then the ping answered{keep}")
        return result(Outcome.OFFLINE, f"{which} sent; {why}", sent=False)

    def apply(self, jobs: Sequence[tuple[Board, Settings]], report: Report) -> None:
        for board, want in jobs:
            report(self._apply(board, want))

    def _apply(self, board: Board, want: Settings) -> Result:
        start = time.monotonic()
        keeper = self.keeper(board)
        gen = keeper.settings(want.power, want.brightness)
        percent = want.brightness if want.brightness is not None else 100
        what = ("dark frames" if not want.power else
                f"frames at {percent} % (TPM2 has no commands: ledctl dims the pixels it sends)")
        if keeper.has_something:
            if not keeper.wait_sent(gen, 4 * keeper.frame_s + 2.0):
                return Result(board.id, Outcome.LINK, keeper.error or "no frame went out", "settings")
        else:
            what = f"kept for the first frame: {what}"
        if not keeper.receiver.acknowledges:
            return Result(board.id, Outcome.SENT, what, "settings", 0, time.monotonic() - start)
        try:
            answered, why = keeper.ping()
        except LinkError as e:
            return Result(board.id, Outcome.LINK, str(e), "settings")
        return Result(board.id, Outcome.CONFIRMED if answered else Outcome.OFFLINE, what if answered else why,
                      "settings", 0, time.monotonic() - start)

    def check(self, boards: Sequence[Board]) -> list[Health]:
        out = []
        for board in boards:
            keeper = self.keeper(board)
            if not keeper.receiver.acknowledges:
                # Nothing to ask: the receiver answers nothing. Only a wire that fails says anything.
                if keeper.error:
                    out.append(Health(board.id, False, detail=f"link error: {keeper.error}"))
                continue
            try:
                ok, why = keeper.ping()
            except LinkError as e:
                out.append(Health(board.id, False, detail=f"link error: {e}"))
                continue
            out.append(Health(board.id, ok, detail="" if ok else why))
        return out

    def close(self) -> None:
        with self._lock:
            keepers, self._keepers = list(self._keepers.values()), {}
        for keeper in keepers:
            keeper.close()
