"""An MQTT connection for the controller, on paho-mqtt 2 (callback API version 2).

MQTT 5 where the broker speaks it, else 3.1.1. Paho's own thread runs the
network loop; callbacks never publish or wait (paho forbids that), so callers
publish and wait from their own threads. A message whose topic matches a filter
registered with `on()` goes to that handler, called in paho's thread (it records
and notifies, nothing more); anything else lands on `inbox`. Subscriptions are
made again in on_connect, so they survive a reconnect.

One MqttLink per broker lives as long as the dispatcher: a TLS handshake and the
MQTT 5 / 3.1.1 negotiation happen once, not per delivery.
"""

from __future__ import annotations

import collections
import contextlib
import logging
import os
import queue
import socket
import ssl
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from ledctl.errors import FaultError

log = logging.getLogger("ledctl.mqtt")


WINDOW = 2000  # publishes in flight at most, whatever the broker allows


class MqttError(FaultError):
    """The broker cannot be reached, refused us, or lost a message."""


@dataclass(frozen=True, slots=True)
class Incoming:
    topic: str
    payload: bytes
    correlation: bytes | None = None


Handler = Callable[[Incoming], None]


def topic_matches(topic_filter: tuple[str, ...], topic: Sequence[str]) -> bool:
    """MQTT filter matching on split topics (paho's `topic_matches_sub` builds a matcher tree per
    call: too dear for every message of a fan-out to thousands of boards)."""
    for i, level in enumerate(topic_filter):
        if level == "#":
            return True
        if i >= len(topic) or (level != "+" and level != topic[i]):
            return False
    return len(topic) == len(topic_filter)


class _BufferedSocket:
    """A plain TCP socket read in large chunks. paho reads each packet with a `recv` per header
    byte and one for the body: three system calls per packet, each giving up the GIL, which in a
    fan-out to thousands of boards is most of the controller's network cost. paho asks `pending()`
    before waiting in select, so bytes already buffered are read without waiting."""

    CHUNK = 65536

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self._data = b""
        self._pos = 0

    def recv(self, size: int) -> bytes:
        if self._pos >= len(self._data):
            data = self._sock.recv(max(size, self.CHUNK))  # BlockingIOError, b"" at EOF: as before
            if len(data) <= size:
                return data
            self._data, self._pos = data, 0
        out = self._data[self._pos:self._pos + size]
        self._pos += len(out)
        return out

    def pending(self) -> int:
        return len(self._data) - self._pos

    def fileno(self) -> int:
        return self._sock.fileno()

    def __getattr__(self, name: str) -> object:  # send, close, setblocking …: the socket's own
        return getattr(self._sock, name)


class BufferedClient(mqtt.Client):
    """paho's client, reading plain TCP through `_BufferedSocket` (TLS sockets buffer already), and
    waking its network thread once per batch of queued packets, not once per packet.

    paho writes a byte to a socket pair for every packet queued, so that its network thread leaves
    select() and writes it: a system call and a thread switch per message. Here a packet queued
    while a wake-up is already on its way writes nothing: the network thread clears the mark at the
    top of each loop, before it looks for packets to write, so none is left waiting. This replaces
    one paho 2.x method (`_packet_queue`), checked against its attributes at import."""

    _wake_pending = False

    def _create_socket(self) -> object:  # type: ignore[override]
        sock = super()._create_socket()
        if isinstance(sock, socket.socket) and not isinstance(sock, ssl.SSLSocket):
            return _BufferedSocket(sock)
        return sock

    after_read: Callable[[], None] | None = None  # called after each pass of the network loop

    def _loop(self, timeout: float = 1.0) -> mqtt.MQTTErrorCode:
        self._wake_pending = False  # before paho looks at what is queued (want_write) and selects
        rc = super()._loop(timeout)
        if self.after_read is not None:
            self.after_read()
        return rc

    def _packet_queue(self, command: int, packet: bytes | bytearray, mid: int, qos: int,
                      info: mqtt.MQTTMessageInfo | None = None) -> mqtt.MQTTErrorCode:
        if not _PAHO_QUEUE_KNOWN or self._thread is None:
            return super()._packet_queue(command, packet, mid, qos, info)
        self._out_packet.append({"command": command, "mid": mid, "qos": qos, "pos": 0,
                                 "to_process": len(packet), "packet": packet, "info": info})
        if self._sockpairW is not None and not self._wake_pending:
            self._wake_pending = True
            with contextlib.suppress(BlockingIOError):  # full: a wake-up is there already
                self._sockpairW.send(b"0")
        self._call_socket_register_write()
        return mqtt.MQTTErrorCode.MQTT_ERR_SUCCESS


# The attributes the `_packet_queue` above relies on (paho-mqtt 2.x); without them, paho's own.
_PAHO_QUEUE_KNOWN = all(hasattr(mqtt.Client, name) for name in (
    "_packet_queue", "_call_socket_register_write", "_loop")) and all(
    name in mqtt.Client.__init__.__code__.co_names for name in ("_out_packet", "_sockpairW", "_thread"))


@dataclass
class MqttLink:
    name: str
    url: str  # mqtt://host:port or mqtts://host:port
    client_id: str = "ledctl-controller"
    username: str = ""
    password_env: str = ""  # the password comes from this environment variable, never from config …
    password_file: str = ""  # … or from this file (checked to be mode 0600 when the config was read)
    tls_ca: str = ""  # a CA file for mqtts://
    subscriptions: Sequence[str] = ()
    connect_timeout_s: float = 10.0
    inbox: queue.Queue[Incoming] = field(default_factory=queue.Queue)
    protocol: int = mqtt.MQTTv5
    # "5": MQTT 5, falling back to 3.1.1; "3.1.1": 3.1.1 only. paho decodes MQTT 5 properties on
    # every PUBLISH and PUBACK, which costs more than the rest of a message: a partition of
    # thousands of boards loses nothing on 3.1.1 (every MQTT 5 feature used has its fallback).
    mqtt_version: str = "5"
    _client: mqtt.Client | None = field(default=None, init=False, repr=False)
    _connected: threading.Event = field(default_factory=threading.Event, init=False, repr=False)
    _refused: str = field(default="", init=False, repr=False)
    _pending: list[tuple[str, mqtt.MQTTMessageInfo]] = field(default_factory=list, init=False, repr=False)
    _closing: bool = field(default=False, init=False, repr=False)
    _handlers: list[tuple[tuple[str, ...], Handler]] = field(default_factory=list, init=False, repr=False)
    _topics: dict[str, int] = field(default_factory=dict, init=False, repr=False)  # filter -> QoS
    _pending_lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)
    # Publishes the broker has not acknowledged yet, oldest first, at most its Receive Maximum
    # (MQTT 5 CONNACK; 65535 when it says none) and WINDOW: the window is kept here, not by paho,
    # whose own limit rescans every message in flight on each PUBACK. A fan-out to thousands of
    # boards then holds a window's worth of messages in memory, not the whole broadcast.
    _unacked: collections.deque[mqtt.MQTTMessageInfo] = field(default_factory=collections.deque, init=False,
                                                             repr=False)
    _receive_maximum: int = field(default=65535, init=False, repr=False)
    _after_read: list[Callable[[], None]] = field(default_factory=list, init=False, repr=False)

    def after_read(self, hook: Callable[[], None]) -> None:
        """Call `hook` (in paho's thread) after each pass of the network loop, that is after each
        burst of messages read: a handler can then wake its waiters once per burst, not once per
        message."""
        self._after_read.append(hook)

    def _read_done(self) -> None:
        for hook in self._after_read:
            try:
                hook()
            except Exception:  # a hook's bug must not kill paho's network thread
                log.exception("link %s: an after-read hook failed", self.name)

    def on(self, topic_filter: str, handler: Handler, *, qos: int = 1) -> None:
        """Send messages matching `topic_filter` to `handler` (in paho's thread) and subscribe to it,
        now if connected, and again after every reconnect."""
        self._handlers.append((tuple(topic_filter.split("/")), handler))
        self.subscribe(topic_filter, qos=qos)

    def subscribe(self, topic_filter: str, *, qos: int = 1) -> None:
        """Subscribe (again after every reconnect). QoS 0 suits what only matters while connected:
        this client's session is clean (it ends with the connection), so within one connection TCP
        already delivers every message in order, and QoS 1 would only add a PUBACK per message."""
        if topic_filter in self._topics or topic_filter in self.subscriptions:
            return
        self._topics[topic_filter] = qos
        if self._client is not None and self._connected.is_set():
            self._client.subscribe(topic_filter, qos=qos)

    @property
    def connected(self) -> bool:
        return self._client is not None and self._connected.is_set()

    @property
    def mqtt5(self) -> bool:
        return self.protocol == mqtt.MQTTv5

    def connect(self) -> None:
        """Connect (MQTT 5, else 3.1.1) and subscribe; MqttError with the reason when it cannot."""
        parts = urlsplit(self.url)
        if parts.scheme not in ("mqtt", "mqtts") or not parts.hostname:
            raise MqttError(f"link {self.name}: {self.url} is not mqtt://host:port")
        port = parts.port or (8883 if parts.scheme == "mqtts" else 1883)
        if parts.scheme == "mqtts":
            self._check_tls(parts.hostname, port)
        for protocol in (mqtt.MQTTv5, mqtt.MQTTv311) if self.mqtt_version == "5" else (mqtt.MQTTv311,):
            self.protocol = protocol
            self._refused = ""
            self._connected.clear()
            client = self._make_client(parts.scheme == "mqtts")
            try:
                client.connect_async(parts.hostname, port, keepalive=30)
                client.loop_start()
            except (OSError, ValueError) as e:
                raise MqttError(f"link {self.name}: cannot reach {self.url}: {e}") from None
            if self._wait_connected(self.connect_timeout_s):
                self._client = client
                log.info("link %s: connected to %s with MQTT %s", self.name, self.url,
                         "5" if self.mqtt5 else "3.1.1")
                return
            client.loop_stop()
            client.disconnect()
            if self._refused and "protocol" not in self._refused.lower():
                break  # refused for a reason a lower protocol version will not fix
        reason = self._refused or f"no answer within {self.connect_timeout_s:g} s"
        raise MqttError(f"link {self.name}: the broker at {self.url} refused the connection: {reason}")

    def _tls_context(self) -> ssl.SSLContext:
        try:
            return ssl.create_default_context(cafile=self.tls_ca or None)
        except (OSError, ssl.SSLError) as e:
            raise MqttError(f"link {self.name}: cannot read the CA file {self.tls_ca}: {e}") from None

    def _check_tls(self, host: str, port: int) -> None:
        """A TLS handshake first, so a certificate problem is named instead of timing out."""
        try:
            with socket.create_connection((host, port), timeout=self.connect_timeout_s) as raw, \
                    self._tls_context().wrap_socket(raw, server_hostname=host):
                pass
        except ssl.SSLCertVerificationError as e:
            raise MqttError(f"link {self.name}: the broker's certificate at {self.url} is not trusted "
                            f"({e.verify_message}); give the CA that signed it as tls_ca") from None
        except ssl.SSLError as e:
            raise MqttError(f"link {self.name}: TLS with {self.url} failed: {e.reason or e} "
                            "(is it a TLS listener?)") from None
        except OSError as e:
            raise MqttError(f"link {self.name}: cannot reach {self.url}: {e.strerror or e}") from None

    def _wait_connected(self, timeout_s: float) -> bool:
        """True once connected; False when refused, dropped before CONNACK (a 3.1.1-only broker
        may just close on an MQTT 5 CONNECT) or no answer in time."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self._connected.wait(0.05):
                return True
            if self._refused:
                return False
        return False

    def _make_client(self, tls: bool) -> mqtt.Client:
        client = BufferedClient(mqtt.CallbackAPIVersion.VERSION2, client_id=self.client_id,
                                protocol=self.protocol)
        client.reconnect_delay_set(min_delay=1, max_delay=30)
        client.max_inflight_messages_set(0)  # the window is ours (publish): the broker's Receive Maximum
        client.max_queued_messages_set(0)  # no limit: the caller flushes
        if self.username:
            password = os.environ.get(self.password_env, "") if self.password_env else ""
            if self.password_env and not password:
                raise MqttError(f"link {self.name}: the environment variable {self.password_env} "
                                "(the MQTT password) is not set")
            if self.password_file and not password:
                try:
                    password = Path(self.password_file).read_text(encoding="utf-8").strip()
                except OSError as e:
                    raise MqttError(f"link {self.name}: cannot read the password file: "
                                    f"{e.strerror}") from None
            client.username_pw_set(self.username, password or None)
        if tls:
            client.tls_set_context(self._tls_context())
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_message = self._on_message
        client.after_read = self._read_done
        return client

    # Callbacks: record and queue only.

    def _on_connect(self, client: mqtt.Client, userdata: object, flags: object, reason: object,
                    properties: object) -> None:
        if getattr(reason, "is_failure", False):
            self._refused = str(reason)
            return
        receive_maximum = getattr(properties, "ReceiveMaximum", None)
        self._receive_maximum = receive_maximum if isinstance(receive_maximum, int) and receive_maximum > 0 \
            else 65535
        for topic in self.subscriptions:
            client.subscribe(topic, qos=1)
        for topic, qos in self._topics.items():
            client.subscribe(topic, qos=qos)
        self._connected.set()

    def _on_disconnect(self, client: mqtt.Client, userdata: object, flags: object, reason: object,
                       properties: object) -> None:
        if not self._connected.is_set() and not self._refused:
            self._refused = f"the broker closed the connection ({reason}); protocol version refused?"
        self._connected.clear()
        if not self._closing:
            log.warning("link %s: disconnected (%s); paho reconnects with back-off", self.name, reason)

    def _on_message(self, client: mqtt.Client, userdata: object, message: mqtt.MQTTMessage) -> None:
        correlation = None
        props = getattr(message, "properties", None)
        if props is not None:
            correlation = getattr(props, "CorrelationData", None)
        incoming = Incoming(message.topic, bytes(message.payload), correlation)
        levels = message.topic.split("/")
        for topic_filter, handler in self._handlers:
            if topic_matches(topic_filter, levels):
                try:
                    handler(incoming)
                except Exception:  # a handler's bug must not kill paho's network thread
                    log.exception("link %s: handling %s failed", self.name, message.topic)
                return
        self.inbox.put(incoming)

    # Used from the caller's own threads.

    def publish(self, topic: str, payload: bytes, *, retain: bool = False, response_topic: str = "",
                correlation: bytes | None = None, timeout_s: float = 30.0, wait: bool = True) -> None:
        """Publish at QoS 1; with `wait`, until the broker has it (PUBACK), else see `flush`."""
        if self._client is None:
            raise MqttError(f"link {self.name}: not connected")
        properties = None
        if self.mqtt5 and (response_topic or correlation):
            properties = Properties(PacketTypes.PUBLISH)
            if response_topic:
                properties.ResponseTopic = response_topic
            if correlation:
                properties.CorrelationData = correlation
        deadline = time.monotonic() + timeout_s
        while not self._connected.is_set():
            if time.monotonic() > deadline:
                raise MqttError(f"link {self.name}: the broker is gone (waiting to reconnect)")
            self._connected.wait(0.2)
        self._wait_window(deadline)
        info = self._client.publish(topic, payload, qos=1, retain=retain, properties=properties)
        if info.rc != mqtt.MQTT_ERR_SUCCESS and info.rc != mqtt.MQTT_ERR_NO_CONN:
            raise MqttError(f"link {self.name}: publishing {topic} failed: {mqtt.error_string(info.rc)}")
        with self._pending_lock:
            self._pending.append((topic, info))
            self._unacked.append(info)
        if wait:
            self.flush(max(0.1, deadline - time.monotonic()))

    def _wait_window(self, deadline: float) -> None:
        """Wait until fewer publishes than the broker's Receive Maximum are unacknowledged (MQTT 5:
        a client that sends more may be disconnected). PUBACKs come in order, so the oldest first."""
        with self._pending_lock:
            unacked = self._unacked
            while unacked and unacked[0].is_published():
                unacked.popleft()
            if len(unacked) < min(self._receive_maximum, WINDOW):
                return
            oldest = unacked.popleft()
        try:
            oldest.wait_for_publish(timeout=max(0.1, deadline - time.monotonic()))
        except (RuntimeError, ValueError) as e:  # not sent (the connection went): flush() says so
            log.debug("link %s: waiting for a PUBACK: %s", self.name, e)

    def flush(self, timeout_s: float = 60.0) -> None:
        """Wait until the broker confirmed everything published so far (PUBACK for each)."""
        deadline = time.monotonic() + timeout_s
        with self._pending_lock:
            pending, self._pending = self._pending, []
        for topic, info in pending:
            try:
                info.wait_for_publish(timeout=max(0.1, deadline - time.monotonic()))
            except (RuntimeError, ValueError) as e:
                raise MqttError(f"link {self.name}: publishing {topic} failed: {e}") from None
            if not info.is_published():
                raise MqttError(f"link {self.name}: the broker did not confirm {topic} in time")

    def close(self) -> None:
        self._closing = True
        self._unacked.clear()
        if self._client is not None:
            self._client.disconnect()
            self._client.loop_stop()
            self._client = None

    def __enter__(self) -> MqttLink:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
