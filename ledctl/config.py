"""The deployment configuration: one TOML file, checked whole before anything runs.

Every problem names the file, the key path and the bad value, and says what is
expected. All problems are collected, so one run shows everything to fix.
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
import tomllib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import time
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ledctl.drivers import DRIVERS, Driver
from ledctl.errors import ConfigError
from ledctl.model import (
    DEFAULT_BOUNDS,
    Board,
    ColourMode,
    Group,
    Link,
    Site,
    Size,
    Source,
    Station,
    StationKind,
    Validation,
)
from ledctl.sources import SOURCE_TYPES
from ledctl.store import KEEP_DELIVERY_DAYS, KEEP_HEALTH_DAYS

DEFAULT_CONFIG = Path("config/zhenhai.toml")
ALL_GROUP = "all"  # every board belongs to it without saying so

_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
_SERIAL_URL = re.compile(r"^(socket://|rfc2217://|loop://|spy://|/dev/|COM[0-9]+$)")
_MQTT_URL = re.compile(r"^mqtts?://[^/:]+(:[0-9]{1,5})?/?$")
_HHMM = re.compile(r"^([01][0-9]|2[0-3]):([0-5][0-9])$")

T = TypeVar("T")
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True, slots=True)
class BrightnessStep:
    at: time
    percent: int
    groups: tuple[str, ...] = ()  # empty: every board


@dataclass(frozen=True, slots=True)
class ScreenTimes:
    """When the screens of some groups are on (off the rest of the day)."""

    on: time
    off: time
    groups: tuple[str, ...] = ()  # empty: every board


@dataclass(frozen=True, slots=True)
class Schedule:
    fetch: time = time(7, 30)
    broadcast: time = time(8, 0)
    data_max_age_hours: int = 36
    screen_on: time | None = None
    screen_off: time | None = None
    brightness: tuple[BrightnessStep, ...] = ()
    screens: tuple[ScreenTimes, ...] = ()  # per group; a board's last matching entry wins
    refresh: tuple[time, ...] = ()  # re-broadcasts with the newest data (same content: nothing sent)
    misfire_grace_minutes: int = 120  # a broadcast missed while down still runs this late
    health_every_minutes: int = 5
    reassert_every_minutes: int = 60


SLOT_KINDS = ("choice", "time", "number", "name", "text")


@dataclass(frozen=True, slots=True)
class SlotType:
    """What one template slot takes: `choice` one of `values` (a place from a list, a level), `time`
    a time of day or a span of one day ("9:00至12:00", "11月26日9:00"), `number` a number within
    [low, high], `name` a short name (letters and digits only, at most `max_chars`), `text` free
    wording (at most `max_chars`) — and a template with a `text` slot needs a second person."""

    kind: str
    values: tuple[str, ...] = ()  # choice
    max_chars: int = 12  # name, text
    low: Decimal | None = None  # number
    high: Decimal | None = None

    @property
    def free(self) -> bool:
        """Whoever fills it chooses the wording: the notice is no longer pre-approved."""
        return self.kind == "text"


@dataclass(frozen=True, slots=True)
class Template:
    """A pre-approved notice text with typed slots (see SlotType). Only a template whose every slot
    is typed is pre-approved wording that one person may publish; a free `text` slot makes it free
    text, approved by a second person."""

    id: str
    name: str
    level: str  # emergency | normal
    title: str
    text: str
    slots: Mapping[str, tuple[str, ...]]  # slot -> its choices (empty: typed in; see `types`)
    types: Mapping[str, SlotType] = field(default_factory=dict)  # slot -> what it takes

    @property
    def preapproved(self) -> bool:
        return not any(t.free for t in self.types.values())


@dataclass(frozen=True, slots=True)
class NoticeRules:
    banned_words: tuple[str, ...] = ()
    max_chars: int = 200
    default_share: float = 0.5  # a normal notice's share of the loop
    templates: Mapping[str, Template] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class CapRules:
    sender: str = "ledctl@localhost"  # the sender of exported alerts
    areas: Mapping[str, str] = field(default_factory=dict)  # areaDesc or geocode value -> group
    trusted_senders: tuple[str, ...] = ()  # their alerts publish without a second person
    feeds: tuple[str, ...] = ()  # polled by the service
    poll_minutes: int = 2


@dataclass(frozen=True, slots=True)
class StoreRules:
    """How long the store keeps what grows every day ([store]); see Store.prune."""

    keep_health_days: int = KEEP_HEALTH_DAYS  # health checks: the boards' availability
    keep_delivery_days: int = KEEP_DELIVERY_DAYS  # delivery attempts (displays: always two calendar years)


STAGE_ROLES = ("operator", "approver", "admin")  # who may act at a stage of the review chain (and above)


@dataclass(frozen=True, slots=True)
class Stage:
    """One stage of the review chain a notice goes through before it is approved ([[governance.stages]])."""

    id: str
    name: str  # as staff say it: 办公室审核
    role: str  # the least role that acts at this stage
    may_edit: bool = False  # may change the title and text (kept as a new revision, the change audited)
    confidentiality: bool = False  # whoever signs it off confirms the confidentiality review (保密审查)
    # Whether someone who already acted on the notice (drafted it or signed off an earlier stage) may
    # act here too. Never on the last stage: the two-person rule is the minimum every chain keeps.
    same_person: bool = False
    # "The department drafts or confirms it": a draft by a user with this stage's role signs it off.
    drafting_counts: bool = False


# Without [governance]: one approval by an approver who did not write the notice.
DEFAULT_STAGES = (Stage("approve", "审批", "approver"),)


@dataclass(frozen=True, slots=True)
class Governance:
    """The review chain of free-text notices ([governance]); see ledctl.notices.workflow."""

    stages: tuple[Stage, ...] = DEFAULT_STAGES


CHANNEL_KINDS = ("bulletin", "notice")  # what a channel can receive


@dataclass(frozen=True, slots=True)
class Channel:
    """A place the bureau's publications are pushed to ([[channels]]): a webhook that receives
    each bulletin and notice once, signed with HMAC-SHA256 (see ledctl/channels.py)."""

    name: str
    url: str
    receives: tuple[str, ...] = CHANNEL_KINDS
    secret_env: str = ""  # the environment variable holding the signing secret …
    secret_file: str = ""  # … or a file only its owner can read (mode 0600)


@dataclass(frozen=True, slots=True)
class AuditRules:
    """The audit log's key and anchors ([audit]; see ledctl.notices.audit)."""

    key_env: str = "LEDCTL_AUDIT_KEY"  # the environment variable holding the key …
    key_file: str = ""  # … or a file only its owner can read (absolute; checked when the config is read)
    anchor_file: str = ""  # where the head is appended after every change ("": STATE/audit-anchors)


@dataclass(frozen=True, slots=True)
class ConsoleRules:
    """The console behind a reverse proxy ([console])."""

    # The proxies whose X-Forwarded-For is believed (addresses or networks); from anyone else the
    # header is ignored, so a client cannot pick the address its failed logins are counted against.
    trusted_proxies: tuple[IPNetwork, ...] = ()


@dataclass(frozen=True)
class Deployment:
    """A checked configuration."""

    path: Path
    site: Site
    sources: Mapping[str, Source]
    stations: Mapping[str, Station]
    links: Mapping[str, Link]
    groups: Mapping[str, Group]
    boards: tuple[Board, ...]
    schedule: Schedule
    font_dirs: tuple[Path, ...] = field(default=())
    layouts_dir: Path = Path("config/layouts")
    validation: Validation = field(default_factory=Validation)
    notices: NoticeRules = field(default_factory=NoticeRules)
    governance: Governance = field(default_factory=Governance)
    cap: CapRules = field(default_factory=CapRules)
    store: StoreRules = field(default_factory=StoreRules)
    channels: tuple[Channel, ...] = ()
    console: ConsoleRules = field(default_factory=ConsoleRules)
    audit: AuditRules = field(default_factory=AuditRules)
    warnings: tuple[str, ...] = ()  # not wrong, but worth a look (config check prints them)

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.site.timezone)

    def source_chain(self, station_id: str) -> tuple[str, ...]:
        """The sources a station's figures may come from, in order: its own, then its fallbacks."""
        source = self.stations[station_id].source
        return (source, *self.sources[source].fallback) if source in self.sources else (source,)

    def with_sample_data(self) -> Deployment:
        """This deployment with every station reading the sample source (`sample = true`) instead:
        previews of a showcase day that work with or without the monitoring centre."""
        samples = [s for s in self.sources.values() if s.sample]
        if len(samples) != 1:
            found = ", ".join(s.name for s in samples) or "none"
            raise ConfigError([f"{self.path}: --sample-data needs exactly one source with sample = true "
                               f"(found: {found})"])
        name = samples[0].name
        stations = {sid: replace(st, source=name) for sid, st in self.stations.items()}
        return replace(self, stations=stations)

    def as_simulated(self) -> Deployment:
        """This deployment fed by a simulated monitoring centre (the demo): every source is marked
        as sample data, so every figure on a board says 示例数据."""
        return replace(self, sources={n: replace(s, sample=True) for n, s in self.sources.items()})

    def board(self, board_id: str) -> Board:
        for b in self.boards:
            if b.id == board_id:
                return b
        raise ConfigError([f"{self.path}: no board with id {board_id!r}"])

    def boards_in(self, group: str) -> tuple[Board, ...]:
        if group not in self.groups and group != ALL_GROUP:
            raise ConfigError([f"{self.path}: no group with id {group!r}"])
        if group == ALL_GROUP:
            return self.boards
        return tuple(b for b in self.boards if group in b.groups)


def secret_file_problem(path: Path) -> str:
    """Why `path` may not hold a secret ("" when it may): it must exist and be readable by its owner only."""
    try:
        mode = path.stat().st_mode
    except OSError:
        return f"an existing file holding the secret ({path} cannot be read)"
    if mode & 0o077:
        return f"a file only its owner can read: it is mode {mode & 0o777:04o}; run chmod 600 {path}"
    return ""


def default_config_path() -> Path:
    """`$LEDCTL_CONFIG`, then config/zhenhai.toml."""
    env = os.environ.get("LEDCTL_CONFIG")
    return Path(env) if env else DEFAULT_CONFIG


def load(path: str | os.PathLike[str] | None = None) -> Deployment:
    """Read and check a config file; raises ConfigError listing every problem."""
    file = Path(path) if path else default_config_path()
    try:
        raw = file.read_bytes()
    except FileNotFoundError:
        raise ConfigError([f"{file}: no such file (give -c FILE or set LEDCTL_CONFIG)"]) from None
    except OSError as e:
        raise ConfigError([f"{file}: cannot read: {e.strerror}"]) from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise ConfigError([f"{file}: not UTF-8 text; save it as UTF-8"]) from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError([f"{file}: not valid TOML: {e}"]) from None
    return parse(data, file)


def show(value: object) -> str:
    """A value as it would be written in TOML."""
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "{…}"
    return str(value)


class _Problems:
    def __init__(self, file: Path) -> None:
        self.file = file
        self.items: list[str] = []

    def bad(self, path: str, value: object, expected: str) -> None:
        self.items.append(f"{self.file}: {path} = {show(value)}: expected {expected}")

    def add(self, path: str, message: str) -> None:
        self.items.append(f"{self.file}: {path}: {message}")


_MISSING = object()


class _Table:
    """Typed access to one TOML table; whatever is not read is an unknown key."""

    def __init__(self, problems: _Problems, path: str, data: object) -> None:
        self.p = problems
        self.path = path
        self.ok = isinstance(data, dict)
        if not self.ok:
            problems.bad(path, data, "a table")
        self.data: dict[str, Any] = data if isinstance(data, dict) else {}
        self.read: set[str] = set()

    def key(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key

    def get(
        self,
        key: str,
        kind: type[T] | tuple[type, ...],
        expected: str,
        default: object = _MISSING,
        check: Callable[[Any], bool] | None = None,
    ) -> Any:
        self.read.add(key)
        if key not in self.data:
            if default is _MISSING:
                if self.ok:
                    self.p.add(self.key(key), f"missing; expected {expected}")
                return None
            return default
        value = self.data[key]
        kinds = kind if isinstance(kind, tuple) else (kind,)
        # TOML booleans are Python ints; a `true` is never a number here.
        good = isinstance(value, kind) and not (isinstance(value, bool) and bool not in kinds)
        if good and check is not None:
            good = check(value)
        if not good:
            self.p.bad(self.key(key), value, expected)
            return None
        return value

    def text(self, key: str, default: object = _MISSING) -> Any:
        return self.get(key, str, "a string", default, lambda v: v.strip() != "")

    def string_list(self, key: str, default: object = _MISSING) -> tuple[str, ...] | None:
        value = self.get(key, list, "a list of strings", default)
        if value is None:
            return None
        if not all(isinstance(v, str) for v in value):
            self.p.bad(self.key(key), value, "a list of strings")
            return None
        return tuple(value)

    def sub(self, key: str) -> Iterator[tuple[str, _Table]]:
        """The tables inside table `key` ([key.<name>]), by name."""
        self.read.add(key)
        inner = self.data.get(key, {})
        if not isinstance(inner, dict):
            self.p.bad(self.key(key), inner, "a table of named tables")
            return
        for name, value in inner.items():
            path = self.key(f"{key}.{name}")
            if not _ID.match(name):
                self.p.add(path, "ids are letters, digits, '-' and '_', at most 64 characters")
            yield name, _Table(self.p, path, value)

    def finish(self) -> None:
        for key in self.data:
            if key not in self.read:
                known = ", ".join(sorted(self.read)) or "no keys"
                self.p.add(self.key(key),
                           f"unknown key; expected one of: {known} (see README 'Configuration')")

    def skip_rest(self) -> None:
        """Stop checking keys: the table's type is unknown, so its keys cannot be judged."""
        self.read.update(self.data)


def _hhmm(table: _Table, key: str, default: object = _MISSING) -> time | None:
    value = table.get(key, str, 'a time of day "HH:MM" like "07:30"', default,
                      lambda v: bool(_HHMM.match(v)))
    if isinstance(value, str):
        return time(int(value[:2]), int(value[3:]))
    return value if isinstance(value, time) else None


def parse(data: dict[str, Any], file: Path) -> Deployment:
    p = _Problems(file)
    top = _Table(p, "", data)

    site_t = _Table(p, "site", data.get("site", {}))
    top.read.add("site")
    site_name = site_t.text("name")
    site_id = site_t.get("id", str, "an id of letters, digits, '-' and '_' (used in MQTT topics)", "site",
                         lambda v: bool(_ID.match(v)))
    tz = site_t.text("timezone", "Asia/Shanghai")
    if isinstance(tz, str):
        try:
            ZoneInfo(tz)
        except (ZoneInfoNotFoundError, ValueError, OSError):  # "Asia" is a folder, not a zone
            p.bad("site.timezone", tz, 'an IANA time zone like "Asia/Shanghai"')
            tz = None
    site_t.finish()

    sources: dict[str, Source] = {}
    for name, t in top.sub("sources"):
        kind = t.get("type", str, f"one of {', '.join(sorted(SOURCE_TYPES))}",
                     check=lambda v: v in SOURCE_TYPES)
        options: dict[str, object] = {}
        fallback = t.data.get("fallback", ())
        t.read.add("fallback")
        if isinstance(fallback, str):
            fallback = (fallback,)
        if not isinstance(fallback, list | tuple) or not all(isinstance(f, str) for f in fallback):
            p.bad(t.key("fallback"), fallback, "a source name or a list of them")
            fallback = ()
        sample = t.get("sample", bool, "true for synthetic sample data (demo and tests only)", False)
        if kind:
            options = SOURCE_TYPES[kind].options_from_config(t, file.parent)
        else:
            t.skip_rest()
        t.finish()
        sources[name] = Source(name, kind or "?", options, tuple(fallback), bool(sample))
    for name, source in sources.items():
        for other in source.fallback:
            if other not in sources or other == name:
                p.bad(f"sources.{name}.fallback", other,
                      f"another of the [sources] ({', '.join(s for s in sources if s != name)})")
            elif sources[other].sample and not source.sample:
                # Synthetic figures must never stand in for real ones on a public board.
                p.bad(f"sources.{name}.fallback", other,
                      f"a source of real data: {other} is sample data (sample = true), which belongs to "
                      "demos and tests; remove it from the fallback (the store's last good data stand in)")

    stations: dict[str, Station] = {}
    for sid, t in top.sub("stations"):
        sname = t.text("name")
        src = t.text("source")
        if isinstance(src, str) and src not in sources:
            p.bad(t.key("source"), src, f"one of the [sources] ({', '.join(sources) or 'none defined'})")
        location = t.text("location", "")
        kind = t.get("kind", str, '"air" or "water"', "air", lambda v: v in ("air", "water"))
        lake = t.get("lake", bool, "true for a lake or reservoir (water stations)", False)
        t.finish()
        stations[sid] = Station(sid, sname or sid, src or "?", location or "",
                                StationKind(kind or "air"), bool(lake))

    links: dict[str, Link] = {}
    for lname, t in top.sub("links"):
        url = t.text("url")
        if isinstance(url, str) and not (_SERIAL_URL.match(url) or _MQTT_URL.match(url)):
            p.bad(t.key("url"), url, 'a serial port ("/dev/ttyUSB0"), a DTU ("socket://host:port"), '
                  '"rfc2217://host:port" or a broker ("mqtt://host:1883")')
        baud = t.get("baud", int, "a baud rate like 9600", 9600, lambda v: 300 <= v <= 4_000_000)
        parity = t.get("parity", str, '"N", "E" or "O"', "N", lambda v: v in ("N", "E", "O"))
        timeout = t.get("timeout", (int, float), "seconds, more than 0", 2.0, lambda v: 0 < v <= 120)
        username = t.text("username", "")
        password_env = t.get("password_env", str, "the name of an environment variable", "",
                             lambda v: bool(re.match(r"^[A-Z_][A-Z0-9_]*$", v)))
        if "password" in t.data:
            t.read.add("password")
            p.add(t.key("password"), "passwords never go in the config; put it in an environment "
                                     "variable and name it with password_env")
        tls_ca = t.text("tls_ca", "")
        mqtt_version = t.get("mqtt_version", str, '"5" (the default; 3.1.1 where the broker refuses it) or '
                             '"3.1.1" (less work per message: for a partition of thousands of boards)',
                             "5", lambda v: v in ("5", "3.1.1"))
        password_file = t.text("password_file", "")
        secret_path = ""
        if password_file:
            secret_path = str(file.parent / password_file)
            problem = secret_file_problem(Path(secret_path))
            if problem:
                p.bad(t.key("password_file"), password_file, problem)
        t.finish()
        links[lname] = Link(lname, url or "", baud=baud or 9600, parity=parity or "N",
                            timeout_s=float(timeout or 2.0), username=username or "",
                            password_env=password_env or "", password_file=secret_path,
                            tls_ca=str(file.parent / tls_ca) if tls_ca else "",
                            mqtt_version=mqtt_version or "5")

    seen_urls: dict[str, str] = {}
    for lname, link in links.items():
        if link.transport != "serial" or not link.url:
            continue
        key = link.url.rstrip("/").lower()
        if key in seen_urls:
            p.bad(f"links.{lname}.url", link.url,
                  f"a wire of its own: links.{seen_urls[key]} has the same URL; boards on one wire "
                  "belong to one link (told apart by address)")
        seen_urls.setdefault(key, lname)

    groups: dict[str, Group] = {}
    for gid, t in top.sub("groups"):
        gname = t.text("name")
        desc = t.text("description", "")
        t.finish()
        groups[gid] = Group(gid, gname or gid, desc or "")

    boards = _boards(top, p, sources, stations, links, groups)
    schedule = _schedule(top, p, groups)

    font_dirs: tuple[Path, ...] = ()
    if "fonts" in data:
        fonts_t = _Table(p, "fonts", data["fonts"])
        top.read.add("fonts")
        dirs = fonts_t.string_list("paths", ())
        font_dirs = tuple((file.parent / d) for d in dirs or ())
        fonts_t.finish()

    validation = _validation(top, p)
    notices = _notices(top, p)
    governance = _governance(top, p)
    cap = _cap(top, p, groups)
    store = _store(top, p)
    channels = _channels(top, p, file)
    console = _console(top, p)
    audit = _audit(top, p, file)

    layouts_dir = file.parent / "layouts"
    if "layouts" in data:
        layouts_t = _Table(p, "layouts", data["layouts"])
        top.read.add("layouts")
        layouts_dir = file.parent / (layouts_t.text("dir", "layouts") or "layouts")
        layouts_t.finish()

    top.finish()
    if not boards and not p.items:
        p.add("boards", "no [[boards]] defined; a deployment needs at least one board")
    if p.items:
        raise ConfigError(p.items)
    return Deployment(
        path=file,
        site=Site(site_name, tz, site_id or "site"),
        sources=sources,
        stations=stations,
        links=links,
        groups=groups,
        boards=tuple(boards),
        schedule=schedule,
        font_dirs=font_dirs,
        layouts_dir=layouts_dir,
        validation=validation,
        notices=notices,
        governance=governance,
        cap=cap,
        store=store,
        channels=channels,
        console=console,
        audit=audit,
        warnings=tuple(_link_warnings(file, links)),
    )


def _channels(top: _Table, p: _Problems, file: Path) -> tuple[Channel, ...]:
    top.read.add("channels")
    raw = top.data.get("channels", [])
    if not isinstance(raw, list):
        p.bad("channels", raw, "an array of tables: [[channels]]")
        return ()
    out: list[Channel] = []
    for i, item in enumerate(raw):
        t = _Table(p, f"channels[{i}]", item)
        name = t.get("name", str, "an id of letters, digits, '-' and '_'", check=lambda v: bool(_ID.match(v)))
        if isinstance(name, str) and any(c.name == name for c in out):
            p.bad(t.key("name"), name, "a name no other channel has")
        url = t.get("url", str, 'an http:// or https:// URL, like "https://feeds.example/ledctl"',
                    check=lambda v: urlsplit(v).scheme in ("http", "https") and bool(urlsplit(v).hostname))
        receives = t.string_list("receives", CHANNEL_KINDS)
        if receives is not None and (not receives or not set(receives) <= set(CHANNEL_KINDS)):
            p.bad(t.key("receives"), list(receives), f"a non-empty list of {', '.join(CHANNEL_KINDS)}")
        secret_env = t.get("secret_env", str, "the name of an environment variable", "",
                           lambda v: bool(re.match(r"^[A-Z_][A-Z0-9_]*$", v)))
        secret_file = t.text("secret_file", "")
        if "secret" in t.data:
            t.read.add("secret")
            p.add(t.key("secret"), "secrets never go in the config; put it in an environment variable "
                                   "(secret_env) or a file only its owner can read (secret_file)")
        path = ""
        if secret_file:
            path = str(file.parent / secret_file)
            problem = secret_file_problem(Path(path))
            if problem:
                p.bad(t.key("secret_file"), secret_file, problem)
        if not secret_env and not secret_file and "secret" not in t.data:
            p.add(t.key("secret_env"), "missing; a channel's deliveries are signed: name an environment "
                  "variable (secret_env) or a 0600 file (secret_file) holding the secret")
        t.finish()
        if isinstance(name, str) and isinstance(url, str):
            out.append(Channel(name, url, tuple(receives or CHANNEL_KINDS), secret_env or "", path))
    return tuple(out)


def _audit(top: _Table, p: _Problems, file: Path) -> AuditRules:
    top.read.add("audit")
    t = _Table(p, "audit", top.data.get("audit", {}))
    if "key" in t.data:
        t.read.add("key")
        p.add(t.key("key"), "the audit key never goes in the config; put it in an environment variable "
                            "named by key_env, or in a file only its owner can read (key_file)")
    key_env = t.get("key_env", str, "the name of an environment variable", "LEDCTL_AUDIT_KEY",
                    lambda v: bool(re.match(r"^[A-Z_][A-Z0-9_]*$", v)))
    key_file = t.text("key_file", "")
    if key_file:
        key_file = str(file.parent / key_file)
        problem = secret_file_problem(Path(key_file))
        if problem:
            p.bad(t.key("key_file"), t.data["key_file"], problem)
    anchor_file = t.text("anchor_file", "")
    t.finish()
    return AuditRules(key_env or "LEDCTL_AUDIT_KEY", key_file or "",
                      str(file.parent / anchor_file) if anchor_file else "")


def _console(top: _Table, p: _Problems) -> ConsoleRules:
    top.read.add("console")
    t = _Table(p, "console", top.data.get("console", {}))
    proxies: list[IPNetwork] = []
    for i, text in enumerate(t.string_list("trusted_proxies", ()) or ()):
        try:
            proxies.append(ipaddress.ip_network(text, strict=False))
        except ValueError:
            p.bad(f"console.trusted_proxies[{i}]", text,
                  'an address or network like "127.0.0.1", "::1" or "127.0.0.0/8"')
    t.finish()
    return ConsoleRules(tuple(proxies))


def _store(top: _Table, p: _Problems) -> StoreRules:
    top.read.add("store")
    t = _Table(p, "store", top.data.get("store", {}))
    health = t.get("keep_health_days", int, "days, 1..3650", KEEP_HEALTH_DAYS, lambda v: 1 <= v <= 3650)
    delivery = t.get("keep_delivery_days", int, "days, 1..3650", KEEP_DELIVERY_DAYS, lambda v: 1 <= v <= 3650)
    t.finish()
    return StoreRules(health or KEEP_HEALTH_DAYS, delivery or KEEP_DELIVERY_DAYS)


_LOOPBACK = ("127.0.0.1", "localhost", "::1", "[::1]")


def _link_warnings(file: Path, links: Mapping[str, Link]) -> list[str]:
    """Broker links that anyone on the network could use or read: no login, or no TLS beyond this host."""
    out = []
    for link in links.values():
        if link.transport != "mqtt":
            continue
        host = urlsplit(link.url).hostname or ""
        if not link.username:
            out.append(f"{file}: links.{link.name}: no username: the broker must then accept anonymous "
                       "clients, and anyone who reaches it can read every board's program and publish a "
                       "forged one; give ledctl a user (and each board its own, with the per-board ACL)")
        if host not in _LOOPBACK and not link.url.startswith("mqtts://"):
            out.append(f"{file}: links.{link.name}: {link.url} is beyond this machine without TLS: passwords "
                       "and programs cross the network in clear; use mqtts:// with tls_ca")
    return out


def _notices(top: _Table, p: _Problems) -> NoticeRules:
    top.read.add("notices")
    t = _Table(p, "notices", top.data.get("notices", {}))
    banned = t.string_list("banned_words", ()) or ()
    max_chars = t.get("max_chars", int, "characters, 1..2000", 200, lambda v: 1 <= v <= 2000)
    share = t.get("share", float, "a share of the loop, 0.1..0.9", 0.5, lambda v: 0.1 <= v <= 0.9)
    templates: dict[str, Template] = {}
    for tid, tt in t.sub("templates"):
        name = tt.text("name")
        level = tt.get("level", str, "emergency or normal", "normal", lambda v: v in ("emergency", "normal"))
        title = tt.text("title")
        text = tt.text("text")
        types: dict[str, SlotType] = {}
        tt.read.add("slots")
        raw = tt.data.get("slots", {})
        if not isinstance(raw, dict):
            p.bad(tt.key("slots"), raw, 'a table of slot = ["choice", …], "time", "number", "name" or "text"')
            raw = {}
        for slot, kind in raw.items():
            slot_type = _slot_type(tt, p, slot, kind)
            if slot_type is not None:
                types[slot] = slot_type
        slots = {name: t.values for name, t in types.items()}
        for field_name, value in (("title", title), ("text", text)):
            for used in re.findall(r"{([^{}]*)}", value or ""):
                if used not in raw:
                    p.bad(tt.key(field_name), value, f"only declared slots ({', '.join(raw) or 'none'}); "
                          f"{{{used}}} is not one")
        tt.finish()
        templates[tid] = Template(tid, name or tid, level or "normal", title or "", text or "", slots, types)
    t.finish()
    return NoticeRules(tuple(banned), max_chars or 200, float(share or 0.5), templates)


def _governance(top: _Table, p: _Problems) -> Governance:
    top.read.add("governance")
    t = _Table(p, "governance", top.data.get("governance", {}))
    t.read.add("stages")
    raw = t.data.get("stages")
    t.finish()
    if raw is None:
        return Governance()
    if not isinstance(raw, list) or not raw:
        p.bad("governance.stages", raw, "a non-empty array of tables: [[governance.stages]]")
        return Governance()
    stages: list[Stage] = []
    for i, item in enumerate(raw):
        st = _Table(p, f"governance.stages[{i}]", item)
        sid = st.get("id", str, "an id of letters, digits, '-' and '_'", check=lambda v: bool(_ID.match(v)))
        if isinstance(sid, str) and any(s.id == sid for s in stages):
            p.bad(st.key("id"), sid, "an id no other stage has")
        name = st.text("name")
        role = st.get("role", str, f"one of {', '.join(STAGE_ROLES)}", check=lambda v: v in STAGE_ROLES)
        flags = {key: st.get(key, bool, "true or false", False)
                 for key in ("may_edit", "confidentiality", "same_person", "drafting_counts")}
        st.finish()
        if isinstance(sid, str) and isinstance(name, str) and isinstance(role, str):
            stages.append(Stage(sid, name, role, **{k: bool(v) for k, v in flags.items()}))
    if len(stages) != len(raw):
        return Governance()
    last, where = stages[-1], f"governance.stages[{len(stages) - 1}]"
    # The two-person rule is the floor any chain keeps: the last word is an approver's, and not the
    # word of anyone who already acted on the notice.
    if last.role == "operator":
        p.bad(f"{where}.role", last.role, "approver or admin: the last stage approves the notice")
    if last.same_person:
        p.add(f"{where}.same_person", "the last stage cannot be signed off by someone who already acted on "
              "the notice (the two-person rule); remove same_person there")
    if last.drafting_counts:
        p.add(f"{where}.drafting_counts",
              "the last stage cannot be signed off by drafting (the two-person rule)")
    for i, st in enumerate(stages):
        if st.drafting_counts and any(not s.drafting_counts for s in stages[:i]):
            p.add(f"governance.stages[{i}].drafting_counts",
                  "only the first stages can be signed off by drafting (a later one follows a review)")
    return Governance(tuple(stages))


_SLOT_EXPECTED = ('a list of the allowed values, "time", "number", "name", "text", or a table '
                  '{ kind = "name"|"text", max_chars = N } or { kind = "number", min = X, max = Y }')


def _slot_type(tt: _Table, p: _Problems, slot: str, kind: object) -> SlotType | None:
    """One slot's type from the config: a list (choose one), a kind by name, or a table with limits."""
    where = tt.key(f"slots.{slot}")
    if isinstance(kind, list):
        if kind and all(isinstance(k, str) and k.strip() and "{" not in k and "}" not in k for k in kind):
            return SlotType("choice", tuple(kind))
        p.bad(where, kind, "a non-empty list of the allowed values (texts without braces)")
        return None
    if isinstance(kind, str) and kind in ("time", "number", "name", "text"):
        return SlotType(kind, max_chars=60 if kind == "text" else 12)
    if not isinstance(kind, dict):
        p.bad(where, kind, _SLOT_EXPECTED)
        return None
    limits = _Table(p, where, kind)
    name = limits.get("kind", str, '"name", "text" or "number"',
                      check=lambda v: v in ("name", "text", "number"))
    if name in ("name", "text"):
        most = 60 if name == "text" else 12
        chars = limits.get("max_chars", int, f"characters, 1..{most}", most, lambda v: 1 <= v <= most)
        limits.finish()
        return SlotType(name, max_chars=chars or most)
    if name == "number":
        number = (int, float)
        low = limits.get("min", number, "a number", None)
        high = limits.get("max", number, "a number greater than min", None,
                          lambda v: low is None or v > low)
        limits.finish()
        return SlotType("number", low=None if low is None else Decimal(str(low)),
                        high=None if high is None else Decimal(str(high)))
    limits.skip_rest()
    limits.finish()
    return None


def _cap(top: _Table, p: _Problems, groups: Mapping[str, Group]) -> CapRules:
    top.read.add("cap")
    t = _Table(p, "cap", top.data.get("cap", {}))
    sender = t.get("sender", str, "an id without spaces or commas, like ledctl@bureau.example",
                   "ledctl@localhost", lambda v: bool(re.fullmatch(r"[^\s,<&]+", v)))
    areas: dict[str, str] = {}
    t.read.add("areas")
    raw = t.data.get("areas", {})
    if not isinstance(raw, dict):
        p.bad(t.key("areas"), raw, 'a table of "area description or geocode" = "group"')
        raw = {}
    for desc, group in raw.items():
        if group not in groups and group != ALL_GROUP:
            p.bad(t.key(f"areas.{desc}"), group, f"one of the [groups] ({', '.join(groups)})")
        else:
            areas[desc] = group
    trusted = t.string_list("trusted_senders", ()) or ()
    feeds = t.string_list("feeds", ()) or ()
    for i, url in enumerate(feeds):
        if not re.match(r"^https?://", url):
            p.bad(t.key(f"feeds[{i}]"), url, "an http:// or https:// URL")
    poll = t.get("poll_minutes", int, "minutes, 1..1440", 2, lambda v: 1 <= v <= 1440)
    t.finish()
    return CapRules(sender or "ledctl@localhost", areas, tuple(trusted), tuple(feeds), poll or 2)


def _boards(
    top: _Table,
    p: _Problems,
    sources: Mapping[str, Source],
    stations: Mapping[str, Station],
    links: Mapping[str, Link],
    groups: Mapping[str, Group],
) -> list[Board]:
    top.read.add("boards")
    raw = top.data.get("boards", [])
    if not isinstance(raw, list):
        p.bad("boards", raw, "an array of tables: [[boards]]")
        return []
    boards: list[Board] = []
    seen_ids: dict[str, int] = {}
    seen_addr: dict[tuple[str, int], int] = {}
    per_link: dict[str, list[tuple[int, str]]] = {}
    for i, item in enumerate(raw):
        t = _Table(p, f"boards[{i}]", item)
        bid = t.get("id", str, "an id of letters, digits, '-' and '_'",
                    check=lambda v: bool(_ID.match(v)))
        if isinstance(bid, str):
            if bid in seen_ids:
                p.bad(t.key("id"), bid, f"a unique id (boards[{seen_ids[bid]}] has it already)")
            seen_ids.setdefault(bid, i)
        name = t.text("name")
        location = t.text("location", "")
        area = t.text("area", "")
        size_text = t.get("size", str, "WIDTHxHEIGHT like 128x32")
        size: Size | None = None
        if isinstance(size_text, str):
            try:
                size = Size.parse(size_text)
            except ValueError:
                p.bad(t.key("size"), size_text, "WIDTHxHEIGHT like 128x32")
        colour_text = t.get("colour", str, '"mono-red", "red-green" or "full"',
                            check=lambda v: v in {c.value for c in ColourMode})
        colour = ColourMode(colour_text) if colour_text else None
        driver_name = t.get("driver", str, f"one of {', '.join(DRIVERS)}",
                            check=lambda v: v in DRIVERS)
        driver = DRIVERS[driver_name].spec if driver_name in DRIVERS else None
        link_name = t.text("link")
        link = links.get(link_name) if isinstance(link_name, str) else None
        if isinstance(link_name, str) and link is None:
            p.bad(t.key("link"), link_name, f"one of the [links] ({', '.join(links) or 'none defined'})")
        address = t.get("address", int, "an integer address", None)
        board_groups = t.string_list("groups", ()) or ()
        for g in board_groups:
            if g not in groups and g != ALL_GROUP:
                p.bad(t.key("groups"), g, f"one of the [groups] ({', '.join(groups)})")
        station = t.text("station")
        if isinstance(station, str):
            st = stations.get(station)
            if st is None:
                p.bad(t.key("station"), station, f"one of the [stations] ({', '.join(stations)})")
            elif st.kind is not StationKind.AIR:
                p.bad(t.key("station"), station, "an air-quality station (this one is kind = \"water\")")
        layout = t.get("layout", str, "the name of a layout in the layouts folder", "")
        topic = t.get("topic", str, "an MQTT topic prefix without spaces, + or # (awtrix3: its PREFIX)", "",
                      lambda v: bool(re.match(r"^[^\s+#]+$", v)))
        model = t.get("model", str, "the controller's model", "")
        options = _board_options(t, p, DRIVERS.get(driver_name) if isinstance(driver_name, str) else None)
        water = t.string_list("water_stations", ()) or ()
        for w in water:
            st = stations.get(w)
            if st is None or st.kind is not StationKind.WATER:
                p.bad(t.key("water_stations"), w, "a station with kind = \"water\"")
        t.finish()

        if driver and size and colour:
            if colour not in driver.colours:
                p.bad(t.key("colour"), colour.value,
                      f"a colour mode {driver.name} supports ({', '.join(sorted(driver.colours))})")
            else:
                problem = driver.size_problem(size, colour)
                if problem:
                    p.bad(t.key("size"), str(size), f"a size {driver.name} can drive: {problem}")
        if driver and link and link.transport != driver.transport:
            p.bad(t.key("link"), link.name,
                  f"a {driver.transport} link for driver {driver.name} (this link is {link.transport})")
        if driver and driver.needs_address:
            lo, hi = driver.address_range
            if address is None and "address" not in t.data:
                p.add(t.key("address"),
                      f"missing; expected an address {lo}..{hi} ({driver.name} boards are addressed)")
            elif address is not None and not lo <= address <= hi:
                p.bad(t.key("address"), address, f"an address {lo}..{hi} for {driver.name}")
                address = None
        elif driver and address is not None:
            p.bad(t.key("address"), address, f"no address: {driver.name} boards are not addressed")
        if driver and driver.models:
            if model and model not in driver.models:
                p.bad(t.key("model"), model, f"one of the {driver.name} models ({', '.join(driver.models)})")
                model = ""
            model = model or driver.models[0]
        elif driver and model:
            p.bad(t.key("model"), model, f"no model: {driver.name} boards are not told apart by model")
        if link and address is not None:
            prior = seen_addr.get((link.name, address))
            if prior is not None:
                p.bad(t.key("address"), address,
                      f"an address not used on link {link.name} (boards[{prior}] has it)")
            seen_addr.setdefault((link.name, address), i)
        if link and driver and link.transport == "serial":
            per_link.setdefault(link.name, []).append((i, driver.name))

        if bid and name and size and colour and driver_name and link_name and station:
            board = Board(
                id=bid, name=name, size=size, colour=colour, driver=driver_name, link=link_name,
                station=station, location=location or "", area=area or "", address=address,
                groups=tuple(board_groups), water_stations=tuple(water), layout=layout or "",
                topic=topic or "", model=model or "", **options,
            )
            problem = DRIVERS[driver_name].board_problem(board) if driver_name in DRIVERS else None
            if problem:
                p.add(t.key("model" if board.model else "driver"), problem)
            problem = DRIVERS[driver_name].link_problem(board, link) if link and driver else None
            if problem:
                p.add(t.key("link"), problem)
            boards.append(board)
    for link_name, members in per_link.items():
        lone = next((d for _, d in members if DRIVERS[d].spec.one_board_per_link), None)
        if lone is None or len(members) < 2:
            continue
        first = members[0][0]
        for i, _ in members[1:]:
            p.bad(f"boards[{i}].link", link_name,
                  f"a link of its own: {lone} boards have no addressing, so nothing can share "
                  f"their wire (boards[{first}] uses it)")
    return boards


# Board keys that only some drivers take (DriverSpec.options): each driver says what it expects.
_BOARD_OPTIONS: dict[str, tuple[type, str]] = {
    "pixel_order": (str, 'the order of the pixels on the wire, e.g. "top-left rows serpentine"'),
    "acknowledges": (bool, "true or false: whether the receiver answers the ping"),
    "loop": (str, '"host" or "card": who cycles the pages of a BX card\'s loop'),
}


def _board_options(t: _Table, p: _Problems, driver: type[Driver] | None) -> dict[str, Any]:
    """The driver-specific keys of one board (absent ones keep the Board defaults)."""
    out: dict[str, Any] = {}
    for key, (kind, expected) in _BOARD_OPTIONS.items():
        if key not in t.data:
            t.read.add(key)
            continue
        value = t.get(key, kind, expected)
        if value is None or driver is None:
            continue
        if key not in driver.spec.options:
            p.bad(t.key(key), value, f"no {key}: {driver.spec.name} boards do not take it")
        elif (problem := driver.option_problem(key, value)) is not None:
            p.bad(t.key(key), value, problem)
        else:
            out[key] = value.strip() if isinstance(value, str) else value
    return out


def _validation(top: _Table, p: _Problems) -> Validation:
    if "validation" not in top.data:
        return Validation()
    top.read.add("validation")
    t = _Table(p, "validation", top.data["validation"])
    show = t.get("show_last_valid", bool, "true or false", False)
    days = t.get("last_valid_days", int, "days, 1..60", 7, lambda v: 1 <= v <= 60)
    bulletin = t.get("bulletin", str, '"daily" or "hourly"', "daily", lambda v: v in ("daily", "hourly"))
    bounds = dict(DEFAULT_BOUNDS)
    t.read.add("bounds")
    raw = t.data.get("bounds", {})
    if not isinstance(raw, dict):
        p.bad("validation.bounds", raw, "a table of parameter = [low, high]")
        raw = {}
    for param, pair in raw.items():
        where = f"validation.bounds.{param}"
        if param not in DEFAULT_BOUNDS:
            p.bad(where, param, f"one of {', '.join(DEFAULT_BOUNDS)}")
            continue
        numbers = isinstance(pair, list) and all(
            isinstance(v, int | float) and not isinstance(v, bool) for v in pair)
        ok = numbers and len(pair) == 2 and pair[0] < pair[1]
        if not ok:
            p.bad(where, pair, "[low, high] with low < high, in the parameter's unit")
            continue
        bounds[param] = (Decimal(str(pair[0])), Decimal(str(pair[1])))
    t.finish()
    return Validation(bounds, bool(show), days or 7, bulletin or "daily")


def _tables(t: _Table, p: _Problems, key: str, path: str) -> Iterator[_Table]:
    """Each table of an array of tables ([[path]]); anything else there is reported."""
    t.read.add(key)
    raw = t.data.get(key, [])
    if not isinstance(raw, list):
        p.bad(t.key(key), raw, f"an array of tables: [[{path}]]")
        return
    for i, item in enumerate(raw):
        yield _Table(p, f"{path}[{i}]", item)


def _groups_of(t: _Table, p: _Problems, groups: Mapping[str, Group]) -> tuple[str, ...]:
    """The `groups` a table applies to (empty: every board), each checked to exist."""
    named = t.string_list("groups", ()) or ()
    for g in named:
        if g not in groups and g != ALL_GROUP:
            p.bad(t.key("groups"), g, f"one of the [groups] ({', '.join(groups)})")
    return tuple(named)


def _schedule(top: _Table, p: _Problems, groups: Mapping[str, Group]) -> Schedule:
    top.read.add("schedule")
    t = _Table(p, "schedule", top.data.get("schedule", {}))
    fetch = _hhmm(t, "fetch", time(7, 30))
    broadcast = _hhmm(t, "broadcast", time(8, 0))
    max_age = t.get("data_max_age_hours", int, "hours, 1..240", 36, lambda v: 1 <= v <= 240)
    screen_on = _hhmm(t, "screen_on", None)
    screen_off = _hhmm(t, "screen_off", None)
    screens: list[ScreenTimes] = []
    for st in _tables(t, p, "screen", "schedule.screen"):
        on, off = _hhmm(st, "on"), _hhmm(st, "off")
        screen_groups = _groups_of(st, p, groups)
        if on is not None and off is not None and on == off:
            p.bad(st.key("off"), off.strftime("%H:%M"), "a time other than on (it would never be off)")
        st.finish()
        if on is not None and off is not None:
            screens.append(ScreenTimes(on, off, tuple(screen_groups)))
    refresh: list[time] = []
    for i, raw_time in enumerate(t.string_list("refresh", ()) or ()):
        if _HHMM.match(raw_time):
            refresh.append(time(int(raw_time[:2]), int(raw_time[3:])))
        else:
            p.bad(f"schedule.refresh[{i}]", raw_time, 'a time of day "HH:MM" like "12:00"')
    grace = t.get("misfire_grace_minutes", int, "minutes, 0..1440", 120, lambda v: 0 <= v <= 1440)
    health = t.get("health_every_minutes", int, "minutes, 1..1440", 5, lambda v: 1 <= v <= 1440)
    reassert = t.get("reassert_every_minutes", int, "minutes, 1..1440", 60, lambda v: 1 <= v <= 1440)
    steps: list[BrightnessStep] = []
    for s in _tables(t, p, "brightness", "schedule.brightness"):
        at = _hhmm(s, "at")
        percent = s.get("percent", int, "a brightness in percent, 1..100", check=lambda v: 1 <= v <= 100)
        step_groups = _groups_of(s, p, groups)
        s.finish()
        if at is not None and percent is not None:
            steps.append(BrightnessStep(at, percent, tuple(step_groups)))
    t.finish()
    return Schedule(
        fetch=fetch or time(7, 30),
        broadcast=broadcast or time(8, 0),
        data_max_age_hours=max_age or 36,
        screen_on=screen_on,
        screen_off=screen_off,
        brightness=tuple(sorted(steps, key=lambda s: s.at)),
        screens=tuple(screens),
        refresh=tuple(sorted(set(refresh))),
        misfire_grace_minutes=120 if grace is None else grace,
        health_every_minutes=health or 5,
        reassert_every_minutes=reassert or 60,
    )
