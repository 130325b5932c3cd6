"""AWTRIX 3: the driver's payloads, checked against the device emulator (which never imports the driver),
and the emulator's rules, each the firmware's (simulator/awtrix_device.py cites them)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from PIL import Image

from ledctl.drivers import awtrix3
from ledctl.drivers.awtrix3 import (
    JSON_POOL_BYTES,
    MAX_APPS,
    AwtrixBoards,
    AwtrixDriver,
    AwtrixError,
    app_name,
    app_payloads,
    custom_app,
    notification,
    parse_loop,
    parse_screen,
    parse_stats,
)
from ledctl.model import Board, ColourMode, Page, Program, Size
from ledctl.simulator import awtrix_device
from ledctl.simulator.awtrix_device import AwtrixDevice, deserialize, json_pool_bytes

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


def solid(colour: tuple[int, int, int]) -> Image.Image:
    return Image.new("RGB", (32, 8), colour)


def program(*images: Image.Image, dwell: float = 5, effect: str = "static") -> Program:
    return Program("lobby", tuple(Page(f"p{i}", im, effect, dwell) for i, im in enumerate(images)))


def push(device: AwtrixDevice, app: str, payload: bytes) -> list[tuple[str, bytes, bool]]:
    return device.on_message(f"{PREFIX}/custom/{app}", payload)


def screen(device: AwtrixDevice) -> Image.Image:
    replies = device.on_message(f"{PREFIX}/sendscreen", b"")
    [(_topic, payload, retain)] = [r for r in replies if r[0] == f"{PREFIX}/screen"]
    assert retain is False
    return parse_screen(payload)


def only_ours(device: AwtrixDevice) -> None:
    hide = [{"name": n, "show": False} for n in awtrix3.BUILT_IN_APPS]
    device.on_message(f"{PREFIX}/apps", json.dumps(hide).encode())


def test_emulator_does_not_import_the_driver() -> None:
    source = Path(awtrix_device.__file__).read_text(encoding="utf-8")
    assert "ledctl.drivers" not in source and "drivers.awtrix3" not in source


@pytest.mark.parametrize("image", [known_image(), worst_image()], ids=["known", "worst"])
def test_custom_app_decodes_to_the_same_image(device: AwtrixDevice, image: Image.Image) -> None:
    only_ours(device)
    push(device, app_name(0), custom_app(image, duration_s=10))
    assert list(device.apps) == ["ledctl00"]
    assert device.snapshot().tobytes() == image.tobytes()
    assert screen(device).tobytes() == image.tobytes()


def test_custom_app_keys() -> None:
    doc = json.loads(custom_app(known_image(), duration_s=7.6, lifetime_s=600))
    assert doc["duration"] == 8 and doc["lifetime"] == 600  # whole seconds, rounded up
    assert doc["noScroll"] is True and "save" not in doc  # RAM only: no flash write per message
    [cmd] = doc["draw"]
    x, y, w, h, bitmap = cmd["db"]
    assert (x, y, w, h) == (0, 0, 32, 8) and len(bitmap) == 256
    assert bitmap[0] == 0xFF0000 and bitmap[31] == 0x00FF00 and bitmap[5 + 3 * 32] == 0x010203
    assert "lifetime" not in json.loads(custom_app(known_image(), duration_s=7))
    assert json.loads(custom_app(known_image(), duration_s=7))["duration"] == 7


def test_the_json_pool_as_arduinojson_counts_it() -> None:
    """Driver and emulator count the pool each their own way (neither imports the other) and agree;
    the worst page takes more than half of the device's 8 KB."""
    payload = custom_app(worst_image(), duration_s=99999, lifetime_s=99999)
    cost = json_pool_bytes(payload)
    assert cost == awtrix3.json_pool_bytes(json.loads(payload))
    # 256 + 5 + 1 + 1 + 4 slots of 16 bytes, and "draw", "db", "duration", "lifetime", "noScroll"
    assert cost == (256 + 5 + 1 + 1 + 4) * 16 + sum(len(k) + 1 for k in ("draw", "db", "duration", "lifetime",
                                                                         "noScroll"))
    assert cost < JSON_POOL_BYTES < 2 * cost  # one page fits; two never do
    assert isinstance(deserialize(payload, JSON_POOL_BYTES), dict)


def test_emulator_pool_rules() -> None:
    """NoMemory exactly at the edge; strings once each (deduplicated); a repeated key its slot once."""
    doc = b'{"a":[1,2,3]}'  # slots: a, 1, 2, 3 = 64; "a\\0" = 2
    assert json_pool_bytes(doc) == 66
    assert deserialize(doc, 66) == {"a": [1, 2, 3]}
    with pytest.raises(awtrix_device.JsonError, match="NoMemory"):
        deserialize(doc, 65)
    assert json_pool_bytes(b'["xy","xy","xy"]') == 3 * 16 + 3
    assert json_pool_bytes(b'{"k":1,"k":2}') == 16 + 2
    with pytest.raises(awtrix_device.JsonError, match="TooDeep"):
        deserialize(b"[" * 11 + b"]" * 11, 8192)
    assert deserialize(b'{"a":1} trailing', 8192) == {"a": 1}  # ArduinoJson stops after one value


def test_the_old_packed_array_is_refused_and_one_app_per_topic_is_accepted(device: AwtrixDevice) -> None:
    """The driver used to send 2-3 pages as one array on custom/ledctl: 8.6 KB of pool or more, so the
    device created nothing. Now every page has its own topic, and all of them are taken."""
    pages = [solid((255, 0, 0)), solid((0, 255, 0)), worst_image()]
    old = b"[" + b",".join(custom_app(im, duration_s=5) for im in pages) + b"]"
    assert len(old) + 64 < awtrix_device.MQTT_MAX_PACKET_SIZE  # the packet itself was fine
    push(device, "ledctl", old)
    assert device.refused == {"NoMemory": 1} and not device.apps
    topics = app_payloads(program(*pages))
    assert [t for t, _ in topics] == ["custom/ledctl00", "custom/ledctl01", "custom/ledctl02"]
    for topic, payload in topics:
        device.on_message(f"{PREFIX}/{topic}", payload)
    assert list(device.apps) == ["ledctl00", "ledctl01", "ledctl02"] and device.refused == {"NoMemory": 1}


def test_at_most_twenty_custom_apps(device: AwtrixDevice) -> None:
    """pushCustomApp: a 21st app is kept out of the loop without a word, and stays out on every update
    even after a slot frees (it is already in customApps); deleting it and sending it again works."""
    for i in range(MAX_APPS):
        push(device, app_name(i), custom_app(solid((i, 0, 0)), duration_s=5))
    assert len(device.apps) == 20
    push(device, "extra", custom_app(solid((9, 9, 9)), duration_s=5))
    assert "extra" not in device.apps and "extra" in device.stored_apps
    push(device, app_name(19), b"")
    push(device, "extra", custom_app(solid((9, 9, 9)), duration_s=5))
    assert "extra" not in device.apps and len(device.apps) == 19
    push(device, "extra", b"")
    push(device, "extra", custom_app(solid((9, 9, 9)), duration_s=5))
    assert "extra" in device.apps


def test_built_in_apps_share_the_loop_until_hidden(device: AwtrixDevice, clock: Clock) -> None:
    """loadNativeApps: Time, Temperature, Humidity, Battery on a new Ulanzi (Date is off, DAT false), each
    for ATIME (7 s); /apps show:false takes them out at once but not for good; /settings TIM … false does
    at the next boot."""
    assert device.loop == ("Time", "Temperature", "Humidity", "Battery")
    push(device, "ledctl00", custom_app(solid((255, 0, 0)), duration_s=5))
    assert device.loop[-1] == "ledctl00" and device.current_app == "Time"
    assert screen(device).tobytes() != solid((255, 0, 0)).tobytes()  # the clock, not our page
    clock.advance(7)
    assert device.in_transition
    clock.advance(0.4)
    assert device.current_app == "Temperature"
    only_ours(device)
    assert device.loop == ("ledctl00",) and screen(device).tobytes() == solid((255, 0, 0)).tobytes()
    device.power_cycle()  # /apps is not kept: the built-in apps are back, our RAM app gone
    assert device.loop == ("Time", "Temperature", "Humidity", "Battery")
    device.on_message(f"{PREFIX}/settings", _dumps(awtrix3.BUILT_IN_SETTINGS))
    assert device.loop == ("Time", "Temperature", "Humidity", "Battery")  # takes effect at boot …
    device.power_cycle()
    assert device.loop == ()  # … and then for good
    assert AwtrixDevice(PREFIX, clock=clock, sensors=False, ulanzi=False).loop == ("Time",)


def _dumps(obj: object) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode()


def test_pages_rotate_with_their_duration_and_a_transition(device: AwtrixDevice, clock: Clock) -> None:
    only_ours(device)
    push(device, "ledctl00", custom_app(solid((255, 0, 0)), duration_s=5))
    push(device, "ledctl01", custom_app(solid((0, 0, 255)), duration_s=3))
    assert device.snapshot().getpixel((0, 0)) == (255, 0, 0)
    clock.advance(4.9)
    assert device.current_app == "ledctl00" and not device.in_transition
    clock.advance(0.2)
    assert device.in_transition  # 400 ms (TSPEED) of slide between the two
    assert device.snapshot().tobytes() not in (solid((255, 0, 0)).tobytes(), solid((0, 0, 255)).tobytes())
    clock.advance(0.3)
    assert device.current_app == "ledctl01" and device.snapshot().getpixel((0, 0)) == (0, 0, 255)
    clock.advance(3.4)
    assert device.current_app == "ledctl00"


def test_switch_fast_jumps_at_once_and_restarts_the_app_time(device: AwtrixDevice, clock: Clock) -> None:
    for i, colour in enumerate([(255, 0, 0), (0, 255, 0), (0, 0, 255)]):
        push(device, app_name(i), custom_app(solid(colour), duration_s=5))
    assert device.current_app == "Time"
    device.on_message(f"{PREFIX}/switch", b'{"name":"ledctl02","fast":true}')
    assert device.current_app == "ledctl02" and screen(device).getpixel((0, 0)) == (0, 0, 255)
    device.on_message(f"{PREFIX}/switch", b'{"name":"ledctl00"}')  # not fast: a transition first
    assert device.in_transition
    device.on_message(f"{PREFIX}/switch", b'{"name":"nope","fast":true}')
    assert device.ignored == 1


def test_lifetime_is_checked_only_when_the_loop_moves(device: AwtrixDevice, clock: Clock) -> None:
    """checkLifetime runs at the end of each transition, for the app after the one now shown: a lone app
    never expires; in a loop, an expired app goes when the loop is about to reach it."""
    only_ours(device)
    push(device, "ledctl00", custom_app(solid((255, 0, 0)), duration_s=5, lifetime_s=10))
    clock.advance(600)
    assert "ledctl00" in device.apps  # alone: no transition, no check
    push(device, "ledctl00", custom_app(solid((255, 0, 0)), duration_s=5, lifetime_s=10))  # refreshed
    push(device, "ledctl01", custom_app(solid((0, 0, 255)), duration_s=5))
    clock.advance(5.4)  # -> ledctl01; the next one (ledctl00) is 5 s old: kept
    assert device.current_app == "ledctl01" and "ledctl00" in device.apps
    clock.advance(5.4)  # -> ledctl00, next ledctl01 (no lifetime)
    clock.advance(5.0)
    assert "ledctl00" in device.apps  # 15 s old, but not checked until a transition ends before it
    clock.advance(5.8)  # -> ledctl01 shown, ledctl00 checked: 16 s > 10 s, removed
    assert list(device.apps) == ["ledctl01"]


def test_empty_payload_deletes_by_prefix_and_the_file_by_exact_name(device: AwtrixDevice) -> None:
    only_ours(device)
    for name in ("ledctl0", "ledctl00", "ledctl01", "weather"):
        push(device, name, json.dumps({"draw": [], "save": True}).encode())
    assert device.flash_writes == 4 and set(device.files) == {"ledctl0", "ledctl00", "ledctl01", "weather"}
    push(device, "ledctl0", b"")
    assert list(device.apps) == ["weather"]  # ledctl0, ledctl00, ledctl01: all start with "ledctl0"
    assert set(device.files) == {"ledctl00", "ledctl01", "weather"}  # only ledctl0.json deleted
    device.power_cycle()
    assert list(device.apps) == ["ledctl00", "ledctl01", "weather"]  # and they come back at boot
    push(device, "ledctl01", b"{}")  # "{}" deletes too
    assert list(device.apps) == ["ledctl00", "weather"]


def test_power_cycle_loses_what_ram_held(device: AwtrixDevice, clock: Clock) -> None:
    device.on_message(f"{PREFIX}/settings", _dumps(awtrix3.BUILT_IN_SETTINGS))
    for topic, payload in app_payloads(program(solid((255, 0, 0)), solid((0, 255, 0)))):
        device.on_message(f"{PREFIX}/{topic}", payload)
    device.on_message(f"{PREFIX}/power", b'{"power":false}')
    clock.advance(30)
    stats = parse_stats(device.stats())
    assert stats["uptime"] == 30 and stats["matrix"] is False
    device.power_cycle()
    assert device.loop == () and device.flash_writes == 0 and device.power is True
    stats = parse_stats(device.stats())
    assert stats["uptime"] == 0 and stats["app"] == ""


def test_the_screen_reads_the_frame_even_while_the_matrix_is_off(device: AwtrixDevice) -> None:
    """setPower(false) only turns the brightness to 0: ledsCopy (what /sendscreen reads) is drawn on."""
    only_ours(device)
    push(device, "ledctl00", custom_app(known_image(), duration_s=5))
    device.on_message(f"{PREFIX}/power", b'{"power":false}')
    assert device.snapshot().getbbox() is None
    assert screen(device).tobytes() == known_image().tobytes()
    device.on_message(f"{PREFIX}/power", b"false")  # JSON, but not an object with "power": nothing
    assert device.power is False
    device.on_message(f"{PREFIX}/power", b'{"power":true}')
    assert device.snapshot().tobytes() == known_image().tobytes()
    device.on_message(f"{PREFIX}/settings", b'{"BRI":42}')
    stats = parse_stats(device.stats())
    assert stats["bri"] == 42 and stats["matrix"] is True and stats["app"] == "ledctl00"


def test_a_short_db_array_draws_black(device: AwtrixDevice) -> None:
    """processDrawInstructions sizes the bitmap w*h: entries not sent are 0, over the background."""
    only_ours(device)
    push(device, "x", b'{"background":"#00FF00","draw":[{"db":[0,0,32,8,[16711680]]}]}')
    frame = device.snapshot()
    assert frame.getpixel((0, 0)) == (255, 0, 0) and frame.getpixel((1, 0)) == (0, 0, 0)


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


def test_emulator_drops_oversized_packets(device: AwtrixDevice) -> None:
    big = json.dumps({"draw": [{"db": [0, 0, 32, 8, [16777215] * 256]}], "text": "x" * 6000}).encode()
    push(device, "big", big)
    assert device.dropped == 1 and "big" not in device.stored_apps


def test_json_is_compact_and_deterministic() -> None:
    a = custom_app(known_image(), duration_s=5, lifetime_s=60)
    b = custom_app(known_image().convert("RGBA").convert("RGB"), duration_s=5, lifetime_s=60)
    assert a == b
    for payload in [a, notification("Flood warning", duration_s=10)]:
        text = payload.decode()
        assert " " not in text.replace("Flood warning", "") and "\n" not in text
        assert payload == json.dumps(json.loads(payload), separators=(",", ":"), sort_keys=True).encode()


def test_what_an_awtrix_cannot_show_is_a_problem_before_sending() -> None:
    board = Board("lobby", "大厅", Size(32, 8), ColourMode.FULL, "awtrix3", "broker", "s")
    assert AwtrixDriver.program_problem(board, program(*[solid((i, 0, 0)) for i in range(20)])) is None
    too_many = AwtrixDriver.program_problem(board, program(*[solid((i, 0, 0)) for i in range(21)]))
    assert too_many is not None and "21 pages" in too_many and "20 custom apps" in too_many
    blink = AwtrixDriver.program_problem(board, program(solid((1, 0, 0)), effect="blink"))
    assert blink is not None and "blink" in blink
    wide = Program("lobby", (Page("s", Image.new("RGB", (64, 8)), "static"),))
    assert "64x8" in (AwtrixDriver.program_problem(board, wide) or "")
    with pytest.raises(AwtrixError, match="21 pages"):
        app_payloads(program(*[solid((i, 0, 0)) for i in range(21)]))
    assert AwtrixDriver.capabilities(board).holds_pages == 20


def test_parse_stats_is_lenient(clock: Clock, device: AwtrixDevice) -> None:
    clock.advance(3600)
    assert parse_stats(device.stats())["uptime"] == 3600
    old = parse_stats(b'{"lux":"12","temp":"22.5","hum":"41","bri":120,"matrix":true,"x":1,"bat":"n/a"}')
    assert old == {"lux": 12, "temp": 22.5, "hum": 41, "bri": 120, "matrix": True, "x": 1}
    with pytest.raises(AwtrixError, match="object"):
        parse_stats(b"[1,2]")
    with pytest.raises(AwtrixError, match="not JSON"):
        parse_stats(b"{")


def test_parse_screen_and_loop_errors() -> None:
    with pytest.raises(AwtrixError, match="255 pixels, expected 256"):
        parse_screen(json.dumps([0] * 255).encode())
    with pytest.raises(AwtrixError, match="not JSON"):
        parse_screen(b"[1,2")
    with pytest.raises(AwtrixError, match="24-bit"):
        parse_screen(json.dumps([0] * 255 + [0x1000000]).encode())
    image = parse_screen(json.dumps([0x123456] * 256).encode())
    assert image.size == (32, 8) and image.getpixel((31, 7)) == (0x12, 0x34, 0x56)
    assert parse_loop(b'{"ledctl01":1,"Time":0}') == ("Time", "ledctl01")
    with pytest.raises(AwtrixError):
        parse_loop(b'{"Time":"0"}')


def test_app_names_are_never_prefixes_of_each_other() -> None:
    names = [app_name(i) for i in range(MAX_APPS)]
    assert names[:2] == ["ledctl00", "ledctl01"] and names[-1] == "ledctl19"
    assert not any(a != b and b.startswith(a) for a in names for b in names)
    for bad in (-1, 20, True):
        with pytest.raises(AwtrixError):
            app_name(bad)  # type: ignore[arg-type]


class NoLink:
    """Stands in for the MQTT link: records handlers and what is published."""

    def __init__(self) -> None:
        self.handlers: dict[str, object] = {}
        self.published: list[tuple[str, bytes, bool]] = []

    def on(self, topic: str, handler: object) -> None:
        self.handlers[topic] = handler

    def publish(self, topic: str, payload: bytes, *, retain: bool = False, wait: bool = True) -> None:
        self.published.append((topic, payload, retain))


def test_the_driver_sees_a_lost_program_in_what_the_device_publishes() -> None:
    link = NoLink()
    boards = AwtrixBoards(link)  # type: ignore[arg-type]
    boards.listen(PREFIX)

    def hear(leaf: str, payload: bytes) -> None:
        boards._take(PREFIX, leaf, payload)

    st = boards.state(PREFIX)
    st.confirmed, st.apps = True, 2
    hear("stats", b'{"uptime":500,"app":"ledctl01"}')
    assert st.lost == ""
    hear("stats/loop", b'{"ledctl00":0,"ledctl01":1}')
    assert st.lost == ""
    hear("stats", b'{"uptime":3,"app":""}')
    assert st.lost.startswith("restarted") and not st.greeted and st.apps == 0
    st.lost, st.apps, st.greeted = "", 2, True
    hear("stats/loop", b'{"Time":0,"ledctl00":1,"ledctl01":2}')
    assert "Time" in st.lost and not st.greeted  # the next delivery hides the clock again
    st.lost, st.delivering = "", True
    hear("stats", b'{"uptime":9,"app":"Time"}')
    assert st.lost == ""  # during a delivery the device is expected to change
    leaves = ("screen", "stats", "stats/loop", "stats/device")
    assert set(link.handlers) == {f"{PREFIX}/{leaf}" for leaf in leaves}


def test_greeting_hides_built_in_apps_and_clears_the_old_drivers_apps_once() -> None:
    link = NoLink()
    boards = AwtrixBoards(link)  # type: ignore[arg-type]
    boards.listen(PREFIX)
    boards.publish(PREFIX, [b"{}"] * 3)
    topics = [t for t, _, _ in link.published]
    assert topics[:2] == [f"{PREFIX}/settings", f"{PREFIX}/apps"]
    retained = [(t, p) for t, p, r in link.published if r]
    assert retained == [(f"{PREFIX}/custom/{n}", b"") for n in awtrix3.LEGACY_APPS]  # clears, never stores
    assert topics[-3:] == [f"{PREFIX}/custom/ledctl0{i}" for i in range(3)]
    link.published.clear()
    boards.publish(PREFIX, [b"{}"])  # shorter: the two extra apps deleted, nothing else
    assert link.published == [(f"{PREFIX}/custom/ledctl00", b"{}", False),
                              (f"{PREFIX}/custom/ledctl01", b"", False),
                              (f"{PREFIX}/custom/ledctl02", b"", False)]
