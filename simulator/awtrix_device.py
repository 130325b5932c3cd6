"""An AWTRIX 3 device as a state machine, written from the AWTRIX facts (not from ledctl's driver).

No MQTT here: feed it `on_message(topic, payload)` and publish what it returns, each as
`(topic, payload, retain)`. Time comes only from the injected clock, so app rotation,
notification durations and app `lifetime` are all driven by moving that clock.

Modelled: `/custom/<app>` (object, array -> `<app>0..`, empty -> delete by prefix, `pos`,
`lifetime` with `lifetimeMode` 0 and 1), `/notify` (only a payload that starts with `{`
and ends with `}`; `stack`, `hold`, `wakeup`, `duration`), `/notify/dismiss`, `/power`,
`/settings` (`BRI`, `ATIME`, `MATP`; the rest is stored), `/switch`, `/nextapp`,
`/previousapp`, `/sendscreen` (-> `<PREFIX>/screen`), the 8192-byte packet limit (bigger
packets are dropped silently, like PubSubClient does), and `background` plus the draw
commands `dp`, `dl`, `dr`, `df`, `dc`, `dfc`, `db`.

Not modelled: text, icons, bars and effects (they are stored, not drawn), the native
apps (an empty loop shows black), transitions, sound, and the loop pausing while a
notification is on screen. The device publishes nothing retained, and neither does this.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from types import MappingProxyType
from typing import Any

from PIL import Image, ImageDraw

WIDTH = 32
HEIGHT = 8
MQTT_MAX_PACKET_SIZE = 8192
DEFAULT_COLOUR = (255, 255, 255)
DEFAULT_NOTIFY_DURATION = 5
VERSION = "sim-0.1"

RGB = tuple[int, int, int]


@dataclass
class _App:
    spec: dict[str, Any]
    updated: datetime


@dataclass
class _Notice:
    spec: dict[str, Any]
    started: datetime | None = None

    @property
    def duration(self) -> float:
        return _seconds(self.spec.get("duration"), DEFAULT_NOTIFY_DURATION)


def _seconds(value: Any, default: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        return default
    return float(value)


def _packet_size(topic: str, payload: bytes) -> int:
    """Size of a QoS 0 PUBLISH packet: fixed header + topic length + topic + payload."""
    remaining = 2 + len(topic.encode("utf-8")) + len(payload)
    length_bytes = 1
    while remaining >= 128 ** length_bytes:
        length_bytes += 1
    return 1 + length_bytes + remaining


def _colour(value: Any) -> RGB:
    """Like the firmware's getColorFromJsonVariant: hex string (with or without #) or [r,g,b]."""
    if isinstance(value, str):
        try:
            number = int(value.lstrip("#"), 16)
        except ValueError:
            return DEFAULT_COLOUR
        number &= 0xFFFFFF
        return ((number >> 16) & 0xFF, (number >> 8) & 0xFF, number & 0xFF)
    if isinstance(value, list) and len(value) == 3 and all(
        isinstance(c, int) and not isinstance(c, bool) for c in value
    ):
        r, g, b = (max(0, min(255, c)) for c in value)
        return (r, g, b)
    return DEFAULT_COLOUR  # numbers, HSV arrays and anything else


def _ints(args: list[Any], count: int) -> list[int] | None:
    if len(args) < count:
        return None
    head = args[:count]
    if not all(isinstance(a, int | float) and not isinstance(a, bool) for a in head):
        return None
    return [int(a) for a in head]


class AwtrixDevice:
    def __init__(self, prefix: str, *, clock: Callable[[], datetime]) -> None:
        self.prefix = prefix.rstrip("/")
        self._clock = clock
        self._booted = clock()
        self._apps: dict[str, _App] = {}
        self._loop_epoch = self._booted
        self._notices: list[_Notice] = []
        self.power = True
        self.brightness = 120
        self.app_time = 7  # ATIME, seconds per app without its own duration
        self.settings: dict[str, Any] = {}
        self.messages = 0
        self.dropped = 0  # over the packet limit
        self.ignored = 0  # malformed or unsupported

    # ---- public view -------------------------------------------------------------

    @property
    def apps(self) -> Mapping[str, dict[str, Any]]:
        """The custom apps in loop order (read-only): name -> the JSON object last pushed."""
        self._tick(self._clock())
        return MappingProxyType({name: app.spec for name, app in self._apps.items()})

    @property
    def current_app(self) -> str | None:
        now = self._clock()
        self._tick(now)
        return self._current_app(now)

    @property
    def notification(self) -> dict[str, Any] | None:
        self._tick(self._clock())
        return self._notices[0].spec if self._notices else None

    def snapshot(self) -> Image.Image:
        """The 32x8 frame on the matrix now (colours before brightness, like `/sendscreen`)."""
        now = self._clock()
        self._tick(now)
        notice = self._notices[0] if self._notices else None
        if not self.power and not (notice and notice.spec.get("wakeup") is True):
            return Image.new("RGB", (WIDTH, HEIGHT))
        if notice is not None:
            return self._render(notice.spec, stale=False)
        name = self._current_app(now)
        if name is None:
            return Image.new("RGB", (WIDTH, HEIGHT))
        app = self._apps[name]
        return self._render(app.spec, stale=self._is_stale(app, now))

    def stats(self) -> bytes:
        now = self._clock()
        self._tick(now)
        body = {
            "app": self._current_app(now) or "",
            "bri": self.brightness,
            "indicator1": False,
            "indicator2": False,
            "indicator3": False,
            "matrix": self.power,
            "messages": self.messages,
            "type": 0,
            "uid": self.prefix,
            "uptime": int((now - self._booted).total_seconds()),
            "version": VERSION,
        }
        return json.dumps(body, separators=(",", ":")).encode()

    # ---- input ---------------------------------------------------------------------

    def on_message(self, topic: str, payload: bytes) -> list[tuple[str, bytes, bool]]:
        head = self.prefix + "/"
        if not topic.startswith(head):
            return []
        if _packet_size(topic, payload) > MQTT_MAX_PACKET_SIZE:
            self.dropped += 1
            return []
        self.messages += 1
        now = self._clock()
        self._tick(now)
        sub = topic[len(head):]
        if sub.startswith("custom/"):
            return self._custom(sub[len("custom/"):], payload, now)
        handler = {
            "notify": self._notify,
            "notify/dismiss": self._dismiss,
            "power": self._power,
            "settings": self._settings,
            "switch": self._switch,
            "nextapp": lambda p, n: self._step(1, n),
            "previousapp": lambda p, n: self._step(-1, n),
            "sendscreen": self._sendscreen,
        }.get(sub)
        if handler is None:
            self.ignored += 1
            return []
        return handler(payload, now)

    def _custom(self, name: str, payload: bytes, now: datetime) -> list[tuple[str, bytes, bool]]:
        if not name or " " in name or "/" in name:
            self.ignored += 1
            return []
        if not payload:
            doomed = [n for n in self._apps if n.startswith(name)]
            for n in doomed:
                del self._apps[n]
            return self._loop_changed(now) if doomed else []
        doc = self._json(payload)
        if isinstance(doc, dict):
            items = [(name, doc)]
        elif isinstance(doc, list) and all(isinstance(d, dict) for d in doc):
            items = [(f"{name}{i}", d) for i, d in enumerate(doc)]
        else:
            self.ignored += 1
            return []
        added = False
        for app_name, spec in items:
            if app_name in self._apps:
                self._apps[app_name] = _App(spec, now)
                continue
            added = True
            pos = spec.get("pos")
            names = list(self._apps)
            if isinstance(pos, int) and not isinstance(pos, bool) and 0 <= pos < len(names):
                names.insert(pos, app_name)
                self._apps[app_name] = _App(spec, now)
                self._apps = {n: self._apps[n] for n in names}
            else:
                self._apps[app_name] = _App(spec, now)
        return self._loop_changed(now) if added else []

    def _notify(self, payload: bytes, now: datetime) -> list[tuple[str, bytes, bool]]:
        # The firmware checks the raw bytes: first `{` and last `}`, nothing around them.
        if payload[:1] != b"{" or payload[-1:] != b"}":
            self.ignored += 1
            return []
        doc = self._json(payload)
        if not isinstance(doc, dict):
            self.ignored += 1
            return []
        notice = _Notice(doc)
        if not self._notices:
            notice.started = now
            self._notices.append(notice)
        elif doc.get("stack", True) is False:
            notice.started = now
            self._notices[0] = notice
        else:
            self._notices.append(notice)
        return []

    def _dismiss(self, payload: bytes, now: datetime) -> list[tuple[str, bytes, bool]]:
        if self._notices:
            self._notices.pop(0)
            if self._notices:
                self._notices[0].started = now
        return []

    def _power(self, payload: bytes, now: datetime) -> list[tuple[str, bytes, bool]]:
        doc = self._json(payload)
        if not isinstance(doc, dict) or "power" not in doc:
            self.ignored += 1
            return []
        self.power = bool(doc["power"])
        return []

    def _settings(self, payload: bytes, now: datetime) -> list[tuple[str, bytes, bool]]:
        doc = self._json(payload)
        if not isinstance(doc, dict):
            self.ignored += 1
            return []
        self.settings.update(doc)
        bri = doc.get("BRI")
        if isinstance(bri, int | float) and not isinstance(bri, bool):
            self.brightness = max(0, min(255, int(bri)))
        atime = doc.get("ATIME")
        if isinstance(atime, int | float) and not isinstance(atime, bool) and atime > 0:
            self.app_time = int(atime)
        if "MATP" in doc:
            self.power = bool(doc["MATP"])
        return []

    def _switch(self, payload: bytes, now: datetime) -> list[tuple[str, bytes, bool]]:
        doc = self._json(payload)
        name = doc.get("name") if isinstance(doc, dict) else None
        if name not in self._apps:
            self.ignored += 1
            return []
        self._start_at(list(self._apps).index(name), now)
        return []

    def _step(self, delta: int, now: datetime) -> list[tuple[str, bytes, bool]]:
        current = self._current_app(now)
        if current is not None:
            names = list(self._apps)
            self._start_at((names.index(current) + delta) % len(names), now)
        return []

    def _sendscreen(self, payload: bytes, now: datetime) -> list[tuple[str, bytes, bool]]:
        data = self.snapshot().tobytes()
        leds = [(data[i] << 16) | (data[i + 1] << 8) | data[i + 2] for i in range(0, len(data), 3)]
        return [(f"{self.prefix}/screen", json.dumps(leds, separators=(",", ":")).encode(), False)]

    # ---- time ----------------------------------------------------------------------

    def _tick(self, now: datetime) -> None:
        # Notifications: the next one starts when the one before it ran out.
        while self._notices:
            head = self._notices[0]
            if head.started is None:
                head.started = now
            if head.spec.get("hold") is True:
                break
            end = head.started + timedelta(seconds=head.duration)
            if end > now:
                break
            self._notices.pop(0)
            if self._notices:
                self._notices[0].started = end
        # Apps without an update for `lifetime` seconds go (lifetimeMode 0).
        expired = [
            name for name, app in self._apps.items()
            if self._is_stale(app, now) and app.spec.get("lifetimeMode", 0) != 1
        ]
        for name in expired:
            del self._apps[name]
        if expired:
            self._loop_epoch = now

    @staticmethod
    def _is_stale(app: _App, now: datetime) -> bool:
        lifetime = _seconds(app.spec.get("lifetime"), 0)
        return lifetime > 0 and (now - app.updated).total_seconds() >= lifetime

    def _durations(self) -> list[float]:
        return [_seconds(app.spec.get("duration"), self.app_time) for app in self._apps.values()]

    def _current_app(self, now: datetime) -> str | None:
        if not self._apps:
            return None
        durations = self._durations()
        elapsed = (now - self._loop_epoch).total_seconds() % sum(durations)
        for name, duration in zip(self._apps, durations, strict=True):
            if elapsed < duration:
                return name
            elapsed -= duration
        return next(iter(self._apps))

    def _start_at(self, index: int, now: datetime) -> None:
        offset = sum(self._durations()[:index])
        self._loop_epoch = now - timedelta(seconds=offset)

    def _loop_changed(self, now: datetime) -> list[tuple[str, bytes, bool]]:
        self._loop_epoch = now
        loop = {name: i for i, name in enumerate(self._apps)}
        return [(f"{self.prefix}/stats/loop", json.dumps(loop, separators=(",", ":")).encode(), False)]

    # ---- drawing -------------------------------------------------------------------

    def _json(self, payload: bytes) -> Any:
        try:
            return json.loads(payload)
        except (UnicodeDecodeError, json.JSONDecodeError):
            return None

    def _render(self, spec: Mapping[str, Any], *, stale: bool) -> Image.Image:
        image = Image.new("RGB", (WIDTH, HEIGHT))
        if "background" in spec:
            image.paste(_colour(spec["background"]), (0, 0, WIDTH, HEIGHT))
        draw = ImageDraw.Draw(image)
        commands = spec.get("draw")
        for command in commands if isinstance(commands, list) else []:
            if not isinstance(command, dict) or len(command) != 1:
                self.ignored += 1
                continue
            ((key, args),) = command.items()
            if not isinstance(args, list) or not self._draw(image, draw, key, args):
                self.ignored += 1
        if stale:  # lifetimeMode 1: kept, with a red border
            draw.rectangle((0, 0, WIDTH - 1, HEIGHT - 1), outline=(255, 0, 0))
        return image

    @staticmethod
    def _draw(image: Image.Image, draw: ImageDraw.ImageDraw, key: str, args: list[Any]) -> bool:
        if key == "db":
            geometry = _ints(args, 4)
            if geometry is None or len(args) < 5 or not isinstance(args[4], list):
                return False
            x, y, w, h = geometry
            bitmap = args[4]
            for j in range(max(0, h)):
                for i in range(max(0, w)):
                    k = j * w + i
                    if k >= len(bitmap):
                        return True
                    value = bitmap[k]
                    px, py = x + i, y + j
                    if isinstance(value, int) and not isinstance(value, bool) and 0 <= px < WIDTH \
                            and 0 <= py < HEIGHT:
                        value &= 0xFFFFFF
                        image.putpixel((px, py), ((value >> 16) & 0xFF, (value >> 8) & 0xFF, value & 0xFF))
            return True
        shapes: dict[str, int] = {"dp": 2, "dl": 4, "dr": 4, "df": 4, "dc": 3, "dfc": 3}
        if key not in shapes:
            return False  # `dt` (text) and unknown commands are not drawn
        n = shapes[key]
        nums = _ints(args, n)
        if nums is None or len(args) < n + 1:
            return False
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
        return True


class MqttAwtrix:
    """The AWTRIX emulator on a real broker: its topics in, its replies and `stats` out.

    Like the device, it publishes `stats` on connecting and then periodically (not
    retained; its will is not retained either), and answers `/sendscreen` on `/screen`.
    """

    def __init__(self, device: AwtrixDevice, url: str, *, stats_every_s: float = 10.0,
                 credentials: tuple[str, str] | None = None) -> None:
        import paho.mqtt.client as mqtt

        self.device = device
        parts = url.split("//", 1)[1].rstrip("/")
        host, _, port = parts.rpartition(":")
        self._address = (host or "127.0.0.1", int(port or 1883))
        self._client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=device.prefix,
                                   protocol=mqtt.MQTTv311)
        if credentials is not None:  # the device's MQTT user and password (its settings page)
            self._client.username_pw_set(*credentials)
        self._client.on_connect = self._on_connect
        self._client.on_message = self._on_message
        self._outbox: list[tuple[str, bytes, bool]] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._stats_every = stats_every_s
        self._worker = threading.Thread(target=self._run, name=f"awtrix-{device.prefix}", daemon=True)

    def start(self) -> None:
        self._client.connect_async(*self._address)
        self._client.loop_start()
        self._worker.start()

    def wait_ready(self, timeout: float = 10.0) -> bool:
        return self._ready.wait(timeout)

    def stop(self, clean: bool = True) -> None:
        """Clean: DISCONNECT. Unclean: drop the connection (the device has no will; its stats stop)."""
        self._stop.set()
        self._worker.join(timeout=5)
        if clean:
            self._client.disconnect()
        self._client.loop_stop()
        if not clean:
            sock = self._client.socket()
            if sock is not None:
                sock.close()

    def _on_connect(self, client: Any, userdata: Any, flags: Any, reason: Any, properties: Any) -> None:
        client.subscribe(f"{self.device.prefix}/#", qos=1)
        with self._lock:
            self._outbox.append((f"{self.device.prefix}/stats", self.device.stats(), False))
        self._ready.set()

    def _on_message(self, client: Any, userdata: Any, message: Any) -> None:
        topic = message.topic
        own = (f"{self.device.prefix}/stats", f"{self.device.prefix}/screen")
        if topic.startswith(own):
            return  # what it published itself
        with self._lock:
            self._outbox.extend(self.device.on_message(topic, bytes(message.payload)))

    def _run(self) -> None:
        last_stats = 0.0
        while not self._stop.wait(0.02):
            with self._lock:
                out, self._outbox = self._outbox, []
            for topic, payload, retain in out:
                self._client.publish(topic, payload, qos=0, retain=retain)
            if self._ready.is_set() and time.monotonic() - last_stats > self._stats_every:
                last_stats = time.monotonic()
                self._client.publish(f"{self.device.prefix}/stats", self.device.stats(), qos=0)
