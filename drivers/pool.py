"""The links of a deployment, opened once and kept: one serial link per wire, one MQTT client per
broker, and on each the drivers of the boards it carries.

A pool belongs to one owner (the dispatcher of `ledctl serve`, or of a one-off `ledctl
broadcast`), which closes it when done (`close()`, or `with LinkPool(...) as pool`). Links open
on first use and reopen by themselves after a failure (serial: on the next exchange, with
back-off; MQTT: paho reconnects and the subscriptions are made again). `cancel()` makes every
exchange in progress end soon, for a quick shutdown.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from ledctl.drivers.base import Driver, DriverContext
from ledctl.drivers.link import SerialLink
from ledctl.drivers.mqtt_link import MqttLink
from ledctl.model import Board, Link


@dataclass
class LinkPool:
    links: Mapping[str, Link]
    boards: Sequence[Board]
    site: str = "site"
    ack_timeout_s: float = 15.0
    client_id: str = ""  # MQTT client id prefix (default: per process)
    _serial: dict[str, SerialLink] = field(default_factory=dict, init=False)
    _mqtt: dict[str, MqttLink] = field(default_factory=dict, init=False)
    _drivers: dict[tuple[str, str], Driver] = field(default_factory=dict, init=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False)

    def driver(self, link_name: str, driver_name: str) -> Driver:
        """The driver of `driver_name` on `link_name`, made (and its link opened) on first use.
        Raises the link's error (LinkError, MqttError) when an MQTT broker cannot be reached."""
        from ledctl.drivers import DRIVERS

        key = (link_name, driver_name)
        with self._lock:
            found = self._drivers.get(key)
            if found is not None:
                return found
            cls = DRIVERS[driver_name]
            members = tuple(b for b in self.boards if b.link == link_name and b.driver == driver_name)
            context = DriverContext(self.site, self.ack_timeout_s, members)
            if cls.spec.transport == "serial":
                made: Driver = cls(self._serial_link(link_name))  # type: ignore[call-arg]
            else:
                made = cls(self._mqtt_link(link_name), context)  # type: ignore[call-arg]
            self._drivers[key] = made
            return made

    def _serial_link(self, name: str) -> SerialLink:
        link = self._serial.get(name)
        if link is None:
            config = self.links[name]
            link = self._serial[name] = SerialLink(name, config.url, baud=config.baud, parity=config.parity,
                                                   timeout_s=config.timeout_s)
        return link

    def _mqtt_link(self, name: str) -> MqttLink:
        link = self._mqtt.get(name)
        if link is None:
            config = self.links[name]
            prefix = self.client_id or f"ledctl-{os.getpid()}"
            candidate = MqttLink(name, config.url, client_id=f"{prefix}-{name}", username=config.username,
                                 password_env=config.password_env, tls_ca=config.tls_ca,
                                 password_file=config.password_file, mqtt_version=config.mqtt_version)
            candidate.connect()  # raises MqttError naming the reason; the next use tries again
            link = self._mqtt[name] = candidate
        return link

    def serial(self, name: str) -> SerialLink:
        """The serial link of `name` (opened on first use), for tools that talk to it directly."""
        with self._lock:
            return self._serial_link(name)

    def cancel(self) -> None:
        """Shutting down: exchanges in progress end soon instead of running their retries out."""
        for link in list(self._serial.values()):
            link.cancel()

    def close(self) -> None:
        with self._lock:
            drivers, self._drivers = list(self._drivers.values()), {}
            serial, self._serial = list(self._serial.values()), {}
            mqtt, self._mqtt = list(self._mqtt.values()), {}
        for driver in drivers:
            driver.close()
        for link in mqtt:
            link.close()
        # In parallel: closing a socket link lingers a moment, and there may be dozens.
        threads = [threading.Thread(target=link.close, name=f"close-{link.name}") for link in serial]
        for t in threads:
            t.start()
        for t in threads:
            t.join()

    def __enter__(self) -> LinkPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
