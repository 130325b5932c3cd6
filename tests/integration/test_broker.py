"""The test broker (ledctl.simulator.broker) against a real mosquitto, with paho-mqtt 2 clients.

Nothing is skipped: without mosquitto these tests fail and say how to install it. Every wait is
bounded, and every broker and client is stopped by a fixture finaliser.
"""

from __future__ import annotations

import queue
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from ledctl.simulator import broker as broker_module
from ledctl.simulator.broker import BrokerError, Mosquitto, board_acl

SITE = "zh"
BOARD_A = "zbs-01"
BOARD_B = "zbs-02"
USERS = {"controller": "ctl-secret", BOARD_A: "a-secret", BOARD_B: "b-secret"}
WAIT_S = 5.0  # for something that must happen
ABSENT_S = 1.0  # for something that must not happen
PROTOCOLS = pytest.mark.parametrize("protocol", [mqtt.MQTTv5, mqtt.MQTTv311], ids=["mqtt5", "mqtt311"])


def topic(board: str, leaf: str) -> str:
    return f"ledctl/v1/{SITE}/{board}/{leaf}"


def require_mosquitto() -> None:
    if not Mosquitto.available():
        pytest.fail("mosquitto is not installed; these tests need the real broker: "
                    "apt-get install mosquitto (`make system-deps` does it)", pytrace=False)


class Client:
    """A paho-mqtt 2 client whose callbacks only record; the test thread waits with timeouts."""

    def __init__(self, url: str, client_id: str, *, protocol: int = mqtt.MQTTv5,
                 username: str | None = None, password: str | None = None) -> None:
        self.port = int(url.rsplit(":", 1)[1])
        self.protocol = protocol
        self.messages: queue.Queue[mqtt.MQTTMessage] = queue.Queue()
        self.connack = threading.Event()
        self.connect_reason: ReasonCode | None = None
        self.suback: dict[int, list[ReasonCode]] = {}
        self._subscribed = threading.Condition()
        self.paho = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, protocol=protocol,
                                reconnect_on_failure=False,
                                clean_session=None if protocol == mqtt.MQTTv5 else True)
        if username is not None:
            self.paho.username_pw_set(username, password)
        self.paho.on_connect = self._on_connect
        self.paho.on_message = self._on_message
        self.paho.on_subscribe = self._on_subscribe

    def _on_connect(self, client: mqtt.Client, userdata: Any, flags: mqtt.ConnectFlags, reason: ReasonCode,
                    properties: Properties | None) -> None:
        self.connect_reason = reason
        self.connack.set()

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        self.messages.put(message)

    def _on_subscribe(self, client: mqtt.Client, userdata: Any, mid: int, reasons: list[ReasonCode],
                      properties: Properties | None) -> None:
        with self._subscribed:
            self.suback[mid] = reasons
            self._subscribed.notify_all()

    def connect(self, **kwargs: Any) -> ReasonCode:
        """Connect and wait for the CONNACK; returns its reason code (success or not)."""
        self.paho.connect("127.0.0.1", self.port, keepalive=10, **kwargs)
        self.paho.loop_start()
        assert self.connack.wait(WAIT_S), "no CONNACK within the wait"
        assert self.connect_reason is not None
        return self.connect_reason

    def subscribe(self, pattern: str) -> list[ReasonCode]:
        """Subscribe at QoS 1 and wait for the SUBACK; returns its reason codes."""
        result, mid = self.paho.subscribe(pattern, qos=1)
        assert result == mqtt.MQTT_ERR_SUCCESS
        with self._subscribed:
            assert self._subscribed.wait_for(lambda: mid in self.suback, WAIT_S), f"no SUBACK for {pattern}"
            return self.suback[mid]

    def publish(self, where: str, payload: bytes, *, retain: bool = False) -> None:
        info = self.paho.publish(where, payload, qos=1, retain=retain)
        info.wait_for_publish(WAIT_S)
        assert info.is_published(), f"publish to {where} not acknowledged within {WAIT_S} s"

    def expect(self, where: str, timeout: float = WAIT_S) -> mqtt.MQTTMessage:
        """The next message on `where` (others on the way are kept for `received`)."""
        deadline = time.monotonic() + timeout
        skipped: list[mqtt.MQTTMessage] = []
        try:
            while (left := deadline - time.monotonic()) > 0:
                try:
                    message = self.messages.get(timeout=left)
                except queue.Empty:
                    break
                if message.topic == where:
                    return message
                skipped.append(message)
            raise AssertionError(f"nothing arrived on {where} within {timeout} s")
        finally:
            for m in skipped:
                self.messages.put(m)

    def received(self, where: str) -> list[mqtt.MQTTMessage]:
        """Messages already received on `where` (drains the queue)."""
        out: list[mqtt.MQTTMessage] = []
        while True:
            try:
                message = self.messages.get_nowait()
            except queue.Empty:
                return out
            if message.topic == where:
                out.append(message)

    def close(self) -> None:
        self.paho.disconnect()
        self.paho.loop_stop()


@pytest.fixture
def make_broker(tmp_path: Path) -> Iterator[Callable[..., Mosquitto]]:
    require_mosquitto()
    brokers: list[Mosquitto] = []

    def make(name: str = "broker", **kwargs: Any) -> Mosquitto:
        b = Mosquitto(tmp_path / name, **kwargs)
        brokers.append(b)
        return b

    yield make
    for b in brokers:
        b.stop()


@pytest.fixture
def broker(make_broker: Callable[..., Mosquitto]) -> Mosquitto:
    b = make_broker()
    b.start()
    return b


@pytest.fixture
def secured(make_broker: Callable[..., Mosquitto]) -> Mosquitto:
    b = make_broker("secured", users=USERS, acl=board_acl(SITE))
    b.start()
    return b


@pytest.fixture
def clients() -> Iterator[Callable[..., Client]]:
    made: list[Client] = []

    def make(url: str, client_id: str, **kwargs: Any) -> Client:
        c = Client(url, client_id, **kwargs)
        made.append(c)
        return c

    yield make
    for c in made:
        c.close()


def accepts(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


# -- start / stop ----------------------------------------------------------------------------------


def test_start_and_stop(make_broker: Callable[..., Mosquitto], tmp_path: Path) -> None:
    b = make_broker()
    with pytest.raises(BrokerError, match="start"):
        _ = b.url  # port=0: picked at the first start
    url = b.start()
    assert url == b.url == f"mqtt://127.0.0.1:{b.port}"
    assert b.host == "127.0.0.1" and b.port > 0 and b.running
    assert accepts(b.port)
    assert b.start() == url  # already running: no second process
    for name in ("mosquitto.conf", "mosquitto.log"):
        assert (tmp_path / "broker" / name).is_file()
    conf = (tmp_path / "broker" / "mosquitto.conf").read_text()
    assert f"listener {b.port} 127.0.0.1" in conf and "allow_anonymous true" in conf
    b.stop()
    assert not b.running and b.pid is None
    assert not accepts(b.port)
    b.stop()  # stopping twice is harmless


def test_context_manager_and_anonymous_client(make_broker: Callable[..., Mosquitto],
                                              clients: Callable[..., Client]) -> None:
    with make_broker() as b:
        c = clients(b.url, "anon")
        assert not c.connect().is_failure
        c.subscribe("t/#")
        c.publish("t/x", b"hello")
        assert c.expect("t/x").payload == b"hello"
        port = b.port
    assert not b.running and not accepts(port)


def test_port_in_use_is_a_clear_error(broker: Mosquitto, make_broker: Callable[..., Mosquitto]) -> None:
    second = make_broker("second", port=broker.port)
    with pytest.raises(BrokerError, match=r"(?s)exited.*Address already in use"):
        second.start(timeout_s=5.0)
    assert not second.running
    assert broker.running and accepts(broker.port)  # the first one is untouched


def test_missing_mosquitto_says_how_to_install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(broker_module, "_which", lambda name: None)
    assert not Mosquitto.available()
    with pytest.raises(BrokerError, match="apt-get install mosquitto"):
        Mosquitto(tmp_path / "none").start()


def test_board_acl_rejects_bad_site_ids() -> None:
    text = board_acl(SITE)
    assert "pattern read ledctl/v1/zh/%u/program" in text
    assert "pattern write ledctl/v1/zh/%u/ack" in text
    for bad in ("", "a/b", "a+", "#", "a b"):
        with pytest.raises(ValueError):
            board_acl(bad)


# -- persistence -----------------------------------------------------------------------------------


@PROTOCOLS
def test_retained_message_survives_restart(broker: Mosquitto, clients: Callable[..., Client],
                                           protocol: int) -> None:
    port = broker.port
    publisher = clients(broker.url, "publisher", protocol=protocol)
    assert not publisher.connect().is_failure
    publisher.publish("ledctl/v1/zh/zbs-01/program", b'{"hash": "abc"}', retain=True)
    publisher.close()

    assert broker.restart() == f"mqtt://127.0.0.1:{port}"  # the same port
    assert broker.port == port

    reader = clients(broker.url, "reader", protocol=protocol)
    assert not reader.connect().is_failure
    reader.subscribe("ledctl/v1/zh/+/program")
    message = reader.expect("ledctl/v1/zh/zbs-01/program")
    assert message.payload == b'{"hash": "abc"}' and message.retain


def test_persistent_session_survives_restart(broker: Mosquitto, clients: Callable[..., Client]) -> None:
    board = clients(broker.url, "zbs-01-session", protocol=mqtt.MQTTv5)
    session = Properties(mqtt.PacketTypes.CONNECT)
    session.SessionExpiryInterval = 3600
    assert not board.connect(clean_start=False, properties=session).is_failure
    board.subscribe("ledctl/v1/zh/zbs-01/cmd")
    board.close()

    broker.restart()

    controller = clients(broker.url, "controller")
    assert not controller.connect().is_failure
    controller.publish("ledctl/v1/zh/zbs-01/cmd", b'{"id": "c-1"}')  # queued for the offline session

    again = clients(broker.url, "zbs-01-session", protocol=mqtt.MQTTv5)
    session = Properties(mqtt.PacketTypes.CONNECT)
    session.SessionExpiryInterval = 3600
    assert not again.connect(clean_start=False, properties=session).is_failure
    assert again.expect("ledctl/v1/zh/zbs-01/cmd").payload == b'{"id": "c-1"}'


# -- users and the board ACL -----------------------------------------------------------------------


@PROTOCOLS
def test_board_reads_only_its_own_topics(secured: Mosquitto, clients: Callable[..., Client],
                                         protocol: int) -> None:
    controller = clients(secured.url, "controller", username="controller", password=USERS["controller"],
                         protocol=protocol)
    assert not controller.connect().is_failure
    controller.publish(topic(BOARD_A, "program"), b"program-A", retain=True)
    controller.publish(topic(BOARD_B, "program"), b"program-B", retain=True)

    board = clients(secured.url, BOARD_A, username=BOARD_A, password=USERS[BOARD_A], protocol=protocol)
    assert not board.connect().is_failure
    board.subscribe(topic(BOARD_B, "program"))  # mosquitto refuses it or accepts it; nothing may arrive
    board.subscribe(topic(BOARD_B, "cmd"))
    board.subscribe(topic(BOARD_A, "program"))
    board.subscribe(topic(BOARD_A, "cmd"))

    assert board.expect(topic(BOARD_A, "program")).payload == b"program-A"
    controller.publish(topic(BOARD_B, "cmd"), b"cmd-B")
    controller.publish(topic(BOARD_A, "cmd"), b"cmd-A")
    assert board.expect(topic(BOARD_A, "cmd")).payload == b"cmd-A"  # so cmd-B would have come by now

    got_b = threading.Event()
    board.paho.message_callback_add(f"ledctl/v1/{SITE}/{BOARD_B}/#", lambda c, u, m: got_b.set())
    assert not got_b.wait(ABSENT_S), "board A received a message on board B's topics"
    assert board.received(topic(BOARD_B, "program")) == []
    assert board.received(topic(BOARD_B, "cmd")) == []


@PROTOCOLS
def test_board_writes_only_its_own_status(secured: Mosquitto, clients: Callable[..., Client],
                                          protocol: int) -> None:
    controller = clients(secured.url, "controller", username="controller", password=USERS["controller"],
                         protocol=protocol)
    assert not controller.connect().is_failure
    controller.subscribe(f"ledctl/v1/{SITE}/+/status")
    controller.subscribe(f"ledctl/v1/{SITE}/+/program")

    board = clients(secured.url, BOARD_A, username=BOARD_A, password=USERS[BOARD_A], protocol=protocol)
    assert not board.connect().is_failure
    board.publish(topic(BOARD_B, "status"), b'{"state": "forged"}', retain=True)
    board.publish(topic(BOARD_A, "program"), b"self-made program", retain=True)  # read-only for a board
    board.publish(topic(BOARD_A, "status"), b'{"state": "online"}', retain=True)

    # Messages from one client reach a subscriber in order: once A's own status is here, a forged one
    # would be here too.
    assert controller.expect(topic(BOARD_A, "status")).payload == b'{"state": "online"}'
    forged = threading.Event()
    controller.paho.message_callback_add(topic(BOARD_B, "status"), lambda c, u, m: forged.set())
    assert not forged.wait(ABSENT_S), "board A's write to board B's status reached the controller"
    assert controller.received(topic(BOARD_B, "status")) == []
    assert controller.received(topic(BOARD_A, "program")) == []


@PROTOCOLS
def test_board_may_ack_and_report_info(secured: Mosquitto, clients: Callable[..., Client],
                                       protocol: int) -> None:
    controller = clients(secured.url, "controller", username="controller", password=USERS["controller"],
                         protocol=protocol)
    assert not controller.connect().is_failure
    controller.subscribe(f"ledctl/v1/{SITE}/+/ack")
    controller.subscribe(f"ledctl/v1/{SITE}/+/info")
    board = clients(secured.url, BOARD_B, username=BOARD_B, password=USERS[BOARD_B], protocol=protocol)
    assert not board.connect().is_failure
    board.publish(topic(BOARD_B, "info"), b'{"width": 64}', retain=True)
    board.publish(topic(BOARD_B, "ack"), b'{"hash": "abc", "ok": true}')
    assert controller.expect(topic(BOARD_B, "info")).payload == b'{"width": 64}'
    assert controller.expect(topic(BOARD_B, "ack")).payload == b'{"hash": "abc", "ok": true}'


@PROTOCOLS
@pytest.mark.parametrize(("username", "password"), [(BOARD_A, "wrong"), ("nobody", "x"), (None, None)],
                         ids=["wrong-password", "unknown-user", "anonymous"])
def test_bad_credentials_are_refused(secured: Mosquitto, clients: Callable[..., Client], protocol: int,
                                     username: str | None, password: str | None) -> None:
    c = clients(secured.url, "intruder", username=username, password=password, protocol=protocol)
    reason = c.connect()
    assert reason.is_failure, f"connect with {username!r}/{password!r} was accepted: {reason}"
    good = clients(secured.url, BOARD_A, username=BOARD_A, password=USERS[BOARD_A], protocol=protocol)
    assert not good.connect().is_failure
