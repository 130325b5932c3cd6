"""The domain model: small immutable values shared by every layer.

Source ──► Reading ──► Assessment ──► Bulletin ──► Program (per board) ──► driver ──► board
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from PIL import Image


class ColourMode(StrEnum):
    """What a board's LEDs can show."""

    MONO_RED = "mono-red"  # one colour: a pixel is on or off
    RED_GREEN = "red-green"  # two planes: red, green, and both (yellow)
    FULL = "full"  # RGB


_SIZE = re.compile(r"^([1-9][0-9]{0,4})x([1-9][0-9]{0,4})$")


@dataclass(frozen=True, slots=True)
class Size:
    width: int
    height: int

    @classmethod
    def parse(cls, text: str) -> Size:
        """Parse `128x32`; raises ValueError on anything else."""
        m = _SIZE.match(text)
        if not m:
            raise ValueError(text)
        return cls(int(m.group(1)), int(m.group(2)))

    def __str__(self) -> str:
        return f"{self.width}x{self.height}"


@dataclass(frozen=True, slots=True)
class Site:
    name: str
    timezone: str


@dataclass(frozen=True, slots=True)
class Group:
    id: str
    name: str
    description: str = ""


@dataclass(frozen=True, slots=True)
class Source:
    """Where readings come from; `options` are the type's own settings."""

    name: str
    type: str
    options: Mapping[str, object] = field(default_factory=dict)


class StationKind(StrEnum):
    AIR = "air"
    WATER = "water"


@dataclass(frozen=True, slots=True)
class Station:
    id: str
    name: str
    source: str
    location: str = ""
    kind: StationKind = StationKind.AIR


@dataclass(frozen=True, slots=True)
class Link:
    """One wire or broker connection. Boards on the same link share it one frame at a time."""

    name: str
    url: str
    baud: int = 9600
    parity: str = "N"
    timeout_s: float = 2.0

    @property
    def transport(self) -> str:
        return "mqtt" if self.url.startswith(("mqtt://", "mqtts://")) else "serial"


@dataclass(frozen=True, slots=True)
class Board:
    id: str
    name: str
    size: Size
    colour: ColourMode
    driver: str
    link: str
    station: str
    location: str = ""
    area: str = ""
    address: int | None = None
    groups: tuple[str, ...] = ()
    water_stations: tuple[str, ...] = ()
    layout: str = ""  # a layout by name; "" picks one by size


@dataclass(frozen=True, slots=True)
class Reading:
    """Measured values for one station and one averaging period.

    `time` is the start of the period (timezone-aware); `period` is "24h" or "1h".
    Values are exact decimals in the canonical unit of each parameter
    (µg/m³; CO in mg/m³; water in mg/L). A parameter that was not measured is absent.
    """

    station: str
    time: datetime
    period: str
    values: Mapping[str, Decimal]

    @property
    def day(self) -> date:
        return self.time.date()


@dataclass(frozen=True, slots=True)
class Page:
    """One page of a program: a bitmap at the board's size (or wider/taller to scroll)."""

    name: str
    image: Image.Image = field(compare=False, repr=False)
    effect: str = "static"
    dwell_s: float = 8.0
    texts: tuple[tuple[str, str], ...] = ()  # (font, text) of each line: what the page says
    speed_px_s: float = 0.0  # scrolling pages: how fast the board moves the image


@dataclass(frozen=True, slots=True)
class Program:
    """What one board plays: an ordered loop of pages, valid in [valid_from, valid_to)."""

    board: str
    pages: tuple[Page, ...]
    valid_from: datetime | None = None
    valid_to: datetime | None = None

    def content_hash(self) -> str:
        """A hash of everything the board shows; equal programs have equal hashes."""
        h = hashlib.sha256()
        h.update(self.board.encode())
        for page in self.pages:
            h.update(f"|{page.name}|{page.effect}|{page.dwell_s}|{page.speed_px_s}|{page.image.mode}|".encode())
            h.update(f"{page.image.width}x{page.image.height}|".encode())
            h.update(page.image.tobytes())
        for t in (self.valid_from, self.valid_to):
            h.update(f"|{t.isoformat() if t else '-'}".encode())
        return h.hexdigest()


@dataclass(frozen=True, slots=True)
class Assessment:
    """An air-quality index computed from one reading under one standard.

    `iaqi` maps each given pollutant column (e.g. "pm25_24h") to its sub-index.
    `above_scale` is set when a concentration lies above the table's top
    breakpoint: the AQI is then reported as "> 500", never extrapolated.
    """

    standard: str
    aqi: int
    level: int  # 1..6
    category: str  # 优 … 严重污染
    colour: str  # "#RRGGBB"
    primary: tuple[str, ...]  # display names, empty when AQI <= 50
    iaqi: Mapping[str, int]
    above_scale: bool = False

    @property
    def display(self) -> str:
        return ">500" if self.above_scale else str(self.aqi)


@dataclass(frozen=True, slots=True)
class StationBulletin:
    """What is to be said about one station: either an assessment or 'data updating'."""

    station: str
    station_name: str
    day: date | None  # the day the figures are for
    assessment: Assessment | None  # None: stale or invalid data — show "数据更新中"
    values: Mapping[str, Decimal] = field(default_factory=dict)
    problem: str = ""  # why there is no assessment, for the operator (never shown on a board)

    @property
    def updating(self) -> bool:
        return self.assessment is None


@dataclass(frozen=True, slots=True)
class Bulletin:
    """The daily environmental bulletin, independent of any board."""

    issued: datetime
    stations: Mapping[str, StationBulletin]
