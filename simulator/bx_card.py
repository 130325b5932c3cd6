"""Emulation of one Onbon BX-5K/6K controller card (the board side of the serial protocol).

Written from the protocol fact sheet (`shared/facts/onbon-bx.md`), independently of the driver in
`ledctl.drivers`: nothing is imported from there, so an encoder bug in the driver cannot be hidden by
shared code. The card is a pure state machine: bytes in (`receive`), bytes out (its reply), time from
an injected clock, no I/O.

Decisions on points the fact sheet leaves open (all deliberate, see the tests):

* **Buffer limit.** `buffer` (512 on 5K, 1024 on 6K) limits every *bulk payload* inside a request:
  A4 03 BlockData, A4 02 PageData, each A3 06 area's text Data. The whole data field of a frame may
  exceed it by `HEADER_ALLOWANCE` bytes of command headers, because Onbon's own BX-5K2 example V12
  carries 512 bitmap bytes in a 520-byte data field. A frame or payload over the limit gets
  NACK 4 (ERR_MEMORYVOLUME). The size check runs after the integrity check, so a NACK 4 always means
  "a well-formed frame that is too big" and never line noise.
* **Integrity.** A frame whose length disagrees with DataLen, whose escapes are invalid, or whose
  checksum fails is "bad CRC": NACK 5 if the header shows our address (or 0xFFFE), whatever its
  (untrustworthy) Response byte says; nothing for 0xFFFF or for other addresses. Fewer than 14 bytes
  (30 with a barcode) = unreadable garbage, no reply. CheckMode 0 (CRC-16/ARC) and 1 (16-bit byte
  sum) are checked; CheckMode 2 (no check) is accepted on 6K models only.
* **Replies.** Sent only when the Response byte is 0x01 (fact sheet §1) and the frame is not a
  0xFFFF broadcast. Reply header: nine 0xA5, Dst = request Src, Src = card address (0xFFFE for
  broadcast 2), CheckMode 0, DeviceType = model code, ProtocolVersion 2. Any DeviceType in a
  request is accepted (0xFE wildcard and compatible models alike).
* **Busy.** With `nack_busy`, every intact request for us gets NACK 3 and changes nothing (a corrupted
  frame still gets NACK 5). With `offline`, bytes are swallowed, not counted in `bytes_in`, and any
  half-received frame is forgotten.
* **Malformed parameters** (wrong length, out-of-range values, DataLen fields that disagree) get
  NACK 2 (ERR_NOCMD): the doc has no "bad parameter" code. `last_error` says what was wrong.
  Data fields shorter than the 5-byte command header also get NACK 2 (NACK 1 if the group is unknown).
* **Commands not emulated** (files, relays, network, …) get NACK 2.
* **Dynamic areas (A3 06).** Area IDs 0…7 on 5K, 0…4 on 6K; a higher ID gets NACK 4. X and width
  are bytes (8 px) on 5th-generation cards; the pixel flag there gets NACK 2 (Onbon's SDK: "X and
  width invalid on 5th-gen cards", bx.k.java 46bc87c), on 6K it means pixels. The whole
  command is validated before anything changes. RunMode 2 areas expire when *more than* Timeout
  seconds of the injected clock pass without the area being re-sent. Effects are stored, not
  animated: the snapshot draws text at rest. `\\n` is a backslash + 'n'; a raw 0x0A also breaks the
  line. Default colour is red. `\\D`+letter shows the card's time; `\\T…|`, `\\W…` are stripped.
* **Special area (A4).** Only on the models the document gives it to (BX-5K2, BX-5MK1/2). Text
  pages cycle in page order, each for StayTime × 0.5 s, from the area's last change (see
  `special_page_shown`); a page is drawn left-aligned from the top in the card's font. A4 01
  with the same geometry and type as the current set-up keeps the shown content (so a host may
  repeat the set-up before each image without a blank flash); a different set-up clears it.
  A4 02/A4 03/A4 09 without a set-up get
  NACK 6 (ERR_FILENOTEXIST); in the wrong mode NACK 10 (ERR_FILE_TYPE); a page number ≥ Pagetotal
  NACK 16. A4 03: BlockAddr 0 always (re)starts a transfer; any other BlockAddr must equal the bytes
  received so far or the card answers NACK 16 (keeping what has arrived, so a sender whose ACK was
  lost can go on). Receiving more bytes than
  AreaH × AreaW × planes, or a last block with too few, gets NACK 8 (ERR_FILE_DOWNLOAD) and drops the
  pending image. A4 04 is accepted on every model with a special area. A bitmap over 16 KB → NACK 4.
* **Clear screen (A3 10)** removes the dynamic areas and the special area's content (its set-up
  stays, so the next image can follow at once) and any pending transfer.
* **Time.** A2 03 stores an offset from the injected clock (the clock's tzinfo is ignored: the card
  keeps local wall time) and the weekday as sent (like an RTC's separate weekday counter). The status
  reply writes the year low byte first (as A2 03 does).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import ClassVar, Literal

from PIL import Image

from ledctl.drivers.onbon.card_screen import (
    BLACK,
    EFFECT_STATIC,
    TextRun,
    card_font,
    decode_text,
    draw_area,
)

__all__ = [
    "ERR_NAMES",
    "MODEL_CODES",
    "BxCard",
    "CardStats",
    "DynamicArea",
    "SpecialArea",
    "TextRun",
    "crc16_arc",
    "decode_text",
]

# -- protocol constants ------------------------------------------------------------------------------

ERR_NO = 0
ERR_OUTOFGROUP = 1
ERR_NOCMD = 2
ERR_BUSY = 3
ERR_MEMORYVOLUME = 4
ERR_CHECKSUM = 5
ERR_FILENOTEXIST = 6
ERR_FILE_DOWNLOAD = 8
ERR_FILE_TYPE = 10
ERR_DATE_TIME_FORMAT = 14
ERR_FILE_BLOCK_NUM = 16

ERR_NAMES: dict[int, str] = {
    0: "ERR_NO", 1: "ERR_OUTOFGROUP", 2: "ERR_NOCMD", 3: "ERR_BUSY", 4: "ERR_MEMORYVOLUME",
    5: "ERR_CHECKSUM", 6: "ERR_FILENOTEXIST", 7: "ERR_FLASH", 8: "ERR_FILE_DOWNLOAD", 9: "ERR_FILE_NAME",
    10: "ERR_FILE_TYPE", 11: "ERR_FILE_CRC16", 12: "ERR_FONT_NOT_EXIST", 13: "ERR_FIRMWARE_TYPE",
    14: "ERR_DATE_TIME_FORMAT", 15: "ERR_FILE_EXIST", 16: "ERR_FILE_BLOCK_NUM",
}

MODEL_CODES: dict[str, int] = {
    "BX-5K1": 0x51, "BX-5K2": 0x58, "BX-5MK2": 0x53, "BX-5MK1": 0x54,
    "BX-6K1": 0x61, "BX-6K2": 0x62, "BX-6K3": 0x63, "BX-6K1-YY": 0x64, "BX-6K2-YY": 0x65,
    "BX-6K3-YY": 0x66, "BX-6K1&4G": 0x67, "BX-6K2&4G": 0x68, "BX-6K4": 0x69,
}
# The special dynamic area (A4) is "BX-5K2、BX-5MK 专属命令" (protocol document §8.3): every other
# model answers its commands with ERR_NOCMD.
_SPECIAL_AREA = {"BX-5K2", "BX-5MK1", "BX-5MK2"}

BROADCAST_SILENT = 0xFFFF  # broadcast 1: act, never reply
BROADCAST_REPLY = 0xFFFE  # broadcast 2: act and reply with Src 0xFFFE

SPECIAL_AREA_CAPACITY = 16 * 1024

_START, _END = 0xA5, 0x5A
_MAX_RAW = 30 + 0xFFFF + 2  # longest possible un-escaped frame body



# -- CRC-16/ARC (table form, reflected poly 0xA001, init 0) ---------------------------------------------

def _make_crc_table() -> tuple[int, ...]:
    table = []
    for i in range(256):
        crc = i
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
        table.append(crc)
    return tuple(table)


_CRC_TABLE = _make_crc_table()


def crc16_arc(data: bytes) -> int:
    crc = 0
    for b in data:
        crc = (crc >> 8) ^ _CRC_TABLE[(crc ^ b) & 0xFF]
    return crc


def _escape(body: bytes) -> bytes:
    out = bytearray()
    for b in body:
        if b == 0xA5:
            out += b"\xa6\x02"
        elif b == 0xA6:
            out += b"\xa6\x01"
        elif b == 0x5A:
            out += b"\x5b\x02"
        elif b == 0x5B:
            out += b"\x5b\x01"
        else:
            out.append(b)
    return bytes(out)


def _u16(data: bytes, off: int) -> int:
    return data[off] | (data[off + 1] << 8)


def _from_bcd(b: int) -> int | None:
    hi, lo = b >> 4, b & 0x0F
    if hi > 9 or lo > 9:
        return None
    return hi * 10 + lo


def _to_bcd(n: int) -> int:
    return ((n // 10) << 4) | (n % 10)


# -- streaming de-framer ---------------------------------------------------------------------------------

@dataclass
class _RawFrame:
    body: bytes  # un-escaped header + data + checksum
    escape_ok: bool


class _Deframer:
    """Any run of 0xA5 starts a frame, 0x5A ends it; the bytes between are un-escaped."""

    def __init__(self) -> None:
        self.reset()
        self.aborted = 0  # frames cut short by a new start run or by overflow

    def reset(self) -> None:
        self._in_frame = False
        self._buf = bytearray()
        self._esc: int | None = None
        self._escape_ok = True

    def feed(self, chunk: bytes) -> list[_RawFrame]:
        frames: list[_RawFrame] = []
        for b in chunk:
            if b == _START:
                if self._buf or self._esc is not None:
                    self.aborted += 1
                self.reset()
                self._in_frame = True
                continue
            if not self._in_frame:
                continue  # noise between frames
            if b == _END:
                if self._buf or self._esc is not None:
                    ok = self._escape_ok and self._esc is None
                    frames.append(_RawFrame(bytes(self._buf), ok))
                self.reset()
                continue
            if self._esc is not None:
                prefix, self._esc = self._esc, None
                if b in (0x01, 0x02):
                    if prefix == 0xA6:
                        self._buf.append(0xA6 if b == 0x01 else 0xA5)
                    else:
                        self._buf.append(0x5B if b == 0x01 else 0x5A)
                    self._check_overflow()
                    continue
                self._escape_ok = False  # invalid pair: keep the prefix, read b afresh
                self._buf.append(prefix)
            if b in (0xA6, 0x5B):
                self._esc = b
            else:
                self._buf.append(b)
            self._check_overflow()
        return frames

    def _check_overflow(self) -> None:
        if len(self._buf) > _MAX_RAW:
            self.aborted += 1
            self.reset()


# -- text ------------------------------------------------------------------------------------------------

def _plain(lines: list[list[TextRun]]) -> str:
    return "\n".join("".join(run.text for run in line) for line in lines)




# -- state records -----------------------------------------------------------------------------------------

@dataclass
class CardStats:
    frames_ok: int = 0  # intact frames for this card (own address or broadcast)
    frames_bad_crc: int = 0  # readable header for us, but length/escape/checksum wrong
    frames_malformed: int = 0  # too short to read a header (garbage)
    frames_foreign: int = 0  # intact or not, addressed to another card
    frames_aborted: int = 0  # cut short by a new start run
    nacks_sent: int = 0
    acks_sent: int = 0
    replies_sent: int = 0  # all reply frames, ACK/NACK/status alike
    bytes_in: int = 0


@dataclass(frozen=True)
class DynamicArea:
    area_id: int
    x: int  # pixels
    y: int
    width: int
    height: int
    run_mode: int
    timeout: int  # seconds, used by run_mode 2
    effect: int  # DisplayMode byte: 1 static, 2 type-out, 3..6 moves
    text: bytes  # raw Data bytes, codes included
    alignment: int = 0
    single_line: int = 2
    new_line: int = 1
    line_spacing: int = 0
    exit_mode: int = 0
    speed: int = 0
    stay_time: int = 0
    process_mode: int = 0
    updated_at: datetime | None = None


@dataclass(frozen=True)
class SpecialArea:
    x_bytes: int
    y: int
    w_bytes: int
    height: int
    data_type: int  # 0 text pages, 1 bitmap
    page_total: int
    run_state: int
    timeout: int
    single_line: int
    line_spacing: int
    new_line: int
    stay_time: int

    @property
    def geometry(self) -> tuple[int, int, int, int, int]:
        return (self.x_bytes, self.y, self.w_bytes, self.height, self.data_type)


class _Nack(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


# -- the card ------------------------------------------------------------------------------------------------

_Handler = Callable[["BxCard", bytes], "bytes | None"]


class BxCard:
    """One emulated BX-5K/6K controller card on a (possibly shared) serial bus."""

    HEADER_ALLOWANCE = 64  # command-header bytes allowed on top of `buffer` in one data field

    def __init__(self, address: int, width: int, height: int, colour: str, *,
                 clock: Callable[[], datetime], model: str = "BX-5K2", buffer: int = 512,
                 font_path: str | None = None, plane_order: Literal["RG", "GR"] = "RG",
                 lit_bit: Literal[0, 1] = 0) -> None:
        if not 0 <= address <= 0xFFFF:
            raise ValueError(f"address {address} out of range")
        if colour not in ("mono-red", "red-green"):
            raise ValueError(f"a BX card drives mono-red or red-green panels, not {colour!r}")
        if model not in MODEL_CODES:
            raise ValueError(f"unknown model {model!r} (known: {', '.join(MODEL_CODES)})")
        if plane_order not in ("RG", "GR"):
            raise ValueError(f"plane_order must be 'RG' or 'GR', not {plane_order!r}")
        if lit_bit not in (0, 1):
            raise ValueError("lit_bit must be 0 or 1")
        if width <= 0 or height <= 0 or buffer <= 0:
            raise ValueError("width, height and buffer must be positive")
        self._address = address
        self.width = width
        self.height = height
        self.colour = str(colour)
        self.model = model
        self.device_code = MODEL_CODES[model]
        self.buffer = buffer
        self.font_path = font_path or ""  # "": the card font of the shared model (card_screen)
        self.plane_order = plane_order
        self.lit_bit = lit_bit
        self.planes = 1 if colour == "mono-red" else 2
        self.max_areas = 5 if model.startswith("BX-6K") else 8
        self.has_special_area = model in _SPECIAL_AREA
        self._clock = clock

        # fault injection (set by the network layer)
        self.offline = False
        self.nack_busy = False

        self._deframer = _Deframer()
        self._stats = CardStats()
        self._last_error: str | None = None
        self._last_error_code: int | None = None

        self._power_on = True
        self._brightness_mode: Literal["manual", "scheduled"] = "manual"
        self._brightness_level = 15
        self._brightness_schedule: tuple[int, ...] = (15,) * 48
        self._time_offset = timedelta(0)
        self._weekday_shift = 0  # set weekday − real weekday (mod 7)

        self._areas: dict[int, DynamicArea] = {}
        self._special: SpecialArea | None = None
        self._special_touched: datetime | None = None
        self._pages: dict[int, bytes] = {}
        self._bitmap: bytes | None = None
        self._pending: bytearray | None = None

    def power_cycle(self) -> None:
        """Power off and on: dynamic and special areas are RAM and are gone ("实时显示信息不能掉电
        保存", protocol document on dynamic areas; Onbon's BX-K SCREEN_SendDynamicArea.md: "节目断电
        后不会保存"). Screen state, brightness and the clock are parameters kept in flash / RTC."""
        self._deframer = _Deframer()
        self._areas = {}
        self._special = None
        self._special_touched = None
        self._pages = {}
        self._bitmap = None
        self._pending = None

    # -- public read-only state ------------------------------------------------------------------

    @property
    def address(self) -> int:
        return self._address

    @property
    def max_data_field(self) -> int:
        return self.buffer + self.HEADER_ALLOWANCE

    @property
    def stats(self) -> CardStats:
        self._stats.frames_aborted = self._deframer.aborted
        return replace(self._stats)

    @property
    def last_error(self) -> str | None:
        return self._last_error

    @property
    def last_error_code(self) -> int | None:
        return self._last_error_code

    @property
    def power_on(self) -> bool:
        return self._power_on

    @property
    def brightness(self) -> int:
        """Effective level 0–15 now (manual level, or the schedule slot at the card's time)."""
        if self._brightness_mode == "manual":
            return self._brightness_level
        t = self.system_time
        return self._brightness_schedule[(t.hour * 60 + t.minute) // 30]

    @property
    def brightness_mode(self) -> str:
        return self._brightness_mode

    @property
    def brightness_schedule(self) -> tuple[int, ...]:
        return self._brightness_schedule

    @property
    def system_time(self) -> datetime:
        """The card's clock: the injected clock plus the offset set by A2 03 (naive wall time)."""
        return self._clock().replace(tzinfo=None) + self._time_offset

    @property
    def weekday(self) -> int:
        """Weekday the card reports, 1–7 (7 = Sunday)."""
        return (self.system_time.isoweekday() - 1 + self._weekday_shift) % 7 + 1

    @property
    def dynamic_areas(self) -> dict[int, DynamicArea]:
        self._expire()
        return dict(self._areas)

    @property
    def text_areas(self) -> dict[int, str]:
        """Dynamic area ID → decoded text (inline codes removed, `\\n` as a newline)."""
        self._expire()
        now = self.system_time
        return {i: _plain(decode_text(a.text, now)) for i, a in sorted(self._areas.items())}

    @property
    def special_area(self) -> SpecialArea | None:
        self._expire()
        return self._special

    @property
    def special_pages(self) -> dict[int, str]:
        self._expire()
        now = self.system_time
        return {i: _plain(decode_text(p, now)) for i, p in sorted(self._pages.items())}

    @property
    def special_page_shown(self) -> int:
        """The text page on show: pages cycle in order, each for StayTime × 0.5 s ("StayTime … 单位
        0.5秒", §8.3 A4 01), counted from the last change to the area; RunState 1 stops on the
        last. The document does not say when a cycle starts: ledctl's model is the last A4 01/02."""
        sp = self._special
        order = sorted(self._pages)
        if sp is None or not order:
            return 0
        stay = sp.stay_time * 0.5
        if stay <= 0 or len(order) == 1 or self._special_touched is None:
            return order[0]
        n = int(max(0.0, (self._clock() - self._special_touched).total_seconds()) // stay)
        if sp.run_state == 1:
            n = min(n, len(order) - 1)
        return order[n % len(order)]

    @property
    def bitmap(self) -> bytes | None:
        """The special-area bitmap on show (raw wire layout), or None."""
        self._expire()
        return self._bitmap

    @property
    def pending_bitmap_bytes(self) -> int | None:
        """Bytes of an unfinished A4 03 transfer, None when none is in progress."""
        return None if self._pending is None else len(self._pending)

    @property
    def shown(self) -> str:
        """"blank", "bitmap", "text", or "mixed" (bitmap and text both on show)."""
        self._expire()
        if not self._power_on:
            return "blank"
        has_bitmap = self._bitmap is not None
        has_text = bool(self._areas) or bool(self._pages)
        if has_bitmap and has_text:
            return "mixed"
        if has_bitmap:
            return "bitmap"
        return "text" if has_text else "blank"

    # -- wire side -------------------------------------------------------------------------------

    def receive(self, chunk: bytes) -> bytes:
        """Bytes heard on the wire → the bytes this card sends back (often none)."""
        if self.offline:
            self._deframer.reset()
            return b""
        self._stats.bytes_in += len(chunk)
        out = bytearray()
        for frame in self._deframer.feed(bytes(chunk)):
            out += self._handle(frame)
        return bytes(out)

    def _handle(self, frame: _RawFrame) -> bytes:
        raw = frame.body
        if len(raw) < 14 or len(raw) < (30 if raw[7] & 1 else 14):
            self._stats.frames_malformed += 1
            return b""
        hlen = 30 if raw[7] & 1 else 14
        dst, src = _u16(raw, 0), _u16(raw, 2)
        if dst not in (self._address, BROADCAST_REPLY, BROADCAST_SILENT):
            self._stats.frames_foreign += 1
            return b""
        may_reply = dst != BROADCAST_SILENT
        reply_src = BROADCAST_REPLY if dst == BROADCAST_REPLY else self._address
        datalen = _u16(raw, hlen - 2)
        problem = self._integrity_problem(raw, hlen, datalen, frame.escape_ok)
        if problem:
            self._stats.frames_bad_crc += 1
            return self._nack(src, reply_src, ERR_CHECKSUM, problem) if may_reply else b""
        self._stats.frames_ok += 1
        data = raw[hlen:hlen + datalen]
        wants_reply = may_reply and (len(data) < 3 or data[2] == 0x01)

        self._expire()
        try:
            if self.nack_busy:
                raise _Nack(ERR_BUSY, "card busy (fault injection)")
            if datalen > self.max_data_field:
                raise _Nack(ERR_MEMORYVOLUME,
                            f"data field of {datalen} bytes exceeds {self.max_data_field}")
            payload = self._dispatch(data)
        except _Nack as e:
            self._note_error(e.code, e.message)
            return self._nack(src, reply_src, e.code, e.message) if wants_reply else b""
        if not wants_reply:
            return b""
        if payload is None:
            self._stats.acks_sent += 1
            return self._reply(src, reply_src, b"\xa0\x00\x00\x00\x00")
        return self._reply(src, reply_src, payload)

    def _integrity_problem(self, raw: bytes, hlen: int, datalen: int, escape_ok: bool) -> str | None:
        if not escape_ok:
            return "invalid escape sequence"
        if len(raw) != hlen + datalen + 2:
            return f"DataLen {datalen} but {len(raw) - hlen - 2} data bytes arrived"
        covered, got = raw[:-2], _u16(raw, len(raw) - 2)
        mode = raw[8]
        if mode == 0:
            want = crc16_arc(covered)
        elif mode == 1:
            want = sum(covered) & 0xFFFF
        elif mode == 2 and self.model.startswith("BX-6K"):
            return None
        else:
            return f"CheckMode {mode} not supported by {self.model}"
        if want != got:
            return f"checksum {got:04X}, computed {want:04X}"
        return None

    def _dispatch(self, data: bytes) -> bytes | None:
        if not data:
            raise _Nack(ERR_NOCMD, "empty data field")
        group = self._COMMANDS.get(data[0])
        if group is None:
            raise _Nack(ERR_OUTOFGROUP, f"unknown command group {data[0]:02X}")
        if len(data) < 2:
            raise _Nack(ERR_NOCMD, "data field too short for a command")
        handler = group.get(data[1])
        if handler is None:
            raise _Nack(ERR_NOCMD, f"command {data[0]:02X} {data[1]:02X} not supported")
        if len(data) < 5:
            raise _Nack(ERR_NOCMD, f"command {data[0]:02X} {data[1]:02X}: data field under 5 bytes")
        if data[0] == 0xA4 and not self.has_special_area:
            raise _Nack(ERR_NOCMD, f"{self.model} has no special dynamic area")
        return handler(self, data)

    def _reply(self, dst: int, src: int, data: bytes) -> bytes:
        header = bytes([dst & 0xFF, dst >> 8, src & 0xFF, src >> 8, 0, 0, 0, 0, 0, 0,
                        self.device_code, 0x02, len(data) & 0xFF, len(data) >> 8])
        body = header + data
        crc = crc16_arc(body)
        self._stats.replies_sent += 1
        return b"\xa5" * 9 + _escape(body + bytes([crc & 0xFF, crc >> 8])) + b"\x5a"

    def _nack(self, dst: int, src: int, code: int, message: str) -> bytes:
        self._note_error(code, message)
        self._stats.nacks_sent += 1
        return self._reply(dst, src, bytes([0xA0, 0x01, code, 0, 0]))

    def _note_error(self, code: int, message: str) -> None:
        self._last_error_code = code
        self._last_error = f"NACK {code} {ERR_NAMES.get(code, '?')}: {message}"

    # -- lazy expiry -----------------------------------------------------------------------------

    def _expire(self) -> None:
        now = self._clock()
        for area_id, area in list(self._areas.items()):
            if area.run_mode == 2 and area.updated_at is not None and \
                    (now - area.updated_at).total_seconds() > area.timeout:
                del self._areas[area_id]
        sp = self._special
        if sp is not None and sp.run_state == 2 and self._special_touched is not None and \
                (now - self._special_touched).total_seconds() > sp.timeout:
            self._drop_special()

    def _drop_special(self) -> None:
        self._special = None
        self._special_touched = None
        self._pages = {}
        self._bitmap = None
        self._pending = None

    # -- commands --------------------------------------------------------------------------------

    def _cmd_ping(self, data: bytes) -> bytes | None:
        return None

    def _cmd_status(self, data: bytes) -> bytes | None:
        t = self.system_time
        sp = self._special
        if sp is None:
            pages = 0
        elif sp.data_type == 1:
            pages = 1 if self._bitmap is not None else 0
        else:
            pages = sp.page_total
        ids = sorted(self._areas)
        out = bytearray(b"\xa1\x02\x00\x00\x00")
        out.append(0x01 if self._power_on else 0x02)
        out.append(self.brightness)
        # The century first: "2011 年表示为0x20,0x11" (protocol document, A1 02 SystemTime); Onbon's
        # C# demo (BX-K Form1.cs) reads pStatus[2] as the century too.
        out += bytes([_to_bcd(t.year // 100), _to_bcd(t.year % 100), _to_bcd(t.month), _to_bcd(t.day),
                      self.weekday, _to_bcd(t.hour), _to_bcd(t.minute), _to_bcd(t.second)])
        out.append(0)  # ProgramNUM: program files are not emulated
        out += b"\x00" * 4  # FileName
        out.append(1 if sp is not None else 0)
        out.append(pages)
        out.append(len(ids))
        out += bytes(ids)
        out += b"\x00" * 16  # BarCode
        out += b"\x00" * 12  # CustomId
        return bytes(out)

    def _cmd_set_time(self, data: bytes) -> bytes | None:
        if len(data) != 13:
            raise _Nack(ERR_DATE_TIME_FORMAT, f"A2 03 needs 13 data bytes, got {len(data)}")
        digits = [_from_bcd(b) for b in data[5:12]]
        if any(d is None for d in digits):
            raise _Nack(ERR_DATE_TIME_FORMAT, f"bad BCD in {data[5:12].hex(' ')}")
        lo, hi, month, day, hour, minute, second = (d for d in digits if d is not None)
        weekday = data[12]
        try:
            when = datetime(hi * 100 + lo, month, day, hour, minute, second)
        except ValueError as e:
            raise _Nack(ERR_DATE_TIME_FORMAT, f"bad date/time: {e}") from None
        if not 1 <= weekday <= 7:
            raise _Nack(ERR_DATE_TIME_FORMAT, f"weekday {weekday} not in 1..7")
        self._time_offset = when - self._clock().replace(tzinfo=None)
        self._weekday_shift = (weekday - when.isoweekday()) % 7
        return None

    def _cmd_power(self, data: bytes) -> bytes | None:
        if len(data) != 6 or data[5] not in (1, 2):
            raise _Nack(ERR_NOCMD, f"A3 00 wants 6 bytes with OnOffFlag 1/2: {data.hex(' ')}")
        self._power_on = data[5] == 1
        return None

    def _cmd_brightness(self, data: bytes) -> bytes | None:
        kind = data[5] if len(data) > 5 else None
        if kind == 1 and len(data) == 7 and data[6] <= 15:
            self._brightness_mode = "manual"
            self._brightness_level = data[6]
            return None
        if kind == 2 and len(data) == 55 and max(data[7:55]) <= 15:
            self._brightness_mode = "scheduled"
            self._brightness_schedule = tuple(data[7:55])
            return None
        raise _Nack(ERR_NOCMD, f"A3 02: bad brightness request ({len(data)} bytes, type {kind})")

    def _cmd_clear(self, data: bytes) -> bytes | None:
        self._areas.clear()
        self._pages = {}
        self._bitmap = None
        self._pending = None
        return None

    def _cmd_dynamic(self, data: bytes) -> bytes | None:
        now = self._clock()
        process_mode = data[3]
        pos = 5
        if pos >= len(data):
            raise _Nack(ERR_NOCMD, "A3 06: DeleteAreaNum missing")
        delete_num = data[pos]
        pos += 1
        delete_all = delete_num == 0xFF
        delete_ids: bytes = b""
        if not delete_all:
            delete_ids = data[pos:pos + delete_num]
            if len(delete_ids) != delete_num:
                raise _Nack(ERR_NOCMD, "A3 06: DeleteAreaId list truncated")
            pos += delete_num
        if pos >= len(data):
            raise _Nack(ERR_NOCMD, "A3 06: AreaNum missing")
        area_num = data[pos]
        pos += 1
        new_areas: list[DynamicArea] = []
        for k in range(area_num):
            if pos + 2 > len(data):
                raise _Nack(ERR_NOCMD, f"A3 06: AreaDataLen of area #{k} missing")
            rec_len = _u16(data, pos)
            pos += 2
            record = data[pos:pos + rec_len]
            if len(record) != rec_len:
                raise _Nack(ERR_NOCMD, f"A3 06: area #{k} says {rec_len} bytes, {len(record)} left")
            pos += rec_len
            new_areas.append(self._parse_area(record, k, process_mode, now))
        if pos != len(data):
            raise _Nack(ERR_NOCMD, f"A3 06: {len(data) - pos} stray bytes after the last area")

        areas = {} if delete_all else {i: a for i, a in self._areas.items() if i not in delete_ids}
        for area in new_areas:
            areas[area.area_id] = area
        self._areas = areas
        return None

    def _parse_area(self, rec: bytes, k: int, process_mode: int, now: datetime) -> DynamicArea:
        def need(n: int) -> None:
            if len(rec) < n:
                raise _Nack(ERR_NOCMD, f"A3 06: area #{k} record truncated ({len(rec)} bytes)")

        need(15)
        x_raw, y, w_raw, h = _u16(rec, 1), _u16(rec, 3), _u16(rec, 5), _u16(rec, 7)
        if (x_raw | w_raw) & 0x8000 and not self.model.startswith("BX-6K"):
            # 5th-generation cards count X and width in bytes (8 px) only: Onbon's Java SDK fixed
            # "X coordinate and width setting has no effect on 5th-gen font cards" (bx.k.java commit
            # 46bc87c, BxAreaDynamic.build: is5K → x/8, w/8, no flag); its C++ demo divides by 8 and its
            # C# demo sets the pixel flag only for type >= 6. A pixel-flagged area is no area here.
            raise _Nack(ERR_NOCMD, f"A3 06: area #{k} X/width carry the pixel flag, which a {self.model} "
                                   "does not take (5th generation: bytes of 8 px, flag clear)")
        x = x_raw & 0x7FFF if x_raw & 0x8000 else (x_raw & 0x7FFF) * 8
        w = w_raw & 0x7FFF if w_raw & 0x8000 else (w_raw & 0x7FFF) * 8
        area_id, spacing, run_mode, timeout, sound = rec[9], rec[10], rec[11], _u16(rec, 12), rec[14]
        pos = 15
        if sound not in (0, 1, 2):
            raise _Nack(ERR_NOCMD, f"A3 06: area #{k} SoundMode {sound}")
        if sound:
            pos += 3
        if sound == 2:
            need(pos + 4)
            sound_len = int.from_bytes(rec[pos:pos + 4], "little")
            pos += 4 + sound_len
        need(pos + 1)
        pos += 1 + rec[pos]  # ExtendParaLen and its bytes
        need(pos + 11)
        align, single, new_line, effect, exit_mode, speed, stay = rec[pos:pos + 7]
        text_len = int.from_bytes(rec[pos + 7:pos + 11], "little")
        text = rec[pos + 11:]
        if len(text) != text_len:
            raise _Nack(ERR_NOCMD, f"A3 06: area #{k} text DataLen {text_len}, {len(text)} bytes follow")
        if text_len > self.buffer:
            raise _Nack(ERR_MEMORYVOLUME, f"A3 06: area #{k} text of {text_len} bytes > {self.buffer}")
        if area_id >= self.max_areas:
            raise _Nack(ERR_MEMORYVOLUME, f"A3 06: area ID {area_id} (this model has {self.max_areas})")
        if run_mode not in (0, 1, 2):
            raise _Nack(ERR_NOCMD, f"A3 06: area #{k} RunMode {run_mode}")
        if w == 0 or h == 0 or x + w > self.width or y + h > self.height:
            raise _Nack(ERR_NOCMD, f"A3 06: area #{k} {w}x{h}+{x}+{y} does not fit "
                                   f"the {self.width}x{self.height} screen")
        return DynamicArea(area_id=area_id, x=x, y=y, width=w, height=h, run_mode=run_mode,
                           timeout=timeout, effect=effect, text=bytes(text), alignment=align,
                           single_line=single, new_line=new_line, line_spacing=spacing,
                           exit_mode=exit_mode, speed=speed, stay_time=stay, process_mode=process_mode,
                           updated_at=now)

    # special area

    def _cmd_special_setup(self, data: bytes) -> bytes | None:
        if len(data) != 29:
            raise _Nack(ERR_NOCMD, f"A4 01 needs 29 data bytes, got {len(data)}")
        sp = SpecialArea(x_bytes=_u16(data, 5), y=_u16(data, 7), w_bytes=_u16(data, 9),
                         height=_u16(data, 11), data_type=data[13], page_total=data[14],
                         run_state=data[15], timeout=_u16(data, 16), single_line=data[18],
                         line_spacing=data[19], new_line=data[20], stay_time=_u16(data, 21))
        if sp.data_type not in (0, 1):
            raise _Nack(ERR_NOCMD, f"A4 01: DataType {sp.data_type}")
        if sp.run_state not in (0, 1, 2):
            raise _Nack(ERR_NOCMD, f"A4 01: RunState {sp.run_state}")
        if sp.w_bytes == 0 or sp.height == 0 or (sp.x_bytes + sp.w_bytes) * 8 > self.width or \
                sp.y + sp.height > self.height:
            raise _Nack(ERR_NOCMD, f"A4 01: area {sp.w_bytes * 8}x{sp.height}+{sp.x_bytes * 8}+{sp.y} "
                                   f"does not fit the {self.width}x{self.height} screen")
        if sp.data_type == 0 and sp.page_total == 0:
            raise _Nack(ERR_NOCMD, "A4 01: text mode with Pagetotal 0")
        if sp.data_type == 1:
            sp = replace(sp, page_total=0)
            if self._bitmap_size(sp) > SPECIAL_AREA_CAPACITY:
                raise _Nack(ERR_MEMORYVOLUME, f"A4 01: bitmap of {self._bitmap_size(sp)} bytes > 16 KB")
        old = self._special
        if old is None or old.geometry != sp.geometry:
            self._pages = {}
            self._bitmap = None
            self._pending = None
        elif sp.data_type == 0:
            self._pages = {i: p for i, p in self._pages.items() if i < sp.page_total}
        self._special = sp
        self._special_touched = self._clock()
        return None

    def _bitmap_size(self, sp: SpecialArea) -> int:
        return sp.height * sp.w_bytes * self.planes

    def _special_in_mode(self, cmd: str, data_type: int) -> SpecialArea:
        sp = self._special
        if sp is None:
            raise _Nack(ERR_FILENOTEXIST, f"{cmd}: no special area set up (A4 01 first)")
        if sp.data_type != data_type:
            mode = "bitmap" if sp.data_type == 1 else "text"
            raise _Nack(ERR_FILE_TYPE, f"{cmd}: the special area is set up in {mode} mode")
        return sp

    def _cmd_special_page(self, data: bytes) -> bytes | None:
        sp = self._special_in_mode("A4 02", 0)
        if len(data) < 8:
            raise _Nack(ERR_NOCMD, "A4 02: header truncated")
        page, page_len = data[5], _u16(data, 6)
        text = data[8:]
        if len(text) != page_len:
            raise _Nack(ERR_NOCMD, f"A4 02: PageDataLen {page_len}, {len(text)} bytes follow")
        if page >= sp.page_total:
            raise _Nack(ERR_FILE_BLOCK_NUM, f"A4 02: page {page} ≥ Pagetotal {sp.page_total}")
        limit = min(self.buffer, 1024, SPECIAL_AREA_CAPACITY // sp.page_total)
        if page_len > limit:
            raise _Nack(ERR_MEMORYVOLUME, f"A4 02: page of {page_len} bytes > {limit}")
        self._pages[page] = bytes(text)
        self._special_touched = self._clock()
        return None

    def _cmd_special_delete_page(self, data: bytes) -> bytes | None:
        sp = self._special_in_mode("A4 09", 0)
        if len(data) != 6:
            raise _Nack(ERR_NOCMD, f"A4 09 needs 6 data bytes, got {len(data)}")
        if data[5] >= sp.page_total:
            raise _Nack(ERR_FILE_BLOCK_NUM, f"A4 09: page {data[5]} ≥ Pagetotal {sp.page_total}")
        self._pages.pop(data[5], None)
        return None

    def _cmd_special_bitmap(self, data: bytes) -> bytes | None:
        sp = self._special_in_mode("A4 03", 1)
        if len(data) < 8:
            raise _Nack(ERR_NOCMD, "A4 03: header truncated")
        flag, addr, block = data[5], _u16(data, 6), data[8:]
        if flag not in (0, 1):
            self._pending = None
            raise _Nack(ERR_NOCMD, f"A4 03: BlockFlag {flag}")
        if len(block) > self.buffer:
            self._pending = None
            raise _Nack(ERR_MEMORYVOLUME, f"A4 03: block of {len(block)} bytes > {self.buffer}")
        if addr == 0:
            self._pending = bytearray()
        expected = 0 if self._pending is None else len(self._pending)
        if self._pending is None or addr != expected:
            # Refused, but what has arrived stays: after a lost ACK the sender repeats a block,
            # learns from this NACK that the card is already past it, and goes on.
            raise _Nack(ERR_FILE_BLOCK_NUM, f"A4 03: BlockAddr {addr}, expected {expected}")
        self._pending += block
        total = self._bitmap_size(sp)
        if len(self._pending) > total:
            got = len(self._pending)
            self._pending = None
            raise _Nack(ERR_FILE_DOWNLOAD, f"A4 03: {got} bytes received, the area takes {total}")
        if flag == 1:
            got = len(self._pending)
            image = bytes(self._pending)
            self._pending = None
            if got != total:
                raise _Nack(ERR_FILE_DOWNLOAD,
                            f"A4 03: last block leaves {got} bytes, the area takes {total}")
            self._bitmap = image
            self._special_touched = self._clock()
        return None

    def _cmd_special_delete(self, data: bytes) -> bytes | None:
        self._drop_special()
        return None

    _COMMANDS: ClassVar[dict[int, dict[int, _Handler]]] = {
        0xA1: {0x02: _cmd_status},
        0xA2: {0x00: _cmd_ping, 0x03: _cmd_set_time},
        0xA3: {0x00: _cmd_power, 0x02: _cmd_brightness, 0x06: _cmd_dynamic, 0x10: _cmd_clear},
        0xA4: {0x01: _cmd_special_setup, 0x02: _cmd_special_page, 0x03: _cmd_special_bitmap,
               0x04: _cmd_special_delete, 0x09: _cmd_special_delete_page},
    }

    # -- picture -----------------------------------------------------------------------------------

    def snapshot(self) -> Image.Image:
        """What the panel shows now, RGB at (width, height). Brightness is not applied."""
        self._expire()
        img = Image.new("RGB", (self.width, self.height), BLACK)
        if not self._power_on:
            return img
        sp = self._special
        if sp is not None:
            box = (sp.x_bytes * 8, sp.y, sp.w_bytes * 8, sp.height)
            if sp.data_type == 1 and self._bitmap is not None:
                img.paste(self._bitmap_image(sp, self._bitmap), box[:2])
            elif sp.data_type == 0 and self._pages:
                self._draw_text(img, box, self._pages[self.special_page_shown], align=0,
                                spacing=sp.line_spacing, wrap=sp.new_line == 2)
        for _, area in sorted(self._areas.items()):
            self._draw_text(img, (area.x, area.y, area.width, area.height), area.text,
                            align=area.alignment, spacing=area.line_spacing, wrap=area.new_line == 2,
                            effect=area.effect, speed=area.speed, since=area.updated_at)
        return img

    def _bitmap_image(self, sp: SpecialArea, data: bytes) -> Image.Image:
        w, h = sp.w_bytes * 8, sp.height
        flip = 0xFF if self.lit_bit == 0 else 0x00

        def plane(raw: bytes) -> Image.Image:
            return Image.frombytes("1", (w, h), bytes(b ^ flip for b in raw)).convert("L")

        dark = Image.new("L", (w, h), 0)
        if self.planes == 1:
            return Image.merge("RGB", (plane(data), dark, dark))
        first, second = plane(data[0::2]), plane(data[1::2])
        red, green = (first, second) if self.plane_order == "RG" else (second, first)
        return Image.merge("RGB", (red, green, dark))

    def _draw_text(self, img: Image.Image, box: tuple[int, int, int, int], raw: bytes, *,
                   align: int, spacing: int, wrap: bool, effect: int = EFFECT_STATIC, speed: int = 0,
                   since: datetime | None = None) -> None:
        """The area as the card draws it now (the shared model in drivers/onbon/card_screen.py)."""
        x0, y0, w, h = box
        elapsed = (self._clock() - since).total_seconds() if since is not None else 0.0
        area = draw_area(decode_text(raw, self.system_time), w, h, align=align, spacing=spacing, wrap=wrap,
                         effect=effect, speed=speed, elapsed_s=max(0.0, elapsed),
                         mono=self.colour == "mono-red", font=card_font(self.font_path))
        img.paste(area, (x0, y0))

