"""Serial links: one wire (a port, a DTU, an RFC 2217 server), one writer at a time.

Links are opened with `serial.serial_for_url`, so `/dev/ttyUSB0`, `socket://host:port`
(a serial-to-TCP DTU) and `rfc2217://host:port` all work, and tests can plug in their
own URL schemes. Boards that share a wire (an RS-485 bus, told apart by address)
share one Link, whose lock keeps their frames from interleaving.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import serial

from ledctl.errors import FaultError

log = logging.getLogger("ledctl.link")
trace = logging.getLogger("ledctl.link.trace")  # enable at DEBUG to log TX/RX as hex


class LinkError(FaultError):
    """The wire could not be opened or broke while in use."""


@dataclass
class LinkStats:
    bytes_out: int = 0
    bytes_in: int = 0
    reconnects: int = 0
    seconds_busy: float = 0.0


@dataclass
class SerialLink:
    """One serial wire. Thread-safe: `exclusive()` gives one caller the wire at a time."""

    name: str
    url: str
    baud: int = 9600
    parity: str = "N"
    timeout_s: float = 2.0
    opener: Callable[..., serial.SerialBase] = serial.serial_for_url
    sleep: Callable[[float], None] = time.sleep
    max_backoff_s: float = 5.0
    stats: LinkStats = field(default_factory=LinkStats)
    hints: dict[str, int] = field(default_factory=dict)  # what drivers learned about this wire
    _port: serial.SerialBase | None = field(default=None, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)
    _failures: int = field(default=0, init=False, repr=False)
    _cancel: threading.Event = field(default_factory=threading.Event, init=False, repr=False)

    @property
    def transport(self) -> str:
        return "serial"

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def cancel(self) -> None:
        """Make every exchange in progress end soon (LinkError "cancelled"): shutting down."""
        self._cancel.set()

    def byte_time(self, count: int) -> float:
        """Seconds `count` bytes take on the wire at 8N1 (10 bits per byte)."""
        return count * 10 / self.baud

    @contextmanager
    def exclusive(self) -> Iterator[SerialLink]:
        with self._lock:
            start = time.monotonic()
            try:
                yield self
            finally:
                self.stats.seconds_busy += time.monotonic() - start

    def _open(self) -> serial.SerialBase:
        if self._cancel.is_set():
            raise LinkError(f"link {self.name}: cancelled (shutting down)")
        if self._port is not None:
            return self._port
        if self._failures:
            delay = min(self.max_backoff_s, 0.2 * 2 ** (self._failures - 1))
            self.sleep(delay)  # back off before trying a wire that just failed
            self.stats.reconnects += 1
        try:
            port = self.opener(self.url, baudrate=self.baud, parity=self.parity, timeout=0.05,
                               write_timeout=max(5.0, self.timeout_s))
        except (serial.SerialException, OSError, ValueError) as e:
            self._failures += 1
            raise LinkError(f"link {self.name}: cannot open {self.url}: {e}") from None
        self._failures = 0
        self._port = port
        log.info("link %s: opened %s", self.name, self.url)
        return port

    def close(self) -> None:
        """Close the wire once whoever uses it is done (the wire lock), so no exchange is cut."""
        with self._lock:
            self._close_port()

    def _close_port(self) -> None:
        if self._port is not None:
            try:
                self._port.close()
            except (serial.SerialException, OSError):
                log.debug("link %s: error while closing", self.name)
            self._port = None

    def __enter__(self) -> SerialLink:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def drop(self, reason: str) -> None:
        """Forget a broken connection; the next use reopens it (with back-off)."""
        log.warning("link %s: %s; will reconnect", self.name, reason)
        self._failures += 1
        self._close_port()  # called by the holder of the wire lock

    def write(self, data: bytes) -> None:
        port = self._open()
        trace.debug("%s TX %s", self.name, data.hex(" "))
        try:
            port.write(data)
            port.flush()
        except (serial.SerialException, OSError) as e:
            self.drop(f"write failed: {e}")
            raise LinkError(f"link {self.name}: write failed: {e}") from None
        self.stats.bytes_out += len(data)

    def read(self, deadline: float) -> bytes:
        """Whatever arrives before `deadline` (time.monotonic), returned as soon as anything does."""
        port = self._open()
        while True:
            try:
                waiting = port.in_waiting
                chunk = port.read(waiting or 1)
            except (serial.SerialException, OSError) as e:
                self.drop(f"read failed: {e}")
                raise LinkError(f"link {self.name}: read failed: {e}") from None
            if chunk:
                trace.debug("%s RX %s", self.name, chunk.hex(" "))
                self.stats.bytes_in += len(chunk)
                return chunk
            if time.monotonic() >= deadline:
                return b""
            if self._cancel.is_set():
                raise LinkError(f"link {self.name}: cancelled (shutting down)")

    def discard_input(self) -> None:
        """Drop stale bytes (a late reply to an earlier frame) before a new exchange."""
        if self._port is None:
            return
        try:
            self._port.reset_input_buffer()
        except (serial.SerialException, OSError) as e:
            self.drop(f"reset failed: {e}")
