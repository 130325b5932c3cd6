"""TPM2 over serial: raw RGB frames for WLED, Glediator-style receivers and DIY boards.

A data frame is `C9 DA <size, big-endian> <R G B …> 36`; a ping is `C9 AA 00 00 36`
and a receiver answers it with the single byte `AC`. There is no address, checksum
or acknowledgement of a frame, so a TPM2 board counts as confirmed only as far as
the protocol allows: a ping answered after the frame. The host plays the program.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
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
from ledctl.model import Board, ColourMode, Program, Size
from ledctl.render.effects import program_frames

if TYPE_CHECKING:
    from ledctl.schedule import Settings

START = 0xC9
DATA = 0xDA
COMMAND = 0xAA
END = 0x36
PING_REPLY = 0xAC
MAX_PAYLOAD = 0xFFFF  # 21,845 RGB pixels

ORDERS = ("row-major", "serpentine")


class Tpm2Error(ProtocolError):
    pass


def pixels(image: Image.Image, order: str = "row-major") -> bytes:
    """The image's pixels as R G B bytes in the receiver's order.

    "serpentine": every other row runs right to left, as on snake-wired matrices.
    """
    if order not in ORDERS:
        raise Tpm2Error(f"pixel order {order!r}: expected one of {', '.join(ORDERS)}")
    rgb = image.convert("RGB")
    width, height = rgb.size
    raw = rgb.tobytes()
    if order == "row-major":
        return raw
    rows = []
    stride = width * 3
    for y in range(height):
        row = raw[y * stride:(y + 1) * stride]
        if y % 2:
            row = b"".join(row[x * 3:x * 3 + 3] for x in range(width - 1, -1, -1))
        rows.append(row)
    return b"".join(rows)


def data_frame(payload: bytes) -> bytes:
    if len(payload) > MAX_PAYLOAD:
        raise Tpm2Error(f"a TPM2 frame carries at most {MAX_PAYLOAD} bytes; this one has {len(payload)}")
    return bytes((START, DATA, len(payload) >> 8, len(payload) & 0xFF)) + payload + bytes((END,))


def ping_frame() -> bytes:
    return bytes((START, COMMAND, 0x00, 0x00, END))


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


@dataclass
class Tpm2Board:
    """The host side of one TPM2 receiver: send a frame, then confirm with a ping."""

    width: int
    height: int
    link: SerialLink
    order: str = "row-major"
    reply_margin_s: float = 0.25
    bytes_out: int = 0

    def show(self, image: Image.Image) -> bool:
        """Send `image` and ping; True when the receiver answered the ping after the frame.

        That is all TPM2 can confirm: the frame has no checksum or acknowledgement.
        """
        if image.size != (self.width, self.height):
            image = image.crop((0, 0, self.width, self.height))
        frame = data_frame(pixels(image, self.order)) + ping_frame()
        link = self.link
        with link.exclusive():
            link.discard_input()
            link.write(frame)
            self.bytes_out += len(frame)
            deadline = time.monotonic() + link.byte_time(len(frame) + 1) + self.reply_margin_s
            while time.monotonic() < deadline:
                if bytes((PING_REPLY,)) in link.read(deadline):
                    return True
        return False

    def play(self, program: Program, *, fps: float = 25.0, loops: int = 1,
             stop: threading.Event | None = None, sleep: Callable[[float], None] = time.sleep) -> int:
        """Play the program the way the board cannot: every frame of every page, for its time.

        Returns the number of frames sent. Ends after `loops` passes or when `stop` is set;
        each pass ends with a ping, so a receiver that went away is noticed.
        """
        sent = 0
        for _ in range(loops):
            for frame in program_frames(program, Size(self.width, self.height), fps):
                if stop is not None and stop.is_set():
                    return sent
                started = time.monotonic()
                with self.link.exclusive():
                    data = data_frame(pixels(frame.image, self.order))
                    self.link.write(data)
                    self.bytes_out += len(data)
                sent += 1
                rest = frame.duration_s - (time.monotonic() - started)
                if rest > 0:
                    sleep(rest)
            if not self.ping():
                raise Tpm2Error("the receiver stopped answering pings")
        return sent

    def ping(self) -> bool:
        with self.link.exclusive():
            self.link.discard_input()
            self.link.write(ping_frame())
            deadline = time.monotonic() + self.link.byte_time(6) + self.reply_margin_s
            while time.monotonic() < deadline:
                if bytes((PING_REPLY,)) in self.link.read(deadline):
                    return True
        return False


class Tpm2Driver(Driver):
    """One TPM2 receiver on a serial link (TPM2 has no addresses: one board per link)."""

    # RGB frames of at most 65535 payload bytes (21,845 pixels).
    spec = DriverSpec("tpm2", "serial", frozenset(ColourMode), needs_address=False,
                      max_bytes_per_page=MAX_PAYLOAD, one_board_per_link=True)

    def __init__(self, link: SerialLink) -> None:
        self.link = link

    @classmethod
    def capabilities(cls, board: Board) -> Capabilities:
        # No font, one frame at a time: the host plays the loop; only the ping can be answered.
        return Capabilities(holds_pages=1, effects=frozenset({"static"}), largest_message=MAX_PAYLOAD + 5)

    def receiver(self, board: Board) -> Tpm2Board:
        return Tpm2Board(board.size.width, board.size.height, self.link)

    def deliver(self, jobs: Sequence[tuple[Board, Content]], report: Report) -> None:
        for board, content in jobs:
            start = time.monotonic()
            pages = len(content.program.pages)
            receiver = self.receiver(board)
            if content.page is not None:  # one page of the loop the host plays
                content = replace(content, program=replace(
                    content.program, pages=(content.program.pages[content.page],)), page=None)
                pages = 1
            if pages > 1 and content.whole:
                report(Result(board.id, Outcome.REFUSED, "this needs several pages; the host plays TPM2 "
                              "loops only in the service", "frame", 0, 0.0, (0, pages)))
                continue
            try:
                ok = receiver.show(content.program.pages[0].image)
            except LinkError as e:
                report(Result(board.id, Outcome.LINK, str(e), "frame", receiver.bytes_out,
                              time.monotonic() - start, (0, pages)))
                continue
            detail = ("ping answered after the frame" if ok else "no ping reply") + \
                ("" if pages == 1 else f"; page 1 of {pages}")
            report(Result(board.id, Outcome.CONFIRMED if ok else Outcome.OFFLINE, detail, "frame",
                          receiver.bytes_out, time.monotonic() - start, (1 if ok else 0, pages)))

    def apply(self, jobs: Sequence[tuple[Board, Settings]], report: Report) -> None:
        for board, want in jobs:
            if want.power:  # no commands in TPM2: brightness is the receiver's own setting
                report(Result(board.id, Outcome.CONFIRMED, "nothing to do (TPM2 has no commands)",
                              "settings"))
                continue
            start = time.monotonic()
            receiver = self.receiver(board)
            try:
                ok = receiver.show(Image.new("RGB", (board.size.width, board.size.height)))
            except LinkError as e:
                report(Result(board.id, Outcome.LINK, str(e), "settings"))
                continue
            report(Result(board.id, Outcome.CONFIRMED if ok else Outcome.OFFLINE,
                          "dark frame" if ok else "no ping reply", "settings", receiver.bytes_out,
                          time.monotonic() - start))

    def check(self, boards: Sequence[Board]) -> list[Health]:
        out = []
        for board in boards:
            try:
                ok = self.receiver(board).ping()
            except LinkError as e:
                out.append(Health(board.id, False, detail=f"link error: {e}"))
                continue
            out.append(Health(board.id, ok, detail="" if ok else "no ping reply"))
        return out
