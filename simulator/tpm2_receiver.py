"""TPM2 matrix receivers, written from the TPM2 facts and from WLED's own code (not from ledctl's
driver): `Tpm2Receiver`, a strict generic receiver, and `WledSerial`, WLED's serial input as its
firmware behaves, quirks included.

Both light a physical panel: the n-th pixel on the wire is the n-th LED of the chain, and where
that LED sits is the panel's wiring (`Wiring`: start corner, rows or columns, serpentine), so a
host that sends the pixels in the wrong order shows a scrambled picture here as on the street.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from PIL import Image

__all__ = ["Tpm2Receiver", "Tpm2Stats", "Wiring", "WledSerial"]


@dataclass(frozen=True, slots=True)
class Wiring:
    """How a panel's LED chain runs, as WLED's 2D set-up describes one panel (FX_2Dfcn.cpp
    `WS2812FX::setUpMatrix`: bottomStart, rightStart, vertical, serpentine)."""

    bottom_start: bool = False
    right_start: bool = False
    vertical: bool = False
    serpentine: bool = False

    @classmethod
    def of(cls, text: str) -> Wiring:
        """From a board's `pixel_order` ("top-left rows", "bottom-right columns serpentine", …)."""
        words = set(re.split(r"[\s,]+", text.strip().lower())) - {""}
        aliases = {"row-major": set(), "column-major": {"columns"}, "serpentine": {"serpentine"}}
        if len(words) == 1 and next(iter(words)) in aliases:
            words = aliases[next(iter(words))]
        return cls("bottom-left" in words or "bottom-right" in words,
                   "top-right" in words or "bottom-right" in words,
                   "columns" in words, "serpentine" in words)

    def chain(self, width: int, height: int) -> list[int]:
        """For LED n of the chain, its place on the panel (y * width + x): WLED's loop over one panel
        at offset 0, line for line (setUpMatrix)."""
        table = [0] * (width * height)
        h = height if self.vertical else width
        v = width if self.vertical else height
        pix = 0
        for j in range(v):
            for i in range(h):
                y = v - j - 1 if (self.right_start if self.vertical else self.bottom_start) else j
                x = h - i - 1 if (self.bottom_start if self.vertical else self.right_start) else i
                x = h - x - 1 if self.serpentine and j % 2 else x
                index = (x if self.vertical else y) * width + (y if self.vertical else x)
                table[pix] = index
                pix += 1
        return table


def _panel(width: int, height: int, wiring: Wiring, leds: bytes) -> Image.Image:
    """What the panel shows when its chain holds `leds` (R G B per LED, in chain order)."""
    out = bytearray(width * height * 3)
    for n, place in enumerate(wiring.chain(width, height)):
        out[3 * place:3 * place + 3] = leds[3 * n:3 * n + 3]
    return Image.frombytes("RGB", (width, height), bytes(out))


@dataclass
class Tpm2Stats:
    frames_shown: int = 0
    frames_rejected: int = 0
    pings: int = 0
    commands: list[str] = field(default_factory=list)  # WLED: bytes taken as commands between frames
    garbled: int = 0  # WLED: bytes heard at a baud rate the receiver no longer listens at


@dataclass
class Tpm2Receiver:
    """A strict generic receiver (the TPM2 facts): a frame is shown only when its end byte is 0x36
    and its size is exactly the panel's (width × height × 3), so a damaged frame never reaches the
    LEDs; it keeps the last frame for good. It answers the ping only if it is one that does
    (`answers_ping`): most receivers other than WLED do not."""

    width: int
    height: int
    order: str = "top-left rows"  # the panel's wiring (a board's pixel_order)
    answers_ping: bool = False
    strict_end: bool = True
    offline: bool = False
    stats: Tpm2Stats = field(default_factory=Tpm2Stats)
    _buffer: bytearray = field(default_factory=bytearray, repr=False)
    _pixels: bytes | None = field(default=None, repr=False)

    def receive(self, chunk: bytes) -> bytes:
        if self.offline:
            return b""
        self._buffer += chunk
        reply = bytearray()
        while True:
            start = self._buffer.find(b"\xc9")
            if start < 0:
                self._buffer.clear()
                break
            del self._buffer[:start]
            if len(self._buffer) < 4:
                break
            kind = self._buffer[1]
            size = self._buffer[2] << 8 | self._buffer[3]
            if kind not in (0xDA, 0xAA):
                del self._buffer[:1]
                continue
            if len(self._buffer) < 5 + size:
                break
            end_ok = self._buffer[4 + size] == 0x36
            payload = bytes(self._buffer[4:4 + size])
            if self.strict_end and not end_ok:
                self.stats.frames_rejected += 1
                del self._buffer[:1]
                continue
            del self._buffer[:5 + size]
            if kind == 0xAA:
                self.stats.pings += 1
                if self.answers_ping:
                    reply.append(0xAC)
            elif size == self.width * self.height * 3:
                self._pixels = payload
                self.stats.frames_shown += 1
            else:
                self.stats.frames_rejected += 1
        return bytes(reply)

    def snapshot(self) -> Image.Image:
        if self._pixels is None:
            return Image.new("RGB", (self.width, self.height))
        return _panel(self.width, self.height, Wiring.of(self.order), self._pixels)


# The states of WLED's serial parser (wled_serial.cpp `enum class AdaState`), and two of ours for
# the Improv and JSON readers that `handleSerial` hands bytes to.
HEADER_A, HEADER_D, HEADER_SMALL_A = "Header_A", "Header_d", "Header_a"
ADA_COUNT_HI, ADA_COUNT_LO, ADA_CHECK = "Header_CountHi", "Header_CountLo", "Header_CountCheck"
DATA_RED, DATA_GREEN, DATA_BLUE = "Data_Red", "Data_Green", "Data_Blue"
TPM2_TYPE, TPM2_COUNT_HI, TPM2_COUNT_LO = "TPM2_Header_Type", "TPM2_Header_CountHi", "TPM2_Header_CountLo"
IMPROV, JSON_API = "improv", "json"

# wled_serial.cpp, Header_A: 0xB0..0xB7 call updateBaudRate(…).
BAUD_COMMANDS = {0xB0: 115200, 0xB1: 230400, 0xB2: 460800, 0xB3: 500000, 0xB4: 576000, 0xB5: 921600,
                 0xB6: 1000000, 0xB7: 1500000}
VERSION = b"WLED 2508190\r\n"  # 'v' prints "WLED", ' ', VERSION (a build number)


@dataclass
class WledSerial:
    """WLED's serial input (wled00/wled_serial.cpp `handleSerial`, with wled.h, udp.cpp and FX.h),
    byte by byte, as strict as the firmware — its faults included:

    * A TPM2 ping `C9 AA` is answered at once with `AC` (TPM2_Header_Type); the `00 00 36` after
      it are read as (ignored) commands.
    * The size is counted as `(hi * 0x100) / 3 + lo / 3` pixels in a uint16 (TPM2_Header_CountHi/
      CountLo): one pixel short whenever `hi % 3 != 0`, and 0 pixels (wrapping to 65535) below 3
      bytes. What is left of the frame — the last pixel and the end byte, which is never checked —
      is then read as commands in Header_A.
    * Commands in Header_A: 0xB0–0xB7 switch the UART to another baud rate (`updateBaudRate`, which
      prints "Baud is now N" first; rates under 9600 or unchanged are ignored) — after that every
      byte at the wire's rate is garbage (counted, not parsed); 'v' prints the version; 'l' and 'L'
      dump the LEDs (JSON, TPM2); 'o'/'O' stop/start streaming every shown frame (any other byte
      stops it); 'A' starts an Adalight header; 'I' an Improv packet (`handleImprovPacket`: it ends
      at the first byte that breaks the "IMPROV" header, which it consumes); '{' a JSON API document
      (`deserializeJson` from Serial: here, up to the first byte that cannot continue it, which is
      consumed, and then one more, discarded by the loop's `Serial.read()`).
    * Pixels past the end of the strip are dropped (FX.h `setPixelColor`: `if (n < getLengthTotal())`).
    * After the last pixel, `realtimeLock(realtimeTimeoutMs)` then `strip.show()`. Entering realtime
      mode clears the strip first (udp.cpp `realtimeLock`: `strip.fill(BLACK)` when not yet in
      realtime), so the first frame after a pause is shown black.
    * 2.5 s after the last frame (wled.h `realtimeTimeoutMs _INIT(2500)`; 65000 means never) WLED
      leaves realtime mode (udp.cpp `handleNotifications` → `exitRealtime`) and shows its own state
      again: dark when it is off (`own` None), else its own colour.

    `millis` is the device's own uptime clock (seconds); `wire_baud` the rate the host sends at.
    """

    width: int
    height: int
    order: str = "top-left rows"  # the panel's wiring (a board's pixel_order)
    millis: Callable[[], float] = time.monotonic
    timeout_ms: int = 2500
    baud: int = 115200  # wled.cpp: Serial.begin(115200)
    wire_baud: int = 115200
    own: tuple[int, int, int] | None = None  # what WLED shows outside realtime mode (None: it is off)
    strip_length: int = 0  # LEDs configured (0: the panel's width × height)
    offline: bool = False
    stats: Tpm2Stats = field(default_factory=Tpm2Stats)
    _state: str = field(default=HEADER_A, repr=False)
    _count: int = field(default=0, repr=False)
    _pixel: int = field(default=0, repr=False)
    _red: int = field(default=0, repr=False)
    _green: int = field(default=0, repr=False)
    _check: int = field(default=0, repr=False)
    _sub: int = field(default=0, repr=False)  # position inside an Improv header / JSON document
    _strip: bytearray = field(default_factory=bytearray, repr=False)
    _shown: bytes = field(default=b"", repr=False)
    _realtime_until: float | None = field(default=None, repr=False)
    _continuous: bool = field(default=False, repr=False)

    def __post_init__(self) -> None:
        if not self.strip_length:
            self.strip_length = self.width * self.height
        self._strip = bytearray(self.strip_length * 3)

    # -- the wire ---------------------------------------------------------------------------------

    def receive(self, chunk: bytes) -> bytes:
        if self.offline:
            return b""
        reply = bytearray()
        for next_byte in chunk:
            if self.baud != self.wire_baud:
                self.stats.garbled += 1  # the UART listens at another rate: framing errors, noise
                continue
            reply += self._byte(next_byte)
        return bytes(reply)

    def _in_realtime(self) -> bool:
        return self._realtime_until is not None and (self._realtime_until == float("inf")
                                                     or self.millis() <= self._realtime_until)

    def _byte(self, next_byte: int) -> bytes:
        state = self._state
        out = b""
        if state == HEADER_A:
            out = self._command(next_byte)
        elif state == HEADER_D:
            self._state = HEADER_SMALL_A if next_byte == ord("d") else HEADER_A
        elif state == HEADER_SMALL_A:
            self._state = ADA_COUNT_HI if next_byte == ord("a") else HEADER_A
        elif state == ADA_COUNT_HI:
            self._pixel, self._count, self._check = 0, next_byte * 0x100, next_byte
            self._state = ADA_COUNT_LO
        elif state == ADA_COUNT_LO:
            self._count = (self._count + next_byte + 1) & 0xFFFF
            self._check = self._check ^ next_byte ^ 0x55
            self._state = ADA_CHECK
        elif state == ADA_CHECK:
            self._state = DATA_RED if self._check == next_byte else HEADER_A
        elif state == TPM2_TYPE:  # wled_serial.cpp handleSerial, case TPM2_Header_Type
            self._state = HEADER_A  # "(unsupported) TPM2 command or invalid type"
            if next_byte == 0xDA:
                self._state = TPM2_COUNT_HI
            elif next_byte == 0xAA:
                self.stats.pings += 1
                out = b"\xac"  # "TPM2 ping": Serial.write(0xAC) at once
        elif state == TPM2_COUNT_HI:  # wled_serial.cpp: count = (next * 0x100) /3;
            self._pixel = 0
            self._count = (next_byte * 0x100) // 3  # each byte divided apart: the miscount
            self._state = TPM2_COUNT_LO
        elif state == TPM2_COUNT_LO:  # wled_serial.cpp: count += next /3; (count is a uint16_t)
            self._count = (self._count + next_byte // 3) & 0xFFFF
            self._state = DATA_RED
        elif state == DATA_RED:
            self._red, self._state = next_byte, DATA_GREEN
        elif state == DATA_GREEN:
            self._green, self._state = next_byte, DATA_BLUE
        elif state == DATA_BLUE:  # wled_serial.cpp case Data_Blue: setRealtimePixel(pixel++, …)
            if self._pixel < self.strip_length:  # FX.h setPixelColor: if (n < getLengthTotal())
                self._strip[3 * self._pixel:3 * self._pixel + 3] = bytes((self._red, self._green, next_byte))
            self._pixel += 1
            self._count = (self._count - 1) & 0xFFFF  # uint16: 0 - 1 wraps to 65535
            if self._count > 0:
                self._state = DATA_RED
            else:  # realtimeLock(realtimeTimeoutMs, REALTIME_MODE_ADALIGHT); strip.show(); Header_A
                self._realtime_lock()
                out = self._show()
                self._state = HEADER_A
        elif state == IMPROV:
            # handleImprovPacket: the 'I' was the header's first byte; it returns at the first byte
            # that breaks "IMPROV" (a real Improv packet after the header is not modelled).
            self._sub += 1
            if self._sub >= 6 or next_byte != b"IMPROV"[self._sub]:
                self._state = HEADER_A
        elif state == JSON_API:
            out = self._json(next_byte)
        if self._continuous and next_byte != ord("O"):
            self._continuous = False  # "All other received bytes will disable Continuous Serial Streaming"
        return out

    def _command(self, next_byte: int) -> bytes:
        """Header_A: a byte between frames."""
        if next_byte == ord("A"):
            self._state = HEADER_D
            return b""
        if next_byte == 0xC9:
            self._state = TPM2_TYPE
            return b""
        name = chr(next_byte) if 0x20 <= next_byte < 0x7F else f"0x{next_byte:02X}"
        if next_byte in BAUD_COMMANDS or chr(next_byte) in "IvlLoO{":
            self.stats.commands.append(name)
        if next_byte == ord("I"):
            self._state, self._sub = IMPROV, 0
        elif next_byte == ord("v"):
            return VERSION
        elif next_byte in BAUD_COMMANDS:
            return self._update_baud(BAUD_COMMANDS[next_byte])
        elif next_byte == ord("l"):
            return self._dump_json()
        elif next_byte == ord("L"):
            return self._dump_tpm2()
        elif next_byte == ord("o"):
            self._continuous = False
        elif next_byte == ord("O"):
            self._continuous = True
        elif next_byte == ord("{"):
            self._state, self._sub = JSON_API, 1
        return b""

    def _update_baud(self, rate: int) -> bytes:
        """wled_serial.cpp updateBaudRate: ignored when unchanged or under 9600; else says so (at the
        old rate) and switches."""
        if rate // 100 == self.baud // 100 or rate // 100 < 96:
            return b""
        self.baud = rate
        return f"Baud is now {rate}\r\n".encode()

    def _json(self, next_byte: int) -> bytes:
        # A rough stand-in for deserializeJson: printable ASCII continues the document, a '}' at depth
        # 0 ends it; any other byte is an error (consumed); then the loop discards one more byte.
        if self._sub < 0:  # the byte the loop's Serial.read() discards after the parser returned
            self._state = HEADER_A
            return b""
        if next_byte == ord("{"):
            self._sub += 1
        elif next_byte == ord("}"):
            self._sub -= 1
        if self._sub == 0 or not 0x20 <= next_byte < 0x7F:
            self._sub = -1
        return b""

    def _realtime_lock(self) -> None:
        """udp.cpp realtimeLock: entering realtime mode clears the strip; the timeout starts anew."""
        if not self._in_realtime():
            self._strip = bytearray(self.strip_length * 3)
        self._realtime_until = float("inf") if self.timeout_ms in (65000, 255001) else \
            self.millis() + self.timeout_ms / 1000

    def _show(self) -> bytes:
        self._shown = bytes(self._strip)
        self.stats.frames_shown += 1
        return self._dump_tpm2() if self._continuous else b""

    def _dump_tpm2(self) -> bytes:
        """sendBytes: C9 DA, the size, every LED's R G B, 36 and a newline."""
        size = self.strip_length * 3
        return bytes((0xC9, 0xDA, size >> 8 & 0xFF, size & 0xFF)) + bytes(self._strip) + b"\x36\n"

    def _dump_json(self) -> bytes:
        """sendJSON: the LEDs as a JSON array of 0xRRGGBB numbers."""
        colours = (int.from_bytes(self._strip[3 * i:3 * i + 3], "big") for i in range(self.strip_length))
        return ("[" + ",".join(map(str, colours)) + "]\r\n").encode()

    # -- what it shows --------------------------------------------------------------------------

    def snapshot(self) -> Image.Image:
        if self._in_realtime():
            leds = self._shown[:self.width * self.height * 3]
            return _panel(self.width, self.height, Wiring.of(self.order), leds)
        return Image.new("RGB", (self.width, self.height), self.own or (0, 0, 0))

    @property
    def in_realtime(self) -> bool:
        """Whether it shows what the host sent (else its own state: the host stopped for 2.5 s)."""
        return self._in_realtime()
