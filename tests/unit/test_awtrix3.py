"""AWTRIX 3: the driver's payloads, checked against the device emulator (which never imports the driver)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from PIL import Image

from ledctl.drivers import awtrix3
from ledctl.drivers.awtrix3 import (
    MAX_PAYLOAD_BYTES,
    MQTT_MAX_PACKET_SIZE,
    AwtrixError,
    app_name,
    custom_app,
    notification,
    parse_screen,
    parse_stats,
)
from ledctl.simulator import awtrix_device
from ledctl.simulator.awtrix_device import AwtrixDevice

PREFIX = "awtrix_a1b2c3"


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def device(clock: Clock) -> AwtrixDevice:
    return AwtrixDevice(PREFIX, clock=clock)


def known_image() -> Image.Image:
    image = Image.new("RGB", (32, 8))
    image.putpixel((0, 0), (255, 0, 0))
    image.putpixel((31, 0), (0, 255, 0))
    image.putpixel((0, 7), (0, 0, 255))
    image.putpixel((31, 7), (255, 255, 255))
    image.putpixel((5, 3), (1, 2, 3))
    return image


def worst_image() -> Image.Image:
    """Every pixel a different, large (8-digit) colour."""
    image = Image.new("RGB", (32, 8))
    for i in range(256):
        image.putpixel((i % 32, i // 32), (255 - (i % 7), 255 - i, 128 + i // 2))
    return image


def push(device: AwtrixDevice, app: str, payloads: list[bytes]) -> None:
    for payload in payloads:
        device.on_message(f"{PREFIX}/custom/{app}", payload)


def screen(device: AwtrixDevice) -> Image.Image:
    replies = device.on_message(f"{PREFIX}/sendscreen", b"")
    [(_topic, payload, retain)] = [r for r in replies if r[0] == f"{PREFIX}/screen"]
    assert retain is False
    return parse_screen(payload)


def test_emulator_does_not_import_the_driver() -> None:
    source = Path(awtrix_device.__file__).read_text(encoding="utf-8")
    assert "awtrix3" not in source and "ledctl.drivers" not in source


@pytest.mark.parametrize("image", [known_image(), worst_image()], ids=["known", "worst"])
def test_custom_app_decodes_to_the_same_image(device: AwtrixDevice, image: Image.Image) -> None:
    payloads = custom_app(image, duration_s=10)
    assert len(payloads) == 1
    push(device, app_name("front", 0), payloads)
    assert list(device.apps) == ["ledctl0"]
    assert device.snapshot().tobytes() == image.tobytes()
    assert screen(device).tobytes() == image.tobytes()


def test_custom_app_keys(device: AwtrixDevice) -> None:
    [payload] = custom_app(known_image(), duration_s=7.6, lifetime_s=600)
    doc = json.loads(payload)
    assert doc["duration"] == 8 and doc["lifetime"] == 600
    assert doc["save"] is True and doc["noScroll"] is True
    [cmd] = doc["draw"]
    x, y, w, h, bitmap = cmd["db"]
    assert (x, y, w, h) == (0, 0, 32, 8) and len(bitmap) == 256
    assert bitmap[0] == 0xFF0000 and bitmap[31] == 0x00FF00 and bitmap[5 + 3 * 32] == 0x010203
    [bare] = custom_app(known_image(), duration_s=5, save=False)
    assert "lifetime" not in json.loads(bare) and json.loads(bare)["save"] is False


def test_worst_case_payload_fits(device: AwtrixDevice) -> None:
    [payload] = custom_app(worst_image(), duration_s=99999, lifetime_s=99999)
    assert len(set(json.loads(payload)["draw"][0]["db"][4])) == 256
    assert len(payload) <= MAX_PAYLOAD_BYTES < MQTT_MAX_PACKET_SIZE - 128
    # and the emulator, which enforces the 8192-byte packet limit, took it
    push(device, "ledctl0", [payload])
    assert device.dropped == 0 and "ledctl0" in device.apps


def test_emulator_drops_oversized_packets(device: AwtrixDevice) -> None:
    big = json.dumps({"draw": [{"db": [0, 0, 32, 8, [16777215] * 256]}], "text": "x" * 6000}).encode()
    push(device, "big", [big])
    assert device.dropped == 1 and "big" not in device.apps


def test_wrong_size_image_is_refused() -> None:
    with pytest.raises(AwtrixError, match="32x8"):
        custom_app(Image.new("RGB", (64, 16)), duration_s=5)
    with pytest.raises(AwtrixError, match="duration"):
        custom_app(known_image(), duration_s=0)


def test_json_is_compact_and_deterministic() -> None:
    a = custom_app(known_image(), duration_s=5, lifetime_s=60)
    b = custom_app(known_image().convert("RGBA").convert("RGB"), duration_s=5, lifetime_s=60)
    assert a == b
    for payload in [*a, notification("Flood warning", duration_s=10)]:
        text = payload.decode()
        assert " " not in text.replace("Flood warning", "") and "\n" not in text
        assert payload == json.dumps(json.loads(payload), separators=(",", ":"), sort_keys=True).encode()


def test_notification_is_a_bare_object_and_shows(device: AwtrixDevice, clock: Clock) -> None:
    payload = notification("Évacuez", duration_s=10, colour="#00ff00")
    assert payload[:1] == b"{" and payload[-1:] == b"}"
    assert json.loads(payload) == {"color": "#00FF00", "duration": 10, "hold": False, "text": "Évacuez"}
    device.on_message(f"{PREFIX}/notify", payload)
    assert device.notification is not None and device.notification["text"] == "Évacuez"
    clock.advance(10)
    assert device.notification is None
    with pytest.raises(AwtrixError):
        notification("x", duration_s=5, colour="red")


@pytest.mark.parametrize("bad", [b'[{"text":"hi"}]', b'{"text":"hi"}\n', b' {"text":"hi"}', b"hi"])
def test_notify_that_is_not_a_bare_object_is_ignored(device: AwtrixDevice, bad: bytes) -> None:
    assert device.on_message(f"{PREFIX}/notify", bad) == []
    assert device.notification is None


def test_notification_beats_the_app_and_dismiss_removes_a_held_one(device: AwtrixDevice) -> None:
    push(device, "ledctl0", custom_app(known_image(), duration_s=5))
    held = json.dumps({"text": "x", "hold": True, "draw": [{"df": [0, 0, 32, 8, "#0000FF"]}]}).encode()
    device.on_message(f"{PREFIX}/notify", held)
    assert device.snapshot().getpixel((10, 4)) == (0, 0, 255)
    device.on_message(f"{PREFIX}/notify/dismiss", b"")
    assert device.snapshot().tobytes() == known_image().tobytes()


def test_empty_custom_payload_deletes_by_prefix(device: AwtrixDevice) -> None:
    for i in range(3):
        push(device, app_name("front", i), custom_app(known_image(), duration_s=5))
    push(device, "weather", custom_app(known_image(), duration_s=5))
    assert list(device.apps) == ["ledctl0", "ledctl1", "ledctl2", "weather"]
    device.on_message(f"{PREFIX}/custom/ledctl", b"")
    assert list(device.apps) == ["weather"]


def test_array_payload_makes_numbered_apps(device: AwtrixDevice) -> None:
    docs = [json.loads(custom_app(known_image(), duration_s=5)[0]) for _ in range(2)]
    replies = device.on_message(f"{PREFIX}/custom/ledctl", json.dumps(docs).encode())
    assert list(device.apps) == [app_name("front", 0), app_name("front", 1)]
    assert (f"{PREFIX}/stats/loop", b'{"ledctl0":0,"ledctl1":1}', False) in replies


def test_lifetime_expiry_follows_the_clock(device: AwtrixDevice, clock: Clock) -> None:
    push(device, "ledctl0", custom_app(known_image(), duration_s=5, lifetime_s=60))
    clock.advance(59)
    assert "ledctl0" in device.apps
    push(device, "ledctl0", custom_app(known_image(), duration_s=5, lifetime_s=60))  # refreshes it
    clock.advance(59)
    assert "ledctl0" in device.apps
    clock.advance(1)
    assert "ledctl0" not in device.apps
    assert device.snapshot().getbbox() is None


def test_apps_rotate_by_duration(device: AwtrixDevice, clock: Clock) -> None:
    red = Image.new("RGB", (32, 8), (255, 0, 0))
    blue = Image.new("RGB", (32, 8), (0, 0, 255))
    push(device, "ledctl0", custom_app(red, duration_s=5))
    push(device, "ledctl1", custom_app(blue, duration_s=3))
    assert device.snapshot().getpixel((0, 0)) == (255, 0, 0)
    clock.advance(5)
    assert device.current_app == "ledctl1" and device.snapshot().getpixel((0, 0)) == (0, 0, 255)
    clock.advance(3)
    assert device.current_app == "ledctl0"


def test_power_off_is_black_and_settings_set_brightness(device: AwtrixDevice) -> None:
    push(device, "ledctl0", custom_app(known_image(), duration_s=5))
    device.on_message(f"{PREFIX}/power", b'{"power":false}')
    assert device.snapshot().getbbox() is None
    assert screen(device).getbbox() is None
    device.on_message(f"{PREFIX}/power", b"false")  # not JSON: ignored, stays off
    assert device.power is False
    device.on_message(f"{PREFIX}/power", b'{"power":true}')
    assert device.snapshot().tobytes() == known_image().tobytes()
    device.on_message(f"{PREFIX}/settings", b'{"BRI":42}')
    stats = parse_stats(device.stats())
    assert stats["bri"] == 42 and stats["matrix"] is True and stats["app"] == "ledctl0"


def test_parse_stats_is_lenient(clock: Clock, device: AwtrixDevice) -> None:
    clock.advance(3600)
    assert parse_stats(device.stats())["uptime"] == 3600
    old = parse_stats(b'{"lux":"12","temp":"22.5","hum":"41","bri":120,"matrix":true,"x":1,"bat":"n/a"}')
    assert old == {"lux": 12, "temp": 22.5, "hum": 41, "bri": 120, "matrix": True, "x": 1}
    with pytest.raises(AwtrixError, match="object"):
        parse_stats(b"[1,2]")
    with pytest.raises(AwtrixError, match="not JSON"):
        parse_stats(b"{")


def test_parse_screen_errors() -> None:
    with pytest.raises(AwtrixError, match="255 pixels, expected 256"):
        parse_screen(json.dumps([0] * 255).encode())
    with pytest.raises(AwtrixError, match="not JSON"):
        parse_screen(b"[1,2")
    with pytest.raises(AwtrixError, match="24-bit"):
        parse_screen(json.dumps([0] * 255 + [0x1000000]).encode())
    image = parse_screen(json.dumps([0x123456] * 256).encode())
    assert image.size == (32, 8) and image.getpixel((31, 7)) == (0x12, 0x34, 0x56)


def test_app_name() -> None:
    assert [app_name("front", i) for i in range(2)] == ["ledctl0", "ledctl1"]
    assert awtrix3.APP_PREFIX == "ledctl"
    for bad in ("front door", "a/b", ""):
        with pytest.raises(AwtrixError):
            app_name(bad, 0)
    with pytest.raises(AwtrixError):
        app_name("front", -1)
