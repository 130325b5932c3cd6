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
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from PIL import Image

    from ledctl.standards.period import AreaReport


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
    id: str = "site"  # in MQTT topics: ledctl/v1/<id>/<board>/…


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
    fallback: tuple[str, ...] = ()  # sources to read instead when this one fails
    sample: bool = False  # synthetic data (demo, tests): every page built from it says 示例数据


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
    lake: bool = False  # water: a lake or reservoir (its own TP limits, and TN is assessed)


@dataclass(frozen=True, slots=True)
class Link:
    """One wire or broker connection. Boards on the same link share it one frame at a time."""

    name: str
    url: str
    baud: int = 9600
    parity: str = "N"
    timeout_s: float = 2.0
    username: str = ""  # MQTT: the controller's user name …
    password_env: str = ""  # … and the environment variable holding its password
    password_file: str = ""  # … or a file only its owner can read (mode 0600)
    tls_ca: str = ""  # MQTT over TLS (mqtts://): the CA file
    mqtt_version: str = "5"  # "5": MQTT 5, else 3.1.1 if the broker refuses it; "3.1.1": 3.1.1 only

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
    topic: str = ""  # awtrix3: the device's MQTT topic prefix (default: the board id)
    model: str = ""  # the controller's model where the driver tells them apart (onbon-bx: "BX-5K2")
    pixel_order: str = ""  # tpm2: the order of the pixels on the wire ("" = "top-left rows")
    acknowledges: bool | None = None  # tpm2: does the receiver answer the ping (None: as its model does)
    loop: str = ""  # onbon-bx: "card" (the card cycles text pages itself) or "host" (ledctl sends pictures)


DEFAULT_BOUNDS: dict[str, tuple[Decimal, Decimal]] = {
    # Plausible ranges (canonical units); a value outside is a fault of the data, not air or water.
    "pm25": (Decimal(0), Decimal(1000)), "pm10": (Decimal(0), Decimal(2000)),
    "so2": (Decimal(0), Decimal(3000)), "no2": (Decimal(0), Decimal(2000)),
    "co": (Decimal(0), Decimal(100)), "o3_8h": (Decimal(0), Decimal(1200)),
    "o3_1h": (Decimal(0), Decimal(1500)), "do": (Decimal(0), Decimal(20)),
    "codmn": (Decimal(0), Decimal(100)), "cod": (Decimal(0), Decimal(500)),
    "bod5": (Decimal(0), Decimal(200)), "nh3n": (Decimal(0), Decimal(50)),
    "tp": (Decimal(0), Decimal(10)), "tn": (Decimal(0), Decimal(50)),
}


@dataclass(frozen=True, slots=True)
class Validation:
    bounds: Mapping[str, tuple[Decimal, Decimal]] = field(default_factory=lambda: dict(DEFAULT_BOUNDS))
    show_last_valid: bool = False  # show "最近有效 <date>" and the last valid figures instead of 数据更新中
    last_valid_days: int = 7  # … but only while they are at most this old
    bulletin: str = "daily"  # "daily" (24-h means) or "hourly" (1-h values)


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
    source: str = ""  # the configured source it came from ("" when made by hand, as in tests)

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
    # The page as lines of text, where it is nothing else (every line one font at its own size, no
    # picture): a board that draws text in its own font can draw it itself. None: a picture only.
    lines: tuple[TextLine, ...] | None = None


class TextLine(NamedTuple):
    """One line of a page as text: where it sits, its font and its runs in the colours shown. (A
    named tuple: pages are made by the thousand, and one is made per line drawn.)"""

    y: int
    font: str
    runs: tuple[tuple[str, tuple[int, int, int]], ...]  # (text, RGB as drawn on this board)
    align: str = "center"  # "left", "center", "right"
    x: int = 0  # as in the layout: the left edge, the right margin, or an offset from the centre

    @property
    def text(self) -> str:
        return "".join(t for t, _ in self.runs)


_HASH_PIECE = 2047  # below hashlib's HASHLIB_GIL_MINSIZE (2048)


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
            pixels = memoryview(page.image.tobytes())
            # In pieces under 2 KiB: hashlib gives up the GIL for a longer one, and winning it back
            # from a busy MQTT network thread costs far more than hashing a board's pixels.
            for k in range(0, len(pixels), _HASH_PIECE):
                h.update(pixels[k:k + _HASH_PIECE])
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
    last_valid: bool = False  # the figures are the last valid ones, older than the freshness window
    sample: bool = False  # the figures are synthetic sample data: the board says 示例数据
    missing: tuple[str, ...] = ()  # indicators not measured: an AQI above 100 from the others (§5.3.1)
    source: str = ""  # the source the figures came from
    valid_until: datetime | None = None  # the figures are too old to show from then on (数据更新中)

    @property
    def updating(self) -> bool:
        return self.assessment is None


@dataclass(frozen=True, slots=True)
class WaterBulletin:
    """What is to be said about one water section: its GB 3838 class, or why there is none."""

    station: str
    station_name: str
    day: date | None
    label: str = ""  # "I" … "V", "劣V"; "" when there is no valid assessment
    category: str = ""  # 优, 良好, 轻度污染, 中度污染, 重度污染
    colour: str = ""
    limiting: tuple[str, ...] = ()  # the items that set the class
    missing: tuple[str, ...] = ()  # core items that were not measured
    problem: str = ""
    sample: bool = False
    reference: tuple[tuple[str, str], ...] = ()  # reference items assessed apart: (item, "V") — lake TN
    valid_until: datetime | None = None

    @property
    def updating(self) -> bool:
        return not self.label


@dataclass(frozen=True, slots=True)
class Rejection:
    """A reading (or a source's record) that failed validation: never shown, always explained."""

    station: str  # "" when the record did not even name a usable station
    time: datetime | None  # None when the record's time could not be read
    reason: str
    source: str = ""


@dataclass(frozen=True, slots=True)
class Bulletin:
    """The daily environmental bulletin, independent of any board."""

    issued: datetime
    stations: Mapping[str, StationBulletin]
    rejections: tuple[Rejection, ...] = ()
    water: Mapping[str, WaterBulletin] = field(default_factory=dict)
    # On the first days of a month: the month before as HJ 663 evaluates it, for the district (the
    # layouts' [monthly] pages), and whether its figures come from sample data.
    monthly: AreaReport | None = None
    monthly_sample: bool = False
