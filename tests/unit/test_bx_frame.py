"""Onbon BX link layer: CRC, escaping, encoder and streaming decoder against the doc's vectors.

Hex vectors are copied from the fact sheet /work/shared/facts/onbon-bx.md §6 (V1-V22; V23 and
V24 are broken in the doc and left out) and §6.1 (derived frames D1-D6).
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledctl.drivers.base import ProtocolError
from ledctl.drivers.onbon.frame import (
    BROADCAST,
    BROADCAST_REPLY,
    HOST_ADDRESS,
    Frame,
    FrameDecoder,
    FrameError,
    crc16_arc,
    decode,
    encode,
    escape,
    unescape,
)

VECTORS: dict[str, str] = {
    "V1": (
        "a5 a5 a5 a5 a5 a5 a5 a5 fe ff 00 80 00 00 00 00 00 00 fe 02 2c 00 a3 06 01 00 00 00 01 23 00 00 "
        "00 80 00 00 80 80 20 00 00 00 00 0a 00 00 00 00 02 01 01 00 02 0a 08 00 00 00 bb b6 d3 ad b9 e2 "
        "c1 d9 3c 49 5a"
    ),
    "V2": "A5 A5 A5 A5 A5 A5 A5 A5 A5 00 80 FE FF 00 00 00 00 00 00 FE 02 05 00 A0 00 00 00 00 14 AC 5A",
    "V3": "A5 A5 A5 A5 A5 A5 A5 A5 A5 00 80 FE FF 00 00 00 00 00 00 FE 02 05 00 A0 01 05 00 00 05 51 5A",
    "V4": (
        "A5 A5 A5 A5 A5 A5 A5 A5 FE FF 00 80 00 00 00 00 00 00 FE 02 0E 00 A1 05 01 00 00 01 50 30 30 30 "
        "47 00 00 00 48 14 5A"
    ),
    "V5": (
        "A5 A5 A5 A5 A5 A5 A5 A5 FE FF 00 80 00 00 00 00 00 00 FE 02 59 00 A1 06 01 00 00 50 30 30 30 01 "
        "00 00 47 00 00 00 00 00 00 50 30 30 30 47 00 00 00 FF 00 00 01 FF FF FF FF FF FF FF FF 01 00 00 "
        "01 2C 00 00 00 00 00 80 00 00 80 80 20 00 FF 00 00 00 00 00 00 00 02 02 02 00 0A 0A 0D 00 00 00 "
        "BB B6 D3 AD B9 E2 C1 D9 4F 6E 62 6F 6E 0F 18 EC F0 5A"
    ),
    "V6": (
        "A5 A5 A5 A5 A5 A5 A5 A5 01 00 00 80 00 00 00 00 00 00 63 02 77 00 A1 06 01 00 00 50 30 30 30 01 "
        "00 00 65 00 00 00 00 00 00 50 30 30 30 65 00 00 00 FF 00 00 01 FF FF FF FF FF FF FF FF 01 00 00 "
        "02 27 00 00 00 00 00 80 00 00 80 80 10 00 FF 00 00 00 00 00 00 00 02 02 03 00 0A 0A 08 00 00 00 "
        "BB B6 D3 AD B9 E2 C1 D9 23 00 00 00 00 00 80 10 00 80 80 10 00 FF 00 00 00 00 00 00 00 02 02 03 "
        "00 0A 0A 04 00 00 00 31 32 33 34 8A EC F7 4C 5A"
    ),
    "V7": (
        "A5 A5 A5 A5 A5 A5 A5 A5 01 00 00 80 00 00 00 00 00 00 FE 02 0E 00 A1 05 01 00 00 01 50 30 30 30 "
        "49 00 00 00 E2 16 5A"
    ),
    "V8": (
        "A5 A5 A5 A5 A5 A5 A5 A5 01 00 00 80 00 00 00 00 00 00 FE 02 5B 01 00 A1 06 01 00 00 50 30 30 30 "
        "01 00 00 49 00 00 00 00 00 00 50 30 30 30 49 00 00 00 FF 00 00 01 FF FF 01 24 14 20 01 24 FF 00 "
        "00 01 2A 00 00 00 00 18 00 00 00 08 00 40 00 FF 00 00 00 00 00 00 00 02 02 01 00 00 0A 0F 00 00 "
        "00 77 77 77 2E 6F 6E 62 6F 6E 62 78 2E 63 6F 6D 52 4D 07 11 5A"
    ),
    "V9": (
        "A5 A5 A5 A5 A5 A5 A5 A5 01 00 00 80 00 00 00 00 00 00 FE 02 1D 00 A4 01 01 00 00 28 00 00 00 08 "
        "00 40 00 00 01 00 02 00 02 00 02 0A 00 00 00 00 00 00 00 FD C0 5A"
    ),
    "V10": (
        "A5 A5 A5 A5 A5 A5 A5 A5 01 00 00 80 00 00 00 00 00 00 FE 02 17 00 A4 02 01 00 00 00 0F 00 77 77 "
        "77 2E 6F 6E 62 6F 6E 62 78 2E 63 6F 6D 68 B5 5A"
    ),
    "V11": "A5 A5 A5 A5 A5 A5 A5 A5 01 00 00 80 00 00 00 00 00 00 FE 02 06 00 A4 09 01 00 00 00 65 9C 5A",
    "V12": (
        "A5 A5 A5 A5 A5 A5 A5 A5 01 00 00 80 00 00 00 00 00 00 FE 02 08 02 A4 03 01 00 00 01 00 00 FF 00 "
        "FF 00 FF 00 FF 00 FF 00 FF 00 FF 00 FF 00 FF 00 FF 00 FF 00 FF 00 FF 00 FF 00 FF 00 FF 00 FF 00 "
        "FF 00 FF 00 FF 00 FF 00 FD 00 FF 00 FF 00 FC 00 FF 00 80 00 3F 00 FF 00 F0 00 07 00 FF 00 FE 00 "
        "7F 00 02 02 FF 80 FF 00 E0 00 00 00 7F 00 FF 00 9F 00 29 28 FF 00 FF 00 C0 00 02 00 7F 00 FF 00 "
        "CF 00 03 00 FF 00 FF 00 80 00 0E 00 7F 00 FF 00 E7 00 28 28 3F 00 FF 00 00 00 18 18 3F 00 FF 00 "
        "F0 00 00 00 7F 00 FE 00 FF EF F8 F8 3F 00 FF 00 FC 00 01 00 FF 00 FF 01 FE FF F8 F8 3F 00 FF 00 "
        "F8 00 03 00 FF 00 FF 01 FF FF F8 E8 7F 00 FF 00 F0 00 1F 00 FF 00 FE 00 1F 1F F0 F0 FF 00 FF 00 "
        "C0 00 8D 00 FF 00 FC 00 01 01 D0 D0 FF 00 FC 00 01 00 C7 00 FF 00 FC 00 00 00 01 00 FF 00 FC 00 "
        "61 00 A7 00 FF 00 FC 00 60 00 01 00 FF 00 FC 00 EF 20 FD 00 FF 00 FC 00 E0 00 03 00 FF 00 FD 01 "
        "8F 00 F7 00 FF 00 FC 00 85 00 07 00 FF 00 FC 00 0F 00 FF 00 FF 00 FC 00 07 00 9F 00 FF 00 FF 00 "
        "FF 00 FF 00 FF 00 FF 00 FF 00 FF 00 FF 00 FF 00 FF 00 FF 00 FF 00 FF 00 FF 00 FF 00 FF 00 FF 00 "
        "F5 00 9F 00 FF 00 FF 00 FF 00 FF 00 FF 00 FF 00 FD 08 9F 80 FF 00 FF 00 F2 02 CF 00 FF 00 FF 00 "
        "F8 08 9F 80 FF 00 FF 00 FF 0F 57 50 FF 00 FF 00 FF 00 FF 80 FF 00 FF 00 FF 00 DF C0 FF 00 FF 00 "
        "FF 00 FF 00 FF 00 FF 00 FF 00 EF 00 FF 00 FF 00 FF 00 FF 00 FF 00 FF 00 FF 00 FF 00 FF 00 DF 00 "
        "DF 00 DB 02 FF 00 FF 00 FF 00 FF 00 FF 00 C8 00 52 52 52 12 BF 80 FF 00 FF 00 FF 00 FF 00 DA 1A "
        "DB DB 52 52 C3 80 FF 00 FF 00 FF 00 FF 00 FF 00 FF 00 FF 00 FF 00 FF 00 FF 00 FF 00 FF 00 FF "
        "00FF 00 FF 00 FF 00 FF 00 FF 00 FF 00 FF 00 FF 00 FF 00 FF 00 FF 00 FF 00 FF 00 FF 00 FF 00 2E "
        "8B 5A"
    ),
    "V13": "A5 A5 A5 A5 A5 A5 A5 A5 01 00 00 80 00 00 00 00 00 00 FE 02 05 00 A4 04 01 00 00 E1 C8 5A",
    "V14": (
        "A5 A5 A5 A5 A5 A5 A5 A5 FE FF 00 80 00 00 00 00 00 00 FE 02 0B 00 A4 06 01 00 00 00 FF FE 83 A8 "
        "56 1C 2C 5A"
    ),
    "V15": "A5 A5 A5 A5 A5 A5 A5 A5 01 00 00 80 00 00 00 00 00 00 FE 02 05 00 A1 00 01 00 00 2C F8 5A",
    "V16": "A5 A5 A5 A5 A5 A5 A5 A5 01 00 00 80 00 00 00 00 00 00 FE 02 05 00 A2 00 01 00 00 68 F8 5A",
    "V17": (
        "A5 A5 A5 A5 A5 A5 A5 A5 01 00 00 80 00 00 00 00 00 00 FE 02 0D 00 A2 03 01 08 00 13 20 01 25 11 "
        "17 26 05 B0 3F 5A"
    ),
    "V18": (
        "A5 A5 A5 A5 A5 A5 A5 A5 01 00 00 80 00 00 00 00 00 00 FE 02 0B 00 A3 04 01 00 00 00 01 50 30 30 "
        "30 C2 40 5A"
    ),
    "V19": (
        "A5 A5 A5 A5 A5 A5 A5 A5 01 00 00 80 00 00 00 00 00 00 FE 02 0B 00 A3 04 01 00 00 00 00 50 30 30 "
        "30 FF 80 5A"
    ),
    "V20": "A5 A5 A5 A5 A5 A5 A5 A5 FE FF 00 80 FF 00 00 00 00 00 FE 02 06 00 A2 08 01 00 00 01 BC 51 5A",
    "V21": "A5 A5 A5 A5 A5 A5 A5 A5 FE FF 00 80 FF 00 00 00 00 00 FE 02 06 00 A2 08 01 00 00 00 7D 91 5A",
    "V22": "A5 A5 A5 A5 A5 A5 A5 A5 FE FF 00 80 FF 00 00 00 00 00 FE 02 05 00 A2 09 01 00 00 F0 00 5A",
    "D1": "A5 A5 A5 A5 A5 A5 A5 A5 01 00 00 80 00 00 00 00 00 00 FE 02 05 00 A1 02 01 00 00 2D 40 5A",
    "D2": "A5 A5 A5 A5 A5 A5 A5 A5 01 00 00 80 00 00 00 00 00 00 FE 02 06 00 A3 00 01 00 00 01 79 EA 5A",
    "D3": "A5 A5 A5 A5 A5 A5 A5 A5 01 00 00 80 00 00 00 00 00 00 FE 02 06 00 A3 00 01 00 00 02 39 EB 5A",
    "D4": "A5 A5 A5 A5 A5 A5 A5 A5 01 00 00 80 00 00 00 00 00 00 FE 02 07 00 A3 02 01 00 00 01 0F 67 94 5A",
    "D5": (
        "A5 A5 A5 A5 A5 A5 A5 A5 01 00 00 80 00 00 00 00 00 00 FE 02 08 00 A3 06 01 00 00 01 00 00 A6 02 "
        "EA 5A"
    ),
    "D6": "A5 A5 A5 A5 A5 A5 A5 A5 01 00 00 80 00 00 00 00 00 00 FE 02 05 00 A3 10 01 00 00 51 F8 5A",
}

# name -> (dst, src, device_type, header reserved, CmdGroup, Cmd, DataLen)
EXPECTED: dict[str, tuple[int, int, int, bytes, int, int, int]] = {
    "V1": (0xFFFE, 0x8000, 0xFE, b"\0\0\0", 0xA3, 0x06, 44),
    "V2": (0x8000, 0xFFFE, 0xFE, b"\0\0\0", 0xA0, 0x00, 5),
    "V3": (0x8000, 0xFFFE, 0xFE, b"\0\0\0", 0xA0, 0x01, 5),
    "V4": (0xFFFE, 0x8000, 0xFE, b"\0\0\0", 0xA1, 0x05, 14),
    "V5": (0xFFFE, 0x8000, 0xFE, b"\0\0\0", 0xA1, 0x06, 89),
    "V6": (0x0001, 0x8000, 0x63, b"\0\0\0", 0xA1, 0x06, 119),
    "V7": (0x0001, 0x8000, 0xFE, b"\0\0\0", 0xA1, 0x05, 14),
    "V8": (0x0001, 0x8000, 0xFE, b"\0\0\0", 0xA1, 0x06, 91),
    "V9": (0x0001, 0x8000, 0xFE, b"\0\0\0", 0xA4, 0x01, 29),
    "V10": (0x0001, 0x8000, 0xFE, b"\0\0\0", 0xA4, 0x02, 23),
    "V11": (0x0001, 0x8000, 0xFE, b"\0\0\0", 0xA4, 0x09, 6),
    "V12": (0x0001, 0x8000, 0xFE, b"\0\0\0", 0xA4, 0x03, 520),
    "V13": (0x0001, 0x8000, 0xFE, b"\0\0\0", 0xA4, 0x04, 5),
    "V14": (0xFFFE, 0x8000, 0xFE, b"\0\0\0", 0xA4, 0x06, 11),
    "V15": (0x0001, 0x8000, 0xFE, b"\0\0\0", 0xA1, 0x00, 5),
    "V16": (0x0001, 0x8000, 0xFE, b"\0\0\0", 0xA2, 0x00, 5),
    "V17": (0x0001, 0x8000, 0xFE, b"\0\0\0", 0xA2, 0x03, 13),
    "V18": (0x0001, 0x8000, 0xFE, b"\0\0\0", 0xA3, 0x04, 11),
    "V19": (0x0001, 0x8000, 0xFE, b"\0\0\0", 0xA3, 0x04, 11),
    "V20": (0xFFFE, 0x8000, 0xFE, b"\xff\0\0", 0xA2, 0x08, 6),
    "V21": (0xFFFE, 0x8000, 0xFE, b"\xff\0\0", 0xA2, 0x08, 6),
    "V22": (0xFFFE, 0x8000, 0xFE, b"\xff\0\0", 0xA2, 0x09, 5),
    "D1": (0x0001, 0x8000, 0xFE, b"\0\0\0", 0xA1, 0x02, 5),
    "D2": (0x0001, 0x8000, 0xFE, b"\0\0\0", 0xA3, 0x00, 6),
    "D3": (0x0001, 0x8000, 0xFE, b"\0\0\0", 0xA3, 0x00, 6),
    "D4": (0x0001, 0x8000, 0xFE, b"\0\0\0", 0xA3, 0x02, 7),
    "D5": (0x0001, 0x8000, 0xFE, b"\0\0\0", 0xA3, 0x06, 8),
    "D6": (0x0001, 0x8000, 0xFE, b"\0\0\0", 0xA3, 0x10, 5),
}

# Vectors whose wire form contains an escape: (escaped header bytes, escaped checksum bytes).
# V8: DataLen 0x005B goes out as 5B 01 00; D5: CRC low byte A5 goes out as A6 02.
ESCAPED_PARTS = {"V8": (15, 2), "D5": (14, 3)}

NAMES = sorted(VECTORS, key=lambda n: (n[0], int(n[1:])))


def wire(name: str) -> bytes:
    return bytes.fromhex(VECTORS[name])


def start_run(data: bytes) -> int:
    return len(data) - len(data.lstrip(b"\xa5"))


def expected_data(name: str) -> bytes:
    """The data field cut straight from the wire bytes (no decoder involved)."""
    w = wire(name)
    hdr, chk = ESCAPED_PARTS.get(name, (14, 2))
    data = w[start_run(w) + hdr : len(w) - 1 - chk]
    assert not set(data) & {0xA5, 0xA6, 0x5A, 0x5B}, "slice would need unescaping"
    return data


def frames(items: list) -> list[Frame]:
    return [x for x in items if isinstance(x, Frame)]


def errors(items: list) -> list[FrameError]:
    return [x for x in items if isinstance(x, FrameError)]


def decode_all(data: bytes, **kw) -> list:
    dec = FrameDecoder(**kw)
    return dec.feed(data) + dec.flush()


def check_vector_frame(name: str, frame: Frame) -> None:
    dst, src, dev, reserved, group, cmd, data_len = EXPECTED[name]
    assert (frame.dst, frame.src, frame.device_type, frame.reserved) == (dst, src, dev, reserved)
    assert (frame.protocol_version, frame.check_mode, frame.display_mode, frame.barcode) == (2, 0, 0, None)
    assert len(frame.data) == data_len
    assert frame.data[:2] == bytes((group, cmd))
    assert frame.data == expected_data(name)


# --- CRC ----------------------------------------------------------------------------------------


def test_crc_check_value() -> None:
    assert crc16_arc(b"123456789") == 0xBB3D
    assert crc16_arc(b"") == 0


def test_crc_matches_doc_table_entries() -> None:
    # With init 0, the CRC of the single byte n is table entry n of the doc's appendix.
    assert crc16_arc(b"\x01") == 0xC0C1
    assert crc16_arc(b"\xff") == 0x4040


def _crc_bitwise(data: bytes) -> int:
    crc = 0
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return crc


@given(st.binary(max_size=300))
def test_crc_table_matches_bitwise_definition(data: bytes) -> None:
    assert crc16_arc(data) == _crc_bitwise(data)


# --- escaping -----------------------------------------------------------------------------------


def test_escape_pairs() -> None:
    assert escape(b"\xa5\xa6\x5a\x5b\x00") == b"\xa6\x02\xa6\x01\x5b\x02\x5b\x01\x00"
    assert unescape(b"\xa6\x02\xa6\x01\x5b\x02\x5b\x01\x00") == b"\xa5\xa6\x5a\x5b\x00"


SPECIAL = st.sampled_from([0xA5, 0xA6, 0x5A, 0x5B, 0x00, 0x01, 0x02, 0xFF])
BYTES = st.lists(st.one_of(SPECIAL, st.integers(0, 255)), max_size=200).map(bytes)


@given(BYTES)
def test_escape_round_trip(raw: bytes) -> None:
    body = escape(raw)
    assert 0xA5 not in body and 0x5A not in body
    assert unescape(body) == raw


@pytest.mark.parametrize("body", [b"\xa6\x03", b"\x5b\x00", b"\x00\xa6", b"\x5b", b"\xa6\xa5"])
def test_unescape_rejects_invalid_pairs(body: bytes) -> None:
    with pytest.raises(FrameError) as info:
        unescape(body)
    assert info.value.kind == "escape"


# --- the doc's vectors --------------------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_decoder_whole_frame(name: str) -> None:
    items = FrameDecoder().feed(wire(name))
    assert len(items) == 1 and isinstance(items[0], Frame), items
    check_vector_frame(name, items[0])


@pytest.mark.parametrize("name", NAMES)
def test_decoder_one_byte_at_a_time(name: str) -> None:
    dec = FrameDecoder()
    out = []
    w = wire(name)
    for i in range(len(w)):
        got = dec.feed(w[i : i + 1])
        if i < len(w) - 1:
            assert got == [], f"output before the end byte at {i}: {got}"
        out += got
    assert len(out) == 1 and isinstance(out[0], Frame)
    check_vector_frame(name, out[0])
    assert dec.flush() == []


# Noise without 0x5A cannot end a frame, so it cannot fake one; it may contain start runs and escapes.
NOISE = st.lists(
    st.one_of(st.sampled_from([0xA5, 0xA6, 0x5B, 0x00, 0x01, 0x02, 0xFF]), st.integers(0, 255)),
    max_size=60,
).map(lambda xs: bytes(x for x in xs if x != 0x5A))


@pytest.mark.parametrize("name", NAMES)
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(before=NOISE, between=NOISE, after=NOISE, other=st.sampled_from(NAMES), chunk=st.integers(1, 64))
def test_decoder_with_noise_around_and_between(
    name: str, before: bytes, between: bytes, after: bytes, other: str, chunk: int
) -> None:
    stream = before + wire(name) + between + wire(other) + after
    dec = FrameDecoder()
    out = []
    for i in range(0, len(stream), chunk):
        out += dec.feed(stream[i : i + chunk])
    out += dec.flush()
    got = frames(out)
    assert len(got) == 2, out
    check_vector_frame(name, got[0])
    check_vector_frame(other, got[1])
    # The noise may produce errors, but only before, between or after the frames.
    assert all(isinstance(x, FrameError) for x in out if not isinstance(x, Frame))


@pytest.mark.parametrize("name", NAMES)
def test_encoder_reproduces_vector(name: str) -> None:
    w = wire(name)
    dst, src, dev, reserved, *_ = EXPECTED[name]
    frame = Frame(dst=dst, src=src, data=expected_data(name), device_type=dev, reserved=reserved)
    assert encode(frame, start_run=start_run(w)).hex(" ") == w.hex(" ")


def test_reply_vectors_have_nine_start_bytes() -> None:
    ack = Frame(dst=HOST_ADDRESS, src=BROADCAST_REPLY, data=b"\xa0\x00\x00\x00\x00")
    nack = Frame(dst=HOST_ADDRESS, src=BROADCAST_REPLY, data=b"\xa0\x01\x05\x00\x00")
    assert encode(ack, start_run=9) == wire("V2")
    assert encode(nack, start_run=9) == wire("V3")
    assert encode(ack).startswith(b"\xa5" * 8 + b"\x00")


def test_escapes_in_vectors() -> None:
    assert decode(wire("V8")).header()[12:14] == b"\x5b\x00"
    assert crc16_arc(decode(wire("D5")).header() + decode(wire("D5")).data) == 0xEAA5


def test_constants() -> None:
    assert (HOST_ADDRESS, BROADCAST, BROADCAST_REPLY) == (0x8000, 0xFFFF, 0xFFFE)


# --- decoder behaviour --------------------------------------------------------------------------


@pytest.mark.parametrize("run", [1, 2, 7, 8, 9, 20])
def test_any_start_run_length(run: int) -> None:
    frame = decode(wire("V16"))
    w = encode(frame, start_run=run)
    assert w[: run + 1] == b"\xa5" * run + b"\x01"
    assert frames(decode_all(w)) == [frame]


def test_frame_cut_off_by_new_start_run() -> None:
    cut = wire("V1")[:30]
    out = decode_all(cut + wire("V16"))
    assert len(out) == 2
    assert isinstance(out[0], FrameError) and out[0].kind == "truncated"
    assert out[1] == decode(wire("V16"))


def test_cut_off_inside_an_escape_pair() -> None:
    w = wire("V8")
    cut = w[: w.index(b"\x5b\x01") + 1]  # ends on the escape byte
    out = decode_all(cut + wire("D6"))
    assert [type(x) for x in out] == [FrameError, Frame]
    assert out[0].kind == "truncated"


def test_crc_error_then_good_frame() -> None:
    bad = bytearray(wire("V1"))
    bad[40] ^= 0x10  # inside the data field
    out = decode_all(bytes(bad) + wire("V16"))
    assert len(out) == 2
    assert isinstance(out[0], FrameError) and out[0].kind == "crc"
    assert "mismatch" in str(out[0])
    check_vector_frame("V16", out[1])


def test_datalen_mismatch_is_length_error() -> None:
    w = bytearray(wire("V16"))
    w[8 + 12] = 0x04  # DataLen 5 -> 4
    out = decode_all(bytes(w))
    assert [e.kind for e in errors(out)] == ["length"] and not frames(out)
    w[8 + 12] = 0x06  # DataLen 5 -> 6
    out = decode_all(bytes(w))
    assert [e.kind for e in errors(out)] == ["length"] and not frames(out)


def test_frame_running_past_datalen_is_reported_early() -> None:
    frame = Frame(dst=1, src=HOST_ADDRESS, data=b"\x01\x02")
    w = bytearray(encode(frame))
    long = bytes(w[:-1]) + b"\x11" * 50  # no end byte, far past DataLen
    dec = FrameDecoder()
    out = dec.feed(long)
    assert [e.kind for e in errors(out)] == ["length"]
    assert not dec.in_frame  # it skipped the rest and waits for a start run
    assert dec.feed(wire("D6")) == [decode(wire("D6"))]


def test_invalid_escape_then_good_frame() -> None:
    w = wire("V8").replace(b"\x5b\x01", b"\x5b\x07")
    out = decode_all(w + wire("V16"))
    assert [type(x) for x in out] == [FrameError, Frame]
    assert out[0].kind == "escape"
    check_vector_frame("V16", out[1])


def test_too_short_body() -> None:
    out = decode_all(b"\xa5\xa5\x01\x02\x03\x5a")
    assert [e.kind for e in errors(out)] == ["truncated"]


def test_flush_reports_an_unfinished_frame() -> None:
    dec = FrameDecoder()
    assert dec.feed(wire("V1")[:-5]) == []
    assert dec.in_frame
    [err] = dec.flush()
    assert err.kind == "truncated"
    assert dec.flush() == []
    assert dec.feed(wire("V16")) == [decode(wire("V16"))]


@pytest.mark.parametrize("mode", [0, 1, 2])
def test_check_modes_round_trip(mode: int) -> None:
    frame = Frame(dst=3, src=HOST_ADDRESS, data=b"\xa3\x10\x01\x00\x00\xa5\x5a", check_mode=mode)
    assert decode(encode(frame)) == frame


def test_additive_checksum_is_16_bit_sum_le() -> None:
    frame = Frame(dst=1, src=0x8000, data=b"\xff" * 300, check_mode=1)
    phy1 = frame.phy1()
    assert phy1[-2:] == (sum(phy1[:-2]) & 0xFFFF).to_bytes(2, "little")
    bad = bytearray(encode(frame))
    bad[30] ^= 0x01
    [err] = decode_all(bytes(bad))
    assert err.kind == "crc" and "additive" in str(err)


def test_check_mode_two_ignores_checksum_bytes_unless_refused() -> None:
    frame = Frame(dst=1, src=0x8000, data=b"\xa2\x00\x01\x00\x00", check_mode=2)
    w = bytearray(encode(frame))
    w[-2] ^= 0x44  # the (ignored) checksum bytes
    assert decode(bytes(w)) == frame
    [err] = decode_all(bytes(w), check_modes=(0,))
    assert err.kind == "header"


def test_barcode_frame_round_trip() -> None:
    barcode = bytes(range(16))
    frame = Frame(dst=BROADCAST_REPLY, src=HOST_ADDRESS, data=b"\xa4\x05\x01\x00\x00", barcode=barcode)
    phy1 = frame.phy1()
    assert len(phy1) == 30 + 5 + 2 and phy1[7] == 0x01 and phy1[8:24] == bytes(range(16))
    assert decode(encode(frame)) == frame


@pytest.mark.parametrize(("offset", "value"), [(7, 0x02), (8, 0x03)])
def test_bad_header_fields(offset: int, value: int) -> None:
    raw = bytearray(Frame(dst=1, src=0x8000, data=b"\xa2\x00\x01\x00\x00").phy1())
    raw[offset] = value
    raw[-2:] = crc16_arc(bytes(raw[:-2])).to_bytes(2, "little")
    [err] = decode_all(b"\xa5" + escape(bytes(raw)) + b"\x5a")
    assert err.kind == "header"


def test_frame_validation() -> None:
    with pytest.raises(ValueError):
        Frame(dst=0x10000, src=0, data=b"")
    with pytest.raises(ValueError):
        Frame(dst=0, src=0, data=b"", reserved=b"\x00")
    with pytest.raises(ValueError):
        Frame(dst=0, src=0, data=b"", barcode=b"\x00" * 15)
    with pytest.raises(ValueError):
        Frame(dst=0, src=0, data=b"", check_mode=3)
    with pytest.raises(ValueError):
        Frame(dst=0, src=0, data=bytes(0x10000))
    with pytest.raises(ValueError):
        encode(Frame(dst=0, src=0, data=b""), start_run=0)


def test_frame_error_kind_and_message() -> None:
    err = FrameError("crc", "CRC16 mismatch")
    # A typed protocol error, not a bare ValueError: a decoder bug must never pass for line noise.
    assert isinstance(err, ProtocolError) and not isinstance(err, ValueError)
    assert err.kind == "crc" and "CRC16 mismatch" in str(err)
    with pytest.raises(ValueError):
        FrameError("bogus", "x")  # type: ignore[arg-type]


# --- robustness properties ----------------------------------------------------------------------


@settings(max_examples=300)
@given(data=st.one_of(st.binary(max_size=400), BYTES), chunk=st.integers(1, 50))
def test_decoder_never_raises(data: bytes, chunk: int) -> None:
    dec = FrameDecoder()
    for i in range(0, len(data), chunk):
        for item in dec.feed(data[i : i + chunk]):
            assert isinstance(item, Frame | FrameError)
    dec.flush()


@st.composite
def any_frame(draw, check_modes=(0, 1, 2)) -> Frame:
    return Frame(
        dst=draw(st.integers(0, 0xFFFF)),
        src=draw(st.integers(0, 0xFFFF)),
        data=draw(BYTES),
        device_type=draw(st.one_of(SPECIAL, st.integers(0, 255))),
        protocol_version=draw(st.integers(0, 255)),
        check_mode=draw(st.sampled_from(check_modes)),
        display_mode=draw(st.integers(0, 255)),
        reserved=draw(st.binary(min_size=3, max_size=3)),
        barcode=draw(st.none() | st.binary(min_size=16, max_size=16)),
    )


@given(any_frame(), st.integers(1, 12))
def test_random_frames_round_trip(frame: Frame, run: int) -> None:
    assert decode(encode(frame, start_run=run)) == frame


def _flips(w: bytes, first: int):
    for pos in range(first, len(w)):
        for bit in range(8):
            bad = bytearray(w)
            bad[pos] ^= 1 << bit
            yield pos, bit, bytes(bad)


@pytest.mark.parametrize("name", NAMES)
def test_every_single_bit_flip_is_caught(name: str) -> None:
    """Flip each bit from the last start byte on: never the original frame back, never silence."""
    w = wire(name)
    original = decode(w)
    first = start_run(w) - 1  # earlier start bytes are redundant by design
    for pos, bit, bad in _flips(w, first):
        out = decode_all(bad)
        assert out, f"byte {pos} bit {bit}: nothing reported"
        assert original not in out, f"byte {pos} bit {bit}: corrupted frame accepted as the original"
        strict = decode_all(bad, check_modes=(0,))
        assert errors(strict) and not frames(strict), f"byte {pos} bit {bit}: {strict}"


def test_flips_in_redundant_start_bytes_are_harmless() -> None:
    w = wire("V16")
    original = decode(w)
    for pos, _bit, bad in _flips(w[:7], 0):
        got = frames(decode_all(bad + w[7:]))
        assert original in got, pos


@settings(max_examples=300)
@given(any_frame(check_modes=(0, 1)), st.data())
def test_random_bit_flip_never_returns_the_same_frame(frame: Frame, data) -> None:
    w = encode(frame)
    pos = data.draw(st.integers(7, len(w) - 1))
    bit = data.draw(st.integers(0, 7))
    bad = bytearray(w)
    bad[pos] ^= 1 << bit
    out = decode_all(bytes(bad))
    assert out
    assert frame not in out
