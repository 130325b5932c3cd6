"""Board protocols and transports (import name: ledctl.drivers).

`DRIVERS` maps the name a config gives (`driver = "onbon-bx"`) to the class that drives that
protocol. Everything else asks the class: its `spec` (what a config may ask of it, checked
before any byte is sent) and its `capabilities(board)` (own font, pages it holds, largest
message, acknowledges or not). See drivers/base.py for the interface, and docs/drivers.md for
how to add a protocol.
"""

from __future__ import annotations

from ledctl.drivers.awtrix3 import AwtrixDriver
from ledctl.drivers.base import Capabilities, Content, Driver, DriverSpec, Health, Outcome, Result
from ledctl.drivers.ledctl_mqtt import LedctlMqttDriver
from ledctl.drivers.onbon.driver import OnbonBxDriver
from ledctl.drivers.tpm2 import Tpm2Driver
from ledctl.model import Board

DRIVERS: dict[str, type[Driver]] = {
    cls.spec.name: cls for cls in (OnbonBxDriver, Tpm2Driver, LedctlMqttDriver, AwtrixDriver)
}


def driver_class(board: Board) -> type[Driver]:
    """The class that drives `board` (the config has checked the name)."""
    return DRIVERS[board.driver]


def capabilities(board: Board) -> Capabilities:
    return driver_class(board).capabilities(board)


__all__ = [
    "DRIVERS",
    "Capabilities",
    "Content",
    "Driver",
    "DriverSpec",
    "Health",
    "Outcome",
    "Result",
    "capabilities",
    "driver_class",
]
