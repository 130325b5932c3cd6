"""The simulated fleet: every serial board of a config as an emulator on its wire.

Each link of the config becomes a simulated wire listening where the link's URL
points (a `socket://127.0.0.1:PORT` DTU), with one emulated card per board on it.
"""

from __future__ import annotations

import logging
import os
import random
import secrets
import socket
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from urllib.parse import urlsplit

from PIL import Image

from ledctl.config import Deployment
from ledctl.errors import LedctlError
from ledctl.model import Board, Link
from ledctl.simulator.awtrix_device import AwtrixDevice
from ledctl.simulator.broker import Mosquitto, board_acl
from ledctl.simulator.bx_card import BxCard
from ledctl.simulator.embedded_broker import EmbeddedBroker
from ledctl.simulator.emulators import EMULATORS, Client, MqttEmulator, SerialEmulator
from ledctl.simulator.mqtt_board import BoardLogic
from ledctl.simulator.tpm2_receiver import Tpm2Receiver, WledSerial
from ledctl.simulator.wire import SimulatedWire, WireFaults

log = logging.getLogger("ledctl.simulator")


class SimError(LedctlError):
    pass


@dataclass
class SimBoard:
    board: Board
    device: BxCard | Tpm2Receiver | WledSerial | BoardLogic | AwtrixDevice
    wire: SimulatedWire | None  # None: an MQTT board (it connects to the broker itself)
    client: Client | None = None
    listen_url: str = ""

    @property
    def listen(self) -> str:
        return self.wire.url if self.wire else self.listen_url

    def snapshot(self) -> Image.Image:
        return self.device.snapshot()


@dataclass
class Fleet:
    deployment: Deployment
    clock: Callable[[], datetime]
    pace: bool = True
    seed: int = 0
    boards: dict[str, SimBoard] = field(default_factory=dict)
    wires: dict[str, SimulatedWire] = field(default_factory=dict)
    state: Path | None = None  # where a broker started for the simulation keeps its files
    brokers: list[Mosquitto | EmbeddedBroker] = field(default_factory=list)
    mqtt_protocol: str = "5"
    _credentials: dict[str, tuple[str, str]] = field(default_factory=dict)  # board → (user, password)

    @classmethod
    def running(cls, deployment: Deployment, clock: Callable[[], datetime], *, state: Path | None = None,
                pace: bool = True, ephemeral: bool = False, ready_s: float = 10.0) -> Fleet:
        """Build, start, and wait until every simulated MQTT board is connected (stop() when done)."""
        fleet = cls(deployment, clock=clock, pace=pace, state=state)
        fleet.build()
        fleet.start(ephemeral=ephemeral)
        fleet.wait_ready(ready_s)
        return fleet

    def wait_ready(self, timeout_s: float = 10.0) -> None:
        """Wait until the simulated MQTT boards have connected and said they are online."""
        for sim in self.boards.values():
            if sim.client is not None and hasattr(sim.client, "wait_ready"):
                sim.client.wait_ready(timeout_s)

    def build(self, only: set[str] | None = None) -> None:
        """Make the emulators and wires (nothing listens yet)."""
        dep = self.deployment
        by_link: dict[str, list[Board]] = {}
        for board in dep.boards:
            if only is not None and board.id not in only:
                continue
            emulator = EMULATORS.get(board.driver)
            if isinstance(emulator, SerialEmulator):
                by_link.setdefault(board.link, []).append(board)
            elif isinstance(emulator, MqttEmulator):
                self.boards[board.id] = SimBoard(board, emulator.make(board, dep.site.id, self.clock), None)
            else:
                raise SimError(f"board {board.id}: no emulator for driver {board.driver}")
        for link_name, boards in by_link.items():
            link = dep.links[link_name]
            devices = [self._device(b) for b in boards]
            for device in devices:
                if isinstance(device, WledSerial):  # its UART listens at a rate of its own (115200)
                    device.wire_baud = link.baud
            wire = SimulatedWire(link_name, devices, baud=link.baud, pace=self.pace,
                                 rng=random.Random(f"{self.seed}:{link_name}"), faults=WireFaults())
            self.wires[link_name] = wire
            for board, device in zip(boards, devices, strict=True):
                self.boards[board.id] = SimBoard(board, device, wire)

    def _device(self, board: Board) -> BxCard | Tpm2Receiver | WledSerial:
        emulator = EMULATORS[board.driver]
        assert isinstance(emulator, SerialEmulator)
        return emulator.make(board, self.clock)

    def start(self, *, pty: bool = False, ephemeral: bool = False) -> None:
        """Listen where each link's URL points (socket://HOST:PORT), on fresh ptys, or on free
        loopback ports (`ephemeral`, for tests and benchmarks; see `rewired`). MQTT boards
        connect to their link's broker; if none answers there, one is started for them."""
        self._start_wires(pty=pty, ephemeral=ephemeral)
        self._start_mqtt_boards()

    def _start_mqtt_boards(self) -> None:
        for sim in self.boards.values():
            emulator = EMULATORS[sim.board.driver]
            if not isinstance(emulator, MqttEmulator):
                continue
            link = self.deployment.links[sim.board.link]
            parts = urlsplit(link.url)
            host, port = parts.hostname or "127.0.0.1", parts.port or 1883
            if host not in ("127.0.0.1", "localhost", "::1"):
                raise SimError(f"link {sim.board.link}: the simulator only uses a loopback broker, "
                               f"not {host}")
            if not _listening(host, port) and not any(b.port == port for b in self.brokers):
                self._start_broker(link.name, port)
            assert isinstance(sim.device, BoardLogic | AwtrixDevice)
            sim.client = emulator.connect(sim.device, link.url, self.mqtt_protocol,
                                          self._credentials.get(sim.board.id))
            sim.client.start()
            sim.listen_url = f"{link.url}/{emulator.topic(sim.board, self.deployment.site.id)}"

    def _start_broker(self, link_name: str, port: int) -> None:
        """A broker for the boards of `link_name`. When the link has a user name (as it should), the
        broker takes no anonymous clients: the controller logs in as that user, each board as itself
        (its id, or an AWTRIX device's topic prefix) with a password made here, and the ACL keeps
        each board to its own topics."""
        link = self.deployment.links[link_name]
        members = [sim for sim in self.boards.values() if sim.board.link == link_name]
        broker: Mosquitto | EmbeddedBroker
        if Mosquitto.available():
            users = acl = None
            if link.username:
                users = {link.username: _controller_password(link)}
                for sim in members:
                    emulator = EMULATORS[sim.board.driver]
                    assert isinstance(emulator, MqttEmulator)
                    user = emulator.username(sim.board)
                    secret = secrets.token_urlsafe(16)
                    users[user] = secret
                    self._credentials[sim.board.id] = (user, secret)
                devices = [emulator.username(sim.board) for sim in members
                           if isinstance(emulator := EMULATORS[sim.board.driver], MqttEmulator)
                           and emulator.own_tree]
                acl = board_acl(self.deployment.site.id, controller=link.username, devices=devices)
            broker = Mosquitto((self.state or Path("var")) / "sim" / f"broker-{port}", port=port, users=users,
                               acl=acl)
        else:  # the demo without mosquitto: amqtt, MQTT 3.1.1 only
            log.warning("mosquitto is not installed; using the embedded amqtt broker (MQTT 3.1.1, no "
                        "passwords: install mosquitto for a broker that checks who is who)")
            broker = EmbeddedBroker(port)
            self.mqtt_protocol = "3.1.1"
        broker.start()
        self.brokers.append(broker)

    def _start_wires(self, *, pty: bool, ephemeral: bool) -> None:
        for name, wire in self.wires.items():
            url = self.deployment.links[name].url
            if pty:
                wire.listen_pty()
                continue
            if ephemeral:
                wire.host, wire.port = "127.0.0.1", 0
                wire.listen_tcp()
                continue
            parts = urlsplit(url)
            if parts.scheme != "socket" or not parts.port:
                raise SimError(f"link {name}: the simulator listens on socket://HOST:PORT URLs, not {url}")
            if parts.hostname not in ("127.0.0.1", "localhost", "::1"):
                raise SimError(f"link {name}: the simulator only listens on loopback, not {parts.hostname}")
            wire.host, wire.port = parts.hostname, parts.port
            try:
                wire.listen_tcp()
            except OSError as e:
                self.stop()
                raise SimError(f"link {name}: cannot listen on {url}: {e.strerror} "
                               "(is another simulator running?)") from None

    def stop(self) -> None:
        for wire in self.wires.values():
            wire.signal_stop()
        for sim in self.boards.values():
            if sim.client is not None:
                sim.client.stop()
        for wire in self.wires.values():
            wire.join()
        for broker in self.brokers:
            broker.stop()

    def rewired(self) -> Deployment:
        """The deployment with each simulated link pointing at where its wire listens now."""
        links = {name: replace(link, url=self.wires[name].url) if name in self.wires else link
                 for name, link in self.deployment.links.items()}
        return replace(self.deployment, links=links)

    # -- faults ----------------------------------------------------------------------------

    def set_fault(self, board_id: str, *, offline: bool | None = None, corrupt: float | None = None,
                  delay_s: float | None = None, nack_busy: bool | None = None) -> None:
        """Faults by board: offline and busy affect the card; corruption and delay its whole wire."""
        sim = self.boards.get(board_id)
        if sim is None:
            raise SimError(f"no simulated board {board_id!r}")
        if offline is not None and isinstance(sim.device, BoardLogic | AwtrixDevice):
            self._mqtt_offline(sim, offline)
        elif offline is not None:
            sim.device.offline = offline
        if nack_busy is not None and isinstance(sim.device, BxCard):
            sim.device.nack_busy = nack_busy
        if sim.wire is not None:
            if corrupt is not None:
                sim.wire.faults.corrupt = corrupt
            if delay_s is not None:
                sim.wire.faults.reply_delay_s = delay_s

    def power_cycle(self, board_id: str) -> None:
        """Cut a board's power and bring it back: what its device keeps in RAM is gone."""
        sim = self.boards.get(board_id)
        if sim is None:
            raise SimError(f"no simulated board {board_id!r}")
        cycle = getattr(sim.device, "power_cycle", None)
        if cycle is None:
            raise SimError(f"board {board_id}: its emulator does not model a power cycle")
        cycle()

    def _mqtt_offline(self, sim: SimBoard, offline: bool) -> None:
        """An MQTT board going offline drops its connection uncleanly, so the broker sends its will."""
        url = self.deployment.links[sim.board.link].url
        if offline and sim.client is not None:
            sim.client.stop(clean=False)
            sim.client = None
        elif not offline and sim.client is None and sim.listen_url:
            emulator = EMULATORS[sim.board.driver]
            assert isinstance(emulator, MqttEmulator) and isinstance(sim.device, BoardLogic | AwtrixDevice)
            sim.client = emulator.connect(sim.device, url, self.mqtt_protocol,
                                          self._credentials.get(sim.board.id))
            sim.client.start()

    def write_snapshots(self, folder: Path) -> list[Path]:
        folder.mkdir(parents=True, exist_ok=True)
        out = []
        for board_id, sim in self.boards.items():
            path = folder / f"{board_id}.png"
            # Whole or not at all: a reader (a test, an image viewer) never sees half a file.
            part = path.with_suffix(".png.part")
            sim.snapshot().save(part, format="PNG")
            part.replace(path)
            out.append(path)
        return out


FAULT_KEYS = {"offline": bool, "busy": bool, "corrupt": float, "delay": float}


def _controller_password(link: Link) -> str:
    """The controller's broker password, from where the config says it comes (never the config)."""
    if link.password_env:
        value = os.environ.get(link.password_env, "")
        if not value:
            raise SimError(f"link {link.name}: set {link.password_env} (the controller's broker password) "
                           f"before starting the simulator, e.g. export {link.password_env}=$(openssl rand "
                           "-hex 16); ledctl serve and broadcast then read the same variable")
        return value
    if link.password_file:
        return Path(link.password_file).read_text(encoding="utf-8").strip()
    raise SimError(f"link {link.name}: user {link.username} has no password_env or password_file")


def _listening(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def read_faults(path: Path) -> dict[str, dict[str, object]]:
    """Faults by board from a TOML file, e.g. `[zbs-01]` `offline = true` `corrupt = 0.05`.

    The running simulator re-reads the file, so faults can be switched on and off at run time.
    """
    import tomllib

    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (tomllib.TOMLDecodeError, UnicodeDecodeError, OSError) as e:
        raise SimError(f"{path}: cannot read faults: {e}") from None
    faults: dict[str, dict[str, object]] = {}
    for board, table in data.items():
        if not isinstance(table, dict):
            raise SimError(f"{path}: [{board}] must be a table of faults ({', '.join(FAULT_KEYS)})")
        for key, value in table.items():
            kind = FAULT_KEYS.get(key)
            is_bool = isinstance(value, bool)
            if kind is None or not isinstance(value, int | float) or (kind is bool) != is_bool:
                raise SimError(f"{path}: {board}.{key} = {value!r}: expected one of "
                               "offline/busy = true|false, corrupt = 0.0..1.0, delay = seconds")
        faults[board] = dict(table)
    return faults


def apply_faults(fleet: Fleet, faults: dict[str, dict[str, object]]) -> None:
    """Set every simulated board's faults to what `faults` says (absent: no fault)."""
    for board_id in fleet.boards:
        f = faults.get(board_id, {})
        fleet.set_fault(board_id, offline=bool(f.get("offline", False)), nack_busy=bool(f.get("busy", False)))
    for wire in fleet.wires.values():
        wire.faults.corrupt, wire.faults.reply_delay_s = 0.0, 0.0
    for board_id, f in faults.items():
        if board_id not in fleet.boards:
            raise SimError(f"faults: no simulated board {board_id!r}")
        fleet.set_fault(board_id, corrupt=float(f.get("corrupt", 0.0)), delay_s=float(f.get("delay", 0.0)))
