"""A simulated serial wire, served like a DTU on TCP or as a pseudo-terminal.

Bytes move at the wire's baud rate (10 bits per byte, half duplex: requests and
replies share the wire), every device on the wire hears every byte (an RS-485
bus), and faults can be injected: the whole wire down, bytes corrupted, replies
delayed. The devices (card emulators) are plain state machines fed with bytes.
"""

from __future__ import annotations

import contextlib
import logging
import os
import random
import select
import socket
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

log = logging.getLogger("ledctl.simulator.wire")


class Device(Protocol):
    def receive(self, chunk: bytes) -> bytes:
        """Bytes heard on the wire → bytes the device sends back (often none)."""
        ...


@dataclass
class WireFaults:
    down: bool = False  # the DTU is unreachable: connections are refused or dropped
    corrupt: float = 0.0  # probability that any one byte is damaged, each direction
    reply_delay_s: float = 0.0  # extra delay before a device's reply goes out


@dataclass
class WireStats:
    bytes_to_devices: int = 0
    bytes_from_devices: int = 0
    corrupted: int = 0
    connections: int = 0


@dataclass
class SimulatedWire:
    name: str
    devices: Sequence[Device]
    baud: int = 9600
    host: str = "127.0.0.1"
    port: int = 0
    pace: bool = True  # move bytes at the baud rate (off only for fast unit tests)
    faults: WireFaults = field(default_factory=WireFaults)
    rng: random.Random = field(default_factory=lambda: random.Random(0))
    stats: WireStats = field(default_factory=WireStats)
    sleep: Callable[[float], None] = time.sleep
    _server: socket.socket | None = field(default=None, init=False, repr=False)
    _threads: list[threading.Thread] = field(default_factory=list, init=False, repr=False)
    _stop: threading.Event = field(default_factory=threading.Event, init=False, repr=False)
    _client: socket.socket | None = field(default=None, init=False, repr=False)
    _pty_name: str | None = field(default=None, init=False, repr=False)
    _free_at: float = field(default=0.0, init=False, repr=False)
    _device_lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    # -- serving -------------------------------------------------------------------------

    @property
    def url(self) -> str:
        if self._pty_name:
            return self._pty_name
        return f"socket://{self.host}:{self.port}"

    def listen_tcp(self) -> str:
        """Listen like a DTU: one TCP client at a time (a new one replaces the old)."""
        server = socket.create_server((self.host, self.port), reuse_port=False)
        server.settimeout(0.2)
        self.port = server.getsockname()[1]
        self._server = server
        self._spawn(self._accept_loop, server)
        return self.url

    def listen_pty(self) -> str:
        """Serve on a pseudo-terminal: the link URL is the pty's device path."""
        master, slave = os.openpty()
        self._pty_name = os.ttyname(slave)
        self._spawn(self._pty_loop, master, slave)
        return self.url

    def stop(self) -> None:
        self.signal_stop()
        self.join()

    def signal_stop(self) -> None:
        """Ask the wire's threads to end (without waiting: stop many wires at once, then join)."""
        self._stop.set()
        for sock in (self._client, self._server):
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.close()

    def join(self) -> None:
        for t in self._threads:
            t.join(timeout=2)

    def _spawn(self, target: Callable[..., None], *args: object) -> None:
        t = threading.Thread(target=target, args=args, name=f"wire-{self.name}", daemon=True)
        t.start()
        self._threads.append(t)

    def _accept_loop(self, server: socket.socket) -> None:
        while not self._stop.is_set():
            try:
                client, _ = server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            if self.faults.down:
                client.close()
                continue
            if self._client is not None:
                self._client.close()
            self._client = client
            self.stats.connections += 1
            client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self._spawn(self._serve_socket, client)

    def _serve_socket(self, client: socket.socket) -> None:
        client.settimeout(0.2)
        while not self._stop.is_set():
            if self.faults.down:
                client.close()
                return
            try:
                chunk = client.recv(4096)
            except TimeoutError:
                continue
            except OSError:
                return
            if not chunk:
                return
            reply = self.carry(chunk)
            if reply:
                try:
                    client.sendall(reply)
                except OSError:
                    return

    def _pty_loop(self, master: int, slave: int) -> None:
        try:
            while not self._stop.is_set():
                ready, _, _ = select.select([master], [], [], 0.2)
                if not ready:
                    continue
                try:
                    chunk = os.read(master, 4096)
                except OSError:
                    return
                reply = self.carry(chunk)
                if reply and not self.faults.down:
                    os.write(master, reply)
        finally:
            os.close(master)
            os.close(slave)

    # -- the wire itself ---------------------------------------------------------------------

    def carry(self, chunk: bytes) -> bytes:
        """Move `chunk` to every device at the baud rate; return their replies, moved back the same way."""
        if self.faults.down:
            return b""
        self._occupy(len(chunk))
        heard = self._damage(chunk)
        self.stats.bytes_to_devices += len(heard)
        with self._device_lock:
            replies = b"".join(device.receive(heard) for device in self.devices)
        if not replies:
            return b""
        if self.faults.reply_delay_s:
            self.sleep(self.faults.reply_delay_s)
        self._occupy(len(replies))
        self.stats.bytes_from_devices += len(replies)
        return self._damage(replies)

    def _occupy(self, count: int) -> None:
        """Hold the (half-duplex) wire while `count` bytes cross it."""
        if not self.pace:
            return
        now = time.monotonic()
        start = max(now, self._free_at)
        self._free_at = start + count * 10 / self.baud
        wait = self._free_at - now
        if wait > 0:
            self.sleep(wait)

    def _damage(self, data: bytes) -> bytes:
        p = self.faults.corrupt
        if p <= 0:
            return data
        out = bytearray(data)
        for i in range(len(out)):
            if self.rng.random() < p:
                out[i] ^= self.rng.randrange(1, 256)
                self.stats.corrupted += 1
        return bytes(out)
