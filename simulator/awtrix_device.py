"""An AWTRIX 3 device as a state machine, written from its firmware, not from ledctl's driver.

Every rule cites the firmware it comes from: `Blueforcer/awtrix3` at 723e8c7a (2026-06-22),
files under `src/` (MQTTManager.cpp, DisplayManager.cpp, Apps.cpp, MatrixDisplayUi.cpp,
Globals.cpp, main.cpp) and `platformio.ini`; the JSON memory rules are ArduinoJson 6.21.5
(`bblanchon/ArduinoJson`, the newest release that `bblanchon/ArduinoJson@^6.20.0` resolves to).

No MQTT here: feed it `on_message(topic, payload)` and publish what it returns, each as
`(topic, payload, retain)`. Time comes only from the injected clock, so the app loop,
transitions, notifications and `lifetime` all follow that clock.

What it keeps where, as the device does:
* RAM (lost by `power_cycle()`): the app loop (`Apps`), the custom apps (`customApps`), the
  notifications, the matrix on/off state.
* NVS (`nvs`, kept): the settings `saveSettings()` writes, among them `TIM`/`DAT`/`TEMP`/`HUM`/
  `BAT` (which built-in apps `loadNativeApps()` puts in the loop at boot), `ATIME`, `TSPEED`,
  `ATRANS`, `BRI`.
* Flash (`files`, kept): `/CUSTOMAPPS/<name>.json` written by every message with `"save":true`,
  loaded again at boot.

Not modelled: text, icons, bars and effects (stored, not drawn), sound, the game and Art-Net modes,
the ~1 frame lag between a `/switch` and what `/sendscreen` reads, the exact pixels of the
built-in apps and of the transitions (drawn here so they can never be mistaken for a page).
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from types import MappingProxyType
from typing import Any

from PIL import Image, ImageDraw

WIDTH = 32
HEIGHT = 8
VERSION = "sim-0.98"

# -- limits, each from the firmware ---------------------------------------------------------------
# platformio.ini, both environments: -DMQTT_MAX_PACKET_SIZE=8192. PubSubClient drops a bigger
# packet (topic and header included) without a word.
MQTT_MAX_PACKET_SIZE = 8192
# The ArduinoJson pool each handler parses into (a parse that does not fit fails with NoMemory):
CUSTOM_APP_POOL = 8192  # DisplayManager.cpp parseCustomPage: DynamicJsonDocument doc(8192)
NOTIFY_POOL = 6144  # DisplayManager.cpp generateNotification: DynamicJsonDocument doc(6144)
SETTINGS_POOL = 2048  # DisplayManager.cpp setNewSettings: DynamicJsonDocument doc(2048)
APPS_POOL = 2048  # DisplayManager.cpp updateAppVector: DynamicJsonDocument doc(2048)
SWITCH_POOL = 512  # DisplayManager.cpp switchToApp: DynamicJsonDocument doc(512)
POWER_POOL = 128  # MQTTManager.cpp processMqttMessage /power: StaticJsonDocument<128>
# Apps.cpp: `void (*customAppCallbacks[20])(...) = {CApp1 ... CApp20}`; DisplayManager.cpp
# pushCustomApp looks for a free one and gives up ("Maximum number of custom apps reached").
MAX_CUSTOM_APPS = 20
# ArduinoJson 6.21 on the ESP32 (32-bit): every array element and object member is one
# VariantSlot of 16 bytes (8-byte VariantContent — a double or a long long —, 1-byte flags,
# 2-byte next offset (ARDUINOJSON_SLOT_OFFSET_SIZE 2 on 32-bit), 4-byte key pointer: 15, padded
# to the 8-byte alignment of the content). Strings are copied (the input is `const char*`), with
# their terminator, once each (ARDUINOJSON_ENABLE_STRING_DEDUPLICATION 1); while a string is read
# it needs its length + 1 free (StringCopier::append). Numbers, booleans and null live in the slot.
SLOT_BYTES = 16
NESTING_LIMIT = 10  # ARDUINOJSON_DEFAULT_NESTING_LIMIT
MIN_STEP_S = 0.02  # the loop moves in frames (MatrixDisplayUi ticks): no app or transition is shorter

# Globals.cpp loadSettings: the defaults of a new device.
DEFAULT_NVS: dict[str, Any] = {
    "ATIME": 7,  # TIME_PER_APP = Settings.getUInt("ATIME", 7000) ms; seconds here
    "TSPEED": 400,  # TIME_PER_TRANSITION = Settings.getUInt("TSPEED", 400) ms
    "ATRANS": True,  # AUTO_TRANSITION = Settings.getBool("ATRANS", true)
    "BRI": 120,
    "TIM": True,  # SHOW_TIME = Settings.getBool("TIM", true)
    "DAT": False,  # SHOW_DATE = Settings.getBool("DAT", false)
    "TEMP": True,  # SHOW_TEMP = Settings.getBool("TEMP", true)
    "HUM": True,  # SHOW_HUM = Settings.getBool("HUM", true)
    "BAT": True,  # SHOW_BAT = Settings.getBool("BAT", true)
}
# Globals.cpp saveSettings: what a /settings or /apps message writes to NVS (among others).
_SAVED = ("ATIME", "TSPEED", "ATRANS", "BRI", "ABRI", "TIM", "DAT", "TEMP", "HUM", "BAT", "TEFF", "SSPEED",
          "TCOL", "TMODE", "UPPERCASE", "WD", "SOM", "CEL", "BLOCKN", "TFORMAT", "DFORMAT", "VOL", "SOUND")
BUILT_IN = ("Time", "Date", "Temperature", "Humidity", "Battery")
# MQTTManager.cpp onMqttConnected: what the device subscribes to on every connect (clean session,
# QoS 0), so the broker delivers every retained message on these topics again after any reconnect.
SUBSCRIPTIONS = ("/brightness", "/notify/dismiss", "/notify", "/custom/#", "/switch", "/settings",
                 "/previousapp", "/nextapp", "/doupdate", "/apps", "/power", "/sleep", "/indicator1",
                 "/indicator2", "/indicator3", "/timeformat", "/dateformat", "/reboot", "/moodlight",
                 "/sound", "/rtttl", "/sendscreen", "/r2d2")
SIM_TEMP, SIM_HUM, SIM_BAT = 21.0, 45, 87  # what the simulated sensors read

RGB = tuple[int, int, int]
Out = list[tuple[str, bytes, bool]]


# -- ArduinoJson 6.21 deserializeJson, as far as memory goes --------------------------------------

class JsonError(Exception):
    """What deserializeJson returns instead of Ok: "InvalidInput", "NoMemory", "TooDeep", "EmptyInput"."""


class _Members(list):  # type: ignore[type-arg]
    """An object's (key, value) pairs in document order, duplicates kept (as the parser sees them)."""


def deserialize(payload: bytes, capacity: int) -> Any:
    """Parse `payload` as ArduinoJson 6.21 would into a pool of `capacity` bytes; raise JsonError.

    ArduinoJson reads the first JSON value and ignores what follows it. The pool holds every array
    element and object member (SLOT_BYTES each, allocated as the parser meets them: in an array
    before the element is read, in an object after its key) and every distinct string with its
    terminator; reading a string needs its length + 1 free at that moment
    (JsonDeserializer::parseArray / parseObject, MemoryPool::allocRight / saveString,
    StringCopier::append). Returns the value with objects as dicts (the last duplicate wins).
    """
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError:
        raise JsonError("InvalidInput") from None  # ArduinoJson would take the bytes; we cannot
    text = text.lstrip(" \t\r\n")
    if not text:
        raise JsonError("EmptyInput")
    try:
        raw, _end = json.JSONDecoder(object_pairs_hook=_Members).raw_decode(text)
    except (json.JSONDecodeError, RecursionError):
        raise JsonError("InvalidInput") from None
    pool = _Pool(capacity)
    pool.value(raw, NESTING_LIMIT)
    return _plain(raw)


@dataclass
class _Pool:
    capacity: int
    strings: int = 0  # MemoryPool: left_ - begin_
    slots: int = 0  # MemoryPool: end_ - right_
    saved: set[str] = field(default_factory=set)

    def free(self) -> int:
        return self.capacity - self.strings - self.slots

    def string(self, s: str) -> None:
        n = len(s.encode("utf-8"))
        if n + 1 > self.free():  # StringCopier::append: size_ + 1 < capacity_, then the terminator
            raise JsonError("NoMemory")
        if s not in self.saved:  # saveStringFromFreeZone: findString first (deduplication)
            self.saved.add(s)
            self.strings += n + 1

    def slot(self) -> None:
        if self.free() < SLOT_BYTES:  # allocRight: canAlloc(sizeof(VariantSlot))
            raise JsonError("NoMemory")
        self.slots += SLOT_BYTES

    def value(self, v: Any, nesting: int) -> None:
        if isinstance(v, str):
            self.string(v)
        elif isinstance(v, _Members):
            if nesting == 0:
                raise JsonError("TooDeep")
            keys: set[str] = set()
            for key, item in v:
                self.string(key)  # parseKey, into the free zone first
                if key not in keys:  # object.getMember: a repeated key reuses its slot
                    keys.add(key)
                    self.slot()
                self.value(item, nesting - 1)
        elif isinstance(v, list):
            if nesting == 0:
                raise JsonError("TooDeep")
            for item in v:
                self.slot()
                self.value(item, nesting - 1)


def _plain(v: Any) -> Any:
    if isinstance(v, _Members):
        return {key: _plain(item) for key, item in v}
    if isinstance(v, list):
        return [_plain(item) for item in v]
    return v


def json_pool_bytes(payload: bytes) -> int:
    """Bytes of ArduinoJson pool `payload` needs (for tests and people; raises JsonError if invalid)."""
    pool = _Pool(1 << 40)
    try:
        raw, _ = json.JSONDecoder(object_pairs_hook=_Members).raw_decode(payload.decode("utf-8").lstrip())
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise JsonError("InvalidInput") from None
    pool.value(raw, NESTING_LIMIT)
    return pool.strings + pool.slots


# -- conversions the firmware does with ArduinoJson's as<T>() -------------------------------------

def _as_int(value: Any, default: int = 0) -> int:
    """JsonVariant::as<long>(): integers as they are, floats truncated, booleans 0/1, a numeric
    string parsed, anything out of range or else 0."""
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            return default
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, float):
        value = int(value) if math.isfinite(value) else 0
    if isinstance(value, int):
        return value if -(2**31) <= value < 2**31 else 0  # `long` is 32 bits on the ESP32
    return default


def _as_bool(value: Any) -> bool:
    """JsonVariant::as<bool>(): true, or a non-zero number; a missing key is false."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return value != 0
    return False


def _colour(value: Any, default: int = 0xFFFFFF) -> RGB:
    """Functions.cpp getColorFromJsonVariant: hex string (with or without #) or [r,g,b]."""
    number = default
    if isinstance(value, str):
        try:
            number = int(value.lstrip("#"), 16) & 0xFFFFFF
        except ValueError:
            number = default
    elif isinstance(value, list) and len(value) == 3 and all(
        isinstance(c, int) and not isinstance(c, bool) for c in value
    ):
        r, g, b = (max(0, min(255, c)) for c in value)
        return (r, g, b)
    return ((number >> 16) & 0xFF, (number >> 8) & 0xFF, number & 0xFF)


def _ints(args: list[Any], count: int) -> list[int] | None:
    if len(args) < count:
        return None
    head = args[:count]
    if not all(isinstance(a, int | float) and not isinstance(a, bool) for a in head):
        return None
    return [int(a) for a in head]


def _packet_size(topic: str, payload: bytes) -> int:
    """Size of a QoS 0 PUBLISH packet: fixed header + topic length + topic + payload."""
    remaining = 2 + len(topic.encode("utf-8")) + len(payload)
    length_bytes = 1
    while remaining >= 128 ** length_bytes:
        length_bytes += 1
    return 1 + length_bytes + remaining


# -- state ---------------------------------------------------------------------------------------

@dataclass
class _Custom:
    """DisplayManager.h CustomApp, as far as it is modelled."""

    spec: dict[str, Any]
    updated: datetime  # lastUpdate = millis() on every message (generateCustomPage)
    duration_s: int = 0  # doc["duration"].as<long>() * 1000; 0: the loop's ATIME
    lifetime_s: int = 0
    lifetime_mode: int = 0
    lifetime_end: bool = False  # lifetimeMode 1, set by checkLifetime: a red frame around the app


@dataclass
class _Notice:
    spec: dict[str, Any]
    duration: float  # generateNotification: doc["duration"].as<long>() * 1000, else TIME_PER_APP
    started: datetime | None = None


class AwtrixDevice:
    def __init__(self, prefix: str, *, clock: Callable[[], datetime], sensors: bool = True,
                 ulanzi: bool = True) -> None:
        self.prefix = prefix.rstrip("/")
        self._clock = clock
        self.sensors = sensors  # SENSOR_READING (Globals.cpp default true): Temperature, Humidity
        self.ulanzi = ulanzi  # the `ulanzi` build (-DULANZI): the Battery app
        self.nvs: dict[str, Any] = dict(DEFAULT_NVS)  # survives a power cycle
        self.files: dict[str, bytes] = {}  # /CUSTOMAPPS/<name>.json; survives a power cycle
        self.flash_writes = 0  # custom-app files written (each `"save":true` message)
        self.nvs_writes = 0  # saveSettings() calls (each /settings and /apps message)
        self.boots = 0
        self.messages = 0  # RECEIVED_MESSAGES
        self.dropped = 0  # packets over MQTT_MAX_PACKET_SIZE (never reach the firmware)
        self.refused: dict[str, int] = {}  # parse errors by kind ("NoMemory" ...): debug print only
        self.ignored = 0  # messages the firmware has no use for
        self._boot(clock())

    # ---- boot and power ------------------------------------------------------------------------

    def _boot(self, now: datetime) -> None:
        """main.cpp setup(): loadSettings, then loadNativeApps and loadCustomApps (before MQTT)."""
        self.boots += 1
        self._booted = now
        self._loop: list[str] = []  # Apps: the loop, built-in and custom, by name
        self._custom: dict[str, _Custom] = {}  # customApps (may hold apps that are not in the loop)
        self._notices: list[_Notice] = []
        self._current = 0  # MatrixDisplayUi state.currentApp
        self._transition = False  # state.appState == IN_TRANSITION
        self._target: int | None = None  # nextAppNumber (a /switch without "fast")
        self._direction = 1
        self._since = now  # the last state switch (ticksSinceLastStateSwitch = 0)
        self.current_app_name = ""  # CURRENT_APP: set by the app that draws
        self.power = True  # MATRIX_OFF is not saved (Globals.cpp saveSettings)
        self.last_error = ""
        self._native(now)
        # DisplayManager.cpp loadCustomApps: every file of /CUSTOMAPPS, parsed again with
        # preventSave=true (LittleFS lists a directory in name order).
        for name in sorted(self.files):
            self._parse_custom(name, self.files[name], now, prevent_save=True)

    def _native(self, now: datetime) -> None:
        """DisplayManager.cpp loadNativeApps: Time at 0, Date at 1, Temperature at 2 and Humidity at 3
        (only with SENSOR_READING), Battery at 4 (only #ifdef ULANZI), as the NVS flags say."""
        wanted = [("Time", self.nvs["TIM"], 0), ("Date", self.nvs["DAT"], 1)]
        if self.sensors:
            wanted += [("Temperature", self.nvs["TEMP"], 2), ("Humidity", self.nvs["HUM"], 3)]
        if self.ulanzi:
            wanted.append(("Battery", self.nvs["BAT"], 4))
        for name, show, position in wanted:
            if name in self._loop:
                if not show:
                    self._loop.remove(name)
            elif show:
                self._loop.insert(min(position, len(self._loop)), name)
        self._set_apps(now)

    def power_cycle(self) -> None:
        """Power off and on: RAM is lost, NVS settings and saved apps come back (main.cpp setup)."""
        self._boot(self._clock())

    # ---- public view ---------------------------------------------------------------------------

    @property
    def loop(self) -> tuple[str, ...]:
        """Every app in the loop, built-in and custom, in order."""
        self._advance(self._clock())
        return tuple(self._loop)

    @property
    def apps(self) -> Mapping[str, dict[str, Any]]:
        """The custom apps in the loop, in loop order (read-only): name -> the JSON object last pushed."""
        self._advance(self._clock())
        return MappingProxyType({n: self._custom[n].spec for n in self._loop if n in self._custom})

    @property
    def stored_apps(self) -> tuple[str, ...]:
        """Every custom app the device holds, in the loop or not (customApps)."""
        return tuple(self._custom)

    @property
    def current_app(self) -> str | None:
        now = self._clock()
        self._advance(now)
        return self._loop[self._current] if self._loop else None

    @property
    def in_transition(self) -> bool:
        self._advance(self._clock())
        return self._transition

    @property
    def app_time_s(self) -> float:
        return float(self.nvs["ATIME"])

    @property
    def transition_s(self) -> float:
        return max(MIN_STEP_S, _as_int(self.nvs["TSPEED"]) / 1000)

    @property
    def notification(self) -> dict[str, Any] | None:
        self._advance(self._clock())
        return self._notices[0].spec if self._notices else None

    def frame(self) -> Image.Image:
        """What the matrix is drawn with now, before gamma and brightness (`ledsCopy`): what
        `/sendscreen` reads, whether the matrix is on or off (DisplayManager.cpp ledsAsJson,
        gammaCorrection; setPower(false) only sets the brightness to 0)."""
        now = self._clock()
        self._advance(now)
        notice = self._notices[0] if self._notices else None
        if notice is not None:  # notifyFlag: the apps do not draw (Apps.cpp ShowCustomApp)
            return self._render_spec(notice.spec, stale=False)
        if not self._loop:
            return Image.new("RGB", (WIDTH, HEIGHT))
        here = self._draw_app(self._loop[self._current], now)
        if not self._transition:
            return here
        # MatrixDisplayUi::slideTransition (SLIDE_DOWN): both apps, offset by the progress.
        nxt = self._next_index()
        progress = min(1.0, (now - self._since).total_seconds() / max(self.transition_s, 1e-3))
        offset = max(1, min(HEIGHT - 1, round(HEIGHT * progress)))
        out = Image.new("RGB", (WIDTH, HEIGHT))
        out.paste(here.crop((0, 0, WIDTH, HEIGHT - offset)), (0, offset))
        there = self._draw_app(self._loop[nxt], now)
        out.paste(there.crop((0, HEIGHT - offset, WIDTH, HEIGHT)), (0, 0))
        return out

    def snapshot(self) -> Image.Image:
        """What people see now: the frame, or black while the matrix is off (unless a `wakeup`
        notification is on; DisplayManager.cpp setBrightness)."""
        image = self.frame()
        notice = self._notices[0] if self._notices else None
        if not self.power and not (notice and notice.spec.get("wakeup") is True):
            return Image.new("RGB", (WIDTH, HEIGHT))
        return image

    def uptime_s(self) -> int:
        return int((self._clock() - self._booted).total_seconds())

    def stats(self) -> bytes:
        """DisplayManager.cpp getStats (the fields ledctl reads, and a few more)."""
        now = self._clock()
        self._advance(now)
        body: dict[str, Any] = {"bat": SIM_BAT, "bat_raw": 670, "type": 0} if self.ulanzi else {"type": 1}
        body.update({"lux": 12, "ldr_raw": 180, "ram": 143000, "bri": self.nvs["BRI"]})
        if self.sensors:
            body.update({"temp": SIM_TEMP, "hum": SIM_HUM})
        body.update({
            "uptime": self.uptime_s(), "wifi_signal": -61, "messages": self.messages, "version": VERSION,
            "indicator1": False, "indicator2": False, "indicator3": False,
            "app": self.current_app_name, "uid": self.prefix, "matrix": self.power, "ip_address": "127.0.0.1",
        })
        return json.dumps(body, separators=(",", ":")).encode()

    def subscriptions(self) -> list[str]:
        return [self.prefix + topic for topic in SUBSCRIPTIONS]

    # ---- input ---------------------------------------------------------------------------------

    def on_message(self, topic: str, payload: bytes) -> Out:
        head = self.prefix + "/"
        if not topic.startswith(head):
            return []
        if _packet_size(topic, payload) > MQTT_MAX_PACKET_SIZE:
            self.dropped += 1
            return []
        # MQTTManager.cpp onMqttMessage: the payload becomes a C string (it ends at a NUL byte).
        payload = payload.split(b"\0", 1)[0]
        self.messages += 1  # processMqttMessage: ++RECEIVED_MESSAGES, for every topic
        now = self._clock()
        self._advance(now)
        sub = topic[len(head):]
        if sub.startswith("custom/"):  # processMqttMessage: the rest of the topic is the app's name
            return self._parse_custom(sub[len("custom/"):], payload, now)
        handler = {
            "notify": self._notify,
            "notify/dismiss": self._dismiss,
            "power": self._power,
            "settings": self._settings,
            "apps": self._apps,
            "switch": self._switch,
            "nextapp": lambda p, n: self._step(1, n),
            "previousapp": lambda p, n: self._step(-1, n),
            "sendscreen": self._sendscreen,
            "reboot": self._reboot,
        }.get(sub)
        if handler is None:
            self.ignored += 1
            return []
        return handler(payload, now)

    def _parse(self, payload: bytes, capacity: int) -> Any:
        try:
            return deserialize(payload, capacity)
        except JsonError as e:  # the firmware prints the error on the serial port, nothing more
            kind = str(e)
            self.refused[kind] = self.refused.get(kind, 0) + 1
            self.last_error = kind
            return None

    # -- custom apps: DisplayManager.cpp parseCustomPage, generateCustomPage, pushCustomApp ---------

    def _parse_custom(self, name: str, payload: bytes, now: datetime, *, prevent_save: bool = False) -> Out:
        if payload in (b"", b"{}"):  # parseCustomPage: "" or "{}" removes the app
            return self._remove(name, now)
        doc = self._parse(payload, CUSTOM_APP_POOL)
        if isinstance(doc, dict):
            return self._generate(name, doc, now, prevent_save)
        out: Out = []
        if isinstance(doc, list):  # one app per element: <name>0, <name>1, ...
            for i, item in enumerate(doc):
                out += self._generate(f"{name}{i}", item if isinstance(item, dict) else {}, now, prevent_save)
        return out

    def _generate(self, name: str, doc: dict[str, Any], now: datetime, prevent_save: bool) -> Out:
        if "save" in doc and not prevent_save and _as_bool(doc["save"]):
            # generateCustomPage: the whole object to /CUSTOMAPPS/<name>.json on every such message
            self.files[name] = json.dumps(doc, separators=(",", ":")).encode()
            self.flash_writes += 1
        app = _Custom(doc, now)
        app.duration_s = _as_int(doc.get("duration")) if "duration" in doc else 0
        if "lifetime" in doc:
            app.lifetime_s = _as_int(doc["lifetime"])
            app.lifetime_mode = _as_int(doc.get("lifetimeMode"))
        # `pos` is read as uint8_t (-1 when absent) and pushCustomApp gets pos - 1: absent or 0
        # appends, 1 inserts first (the documented 0-based `pos` is off by one).
        pos = -1
        if "pos" in doc:
            pos = _as_int(doc["pos"])
            pos = pos if 0 <= pos <= 255 else 0
        out = self._push(name, pos - 1, now)
        self._custom[name] = app  # customApps[name] = customApp, after pushCustomApp
        return out

    def _push(self, name: str, position: int, now: datetime) -> Out:
        """pushCustomApp: only a name new to customApps joins the loop, and only if one of the 20
        custom-app callbacks is free; otherwise nothing is said and the data is kept anyway (so an
        app refused once stays out of the loop on every later update until it is deleted)."""
        if name in self._custom:
            return []
        in_loop = sum(1 for n in self._loop if n in self._custom)
        if in_loop >= MAX_CUSTOM_APPS:
            self.last_error = "Maximum number of custom apps reached"
            return []
        if 0 <= position < len(self._loop):
            self._loop.insert(position, name)
        else:
            self._loop.append(name)
        return self._set_apps(now)

    def _remove(self, name: str, now: datetime, *, set_apps: bool = True) -> Out:
        """removeCustomAppFromApps: every app whose name *starts with* `name` leaves the loop and
        customApps (built-in ones too); only the file of exactly `name` is deleted."""
        self._loop = [n for n in self._loop if not n.startswith(name)]
        self._custom = {n: a for n, a in self._custom.items() if not n.startswith(name)}
        self.files.pop(name, None)  # deleteCustomAppFile(name)
        return self._set_apps(now) if set_apps else []

    def _set_apps(self, now: datetime) -> Out:
        """MatrixDisplayUi::setApps: resetState() (only if the current index is no longer valid),
        then sendAppLoop() publishes the loop on stats/loop."""
        if self._current >= len(self._loop):
            self._current, self._transition, self._target, self._since = 0, False, None, now
        return [self._loop_message()]

    def _loop_message(self) -> tuple[str, bytes, bool]:
        loop = {name: i for i, name in enumerate(self._loop)}  # DisplayManager.cpp getAppsAsJson
        return (f"{self.prefix}/stats/loop", json.dumps(loop, separators=(",", ":")).encode(), False)

    # -- the other topics -------------------------------------------------------------------------

    def _notify(self, payload: bytes, now: datetime) -> Out:
        # processMqttMessage: the first byte must be `{` and the last `}`.
        if payload[:1] != b"{" or payload[-1:] != b"}":
            self.ignored += 1
            return []
        doc = self._parse(payload, NOTIFY_POOL)
        if not isinstance(doc, dict):
            return []
        seconds = _as_int(doc["duration"]) if "duration" in doc else _as_int(self.nvs["ATIME"])
        notice = _Notice(doc, float(max(0, seconds)))
        if not self._notices:
            notice.started = now
            self._notices.append(notice)
        elif doc.get("stack", True) is False:
            notice.started = now
            self._notices[0] = notice
        else:
            self._notices.append(notice)
        return []

    def _dismiss(self, payload: bytes, now: datetime) -> Out:
        if self._notices:
            self._notices.pop(0)
            if self._notices:
                self._notices[0].started = now
        return []

    def _power(self, payload: bytes, now: datetime) -> Out:
        doc = self._parse(payload, POWER_POOL)
        if isinstance(doc, dict) and "power" in doc:
            self.power = _as_bool(doc["power"])  # DisplayManager.cpp setPower
        return []

    def _settings(self, payload: bytes, now: datetime) -> Out:
        """setNewSettings: the keys given change, and saveSettings() writes them all to NVS. The
        built-in app flags (TIM, DAT, TEMP, HUM, BAT) only take effect at the next boot."""
        doc = self._parse(payload, SETTINGS_POOL)
        if not isinstance(doc, dict):
            return []
        if "ATIME" in doc:
            self.nvs["ATIME"] = _as_int(doc["ATIME"])
        if "OVERLAY" in doc and len(doc) == 1:  # returns before saving
            return []
        if "GAMEMODE" in doc or "GAME" in doc:  # returns before saving
            return []
        for key in _SAVED:
            if key in doc and key != "ATIME":
                value = doc[key]
                self.nvs[key] = _as_bool(value) if isinstance(DEFAULT_NVS.get(key), bool) else value
        if "MATP" in doc:
            self.power = _as_bool(doc["MATP"])
        self.nvs_writes += 1
        return []

    def _apps(self, payload: bytes, now: datetime) -> Out:
        """updateAppVector: per entry `name`, `show` (missing = false) and optional `pos`; hiding
        takes any app out of the loop at once (a custom app's data stays); showing puts a built-in
        app in. Then setApps (stats/loop), saveSettings() — which does *not* change TIM, DAT ...:
        after a reboot loadNativeApps puts the built-in apps back as the NVS flags say — and
        sendAppLoop() (stats/loop again)."""
        doc = self._parse(payload, APPS_POOL)
        if doc is None:
            return []
        # An object is meant as one entry, but `doc.to<JsonArray>()` empties the document before the
        # object is added: it becomes one null entry (name "null"), which changes nothing.
        entries = doc if isinstance(doc, list) else []
        for entry in entries:
            if not isinstance(entry, dict):
                continue
            name = entry.get("name")
            name = name if isinstance(name, str) else "null"
            show = _as_bool(entry.get("show"))
            position = _as_int(entry["pos"]) if "pos" in entry else len(self._loop)
            if not show:
                if name in self._loop:
                    self._loop.remove(name)
            elif name in BUILT_IN and (name != "Battery" or self.ulanzi):  # getNativeAppByName
                if name in self._loop:
                    self._loop.remove(name)
                self._loop.insert(max(0, min(position, len(self._loop))), name)
            elif name in self._loop and "pos" in entry:
                self._loop.remove(name)
                self._loop.insert(max(0, min(position, len(self._loop))), name)
        out = self._set_apps(now)
        self.nvs_writes += 1
        return [*out, self._loop_message()]

    def _switch(self, payload: bytes, now: datetime) -> Out:
        """switchToApp: by name; `"fast": true` jumps at once (MatrixDisplayUi::switchToApp), else a
        transition (transitionToApp). Either way the app's time starts again. Unknown names: nothing."""
        doc = self._parse(payload, SWITCH_POOL)
        name = doc.get("name") if isinstance(doc, dict) else None
        if name not in self._loop:
            self.ignored += 1
            return []
        index = self._loop.index(name)
        self._since = now
        if index == self._current:
            return []
        if _as_bool(doc.get("fast")):
            self._current, self._transition, self._target = index, False, None
        else:
            self._transition, self._target = True, index
        return []

    def _step(self, delta: int, now: datetime) -> Out:
        """nextApp / previousApp: a transition, unless one is running."""
        if self._loop and not self._transition:
            self._transition, self._target, self._direction, self._since = True, None, delta, now
        return []

    def _sendscreen(self, payload: bytes, now: datetime) -> Out:
        """MQTTManager.cpp: publish("screen", ledsAsJson()) — 256 ints, row by row, not retained."""
        data = self.frame().tobytes()
        leds = [(data[i] << 16) | (data[i + 1] << 8) | data[i + 2] for i in range(0, len(data), 3)]
        return [(f"{self.prefix}/screen", json.dumps(leds, separators=(",", ":")).encode(), False)]

    def _reboot(self, payload: bytes, now: datetime) -> Out:
        self.power_cycle()  # delay(1000); ESP.restart() — the MQTT client sees the drop
        return []

    # ---- time ----------------------------------------------------------------------------------

    def _app_time(self, name: str) -> float:
        """Apps.cpp ShowCustomApp: a custom app's `duration` (> 0) sets the app time, else ATIME."""
        app = self._custom.get(name)
        if app is not None and app.duration_s > 0:
            return float(app.duration_s)
        return max(MIN_STEP_S, float(_as_int(self.nvs["ATIME"])))

    def _auto(self) -> bool:
        """DisplayManager.cpp setAutoTransition: only with two apps or more, and ATRANS."""
        return len(self._loop) >= 2 and bool(self.nvs["ATRANS"])

    def _next_index(self) -> int:
        """MatrixDisplayUi::getnextAppNumber."""
        if self._target is not None:
            return self._target
        return (self._current + self._direction) % len(self._loop)

    def _advance(self, now: datetime) -> None:
        """Run the loop (MatrixDisplayUi::tick) and the notifications up to `now`."""
        self._advance_notices(now)
        if not self._loop:  # nothing to draw; the first app to come starts its time then
            self._since = now
        guard = 0
        while self._loop:
            guard += 1
            if guard > 100_000:  # a clock that jumped very far: start the loop again from here
                self._since = now
                break
            if self._transition:
                end = self._since + timedelta(seconds=self.transition_s)
                if end > now:
                    break
                self._current = self._next_index() % len(self._loop)
                self._transition, self._target, self._direction, self._since = False, None, 1, end
                self.current_app_name = self._loop[self._current]
                # DisplayManager.cpp tick: at the end of a transition, checkLifetime(getnextAppNumber())
                # — the lifetime of the app *after* the one now shown is checked, and only then.
                self._check_lifetime((self._current + 1) % len(self._loop), end)
                continue
            self.current_app_name = self._loop[self._current]
            span = self._app_time(self._loop[self._current])
            end = self._since + timedelta(seconds=span)
            if end > now:
                break
            if self._auto():
                self._skip_cycles(now)
                end = self._since + timedelta(seconds=self._app_time(self._loop[self._current]))
                if end > now:
                    break
                self._transition, self._since = True, end
            else:  # one app: its time starts again
                steps = max(1, int((now - self._since).total_seconds() // span))
                self._since += timedelta(seconds=span * steps)

    def _skip_cycles(self, now: datetime) -> None:
        """Whole loops at once when nothing can change in them (no lifetimes to check)."""
        if any(self._custom[n].lifetime_s > 0 for n in self._loop if n in self._custom):
            return
        cycle = sum(self._app_time(n) + self.transition_s for n in self._loop)
        whole = int((now - self._since).total_seconds() // cycle) if cycle > 0 else 0
        if whole > 0:
            self._since += timedelta(seconds=cycle * whole)

    def _check_lifetime(self, pos: int, at: datetime) -> None:
        """DisplayManager.cpp checkLifetime: whole seconds since the last update against
        `lifetime`; mode 0 removes the app (by prefix, like an empty payload), mode 1 marks it."""
        if not self._custom or pos >= len(self._loop):
            return
        name = self._loop[pos]
        app = self._custom.get(name)
        if app is None or app.lifetime_s <= 0:
            return
        if int((at - app.updated).total_seconds()) >= app.lifetime_s:
            if app.lifetime_mode == 0:
                self._remove(name, at, set_apps=False)
                self._set_apps(at)
            elif app.lifetime_mode == 1:
                app.lifetime_end = True

    def _advance_notices(self, now: datetime) -> None:
        while self._notices:
            head = self._notices[0]
            if head.started is None:
                head.started = now
            if _as_bool(head.spec.get("hold")):
                break
            end = head.started + timedelta(seconds=head.duration)
            if end > now:
                break
            self._notices.pop(0)
            if self._notices:
                self._notices[0].started = end

    # ---- drawing -------------------------------------------------------------------------------

    def _draw_app(self, name: str, now: datetime) -> Image.Image:
        app = self._custom.get(name)
        if app is not None:
            return self._render_spec(app.spec, stale=app.lifetime_end)
        return _built_in(name, now)

    def _render_spec(self, spec: Mapping[str, Any], *, stale: bool) -> Image.Image:
        image = Image.new("RGB", (WIDTH, HEIGHT), _colour(spec.get("background"), 0))
        draw = ImageDraw.Draw(image)
        commands = spec.get("draw")
        for command in commands if isinstance(commands, list) else []:
            if not isinstance(command, dict) or len(command) != 1:
                continue
            ((key, args),) = command.items()
            if isinstance(args, list):
                _draw(image, draw, key, args)
        if stale:  # Apps.cpp: lifeTimeEnd draws a red rectangle around the app
            draw.rectangle((0, 0, WIDTH - 1, HEIGHT - 1), outline=(255, 0, 0))
        return image


def _draw(image: Image.Image, draw: ImageDraw.ImageDraw, key: str, args: list[Any]) -> None:
    """DisplayManager.cpp processDrawInstructions (text `dt` is not drawn here)."""
    if key == "db":
        geometry = _ints(args, 4)
        if geometry is None or len(args) < 5:
            return
        x, y, w, h = geometry
        colours = args[4] if isinstance(args[4], list) else []
        # std::vector<uint32_t> bitmap(width * height): entries not sent are 0 (black); entries
        # beyond w*h are written past the vector (undefined behaviour; ignored here).
        for k in range(max(0, w) * max(0, h)):
            value = colours[k] if k < len(colours) else 0
            value = _as_int(value) & 0xFFFFFF if not isinstance(value, list | dict) else 0
            px, py = x + k % w, y + k // w
            if 0 <= px < WIDTH and 0 <= py < HEIGHT:
                image.putpixel((px, py), ((value >> 16) & 0xFF, (value >> 8) & 0xFF, value & 0xFF))
        return
    shapes: dict[str, int] = {"dp": 2, "dl": 4, "dr": 4, "df": 4, "dc": 3, "dfc": 3}
    if key not in shapes:
        return
    n = shapes[key]
    nums = _ints(args, n)
    if nums is None or len(args) < n + 1:
        return
    colour = _colour(args[n])
    if key == "dp":
        if 0 <= nums[0] < WIDTH and 0 <= nums[1] < HEIGHT:
            image.putpixel((nums[0], nums[1]), colour)
    elif key == "dl":
        draw.line(nums, fill=colour)
    elif key in ("dr", "df"):
        x, y, w, h = nums
        if w > 0 and h > 0:
            box = (x, y, x + w - 1, y + h - 1)
            if key == "df":
                draw.rectangle(box, fill=colour)
            else:
                draw.rectangle(box, outline=colour)
    else:
        x, y, r = nums
        box = (x - r, y - r, x + r, y + r)
        if key == "dfc":
            draw.ellipse(box, fill=colour)
        else:
            draw.ellipse(box, outline=colour)


# A 3x5 font for the built-in apps (Apps.cpp TimeApp, DateApp, TempApp, HumApp, BatApp draw their
# value in the device's font next to an icon; this is a likeness, never a ledctl page).
_GLYPHS = {
    "0": ("111", "101", "101", "101", "111"), "1": ("010", "110", "010", "010", "111"),
    "2": ("111", "001", "111", "100", "111"), "3": ("111", "001", "111", "001", "111"),
    "4": ("101", "101", "111", "001", "001"), "5": ("111", "100", "111", "001", "111"),
    "6": ("111", "100", "111", "101", "111"), "7": ("111", "001", "001", "001", "001"),
    "8": ("111", "101", "111", "101", "111"), "9": ("111", "101", "111", "001", "111"),
    ":": ("0", "1", "0", "1", "0"), ".": ("0", "0", "0", "0", "1"), "%": ("101", "001", "010", "100", "101"),
    "C": ("111", "100", "100", "100", "111"), "°": ("11", "11", "00", "00", "00"),
}
_ICON = {"Temperature": (255, 80, 0), "Humidity": (0, 120, 255), "Battery": (0, 220, 0),
         "Date": (255, 0, 0)}


def _built_in(name: str, now: datetime) -> Image.Image:
    image = Image.new("RGB", (WIDTH, HEIGHT))
    draw = ImageDraw.Draw(image)
    if name == "Time":
        text, x = now.strftime("%H:%M"), 8
        for day in range(7):  # the weekday bar (Apps.cpp TimeApp, SHOW_WEEKDAY)
            colour = (255, 255, 255) if day == now.weekday() else (102, 102, 102)
            draw.line((2 + day * 4, 7, 4 + day * 4, 7), fill=colour)
    else:
        text = {"Date": now.strftime("%d.%m"), "Temperature": f"{SIM_TEMP:.0f}°C", "Humidity": f"{SIM_HUM}%",
                "Battery": f"{SIM_BAT}%"}.get(name, "")
        x = 11
        draw.rectangle((1, 1, 6, 6), fill=_ICON.get(name, (128, 128, 128)))  # the app's icon
    for ch in text:
        rows = _GLYPHS.get(ch)
        if rows is None:
            x += 2
            continue
        for dy, row in enumerate(rows):
            for dx, bit in enumerate(row):
                if bit == "1" and x + dx < WIDTH:
                    image.putpixel((x + dx, 1 + dy), (255, 255, 255))
        x += len(rows[0]) + 1
    return image


class MqttAwtrix:
    """The AWTRIX emulator on a real broker, connecting as the firmware does (MQTTManager.cpp):
    MQTT 3.1.1, clean session, a will `stats/device` = `offline` (not retained); on every connect it
    subscribes to the firmware's topics at QoS 0 (so the broker hands it every retained message on
    them again) and publishes `stats/device` = `online`; `stats` every `stats_every_s` (the firmware's
    STATS_INTERVAL, 10 s; here also once at connect, so a test need not wait for the first)."""

    def __init__(self, device: AwtrixDevice, url: str, *, stats_every_s: float = 10.0,
                 credentials: tuple[str, str] | None = None) -> None:
        self.device = device
        parts = url.split("//", 1)[1].rstrip("/")
        host, _, port = parts.rpartition(":")
        self._address = (host or "127.0.0.1", int(port or 1883))
        self._credentials = credentials
        self._outbox: list[tuple[str, bytes, bool]] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._stats_every = stats_every_s
        self._client = self._make_client()
        self._worker = threading.Thread(target=self._run, name=f"awtrix-{device.prefix}", daemon=True)

    def _make_client(self) -> Any:
        import paho.mqtt.client as mqtt

        # HOSTNAME is the client id in current firmware; the prefix stands in for it here.
        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=self.device.prefix,
                             protocol=mqtt.MQTTv311, clean_session=True)
        if self._credentials is not None:  # the device's MQTT user and password (its settings page)
            client.username_pw_set(*self._credentials)
        client.will_set(f"{self.device.prefix}/stats/device", b"offline", qos=0, retain=False)
        client.on_connect = self._on_connect
        client.on_message = self._on_message
        return client

    def start(self) -> None:
        self._client.connect_async(*self._address)
        self._client.loop_start()
        if not self._worker.is_alive():
            self._worker.start()

    def wait_ready(self, timeout: float = 10.0) -> bool:
        return self._ready.wait(timeout)

    def stop(self, clean: bool = True) -> None:
        """Clean: DISCONNECT. Unclean: drop the connection (the broker publishes the will)."""
        self._stop.set()
        self._worker.join(timeout=5)
        self._drop(clean)

    def _drop(self, clean: bool) -> None:
        self._ready.clear()
        if clean:
            self._client.disconnect()
            self._client.loop_stop()
            return
        self._client.loop_stop()
        sock = self._client.socket()
        if sock is not None:
            sock.close()

    def power_cycle(self) -> None:
        """Power off and on: the connection drops without a DISCONNECT, the device boots (RAM lost,
        NVS and saved apps kept) and connects again — resubscribing, so retained messages come back."""
        self._restart(self.device.power_cycle)

    def _restart(self, boot: Callable[[], None] | None) -> None:
        with self._lock:
            old, self._client = self._client, None  # from now on its messages are not taken
        self._ready.clear()
        old.loop_stop()  # outside the lock: paho's thread may be waiting for it
        sock = old.socket()
        if sock is not None:
            sock.close()
        with self._lock:
            self._outbox.clear()
            if boot is not None:
                boot()
            self._client = self._make_client()
        self.start()

    def _on_connect(self, client: Any, userdata: Any, flags: Any, reason: Any, properties: Any) -> None:
        if getattr(reason, "is_failure", False) or client is not self._client:
            return
        for topic in self.device.subscriptions():
            client.subscribe(topic, qos=0)
        with self._lock:
            self._outbox.append((f"{self.device.prefix}/stats/device", b"online", False))
            self._outbox.append((f"{self.device.prefix}/stats", self.device.stats(), False))
        self._ready.set()

    def _on_message(self, client: Any, userdata: Any, message: Any) -> None:
        with self._lock:
            if client is not self._client:
                return  # a message for the connection that just died
            booted = self.device.boots
            self._outbox.extend(self.device.on_message(message.topic, bytes(message.payload)))
            rebooted = self.device.boots != booted
        if rebooted:  # /reboot: ESP.restart() drops the connection; the new firmware connects again
            threading.Thread(target=self._restart, args=(None,), daemon=True).start()

    def _run(self) -> None:
        last_stats = time.monotonic()
        while not self._stop.wait(0.02):
            with self._lock:
                out, self._outbox = self._outbox, []
                client = self._client
            if client is None:
                continue
            for topic, payload, retain in out:
                client.publish(topic, payload, qos=0, retain=retain)
            if self._ready.is_set() and time.monotonic() - last_stats > self._stats_every:
                last_stats = time.monotonic()
                client.publish(f"{self.device.prefix}/stats", self.device.stats(), qos=0)
