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
from ledctl.simulator.tpm2_receiver import Tpm2Receiver

Clock = Callable[[], datetime]


class Client(Protocol):
    def start(self) -> None: ...
    def stop(self, clean: bool = True) -> None: ...


@dataclass(frozen=True, slots=True)
class SerialEmulator:
    make: Callable[[Board, Clock], BxCard | Tpm2Receiver]


@dataclass(frozen=True, slots=True)
class MqttEmulator:
    make: Callable[[Board, str, Clock], BoardLogic | AwtrixDevice]  # board, site id, clock
    connect: Callable[[BoardLogic | AwtrixDevice, str, str], Client]  # device, broker url, MQTT version
    topic: Callable[[Board, str], str]  # where it listens, for people: board, site id


def _bx(board: Board, clock: Clock) -> BxCard:
    assert board.address is not None, "onbon-bx boards have addresses (config check)"
    return BxCard(board.address, board.size.width, board.size.height, board.colour.value, clock=clock)


def _ledctl_board(device: BoardLogic | AwtrixDevice, url: str, protocol: str) -> Client:
    assert isinstance(device, BoardLogic)
    return MqttBoard(device, url, protocol=protocol)


def _awtrix(device: BoardLogic | AwtrixDevice, url: str, protocol: str) -> Client:
    assert isinstance(device, AwtrixDevice)
    return MqttAwtrix(device, url)


EMULATORS: dict[str, SerialEmulator | MqttEmulator] = {
    "onbon-bx": SerialEmulator(_bx),
    "tpm2": SerialEmulator(lambda board, clock: Tpm2Receiver(board.size.width, board.size.height)),
    "ledctl-mqtt": MqttEmulator(
        lambda board, site, clock: BoardLogic(site, board.id, board.size.width, board.size.height,
                                              board.colour.value, clock=clock),
        _ledctl_board,
        lambda board, site: f"ledctl/v1/{site}/{board.id}",
    ),
    "awtrix3": MqttEmulator(
        lambda board, site, clock: AwtrixDevice(board.topic or board.id, clock=clock),
        _awtrix,
        lambda board, site: board.topic or board.id,
    ),
}
