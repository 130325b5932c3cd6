"""Onbon BX data fields: request builders and reply parsing (fact sheet §4-§5).

Every builder returns the *data field* only (CmdGroup onwards); wrap it in a
`frame.Frame` and `frame.encode` it to get wire bytes. Builders take
`reply=False` for broadcasts (0xFFFF), which the card never answers.

Text (`encode_text`): GB2312 with a `\\F` font and `\\C` colour prefix. The protocol
has no way to send a literal backslash (0x5C always starts a control code), so a
backslash in the text is refused with `TextNotEncodable`. A newline becomes
`NEWLINE_CODE`, the two ASCII bytes backslash + "n" (5C 6E): the doc writes the
line-break code as `\\n` next to the other backslash codes and never gives it a
byte value (fact sheet §7.14) - check on hardware.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from .frame import FrameError

__all__ = [
    "ERRORS",
    "NEWLINE_CODE",
    "Reply",
    "Status",
    "TextNotEncodable",
    "bitmap_blocks",
    "brightness",
    "brightness_schedule",
    "carousel_info",
    "clear_screen",
    "delete_all_dynamic_areas",
    "delete_dynamic_areas",
    "dynamic_text",
    "encode_text",
    "format_files",
    "is_ack",
    "lock_program",
    "nack_reason",
    "parse_reply",
    "parse_status",
    "ping",
    "query_fonts",
    "query_status",
    "request",
    "screen",
    "set_time",
    "special_area_delete",
    "special_area_delete_page",
    "special_area_page",
    "special_area_setup",
]

# Command groups and numbers used here.
GROUP_ACK = 0xA0
CMD_ACK = 0x00
CMD_NACK = 0x01
GROUP_FILE = 0xA1
GROUP_SYSTEM = 0xA2
GROUP_DISPLAY = 0xA3
GROUP_SPECIAL = 0xA4

RESPONSE_WANTED = 0x01
RESPONSE_NONE = 0x02

NEWLINE_CODE = b"\\n"
SPECIAL_AREA_CAPACITY = 16 * 1024  # bytes, text pages or bitmap
MAX_PAGE_BYTES = 1024
MAX_DATA_FIELD = 1024  # 6K receive buffer; 5K cards take 512


def _uint(name: str, value: int, lo: int, hi: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise ValueError(f"{name} must be an integer {lo}..{hi}, got {value!r}")
    return value


def _u16(value: int) -> bytes:
    return value.to_bytes(2, "little")


def request(
    group: int, cmd: int, params: bytes = b"", *, reply: bool = True, reserved: bytes = b"\x00\x00"
) -> bytes:
    """Request data field: CmdGroup, Cmd, Response (01 reply / 02 none), 2 reserved bytes, params."""
    _uint("group", group, 0, 0xFF)
    _uint("cmd", cmd, 0, 0xFF)
    if len(reserved) != 2:
        raise ValueError(f"reserved must be 2 bytes, got {len(reserved)}")
    response = RESPONSE_WANTED if reply else RESPONSE_NONE
    return bytes((group, cmd, response)) + bytes(reserved) + bytes(params)


# --- system / screen --------------------------------------------------------


def ping(*, reply: bool = True) -> bytes:
    """A2 00: ping (answered with ACK)."""
    return request(GROUP_SYSTEM, 0x00, reply=reply)


def query_status(*, reply: bool = True) -> bytes:
    """A1 02: query controller status (answered with A1 02 + status, see `parse_status`)."""
    return request(GROUP_FILE, 0x02, reply=reply)


def format_files(*, reply: bool = True) -> bytes:
    """A1 00: erase every file on the card, fonts included."""
    return request(GROUP_FILE, 0x00, reply=reply)


def _bcd(value: int) -> int:
    return ((value // 10) << 4) | (value % 10)


def set_time(t: datetime, *, reply: bool = True, reserved: bytes = b"\x00\x00") -> bytes:
    """A2 03: set the card clock to the wall-clock fields of `t` (no time-zone conversion).

    BCD year (low byte first: 2013 -> 13 20), month, day, hour, minute, second,
    then weekday 1..7 with 7 = Sunday.
    """
    if not 0 <= t.year <= 9999:
        raise ValueError(f"year {t.year} cannot be sent")
    params = bytes(
        (
            _bcd(t.year % 100),
            _bcd(t.year // 100),
            _bcd(t.month),
            _bcd(t.day),
            _bcd(t.hour),
            _bcd(t.minute),
            _bcd(t.second),
            t.isoweekday(),
        )
    )
    return request(GROUP_SYSTEM, 0x03, params, reply=reply, reserved=reserved)


def carousel_info(show: bool, *, reply: bool = True) -> bytes:
    """A2 08: show (True) or hide the card's rotation/carousel info."""
    return request(GROUP_SYSTEM, 0x08, bytes((0x00 if show else 0x01,)), reply=reply)


def query_fonts(*, reply: bool = True) -> bytes:
    """A2 09: list the font libraries on the card."""
    return request(GROUP_SYSTEM, 0x09, reply=reply)


def screen(on: bool, *, reply: bool = True) -> bytes:
    """A3 00: force the screen on or off (until the next timer period)."""
    return request(GROUP_DISPLAY, 0x00, bytes((0x01 if on else 0x02,)), reply=reply)


def brightness(level: int, *, reply: bool = True) -> bytes:
    """A3 02: manual brightness 0..15 (15 brightest)."""
    _uint("brightness level", level, 0, 15)
    return request(GROUP_DISPLAY, 0x02, bytes((0x01, level)), reply=reply)


def brightness_schedule(levels: Sequence[int], *, reply: bool = True) -> bytes:
    """A3 02: scheduled brightness, 48 levels 0..15, one per half hour from 00:00."""
    if len(levels) != 48:
        raise ValueError(f"a brightness schedule has 48 half-hour slots, got {len(levels)}")
    for i, level in enumerate(levels):
        _uint(f"brightness slot {i}", level, 0, 15)
    return request(GROUP_DISPLAY, 0x02, bytes((0x02, 0x00, *levels)), reply=reply)


def lock_program(name: str, lock: bool, *, keep_after_power_off: bool = False, reply: bool = True) -> bytes:
    """A3 04: lock (keep showing) or unlock program file `name` (4 ASCII chars, e.g. "P000")."""
    params = bytes((0x01 if keep_after_power_off else 0x00, 0x01 if lock else 0x00)) + _file_name(name)
    return request(GROUP_DISPLAY, 0x04, params, reply=reply)


def clear_screen(*, reply: bool = True) -> bytes:
    """A3 10: clear the screen."""
    return request(GROUP_DISPLAY, 0x10, reply=reply)


def _file_name(name: str) -> bytes:
    if len(name) != 4 or not name.isascii() or not name.isalnum():
        raise ValueError(f"file name must be 4 ASCII letters/digits, got {name!r}")
    return name.encode("ascii")


# --- text -------------------------------------------------------------------


class TextNotEncodable(ValueError):
    """A character the board text cannot carry."""

    def __init__(self, char: str, position: int, reason: str) -> None:
        self.char = char
        self.codepoint = ord(char)
        self.position = position
        self.reason = reason
        super().__init__(f"{char!r} (U+{ord(char):04X}) at position {position} {reason}")


def _check_font(font: str) -> bytes:
    if len(font) != 4 or not font.isascii() or not font.isalnum():
        raise ValueError(f"font name must be 4 ASCII letters/digits such as 'O000' or 'E000', got {font!r}")
    return font.encode("ascii")


def encode_text(text: str, *, font: str = "O000", colour: int | None = 1) -> bytes:
    """Board text bytes: `\\F<font>` `\\C<colour>` then `text` in GB2312.

    `colour` 1 red, 2 green, 3 yellow, 4 blue, 5 cyan, 6 magenta, 7 white; None
    leaves out the colour code. "\\n" (also "\\r\\n" and "\\r") becomes
    `NEWLINE_CODE`. A backslash, other control characters and characters
    missing from GB2312 raise `TextNotEncodable`.
    """
    out = bytearray(b"\\F" + _check_font(font))
    if colour is not None:
        _uint("colour", colour, 1, 7)
        out += b"\\C" + str(colour).encode("ascii")
    _encode_chars(text, out)
    return bytes(out)


def encode_rows(rows: Sequence[Sequence[tuple[str, int]]], *, font: str = "O000") -> bytes:
    """Lines of coloured runs as board text: `\\F<font>` once, `\\C<colour>` before each run, and
    `NEWLINE_CODE` between lines (an empty line for a row left dark). TextNotEncodable as for
    `encode_text`."""
    out = bytearray(b"\\F" + _check_font(font))
    for i, row in enumerate(rows):
        if i:
            out += NEWLINE_CODE
        for text, colour in row:
            _uint("colour", colour, 1, 7)
            out += b"\\C" + str(colour).encode("ascii")
            _encode_chars(text.replace("\n", " "), out)
    return bytes(out)


def _encode_chars(text: str, out: bytearray) -> None:
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    for i, ch in enumerate(text):
        if ch == "\n":
            out += NEWLINE_CODE
        elif ch == "\\":
            raise TextNotEncodable(
                ch, i, "cannot be sent: the board reads a backslash as the start of a control code"
            )
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            raise TextNotEncodable(ch, i, "is a control character the board cannot show")
        else:
            try:
                out += ch.encode("gb2312")
            except UnicodeEncodeError:
                raise TextNotEncodable(ch, i, "is not in GB2312, the board's character set") from None


# --- dynamic areas (A3 06) --------------------------------------------------


def _px(name: str, value: int) -> bytes:
    """A 15-bit pixel value with the bit-15 "pixels" flag set (6th-generation cards)."""
    _uint(name, value, 0, 0x7FFF)
    return _u16(value | 0x8000)


def _x_units(name: str, value: int, generation: int) -> bytes:
    """X or width as the card's generation counts it.

    BX-6K: pixels with the bit-15 flag. BX-5K/5MK: bytes of 8 px with the flag clear — Onbon's own
    Java SDK (bx.k.java commit 46bc87c, BxAreaDynamic.build: `is5K ? getX() / 8`), its C++ demo
    (AreaDlg.cpp: `m_X/8`) and its C# demo (Area.cs: the flag only for type >= 6) all send that, and
    its SDK appendix says "以字节为单位（8个像素点）"; the protocol document alone does not say it.
    """
    if generation >= 6:
        return _px(name, value)
    if value % 8:
        raise ValueError(f"{name} must be a multiple of 8 px on a 5th-generation card, got {value}")
    return _u16(_uint(name, value // 8, 0, 0x7FFF))


def _area_ids(ids: Sequence[int]) -> bytes:
    if len(ids) > 0xFE:
        raise ValueError(f"at most 254 area ids per command, got {len(ids)}")
    for area in ids:
        _uint("dynamic area id", area, 0, 0xFE)
    return bytes((len(ids), *ids))


def dynamic_text(
    area_id: int,
    x: int,
    y: int,
    width: int,
    height: int,
    text: bytes,
    *,
    timeout_s: int,
    run_mode: int = 2,
    effect: int = 1,
    speed: int = 0,
    stay_half_seconds: int = 10,
    align: int = 0,
    single_line: bool = False,
    auto_wrap: bool = False,
    process_mode: int = 0,
    delete_ids: Sequence[int] = (),
    line_spacing: int = 0,
    reply: bool = True,
    generation: int = 5,
) -> bytes:
    """A3 06 with one text area record (§5.6.1; no sound, no extension bytes).

    x, width: pixels, sent as the card's `generation` counts them (see `_x_units`: bytes on BX-5K,
    flagged pixels on BX-6K); y, height: pixels.
    run_mode 0 loop, 1 once then hold, 2 loop and drop the area after `timeout_s`
    without an update. effect 1 static, 2 type-out, 3-6 move left/right/up/down.
    speed 0 (fastest)..24. align: bits 1-0 horizontal (0 left, 1 right, 2 centre),
    bits 3-2 vertical (0 top, 1 bottom, 2 centre). `text` is board text bytes
    (see `encode_text`). `delete_ids` are dynamic areas deleted in the same command.
    """
    _uint("area_id", area_id, 0, 0xFE)
    _uint("y", y, 0, 0xFFFF)
    _uint("height", height, 1, 0xFFFF)
    _uint("width", width, 1, 0x7FFF)
    _uint("timeout_s", timeout_s, 0, 0xFFFF)
    _uint("run_mode", run_mode, 0, 2)
    _uint("effect", effect, 1, 6)
    _uint("speed", speed, 0, 0x18)
    _uint("stay_half_seconds", stay_half_seconds, 0, 0xFF)
    _uint("line_spacing", line_spacing, 0, 0xFF)
    _uint("process_mode", process_mode, 0, 1)
    if not 0 <= align <= 0x0F or align & 0x03 == 0x03 or align & 0x0C == 0x0C:
        raise ValueError(f"align must combine horizontal 0/1/2 and vertical 0/4/8, got {align!r}")
    text = bytes(text)
    record = (
        bytes((0x00,))  # AreaType
        + _x_units("x", x, generation)
        + _u16(y)
        + _x_units("width", width, generation)
        + _u16(height)
        + bytes((area_id, line_spacing, run_mode))
        + _u16(timeout_s)
        + bytes(
            (
                0x00,  # SoundMode: none
                0x00,  # ExtendParaLen
                align,
                0x01 if single_line else 0x02,
                0x02 if auto_wrap else 0x01,
                effect,
                0x00,  # ExitMode
                speed,
                stay_half_seconds,
            )
        )
        + len(text).to_bytes(4, "little")
        + text
    )
    if len(record) > 0xFFFF:
        raise ValueError(f"area record is {len(record)} bytes; AreaDataLen holds at most 65535")
    params = _area_ids(delete_ids) + bytes((1,)) + _u16(len(record)) + record
    return request(GROUP_DISPLAY, 0x06, params, reply=reply, reserved=bytes((process_mode, 0)))


def delete_dynamic_areas(ids: Sequence[int], *, reply: bool = True) -> bytes:
    """A3 06 deleting the dynamic areas `ids` and sending none (AreaNum 0)."""
    if not ids:
        raise ValueError("no dynamic area ids to delete")
    return request(GROUP_DISPLAY, 0x06, _area_ids(ids) + b"\x00", reply=reply)


def delete_all_dynamic_areas(*, reply: bool = True) -> bytes:
    """A3 06 with DeleteAreaNum 0xFF (every dynamic area), no ids, AreaNum 0."""
    return request(GROUP_DISPLAY, 0x06, b"\xff\x00", reply=reply)


# --- special dynamic area (A4) ----------------------------------------------


def special_area_setup(
    x_bytes: int,
    y: int,
    width_bytes: int,
    height: int,
    *,
    bitmap: bool = True,
    pages: int = 0,
    run_state: int = 0,
    timeout_s: int = 0,
    single_line: bool = False,
    line_spacing: int = 0,
    auto_wrap: bool = False,
    stay_half_seconds: int = 0,
    reply: bool = True,
) -> bytes:
    """A4 01: set up the special dynamic area (BX-5K2 / BX-5MK).

    X and width in bytes (8-pixel columns), y and height in pixels. Bitmap mode
    sends zeros for pages and the text-layout fields; text mode needs `pages` >= 1.
    run_state 0 loop, 1 hold the last page, 2 loop and delete after `timeout_s`.
    """
    _uint("x_bytes", x_bytes, 0, 0xFFFF)
    _uint("y", y, 0, 0xFFFF)
    _uint("width_bytes", width_bytes, 1, 0xFFFF)
    _uint("height", height, 1, 0xFFFF)
    _uint("run_state", run_state, 0, 2)
    _uint("timeout_s", timeout_s, 0, 0xFFFF)
    _uint("line_spacing", line_spacing, 0, 0xFF)
    _uint("stay_half_seconds", stay_half_seconds, 0, 0xFFFF)
    if bitmap:
        if pages != 0:
            raise ValueError("a bitmap special area has no pages (Pagetotal is sent as 0)")
        layout = bytes(5)  # SingleLine, Lines_sizes, NewLine, StayTime(2) all 0
    else:
        _uint("pages", pages, 1, 0xFF)
        flags = (0x01 if single_line else 0x02, line_spacing, 0x02 if auto_wrap else 0x01)
        layout = bytes(flags) + _u16(stay_half_seconds)
    params = (
        _u16(x_bytes)
        + _u16(y)
        + _u16(width_bytes)
        + _u16(height)
        + bytes((0x01 if bitmap else 0x00, pages, run_state))
        + _u16(timeout_s)
        + layout
        + bytes(6)
    )
    return request(GROUP_SPECIAL, 0x01, params, reply=reply)


def special_area_page(page: int, text: bytes, *, reply: bool = True) -> bytes:
    """A4 02: send text page `page` (0-based) of a text-mode special area."""
    _uint("page", page, 0, 0xFE)
    text = bytes(text)
    if len(text) > MAX_PAGE_BYTES:
        raise ValueError(f"a special-area page holds at most {MAX_PAGE_BYTES} bytes, got {len(text)}")
    return request(GROUP_SPECIAL, 0x02, bytes((page,)) + _u16(len(text)) + text, reply=reply)


def special_area_delete_page(page: int, *, reply: bool = True) -> bytes:
    """A4 09: delete one page of the special area."""
    _uint("page", page, 0, 0xFE)
    return request(GROUP_SPECIAL, 0x09, bytes((page,)), reply=reply)


def special_area_delete(*, reply: bool = True) -> bytes:
    """A4 04: delete the special area (BX-5MK only)."""
    return request(GROUP_SPECIAL, 0x04, reply=reply)


def bitmap_blocks(bitmap: bytes, block_size: int, *, reply: bool = True) -> list[bytes]:
    """A4 03 data fields carrying `bitmap` in slices of at most `block_size` bytes.

    BlockFlag is 1 on the last block only; BlockAddr is the slice's byte offset (LE).
    Each data field is at most block_size + 8 bytes; block_size 1..1016 keeps it
    within the 1024-byte receive buffer (use <= 504 for 5K cards).
    """
    _uint("block_size", block_size, 1, MAX_DATA_FIELD - 8)
    bitmap = bytes(bitmap)
    if not bitmap:
        raise ValueError("empty bitmap")
    if len(bitmap) > SPECIAL_AREA_CAPACITY:
        raise ValueError(f"bitmap is {len(bitmap)} bytes; the special area holds {SPECIAL_AREA_CAPACITY}")
    out = []
    for addr in range(0, len(bitmap), block_size):
        block = bitmap[addr : addr + block_size]
        last = addr + block_size >= len(bitmap)
        out.append(request(GROUP_SPECIAL, 0x03, bytes((1 if last else 0,)) + _u16(addr) + block, reply=reply))
    return out


# --- replies ----------------------------------------------------------------

ERRORS: dict[int, tuple[str, str]] = {
    0: ("ERR_NO", "no error"),
    1: ("ERR_OUTOFGROUP", "the card does not know this command group (firmware or model mismatch)"),
    2: ("ERR_NOCMD", "the card does not know this command (firmware or model mismatch)"),
    3: ("ERR_BUSY", "the card is busy; try again shortly"),
    4: ("ERR_MEMORYVOLUME", "the card does not have enough storage space left"),
    5: ("ERR_CHECKSUM", "the card received a frame with a bad checksum (line noise)"),
    6: ("ERR_FILENOTEXIST", "the file named in the command does not exist on the card"),
    7: ("ERR_FLASH", "the card could not read or write its flash memory"),
    8: ("ERR_FILE_DOWNLOAD", "the file download to the card failed"),
    9: ("ERR_FILE_NAME", "the card rejected the file name"),
    10: ("ERR_FILE_TYPE", "the card rejected the file type"),
    11: ("ERR_FILE_CRC16", "the file arrived corrupted (its CRC16 check failed); the card deleted it"),
    12: ("ERR_FONT_NOT_EXIST", "the font library the text asks for is not installed on the card"),
    13: ("ERR_FIRMWARE_TYPE", "the data is for a different controller type than this card"),
    14: ("ERR_DATE_TIME_FORMAT", "the card rejected the date/time as badly formatted"),
    15: ("ERR_FILE_EXIST", "the file already exists and overwriting was not requested"),
    16: ("ERR_FILE_BLOCK_NUM", "a file block arrived out of order (wrong block number or address)"),
}


@dataclass(frozen=True)
class Reply:
    """A reply data field: CmdGroup, Cmd, CmdError and the payload after the 2 reserved bytes."""

    group: int
    cmd: int
    error: int
    payload: bytes


def parse_reply(data: bytes) -> Reply:
    """Split a reply data field; FrameError(kind="length") if shorter than 5 bytes."""
    data = bytes(data)
    if len(data) < 5:
        raise FrameError("length", f"a reply data field has at least 5 bytes, got {len(data)}")
    return Reply(group=data[0], cmd=data[1], error=data[2], payload=data[5:])


def is_ack(reply: Reply) -> bool:
    """True for an A0 00 ACK with status 0."""
    return reply.group == GROUP_ACK and reply.cmd == CMD_ACK and reply.error == 0


def nack_reason(reply: Reply) -> str:
    """An operator-readable reason for a failed reply ("ERR_NO (0): no error" if it is fine)."""
    unknown = ("unknown error", "the card sent an error code this driver does not know")
    name, message = ERRORS.get(reply.error, unknown)
    text = f"{name} ({reply.error}): {message}"
    if reply.group == GROUP_ACK and reply.cmd not in (CMD_ACK, CMD_NACK):
        text += f" [unexpected reply A0 {reply.cmd:02X}]"
    return text


@dataclass(frozen=True)
class Status:
    """Controller status from an A1 02 reply (§5.2)."""

    screen_on: bool
    brightness: int
    time: datetime | None  # None if the card's clock bytes are not a valid date
    weekday: int  # 1..7, 7 = Sunday, as sent
    time_raw: bytes  # the 8 BCD bytes as received
    program_count: int
    program_name: str  # program playing now
    special_area: bool
    special_pages: int
    dynamic_area_ids: tuple[int, ...]
    barcode: bytes | None = None  # None if the reply stops before it
    custom_id: bytes | None = None


def _from_bcd(b: int) -> int:
    hi, lo = b >> 4, b & 0x0F
    if hi > 9 or lo > 9:
        raise ValueError(f"{b:02X} is not BCD")
    return hi * 10 + lo


def _status_time(raw: bytes) -> datetime | None:
    # year (2 bytes), month, day, weekday, hour, minute, second. The doc does not say
    # which year byte comes first; the century byte (0x20) tells: 13 20 and 20 13 both read 2013.
    y0, y1 = raw[0], raw[1]
    century, year = (y0, y1) if y0 == 0x20 and y1 != 0x20 else (y1, y0)
    try:
        return datetime(
            _from_bcd(century) * 100 + _from_bcd(year),
            _from_bcd(raw[2]),
            _from_bcd(raw[3]),
            _from_bcd(raw[5]),
            _from_bcd(raw[6]),
            _from_bcd(raw[7]),
        )
    except ValueError:
        return None


def parse_status(reply: Reply) -> Status:
    """Decode an A1 02 status reply; ValueError if it is not one or is too short."""
    if (reply.group, reply.cmd) != (GROUP_FILE, 0x02):
        raise ValueError(f"not a status reply: {reply.group:02X} {reply.cmd:02X}")
    if reply.error:
        raise ValueError(f"status query failed: {nack_reason(reply)}")
    p = reply.payload
    if len(p) < 18:
        raise ValueError(f"status payload is {len(p)} bytes; at least 18 expected")
    if p[0] not in (0x01, 0x02):
        raise ValueError(f"status OnOff byte {p[0]:02X} is neither 01 (on) nor 02 (off)")
    n = p[17]
    if len(p) < 18 + n:
        raise ValueError(f"status lists {n} dynamic areas but the payload ends after {len(p) - 18}")
    ids = tuple(p[18 : 18 + n])
    rest = p[18 + n :]
    return Status(
        screen_on=p[0] == 0x01,
        brightness=p[1],
        time=_status_time(p[2:10]),
        weekday=p[6],
        time_raw=p[2:10],
        program_count=p[10],
        program_name=p[11:15].decode("ascii", errors="replace"),
        special_area=p[15] == 0x01,
        special_pages=p[16],
        dynamic_area_ids=ids,
        barcode=rest[:16] if len(rest) >= 16 else None,
        custom_id=rest[16:28] if len(rest) >= 28 else None,
    )
