"""TPM2 framing, pixel order, and the simulated receiver, byte by byte."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from ledctl.drivers.tpm2 import Tpm2Decoder, Tpm2Error, data_frame, ping_frame, pixels
from ledctl.simulator.tpm2_receiver import Tpm2Receiver


def test_frames_match_the_spec() -> None:
    assert data_frame(b"\x01\x02\x03") == bytes.fromhex("C9 DA 00 03 01 02 03 36")
    assert ping_frame() == bytes.fromhex("C9 AA 00 00 36")
    with pytest.raises(Tpm2Error, match="65535"):
        data_frame(bytes(65536))


def test_pixel_orders() -> None:
    image = Image.new("RGB", (2, 2))
    image.putpixel((0, 0), (1, 1, 1))
    image.putpixel((1, 0), (2, 2, 2))
    image.putpixel((0, 1), (3, 3, 3))
    image.putpixel((1, 1), (4, 4, 4))
    assert pixels(image) == bytes([1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 4])
    assert pixels(image, "serpentine") == bytes([1, 1, 1, 2, 2, 2, 4, 4, 4, 3, 3, 3])
    with pytest.raises(Tpm2Error, match="row-major"):
        pixels(image, "zigzag")


def test_receiver_shows_serpentine_frames_the_right_way_round() -> None:
    image = Image.new("RGB", (3, 2))
    for i, xy in enumerate([(0, 0), (1, 0), (2, 0), (0, 1), (1, 1), (2, 1)]):
        image.putpixel(xy, (i * 40, 0, 0))
    receiver = Tpm2Receiver(3, 2, order="serpentine")
    for byte in data_frame(pixels(image, "serpentine")):
        assert receiver.receive(bytes((byte,))) == b""
    assert receiver.snapshot().tobytes() == image.tobytes()
    assert receiver.receive(ping_frame()) == b"\xac"


def test_receiver_rejects_a_frame_of_the_wrong_size_or_a_bad_end() -> None:
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
