"""Onbon BX link layer: frames, CRC-16/ARC, escaping and a streaming decoder.

Wire format (fact sheet §2)::

    A5 x N | escape(header + data + checksum) | 5A

The header is 14 bytes (30 with a barcode); every multi-byte number is
little-endian; DataLen and the checksum are computed on the unescaped bytes.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from ledctl.drivers.base import ProtocolError

__all__ = [
    "BROADCAST",
    "BROADCAST_REPLY",
    "CHECK_CRC16",
    "CHECK_NONE",
    "CHECK_SUM",
    "END",
    "HOST_ADDRESS",
    "START",
    "Frame",
    "FrameDecoder",
    "FrameError",
    "checksum",
    "crc16_arc",
    "decode",
    "encode",
    "escape",
    "unescape",
]

START = 0xA5
END = 0x5A
_ESC_A5 = 0xA6  # A5 -> A6 02, A6 -> A6 01
_ESC_5A = 0x5B  # 5A -> 5B 02, 5B -> 5B 01

HOST_ADDRESS = 0x8000  # default PC address (0x8000-0xDFFF are PC addresses)
BROADCAST = 0xFFFF  # every screen, never answered
BROADCAST_REPLY = 0xFFFE  # every screen, answered (the reply also carries 0xFFFE)

CHECK_CRC16 = 0
CHECK_SUM = 1
CHECK_NONE = 2

HEADER_LEN = 14
BARCODE_LEN = 16
CHECKSUM_LEN = 2
MAX_DATA_LEN = 0xFFFF

FrameErrorKind = Literal["crc", "length", "escape", "truncated", "header"]


class FrameError(ProtocolError):
    """A frame that cannot be accepted; `kind` says why."""

    KINDS = frozenset({"crc", "length", "escape", "truncated", "header"})

    def __init__(self, kind: FrameErrorKind, message: str) -> None:
        if kind not in self.KINDS:
            raise ValueError(f"unknown FrameError kind {kind!r}")
        super().__init__(f"{kind}: {message}")
        self.kind: FrameErrorKind = kind
        self.message = message

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, FrameError):
            return NotImplemented
        return (self.kind, self.message) == (other.kind, other.message)

    def __hash__(self) -> int:
        return hash((self.kind, self.message))

    def __repr__(self) -> str:
        return f"FrameError(kind={self.kind!r}, message={self.message!r})"


# --- CRC-16/ARC -------------------------------------------------------------


def _crc_table() -> tuple[int, ...]:
    table = []
    for n in range(256):
        crc = n
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
        table.append(crc)
    return tuple(table)


_CRC_TABLE = _crc_table()


def crc16_arc(data: bytes) -> int:
    """CRC-16/ARC (poly 0x8005 reflected, init 0, no xorout); 0xBB3D for b"123456789"."""
    crc = 0
    table = _CRC_TABLE
    for b in data:
        crc = (crc >> 8) ^ table[(crc ^ b) & 0xFF]
    return crc


def checksum(check_mode: int, data: bytes) -> int:
    """The 16-bit check value for `check_mode`: 0 CRC-16/ARC, 1 byte sum, 2 none (0)."""
    if check_mode == CHECK_CRC16:
        return crc16_arc(data)
    if check_mode == CHECK_SUM:
        return sum(data) & 0xFFFF
    if check_mode == CHECK_NONE:
        return 0
    raise ValueError(f"unknown check mode {check_mode} (0 CRC16, 1 sum, 2 none)")


# --- escaping ---------------------------------------------------------------

_ESCAPE_MAP = {0xA5: b"\xa6\x02", 0xA6: b"\xa6\x01", 0x5A: b"\x5b\x02", 0x5B: b"\x5b\x01"}
_UNESCAPE_MAP = {
    (0xA6, 0x02): 0xA5,
    (0xA6, 0x01): 0xA6,
    (0x5B, 0x02): 0x5A,
    (0x5B, 0x01): 0x5B,
}


def escape(raw: bytes) -> bytes:
    """Escape A5, A6, 5A and 5B so the result holds no start or end marker."""
    out = bytearray()
    for b in raw:
        pair = _ESCAPE_MAP.get(b)
        if pair is None:
            out.append(b)
        else:
            out += pair
    return bytes(out)


def unescape(body: bytes) -> bytes:
    """Reverse `escape`; raise FrameError(kind="escape") on an invalid or cut-off pair."""
    out = bytearray()
    i = 0
    n = len(body)
    while i < n:
        b = body[i]
        if b in (_ESC_A5, _ESC_5A):
            if i + 1 >= n:
                raise FrameError("escape", f"escape byte {b:02X} at offset {i} has no second byte")
            nxt = body[i + 1]
            value = _UNESCAPE_MAP.get((b, nxt))
            if value is None:
                raise FrameError("escape", f"invalid escape pair {b:02X} {nxt:02X} at offset {i}")
            out.append(value)
            i += 2
        else:
            out.append(b)
            i += 1
    return bytes(out)


# --- frames -----------------------------------------------------------------


def _check_uint(name: str, value: int, bits: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < (1 << bits):
        raise ValueError(f"{name} must be an integer 0..{(1 << bits) - 1}, got {value!r}")


@dataclass(frozen=True)
class Frame:
    """One frame: header fields plus the data field (unescaped)."""

    dst: int
    src: int
    data: bytes
    device_type: int = 0xFE  # wildcard
    protocol_version: int = 0x02
    check_mode: int = CHECK_CRC16
    display_mode: int = 0
    reserved: bytes = b"\x00\x00\x00"  # header offsets 4-6
    barcode: bytes | None = None  # 16 bytes; sets BarCodeOption bit 0

    def __post_init__(self) -> None:
        _check_uint("dst", self.dst, 16)
        _check_uint("src", self.src, 16)
        _check_uint("device_type", self.device_type, 8)
        _check_uint("protocol_version", self.protocol_version, 8)
        _check_uint("display_mode", self.display_mode, 8)
        if self.check_mode not in (CHECK_CRC16, CHECK_SUM, CHECK_NONE):
            raise ValueError(f"check_mode must be 0 (CRC16), 1 (sum) or 2 (none), got {self.check_mode!r}")
        object.__setattr__(self, "data", bytes(self.data))
        object.__setattr__(self, "reserved", bytes(self.reserved))
        if len(self.data) > MAX_DATA_LEN:
            raise ValueError(f"data field is {len(self.data)} bytes; DataLen holds at most {MAX_DATA_LEN}")
        if len(self.reserved) != 3:
            raise ValueError(f"reserved must be 3 bytes, got {len(self.reserved)}")
        if self.barcode is not None:
            object.__setattr__(self, "barcode", bytes(self.barcode))
            if len(self.barcode) != BARCODE_LEN:
                raise ValueError(f"barcode must be {BARCODE_LEN} bytes, got {len(self.barcode)}")

    def header(self) -> bytes:
        """The unescaped packet header (14 bytes, 30 with a barcode)."""
        out = bytearray()
        out += self.dst.to_bytes(2, "little")
        out += self.src.to_bytes(2, "little")
        out += self.reserved
        if self.barcode is None:
            out.append(0x00)
        else:
            out.append(0x01)
            out += self.barcode
        out += bytes((self.check_mode, self.display_mode, self.device_type, self.protocol_version))
        out += len(self.data).to_bytes(2, "little")
        return bytes(out)

    def phy1(self) -> bytes:
        """Header + data + checksum (LE), before escaping."""
        body = self.header() + self.data
        return body + checksum(self.check_mode, body).to_bytes(2, "little")


def encode(frame: Frame, start_run: int = 8) -> bytes:
    """The bytes to put on the wire: `start_run` x A5, escaped PHY1, 5A."""
    if isinstance(start_run, bool) or not isinstance(start_run, int) or start_run < 1:
        raise ValueError(f"start_run must be a positive integer, got {start_run!r}")
    return bytes([START]) * start_run + escape(frame.phy1()) + bytes([END])


def _parse_phy1(raw: bytes, check_modes: frozenset[int]) -> Frame:
    """Decode an unescaped PHY1 (header + data + checksum) into a Frame."""
    if len(raw) < HEADER_LEN + CHECKSUM_LEN:
        raise FrameError(
            "truncated",
            f"frame body is {len(raw)} bytes; a header and checksum need at least "
            f"{HEADER_LEN + CHECKSUM_LEN}",
        )
    option = raw[7]
    if option & ~0x01:
        raise FrameError("header", f"BarCodeOption {option:02X} has unknown bits set (only bit 0 is defined)")
    hdr_len = HEADER_LEN + (BARCODE_LEN if option & 0x01 else 0)
    if len(raw) < hdr_len + CHECKSUM_LEN:
        raise FrameError(
            "truncated",
            f"frame body is {len(raw)} bytes; a header with barcode and checksum need "
            f"{hdr_len + CHECKSUM_LEN}",
        )
    tail = raw[hdr_len - 6 : hdr_len]
    check_mode, display_mode, device_type, version = tail[0], tail[1], tail[2], tail[3]
    data_len = int.from_bytes(tail[4:6], "little")
    actual = len(raw) - hdr_len - CHECKSUM_LEN
    if actual != data_len:
        raise FrameError("length", f"header DataLen is {data_len} but the frame carries {actual} data bytes")
    if check_mode not in (CHECK_CRC16, CHECK_SUM, CHECK_NONE):
        raise FrameError("header", f"unknown CheckMode {check_mode} (0 CRC16, 1 sum, 2 none)")
    if check_mode not in check_modes:
        raise FrameError("header", f"CheckMode {check_mode} is not accepted here")
    covered = raw[:-CHECKSUM_LEN]
    got = int.from_bytes(raw[-CHECKSUM_LEN:], "little")
    if check_mode != CHECK_NONE:
        want = checksum(check_mode, covered)
        if got != want:
            what = "CRC16" if check_mode == CHECK_CRC16 else "additive checksum"
            raise FrameError("crc", f"{what} mismatch: frame carries {got:04X}, computed {want:04X}")
    return Frame(
        dst=int.from_bytes(raw[0:2], "little"),
        src=int.from_bytes(raw[2:4], "little"),
        data=raw[hdr_len : hdr_len + data_len],
        device_type=device_type,
        protocol_version=version,
        check_mode=check_mode,
        display_mode=display_mode,
        reserved=raw[4:7],
        barcode=raw[8:24] if option & 0x01 else None,
    )


_HUNT, _RUN, _BODY, _ESC = range(4)


class FrameDecoder:
    """Streaming decoder: feed it bytes as they arrive, get frames and errors back.

    * Any run of one or more A5 starts a frame; bytes outside a frame are ignored.
    * An A5 inside a frame means the frame was cut off: a "truncated" error is
      reported and the new start run is followed.
    * An invalid escape pair or a frame longer than its DataLen is reported at
      once and the rest of that frame is skipped (up to the next A5).
    * Damaged input never raises: every problem comes back as a FrameError in the list.

    `check_modes` lists the CheckMode values accepted (others give kind "header");
    pass (0,) to refuse frames that carry no real checksum.
    """

    def __init__(self, check_modes: Iterable[int] = (CHECK_CRC16, CHECK_SUM, CHECK_NONE)) -> None:
        self._check_modes = frozenset(check_modes)
        self._state = _HUNT
        self._buf = bytearray()
        self._esc = 0
        self._limit: int | None = None

    @property
    def in_frame(self) -> bool:
        """True while part of a frame has been received."""
        return self._state in (_BODY, _ESC)

    def reset(self) -> None:
        """Forget any partial frame and wait for the next start run."""
        self._state = _HUNT
        self._buf.clear()
        self._limit = None

    def flush(self) -> list[FrameError]:
        """End of stream (or a line timeout): report a frame left incomplete, then reset."""
        out: list[FrameError] = []
        if self.in_frame:
            out.append(
                FrameError("truncated", f"stream ended inside a frame after {len(self._buf)} body bytes")
            )
        self.reset()
        return out

    def feed(self, chunk: bytes) -> list[Frame | FrameError]:
        # Damaged input comes back as FrameErrors; anything raised here is a bug in the decoder
        # and must surface as one, not pass for line noise that is retried.
        out: list[Frame | FrameError] = []
        for b in chunk:
            self._step(b, out)
        return out

    def _cut_off(self, out: list[Frame | FrameError]) -> None:
        out.append(
            FrameError(
                "truncated",
                f"frame cut off by a new start run after {len(self._buf)} body bytes",
            )
        )
        self._buf.clear()
        self._limit = None
        self._state = _RUN

    def _add(self, value: int, out: list[Frame | FrameError]) -> None:
        buf = self._buf
        buf.append(value)
        if self._limit is None:
            # with a barcode (BarCodeOption bit 0) the length field moves 16 bytes on
            hdr_len = HEADER_LEN + (BARCODE_LEN if len(buf) >= 8 and buf[7] & 0x01 else 0)
            if len(buf) == hdr_len:
                self._limit = hdr_len + int.from_bytes(buf[hdr_len - 2 : hdr_len], "little") + CHECKSUM_LEN
        if self._limit is not None and len(buf) > self._limit:
            out.append(
                FrameError(
                    "length",
                    f"frame runs past its DataLen ({self._limit - CHECKSUM_LEN} bytes of header "
                    "and data expected); skipping to the next start run",
                )
            )
            self.reset()

    def _step(self, b: int, out: list[Frame | FrameError]) -> None:
        state = self._state
        if b == START:
            if state in (_BODY, _ESC):
                self._cut_off(out)
            else:
                self._state = _RUN
            return
        if state == _HUNT:
            return
        if state == _ESC:
            value = _UNESCAPE_MAP.get((self._esc, b))
            if value is None:
                out.append(FrameError("escape", f"invalid escape pair {self._esc:02X} {b:02X}"))
                self.reset()  # skip the rest of this frame (up to the next A5)
                return
            self._state = _BODY
            self._add(value, out)
            return
        # _RUN or _BODY
        if state == _RUN:
            self._buf.clear()
            self._limit = None
            self._state = _BODY
        if b == END:
            raw = bytes(self._buf)
            self.reset()
            try:
                out.append(_parse_phy1(raw, self._check_modes))
            except FrameError as err:
                out.append(err)
            return
        if b in (_ESC_A5, _ESC_5A):
            self._esc = b
            self._state = _ESC
            return
        self._add(b, out)


def decode(wire: bytes, check_modes: Iterable[int] = (CHECK_CRC16, CHECK_SUM, CHECK_NONE)) -> Frame:
    """Decode exactly one frame from `wire`; raise the first FrameError otherwise."""
    dec = FrameDecoder(check_modes)
    items = dec.feed(wire) + dec.flush()
    for item in items:
        if isinstance(item, FrameError):
            raise item
    if not items:
        raise FrameError("truncated", "no complete frame found")
    if len(items) > 1:
        raise FrameError("length", f"found {len(items)} frames where exactly one was expected")
    frame = items[0]
    assert isinstance(frame, Frame)
    return frame
