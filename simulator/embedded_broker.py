"""An embedded MQTT broker (amqtt, MQTT 3.1.1 only) for the demo when mosquitto is not installed.

Mosquitto is the broker for production and tests; this one only lets the simulated
fleet run on a machine without it. Everything ledctl uses from MQTT 5 has a 3.1.1
fallback, so the controller and the simulated boards work with it unchanged.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from dataclasses import dataclass, field

from ledctl.errors import LedctlError

log = logging.getLogger("ledctl.simulator.broker")


class EmbeddedBrokerError(LedctlError):
    pass


@dataclass
class EmbeddedBroker:
    port: int
    host: str = "127.0.0.1"
    _loop: asyncio.AbstractEventLoop | None = field(default=None, init=False, repr=False)
    _thread: threading.Thread | None = field(default=None, init=False, repr=False)
    _broker: object = field(default=None, init=False, repr=False)

    @property
    def url(self) -> str:
        return f"mqtt://{self.host}:{self.port}"

    def start(self, timeout_s: float = 10.0) -> str:
        from amqtt.broker import Broker

        config = {
            "listeners": {"default": {"type": "tcp", "bind": f"{self.host}:{self.port}"}},
            "plugins": {"amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}},
        }
        loop = asyncio.new_event_loop()
        ready = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            asyncio.set_event_loop(loop)
            broker = Broker(config, loop=loop)
            self._broker = broker
            try:
                loop.run_until_complete(broker.start())
            except (OSError, RuntimeError) as e:  # port taken, or amqtt refused its config
                failure.append(e)
                ready.set()
                return
            ready.set()
            loop.run_forever()

        self._loop = loop
        self._thread = threading.Thread(target=run, name="embedded-broker", daemon=True)
        self._thread.start()
        if not ready.wait(timeout_s) or failure:
            raise EmbeddedBrokerError(f"the embedded MQTT broker could not listen on {self.url}: "
                                      f"{failure[0] if failure else 'timed out'}")
        log.info("embedded amqtt broker on %s (MQTT 3.1.1)", self.url)
        return self.url

    def stop(self) -> None:
        loop, broker = self._loop, self._broker
        if loop is None or broker is None:
            return
        future = asyncio.run_coroutine_threadsafe(broker.shutdown(), loop)  # type: ignore[attr-defined]
        try:
            future.result(timeout=5)
        except (TimeoutError, RuntimeError, OSError):
            log.debug("embedded broker: shutdown did not finish cleanly")
        loop.call_soon_threadsafe(loop.stop)
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._loop = self._broker = None
