"""Onbon BX data fields: builders reproduce the doc's vectors, reply/status parsing, bitmap layout."""

from __future__ import annotations

from datetime import datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image

from ledctl.drivers.onbon import commands as cmd
from ledctl.drivers.onbon.bitmap import page_bitmap
from ledctl.drivers.onbon.frame import BROADCAST_REPLY, HOST_ADDRESS, Frame, FrameError, decode, encode
from ledctl.model import ColourMode
from tests.unit.test_bx_frame import VECTORS

WELCOME = "欢迎光临".encode("gb2312")


def wire(name: str) -> bytes:
    return bytes.fromhex(VECTORS[name])


def on_wire(data: bytes, *, dst: int = 0x0001, reserved: bytes = b"\x00\x00\x00", run: int = 8) -> bytes:
    return encode(Frame(dst=dst, src=HOST_ADDRESS, data=data, reserved=reserved), start_run=run)


def assert_vector(name: str, data: bytes, **kw) -> None:
    assert on_wire(data, **kw).hex(" ") == wire(name).hex(" ")


# --- builders against the vectors ---------------------------------------------------------------


def test_v1_dynamic_text() -> None:
    # The document's V1 is a BX-6K3 frame: X and width in pixels, with the bit-15 flag.
    data = cmd.dynamic_text(
        0, 0, 0, 128, 32, WELCOME, timeout_s=10, run_mode=0, effect=1, speed=2, stay_half_seconds=10,
        generation=6,
    )
    assert_vector("V1", data, dst=BROADCAST_REPLY)


def test_5k_text_area_is_in_bytes_with_the_flag_clear() -> None:
    # Onbon's Java SDK in 5K mode (bx.k.java commit 46bc87c, BxAreaDynamic.build: x/8, w/8, no flag),
    # its C++ demo (AreaDlg.cpp: m_X/8, m_W/8) and LuckyKoala/BX5KProtocol all send a 128x32 area at
    # (0,0) to a BX-5K card as X 00 00, Y 00 00, width 10 00 (16 bytes), height 20 00.
    data = cmd.dynamic_text(0, 0, 0, 128, 32, WELCOME, timeout_s=10, generation=5)
    record = data[9:]  # request header (5), no areas to delete (1), one area (1), its length (2)
    assert record[0] == 0x00 and int.from_bytes(data[7:9], "little") == len(record)
    assert record[1:9] == bytes.fromhex("00 00 00 00 10 00 20 00")
    with pytest.raises(ValueError, match="multiple of 8"):
        cmd.dynamic_text(0, 4, 0, 120, 32, WELCOME, timeout_s=10, generation=5)


def test_v2_v3_replies_as_frames() -> None:
    for name, data in (("V2", b"\xa0\x00\x00\x00\x00"), ("V3", b"\xa0\x01\x05\x00\x00")):
        frame = Frame(dst=HOST_ADDRESS, src=BROADCAST_REPLY, data=data)
        assert encode(frame, start_run=9) == wire(name)


@pytest.mark.parametrize(("name", "dst", "length"), [("V4", BROADCAST_REPLY, 71), ("V7", 0x0001, 73)])
def test_v4_v7_start_write_file(name: str, dst: int, length: int) -> None:
    data = cmd.request(0xA1, 0x05, b"\x01" + b"P000" + length.to_bytes(4, "little"))
    assert_vector(name, data, dst=dst)


def test_v9_special_area_setup_text_mode() -> None:
    data = cmd.special_area_setup(
        0x28, 0, 8, 64, bitmap=False, pages=1, run_state=0, timeout_s=2, auto_wrap=True, stay_half_seconds=10
    )
    assert len(data) == 29
    assert_vector("V9", data)


def test_v10_v11_v13_special_area_pages() -> None:
    assert_vector("V10", cmd.special_area_page(0, b"www.onbonbx.com"))
    assert_vector("V11", cmd.special_area_delete_page(0))
    assert_vector("V13", cmd.special_area_delete())


def test_v12_bitmap_in_one_block() -> None:
    bitmap = decode(wire("V12")).data[8:]
    assert len(bitmap) == 512
    blocks = cmd.bitmap_blocks(bitmap, 512)
    assert len(blocks) == 1
    assert_vector("V12", blocks[0])


def test_v14_set_mac_via_request() -> None:
    assert_vector("V14", cmd.request(0xA4, 0x06, bytes.fromhex("00 FF FE 83 A8 56")), dst=BROADCAST_REPLY)


def test_v15_v16_v17() -> None:
    assert_vector("V15", cmd.format_files())
    assert_vector("V16", cmd.ping())
    assert_vector("V17", cmd.set_time(datetime(2013, 1, 25, 11, 17, 26), reserved=b"\x08\x00"))


def test_v18_v19_lock_program() -> None:
    assert_vector("V18", cmd.lock_program("P000", True))
    assert_vector("V19", cmd.lock_program("P000", False))
    assert cmd.lock_program("P001", True, keep_after_power_off=True)[5:] == b"\x01\x01P001"


def test_v20_to_v22_with_ff_header_reserved() -> None:
    kw = {"dst": BROADCAST_REPLY, "reserved": b"\xff\x00\x00"}
    assert_vector("V20", cmd.carousel_info(False), **kw)
    assert_vector("V21", cmd.carousel_info(True), **kw)
    assert_vector("V22", cmd.query_fonts(), **kw)


def test_derived_frames() -> None:
    assert_vector("D1", cmd.query_status())
    assert_vector("D2", cmd.screen(True))
    assert_vector("D3", cmd.screen(False))
    assert_vector("D4", cmd.brightness(15))
    assert_vector("D5", cmd.delete_dynamic_areas([0]))
    assert_vector("D6", cmd.clear_screen())


# --- request and simple builders ----------------------------------------------------------------


def test_request_layout() -> None:
    assert cmd.request(0xA2, 0x00) == b"\xa2\x00\x01\x00\x00"
    assert cmd.request(0xA2, 0x03, b"\x99", reply=False, reserved=b"\x08\x00") == b"\xa2\x03\x02\x08\x00\x99"
    assert cmd.ping(reply=False)[2] == 0x02
    with pytest.raises(ValueError):
        cmd.request(0xA2, 0x00, reserved=b"\x00")
    with pytest.raises(ValueError):
        cmd.request(0x100, 0x00)


def test_set_time_bcd_and_sunday() -> None:
    data = cmd.set_time(datetime(2099, 12, 31, 23, 59, 58))  # a Thursday
    assert data[5:] == bytes.fromhex("99 20 12 31 23 59 58 04")
    assert cmd.set_time(datetime(2024, 3, 31, 0, 0, 0))[-1] == 7  # Sunday
    assert cmd.set_time(datetime(2024, 4, 1, 0, 0, 0))[-1] == 1  # Monday
    assert len(cmd.set_time(datetime(2024, 4, 1))) == 13


@pytest.mark.parametrize("level", [-1, 16, 255])
def test_brightness_range(level: int) -> None:
    with pytest.raises(ValueError):
        cmd.brightness(level)


def test_brightness_levels() -> None:
    assert cmd.brightness(0)[5:] == b"\x01\x00"
    schedule = cmd.brightness_schedule([i % 16 for i in range(48)])
    assert len(schedule) == 55
    assert schedule[5:7] == b"\x02\x00" and schedule[7:] == bytes(i % 16 for i in range(48))
    with pytest.raises(ValueError):
        cmd.brightness_schedule([1] * 47)
    with pytest.raises(ValueError):
        cmd.brightness_schedule([1] * 47 + [16])


def test_delete_dynamic_areas() -> None:
    assert cmd.delete_dynamic_areas([1, 3]) == b"\xa3\x06\x01\x00\x00\x02\x01\x03\x00"
    assert cmd.delete_all_dynamic_areas() == b"\xa3\x06\x01\x00\x00\xff\x00"
    with pytest.raises(ValueError):
        cmd.delete_dynamic_areas([])
    with pytest.raises(ValueError):
        cmd.delete_dynamic_areas([0xFF])


# --- dynamic text -------------------------------------------------------------------------------


def test_dynamic_text_fields() -> None:
    text = b"\\FE000\\C2Hi"
    data = cmd.dynamic_text(
        2, 8, 16, 64, 16, text, timeout_s=300, effect=3, speed=5, stay_half_seconds=4, align=0x0A,
        single_line=True, auto_wrap=True, process_mode=1, delete_ids=[4], line_spacing=1, generation=6,
    )  # fmt: skip
    assert data[:5] == b"\xa3\x06\x01\x01\x00"  # ProcessMode at offset 3
    assert data[5:7] == b"\x01\x04"  # delete area 4
    assert data[7] == 1  # one area
    record_len = int.from_bytes(data[8:10], "little")
    record = data[10:]
    assert record_len == len(record) == 27 + len(text)
    assert record[0] == 0x00
    assert record[1:3] == b"\x08\x80"  # x = 8 px, pixel flag in bit 15
    assert record[3:5] == b"\x10\x00"
    assert record[5:7] == b"\x40\x80"  # width 64 px
    assert record[7:9] == b"\x10\x00"
    assert record[9:12] == b"\x02\x01\x02"  # id, line spacing, run mode 2
    assert record[12:14] == (300).to_bytes(2, "little")
    assert record[14:23] == bytes((0, 0, 0x0A, 0x01, 0x02, 3, 0, 5, 4))
    assert record[23:27] == len(text).to_bytes(4, "little")
    assert record[27:] == text


@pytest.mark.parametrize(
    "bad",
    [
        {"x": 0x8000},
        {"width": 0},
        {"effect": 7},
        {"speed": 0x19},
        {"run_mode": 3},
        {"align": 3},
        {"area_id": 0xFF},
        {"timeout_s": 0x10000},
        {"process_mode": 2},
    ],
)
def test_dynamic_text_rejects_bad_values(bad: dict) -> None:
    args = {"area_id": 0, "x": 0, "y": 0, "width": 64, "height": 16, "text": b"x", "timeout_s": 10,
            "generation": 6}
    args.update(bad)
    with pytest.raises(ValueError):
        cmd.dynamic_text(**args)


# --- text encoding ------------------------------------------------------------------------------


def test_encode_text_prefix_and_gb2312() -> None:
    assert cmd.encode_text("欢迎光临") == b"\\FO000\\C1" + WELCOME
    assert cmd.encode_text("AQI 42", font="E000", colour=3) == b"\\FE000\\C3AQI 42"
    assert cmd.encode_text("x", colour=None) == b"\\FO000x"


def test_encode_text_newline_code() -> None:
    assert cmd.NEWLINE_CODE == b"\x5c\x6e"
    assert cmd.encode_text("a\nb", colour=None) == b"\\FO000a\\nb"
    assert cmd.encode_text("a\r\nb\rc", colour=None) == b"\\FO000a\\nb\\nc"


def test_encode_text_rejects_backslash() -> None:
    with pytest.raises(cmd.TextNotEncodable) as info:
        cmd.encode_text("C:\\temp")
    assert info.value.char == "\\" and info.value.position == 2
    assert "U+005C" in str(info.value) and "control code" in str(info.value)


@pytest.mark.parametrize(("text", "char"), [("PM2.5 €", "€"), ("ok 😀", "😀"), ("a\tb", "\t"), ("한", "한")])
def test_encode_text_names_the_bad_character(text: str, char: str) -> None:
    with pytest.raises(cmd.TextNotEncodable) as info:
        cmd.encode_text(text)
    err = info.value
    assert isinstance(err, ValueError)
    assert err.char == char and err.codepoint == ord(char)
    assert f"U+{ord(char):04X}" in str(err)


@pytest.mark.parametrize("kw", [{"font": "O00"}, {"font": "O0\\0"}, {"colour": 0}, {"colour": 8}])
def test_encode_text_rejects_bad_font_or_colour(kw: dict) -> None:
    with pytest.raises(ValueError):
        cmd.encode_text("x", **kw)


# --- special area and bitmap blocks -------------------------------------------------------------


def test_special_area_setup_bitmap_mode() -> None:
    data = cmd.special_area_setup(2, 8, 8, 32, timeout_s=30, run_state=2)
    assert data == bytes.fromhex("a4 01 01 00 00 02 00 08 00 08 00 20 00 01 00 02 1e 00") + bytes(11)
    with pytest.raises(ValueError):
        cmd.special_area_setup(0, 0, 8, 32, pages=1)
    with pytest.raises(ValueError):
        cmd.special_area_setup(0, 0, 8, 32, bitmap=False, pages=0)


def test_special_area_page_limit() -> None:
    with pytest.raises(ValueError):
        cmd.special_area_page(0, b"x" * 1025)


def test_bitmap_blocks_split() -> None:
    bitmap = bytes(range(256)) * 4  # 1024 bytes
    blocks = cmd.bitmap_blocks(bitmap, 300)
    assert [b[5] for b in blocks] == [0, 0, 0, 1]
    assert [int.from_bytes(b[6:8], "little") for b in blocks] == [0, 300, 600, 900]
    assert [len(b) for b in blocks] == [308, 308, 308, 132]
    assert all(b[:5] == b"\xa4\x03\x01\x00\x00" for b in blocks)


@given(st.binary(min_size=1, max_size=3000), st.integers(1, 1016))
def test_bitmap_blocks_reassemble(bitmap: bytes, size: int) -> None:
    blocks = cmd.bitmap_blocks(bitmap, size)
    assert all(len(b) <= size + 8 for b in blocks)
    assert [b[5] for b in blocks] == [0] * (len(blocks) - 1) + [1]
    rebuilt = bytearray()
    for b in blocks:
        assert int.from_bytes(b[6:8], "little") == len(rebuilt)
        rebuilt += b[8:]
    assert rebuilt == bitmap


@pytest.mark.parametrize(("bitmap", "size"), [(b"", 8), (b"x", 0), (b"x", 1017), (bytes(16385), 512)])
def test_bitmap_blocks_rejects(bitmap: bytes, size: int) -> None:
    with pytest.raises(ValueError):
        cmd.bitmap_blocks(bitmap, size)


# --- replies ------------------------------------------------------------------------------------


def test_parse_reply_ack_v2() -> None:
    frame = decode(wire("V2"))
    assert (frame.dst, frame.src) == (HOST_ADDRESS, BROADCAST_REPLY)
    reply = cmd.parse_reply(frame.data)
    assert reply == cmd.Reply(group=0xA0, cmd=0x00, error=0, payload=b"")
    assert cmd.is_ack(reply)


def test_parse_reply_nack_v3() -> None:
    reply = cmd.parse_reply(decode(wire("V3")).data)
    assert (reply.group, reply.cmd, reply.error) == (0xA0, 0x01, 5)
    assert not cmd.is_ack(reply)
    reason = cmd.nack_reason(reply)
    assert reason.startswith("ERR_CHECKSUM (5): ")
    assert "bad checksum" in reason


def test_parse_reply_short() -> None:
    with pytest.raises(FrameError) as info:
        cmd.parse_reply(b"\xa0\x00\x00\x00")
    assert info.value.kind == "length"


def test_error_table() -> None:
    names = [
        "ERR_NO", "ERR_OUTOFGROUP", "ERR_NOCMD", "ERR_BUSY", "ERR_MEMORYVOLUME", "ERR_CHECKSUM",
        "ERR_FILENOTEXIST", "ERR_FLASH", "ERR_FILE_DOWNLOAD", "ERR_FILE_NAME", "ERR_FILE_TYPE",
        "ERR_FILE_CRC16", "ERR_FONT_NOT_EXIST", "ERR_FIRMWARE_TYPE", "ERR_DATE_TIME_FORMAT",
        "ERR_FILE_EXIST", "ERR_FILE_BLOCK_NUM",
    ]  # fmt: skip
    assert sorted(cmd.ERRORS) == list(range(17))
    assert [cmd.ERRORS[i][0] for i in range(17)] == names
    assert cmd.ERRORS[0][1] == "no error"
    assert all(len(cmd.ERRORS[i][1]) > 15 for i in range(1, 17))
    assert "unknown" in cmd.nack_reason(cmd.Reply(0xA0, 0x01, 42, b""))


def _status_reply(
    time_bytes: bytes, ids: bytes = b"\x00\x03", tail: bytes = b"B" * 16 + b"C" * 12
) -> cmd.Reply:
    payload = b"\x01\x0a" + time_bytes + b"\x03P001\x01\x02" + bytes((len(ids),)) + ids + tail
    return cmd.parse_reply(b"\xa1\x02\x00\x00\x00" + payload)


def test_parse_status() -> None:
    status = cmd.parse_status(_status_reply(bytes.fromhex("11 20 05 17 02 09 30 45")))
    assert status == cmd.Status(
        screen_on=True,
        brightness=10,
        time=datetime(2011, 5, 17, 9, 30, 45),
        weekday=2,
        time_raw=bytes.fromhex("11 20 05 17 02 09 30 45"),
        program_count=3,
        program_name="P001",
        special_area=True,
        special_pages=2,
        dynamic_area_ids=(0, 3),
        barcode=b"B" * 16,
        custom_id=b"C" * 12,
    )


def test_parse_status_year_either_byte_order_and_bad_clock() -> None:
    assert cmd.parse_status(_status_reply(bytes.fromhex("20 11 05 17 02 09 30 45"))).time == datetime(
        2011, 5, 17, 9, 30, 45
    )
    assert cmd.parse_status(_status_reply(bytes.fromhex("11 20 13 17 02 09 30 45"))).time is None
    short = cmd.parse_status(_status_reply(bytes.fromhex("11 20 05 17 02 09 30 45"), ids=b"", tail=b""))
    assert short.dynamic_area_ids == () and short.barcode is None and short.custom_id is None


def test_parse_status_rejects() -> None:
    with pytest.raises(ValueError):
        cmd.parse_status(cmd.parse_reply(decode(wire("V2")).data))
    with pytest.raises(ValueError):
        cmd.parse_status(cmd.Reply(0xA1, 0x02, 0, b"\x01\x0a"))
    with pytest.raises(ValueError):  # claims 5 areas, carries none
        cmd.parse_status(cmd.Reply(0xA1, 0x02, 0, b"\x01\x0a" + bytes(15) + b"\x05"))


# --- bitmap layout ------------------------------------------------------------------------------


def tiny() -> Image.Image:
    """16x2: row 0 red at x0, yellow x7, green x8, white x15; row 1 red x1, G-only x9, R-only x14."""
    im = Image.new("RGB", (16, 2))
    for xy, rgb in {
        (0, 0): (255, 0, 0),
        (7, 0): (255, 255, 0),
        (8, 0): (0, 255, 0),
        (15, 0): (255, 255, 255),
        (1, 1): (200, 0, 0),
        (9, 1): (127, 128, 0),  # red just below the threshold
        (14, 1): (128, 127, 0),  # green just below the threshold
    }.items():
        im.putpixel(xy, rgb)
    return im


def inv(data: bytes) -> bytes:
    return bytes(b ^ 0xFF for b in data)


# Expected planes with lit = 1: red row0 81 01, row1 40 02; green row0 01 81, row1 00 40.
MONO_LIT1 = bytes.fromhex("81 01 40 02")
RG_LIT1 = bytes.fromhex("81 01 01 81 40 00 02 40")
GR_LIT1 = bytes.fromhex("01 81 81 01 00 40 40 02")


def test_bitmap_mono() -> None:
    assert page_bitmap(tiny(), "mono-red", lit_bit=1) == MONO_LIT1
    assert page_bitmap(tiny(), "mono-red") == inv(MONO_LIT1) == bytes.fromhex("7e fe bf fd")
    assert page_bitmap(tiny(), ColourMode.MONO_RED, lit_bit=1) == MONO_LIT1


@pytest.mark.parametrize(("order", "lit1"), [("RG", RG_LIT1), ("GR", GR_LIT1)])
def test_bitmap_red_green(order: str, lit1: bytes) -> None:
    assert page_bitmap(tiny(), "red-green", plane_order=order, lit_bit=1) == lit1
    assert page_bitmap(tiny(), "red-green", plane_order=order, lit_bit=0) == inv(lit1)


def test_bitmap_sizes_and_modes() -> None:
    assert len(page_bitmap(Image.new("RGB", (64, 32)), "red-green")) == 512
    assert len(page_bitmap(Image.new("L", (320, 64), 255), "mono-red")) == 64 * 40
    assert page_bitmap(Image.new("1", (8, 1), 1), "mono-red") == b"\x00"  # white = lit = bit 0


@pytest.mark.parametrize(
    ("size", "kw"),
    [
        ((12, 2), {"colour": "mono-red"}),
        ((16, 2), {"colour": "full"}),
        ((16, 2), {"colour": "red-green", "plane_order": "BG"}),
        ((16, 2), {"colour": "mono-red", "lit_bit": 2}),
    ],
)
def test_bitmap_rejects(size: tuple[int, int], kw: dict) -> None:
    with pytest.raises(ValueError):
        page_bitmap(Image.new("RGB", size), **kw)
