"""TPM2 over serial: raw RGB frames for WLED, Glediator-style receivers and DIY boards.

A data frame is `C9 DA <size, big-endian> <R G B …> 36`; a ping is `C9 AA 00 00 36`. There is
no address, no checksum and no acknowledgement of a frame, and a receiver holds no program: the
host plays it. So this driver keeps a `Player` per board on the link's wire, which sends every
page of the program with its dwell (scrolls and blinks frame by frame, as fast as the wire
allows) for as long as ledctl runs, and sends the current frame again before the receiver would
drop it (WLED leaves "realtime" mode 2.5 s after the last frame).

What a delivery can say depends on the receiver (`acknowledges`, from the board's config or its
`model`): only WLED answers the ping (`C9 AA` → the single byte `AC`, wled_serial.cpp), so a
delivery to it is "confirmed" when every page went out and the ping was answered after them —
all TPM2 can tell. Any other receiver is "sent", never "confirmed".

The models (`model = "…"` in the board's config):

* `generic` (the default): a receiver that takes exactly width × height × 3 bytes, keeps the last
  frame, and answers no ping (unless the board says `acknowledges = true`).
* `wled`: WLED's serial input (wled00/wled_serial.cpp `handleSerial`). It answers the ping; it
  drops a frame 2.5 s after the last one (wled.h `realtimeTimeoutMs`), so the player refreshes it
  every second; it shows the first frame after such a pause black (udp.cpp `realtimeLock` clears
  the strip on entering realtime mode), so that frame is sent twice; and it miscounts the pixels
  of a frame whose size's high byte is not a multiple of 3 (it divides each byte of the size by 3
  apart), reading the last pixel and the end byte as commands — 0xB0–0xB7 change its baud rate —
  so such a payload is padded with black pixels past the end of the panel, which WLED ignores
  (FX.h `setPixelColor`: `if (n < getLengthTotal())`), to a size it counts right.
"""

from __future__ import annotations

import bisect
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
from ledctl.model import Board, ColourMode, Link, Page, Program, Size
from ledctl.render.effects import frames as page_frames

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
MAX_FPS = 25.0  # scrolls: at most this many frames a second, fewer when the wire is slower
PING_MARGIN_S = 0.25  # how long a receiver may take to answer a ping, beyond the wire time
PING_QUIET_S = 0.05  # after the AC, how long nothing else may arrive (a lone AC is the answer)
LINK_RETRY_S = 1.0  # after a wire error, the player tries again this much later

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


@dataclass(frozen=True, slots=True)
class Timeline:
    """One pass of a program as frames: each frame's image, page and start within the loop."""

    images: tuple[Image.Image, ...]
    pages: tuple[int, ...]
    starts: tuple[float, ...]
    total: float

    @classmethod
    def of(cls, program: Program, size: Size, fps: float) -> Timeline:
        images, pages, starts = [], [], []
        t = 0.0
        for index, page in enumerate(program.pages):
            for frame in page_frames(page, size, fps):
                images.append(frame.image)
                pages.append(index)
                starts.append(t)
                t += frame.duration_s
        if not images or t <= 0:
            raise Tpm2Error("the program has no frame to show")
        return cls(tuple(images), tuple(pages), tuple(starts), t)

    def at(self, elapsed: float) -> tuple[int, float]:
        """The frame shown `elapsed` seconds after the loop started, and when (elapsed) it ends."""
        loop = math.floor(elapsed / self.total)
        within = elapsed - loop * self.total
        k = max(0, bisect.bisect_right(self.starts, within) - 1)
        end = self.starts[k + 1] if k + 1 < len(self.starts) else self.total
        return k, loop * self.total + end


def page_seconds(page: Page, size: Size) -> float:
    if page.effect in ("scroll-left", "scroll-up"):
        if page.effect == "scroll-left":
            travel = page.image.width + size.width
        else:
            travel = page.image.height + size.height
        return travel / (page.speed_px_s or travel / max(page.dwell_s, 1e-3))
    return page.dwell_s


class Player:
    """The host side of one receiver on its wire: plays the board's program — every page with its
    dwell, frame by frame — for as long as it lives, and sends the frame shown again before the
    receiver would drop it (WLED), dimmed or dark as the settings say. A thread of its own; every
    frame and ping takes the wire (`SerialLink.exclusive`), so deliveries, settings and health
    checks go between frames."""

    def __init__(self, link: SerialLink, receiver: Receiver,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.link = link
        self.receiver = receiver
        self.clock = clock
        self.refresh_s = None if receiver.keeps_frames else REFRESH_S
        self.frame_s = link.byte_time(receiver.frame_bytes())
        self.fps = min(MAX_FPS, 1 / self.frame_s)
        self._cond = threading.Condition()
        self._gen = 0  # one per program played
        self._settings_gen = 0
        self._program: Program | None = None
        self._timeline: Timeline | None = None
        self._started = 0.0
        self._power = True
        self._brightness = 100
        self._pages_sent: set[int] = set()  # pages of this program's first pass that went out
        self._settings_frames = 0  # frames sent with the current settings
        self._cache: dict[tuple[object, ...], bytes] = {}
        self._last_key: tuple[object, ...] | None = None
        self._last_end = -math.inf  # when the last frame was through the wire (estimated)
        self._wire_free = 0.0
        self._stop = False
        self._thread: threading.Thread | None = None
        self.error = ""  # the wire's last error, "" once a frame went out again
        self.frames_sent = 0
        self.bytes_out = 0

    # -- what to play --------------------------------------------------------------------------

    def play(self, program: Program) -> int:
        """Play `program` from its first page; returns its generation (for `pages_sent`)."""
        timeline = Timeline.of(program, self.receiver.size, self.fps)
        with self._cond:
            self._gen += 1
            self._program, self._timeline, self._started = program, timeline, self.clock()
            self._pages_sent, self._cache, self.error = set(), {}, ""
            self._start()
            self._cond.notify_all()
            return self._gen

    def settings(self, power: bool, brightness: int | None) -> int:
        with self._cond:
            self._power = power
            self._brightness = 100 if brightness is None else max(0, min(100, brightness))
            self._settings_gen += 1
            self._settings_frames = 0
            self._cache = {}
            self._start()
            self._cond.notify_all()
            return self._settings_gen

    @property
    def has_something(self) -> bool:
        with self._cond:
            return not self._power or self._program is not None

    @property
    def power(self) -> bool:
        with self._cond:
            return self._power

    def pages_sent(self, gen: int) -> int:
        with self._cond:
            return len(self._pages_sent) if gen == self._gen else 0

    def settings_frames(self, gen: int) -> int:
        with self._cond:
            return self._settings_frames if gen == self._settings_gen else 0

    def wait(self, done: Callable[[], bool], timeout_s: float) -> bool:
        """Until `done()` (asked under the player's lock), the wire fails, or `timeout_s`."""
        deadline = time.monotonic() + timeout_s
        with self._cond:
            while not done():
                remaining = deadline - time.monotonic()
                if remaining <= 0 or self.error or self._stop or self.link.cancelled:
                    return done()
                self._cond.wait(min(remaining, 0.2))
            return True

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

    def _current(self, now: float) -> tuple[tuple[object, ...] | None, Image.Image | None, int | None, float]:
        """What to show now: a key that changes when the frame does, the image, its page, and when
        it changes next."""
        size = self.receiver.size
        if not self._power:
            return ("dark", self._settings_gen), Image.new("RGB", (size.width, size.height)), None, math.inf
        if self._timeline is None:
            return None, None, None, math.inf
        k, end = self._timeline.at(now - self._started)
        return (self._gen, k, self._brightness), self._timeline.images[k], self._timeline.pages[k], \
            self._started + end

    def _run(self) -> None:
        while True:
            with self._cond:
                if self._stop or self.link.cancelled:
                    return
                now = self.clock()
                key, image, page, changes = self._current(now)
                refresh_at = self._last_end + self.refresh_s if self.refresh_s else math.inf
                if image is None or (key == self._last_key and now < refresh_at):
                    wake = min(changes, refresh_at if image is not None else math.inf)
                    self._cond.wait(None if wake == math.inf else max(0.001, wake - now))
                    continue
                if self._wire_free > now:  # the last frame is still crossing: pick again once it has
                    self._cond.wait(self._wire_free - now)
                    continue
                gen, settings_gen = self._gen, self._settings_gen
                frame = self._encoded(key, image)
                # WLED shows the first frame after a pause black: send that one twice.
                count = 2 if not self.receiver.keeps_frames and now > self._last_end + WLED_TIMEOUT_S else 1
            try:
                with self.link.exclusive():
                    for _ in range(count):
                        self.link.write(frame)
                    self._wire_free = max(self.clock(), self._wire_free) + self.frame_s * count
            except LinkError as e:
                with self._cond:
                    self.error = str(e)
                    self._last_key = None
                    self._cond.notify_all()
                    self._cond.wait(LINK_RETRY_S)
                continue
            with self._cond:
                self._last_key, self._last_end = key, self._wire_free
                self.frames_sent += count
                self.bytes_out += len(frame) * count
                self.error = ""
                if gen == self._gen and page is not None:
                    self._pages_sent.add(page)
                if settings_gen == self._settings_gen:
                    self._settings_frames += 1
                self._cond.notify_all()

    def _encoded(self, key: tuple[object, ...], image: Image.Image) -> bytes:
        found = self._cache.get(key)
        if found is None:
            if len(self._cache) > 256:
                self._cache.clear()
            found = self._cache[key] = self.receiver.encode(image, self._brightness if self._power else 100)
        return found

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


class Tpm2Driver(Driver):
    """One TPM2 receiver on a serial link (TPM2 has no addresses: one board per link)."""

    # RGB frames of at most 65535 payload bytes (21,845 pixels).
    spec = DriverSpec("tpm2", "serial", frozenset(ColourMode), needs_address=False,
                      max_bytes_per_page=MAX_PAYLOAD, one_board_per_link=True, models=MODELS,
                      options=("pixel_order", "acknowledges"))

    def __init__(self, link: SerialLink) -> None:
        self.link = link
        self._players: dict[str, Player] = {}
        self._lock = threading.Lock()

    @classmethod
    def capabilities(cls, board: Board) -> Capabilities:
        # No font and no memory of a program: the host plays every page (holds_pages 0); only a
        # receiver that answers the ping can confirm anything.
        return Capabilities(holds_pages=0, largest_message=Receiver.of(board).frame_bytes(),
                            acknowledges=Receiver.of(board).acknowledges)

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

    def player(self, board: Board) -> Player:
        with self._lock:
            found = self._players.get(board.id)
            if found is None:
                found = self._players[board.id] = Player(self.link, Receiver.of(board))
            return found

    def deliver(self, jobs: Sequence[tuple[Board, Content]], report: Report) -> None:
        for board, content in jobs:
            report(self._deliver(board, content.program))

    def _deliver(self, board: Board, program: Program) -> Result:
        start = time.monotonic()
        n = len(program.pages)
        player = self.player(board)
        problem = self._program_problem(board, program, player)
        if problem:
            return Result(board.id, Outcome.REFUSED, problem, "frames", 0, 0.0, (0, n))
        before = player.bytes_out
        gen = player.play(program)

        def result(outcome: Outcome, detail: str, sent: int) -> Result:
            return Result(board.id, outcome, detail, "frames", player.bytes_out - before,
                          time.monotonic() - start, (sent, n))

        if not player.power:
            # The screen is off: dark frames go out, and this program once it is on again. Nothing of it
            # is on the panel, so nothing to confirm.
            return result(Outcome.SENT, "the screen is off: ledctl plays this program when it is on", 0)
        # Every page out once (the last page's first frame), then the ping: all TPM2 can tell.
        first_pass = sum(page_seconds(p, board.size) for p in program.pages[:-1])
        player.wait(lambda: player.pages_sent(gen) >= n, first_pass + 4 * player.frame_s + 2.0)
        sent = player.pages_sent(gen)
        if sent < n:
            why = player.error or ("cancelled (shutting down)" if self.link.cancelled
                                   else f"only {sent} of {n} pages went out")
            return result(Outcome.LINK, why, sent)
        pages = f"every page sent ({n}/{n})" if n > 1 else "the page sent"
        keep = "; ledctl keeps playing it" + (
            "" if player.receiver.keeps_frames else f" and sends it again every {REFRESH_S:g} s")
        if not player.receiver.acknowledges:
            return result(Outcome.SENT, f"{pages}; the receiver cannot acknowledge" + keep, sent)
        try:
            answered, why = player.ping()
        except LinkError as e:
            return result(Outcome.LINK, str(e), sent)
        if answered:
            return result(Outcome.CONFIRMED, f"{pages}, then the ping answered" + keep, sent)
        return result(Outcome.OFFLINE, f"{pages}; {why}", sent)

    def _program_problem(self, board: Board, program: Program, player: Player) -> str | None:
        if not program.pages:
            return "the program has no pages"
        for i, page in enumerate(program.pages, start=1):
            seconds = page_seconds(page, board.size)
            if seconds < 2 * player.frame_s:
                return (f"page {i} ({page.name}) lasts {seconds:.2f} s, but one frame takes "
                        f"{player.frame_s:.2f} s on this wire ({self.link.baud} baud)")
        return None

    def apply(self, jobs: Sequence[tuple[Board, Settings]], report: Report) -> None:
        for board, want in jobs:
            report(self._apply(board, want))

    def _apply(self, board: Board, want: Settings) -> Result:
        start = time.monotonic()
        player = self.player(board)
        gen = player.settings(want.power, want.brightness)
        percent = want.brightness if want.brightness is not None else 100
        what = ("dark frames" if not want.power else
                f"frames at {percent} % (TPM2 has no commands: ledctl dims the pixels it sends)")
        if player.has_something:
            player.wait(lambda: player.settings_frames(gen) > 0, 4 * player.frame_s + 2.0)
            if player.settings_frames(gen) == 0:
                return Result(board.id, Outcome.LINK, player.error or "no frame went out", "settings")
        else:
            what = f"kept for the first frame: {what}"
        if not player.receiver.acknowledges:
            return Result(board.id, Outcome.SENT, what, "settings", 0, time.monotonic() - start)
        try:
            answered, why = player.ping()
        except LinkError as e:
            return Result(board.id, Outcome.LINK, str(e), "settings")
        return Result(board.id, Outcome.CONFIRMED if answered else Outcome.OFFLINE, what if answered else why,
                      "settings", 0, time.monotonic() - start)

    def check(self, boards: Sequence[Board]) -> list[Health]:
        out = []
        for board in boards:
            player = self.player(board)
            if not player.receiver.acknowledges:
                # Nothing to ask: the receiver answers nothing. Only a wire that fails says anything.
                if player.error:
                    out.append(Health(board.id, False, detail=f"link error: {player.error}"))
                continue
            try:
                ok, why = player.ping()
            except LinkError as e:
                out.append(Health(board.id, False, detail=f"link error: {e}"))
                continue
            out.append(Health(board.id, ok, detail="" if ok else why))
        return out

    def close(self) -> None:
        with self._lock:
            players, self._players = list(self._players.values()), {}
        for player in players:
            player.close()
