"""TPM2 framing, pixel orders, the WLED count rule and padding, the host's timeline, and the simulated
receivers (a strict generic one and WLED's serial input), byte by byte."""

from __future__ import annotations

import itertools
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from ledctl.drivers.tpm2 import (
    PixelOrder,
    Receiver,
    Tpm2Decoder,
    Tpm2Error,
    data_frame,
    ping_frame,
    pixels,
    wled_counts_right,
    wled_padded,
)
from ledctl.model import Size
from ledctl.simulator.tpm2_receiver import Tpm2Receiver, Wiring, WledSerial

ORDERS = [f"{corner} {lines}{snake}" for corner, lines, snake in itertools.product(
    ("top-left", "top-right", "bottom-left", "bottom-right"), ("rows", "columns"), ("", " serpentine"))]


def numbered(width: int, height: int) -> Image.Image:
    """Pixel (x, y) has the colour (x, y, 7): where each LED's colour came from is plain to see."""
    image = Image.new("RGB", (width, height))
    for y in range(height):
        for x in range(width):
            image.putpixel((x, y), (x, y, 7))
    return image


def chain(order: str, width: int = 3, height: int = 2) -> list[tuple[int, int]]:
    """The (x, y) of each LED, in wire order, as the driver sends them."""
    raw = pixels(numbered(width, height), order)
    return [(raw[i], raw[i + 1]) for i in range(0, len(raw), 3)]


def test_frames_match_the_spec() -> None:
    assert data_frame(b"\x01\x02\x03") == bytes.fromhex("C9 DA 00 03 01 02 03 36")
    assert ping_frame() == bytes.fromhex("C9 AA 00 00 36")
    with pytest.raises(Tpm2Error, match="65535"):
        data_frame(bytes(65536))


# -- pixel orders (issue 16, item 11) ----------------------------------------------------------------


def test_pixel_orders_of_a_3x2_panel_by_hand() -> None:
    # Drawn on paper: the LED chain of each wiring, first LED first.
    assert chain("top-left rows") == [(0, 0), (1, 0), (2, 0), (0, 1), (1, 1), (2, 1)]
    assert chain("top-left rows serpentine") == [(0, 0), (1, 0), (2, 0), (2, 1), (1, 1), (0, 1)]
    assert chain("top-right rows serpentine") == [(2, 0), (1, 0), (0, 0), (0, 1), (1, 1), (2, 1)]
    assert chain("bottom-left rows") == [(0, 1), (1, 1), (2, 1), (0, 0), (1, 0), (2, 0)]
    assert chain("bottom-right rows serpentine") == [(2, 1), (1, 1), (0, 1), (0, 0), (1, 0), (2, 0)]
    assert chain("top-left columns") == [(0, 0), (0, 1), (1, 0), (1, 1), (2, 0), (2, 1)]
    assert chain("bottom-left columns serpentine") == [(0, 1), (0, 0), (1, 0), (1, 1), (2, 1), (2, 0)]
    assert chain("top-right columns serpentine") == [(2, 0), (2, 1), (1, 1), (1, 0), (0, 0), (0, 1)]
    assert chain("bottom-right columns") == [(2, 1), (2, 0), (1, 1), (1, 0), (0, 1), (0, 0)]


def test_pixel_order_names_and_aliases() -> None:
    assert str(PixelOrder.parse("serpentine")) == "top-left rows serpentine"
    assert str(PixelOrder.parse("row-major")) == "top-left rows"
    assert str(PixelOrder.parse("Bottom-Right, columns, serpentine")) == "bottom-right columns serpentine"
    assert chain("row-major") == chain("top-left rows")
    with pytest.raises(Tpm2Error, match="start corner"):
        PixelOrder.parse("zigzag")


@pytest.mark.parametrize("order", ORDERS)
@pytest.mark.parametrize("receiver", ["generic", "wled"])
def test_every_wiring_shows_the_picture_the_right_way_round(order: str, receiver: str) -> None:
    # The driver's order and the panel's wiring (the emulator's own reading of WLED's setUpMatrix)
    # were written apart; a picture sent in the board's order must come out as it went in.
    rng = random.Random(order)
    image = Image.frombytes("RGB", (5, 4), bytes(rng.randrange(256) for _ in range(5 * 4 * 3)))
    frame = data_frame(pixels(image, order))
    if receiver == "generic":
        device: Tpm2Receiver | WledSerial = Tpm2Receiver(5, 4, order=order)
        device.receive(frame)
    else:
        device = WledSerial(5, 4, order=order, millis=lambda: 0.0)
        device.receive(frame + frame)  # WLED shows the first frame after a pause black
    assert device.snapshot().tobytes() == image.tobytes()


def test_a_serpentine_panel_fed_row_major_is_scrambled() -> None:
    image = numbered(4, 2)
    device = Tpm2Receiver(4, 2, order="top-left rows serpentine")
    device.receive(data_frame(pixels(image, "top-left rows")))
    assert device.snapshot().tobytes() != image.tobytes()
    assert Wiring.of("serpentine") == Wiring(serpentine=True)


# -- the WLED count rule (issue 16, item 12) ---------------------------------------------------------


@pytest.mark.parametrize(("size", "right"), [(768, True), (12288, True), (6144, True), (1200, False),
                                             (300, False), (3 * 21845, True), (2, False)])
def test_wled_counts_a_size_right_only_when_its_high_byte_divides_by_3(size: int, right: bool) -> None:
    assert wled_counts_right(size) is right
    # The rule is WLED's own arithmetic: (hi * 256) / 3 + lo / 3 pixels, in integers.
    hi, lo = size >> 8, size & 0xFF
    assert ((hi * 256) // 3 + lo // 3) * 3 == size or not right


def test_wled_padding_is_the_least_size_it_counts_right() -> None:
    assert wled_padded(1200) == 1536  # 20x20: 04 B0 → 06 00
    assert wled_padded(300) == 768  # 100 LEDs: 01 2C → 03 00
    assert wled_padded(12288) == 12288  # 128x32: 30 00, already right
    for size in range(3, 65536, 3):
        padded = wled_padded(size)
        assert padded <= 65535 and wled_counts_right(padded)
        assert not any(wled_counts_right(s) for s in range(size, padded))


def test_a_wled_board_is_padded_a_generic_one_is_not() -> None:
    image = Image.new("RGB", (20, 20), (9, 9, 9))
    wled = Receiver(Size(20, 20), PixelOrder(), "wled", True).encode(image)
    generic = Receiver(Size(20, 20), PixelOrder(), "generic", False).encode(image)
    assert wled[2:4] == bytes.fromhex("06 00") and wled[-1] == 0x36 and wled[4 + 1200:-1] == bytes(336)
    assert generic[2:4] == bytes.fromhex("04 B0") and len(generic) == 4 + 1200 + 1


# -- WLED's serial input, as the firmware behaves ------------------------------------------------------


class Millis:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def red_frame(width: int, height: int, last: tuple[int, int, int] = (255, 0, 0)) -> bytes:
    payload = bytearray(b"\xff\x00\x00" * (width * height))
    payload[-3:] = bytes(last)
    return data_frame(bytes(payload))


def test_wled_answers_the_ping_a_generic_receiver_does_not() -> None:
    assert WledSerial(2, 2).receive(ping_frame()) == b"\xac"
    assert Tpm2Receiver(2, 2).receive(ping_frame()) == b""
    assert Tpm2Receiver(2, 2, answers_ping=True).receive(ping_frame()) == b"\xac"


def test_wled_shows_the_first_frame_after_a_pause_black_then_drops_frames_after_2_5_s() -> None:
    millis = Millis()
    wled = WledSerial(2, 2, millis=millis, own=(255, 160, 0))
    assert wled.snapshot().getpixel((0, 0)) == (255, 160, 0)  # its own state: not in realtime mode
    wled.receive(red_frame(2, 2))
    assert wled.snapshot().getpixel((0, 0)) == (0, 0, 0)  # realtimeLock cleared the strip first
    wled.receive(red_frame(2, 2))
    assert wled.snapshot().getpixel((0, 0)) == (255, 0, 0)
    millis.now += 2.5
    assert wled.snapshot().getpixel((0, 0)) == (255, 0, 0)  # millis() > timeout, not >=
    millis.now += 0.001
    assert not wled.in_realtime and wled.snapshot().getpixel((0, 0)) == (255, 160, 0)
    wled.receive(red_frame(2, 2))  # back into realtime mode: black again, once
    assert wled.snapshot().getpixel((0, 0)) == (0, 0, 0)


def test_wled_with_timeout_65000_keeps_the_frame() -> None:
    millis = Millis()
    wled = WledSerial(1, 1, millis=millis, timeout_ms=65000)
    wled.receive(red_frame(1, 1) * 2)
    millis.now += 3600
    assert wled.snapshot().getpixel((0, 0)) == (255, 0, 0)


def test_wled_miscounts_and_reads_the_last_pixel_as_commands() -> None:
    # 20x20 = 1200 bytes = 04 B0: WLED counts 341 + 58 = 399 pixels, then reads the last pixel's
    # R G B and the end byte in Header_A. A last pixel of (0xB7, 'v', 0) switches it to 1,500,000 baud.
    wled = WledSerial(20, 20, millis=lambda: 0.0)
    first = wled.receive(red_frame(20, 20, last=(0xB7, ord("v"), 0)))
    assert first == b"Baud is now 1500000\r\n"  # said at the old rate; the 'v' after it is garbage
    assert wled.stats.commands == ["0xB7"] and wled.baud == 1500000 and wled.stats.garbled == 3
    wled.receive(red_frame(20, 20) * 2)
    assert wled.stats.frames_shown == 1  # nothing it hears at 115200 makes sense any more


def test_wled_padded_frame_is_counted_right_and_the_pad_falls_off_the_strip() -> None:
    image = Image.new("RGB", (20, 20), (255, 0, 0))
    image.putpixel((19, 19), (0xB7, ord("v"), 0))
    frame = Receiver(Size(20, 20), PixelOrder(), "wled", True).encode(image)
    wled = WledSerial(20, 20, millis=lambda: 0.0)
    assert wled.receive(frame * 2) == b""
    assert wled.stats.commands == [] and wled.snapshot().tobytes() == image.tobytes()


def test_wled_does_not_check_the_end_byte_a_generic_receiver_does() -> None:
    frame = red_frame(1, 1)[:-1] + b"\x00"
    wled = WledSerial(1, 1, millis=lambda: 0.0)
    wled.receive(frame * 2)
    assert wled.snapshot().getpixel((0, 0)) == (255, 0, 0)
    generic = Tpm2Receiver(1, 1)
    generic.receive(frame)
    assert generic.stats.frames_shown == 0


def test_wled_takes_a_size_under_3_as_65535_pixels() -> None:
    # count = 0, and `--count` in a uint16 wraps: the next 65535 pixels' bytes are swallowed.
    wled = WledSerial(1, 1, millis=lambda: 0.0)
    wled.receive(data_frame(b"\x01\x02"))
    wled.receive(red_frame(1, 1) * 2 + ping_frame())
    assert wled.stats.frames_shown == 0 and wled.stats.pings == 0


def test_wled_dumps_and_streams_are_bytes_a_ping_reader_must_not_mistake() -> None:
    wled = WledSerial(1, 1, millis=lambda: 0.0)
    wled.receive(data_frame(b"\xac\xac\xac") * 2)
    dump = wled.receive(b"L")
    assert dump == bytes.fromhex("C9 DA 00 03 AC AC AC 36") + b"\n"
    assert wled.receive(b"v").startswith(b"WLED ")


def test_generic_receiver_rejects_a_frame_of_the_wrong_size_or_a_bad_end() -> None:
    receiver = Tpm2Receiver(2, 1)
    receiver.receive(data_frame(bytes(3)))  # one pixel short
    bad_end = data_frame(bytes(6))[:-1] + b"\x00"
    receiver.receive(bad_end)
    assert receiver.stats.frames_shown == 0 and receiver.stats.frames_rejected >= 1
    assert receiver.snapshot().tobytes() == bytes(6)


@settings(max_examples=200, deadline=None)
@given(noise=st.binary(max_size=40), payload=st.binary(max_size=60))
def test_decoder_finds_the_frame_after_noise_one_byte_at_a_time(noise: bytes, payload: bytes) -> None:
    decoder = Tpm2Decoder()
    frames = []
    for byte in noise.replace(b"\xc9", b"") + data_frame(payload):
        frames += decoder.feed(bytes((byte,)))
    assert frames and frames[-1].payload == payload


@settings(max_examples=200, deadline=None)
@given(data=st.binary(max_size=400))
def test_wled_never_fails_on_any_bytes(data: bytes) -> None:
    wled = WledSerial(4, 2, millis=lambda: 0.0)
    for i in range(0, len(data), 7):
        wled.receive(data[i:i + 7])
    assert wled.snapshot().size == (4, 2)
