"""A networked LED board speaking ledctl-mqtt v1, written from docs/protocols/ledctl-mqtt.md alone.

It shares no code with the controller side (`ledctl.drivers`) and does not use ledctl's renderer
for the effects: a bug on one side must not be cancelled by the same bug on the other.

`BoardLogic` is the protocol state machine without any network, driven by `on_message`, `tick`
(the board's housekeeping: expiry, the watchdog, telemetry), `render` (its render loop: frames,
screen read-backs) and an injected clock, and answering with the messages the board must publish
(`Outgoing`). `MqttBoard` wires it to a broker with paho-mqtt 2 (MQTT 5, or 3.1.1 with the
documented fallbacks).

As strict as the document: messages larger than its `max_message` are dropped (an ESP32's MQTT
buffer), pages come whole or in `parts`, pages larger than `max_page_pixels` are refused, a
program with `valid_from` or `expires` waits for the time on a board without a clock, settings
come from the retained `settings` topic (power and brightness are not commands), a reboot
(a new BoardLogic) keeps nothing, and a renderer that stops (`hang`) stops counting frames and
answering read-backs while the connection lives on — the watchdog then reports `alert`.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import logging
import queue
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import unquote, urlsplit

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode
from PIL import Image

__all__ = ["EFFECTS", "PROTOCOL", "BoardLogic", "MqttBoard", "Outgoing"]

log = logging.getLogger(__name__)

PROTOCOL = 1
EFFECTS = ("static", "blink", "scroll-left", "scroll-up")
COLOURS = ("mono-red", "red-green", "full")
BLINK_PERIOD_S = 1.0  # §3: on half a second, off half a second
MIN_MAX_MESSAGE = 16384  # §4.1: every board takes messages of at least this many bytes
MAX_PAGES = 64  # §4.1
MAX_SIDE = 8192  # §4.1: pixels, either direction
WATCHDOG_S = 5.0  # §9: no frame for this long is an alert
_ID = re.compile(r"^[A-Za-z0-9_-]+$")
_PALETTES: dict[str, frozenset[tuple[int, int, int]]] = {
    "mono-red": frozenset({(0, 0, 0), (255, 0, 0)}),
    "red-green": frozenset({(0, 0, 0), (255, 0, 0), (0, 255, 0), (255, 255, 0)}),
}


@dataclass(frozen=True, slots=True)
class Outgoing:
    """A message the board must publish (QoS 1)."""

    topic: str
    payload: bytes
    retain: bool
    correlation: bytes | None = None

    def json(self) -> Any:
        return json.loads(self.payload)


class ManifestError(ValueError):
    """A manifest the board cannot use; the message is the ack's `error`."""


@dataclass(frozen=True, slots=True)
class _PageSpec:
    index: int
    name: str
    effect: str
    dwell: float
    speed: float
    width: int
    height: int
    sha256: str
    size: int | None = None  # the PNG's length (`bytes`), when the manifest says
    parts: int = 1  # §4: published whole (1) or in this many parts


@dataclass(slots=True)
class _Manifest:
    hash: str
    valid_from: datetime | None
    expires: datetime | None
    colour: str | None
    pages: tuple[_PageSpec, ...]
    response_topic: str | None
    correlation: bytes | None
    reported: set[str] = field(default_factory=set)  # errors already acked while waiting


@dataclass(frozen=True, slots=True)
class _Page:
    spec: _PageSpec
    image: Image.Image
    speed: float  # effective pixels per second of a scroll (0: not moving)
    duration: float  # seconds this page lasts in the loop


@dataclass(slots=True)
class _Program:
    manifest: _Manifest
    pages: tuple[_Page, ...]
    started: datetime | None = None  # when it went on air; the loop counts from here

    @property
    def hash(self) -> str:
        return self.manifest.hash


def _aware(dt: datetime) -> datetime:
    """Naive datetimes are taken as local time, so that they compare with aware ones."""
    return dt if dt.tzinfo is not None else dt.astimezone()


def _expired(manifest: _Manifest, now: datetime) -> bool:
    return manifest.expires is not None and manifest.expires <= now


def _iso(dt: datetime) -> str:
    return _aware(dt).isoformat(timespec="seconds")


def _parse_time(value: object, key: str) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise ManifestError(f"{key}: expected an ISO time or null, got {value!r}")
    try:
        return _aware(datetime.fromisoformat(value))
    except ValueError:
        raise ManifestError(f"{key}: not an ISO time: {value!r}") from None


def _number(value: object, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise ManifestError(f"{what}: expected a number >= 0, got {value!r}")
    return float(value)


def _positive_int(value: object, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ManifestError(f"{what}: expected a positive integer, got {value!r}")
    return value


def _decode_png(raw: bytes) -> Image.Image:
    """The page as an RGB image; ValueError with a clear reason when it is not an 8-bit RGB PNG."""
    if not raw.startswith(b"\x89PNG\r\n\x1a\n"):
        raise ValueError("not a PNG image")
    try:
        with Image.open(io.BytesIO(raw)) as img:
            img.load()
            mode = img.mode
            decoded = img.copy()
    except Exception as exc:  # noqa: BLE001 — Pillow raises many kinds on damaged data
        raise ValueError(f"PNG does not decode ({exc})") from None
    if mode != "RGB":
        raise ValueError(f"PNG mode {mode}, expected 8-bit RGB (colour type 2)")
    return decoded


# One process may play thousands of boards (bench/mqtt_fanout.py): boards sharing a page decode it
# once, and boards showing the same frame encode it once. Both are pure functions of their input
# (the sha256 of the bytes; the frame's pixels), so sharing changes nothing a board does.
_SHARED_SIZE = 256
_shared_lock = threading.Lock()
_DECODED: dict[str, Image.Image | str] = {}  # sha256 of a page's PNG -> the image, or why it is bad
_FRAMES: dict[tuple[tuple[int, int], bytes], str] = {}  # a frame's size and pixels -> base64 PNG


def _decoded(raw: bytes, sha: str) -> Image.Image | str:
    with _shared_lock:
        found = _DECODED.get(sha)
    if found is None:
        try:
            found = _decode_png(raw)
        except ValueError as exc:
            found = str(exc)
        with _shared_lock:
            if len(_DECODED) >= _SHARED_SIZE:
                _DECODED.clear()
            _DECODED[sha] = found
    return found


def _frame_png(frame: Image.Image) -> str:
    """§10: the frame as base64 of an 8-bit RGB PNG."""
    key = (frame.size, frame.tobytes())
    with _shared_lock:
        found = _FRAMES.get(key)
    if found is None:
        buffer = io.BytesIO()
        frame.save(buffer, format="PNG")
        found = base64.b64encode(buffer.getvalue()).decode()
        with _shared_lock:
            if len(_FRAMES) >= _SHARED_SIZE:
                _FRAMES.clear()
            _FRAMES[key] = found
    return found


class BoardLogic:
    """The board's side of ledctl-mqtt v1, without any network.

    Thread-safe: the MQTT thread feeds `on_message` while a ticker calls `tick` and a test or a
    preview calls `snapshot`.
    """

    def __init__(
        self,
        site: str,
        board: str,
        width: int,
        height: int,
        colour: str,
        *,
        clock: Callable[[], datetime],
        firmware: str = "ledctl-sim 1",
        max_message: int = MIN_MAX_MESSAGE,
        max_page_pixels: int | None = None,
        telemetry_interval: float = 60.0,
        has_clock: bool = True,
        watchdog: bool = True,
        monotonic: Callable[[], float] = time.monotonic,
        rssi: int | None = -61,
    ) -> None:
        for what, ident in (("site", site), ("board", board)):
            if not _ID.match(ident):
                raise ValueError(f"{what} id {ident!r}: only letters, digits, '-' and '_'")
        if width <= 0 or height <= 0:
            raise ValueError(f"board size {width}x{height}")
        if colour not in COLOURS:
            raise ValueError(f"colour {colour!r}: one of {', '.join(COLOURS)}")
        self.site = site
        self.board = board
        self.width = width
        self.height = height
        self.colour = colour
        self.firmware = firmware
        self.prefix = f"ledctl/v1/{site}/{board}/"
        self._clock = clock
        self._lock = threading.RLock()
        self._pages: dict[int, bytes] = {}
        self._decoded: dict[str, Image.Image | str] = {}  # by sha256: the image or why it is bad
        self._current: _Program | None = None
        self._held: _Program | None = None  # verified, waiting for valid_from
        self._pending: _Manifest | None = None  # waiting for pages
        self._brightness = 100
        self._power = True
        self._errors: list[str] = []
        if max_message < MIN_MAX_MESSAGE:
            raise ValueError(f"max_message {max_message}: at least {MIN_MAX_MESSAGE} (§4.1)")
        self.max_message = max_message
        self.max_page_pixels = max_page_pixels or 8 * width * height
        self.telemetry_interval = telemetry_interval
        self.has_clock = has_clock
        self.watchdog = watchdog
        self.rssi = rssi
        self._mono = monotonic
        self._booted = monotonic()
        self._parts: dict[tuple[int, int], bytes] = {}  # (page, part) -> bytes, §4
        self._state = "online"  # hello() makes it "init", subscribed() "online" (§8)
        self._alert = ""  # why it is in alert
        self._frames = 0  # frames the render loop drew (§9)
        self._last_frame = monotonic()
        self._hung = False  # the render loop stopped (a fault to inject)
        self._screen_requests: list[str] = []  # ids of `screen` commands, answered by the render loop
        self._last_telemetry: float | None = None
        self._last_error: dict[str, Any] | None = None
        self._time_offset: timedelta | None = None  # without a clock of its own: from the `time` command
        self._waiting_for_time: _Manifest | None = None

    # -- topics -----------------------------------------------------------------------------------

    def topic(self, name: str) -> str:
        return self.prefix + name

    @property
    def subscriptions(self) -> tuple[str, ...]:
        """§1: settings first (a board rebooting at night learns its screen is off before it could
        light it), pages before the manifest (so that the manifest finds them), then commands."""
        return (self.topic("settings"), self.topic("page/#"), self.topic("program"), self.topic("cmd"))

    # -- state ------------------------------------------------------------------------------------

    @property
    def program_hash(self) -> str:
        """The hash of the program on air; "" when there is none (dark, expired, emptied)."""
        with self._lock:
            return self._current.hash if self._current else ""

    @property
    def pending(self) -> dict[str, Any] | None:
        """The manifest waiting for its pages: {"hash", "missing", "mismatched"}, or None."""
        with self._lock:
            m = self._pending
            if m is None:
                return None
            held = {s.index: self._page_bytes(s) for s in m.pages}
            missing = [i for i, raw in held.items() if raw is None]
            mismatched = [i for i, raw in held.items()
                          if raw is not None and hashlib.sha256(raw).hexdigest() != m.pages[i].sha256]
            return {"hash": m.hash, "missing": missing, "mismatched": mismatched}

    @property
    def held(self) -> str:
        """The hash of a verified program waiting for its `valid_from`, or ""."""
        with self._lock:
            return self._held.hash if self._held else ""

    @property
    def brightness(self) -> int:
        with self._lock:
            return self._brightness

    @property
    def power(self) -> bool:
        with self._lock:
            return self._power

    @property
    def errors(self) -> list[str]:
        """Everything that went wrong or looked wrong, oldest first (error acks and warnings)."""
        with self._lock:
            return list(self._errors)

    @property
    def pages(self) -> dict[int, bytes]:
        """The page store (retained `page/<n>` payloads) by index."""
        with self._lock:
            return dict(self._pages)

    @property
    def state(self) -> str:
        """The lifecycle state (§8): init, online or alert."""
        with self._lock:
            return self._state

    @property
    def frames(self) -> int:
        with self._lock:
            return self._frames

    @property
    def clock_source(self) -> str:
        """§9 `clock`: sntp (a clock of its own), controller (the `time` command) or none."""
        with self._lock:
            if self.has_clock:
                return "sntp"
            return "controller" if self._time_offset is not None else "none"

    # -- messages the board publishes ---------------------------------------------------------------

    def _now(self) -> datetime:
        """The time that passes (the loop, the scrolls): the board's own oscillator."""
        return _aware(self._clock())

    def _wall(self) -> datetime | None:
        """What time the board thinks it is (§11), or None when it does not know."""
        if self.has_clock:
            return self._now()
        if self._time_offset is None:
            return None
        return self._now() + self._time_offset

    def _at(self) -> str | None:
        wall = self._wall()
        return _iso(wall) if wall is not None else None

    def _note_error(self, error: str) -> None:
        self._errors.append(error)
        self._last_error = {"error": error, "uptime": int(self._mono() - self._booted), "at": self._at()}

    def _json(self, topic: str, body: dict[str, Any], *, retain: bool,
              correlation: bytes | None = None) -> Outgoing:
        return Outgoing(topic, json.dumps(body, separators=(",", ":")).encode(), retain, correlation)

    def _info(self) -> Outgoing:
        body = {"width": self.width, "height": self.height, "colour": self.colour,
                "firmware": self.firmware, "protocol": PROTOCOL, "max_message": self.max_message,
                "max_page_pixels": self.max_page_pixels}
        return self._json(self.topic("info"), body, retain=True)

    def _status(self, state: str | None = None) -> Outgoing:
        state = state or self._state
        body: dict[str, Any] = {"state": state, "program": self.program_hash, "at": self._at()}
        if state == "alert":
            body["error"] = self._alert
        return self._json(self.topic("status"), body, retain=True)

    def telemetry(self) -> Outgoing:
        """§9: the periodic health report."""
        with self._lock:
            self._last_telemetry = self._mono()
            frame = self._frame_info()
            uptime = int(self._mono() - self._booted)
            body = {"state": self._state, "uptime": uptime, "firmware": self.firmware,
                    "rssi": self.rssi, "heap": 81234, "program": self.program_hash, "page": frame["page"],
                    "frames": self._frames, "power": self._power, "brightness": self._brightness,
                    "clock": self.clock_source, "last_error": self._last_error,
                    "interval": self.telemetry_interval, "at": self._at()}
            return self._json(self.topic("telemetry"), body, retain=False)

    def _ack(self, body: dict[str, Any], response_topic: str | None, correlation: bytes | None) -> Outgoing:
        if response_topic:
            return self._json(response_topic, body, retain=False, correlation=correlation)
        return self._json(self.topic("ack"), body, retain=False)

    def _program_ack(self, manifest_hash: str, error: str | None, response_topic: str | None,
                     correlation: bytes | None) -> Outgoing:
        body: dict[str, Any] = {"hash": manifest_hash, "ok": error is None}
        if error is not None:
            body["error"] = error
            self._note_error(f"program {manifest_hash or '?'}: {error}")
        body["at"] = self._at()
        return self._ack(body, response_topic, correlation)

    def hello(self) -> list[Outgoing]:
        """On connecting: `info` and `status` init, both retained (§1, §8)."""
        with self._lock:
            self._state = "init"
            return [self._info(), self._status("init")]

    def subscribed(self) -> list[Outgoing]:
        """On the SUBACK: `status` online and a telemetry message (§1)."""
        with self._lock:
            self._state = "alert" if self._alert else "online"
            return [self._status(), self.telemetry()]

    def will(self) -> Outgoing:
        """The last will: `status` offline with the hash on air, retained (§7)."""
        with self._lock:
            return self._json(self.topic("status"), {"state": "offline", "program": self.program_hash},
                              retain=True)

    def goodbye(self) -> list[Outgoing]:
        """On a clean disconnect: `status` offline, retained (the will is not sent then)."""
        with self._lock:
            return [self._status("offline")]

    # -- input ------------------------------------------------------------------------------------

    def on_message(self, topic: str, payload: bytes, *, response_topic: str | None = None,
                   correlation: bytes | None = None) -> list[Outgoing]:
        with self._lock:
            if not topic.startswith(self.prefix):
                return []
            name = topic[len(self.prefix):]
            if len(payload) > self.max_message:
                # §4.1: more than its receive buffer holds; the firmware cannot take it whole.
                self._note_error(f"{name}: a message of {len(payload)} bytes, more than max_message "
                                 f"{self.max_message}: dropped")
                if name == "program":
                    return [self._program_ack("", self._errors[-1], response_topic, correlation)]
                return []
            if name == "program":
                return self._on_program(payload, response_topic, correlation)
            if name == "settings":
                return self._on_settings(payload, response_topic, correlation)
            if name == "cmd":
                return self._on_cmd(payload, response_topic, correlation)
            if name.startswith("page/"):
                return self._on_page(name[len("page/"):], payload)
            return []

    def _on_page(self, index_text: str, payload: bytes) -> list[Outgoing]:
        index_part = index_text.split("/")
        if len(index_part) > 2 or not all(t.isdigit() and t.isascii() for t in index_part):
            self._note_error(f"page/{index_text}: not a page index, ignored")
            return []
        index = int(index_part[0])
        if len(index_part) == 2:  # §4: one part of a chunked page
            key = (index, int(index_part[1]))
            if payload:
                self._parts[key] = bytes(payload)
            else:
                self._parts.pop(key, None)
        elif not payload:
            self._pages.pop(index, None)
            return []
        else:
            self._pages[index] = bytes(payload)
        if self._pending is None:
            return []
        return self._try(self._pending)

    def _page_bytes(self, spec: _PageSpec) -> bytes | None:
        """The whole PNG of a page, from `page/<n>` or its parts (§4); None while incomplete."""
        if spec.parts <= 1:
            return self._pages.get(spec.index)
        parts = [self._parts.get((spec.index, k)) for k in range(spec.parts)]
        if any(p is None for p in parts):
            return None
        return b"".join(p for p in parts if p is not None)

    def _on_program(self, payload: bytes, response_topic: str | None,
                    correlation: bytes | None) -> list[Outgoing]:
        if not payload.strip():
            # §3: an empty retained program means "show nothing"; no ack, a status update.
            self._pending = None
            self._held = None
            self._current = None
            return [self._status()]
        try:
            data = json.loads(payload)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            return [self._program_ack("", f"manifest is not JSON ({exc})", response_topic, correlation)]
        if not isinstance(data, dict):
            return [self._program_ack("", "manifest is not a JSON object", response_topic, correlation)]
        raw_hash = data.get("hash")
        manifest_hash = raw_hash if isinstance(raw_hash, str) else ""
        protocol = data.get("protocol")
        if type(protocol) is not int or protocol != PROTOCOL:
            # §3: ignore it (the current program stays), report an error ack.
            error = f"unknown protocol {protocol!r}, this board speaks {PROTOCOL}"
            return [self._program_ack(manifest_hash, error, response_topic, correlation)]
        try:
            manifest = self._parse_manifest(data, response_topic, correlation)
        except ManifestError as exc:
            return [self._program_ack(manifest_hash, str(exc), response_topic, correlation)]
        # The newest manifest wins: whatever waited for pages, the time or its start is superseded.
        self._pending = None
        self._held = None
        self._waiting_for_time = None
        return self._timed(manifest)

    def _timed(self, manifest: _Manifest) -> list[Outgoing]:
        """§11: a program with valid_from or expires needs the time; without it, it waits."""
        now = self._wall()
        timed = manifest.expires is not None or manifest.valid_from is not None
        if now is None and timed:
            self._waiting_for_time = manifest
            return [self._program_ack(manifest.hash, "no clock: waiting for the time",
                                      manifest.response_topic, manifest.correlation)]
        if now is not None and manifest.expires is not None and manifest.expires <= now:
            out = [self._program_ack(manifest.hash, f"expired at {_iso(manifest.expires)}",
                                     manifest.response_topic, manifest.correlation)]
            if self._current is not None:
                self._current = None
                out.append(self._status())
            return out
        return self._try(manifest)

    def _parse_manifest(self, data: dict[str, Any], response_topic: str | None,
                        correlation: bytes | None) -> _Manifest:
        manifest_hash = data.get("hash")
        if not isinstance(manifest_hash, str) or not manifest_hash:
            raise ManifestError("hash: missing")
        board = data.get("board")
        if board is not None and board != self.board:
            raise ManifestError(f"board {board!r}: this is {self.board!r}")
        size = data.get("size")
        if size is not None and size != [self.width, self.height]:
            raise ManifestError(f"size {size!r}: this board is [{self.width}, {self.height}]")
        colour = data.get("colour")
        if colour is not None and colour != self.colour:
            self._errors.append(f"program {manifest_hash}: colour {colour!r} on a {self.colour} board")
        valid_from = _parse_time(data.get("valid_from"), "valid_from")
        expires = _parse_time(data.get("expires"), "expires")
        raw_pages = data.get("pages")
        if not isinstance(raw_pages, list):
            raise ManifestError("pages: expected a list")
        if len(raw_pages) > MAX_PAGES:
            raise ManifestError(f"pages: {len(raw_pages)}, at most {MAX_PAGES} (§4.1)")
        specs: list[_PageSpec] = []
        for position, raw in enumerate(raw_pages):
            if not isinstance(raw, dict):
                raise ManifestError(f"pages[{position}]: expected an object")
            index = raw.get("index", position)
            if index != position or isinstance(index, bool):
                raise ManifestError(f"pages[{position}]: index {index!r}, expected {position}")
            what = f"page {position}"
            effect = raw.get("effect")
            if effect not in EFFECTS:
                raise ManifestError(f"{what}: unknown effect {effect!r}")
            sha = raw.get("sha256")
            if not isinstance(sha, str) or not re.fullmatch(r"[0-9a-fA-F]{64}", sha):
                raise ManifestError(f"{what}: sha256 {sha!r} is not a SHA-256 hex digest")
            name = raw.get("name", "")
            width = _positive_int(raw.get("width"), f"{what}: width")
            height = _positive_int(raw.get("height"), f"{what}: height")
            if max(width, height) > MAX_SIDE or width * height > self.max_page_pixels:
                # §4.1: more than the board can hold decoded.
                raise ManifestError(f"{what}: {width}x{height} is more than this board holds "
                                    f"(max_page_pixels {self.max_page_pixels}, at most {MAX_SIDE} a side)")
            size = raw.get("bytes")
            if size is not None:
                size = _positive_int(size, f"{what}: bytes")
            parts = _positive_int(raw.get("parts", 1), f"{what}: parts")
            specs.append(_PageSpec(
                index=position,
                name=name if isinstance(name, str) else str(name),
                effect=effect,
                dwell=_number(raw.get("dwell", 0), f"{what}: dwell"),
                speed=_number(raw.get("speed", 0), f"{what}: speed"),
                width=width,
                height=height,
                sha256=sha.lower(),
                size=size,
                parts=parts,
            ))
        return _Manifest(manifest_hash, valid_from, expires, colour if isinstance(colour, str) else None,
                         tuple(specs), response_topic, correlation)

    def _image(self, raw: bytes, sha: str) -> Image.Image | str:
        cached = self._decoded.get(sha)
        if cached is None:
            cached = _decoded(raw, sha)
            if len(self._decoded) > 64:
                self._decoded.clear()
            self._decoded[sha] = cached
        return cached

    def _try(self, manifest: _Manifest) -> list[Outgoing]:
        """Switch to `manifest` if every page is held and good; else wait for pages, or reject it."""
        images: list[Image.Image] = []
        waiting: list[str] = []
        for spec in manifest.pages:
            raw = self._page_bytes(spec)
            if raw is None:
                continue  # not here yet (or not every part): wait quietly
            sha = hashlib.sha256(raw).hexdigest()
            if spec.size is not None and len(raw) != spec.size:
                waiting.append(f"page {spec.index}: {len(raw)} bytes, the manifest says {spec.size}")
                continue
            if sha != spec.sha256:
                waiting.append(f"page {spec.index}: sha256 mismatch")
                continue
            image = self._image(raw, sha)
            if isinstance(image, str):
                return self._reject(manifest, f"page {spec.index}: {image}")
            if image.size != (spec.width, spec.height):
                return self._reject(manifest, f"page {spec.index}: size {image.width}x{image.height}, "
                                              f"manifest says {spec.width}x{spec.height}")
            images.append(image)
        if waiting or len(images) < len(manifest.pages):
            self._pending = manifest
            error = "; ".join(waiting)
            if error and error not in manifest.reported:
                manifest.reported.add(error)
                return [self._program_ack(manifest.hash, error, manifest.response_topic,
                                          manifest.correlation)]
            return []
        self._pending = None
        program = _Program(manifest, tuple(self._page(spec, image) for spec, image in zip(
            manifest.pages, images, strict=True)))
        self._check_colours(program)
        wall = self._wall()
        if manifest.valid_from is not None and wall is not None and manifest.valid_from > wall:
            self._held = program
            return []
        return self._switch(program)

    def _reject(self, manifest: _Manifest, error: str) -> list[Outgoing]:
        if self._pending is manifest:
            self._pending = None
        return [self._program_ack(manifest.hash, error, manifest.response_topic, manifest.correlation)]

    def _page(self, spec: _PageSpec, image: Image.Image) -> _Page:
        if spec.effect in ("static", "blink"):
            return _Page(spec, image, 0.0, spec.dwell)
        horizontal = spec.effect == "scroll-left"
        travel = image.width + self.width if horizontal else image.height + self.height
        if (image.width if horizontal else image.height) < (self.width if horizontal else self.height):
            self._errors.append(f"page {spec.index}: a {spec.effect} image smaller than the board")
        speed = spec.speed
        if speed <= 0:
            speed = travel / spec.dwell if spec.dwell > 0 else 0.0
            self._errors.append(f"page {spec.index}: {spec.effect} without a speed")
        return _Page(spec, image, speed, travel / speed if speed > 0 else spec.dwell)

    def _check_colours(self, program: _Program) -> None:
        """Warn (never refuse, never remap) about pixels the board's colour mode cannot show."""
        palette = _PALETTES.get(self.colour)
        if palette is None:
            return
        for page in program.pages:
            colours = page.image.getcolors(len(palette))
            extra = sorted({c for _, c in colours} - palette) if colours is not None else None
            if extra is None or extra:
                example = f" e.g. {extra[0]}" if extra else ""
                self._errors.append(f"program {program.hash}: page {page.spec.index} has colours a "
                                    f"{self.colour} board cannot show{example}")

    def _switch(self, program: _Program) -> list[Outgoing]:
        m = program.manifest
        same = self._current is not None and self._current.hash == program.hash
        program.started = self._current.started if same and self._current else self._now()
        self._current = program
        return [self._program_ack(m.hash, None, m.response_topic, m.correlation), self._status()]

    def _on_cmd(self, payload: bytes, response_topic: str | None,
                correlation: bytes | None) -> list[Outgoing]:
        try:
            data = json.loads(payload)
        except (UnicodeDecodeError, json.JSONDecodeError):
            data = None
        if not isinstance(data, dict):
            return [self._cmd_ack(None, "command is not a JSON object", response_topic, correlation)]
        cmd_id = data.get("id")
        if not isinstance(cmd_id, str) or not cmd_id:
            return [self._cmd_ack(cmd_id, "command without an id", response_topic, correlation)]
        if "brightness" in data or "power" in data:
            # §6, §7: power and brightness are settings, retained so that they survive a reboot.
            return [self._cmd_ack(cmd_id, "power and brightness go in the retained settings topic",
                                  response_topic, correlation)]
        known = [key for key in ("reannounce", "screen", "time") if key in data]
        if not known:
            return [self._cmd_ack(cmd_id, "no known command (reannounce, screen, time)",
                                  response_topic, correlation)]
        for key in ("reannounce", "screen"):
            if key in data and data[key] is not True:
                return [self._cmd_ack(cmd_id, f"{key} {data[key]!r}: true", response_topic, correlation)]
        when = None
        if "time" in data:
            told = data["time"]
            try:
                when = _aware(datetime.fromisoformat(told)) if isinstance(told, str) else None
            except ValueError:
                when = None
            if when is None:
                error = f"time {told!r}: an ISO 8601 time"
                return [self._cmd_ack(cmd_id, error, response_topic, correlation)]
        # Every command but `screen` is acked by its id; `screen` is answered by the screen itself.
        out = [] if known == ["screen"] else [self._cmd_ack(cmd_id, None, response_topic, correlation)]
        if when is not None:
            if not self.has_clock:  # §11: SNTP wins; else the controller's time is the clock
                self._time_offset = when - self._now()
            if self._waiting_for_time is not None:
                waiting, self._waiting_for_time = self._waiting_for_time, None
                out += self._timed(waiting)
        if data.get("reannounce") is True:
            out += [self._info(), self._status(), self.telemetry()]
        if data.get("screen") is True:
            # §10: answered by the render loop after its next frame (a stuck renderer never answers).
            self._screen_requests.append(cmd_id)
        return out

    def _cmd_ack(self, cmd_id: object, error: str | None, response_topic: str | None,
                 correlation: bytes | None) -> Outgoing:
        body: dict[str, Any] = {"cmd": cmd_id, "ok": error is None}
        if error is not None:
            body["error"] = error
            self._note_error(f"cmd {cmd_id!r}: {error}")
        return self._ack(body, response_topic, correlation)

    def _on_settings(self, payload: bytes, response_topic: str | None,
                     correlation: bytes | None) -> list[Outgoing]:
        """§6: power and brightness, retained: applied at once and after every reconnect."""
        if not payload.strip():  # deleted: as a board never configured
            self._power, self._brightness = True, 100
            return []
        try:
            data = json.loads(payload)
        except (UnicodeDecodeError, json.JSONDecodeError):
            data = None
        if not isinstance(data, dict):
            return [self._cmd_ack(None, "settings are not a JSON object", response_topic, correlation)]
        set_id = data.get("id")
        brightness = data.get("brightness", self._brightness)
        if isinstance(brightness, bool) or not isinstance(brightness, int | float) \
                or not 0 <= brightness <= 100:
            return [self._cmd_ack(set_id, f"brightness {brightness!r}: a percentage 0..100",
                                  response_topic, correlation)]
        power = data.get("power", self._power)
        if not isinstance(power, bool):
            return [self._cmd_ack(set_id, f"power {power!r}: true or false", response_topic, correlation)]
        self._brightness, self._power = round(brightness), power
        return [self._cmd_ack(set_id, None, response_topic, correlation)]

    # -- time -------------------------------------------------------------------------------------

    def tick(self) -> list[Outgoing]:
        """The board's housekeeping (not the render loop): start a held program whose `valid_from`
        came, drop an expired one (even offline), the watchdog (§9) and the telemetry when due."""
        with self._lock:
            now = self._wall()
            out: list[Outgoing] = []
            if now is not None:
                out += self._expiry(now)
            if self.watchdog and self._state == "online" and self._mono() - self._last_frame > WATCHDOG_S:
                self._alert = f"renderer: no frame for {self._mono() - self._last_frame:.0f} s"
                self._note_error(self._alert)
                self._state = "alert"
                out += [self._status(), self.telemetry()]
            elif (self._state != "init" and self._last_telemetry is not None
                  and self._mono() - self._last_telemetry >= self.telemetry_interval):
                out.append(self.telemetry())
            return out

    def _expiry(self, now: datetime) -> list[Outgoing]:
        out: list[Outgoing] = []
        if self._pending is not None and _expired(self._pending, now):
            self._note_error(f"program {self._pending.hash}: expired while waiting for pages")
            self._pending = None
        held = self._held
        if held is not None:
            if _expired(held.manifest, now):
                self._note_error(f"program {held.hash}: expired before its valid_from")
                self._held = None
            elif held.manifest.valid_from is None or held.manifest.valid_from <= now:
                self._held = None
                out += self._switch(held)
        current = self._current
        if current is not None and _expired(current.manifest, now):
            self._current = None
            out.append(self._status())
        return out

    # -- the render loop ----------------------------------------------------------------------------

    def render(self) -> list[Outgoing]:
        """One pass of the render loop: draw a frame (count it), answer the `screen` requests (§10),
        and leave a watchdog alert once frames come again. A hung renderer does nothing."""
        with self._lock:
            if self._hung:
                return []
            self._frames += 1
            self._last_frame = self._mono()
            out = [self._screen_answer(cmd_id) for cmd_id in self._screen_requests]
            self._screen_requests = []
            if self._state == "alert" and self._alert.startswith("renderer:"):
                self._alert, self._state = "", "online"
                out += [self._status(), self.telemetry()]
            return out

    def hang(self, hung: bool = True) -> None:
        """A fault: the render loop stops (a deadlock, a crashed task) while MQTT carries on."""
        with self._lock:
            self._hung = hung

    def _screen_answer(self, cmd_id: str) -> Outgoing:
        frame = self._frame_info()
        body = {"id": cmd_id, "program": self.program_hash, "page": frame["page"], "origin": frame["origin"],
                "lit": frame["lit"], "power": self._power, "brightness": self._brightness,
                "frames": self._frames, "at": self._at(), "png": _frame_png(frame["image"])}
        return self._json(self.topic("screen"), body, retain=False)

    # -- display ----------------------------------------------------------------------------------

    def snapshot(self) -> Image.Image:
        """What the board shows now (RGB, board size; brightness is not applied to pixels)."""
        with self._lock:
            return self._frame_info()["image"]

    def _frame_info(self) -> dict[str, Any]:
        """The frame on air: its image, the page drawn, where the page's corner is, lit or not."""
        frame = Image.new("RGB", (self.width, self.height))
        info: dict[str, Any] = {"image": frame, "page": None, "origin": [0, 0], "lit": False}
        program = self._current
        if program is None or not program.pages:
            return info
        wall = self._wall()
        if wall is not None and _expired(program.manifest, wall):
            return info
        now = self._now()
        started = program.started or now
        elapsed = (now - started).total_seconds()
        total = sum(page.duration for page in program.pages)
        page, t = program.pages[0], 0.0
        if total > 0:
            t = elapsed % total
            for candidate in program.pages:
                if t < candidate.duration:
                    page = candidate
                    break
                t -= candidate.duration
            else:  # float rounding at the very end of the loop
                page, t = program.pages[-1], program.pages[-1].duration
        info["page"] = page.spec.index
        origin, lit = self._place(page, t)
        info["origin"], info["lit"] = list(origin), lit
        if self._power and lit:
            frame.paste(page.image, origin)
        return info

    def _place(self, page: _Page, t: float) -> tuple[tuple[int, int], bool]:
        effect = page.spec.effect
        if effect == "static":
            return (0, 0), True
        if effect == "blink":
            return (0, 0), t % BLINK_PERIOD_S < BLINK_PERIOD_S / 2
        offset = int(page.speed * t + 1e-9)
        if effect == "scroll-left":
            return (self.width - offset, 0), True
        return (0, self.height - offset), True


class MqttBoard:
    """`BoardLogic` on a broker, with paho-mqtt 2.

    paho callbacks only feed the logic and queue what it answers; a worker thread publishes the
    queue and, every `tick_s`, runs the render loop (`logic.render()`) and the housekeeping
    (`logic.tick()`: expiry works while disconnected, too). Every connect is a clean session with a
    30 s keepalive (§1).
    """

    def __init__(self, logic: BoardLogic, url: str, *, username: str | None = None,
                 password: str | None = None, protocol: str = "5", keepalive: int = 30,
                 tick_s: float = 0.25) -> None:
        if protocol not in ("5", "3.1.1", "311"):
            raise ValueError(f"protocol {protocol!r}: '5' or '3.1.1'")
        parts = urlsplit(url if "://" in url else f"mqtt://{url}")
        if parts.scheme not in ("mqtt", "tcp", "mqtts", "ssl"):
            raise ValueError(f"broker url {url!r}: mqtt://host[:port] or mqtts://host[:port]")
        self.logic = logic
        self.tls = parts.scheme in ("mqtts", "ssl")
        self.host = parts.hostname or "localhost"
        self.port = parts.port or (8883 if self.tls else 1883)
        self.v5 = protocol == "5"
        self.keepalive = keepalive
        self.tick_s = tick_s
        username = username or (unquote(parts.username) if parts.username else None)
        password = password or (unquote(parts.password) if parts.password else None)
        if password is not None and username is None:
            username = logic.board  # §1: the username is the board id
        # §1: a clean session every time (3.1.1: Clean Session here; MQTT 5: Clean Start in connect()).
        self._client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=logic.board,
                                   protocol=mqtt.MQTTv5 if self.v5 else mqtt.MQTTv311,
                                   **({} if self.v5 else {"clean_session": True}))
        if username is not None:
            self._client.username_pw_set(username, password)
        if self.tls:
            self._client.tls_set()
        self._client.on_connect = self._on_connect
        self._client.on_disconnect = self._on_disconnect
        self._client.on_subscribe = self._on_subscribe
        self._client.on_message = self._on_message
        self._queue: queue.Queue[Outgoing | None] = queue.Queue()
        self._stopping = threading.Event()
        self._ready = threading.Event()
        self._connected = threading.Event()
        self._worker: threading.Thread | None = None
        self._will_hash: str | None = None
        self._started = False
        self.connect_errors: list[str] = []

    # -- lifecycle --------------------------------------------------------------------------------

    def start(self) -> None:
        """Connect with the last will, start the network loop and the ticker."""
        if self._started:
            raise RuntimeError("already started")
        self._started = True
        self._set_will()
        self._client.connect(self.host, self.port, keepalive=self.keepalive,
                             **({"clean_start": True} if self.v5 else {}))
        self._stopping.clear()
        self._worker = threading.Thread(target=self._work, name=f"ledctl-sim-{self.logic.board}",
                                        daemon=True)
        self._worker.start()
        self._client.loop_start()

    def wait_ready(self, timeout: float = 10.0) -> bool:
        """True once connected and subscribed (retained program and pages are on their way)."""
        return self._ready.wait(timeout)

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    def stop(self, clean: bool = True, timeout: float = 5.0) -> None:
        """Clean: publish the offline status and DISCONNECT. Unclean: die so the broker sends the will."""
        if not self._started:
            return
        self._started = False
        self._stopping.set()
        self._queue.put(None)
        if self._worker is not None:
            self._worker.join(timeout)
            self._worker = None
        if clean:
            self._flush()
            infos = [self._publish(o) for o in self.logic.goodbye()]
            for info in infos:
                if info is not None:
                    try:
                        info.wait_for_publish(timeout)
                    except (ValueError, RuntimeError) as exc:
                        log.warning("%s: offline status not published: %s", self.logic.board, exc)
            self._client.disconnect()
            self._client.loop_stop()
        elif self.v5:
            # MQTT 5 lets a client end its session as if it had crashed: reason code 4.
            crash = ReasonCode(PacketTypes.DISCONNECT, "Disconnect with will message")
            self._client.disconnect(reasoncode=crash)
            self._client.loop_stop()
        else:
            # MQTT 3.1.1 has no such DISCONNECT: stop the loop and drop the TCP connection without one.
            self._client.loop_stop()
            sock = self._client.socket()
            if sock is not None:
                try:
                    sock.close()
                except OSError as exc:
                    log.debug("closing the socket: %s", exc)
        self._connected.clear()
        self._ready.clear()

    # -- paho callbacks: no publishing, no blocking ---------------------------------------------------

    def _on_connect(self, client: mqtt.Client, userdata: Any, flags: Any, reason_code: ReasonCode,
                    properties: Properties | None) -> None:
        if reason_code.is_failure:
            self.connect_errors.append(str(reason_code))
            return
        self._connected.set()
        for item in self.logic.hello():
            self._queue.put(item)
        client.subscribe([(topic, 1) for topic in self.logic.subscriptions])

    def _on_subscribe(self, client: mqtt.Client, userdata: Any, mid: int, reason_codes: list[ReasonCode],
                      properties: Properties | None) -> None:
        failures = [str(rc) for rc in reason_codes if rc.is_failure]
        if failures:
            self.connect_errors.append(f"subscribe refused: {', '.join(failures)}")
        for item in self.logic.subscribed():  # §1: online once subscribed, and a telemetry
            self._queue.put(item)
        self._ready.set()

    def _on_disconnect(self, client: mqtt.Client, userdata: Any, flags: Any, reason_code: ReasonCode,
                       properties: Properties | None) -> None:
        self._connected.clear()
        self._ready.clear()

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        props = getattr(message, "properties", None)
        response_topic = getattr(props, "ResponseTopic", None) if props is not None else None
        correlation = getattr(props, "CorrelationData", None) if props is not None else None
        try:
            out = self.logic.on_message(message.topic, message.payload, response_topic=response_topic or None,
                                        correlation=bytes(correlation) if correlation is not None else None)
        except Exception:  # a bug in the emulator must not kill paho's thread
            log.exception("%s: handling %s", self.logic.board, message.topic)
            return
        for item in out:
            self._queue.put(item)

    # -- worker -----------------------------------------------------------------------------------

    def _work(self) -> None:
        next_tick = time.monotonic() + self.tick_s
        while not self._stopping.is_set():
            try:
                item = self._queue.get(timeout=max(0.0, next_tick - time.monotonic()))
            except queue.Empty:
                item = None
            if self._stopping.is_set():
                if item is not None:
                    self._queue.put(item)  # leave it for stop() to flush (clean) or drop (crash)
                break
            if item is not None:
                self._publish(item)
            if time.monotonic() >= next_tick:
                next_tick = time.monotonic() + self.tick_s
                try:
                    out = self.logic.render() + self.logic.tick()
                except Exception:
                    log.exception("%s: tick", self.logic.board)
                    out = []
                for tick_item in out:
                    self._publish(tick_item)
            if self.logic.program_hash != self._will_hash:
                self._set_will()

    def _flush(self) -> None:
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return
            if item is not None:
                self._publish(item)

    def _publish(self, item: Outgoing) -> mqtt.MQTTMessageInfo | None:
        properties = None
        if self.v5 and item.correlation is not None:
            properties = Properties(PacketTypes.PUBLISH)
            properties.CorrelationData = item.correlation
        try:
            return self._client.publish(item.topic, item.payload, qos=1, retain=item.retain,
                                        properties=properties)
        except (ValueError, RuntimeError) as exc:
            log.warning("%s: publish to %s failed: %s", self.logic.board, item.topic, exc)
            return None

    def _set_will(self) -> None:
        """Store the will with the hash on air for the next (re)connect.

        The broker keeps the will it got in CONNECT: after a switch, a crash still reports the hash
        that was on air when the board connected (MQTT has no way to update a will in a session).
        """
        will = self.logic.will()
        self._will_hash = will.json()["program"]
        self._client.will_set(will.topic, will.payload, qos=1, retain=will.retain)
