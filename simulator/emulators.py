"""Which emulator stands in for each driver's boards (the simulator's side of drivers.DRIVERS).

Adding a protocol: its emulator module, and its line here. A serial emulator is a device
answering bytes on a simulated wire; an MQTT emulator is a device plus the client that connects
it to the broker (started and stopped by the fleet, stopped uncleanly to make the broker send
its will).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from ledctl.model import Board
from ledctl.simulator.awtrix_device import AwtrixDevice, MqttAwtrix
from ledctl.simulator.bx_card import BxCard
from ledctl.simulator.mqtt_board import BoardLogic, MqttBoard
from ledctl.simulator.tpm2_receiver import Tpm2Receiver, WledSerial

Clock = Callable[[], datetime]


class Client(Protocol):
    def start(self) -> None: ...
    def stop(self, clean: bool = True) -> None: ...


@dataclass(frozen=True, slots=True)
class SerialEmulator:
    make: Callable[[Board, Clock], BxCard | Tpm2Receiver | WledSerial]


Credentials = tuple[str, str] | None  # (user, password) on a broker that checks them


@dataclass(frozen=True, slots=True)
class MqttEmulator:
    make: Callable[[Board, str, Clock], BoardLogic | AwtrixDevice]  # board, site id, clock
    # device, broker url, MQTT version, credentials
    connect: Callable[[BoardLogic | AwtrixDevice, str, str, Credentials], Client]
    topic: Callable[[Board, str], str]  # where it listens, for people: board, site id
    username: Callable[[Board], str]  # who it logs in as on a broker that checks
    own_tree: bool = False  # its topics are a tree of its own (the ACL gives the controller access)


def _bx(board: Board, clock: Clock) -> BxCard:
    assert board.address is not None, "onbon-bx boards have addresses (config check)"
    return BxCard(board.address, board.size.width, board.size.height, board.colour.value, clock=clock)


def _tpm2(board: Board, clock: Clock) -> Tpm2Receiver | WledSerial:
    """WLED's serial input for `model = "wled"`, else a strict generic receiver; wired as the board's
    pixel_order says (the device is set up to match its config, as on site)."""
    order = board.pixel_order or "top-left rows"
    if board.model == "wled":
        return WledSerial(board.size.width, board.size.height, order=order)
    return Tpm2Receiver(board.size.width, board.size.height, order=order,
                        answers_ping=bool(board.acknowledges))


def _ledctl_board(device: BoardLogic | AwtrixDevice, url: str, protocol: str,
                  credentials: Credentials) -> Client:
    assert isinstance(device, BoardLogic)
    user, password = credentials or (None, None)
    return MqttBoard(device, url, protocol=protocol, username=user, password=password)


def _awtrix(device: BoardLogic | AwtrixDevice, url: str, protocol: str, credentials: Credentials) -> Client:
    assert isinstance(device, AwtrixDevice)
    return MqttAwtrix(device, url, credentials=credentials)


EMULATORS: dict[str, SerialEmulator | MqttEmulator] = {
    "onbon-bx": SerialEmulator(_bx),
    "tpm2": SerialEmulator(_tpm2),
    "ledctl-mqtt": MqttEmulator(
        lambda board, site, clock: BoardLogic(site, board.id, board.size.width, board.size.height,
                                              board.colour.value, clock=clock),
        _ledctl_board,
        lambda board, site: f"ledctl/v1/{site}/{board.id}",
        lambda board: board.id,
    ),
    "awtrix3": MqttEmulator(
        lambda board, site, clock: AwtrixDevice(board.topic or board.id, clock=clock),
        _awtrix,
        lambda board, site: board.topic or board.id,
        lambda board: board.topic or board.id,
        own_tree=True,
    ),
}
