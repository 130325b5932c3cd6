"""Scale-out on real brokers (issue 21, docs/scaling.md): two partitions of one city, each its own
controller process (its own config with its own [site] id, its own state folder) on its own
Mosquitto broker, the two brokers joined by a Mosquitto bridge (its own `connection` / `address`
/ `topic` configuration, loopback only). Each controller confirms only its own boards; a
city-wide CAP alert published once reaches both partitions through their [cap] feeds; killing
one controller, then one broker, leaves the other partition confirmed and untouched."""

from __future__ import annotations

import http.server
import json
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest

from ledctl.simulator.broker import Mosquitto
from ledctl.simulator.fleet_config import mqtt_fleet_config
from ledctl.simulator.mqtt_board import BoardLogic, MqttBoard

pytestmark = pytest.mark.skipif(not Mosquitto.available(), reason="needs mosquitto")

REPO = Path(__file__).resolve().parents[2]
SENDER = "alert@yjj.ningbo.example"  # the city's alerting authority, trusted by both partitions
BOARDS = 3  # per partition
WAIT_S = 40.0  # an upper bound for a wait, never a measured figure (speed lives in bench/)


def eventually(check: Callable[[], bool], what: str, timeout_s: float = WAIT_S) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout_s:g} s: {what}")
        time.sleep(0.1)


def partition_config(site: str, broker_url: str, feed: str, mqtt_version: str) -> str:
    return mqtt_fleet_config(site, broker_url, (f"{site}-{n}" for n in range(BOARDS)),
                             repo=REPO, mqtt_version=mqtt_version, extra=f"""[cap]
sender = "ledctl@{site}.example"
trusted_senders = ["{SENDER}"]
feeds = ["{feed}"]
[cap.areas]
"宁波市" = "all"
""")


def cap_alert(now: datetime) -> bytes:
    """A city-wide alert from the city's authority, in force now."""
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2">
  <identifier>NBEMA-SCALE-001</identifier>
  <sender>{SENDER}</sender>
  <sent>{now.isoformat(timespec="seconds")}</sent>
  <status>Actual</status>
  <msgType>Alert</msgType>
  <scope>Public</scope>
  <info>
    <language>zh-CN</language>
    <category>Met</category>
    <event>台风</event>
    <urgency>Immediate</urgency>
    <severity>Severe</severity>
    <certainty>Observed</certainty>
    <effective>{(now - timedelta(minutes=1)).isoformat(timespec="seconds")}</effective>
    <expires>{(now + timedelta(hours=2)).isoformat(timespec="seconds")}</expires>
    <senderName>宁波市应急管理局</senderName>
    <headline>台风红色预警</headline>
    <description>台风即将登陆，请勿外出。</description>
    <area>
      <areaDesc>宁波市</areaDesc>
    </area>
  </info>
</alert>
""".encode()


class Feed:
    """The city's CAP feed on loopback: empty until the alert is published (once, for everyone)."""

    def __init__(self) -> None:
        self.body = b""
        feed = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if not feed.body:
                    self.send_response(404)
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("Content-Type", "application/cap+xml")
                self.send_header("Content-Length", str(len(feed.body)))
                self.end_headers()
                self.wfile.write(feed.body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/cap/alerts.xml"
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@dataclass
class Controller:
    """One partition's controller: a process of its own (ledctl.simulator.partition)."""

    site: str
    process: subprocess.Popen[str]
    boards: list[str] = field(default_factory=list)

    @classmethod
    def start(cls, site: str, cfg: Path, state: Path) -> Controller:
        log = open(state.parent / f"{site}.log", "w", encoding="utf-8")  # noqa: SIM115 - the child's stderr
        process = subprocess.Popen([sys.executable, "-m", "ledctl.simulator.partition", str(cfg), str(state)],
                                   stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, text=True)
        log.close()
        controller = cls(site, process)
        ready = controller._read()
        assert ready.get("ready") and ready["site"] == site, ready
        controller.boards = ready["boards"]
        return controller

    def _read(self) -> dict[str, Any]:
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            raise AssertionError(f"controller {self.site} exited ({self.process.poll()}); see its log")
        return json.loads(line)

    def ask(self, command: str) -> dict[str, Any]:
        assert self.process.stdin is not None
        self.process.stdin.write(command + "\n")
        self.process.stdin.flush()
        return self._read()

    def confirmed(self, item: str = "") -> bool:
        """Every board of this partition confirmed what it should show (holding `item`, if given)."""
        view = self.ask("view")
        return all(v["intended"] and v["confirmed"] == v["intended"] and item in " ".join(v["items"])
                   for v in view.values())

    def kill(self) -> None:
        self.process.kill()  # as a machine lost: no goodbye, nothing cleaned up
        self.process.wait(10)

    def stop(self) -> None:
        if self.process.poll() is None:
            try:
                self.ask("quit")
                self.process.wait(10)
            except (AssertionError, OSError, subprocess.TimeoutExpired):
                self.process.kill()
                self.process.wait(10)


def now() -> datetime:
    return datetime.now(UTC)


@pytest.fixture
def city(tmp_path: Path) -> Iterator[dict[str, Any]]:
    """Broker "south", then broker "north" bridged to it; three boards on each; the feed."""
    south_broker = Mosquitto(tmp_path / "broker-south", persistence=False)
    south_broker.start()
    bridge = (
        "connection city-bridge",  # Mosquitto's own bridge: north forwards both ways to south
        f"address 127.0.0.1:{south_broker.port}",
        "topic ledctl/v1/# both 1",
        "cleansession true",
        "try_private true",
        "notifications false",
        "restart_timeout 1",
    )
    north_broker = Mosquitto(tmp_path / "broker-north", persistence=False, extra=bridge)
    north_broker.start()
    feed = Feed()
    boards: dict[str, MqttBoard] = {}
    brokers = {"north": north_broker, "south": south_broker}
    try:
        for site, broker in brokers.items():
            for n in range(BOARDS):
                board = MqttBoard(BoardLogic(site, f"{site}-{n}", 64, 32, "red-green", clock=now), broker.url)
                board.start()
                assert board.wait_ready(10)
                boards[f"{site}-{n}"] = board
        yield {"brokers": brokers, "boards": boards, "feed": feed}
    finally:
        for board in boards.values():
            board.stop(clean=False, timeout=2)
        feed.close()
        north_broker.stop()
        south_broker.stop()


def bridged(north: Mosquitto, south: Mosquitto) -> bool:
    """A message published on south arrives on north through the bridge."""
    got = threading.Event()
    topic = "ledctl/v1/probe/bridge/status"
    listener = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
    listener.on_message = lambda *_: got.set()
    listener.connect(north.host, north.port)
    listener.subscribe(topic, qos=1)
    listener.loop_start()
    try:
        sender = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
        sender.connect(south.host, south.port)
        sender.loop_start()
        deadline = time.monotonic() + WAIT_S
        while not got.is_set() and time.monotonic() < deadline:
            sender.publish(topic, b"{}", qos=1).wait_for_publish(5)
            got.wait(0.5)
        sender.loop_stop()
        sender.disconnect()
        return got.is_set()
    finally:
        listener.loop_stop()
        listener.disconnect()


def retained_statuses(broker: Mosquitto, site: str, count: int) -> dict[str, dict[str, Any]]:
    """The retained `status` of `site`'s boards as `broker` holds them."""
    seen: dict[str, dict[str, Any]] = {}
    done = threading.Event()
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)

    def on_message(c: mqtt.Client, userdata: object, msg: mqtt.MQTTMessage) -> None:
        if msg.payload:
            seen[msg.topic.split("/")[3]] = json.loads(msg.payload)
        if len(seen) >= count:
            done.set()

    client.on_message = on_message
    client.connect(broker.host, broker.port)
    client.subscribe(f"ledctl/v1/{site}/+/status", qos=1)
    client.loop_start()
    done.wait(10)
    client.loop_stop()
    client.disconnect()
    return seen


def test_two_controllers_on_two_bridged_brokers(city: dict[str, Any], tmp_path: Path) -> None:
    brokers, boards, feed = city["brokers"], city["boards"], city["feed"]
    assert bridged(brokers["north"], brokers["south"]), "the bridge carries nothing"
    controllers: dict[str, Controller] = {}
    try:
        for site, broker in brokers.items():
            cfg = tmp_path / f"{site}.toml"
            # The south controller speaks MQTT 3.1.1 (as docs/scaling.md advises for a large partition).
            version = "3.1.1" if site == "south" else "5"
            cfg.write_text(partition_config(site, broker.url, feed.url, version), encoding="utf-8")
            controllers[site] = Controller.start(site, cfg, tmp_path / f"state-{site}")
        north, south = controllers["north"], controllers["south"]

        # Each controller owns its site's boards, and only those, and confirms every one.
        assert north.boards == [f"north-{n}" for n in range(BOARDS)]
        assert south.boards == [f"south-{n}" for n in range(BOARDS)]
        eventually(north.confirmed, "the north partition confirmed")
        eventually(south.confirmed, "the south partition confirmed")
        for controller in controllers.values():
            view = controller.ask("view")
            for board_id, state in view.items():
                assert boards[board_id].logic.program_hash == state["confirmed"]  # what it shows
        # One city on two brokers: the south partition's statuses are seen on the north broker too.
        across = retained_statuses(brokers["north"], "south", BOARDS)
        assert sorted(across) == south.boards and all(s["state"] == "online" for s in across.values())

        # A city-wide CAP alert, published once, reaches both partitions through their feeds.
        feed.body = cap_alert(datetime.now(UTC))
        for controller in controllers.values():
            assert controller.ask("poll-cap") == {"ok": True}
        eventually(lambda: north.confirmed("notice:"), "the alert confirmed on the north boards")
        eventually(lambda: south.confirmed("notice:"), "the alert confirmed on the south boards")
        north_view = north.ask("view")
        shown = {b: boards[b].logic.program_hash for b in north.boards}
        assert shown == {b: v["confirmed"] for b, v in north_view.items()}

        # The south controller dies: the north partition is confirmed and untouched.
        south.kill()
        assert north.confirmed("notice:") and north.ask("view") == north_view
        # South's boards keep their alert without a controller: it is retained on their broker.
        assert all(boards[b].logic.program_hash for b in south.boards)

        # The south broker dies too: still nothing changes in the north.
        brokers["south"].stop()
        eventually(lambda: not any(boards[b].connected for b in south.boards), "the south boards cut off")
        assert north.confirmed("notice:") and north.ask("view") == north_view
        assert {b: boards[b].logic.program_hash for b in north.boards} == shown
        assert all(boards[b].connected for b in north.boards)
        health = retained_statuses(brokers["north"], "north", BOARDS)
        assert all(s["state"] == "online" and s["program"] == shown[b] for b, s in health.items())
    finally:
        for controller in controllers.values():
            controller.stop()
        for log in tmp_path.glob("*.log"):
            text = log.read_text(encoding="utf-8")
            if "Traceback" in text:
                print(f"--- {log.name}\n{text[-3000:]}")

