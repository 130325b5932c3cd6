"""The controller side of AWTRIX 3 (Ulanzi TC001 and friends) over MQTT (docs/drivers.md, AWTRIX 3).

Written from the firmware (`Blueforcer/awtrix3` at 723e8c7a, `src/`), which wins where the
documents disagree. Pure encoders and decoders first; `AwtrixBoards` and `AwtrixDriver` speak MQTT.

One custom app per page, each on its own topic: page i of a board's program is the app
`ledctl00`, `ledctl01` … (`<PREFIX>/custom/ledctlNN`), carrying one `draw` command, a `db`
(draw bitmap) of the whole frame: `{"db": [0, 0, 32, 8, [c0, c1, ...]]}`, each colour a 24-bit
RGB888 integer `(r << 16) | (g << 8) | b`, row by row. Why so:

* JSON capacity. The device parses a custom-app message into an ArduinoJson 6 pool of 8,192
  bytes (DisplayManager.cpp `parseCustomPage`: `DynamicJsonDocument doc(8192)`); a message that
  does not fit fails with NoMemory and the device creates nothing and says nothing. Every array
  element and object member costs a 16-byte slot on the ESP32, every distinct string its length
  + 1 (`json_pool_bytes` counts it the way ArduinoJson 6.21 does): one 256-pixel page is about
  4.3 KB, so two pages in one array (8.6 KB) never fit. One page per message always does.
* At most 20 custom apps (Apps.cpp `customAppCallbacks[20]`; DisplayManager.cpp `pushCustomApp`
  silently keeps a 21st out of the loop): a program of more pages is refused before sending.
* Names that are not prefixes of each other. An empty payload removes every app whose name
  *starts with* the topic's name (`removeCustomAppFromApps`), so `ledctl1` would also take
  `ledctl10`…; two digits make each delete exact.
* Nothing retained and nothing saved. The device resubscribes to `custom/#` on every reconnect
  (MQTTManager.cpp `onMqttConnected`), so a retained app comes back after any Wi-Fi drop — a
  notice whose `lifetime` ran out included, its lifetime counted again from then — and
  `"save": true` rewrites `/CUSTOMAPPS/<name>.json` on every message (`generateCustomPage`).
  Instead, a device that lost its apps (a restart: its `uptime` went back; its loop or current
  app is not ledctl's) is reported by `check` as showing something else, and the dispatcher
  sends the program again.
* Built-in apps off. Time, Temperature, Humidity and Battery (and Date, if enabled) share the
  loop by default. At the first delivery (and after a restart) the driver hides them at once
  with `/apps` (`updateAppVector`, no reboot needed, not kept over a reboot) and for good with
  `/settings` `TIM`/`DAT`/`TEMP`/`HUM`/`BAT` false (kept in NVS, read at boot by `loadNativeApps`).
* Confirmation by reading back every page: `/switch` `{"name": …, "fast": true}` (no
  transition) then `/sendscreen`, until the `screen` reply is that page; then back to the first
  page, so the loop starts at page 1. A clock or a transition on screen is never mistaken for a
  failure: the driver asks again until its deadline.

A short notice can also go out as a bare JSON object on `<PREFIX>/notify` (`notification`).
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
MQTT_MAX_PACKET_SIZE = 8192  # platformio.ini -DMQTT_MAX_PACKET_SIZE=8192: bigger packets are dropped
JSON_POOL_BYTES = 8192  # DisplayManager.cpp parseCustomPage: DynamicJsonDocument doc(8192)
NOTIFY_POOL_BYTES = 6144  # DisplayManager.cpp generateNotification: DynamicJsonDocument doc(6144)
SLOT_BYTES = 16  # ArduinoJson 6.21 VariantSlot on a 32-bit ESP32 (JSON_ARRAY_SIZE(n) = 16 n)
MAX_APPS = 20  # Apps.cpp customAppCallbacks[20]
TOPIC_ALLOWANCE = 128  # the device builds topics in a 100-byte buffer; + topic length + fixed header
APP_PREFIX = "ledctl"
# Names the driver used before one app per topic: an array on custom/ledctl made ledctl0…, saved
# to flash and retained on the broker. Cleared once per device and process (see AwtrixBoards.greet).
LEGACY_APPS = (APP_PREFIX, *(f"{APP_PREFIX}{i}" for i in range(MAX_APPS)))
BUILT_IN_APPS = ("Time", "Date", "Temperature", "Humidity", "Battery")
BUILT_IN_SETTINGS = {"TIM": False, "DAT": False, "TEMP": False, "HUM": False, "BAT": False}
ONLINE_WINDOW_S = 60.0  # the device publishes stats every 10 s (Globals.cpp STATS_INTERVAL)
PROBE_WAIT_S = 2.0  # health: how long a device not heard from lately has to answer a sendscreen
ASK_AGAIN_S = 1.0  # no screen reply: ask again
RETRY_MISMATCH_S = 0.25  # a screen reply that is not the page yet (the switch not drawn yet): ask again

_HEX_COLOUR = re.compile(r"#[0-9A-Fa-f]{6}")


class AwtrixError(ProtocolError):
    """A page or notice that cannot be encoded for an AWTRIX device."""


def _dumps(obj: Any) -> bytes:
    """Compact, deterministic JSON (sorted keys, no spaces, UTF-8)."""
    return json.dumps(obj, separators=(",", ":"), sort_keys=True, ensure_ascii=False).encode("utf-8")


def json_pool_bytes(value: Any) -> int:
    """The ArduinoJson 6.21 pool (ESP32) that deserializing `value` (as `_dumps` writes it) takes:
    16 bytes per array element and object member, and each distinct string (keys included) once
    with its terminator (MemoryPool: allocRight, saveString with deduplication). Numbers, booleans
    and null cost nothing beyond their slot. Reading the last string needs its length + 1 free on
    top, which `fits_pool` adds."""
    strings: set[str] = set()
    slots = 0

    def walk(v: Any) -> None:
        nonlocal slots
        if isinstance(v, str):
            strings.add(v)
        elif isinstance(v, dict):
            for key, item in v.items():
                strings.add(key)
                slots += 1
                walk(item)
        elif isinstance(v, list | tuple):
            for item in v:
                slots += 1
                walk(item)

    walk(value)
    return slots * SLOT_BYTES + sum(len(s.encode("utf-8")) + 1 for s in strings)


def fits_pool(value: Any, capacity: int = JSON_POOL_BYTES) -> bool:
    """Whether the device can parse `value` into a pool of `capacity` bytes (a safe bound: the
    whole document plus room to read its longest string once more)."""
    longest = max((len(s.encode("utf-8")) + 1 for s in _strings(value)), default=0)
    return json_pool_bytes(value) + longest <= capacity


def _strings(v: Any) -> list[str]:
    if isinstance(v, str):
        return [v]
    if isinstance(v, dict):
        return [*v.keys(), *(s for item in v.values() for s in _strings(item))]
    if isinstance(v, list | tuple):
        return [s for item in v for s in _strings(item)]
    return []


def whole_seconds(value: float) -> int:
    """A dwell as the device counts it: whole seconds (`duration` is read `as<long>()`), rounded
    up so a page is never shown shorter than its layout's reading time."""
    if not math.isfinite(value) or value <= 0:
        raise AwtrixError(f"a dwell must be a positive number of seconds, got {value!r}")
    return max(1, math.ceil(value - 1e-9))


def _pixels(image: Image.Image) -> list[int]:
    if image.size != (WIDTH, HEIGHT):
        raise AwtrixError(f"AWTRIX pages are exactly {WIDTH}x{HEIGHT}, got {image.size[0]}x{image.size[1]}")
    data = image.convert("RGB").tobytes()
    return [(data[i] << 16) | (data[i + 1] << 8) | data[i + 2] for i in range(0, len(data), 3)]


def custom_app(image: Image.Image, *, duration_s: float, lifetime_s: int | None = None) -> bytes:
    """A rendered 32x8 page as the custom-app payload for `<PREFIX>/custom/<app>`.

    One `db` command covers the whole frame (black included, so the app shows exactly the
    page); `duration` in whole seconds (`whole_seconds`); `lifetime` (seconds without an update
    before the device removes the app) only when given. No `save`: the app lives in RAM.
    Raises AwtrixError if the device could not parse it (JSON pool or packet size).
    """
    app: dict[str, Any] = {
        "draw": [{"db": [0, 0, WIDTH, HEIGHT, _pixels(image)]}],
        "duration": whole_seconds(duration_s),
        "noScroll": True,
    }
    if lifetime_s is not None:
        if isinstance(lifetime_s, bool) or not isinstance(lifetime_s, int) or lifetime_s <= 0:
            raise AwtrixError(f"lifetime_s must be a positive whole number of seconds, got {lifetime_s!r}")
        app["lifetime"] = lifetime_s
    payload = _dumps(app)
    if not fits_pool(app):  # cannot happen for 32x8 (about 4.3 KB); kept as a guard
        raise AwtrixError(f"custom app needs {json_pool_bytes(app)} bytes of JSON pool; the device has "
                          f"{JSON_POOL_BYTES}")
    if len(payload) + TOPIC_ALLOWANCE > MQTT_MAX_PACKET_SIZE:
        raise AwtrixError(f"custom app payload is {len(payload)} bytes, over the device's packet limit")
    return payload


def notification(text: str, *, duration_s: int, colour: str = "#FF0000", hold: bool = False) -> bytes:
    """A short notice for `<PREFIX>/notify`: a bare JSON object, nothing around it.

    The device ignores `/notify` payloads that do not start with `{` and end with `}`
    (MQTTManager.cpp processMqttMessage), so this never adds whitespace.
    """
    if not _HEX_COLOUR.fullmatch(colour):
        raise AwtrixError(f"colour must look like #RRGGBB, got {colour!r}")
    if isinstance(duration_s, bool) or not isinstance(duration_s, int) or duration_s <= 0:
        raise AwtrixError(f"duration_s must be a positive whole number of seconds, got {duration_s!r}")
    doc = {"color": colour.upper(), "duration": duration_s, "hold": bool(hold), "text": text}
    payload = _dumps(doc)
    if not fits_pool(doc, NOTIFY_POOL_BYTES) or len(payload) + TOPIC_ALLOWANCE > MQTT_MAX_PACKET_SIZE:
        raise AwtrixError(f"notification is {len(payload)} bytes, more than the device can take")
    return payload


def app_name(index: int) -> str:
    """The custom-app name of page `index`: `ledctl00` … `ledctl19` (no name a prefix of another)."""
    if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < MAX_APPS:
        raise AwtrixError(f"page index must be a whole number 0..{MAX_APPS - 1}, got {index!r}")
    return f"{APP_PREFIX}{index:02d}"


OUR_APPS = frozenset(app_name(i) for i in range(MAX_APPS))


def program_problem(program: Program) -> str | None:
    """Why an AWTRIX cannot show `program` as ledctl's pages, or None."""
    n = len(program.pages)
    if n > MAX_APPS:
        return (f"{n} pages; an AWTRIX holds at most {MAX_APPS} custom apps (firmware: Apps.cpp "
                "customAppCallbacks[20]); shorten the text or use fewer pages")
    for i, page in enumerate(program.pages, 1):
        if page.effect != "static":
            return (f"page {i} ({page.name}) is '{page.effect}'; an AWTRIX shows ledctl's pages as still "
                    "pictures only (no blink or scroll): use a static layout for it")
        if page.image.size != (WIDTH, HEIGHT):
            return f"page {i} ({page.name}) is {page.image.width}x{page.image.height}; an AWTRIX page is 32x8"
    return None


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


def parse_loop(payload: bytes) -> tuple[str, ...]:
    """The device's `<PREFIX>/stats/loop` (`{"Time":0,"ledctl00":1}`) as app names in loop order."""
    try:
        raw = json.loads(payload)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise AwtrixError(f"AWTRIX loop payload is not JSON: {exc}") from exc
    if not isinstance(raw, dict) or not all(
            isinstance(v, int) and not isinstance(v, bool) for v in raw.values()):
        raise AwtrixError("AWTRIX loop payload must be a JSON object of app name -> position")
    return tuple(name for name, _ in sorted(raw.items(), key=lambda kv: kv[1]))


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


def app_payloads(program: Program, *, lifetime_s: int | None = None) -> list[tuple[str, bytes]]:
    """(topic suffix, payload) per page: `custom/ledctl00`, `custom/ledctl01`, … one app each."""
    why = program_problem(program)
    if why:
        raise AwtrixError(why)
    return [(f"custom/{app_name(i)}", custom_app(page.image, duration_s=page.dwell_s, lifetime_s=lifetime_s))
            for i, page in enumerate(program.pages)]


# -- delivery over MQTT -------------------------------------------------------------------------------

@dataclass
class DeviceState:
    """What the driver knows of one device (by topic prefix), updated from what it publishes."""

    heard: float | None = None  # monotonic time of its last message
    will: bool = False  # its will (stats/device = offline) came after its last message
    uptime: int | None = None
    app: str | None = None  # the app on screen, from its last stats
    loop: tuple[str, ...] | None = None  # its app loop, from its last stats/loop
    screen: bytes | None = None  # the last screen read back (RGB bytes)
    screens: int = 0  # how many screens were read back so far
    greeted: bool = False  # built-in apps hidden since it last (re)started
    cleared_legacy: bool = False  # the old driver's apps cleared (once per process)
    apps: int = 0  # how many of ledctl's apps it holds, as far as the driver knows
    confirmed: bool = False  # every page read back since the last delivery
    delivering: bool = False  # between sending the pages and reading them back
    lost: str = ""  # why it no longer shows ledctl's program ("" if nothing says so)

    def online(self, now: float) -> bool:
        return self.heard is not None and not self.will and now - self.heard < ONLINE_WINDOW_S


@dataclass
class AwtrixBoards:
    """AWTRIX 3 devices behind one broker: custom apps out, `sendscreen` back.

    The link routes each device's `screen`, `stats`, `stats/loop` and `stats/device` here (in
    paho's thread); waiting for a read-back is woken by them, never by polling."""

    link: MqttLink
    devices: dict[str, DeviceState] = field(default_factory=dict)  # by prefix
    _changed: threading.Condition = field(default_factory=threading.Condition, init=False, repr=False)

    def state(self, prefix: str) -> DeviceState:
        with self._changed:
            return self.devices.setdefault(prefix, DeviceState())

    def listen(self, prefix: str) -> None:
        with self._changed:
            if prefix in self.devices:
                return
            self.devices[prefix] = DeviceState()
        for leaf in ("screen", "stats", "stats/loop", "stats/device"):
            self.link.on(f"{prefix}/{leaf}", lambda msg, leaf=leaf: self._take(prefix, leaf, msg.payload))

    def _take(self, prefix: str, leaf: str, payload: bytes) -> None:
        with self._changed:
            st = self.devices[prefix]
            if leaf == "stats/device":
                st.will = payload.strip() == b"offline"  # its will; "online" when it connects
                if not st.will:
                    st.heard = time.monotonic()
                self._changed.notify_all()
                return
            st.heard, st.will = time.monotonic(), False
            try:
                if leaf == "screen":
                    st.screen = parse_screen(payload).tobytes()
                    st.screens += 1
                elif leaf == "stats":
                    self._stats(st, parse_stats(payload))
                else:
                    st.loop = parse_loop(payload)
                    self._judge_loop(st)
            except AwtrixError:
                pass  # a malformed message proves nothing
            self._changed.notify_all()

    @staticmethod
    def _lose(st: DeviceState, why: str) -> None:
        """It no longer shows ledctl's program: say so (once), and greet it again at the next delivery
        (built-in and foreign apps hidden)."""
        if st.delivering or st.lost:
            return  # in the middle of a delivery the loop and the app change as they should
        st.lost, st.greeted = why, False

    @classmethod
    def _stats(cls, st: DeviceState, stats: Mapping[str, Any]) -> None:
        uptime = stats.get("uptime")
        if isinstance(uptime, int):
            if st.uptime is not None and uptime < st.uptime:  # it restarted: RAM (the apps) is gone
                st.apps = 0
                cls._lose(st, f"restarted (uptime {uptime} s)")
                st.greeted = False
            st.uptime = uptime
        app = stats.get("app")
        if isinstance(app, str):
            st.app = app
            # Stats that come after the read-back were sent after the device drew ledctl's pages
            # (a device publishes in order); before any delivery in this process, any ledctl page counts.
            ours = _names(st.apps) if st.confirmed else OUR_APPS
            if app not in ours:
                cls._lose(st, f"shows {app!r}, not ledctl's pages" if app else "shows no app (restarted?)")

    @classmethod
    def _judge_loop(cls, st: DeviceState) -> None:
        assert st.loop is not None
        foreign = [a for a in st.loop if a not in OUR_APPS]
        mine = {a for a in st.loop if a in OUR_APPS}
        if foreign or (st.confirmed and mine != _names(st.apps)) or not mine:
            cls._lose(st, f"its app loop is {', '.join(st.loop) or 'empty'}")

    # -- sending -----------------------------------------------------------------------------------

    def greet(self, prefix: str) -> int:
        """Built-in apps off (now through /apps, for good through /settings), and — once per device
        and process — the old driver's apps removed: an empty *retained* message on each of its topics
        clears the broker's copy, and the device deletes the app (by prefix: every `ledctl…` in RAM)
        and its `/CUSTOMAPPS/<name>.json` (by exact name). Returns the bytes sent."""
        st = self.state(prefix)
        hide = [*BUILT_IN_APPS, *(a for a in (st.loop or ()) if a not in OUR_APPS and a not in BUILT_IN_APPS)]
        messages = [(f"{prefix}/settings", _dumps(BUILT_IN_SETTINGS), False),
                    (f"{prefix}/apps", _dumps([{"name": a, "show": False} for a in hide]), False)]
        if not st.cleared_legacy:
            messages += [(f"{prefix}/custom/{name}", b"", True) for name in LEGACY_APPS]
        for topic, payload, retain in messages:
            self.link.publish(topic, payload, retain=retain, wait=False)
        with self._changed:
            st.greeted = True
            if not st.cleared_legacy:
                st.cleared_legacy, st.apps = True, 0  # the prefix `ledctl` took every ledctl app
        return sum(len(p) for _, p, _ in messages)

    def publish(self, prefix: str, payloads: Sequence[bytes]) -> int:
        """The pages as apps ledctl00…, then deletes for the apps of a longer earlier program."""
        st = self.state(prefix)
        with self._changed:
            st.confirmed, st.delivering, st.lost = False, True, ""
        sent = 0 if st.greeted else self.greet(prefix)
        for i, payload in enumerate(payloads):
            self.link.publish(f"{prefix}/custom/{app_name(i)}", payload, retain=False, wait=False)
            sent += len(payload)
        for i in range(len(payloads), st.apps):  # an empty payload on the exact name deletes it
            self.link.publish(f"{prefix}/custom/{app_name(i)}", b"", retain=False, wait=False)
        with self._changed:
            st.apps = len(payloads)
        return sent

    def confirm(self, wanted: Mapping[str, tuple[str, Program]], timeout_s: float,
                on_result: Callable[[str, int, str], None]) -> None:
        """Read every page back: switch each device to page i (fast, no transition), ask for its
        screen, and go on to page i + 1 when the screen is page i. `on_result(board, pages read
        back, why not all)` once per board, as each ends; a device read back entirely is switched
        to its first page, so its loop starts there."""
        pages = {board: [p.image.convert("RGB").tobytes() for p in program.pages]
                 for board, (_, program) in wanted.items()}
        cursor = dict.fromkeys(wanted, 0)
        seen = {board: self.state(prefix).screens for board, (prefix, _) in wanted.items()}
        ask_at = dict.fromkeys(wanted, 0.0)
        other: set[str] = set()  # boards that answered with something else
        done: set[str] = set()
        deadline = time.monotonic() + timeout_s
        while len(done) < len(wanted) and time.monotonic() < deadline:
            now = time.monotonic()
            for board, (prefix, _) in wanted.items():
                if board not in done and ask_at[board] <= now:
                    name = app_name(cursor[board])
                    self.link.publish(f"{prefix}/switch", _dumps({"fast": True, "name": name}), wait=False)
                    self.link.publish(f"{prefix}/sendscreen", b"", wait=False)
                    ask_at[board] = now + ASK_AGAIN_S
            finished = []
            with self._changed:
                wake = min([ask_at[b] for b in wanted if b not in done] + [deadline])
                self._changed.wait(max(0.0, wake - time.monotonic()))
                for board, (prefix, _) in wanted.items():
                    st = self.devices[prefix]
                    if board in done or st.screens == seen[board] or st.screen is None:
                        continue
                    seen[board] = st.screens
                    if st.screen == pages[board][cursor[board]]:
                        cursor[board] += 1
                        ask_at[board] = 0.0
                        if cursor[board] == len(pages[board]):
                            done.add(board)
                            finished.append(board)
                            st.delivering, st.confirmed, st.lost = False, True, ""
                    else:
                        other.add(board)
                        ask_at[board] = min(ask_at[board], time.monotonic() + RETRY_MISMATCH_S)
            for board in finished:
                prefix, program = wanted[board]
                self.link.publish(f"{prefix}/switch", _dumps({"fast": True, "name": app_name(0)}), wait=False)
                on_result(board, len(program.pages), "")
        for board, (prefix, _) in wanted.items():
            if board in done:
                continue
            st = self.state(prefix)
            with self._changed:
                st.delivering = False
            n, k = len(pages[board]), cursor[board]
            if st.online(time.monotonic()):
                shown = "something else" if board in other else "no screen"
                on_result(board, k, f"page {k + 1} of {n} not read back within {timeout_s:g} s "
                                    f"(sendscreen: {shown}; out of custom-app slots?)")
            else:
                on_result(board, k, f"no answer to sendscreen within {timeout_s:g} s (offline?)")

    def probe(self, prefixes: Sequence[str], wait_s: float) -> None:
        """Ask devices not heard from lately for their screen (any device answers), and wait a moment."""
        now = time.monotonic()
        quiet = [p for p in prefixes if not self.state(p).online(now)]
        for prefix in quiet:
            self.link.publish(f"{prefix}/sendscreen", b"", wait=False)
        if not quiet:
            return
        deadline = now + wait_s
        with self._changed:
            while time.monotonic() < deadline and not all(
                    self.devices[p].online(time.monotonic()) for p in quiet):
                self._changed.wait(max(0.0, deadline - time.monotonic()))


def _names(count: int) -> set[str]:
    return {app_name(i) for i in range(min(count, MAX_APPS))}


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
        # Pages: one custom app each, at most 20 (fewer if the device has apps of its own). The device
        # acknowledges nothing; a delivery is confirmed by reading every page back.
        # ledctl's pages go as bitmaps, which the firmware shows still (no blink, no scroll): pages are
        # rendered static for it, and a layout's scrolling notice pages instead.
        return Capabilities(holds_pages=MAX_APPS, effects=frozenset({"static"}),
                            largest_message=MQTT_MAX_PACKET_SIZE, acknowledges=True, reads_back=True)

    @classmethod
    def program_problem(cls, board: Board, program: Program) -> str | None:
        return program_problem(program)

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
            n = len(content.program.pages)
            try:
                payloads = [p for _, p in app_payloads(content.program, lifetime_s=content.lifetime_s)]
            except AwtrixError as e:  # this content cannot go to this board: not worth a retry
                report(Result(board.id, Outcome.REFUSED, str(e), "apps", 0, time.monotonic() - start, (0, n)))
                continue
            try:
                # `lifetime`: the device removes the apps by itself after that long without an update.
                sent[board.id] = self.devices.publish(prefix, payloads)
            except FaultError as e:
                report(Result(board.id, Outcome.LINK, str(e), "apps", 0, time.monotonic() - start, (0, n)))
                continue
            wanted[board.id] = (prefix, content.program)
        if not wanted:
            return
        try:
            self.link.flush()
        except FaultError as e:
            for board_id, (_, program) in wanted.items():
                report(Result(board_id, Outcome.LINK, str(e), "apps", sent[board_id],
                              time.monotonic() - start, (0, len(program.pages))))
            return

        def done(board_id: str, read_back: int, why: str) -> None:
            prefix, program = wanted[board_id]
            n = len(program.pages)
            if read_back == n:
                outcome, detail = Outcome.CONFIRMED, f"screen read back, every page ({n}/{n})"
            else:
                online = self.devices.state(prefix).online(time.monotonic())
                outcome, detail = (Outcome.NACK if online else Outcome.OFFLINE), why
            report(Result(board_id, outcome, detail, "apps", sent[board_id], time.monotonic() - start,
                          (read_back, n)))

        try:
            self.devices.confirm(wanted, self.context.ack_timeout_s, done)
            self.link.flush()
        except FaultError:
            pass  # every board has its result; the switch back to page 1 is not worth failing for

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
        """Online: heard from within a minute (stats come every 10 s), else asked for its screen.
        What it shows: when its stats or loop say it lost ledctl's apps (a restart, another app on
        screen), `shows` is not the confirmed program, so the dispatcher sends it again."""
        prefixes = [self.prefix(b) for b in boards]
        for prefix in prefixes:
            self.devices.listen(prefix)
        self.devices.probe(prefixes, PROBE_WAIT_S)
        now = time.monotonic()
        out = []
        for board, prefix in zip(boards, prefixes, strict=True):
            st = self.devices.state(prefix)
            if not st.online(now):
                why = "its will: offline" if st.will else "no stats and no answer to sendscreen"
                out.append(Health(board.id, False, detail=why))
            elif st.lost:
                out.append(Health(board.id, True, shows=f"lost: {st.lost}", detail=st.lost))
            else:
                out.append(Health(board.id, True))
        return out
