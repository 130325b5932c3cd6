"""The controller side of AWTRIX 3 (Ulanzi TC001 and friends) over MQTT (docs: shared facts, awtrix3.md).

Pure encoders and decoders: this module never talks MQTT. A rendered 32x8 page goes out as
a custom app (`<PREFIX>/custom/<app>`) that carries one `draw` command, a `db` (draw bitmap)
of the whole frame: `{"db": [x, y, w, h, [c0, c1, ...]]}`, where each colour is a 24-bit
RGB888 integer `(r << 16) | (g << 8) | b`, row by row (x fastest). A short notice goes out
as a bare JSON object on `<PREFIX>/notify`.

Packet-size arithmetic. The device's PubSubClient has `MQTT_MAX_PACKET_SIZE=8192`, and that
counts the whole packet (fixed header, topic, payload); anything bigger is dropped
silently. We keep every payload plus a topic allowance under `SAFE_PACKET_BYTES` (7,500):

- topic allowance `TOPIC_ALLOWANCE` = 128 bytes: the device builds topics in a 100-byte
  buffer, so `<PREFIX>/custom/<app>` is kept under 100 bytes; add 2 bytes of topic length
  and at most 5 bytes of fixed header (1 type byte + up to 4 remaining-length bytes) and
  round up;
- payload budget therefore `MAX_PAYLOAD_BYTES` = 7,500 - 128 = 7,372 bytes;
- worst-case full frame: 256 colours of at most 8 digits (16777215) plus a comma each is
  256 * 9 = 2,304 bytes, plus about 100 bytes of keys (`draw`, `db`, geometry,
  `duration`, `lifetime`, `noScroll`, `save`), so about 2.4 KB: a whole frame always fits
  in one app payload, with room to spare.

`custom_app` still returns a list (of one payload) and checks the budget, so that a
caller never sends a payload the device would drop without a word.
"""

from __future__ import annotations

import json
import math
import re
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from PIL import Image

from ledctl.drivers.base import (
    Capabilities,
    Content,
    Driver,
    DriverContext,
    DriverSpec,
    Health,
    Outcome,
    ProtocolError,
    Report,
    Result,
)
from ledctl.drivers.mqtt_link import MqttLink
from ledctl.errors import FaultError
from ledctl.model import Board, ColourMode, Program, Size

if TYPE_CHECKING:
    from ledctl.schedule import Settings

WIDTH = 32
HEIGHT = 8
MQTT_MAX_PACKET_SIZE = 8192
SAFE_PACKET_BYTES = 7500
TOPIC_ALLOWANCE = 128
MAX_PAYLOAD_BYTES = SAFE_PACKET_BYTES - TOPIC_ALLOWANCE
APP_PREFIX = "ledctl"

_HEX_COLOUR = re.compile(r"#[0-9A-Fa-f]{6}")
# Characters that must not appear in an app name: the device forbids spaces, and MQTT
# topic levels must not contain separators or wildcards.
_BAD_NAME = re.compile(r"[\s/+#]")


class AwtrixError(ProtocolError):
    """A page or notice that cannot be encoded for an AWTRIX device."""


def _dumps(obj: Any) -> bytes:
    """Compact, deterministic JSON (sorted keys, no spaces, UTF-8)."""
    return json.dumps(obj, separators=(",", ":"), sort_keys=True, ensure_ascii=False).encode("utf-8")


def _whole_seconds(value: float, what: str) -> int:
    if not math.isfinite(value) or value <= 0:
        raise AwtrixError(f"{what} must be a positive number of seconds, got {value!r}")
    return max(1, round(value))


def _pixels(image: Image.Image) -> list[int]:
    if image.size != (WIDTH, HEIGHT):
        raise AwtrixError(f"AWTRIX pages are exactly {WIDTH}x{HEIGHT}, got {image.size[0]}x{image.size[1]}")
    rgb = image.convert("RGB")
    data = rgb.tobytes()
    return [(data[i] << 16) | (data[i + 1] << 8) | data[i + 2] for i in range(0, len(data), 3)]


def custom_app(
    image: Image.Image, *, duration_s: float, lifetime_s: int | None = None, save: bool = True
) -> list[bytes]:
    """A rendered 32x8 page as custom-app payload(s) for `<PREFIX>/custom/<app>`.

    One `db` command covers the whole frame (black included, so the app shows exactly the
    page). `duration` is whole seconds (at least 1); `lifetime` (seconds without an update
    before the device removes the app) is sent only when given; `save` keeps the app over
    a reboot (mind flash wear if pages change often). Always one payload for 32x8 (see the
    module docstring); raises AwtrixError if a payload would exceed `MAX_PAYLOAD_BYTES`.
    """
    colours = _pixels(image)
    app: dict[str, Any] = {
        "draw": [{"db": [0, 0, WIDTH, HEIGHT, colours]}],
        "duration": _whole_seconds(duration_s, "duration_s"),
        "noScroll": True,
        "save": bool(save),
    }
    if lifetime_s is not None:
        if isinstance(lifetime_s, bool) or not isinstance(lifetime_s, int) or lifetime_s <= 0:
            raise AwtrixError(f"lifetime_s must be a positive whole number of seconds, got {lifetime_s!r}")
        app["lifetime"] = lifetime_s
    payload = _dumps(app)
    if len(payload) > MAX_PAYLOAD_BYTES:  # cannot happen for 32x8; kept as a guard
        raise AwtrixError(f"custom app payload is {len(payload)} bytes, over the {MAX_PAYLOAD_BYTES} budget")
    return [payload]


def notification(text: str, *, duration_s: int, colour: str = "#FF0000", hold: bool = False) -> bytes:
    """A short notice for `<PREFIX>/notify`: a bare JSON object, nothing around it.

    The device ignores `/notify` payloads that do not start with `{` and end with `}`
    (an array, or a trailing newline), so this never adds whitespace.
    """
    if not _HEX_COLOUR.fullmatch(colour):
        raise AwtrixError(f"colour must look like #RRGGBB, got {colour!r}")
    if isinstance(duration_s, bool) or not isinstance(duration_s, int) or duration_s <= 0:
        raise AwtrixError(f"duration_s must be a positive whole number of seconds, got {duration_s!r}")
    payload = _dumps({"color": colour.upper(), "duration": duration_s, "hold": bool(hold), "text": text})
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise AwtrixError(f"notification is {len(payload)} bytes, over the {MAX_PAYLOAD_BYTES} budget")
    return payload


def app_name(board_id: str, index: int) -> str:
    """The custom-app name for page `index` of a board: `ledctl0`, `ledctl1`, ...

    Each AWTRIX has its own topic prefix, so the board is already identified by the topic
    and the name need not repeat it; `board_id` is only checked. The names match what the
    device makes of an array pushed to `/custom/ledctl`, and an empty payload on
    `/custom/ledctl` deletes them all. Beware: deletion matches by prefix, so an empty
    payload on `/custom/ledctl1` also deletes `ledctl10`..`ledctl19`.
    """
    if not board_id or _BAD_NAME.search(board_id):
        raise AwtrixError(f"board id {board_id!r} must be non-empty, without spaces, '/', '+' or '#'")
    if isinstance(index, bool) or not isinstance(index, int) or index < 0:
        raise AwtrixError(f"page index must be a whole number >= 0, got {index!r}")
    return f"{APP_PREFIX}{index}"


_INT_KEYS = ("bat", "bat_raw", "type", "lux", "ldr_raw", "ram", "bri", "hum", "uptime", "wifi_signal",
             "messages")
_FLOAT_KEYS = ("temp",)
_BOOL_KEYS = ("indicator1", "indicator2", "indicator3", "matrix", "up_available")
_STR_KEYS = ("version", "app", "uid", "ip_address")


def _as_number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            return None
        return number if math.isfinite(number) else None
    return None


def _as_bool(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return value != 0
    if isinstance(value, str) and value.strip().lower() in ("true", "1", "on", "false", "0", "off"):
        return value.strip().lower() in ("true", "1", "on")
    return None


def parse_stats(payload: bytes) -> dict[str, Any]:
    """The device's `<PREFIX>/stats` JSON object, leniently typed.

    Known numeric keys are coerced from strings too (older builds sent `"lux":"12"`); a
    known key whose value cannot be read is dropped; unknown keys are kept as they came.
    Raises AwtrixError if the payload is not a JSON object.
    """
    try:
        raw = json.loads(payload)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise AwtrixError(f"AWTRIX stats payload is not JSON: {exc}") from exc
    if not isinstance(raw, dict):
        raise AwtrixError(f"AWTRIX stats payload must be a JSON object, got {type(raw).__name__}")
    stats: dict[str, Any] = {}
    for key, value in raw.items():
        if key in _INT_KEYS:
            number = _as_number(value)
            if number is not None:
                stats[key] = round(number)
        elif key in _FLOAT_KEYS:
            number = _as_number(value)
            if number is not None:
                stats[key] = number
        elif key in _BOOL_KEYS:
            flag = _as_bool(value)
            if flag is not None:
                stats[key] = flag
        elif key in _STR_KEYS:
            if value is not None:
                stats[key] = str(value)
        else:
            stats[key] = value
    return stats


def parse_screen(payload: bytes) -> Image.Image:
    """The `<PREFIX>/screen` reply (256 24-bit colour ints, row by row) as a 32x8 RGB image."""
    try:
        raw = json.loads(payload)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise AwtrixError(f"AWTRIX screen payload is not JSON: {exc}") from exc
    if not isinstance(raw, list):
        raise AwtrixError(f"AWTRIX screen payload must be a JSON array, got {type(raw).__name__}")
    if len(raw) != WIDTH * HEIGHT:
        raise AwtrixError(f"AWTRIX screen payload has {len(raw)} pixels, expected {WIDTH * HEIGHT} (32x8)")
    data = bytearray()
    for i, value in enumerate(raw):
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 0xFFFFFF:
            raise AwtrixError(f"AWTRIX screen pixel {i} is {value!r}, not a 24-bit colour integer")
        data += bytes(((value >> 16) & 0xFF, (value >> 8) & 0xFF, value & 0xFF))
    return Image.frombytes("RGB", (WIDTH, HEIGHT), bytes(data))


# -- delivery over MQTT -------------------------------------------------------------------------------

def app_payloads(program: Program, *, lifetime_s: int | None = None) -> list[tuple[str, bytes]]:
    """(topic suffix, payload) to publish for a program: one array on custom/ledctl when it fits
    the device's packet limit, else one app per page."""
    apps = [custom_app(page.image, duration_s=page.dwell_s, lifetime_s=lifetime_s)[0]
            for page in program.pages]
    combined = b"[" + b",".join(apps) + b"]"
    if len(combined) <= MAX_PAYLOAD_BYTES:
        return [(f"custom/{APP_PREFIX}", combined)]
    return [(f"custom/{APP_PREFIX}{i}", app) for i, app in enumerate(apps)]


@dataclass
class AwtrixBoards:
    """AWTRIX 3 devices behind one broker: custom apps out (retained, saved), `sendscreen` back.

    The link routes each device's `screen` and `stats` here (in paho's thread); waiting for a
    read-back is woken by them, never by polling."""

    link: MqttLink
    online: dict[str, bool] = field(default_factory=dict)  # by prefix
    screens: dict[str, bytes] = field(default_factory=dict)  # by prefix: the last screen read back
    _changed: threading.Condition = field(default_factory=threading.Condition, init=False, repr=False)
    _listening: set[str] = field(default_factory=set, init=False, repr=False)

    @staticmethod
    def topics(prefixes: Sequence[str]) -> list[str]:
        return [t for p in prefixes for t in (f"{p}/screen", f"{p}/stats")]

    def listen(self, prefix: str) -> None:
        if prefix in self._listening:
            return
        self._listening.add(prefix)
        self.link.on(f"{prefix}/screen", lambda msg: self._take(prefix, "screen", msg.payload))
        self.link.on(f"{prefix}/stats", lambda msg: self._take(prefix, "stats", msg.payload))

    def _take(self, prefix: str, leaf: str, payload: bytes) -> None:
        with self._changed:
            if leaf == "stats":
                self.online[prefix] = True
            else:
                try:
                    self.screens[prefix] = parse_screen(payload).tobytes()
                except AwtrixError:
                    return  # a malformed screen proves nothing
            self._changed.notify_all()

    def publish(self, prefix: str, program: Program, *, lifetime_s: int | None = None) -> int:
        sent = 0
        for suffix, payload in app_payloads(program, lifetime_s=lifetime_s):
            self.link.publish(f"{prefix}/{suffix}", payload, retain=True, wait=False)
            sent += len(payload)
        return sent

    def confirm(self, wanted: Mapping[str, tuple[str, Program]], timeout_s: float,
                on_result: Callable[[str, bool, str], None]) -> None:
        """Ask each device for its screen until it shows one of its program's pages."""
        expected = {board: (prefix, {p.image.convert("RGB").tobytes() for p in program.pages})
                    for board, (prefix, program) in wanted.items()}
        done: set[str] = set()
        deadline = time.monotonic() + timeout_s
        with self._changed:
            for _, (prefix, _) in expected.items():
                self.screens.pop(prefix, None)  # only a screen read back from now on counts
        while len(done) < len(expected) and time.monotonic() < deadline:
            for board, (prefix, _) in expected.items():  # ask (again): the device may be mid-rotation
                if board not in done:
                    self.link.publish(f"{prefix}/sendscreen", b"", wait=False)
            asked = time.monotonic()
            with self._changed:
                while time.monotonic() - asked < 1.0 and time.monotonic() < deadline:
                    for board, (prefix, pages) in expected.items():
                        if board not in done and self.screens.get(prefix) in pages:
                            done.add(board)
                            on_result(board, True, "")
                    if len(done) == len(expected):
                        break
                    self._changed.wait(min(1.0 - (time.monotonic() - asked), deadline - time.monotonic()))
        for board, (prefix, _) in expected.items():
            if board not in done:
                why = ("shows something else (sendscreen)" if self.online.get(prefix)
                       else f"no answer to sendscreen within {timeout_s:g} s (offline?)")
                on_result(board, False, why)


class AwtrixDriver(Driver):
    """AWTRIX 3 devices (Ulanzi TC001 and the like), 32x8 full colour, behind one broker."""

    spec = DriverSpec("awtrix3", "mqtt", frozenset({ColourMode.FULL}), needs_address=False,
                      exact_size=Size(32, 8))

    def __init__(self, link: MqttLink, context: DriverContext) -> None:
        self.link = link
        self.context = context
        self.devices = AwtrixBoards(link)

    @classmethod
    def capabilities(cls, board: Board) -> Capabilities:
        return Capabilities(holds_pages=1000, largest_message=MQTT_MAX_PACKET_SIZE, reads_back=True)

    @staticmethod
    def prefix(board: Board) -> str:
        return board.topic or board.id

    def deliver(self, jobs: Sequence[tuple[Board, Content]], report: Report) -> None:
        start = time.monotonic()
        wanted: dict[str, tuple[str, Program]] = {}
        sent: dict[str, int] = {}
        for board, content in jobs:
            prefix = self.prefix(board)
            self.devices.listen(prefix)
            try:
                # The device removes the apps by itself after `lifetime` without an update.
                sent[board.id] = self.devices.publish(prefix, content.program, lifetime_s=content.lifetime_s)
            except FaultError as e:
                report(Result(board.id, Outcome.LINK, str(e), "apps", 0, time.monotonic() - start))
                continue
            wanted[board.id] = (prefix, content.program)
        try:
            self.link.flush()
        except FaultError as e:
            for board_id in wanted:
                report(Result(board_id, Outcome.LINK, str(e), "apps", sent[board_id],
                              time.monotonic() - start))
            return

        def done(board_id: str, ok: bool, why: str) -> None:
            n = len(wanted[board_id][1].pages)
            outcome = Outcome.CONFIRMED if ok else (
                Outcome.NACK if self.devices.online.get(wanted[board_id][0]) else Outcome.OFFLINE)
            report(Result(board_id, outcome, "screen read back" if ok else why, "apps", sent[board_id],
                          time.monotonic() - start, (n if ok else 0, n)))

        self.devices.confirm(wanted, self.context.ack_timeout_s, done)

    def apply(self, jobs: Sequence[tuple[Board, Settings]], report: Report) -> None:
        for board, want in jobs:
            prefix = self.prefix(board)
            try:
                self.link.publish(f"{prefix}/power", _dumps({"power": want.power}), wait=False)
                if want.brightness is not None:
                    bri = max(1, round(want.brightness * 255 / 100))
                    self.link.publish(f"{prefix}/settings", _dumps({"BRI": bri, "ABRI": False}), wait=False)
                self.link.flush()
            except FaultError as e:
                report(Result(board.id, Outcome.LINK, str(e), "settings"))
                continue
            report(Result(board.id, Outcome.SENT, "AWTRIX does not acknowledge settings", "settings"))

    def check(self, boards: Sequence[Board]) -> list[Health]:
        # The device publishes its stats every few seconds: one seen means it is there.
        for board in boards:
            self.devices.listen(self.prefix(board))
        seen = {b.id: bool(self.devices.online.get(self.prefix(b))) for b in boards}
        return [Health(b.id, seen[b.id], detail="" if seen[b.id] else "no stats seen from the device")
                for b in boards]
