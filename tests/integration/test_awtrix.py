"""AWTRIX 3 against a real mosquitto (with its ACL): the dispatcher delivers to the emulator, which is as
strict as the firmware (JSON pool, 20 apps, built-in apps on, RAM lost on a power cycle, retained messages
replayed on every connect). The emulator runs on the test's clock, so its app loop is read exactly."""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import paho.mqtt.client as mqtt
import pytest

from ledctl import config, pipeline
from ledctl.clock import FixedClock
from ledctl.config import Deployment
from ledctl.dispatch import Dispatcher, Intent
from ledctl.drivers.awtrix3 import AwtrixBoards, app_name, custom_app
from ledctl.model import Program
from ledctl.render.effects import program_frames
from ledctl.simulator.awtrix_device import AwtrixDevice, MqttAwtrix
from ledctl.simulator.fleet import Fleet
from ledctl.store import Store

REPO = Path(__file__).resolve().parents[2]
PREFIX = "awtrix_a1b2c3"
T0 = datetime(2026, 11, 25, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
DWELLS = (6, 4, 5)
TINY = f"""[layout]
name = "tiny"
min_size = "32x8"
[rules]
min_dwell_per_char = 0.25
[[bulletin]]
name = "aqi"
dwell = {DWELLS[0]}
lines = [ {{ y = 0, font = "latin5x7", text = "[level]AIR" }} ]
[[bulletin]]
name = "pm25"
dwell = {DWELLS[1]}
lines = [ {{ y = 0, font = "latin5x7", text = "[warning]PM25" }} ]
[[bulletin]]
name = "date"
dwell = {DWELLS[2]}
lines = [ {{ y = 0, font = "latin5x7", text = "[title]DAY" }} ]
[notice]
dwell = 10
flow = {{ y = 0, height = 8, font = "latin5x7", overflow = "page" }}
"""
BOARD = f"""
[[boards]]
id = "lobby"
name = "大厅 AWTRIX"
size = "32x8"
colour = "full"
driver = "awtrix3"
link = "broker"
topic = "{PREFIX}"
station = "zh-urban"
"""


@dataclass
class World:
    dep: Deployment
    clock: FixedClock
    fleet: Fleet
    dispatcher: Dispatcher
    store: Store

    @property
    def device(self) -> AwtrixDevice:
        device = self.fleet.boards["lobby"].device
        assert isinstance(device, AwtrixDevice)
        return device

    @property
    def client(self) -> MqttAwtrix:
        client = self.fleet.boards["lobby"].client
        assert isinstance(client, MqttAwtrix)
        return client

    def bulletin(self) -> Program:
        bulletin = pipeline.bulletin_at(self.dep, pipeline.broadcast_instant(self.dep, date(2026, 11, 25)))
        [result] = pipeline.render_fleet(self.dep, (self.dep.board("lobby"),), bulletin)
        assert result.program is not None, result.error
        return result.program

    def send(self, program: Program) -> None:
        self.dispatcher.set_intended({"lobby": Intent.of(program, "test", ("bulletin@test",))})
        self.dispatcher.settle()

    def driver_state(self):  # type: ignore[no-untyped-def]
        driver = self.dispatcher._pool().driver("broker", "awtrix3")
        devices = driver.devices  # type: ignore[attr-defined]
        assert isinstance(devices, AwtrixBoards)
        return devices.state(PREFIX)


def eventually(check: Callable[[], bool], what: str, timeout_s: float = 15.0) -> None:
    """Wait for something that happens on other threads (MQTT); fail naming it if it never does."""
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"never happened: {what}")
        time.sleep(0.02)


@pytest.fixture
def world(site: Path, tmp_path: Path) -> Iterator[World]:
    layouts = tmp_path / "layouts"
    shutil.copytree(REPO / "config" / "layouts", layouts)
    (layouts / "tiny.toml").write_text(TINY, encoding="utf-8")
    text = site.read_text(encoding="utf-8").replace(f'dir = "{REPO}/config/layouts"', f'dir = "{layouts}"')
    # A monitoring centre that does not answer (a 32x8 board has no room for 示例数据, which figures from
    # the sample data must carry): three pages of words are all these tests need.
    text = text.replace('source = "sample"', 'source = "centre"')
    site.write_text(text + BOARD, encoding="utf-8")
    dep = config.load(site)
    clock = FixedClock(T0)
    fleet = Fleet(dep, clock=clock.now, state=tmp_path)
    fleet.build({"lobby"})
    fleet.start(ephemeral=True)  # a mosquitto on the link's port, with users and the ACL
    fleet.wait_ready()
    store = Store(tmp_path / "ledctl.sqlite")
    dispatcher = Dispatcher(replace(dep, boards=(dep.board("lobby"),)), store, clock)
    try:
        yield World(dep, clock, fleet, dispatcher, store)
    finally:
        dispatcher.close()
        fleet.stop()


def controller(dep: Deployment) -> mqtt.Client:
    import os

    link = dep.links["broker"]
    host, port = link.url.rsplit("//", 1)[1].split(":")
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="test-observer", protocol=mqtt.MQTTv311)
    client.username_pw_set(link.username, os.environ[link.password_env])
    client.connect(host, int(port))
    client.loop_start()
    return client


def retained_custom_apps(dep: Deployment) -> list[str]:
    """The retained messages the broker holds under the device's custom/ tree. A sentinel retained
    message is subscribed to after custom/#: the broker sends retained messages filter by filter, so
    once the sentinel is in, every retained custom app has come."""
    client = controller(dep)
    got: list[str] = []
    sentinel = threading.Event()

    def on_message(c: mqtt.Client, u: object, msg: mqtt.MQTTMessage) -> None:
        if msg.topic == f"{PREFIX}/test-sentinel":
            sentinel.set()
        elif msg.retain:
            got.append(msg.topic)

    client.on_message = on_message
    try:
        client.publish(f"{PREFIX}/test-sentinel", b"x", qos=1, retain=True).wait_for_publish(10)
        client.subscribe([(f"{PREFIX}/custom/#", 0), (f"{PREFIX}/test-sentinel", 0)])
        assert sentinel.wait(10), "the broker never sent the sentinel"
        client.publish(f"{PREFIX}/test-sentinel", b"", qos=1, retain=True).wait_for_publish(10)
    finally:
        client.loop_stop()
        client.disconnect()
    return got


def test_three_pages_are_accepted_and_confirmed_with_the_built_in_apps_on(world: World) -> None:
    device = world.device
    assert device.loop == ("Time", "Temperature", "Humidity", "Battery")  # a device as it comes
    program = world.bulletin()
    assert [p.name for p in program.pages] == ["aqi", "pm25", "date"]
    world.send(program)
    row = world.store.boards()["lobby"]
    assert row.confirmed == program.content_hash()
    result = world.dispatcher.view()["lobby"].last_result
    assert result is not None and result.confirmed and result.pages == (3, 3), result
    assert device.refused == {} and device.dropped == 0  # every message fitted the firmware's limits
    assert list(device.apps) == ["ledctl00", "ledctl01", "ledctl02"]
    assert device.loop == ("ledctl00", "ledctl01", "ledctl02")  # the clock and the sensors hidden …
    assert not any(device.nvs[k] for k in ("TIM", "DAT", "TEMP", "HUM", "BAT"))  # … also after a reboot
    assert device.flash_writes == 0 and device.files == {}  # nothing saved to flash
    assert retained_custom_apps(world.dep) == []  # and nothing retained on the broker
    for i, page in enumerate(program.pages):
        assert device.apps[app_name(i)]["duration"] == page.dwell_s


def test_the_old_drivers_retained_and_saved_apps_are_cleared(world: World) -> None:
    """The driver used to publish retained, saved apps on custom/ledctl (an array) and custom/ledctlN: on
    every reconnect the broker handed them back, and ledctlN.json sat in the device's flash."""
    device = world.device
    client = controller(world.dep)
    try:
        page = custom_app(world.bulletin().pages[0].image, duration_s=5)
        old = page[:-1] + b',"save":true}'
        client.publish(f"{PREFIX}/custom/ledctl1", old, qos=1, retain=True).wait_for_publish(10)
        client.publish(f"{PREFIX}/custom/ledctl", b"[" + old + b"," + old + b"]", qos=1,
                       retain=True).wait_for_publish(10)
    finally:
        client.loop_stop()
        client.disconnect()
    eventually(lambda: "ledctl1" in device.files and device.refused.get("NoMemory") == 1,
               "the device took the old single app and refused the old array")
    assert sorted(retained_custom_apps(world.dep)) == [f"{PREFIX}/custom/ledctl", f"{PREFIX}/custom/ledctl1"]
    world.send(world.bulletin())
    assert retained_custom_apps(world.dep) == []
    assert device.loop == ("ledctl00", "ledctl01", "ledctl02") and device.files == {}
    world.client.power_cycle()  # nothing comes back from the broker or from flash
    assert world.client.wait_ready(10)
    eventually(lambda: device.messages > 0, "the device heard from the broker again")
    assert "ledctl1" not in device.stored_apps and device.files == {}


def test_shrinking_from_three_pages_to_one_deletes_the_two_extra_apps(world: World) -> None:
    device = world.device
    program = world.bulletin()
    world.send(program)
    assert list(device.apps) == ["ledctl00", "ledctl01", "ledctl02"]
    one = Program("lobby", program.pages[:1])
    world.send(one)
    assert world.store.boards()["lobby"].confirmed == one.content_hash()
    assert list(device.apps) == ["ledctl00"] and device.loop == ("ledctl00",)
    assert device.snapshot().tobytes() == one.pages[0].image.tobytes()


def test_a_power_cycle_loses_the_apps_and_the_health_check_brings_them_back(world: World) -> None:
    device = world.device
    program = world.bulletin()
    world.send(program)
    before = world.store.boards()["lobby"].confirmed_at
    world.clock.advance(minutes=5)
    world.client.power_cycle()
    assert device.loop == ()  # RAM lost; built-in apps stay off (NVS)
    assert world.client.wait_ready(10)
    eventually(lambda: bool(world.driver_state().lost), "the driver saw the device lost its apps")
    world.dispatcher.check_health()
    world.dispatcher.settle()
    assert device.loop == ("ledctl00", "ledctl01", "ledctl02")
    assert [device.apps[app_name(i)]["draw"] for i in range(3)] == [
        [{"db": [0, 0, 32, 8, list(_ints(p.image))]}] for p in program.pages]
    row = world.store.boards()["lobby"]
    assert row.confirmed == program.content_hash() and row.confirmed_at != before  # confirmed again, later


def _ints(image) -> list[int]:  # type: ignore[no-untyped-def]
    data = image.convert("RGB").tobytes()
    return [(data[i] << 16) | (data[i + 1] << 8) | data[i + 2] for i in range(0, len(data), 3)]


def test_the_screen_over_one_loop_is_the_preview_page_by_page_with_its_dwell(world: World) -> None:
    """After a delivery the device plays the preview's pages in order, each for its dwell; between two
    pages the firmware slides for TSPEED (400 ms), which the preview does not draw."""
    device = world.device
    program = world.bulletin()
    world.send(program)
    # The read-back ends by switching the device to page 1: its loop starts there, now.
    eventually(lambda: device.current_app == "ledctl00", "the device back on page 1")
    board = world.dep.board("lobby")
    preview = [(f.image.convert("RGB").tobytes(), round(f.duration_s * 10))
               for f in program_frames(program, board.size)]
    seen: list[tuple[bytes | None, int]] = []  # (page shown or None in a transition, tenths of a second)
    loop_tenths = sum(d for _, d in preview) + 4 * len(preview)
    for _ in range(loop_tenths):
        shown = None if device.in_transition else device.snapshot().tobytes()
        if seen and seen[-1][0] == shown:
            seen[-1] = (shown, seen[-1][1] + 1)
        else:
            seen.append((shown, 1))
        world.clock.advance(seconds=0.1)
    pages = [s for s in seen if s[0] is not None]
    assert pages == preview
    assert [d for s, d in seen if s is None] == [4] * len(preview)  # one 0.4 s slide after each page
    assert seen[0][0] == preview[0][0]  # starting with page 1


def test_a_notice_is_made_still_for_an_awtrix(world: World) -> None:
    """ledctl's pages go to an AWTRIX as still bitmaps: a blinking notice is made still for it (its
    capabilities say so), in the preview too — never a page the device would refuse, retried for
    ever. (More than 20 pages is refused when made: see tests/unit/test_awtrix3.py.)"""
    board = world.dep.board("lobby")
    day = date(2026, 11, 25)
    [blink] = pipeline.render_notice_fleet(world.dep, (board,), title="", body="FLOOD", day=day, blink=True)
    [still] = pipeline.render_notice_fleet(world.dep, (board,), title="", body="FLOOD", day=day)
    assert blink.program is not None and blink.error == ""
    assert [p.effect for p in blink.program.pages] == ["static"]
    assert blink.program.content_hash() == still.program.content_hash()


def test_config_check_names_a_layout_an_awtrix_cannot_play(world: World, tmp_path: Path) -> None:
    import subprocess
    import sys

    layouts = tmp_path / "layouts"
    ok = subprocess.run([sys.executable, "-m", "ledctl", "config", "check", "-c", str(world.dep.path)],
                        capture_output=True, text=True, encoding="utf-8", timeout=60)
    assert ok.returncode == 0, ok.stderr
    (layouts / "tiny.toml").write_text(TINY.replace(f"dwell = {DWELLS[1]}\n",
                                                    f"dwell = {DWELLS[1]}\neffect = \"blink\"\n"),
                                       encoding="utf-8")
    bad = subprocess.run([sys.executable, "-m", "ledctl", "config", "check", "-c", str(world.dep.path)],
                         capture_output=True, text=True, encoding="utf-8", timeout=60)
    assert bad.returncode == 2
    assert "board lobby: layout tiny (tiny.toml): page 2 (pm25) is 'blink'" in bad.stderr
