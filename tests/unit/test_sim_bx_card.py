"""The BX-5K2 card emulator, fed with the golden vectors of the Onbon protocol fact sheet.

Frames are built and parsed by helpers in this file (own CRC, own escaping), never by the driver
or by the simulator's own encoder, so that a shared bug cannot cancel out.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from ledctl.simulator.bx_card import BxCard

# -- golden vectors (fact sheet §6; V23/V24 are broken and not used) ---------------------------------

V1 = bytes.fromhex(
    "a5 a5 a5 a5 a5 a5 a5 a5 fe ff 00 80 00 00 00 00 00 00 fe 02 2c 00 a3 06 01 00 00 00 01 23 00 00 00"
    " 80 00 00 80 80 20 00 00 00 00 0a 00 00 00 00 02 01 01 00 02 0a 08 00 00 00 bb b6 d3 ad b9 e2 c1 d9"
    " 3c 49 5a")
V2 = bytes.fromhex(
    "A5 A5 A5 A5 A5 A5 A5 A5 A5 00 80 FE FF 00 00 00 00 00 00 FE 02 05 00 A0 00 00 00 00 14 AC 5A")
V3 = bytes.fromhex(
    "A5 A5 A5 A5 A5 A5 A5 A5 A5 00 80 FE FF 00 00 00 00 00 00 FE 02 05 00 A0 01 05 00 00 05 51 5A")
V9 = bytes.fromhex(
    "A5 A5 A5 A5 A5 A5 A5 A5 01 00 00 80 00 00 00 00 00 00 FE 02 1D 00 A4 01 01 00 00 28 00 00 00 08 00"
    " 40 00 00 01 00 02 00 02 00 02 0A 00 00 00 00 00 00 00 FD C0 5A")
V10 = bytes.fromhex(
    "A5 A5 A5 A5 A5 A5 A5 A5 01 00 00 80 00 00 00 00 00 00 FE 02 17 00 A4 02 01 00 00 00 0F 00 77 77 77"
    " 2E 6F 6E 62 6F 6E 62 78 2E 63 6F 6D 68 B5 5A")
V11 = bytes.fromhex(
    "A5 A5 A5 A5 A5 A5 A5 A5 01 00 00 80 00 00 00 00 00 00 FE 02 06 00 A4 09 01 00 00 00 65 9C 5A")
V12 = bytes.fromhex(
    "A5 A5 A5 A5 A5 A5 A5 A5 01 00 00 80 00 00 00 00 00 00 FE 02 08 02 A4 03 01 00 00 01 00 00 FF 00 FF"
    " 00 FF 00 FF 00 FF 00 FF 00 FF 00 FF 00 FF 00 FF 00 FF 00 FF 00 FF 00 FF 00 FF 00 FF 00 FF 00 FF 00"
    " FF 00 FF 00 FF 00 FD 00 FF 00 FF 00 FC 00 FF 00 80 00 3F 00 FF 00 F0 00 07 00 FF 00 FE 00 7F 00 02"
    " 02 FF 80 FF 00 E0 00 00 00 7F 00 FF 00 9F 00 29 28 FF 00 FF 00 C0 00 02 00 7F 00 FF 00 CF 00 03 00"
    " FF 00 FF 00 80 00 0E 00 7F 00 FF 00 E7 00 28 28 3F 00 FF 00 00 00 18 18 3F 00 FF 00 F0 00 00 00 7F"
    " 00 FE 00 FF EF F8 F8 3F 00 FF 00 FC 00 01 00 FF 00 FF 01 FE FF F8 F8 3F 00 FF 00 F8 00 03 00 FF 00"
    " FF 01 FF FF F8 E8 7F 00 FF 00 F0 00 1F 00 FF 00 FE 00 1F 1F F0 F0 FF 00 FF 00 C0 00 8D 00 FF 00 FC"
    " 00 01 01 D0 D0 FF 00 FC 00 01 00 C7 00 FF 00 FC 00 00 00 01 00 FF 00 FC 00 61 00 A7 00 FF 00 FC 00"
    " 60 00 01 00 FF 00 FC 00 EF 20 FD 00 FF 00 FC 00 E0 00 03 00 FF 00 FD 01 8F 00 F7 00 FF 00 FC 00 85"
    " 00 07 00 FF 00 FC 00 0F 00 FF 00 FF 00 FC 00 07 00 9F 00 FF 00 FF 00 FF 00 FF 00 FF 00 FF 00 FF 00"
    " FF 00 FF 00 FF 00 FF 00 FF 00 FF 00 FF 00 FF 00 FF 00 FF 00 FF 00 F5 00 9F 00 FF 00 FF 00 FF 00 FF"
    " 00 FF 00 FF 00 FD 08 9F 80 FF 00 FF 00 F2 02 CF 00 FF 00 FF 00 F8 08 9F 80 FF 00 FF 00 FF 0F 57 50"
    " FF 00 FF 00 FF 00 FF 80 FF 00 FF 00 FF 00 DF C0 FF 00 FF 00 FF 00 FF 00 FF 00 FF 00 FF 00 EF 00 FF"
    " 00 FF 00 FF 00 FF 00 FF 00 FF 00 FF 00 FF 00 FF 00 DF 00 DF 00 DB 02 FF 00 FF 00 FF 00 FF 00 FF 00"
    " C8 00 52 52 52 12 BF 80 FF 00 FF 00 FF 00 FF 00 DA 1A DB DB 52 52 C3 80 FF 00 FF 00 FF 00 FF 00 FF"
    " 00 FF 00 FF 00 FF 00 FF 00 FF 00 FF 00 FF 00 FF 00 FF 00 FF 00 FF 00 FF 00 FF 00 FF 00 FF 00 FF 00"
    " FF 00 FF 00 FF 00 FF 00 FF 00 FF 00 FF 00 2E 8B 5A")  # the doc's "00FF" typo read as "00 FF" (§7.10)
V13 = bytes.fromhex(
    "A5 A5 A5 A5 A5 A5 A5 A5 01 00 00 80 00 00 00 00 00 00 FE 02 05 00 A4 04 01 00 00 E1 C8 5A")
V16 = bytes.fromhex(
    "A5 A5 A5 A5 A5 A5 A5 A5 01 00 00 80 00 00 00 00 00 00 FE 02 05 00 A2 00 01 00 00 68 F8 5A")
V17 = bytes.fromhex(
    "A5 A5 A5 A5 A5 A5 A5 A5 01 00 00 80 00 00 00 00 00 00 FE 02 0D 00 A2 03 01 08 00 13 20 01 25 11 17"
    " 26 05 B0 3F 5A")
# derived frames (§6.1)
D1 = bytes.fromhex(
    "A5 A5 A5 A5 A5 A5 A5 A5 01 00 00 80 00 00 00 00 00 00 FE 02 05 00 A1 02 01 00 00 2D 40 5A")
D2 = bytes.fromhex(
    "A5 A5 A5 A5 A5 A5 A5 A5 01 00 00 80 00 00 00 00 00 00 FE 02 06 00 A3 00 01 00 00 01 79 EA 5A")
D3 = bytes.fromhex(
    "A5 A5 A5 A5 A5 A5 A5 A5 01 00 00 80 00 00 00 00 00 00 FE 02 06 00 A3 00 01 00 00 02 39 EB 5A")
D4 = bytes.fromhex(
    "A5 A5 A5 A5 A5 A5 A5 A5 01 00 00 80 00 00 00 00 00 00 FE 02 07 00 A3 02 01 00 00 01 0F 67 94 5A")
D5 = bytes.fromhex(
    "A5 A5 A5 A5 A5 A5 A5 A5 01 00 00 80 00 00 00 00 00 00 FE 02 08 00 A3 06 01 00 00 01 00 00 A6 02 EA 5A")
D6 = bytes.fromhex(
    "A5 A5 A5 A5 A5 A5 A5 A5 01 00 00 80 00 00 00 00 00 00 FE 02 05 00 A3 10 01 00 00 51 F8 5A")

ACK = bytes.fromhex("A0 00 00 00 00")
RED, GREEN, YELLOW, BLACK = (255, 0, 0), (0, 255, 0), (255, 255, 0), (0, 0, 0)


# -- test-side frame codec (independent of the simulator) ----------------------------------------------

def crc16(data: bytes) -> int:
    crc = 0
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return crc


ESC = {0xA5: b"\xa6\x02", 0xA6: b"\xa6\x01", 0x5A: b"\x5b\x02", 0x5B: b"\x5b\x01"}
UNESC = {(0xA6, 0x02): 0xA5, (0xA6, 0x01): 0xA6, (0x5B, 0x02): 0x5A, (0x5B, 0x01): 0x5B}


def frame(data: bytes, dst: int = 1, src: int = 0x8000, device: int = 0xFE, starts: int = 8) -> bytes:
    body = (dst.to_bytes(2, "little") + src.to_bytes(2, "little") + bytes(6) + bytes([device, 2])
            + len(data).to_bytes(2, "little") + data)
    body += crc16(body).to_bytes(2, "little")
    return b"\xa5" * starts + b"".join(ESC.get(b, bytes([b])) for b in body) + b"\x5a"


def request(group: int, cmd: int, params: bytes = b"", *, response: int = 1, dst: int = 1,
            reserved: bytes = b"\x00\x00") -> bytes:
    return frame(bytes([group, cmd, response]) + reserved + params, dst=dst)


@dataclass
class Frame:
    starts: int
    dst: int
    src: int
    device: int
    version: int
    data: bytes


def parse_frames(wire: bytes) -> list[Frame]:
    """Split and strictly check the frames a card sent: start run, escapes, DataLen, CRC."""
    frames = []
    i = 0
    while i < len(wire):
        starts = 0
        while i < len(wire) and wire[i] == 0xA5:
            starts += 1
            i += 1
        assert starts >= 1, f"no start run at offset {i}: {wire[i:].hex(' ')}"
        end = wire.index(0x5A, i)
        escaped, i = wire[i:end], end + 1
        body = bytearray()
        k = 0
        while k < len(escaped):
            b = escaped[k]
            assert b != 0xA5
            if b in (0xA6, 0x5B):
                body.append(UNESC[(b, escaped[k + 1])])
                k += 2
            else:
                body.append(b)
                k += 1
        assert len(body) >= 16
        assert body[7] == 0, "no barcode in replies"
        datalen = int.from_bytes(body[12:14], "little")
        assert len(body) == 14 + datalen + 2, "DataLen mismatch"
        assert int.from_bytes(body[-2:], "little") == crc16(bytes(body[:-2])), "bad CRC"
        frames.append(Frame(starts, int.from_bytes(body[0:2], "little"), int.from_bytes(body[2:4], "little"),
                            body[10], body[11], bytes(body[14:-2])))
    return frames


def one_reply(wire: bytes, device: int = 0x58) -> Frame:
    frames = parse_frames(wire)
    assert len(frames) == 1, f"expected one reply frame, got {len(frames)}"
    reply = frames[0]
    assert reply.starts == 9 and reply.version == 2 and reply.device == device  # the model's code
    return reply


def nack(code: int) -> bytes:
    return bytes([0xA0, 0x01, code, 0, 0])


def special_setup(x_bytes: int, y: int, w_bytes: int, h: int, *, data_type: int = 1, pages: int = 0,
                  run_state: int = 0, timeout: int = 0, dst: int = 1) -> bytes:
    text = data_type == 0
    params = (x_bytes.to_bytes(2, "little") + y.to_bytes(2, "little") + w_bytes.to_bytes(2, "little")
              + h.to_bytes(2, "little") + bytes([data_type, pages, run_state]) + timeout.to_bytes(2, "little")
              + bytes([2 if text else 0, 0, 2 if text else 0]) + (10 if text else 0).to_bytes(2, "little")
              + bytes(6))
    assert len(params) == 24
    return request(0xA4, 0x01, params, dst=dst)


def bitmap_block(data: bytes, addr: int, last: bool, dst: int = 1) -> bytes:
    return request(0xA4, 0x03, bytes([1 if last else 0]) + addr.to_bytes(2, "little") + data, dst=dst)


def area_record(area_id: int, text: bytes, *, x: int = 0, y: int = 0, w: int = 128, h: int = 32,
                run_mode: int = 0, timeout: int = 10, align: int = 0, new_line: int = 1,
                pixels: bool = False) -> bytes:
    # X and width: bytes of 8 px on a 5th-generation card (the default BX-5K2); pixels with the bit-15
    # flag on a 6K (`pixels`), as Onbon's SDK sends them.
    x_field, w_field = ((x | 0x8000), (w | 0x8000)) if pixels else (x // 8, w // 8)
    rec = (b"\x00" + x_field.to_bytes(2, "little") + y.to_bytes(2, "little")
           + w_field.to_bytes(2, "little") + h.to_bytes(2, "little")
           + bytes([area_id, 0, run_mode]) + timeout.to_bytes(2, "little")
           + bytes([0, 0, align, 2, new_line, 1, 0, 2, 10]) + len(text).to_bytes(4, "little") + text)
    return len(rec).to_bytes(2, "little") + rec


def dynamic(areas: list[bytes], delete: bytes = b"", *, dst: int = 1, response: int = 1) -> bytes:
    params = bytes([len(delete)]) + delete + bytes([len(areas)]) + b"".join(areas)
    return request(0xA3, 0x06, params, dst=dst, response=response)


# V1 is a BX-6K3 frame (pixel-flagged X and width): the same text area as a BX-5K2 takes it.
V1_5K = dynamic([area_record(0, "欢迎光临".encode("gb2312"))], dst=0xFFFE)


class Clock:
    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def clock() -> Clock:
    return Clock(datetime(2024, 6, 1, 12, 0, 0))


def make_card(clock: Clock, address: int = 1, **kw) -> BxCard:
    return BxCard(address, kw.pop("width", 128), kw.pop("height", 32), kw.pop("colour", "red-green"),
                  clock=clock, **kw)


def pixels(img: Image.Image) -> list[tuple[int, int, int]]:
    return list(img.get_flattened_data()) if hasattr(img, "get_flattened_data") else list(img.getdata())


def state(card: BxCard) -> tuple:
    return (card.shown, card.bitmap, card.text_areas, card.brightness, card.power_on,
            card.special_area, card.system_time, card.snapshot().tobytes())


def expected_v12_image(lit_bit: int = 0) -> Image.Image:
    """V12's 512 bytes as a 64x32 red-green picture: rows, 8-px groups, R byte then G byte, MSB left."""
    data = V12[30:-3]
    assert len(data) == 512
    img = Image.new("RGB", (64, 32))
    for y in range(32):
        for g in range(8):
            r_byte, g_byte = data[(y * 8 + g) * 2], data[(y * 8 + g) * 2 + 1]
            for bit in range(8):
                lit_r = (r_byte >> (7 - bit) & 1) == lit_bit
                lit_g = (g_byte >> (7 - bit) & 1) == lit_bit
                img.putpixel((g * 8 + bit, y), (255 if lit_r else 0, 255 if lit_g else 0, 0))
    return img


# -- the test helpers themselves agree with the doc -------------------------------------------------------

def test_helpers_reproduce_golden_vectors():
    assert crc16(b"123456789") == 0xBB3D
    assert request(0xA2, 0x00) == V16
    assert request(0xA2, 0x03, bytes.fromhex("13 20 01 25 11 17 26 05"), reserved=b"\x08\x00") == V17
    assert request(0xA3, 0x06, bytes.fromhex("01 00 00")) == D5  # escaped CRC byte
    for vector in (V1, V9, V10, V11, V12, V13, V16, V17, D1, D2, D3, D4, D5, D6):
        assert len(parse_frames(vector)) == 1
    assert parse_frames(V2)[0].data == ACK
    assert parse_frames(V3)[0].data == nack(5)


# -- addressing, replies -----------------------------------------------------------------------------------

def test_v16_ping_gets_exactly_one_ack(clock):
    card = make_card(clock)
    reply = one_reply(card.receive(V16))
    assert (reply.dst, reply.src, reply.data) == (0x8000, 1, ACK)
    assert card.stats.acks_sent == 1 and card.stats.frames_ok == 1
    assert card.stats.bytes_in == len(V16)


def test_v1_broadcast2_sets_text_area_and_acks_like_v2(clock):
    card = make_card(clock, model="BX-6K3")  # the document's V1 is a 6K3 frame
    reply = one_reply(card.receive(V1), device=0x63)
    v2 = parse_frames(V2)[0]
    assert (reply.dst, reply.src, reply.data) == (v2.dst, v2.src, v2.data) == (0x8000, 0xFFFE, ACK)
    assert card.text_areas == {0: "欢迎光临"}
    assert card.shown == "text"
    area = card.dynamic_areas[0]
    assert (area.x, area.y, area.width, area.height, area.run_mode, area.timeout, area.effect) == (
        0, 0, 128, 32, 0, 10, 1)
    assert area.text == "欢迎光临".encode("gb2312")
    img = card.snapshot()
    assert img.size == (128, 32) and img.mode == "RGB"
    colours = set(pixels(img))
    assert colours == {BLACK, RED}  # default colour red, no anti-aliasing
    lit = [(x, y) for y in range(32) for x in range(128) if img.getpixel((x, y)) != BLACK]
    assert len(lit) > 100
    assert max(x for x, _ in lit) < 70 and max(y for _, y in lit) < 17  # 4 glyphs of 16 px, top left


def test_frames_for_another_address_are_ignored(clock):
    card = make_card(clock, address=2)
    before = state(card)
    setup = special_setup(0, 0, 8, 32)
    for f in (V16, D1, D3, D4, D6, V17, setup, V12, V9, V13, D5, V2, V3):
        assert card.receive(f) == b""
    assert state(card) == before
    assert card.stats.frames_foreign == 13 and card.stats.frames_ok == 0
    # the same frames readdressed to card 2 do act
    assert parse_frames(card.receive(request(0xA2, 0x00, dst=2)))[0].src == 2


def test_reply_escapes_its_own_bytes(clock):
    card = make_card(clock, address=0x5AA5)
    wire = card.receive(request(0xA2, 0x00, dst=0x5AA5))
    assert b"\xa6\x02" in wire and b"\x5b\x02" in wire
    reply = one_reply(wire)
    assert reply.src == 0x5AA5 and reply.data == ACK


def test_response_02_gets_no_reply_but_acts(clock):
    card = make_card(clock)
    assert card.receive(request(0xA2, 0x00, response=2)) == b""
    assert card.receive(request(0xA3, 0x02, bytes([1, 4]), response=2)) == b""
    assert card.brightness == 4
    assert card.receive(dynamic([area_record(3, b"Hi")], response=2)) == b""
    assert card.text_areas == {3: "Hi"}
    assert card.stats.acks_sent == 0 and card.stats.replies_sent == 0


def test_broadcast_ffff_acts_and_never_replies(clock):
    card = make_card(clock)
    off = frame(D3[22:28], dst=0xFFFF)  # D3's data field, readdressed
    assert parse_frames(off)[0].data == bytes.fromhex("A3 00 01 00 00 02")
    assert card.receive(off) == b""
    assert card.power_on is False and card.shown == "blank"
    sync = frame(V17[22:35], dst=0xFFFF)
    assert card.receive(sync) == b""
    assert card.system_time == datetime(2013, 1, 25, 11, 17, 26)
    # errors on a silent broadcast are silent too
    assert card.receive(request(0xA9, 0x00, dst=0xFFFF)) == b""
    assert card.stats.replies_sent == 0 and card.stats.frames_ok == 3


# -- integrity -----------------------------------------------------------------------------------------

def test_crc_corrupted_frame_gets_nack5_and_changes_nothing(clock):
    card = make_card(clock)
    card.receive(V1_5K)
    before = state(card)
    bad = D4[:28] + b"\x03" + D4[29:]  # brightness 15 → 3, CRC left as it was
    assert bad != D4
    reply = one_reply(card.receive(bad))
    assert reply.data == nack(5) and reply.dst == 0x8000 and reply.src == 1
    # The text frame with one text byte changed: NACK 5 back with Src 0xFFFE, text unchanged
    at = V1_5K.index("欢".encode("gb2312"))
    bad_v1 = V1_5K[:at] + b"\x00" + V1_5K[at + 1:]
    reply = one_reply(card.receive(bad_v1))
    assert reply.data == nack(5) and reply.src == 0xFFFE
    assert state(card) == before
    assert card.stats.frames_bad_crc == 2 and card.stats.nacks_sent == 2
    assert card.last_error is not None and "ERR_CHECKSUM" in card.last_error


def test_truncated_frame_and_bad_escape_are_checksum_errors(clock):
    card = make_card(clock)
    short = V16[:-4] + V16[-3:]  # one data byte lost: DataLen no longer matches
    assert one_reply(card.receive(short)).data == nack(5)
    bad_escape = V16[:-3] + b"\xa6\x07" + V16[-3:]
    assert one_reply(card.receive(bad_escape)).data == nack(5)
    assert card.stats.frames_bad_crc == 2


def test_noise_and_interrupted_frames_are_skipped(clock):
    card = make_card(clock)
    junk = b"\x00\x13\x5a\xff" + V16[:15] + b"\x5a" + V16[:20]  # garbage, a cut frame, a half frame
    wire = card.receive(junk + V16 + b"\x77\x5a\x5a" + V16)
    replies = parse_frames(wire)
    assert [r.data for r in replies] == [ACK, ACK]
    assert card.stats.frames_malformed == 1 and card.stats.frames_aborted == 1


def test_byte_at_a_time_gives_the_same_result(clock):
    session = [special_setup(0, 0, 8, 32), V12, D4, V16, D4[:28] + b"\x03" + D4[29:], b"\x01\x02\x5a",
               request(0xA2, 0x00, dst=7), V1_5K, D1, V17, D5, dynamic([area_record(2, b"\\C2OK")])]
    stream = b"".join(session)

    def run(chunks: list[bytes]) -> tuple[bytes, tuple, object]:
        card = make_card(Clock(clock.now))
        out = b"".join(card.receive(c) for c in chunks)
        return out, state(card), card.stats

    whole = run([stream])
    assert whole == run([bytes([b]) for b in stream])
    rng = random.Random(5)
    cuts = sorted(rng.sample(range(1, len(stream)), 40))
    assert whole == run([stream[a:b] for a, b in zip([0, *cuts], [*cuts, len(stream)], strict=True)])
    datas = [f.data for f in parse_frames(whole[0])]
    assert datas[:4] == [ACK, ACK, ACK, ACK] and datas[4] == nack(5) and datas[5] == ACK
    assert datas[6][:2] == b"\xa1\x02" and datas[7:] == [ACK, ACK, ACK]


# -- commands ------------------------------------------------------------------------------------------------

def test_v17_sets_the_time_from_the_injected_clock(clock):
    card = make_card(clock)
    assert one_reply(card.receive(V17)).data == ACK
    assert card.system_time == datetime(2013, 1, 25, 11, 17, 26)
    assert card.weekday == 5
    clock.advance(3600 + 34)
    assert card.system_time == datetime(2013, 1, 25, 12, 18, 0)
    status = one_reply(card.receive(D1)).data
    # The century first, then the year, month, day, weekday, hour, minute, second: the protocol
    # document's own words ("2011 年表示为0x20,0x11") and Onbon's C# demo (BX-K Form1.cs reads
    # pStatus[2] as the century). Our fact sheet (§7.5) said low byte first; the vendor wins.
    assert status[7:15] == bytes.fromhex("20 13 01 25 05 12 18 00")


@pytest.mark.parametrize("when", [
    "13 20 13 25 11 17 26 05",  # month 13
    "13 20 01 2A 11 17 26 05",  # not BCD
    "13 20 02 30 11 17 26 05",  # 30 February
    "13 20 01 25 24 00 00 05",  # hour 24
    "13 20 01 25 11 17 26 08",  # weekday 8
])
def test_bad_time_gets_nack14(clock, when):
    card = make_card(clock)
    reply = one_reply(card.receive(request(0xA2, 0x03, bytes.fromhex(when))))
    assert reply.data == nack(14)
    assert card.system_time == clock.now


def test_status_reply_payload(clock):
    card = make_card(clock)
    card.receive(V1_5K)
    card.receive(dynamic([area_record(5, b"x")]))
    card.receive(special_setup(0, 0, 8, 32))
    card.receive(V12)
    card.receive(request(0xA3, 0x02, bytes([1, 9])))
    card.receive(D3)
    data = one_reply(card.receive(D1)).data
    assert data[:5] == bytes.fromhex("A1 02 00 00 00")
    assert data[5] == 0x02 and data[6] == 9  # off, brightness 9
    assert data[7:15] == bytes.fromhex("20 24 06 01 06 12 00 00")  # century first; a Saturday
    assert data[15:20] == bytes(5)
    assert data[20:26] == bytes([1, 1, 2, 0, 5]) + bytes(1)  # special area, 1 page, areas 0 and 5
    assert len(data) == 25 + 16 + 12


def test_power_brightness_and_clear(clock):
    card = make_card(clock)
    card.receive(V1_5K)
    assert one_reply(card.receive(D3)).data == ACK
    assert not card.power_on and card.shown == "blank"
    assert set(pixels(card.snapshot())) == {BLACK}
    assert card.text_areas == {0: "欢迎光临"}  # content kept while off
    assert one_reply(card.receive(D2)).data == ACK
    assert card.power_on and card.shown == "text"
    assert one_reply(card.receive(request(0xA3, 0x02, bytes([1, 3])))).data == ACK
    assert card.brightness == 3
    assert one_reply(card.receive(D4)).data == ACK
    assert card.brightness == 15
    assert set(pixels(card.snapshot())) == {BLACK, RED}  # brightness is not applied to pixels
    assert one_reply(card.receive(request(0xA3, 0x02, bytes([1, 16])))).data == nack(2)
    assert card.brightness == 15
    assert one_reply(card.receive(D6)).data == ACK
    assert card.text_areas == {} and card.shown == "blank"
    assert set(pixels(card.snapshot())) == {BLACK}


def test_scheduled_brightness_follows_the_card_time(clock):
    card = make_card(clock)
    levels = bytes(i % 16 for i in range(48))
    assert one_reply(card.receive(request(0xA3, 0x02, bytes([2, 0]) + levels))).data == ACK
    assert card.brightness_mode == "scheduled"
    assert card.brightness == levels[24]  # 12:00 → slot 24
    clock.advance(45 * 60)
    assert card.brightness == levels[25]


def test_inline_codes_colours_and_line_breaks(clock):
    card = make_card(clock)
    text = b"\\FO000\\C2AB\\n\\C3\\FE000CD"
    assert one_reply(card.receive(dynamic([area_record(1, text)]))).data == ACK
    assert card.text_areas == {1: "AB\nCD"}
    img = card.snapshot()
    top = {img.getpixel((x, y)) for x in range(40) for y in range(16)}
    bottom = {img.getpixel((x, y)) for x in range(40) for y in range(18, 32)}
    assert top == {BLACK, GREEN} and bottom == {BLACK, YELLOW}
    mono = make_card(clock, colour="mono-red")
    mono.receive(dynamic([area_record(1, text)]))
    assert set(pixels(mono.snapshot())) == {BLACK, RED}


def test_dynamic_areas_delete_and_replace(clock):
    card = make_card(clock)
    card.receive(V1_5K)
    card.receive(dynamic([area_record(1, b"one", y=16, h=16), area_record(2, b"two", x=64, w=64, h=16)]))
    assert card.text_areas == {0: "欢迎光临", 1: "one", 2: "two"}
    assert one_reply(card.receive(D5)).data == ACK  # delete area 0, send none
    assert card.text_areas == {1: "one", 2: "two"}
    card.receive(dynamic([area_record(1, b"uno", y=16, h=16)], delete=b"\x02"))
    assert card.text_areas == {1: "uno"}
    card.receive(request(0xA3, 0x06, bytes([0xFF, 0])))  # delete all
    assert card.text_areas == {} and card.shown == "blank"


def test_bad_dynamic_area_requests_change_nothing(clock):
    card = make_card(clock)
    card.receive(V1_5K)
    before = state(card)
    assert one_reply(card.receive(dynamic([area_record(8, b"x")]))).data == nack(4)  # 5K: IDs 0..7
    assert one_reply(card.receive(dynamic([area_record(1, b"x", w=136)]))).data == nack(2)  # off screen
    broken = area_record(1, b"abc")[:-1]
    assert one_reply(card.receive(dynamic([broken]))).data == nack(2)
    # a valid area and a bad one in one command: neither is applied
    assert one_reply(card.receive(dynamic([area_record(1, b"ok"), area_record(9, b"no")]))).data == nack(4)
    assert state(card) == before


def test_runmode2_area_expires_on_the_injected_clock(clock):
    card = make_card(clock)
    card.receive(V1_5K)
    assert one_reply(card.receive(dynamic([area_record(1, b"temp", y=16, h=16, run_mode=2,
                                                       timeout=10)]))).data == ACK
    clock.advance(8)
    assert 1 in card.text_areas
    card.receive(dynamic([area_record(1, b"again", y=16, h=16, run_mode=2, timeout=10)]))  # refresh
    clock.advance(8)
    assert card.text_areas == {0: "欢迎光临", 1: "again"}
    lower = card.snapshot().crop((0, 16, 128, 32))
    assert set(pixels(lower)) != {BLACK}
    clock.advance(3)
    assert card.text_areas == {0: "欢迎光临"}  # RunMode 0 area stays
    assert set(pixels(card.snapshot().crop((0, 16, 128, 32)))) == {BLACK}
    status = one_reply(card.receive(D1)).data
    assert status[22:24] == bytes([1, 0])


def test_unknown_group_and_command(clock):
    card = make_card(clock)
    assert one_reply(card.receive(request(0xA9, 0x00))).data == nack(1)
    assert one_reply(card.receive(request(0xA2, 0x7F))).data == nack(2)
    assert card.last_error_code == 2 and card.stats.nacks_sent == 2


def test_oversize_data_field_gets_nack4(clock):
    card = make_card(clock)
    assert one_reply(card.receive(request(0xA2, 0x00, bytes(600)))).data == nack(4)
    card.receive(special_setup(0, 0, 16, 32))
    assert one_reply(card.receive(bitmap_block(bytes(513), 0, last=False))).data == nack(4)
    assert card.pending_bitmap_bytes is None
    big = make_card(clock, buffer=1024)
    big.receive(special_setup(0, 0, 16, 32))
    assert one_reply(big.receive(bitmap_block(bytes(1024), 0, last=True))).data == ACK


def test_busy_and_offline_faults(clock):
    card = make_card(clock)
    card.nack_busy = True
    assert one_reply(card.receive(D3)).data == nack(3)
    assert card.power_on
    assert card.receive(request(0xA3, 0x00, b"\x02", response=2)) == b""
    assert card.power_on
    card.nack_busy = False
    card.offline = True
    assert card.receive(V16[:10]) == b""
    assert card.receive(V16[10:] + D3) == b""
    assert card.power_on and card.stats.bytes_in == len(D3) + len(request(0xA3, 0x00, b"\x02"))
    card.offline = False
    assert one_reply(card.receive(V16[10:] + V16)).data == ACK  # the cut frame was forgotten


# -- special area: bitmap -----------------------------------------------------------------------------

def test_v12_needs_a_bitmap_setup_first(clock):
    card = make_card(clock)
    assert one_reply(card.receive(V12)).data == nack(6)
    assert card.bitmap is None and card.shown == "blank"
    # V9 sets up a text-mode area at x = 320 px: it does not fit this 128-px screen
    assert one_reply(card.receive(V9)).data == nack(2)
    assert card.special_area is None


def test_v12_after_setup_shows_the_image(clock):
    card = make_card(clock)
    assert one_reply(card.receive(special_setup(0, 0, 8, 32))).data == ACK
    assert card.shown == "blank"
    assert one_reply(card.receive(V12)).data == ACK
    assert card.shown == "bitmap" and card.bitmap == V12[30:-3]
    img = card.snapshot()
    assert img.crop((0, 0, 64, 32)).tobytes() == expected_v12_image().tobytes()
    assert set(pixels(img.crop((64, 0, 128, 32)))) == {BLACK}
    assert {RED, YELLOW} <= set(pixels(img))


def test_bitmap_layout_options(clock):
    # one 8-px group: R byte then G byte, MSB = leftmost pixel, bit 0 = lit
    card = make_card(clock, width=16, height=1)
    card.receive(special_setup(1, 0, 1, 1))
    assert one_reply(card.receive(bitmap_block(bytes([0x7E, 0xBE]), 0, last=True))).data == ACK
    row = [card.snapshot().getpixel((x, 0)) for x in range(16)]
    assert row[:8] == [BLACK] * 8  # AreaX is in bytes: 1 → 8 px
    assert row[8:] == [RED, GREEN] + [BLACK] * 5 + [YELLOW]

    swapped = make_card(clock, width=8, height=1, plane_order="GR", lit_bit=1)
    swapped.receive(special_setup(0, 0, 1, 1))
    swapped.receive(bitmap_block(bytes([0x81, 0x40]), 0, last=True))
    assert [swapped.snapshot().getpixel((x, 0)) for x in range(8)] == [
        GREEN, RED] + [BLACK] * 5 + [GREEN]

    mono = make_card(clock, width=8, height=2, colour="mono-red")
    mono.receive(special_setup(0, 0, 1, 2))
    assert one_reply(mono.receive(bitmap_block(bytes([0x7F, 0xFE]), 0, last=True))).data == ACK
    img = mono.snapshot()
    assert img.getpixel((0, 0)) == RED and img.getpixel((7, 1)) == RED
    assert sum(p != BLACK for p in pixels(img)) == 2


def test_multi_block_transfer_switches_atomically(clock):
    card = make_card(clock)
    card.receive(special_setup(0, 0, 8, 32))
    card.receive(V12)
    old = card.snapshot().tobytes()
    new = bytes(512)  # all lit: yellow
    assert one_reply(card.receive(bitmap_block(new[:200], 0, last=False))).data == ACK
    assert card.snapshot().tobytes() == old and card.pending_bitmap_bytes == 200
    assert one_reply(card.receive(bitmap_block(new[200:400], 200, last=False))).data == ACK
    assert card.snapshot().tobytes() == old
    assert one_reply(card.receive(bitmap_block(new[400:], 400, last=True))).data == ACK
    assert card.bitmap == new and card.pending_bitmap_bytes is None
    assert set(pixels(card.snapshot().crop((0, 0, 64, 32)))) == {YELLOW}


def test_missing_last_block_leaves_the_old_image(clock):
    card = make_card(clock)
    card.receive(special_setup(0, 0, 8, 32))
    card.receive(V12)
    old = card.snapshot().tobytes()
    card.receive(bitmap_block(bytes(256), 0, last=False))
    clock.advance(60)
    assert card.snapshot().tobytes() == old and card.bitmap == V12[30:-3]
    # a fresh transfer from BlockAddr 0 replaces the abandoned one
    card.receive(bitmap_block(bytes(256), 0, last=False))
    card.receive(bitmap_block(bytes(256), 256, last=True))
    assert card.bitmap == bytes(512)


def test_wrong_block_addr_gets_nack16_and_keeps_the_old_image(clock):
    card = make_card(clock)
    card.receive(special_setup(0, 0, 8, 32))
    card.receive(V12)
    old = card.snapshot().tobytes()
    card.receive(bitmap_block(bytes(256), 0, last=False))
    assert one_reply(card.receive(bitmap_block(bytes(128), 300, last=False))).data == nack(16)
    assert card.snapshot().tobytes() == old and card.bitmap == V12[30:-3]
    assert card.last_error is not None and "ERR_FILE_BLOCK_NUM" in card.last_error
    # What had arrived stays (a sender whose ACK was lost repeats a block and goes on) …
    assert card.pending_bitmap_bytes == 256
    assert one_reply(card.receive(bitmap_block(bytes(256), 0 + 0, last=False))).data == ACK  # restart
    assert card.pending_bitmap_bytes == 256
    # … and the transfer completes from the card's position.
    assert one_reply(card.receive(bitmap_block(b"\x0f" * 256, 256, last=True))).data == ACK
    assert card.bitmap == bytes(256) + b"\x0f" * 256


def test_wrong_total_size_keeps_the_old_image(clock):
    card = make_card(clock)
    card.receive(special_setup(0, 0, 8, 32))
    card.receive(V12)
    assert one_reply(card.receive(bitmap_block(bytes(500), 0, last=True))).data == nack(8)
    card.receive(bitmap_block(bytes(500), 0, last=False))
    assert one_reply(card.receive(bitmap_block(bytes(20), 500, last=False))).data == nack(8)
    assert card.bitmap == V12[30:-3]


def test_repeated_setup_keeps_the_image_other_setup_clears_it(clock):
    card = make_card(clock)
    card.receive(special_setup(0, 0, 8, 32))
    card.receive(V12)
    assert one_reply(card.receive(special_setup(0, 0, 8, 32))).data == ACK
    assert card.shown == "bitmap"
    card.receive(special_setup(8, 0, 8, 32))
    assert card.bitmap is None and card.shown == "blank"
    card.receive(V12)
    assert card.snapshot().crop((64, 0, 128, 32)).tobytes() == expected_v12_image().tobytes()
    assert one_reply(card.receive(V13)).data == ACK  # delete special area
    assert card.special_area is None and card.shown == "blank"
    assert one_reply(card.receive(V12)).data == nack(6)


def test_bitmap_special_area_runstate2_expires(clock):
    card = make_card(clock)
    card.receive(special_setup(0, 0, 8, 32, run_state=2, timeout=5))
    card.receive(V12)
    clock.advance(5)
    assert card.shown == "bitmap"
    clock.advance(1)
    assert card.shown == "blank" and card.special_area is None


# -- special area: text pages ---------------------------------------------------------------------------

def test_v9_v10_v11_text_pages(clock):
    card = make_card(clock, width=384, height=64, colour="mono-red")
    assert one_reply(card.receive(V9)).data == ACK
    sp = card.special_area
    assert sp is not None and (sp.x_bytes, sp.w_bytes, sp.height, sp.data_type, sp.page_total) == (
        40, 8, 64, 0, 1)
    assert one_reply(card.receive(V12)).data == nack(10)  # bitmap into a text-mode area
    assert one_reply(card.receive(V10)).data == ACK
    assert card.special_pages == {0: "www.onbonbx.com"} and card.shown == "text"
    img = card.snapshot()
    assert set(pixels(img.crop((320, 0, 384, 64)))) == {BLACK, RED}
    assert set(pixels(img.crop((0, 0, 320, 64)))) == {BLACK}
    assert one_reply(card.receive(request(0xA4, 0x02, bytes([1, 1, 0]) + b"x"))).data == nack(16)
    assert one_reply(card.receive(V11)).data == ACK
    assert card.special_pages == {} and card.shown == "blank"


def test_bx5k1_has_no_special_area(clock):
    card = make_card(clock, model="BX-5K1")
    [reply] = parse_frames(card.receive(special_setup(0, 0, 8, 32)))
    assert reply.data == nack(2) and reply.device == 0x51


# -- robustness ----------------------------------------------------------------------------------------

_shown_card_clock = Clock(datetime(2024, 6, 1, 12, 0, 0))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(noise=st.lists(st.binary(max_size=300) | st.sampled_from(
    [b"\xa5" * 8, b"\x5a", b"\x01\x00\x00\x80", b"\xa6", b"\x5b", V16[:20], V12[:40]]), max_size=20))
def test_random_bytes_never_raise_nor_change_the_picture(noise):
    card = make_card(_shown_card_clock)
    card.receive(special_setup(0, 0, 8, 32))
    card.receive(V12)
    card.receive(dynamic([area_record(1, b"AQI 42", x=64, w=64)]))
    before = (card.shown, card.bitmap, card.text_areas, card.snapshot().tobytes())
    for chunk in noise:
        out = card.receive(chunk)
        for reply in parse_frames(out):
            assert reply.data[:2] == b"\xa0\x01"  # noise can only earn NACKs
    assert (card.shown, card.bitmap, card.text_areas, card.snapshot().tobytes()) == before
    assert one_reply(card.receive(V16)).data == ACK  # and the card still answers


def test_a_5k_card_refuses_a_pixel_flagged_text_area(clock):
    # Onbon's SDK: "X coordinate and width setting has no effect on 5th-gen font cards" (bx.k.java
    # 46bc87c). A BX-5K2 given the 6K form is refused, not quietly shown somewhere.
    card = make_card(clock)
    reply = one_reply(card.receive(V1))
    assert reply.data[:2] == b"\xa0\x01" and card.text_areas == {}
    assert "pixel flag" in (card.last_error or "")
    assert one_reply(card.receive(V1_5K), device=0x58).data == ACK
    assert card.text_areas == {0: "欢迎光临"}


def test_the_special_area_is_for_5k2_and_5mk_only(clock):
    # Protocol document §8.3: the A4 commands are "BX-5K2、BX-5MK 专属命令".
    for model, has in (("BX-5K2", True), ("BX-5MK2", True), ("BX-5K1", False), ("BX-6K3", False)):
        card = make_card(clock, model=model)
        reply = parse_frames(card.receive(special_setup(0, 0, 8, 32)))[0]
        assert (reply.data == ACK) is has, model
