"""Readings from a monitoring centre's HTTP JSON interface, mapped field by field in the config.

    [sources.centre]
    type = "http"
    url = "http://127.0.0.1:17200/api/daily"   # http:// or https:// only
    records = "data.records"        # dotted path to the list of records; "" = the document is the list
    station = "stationCode"         # path inside a record to the station id
    time = "date"                   # path: "YYYY-MM-DD" (a daily mean) or an ISO 8601 date-time
    period = "24h"                  # "24h", "1h" or "8h"; or "@path" to read it from each record
    timezone = "Asia/Shanghai"      # for dates and date-times without an offset (default)
    timeout = 10                    # seconds for a whole request, body included (default 10)
    retries = 3                     # extra attempts on timeout, connection error, 5xx and 429 (default 3)
    backoff = 1                     # first wait between attempts in seconds, doubled each time (default 1)
    auth_header = "Authorization"   # optional: a header …
    auth_env = "LEDCTL_CENTRE_TOKEN"  # … whose value comes from this environment variable
    auth_scheme = "Bearer"          # optional: sent as "Bearer <value>"
    fields = { pm25 = "pm2_5", co = { path = "co", unit = "mg/m3" } }  # parameter = path, or {path, unit}
    stations = { "镇海城区" = "zh-urban" }  # optional: the feed's station names → config ids
    placeholders = ["", "-", "—", "_"]      # optional: texts that mean "not measured" (these are the default)
    ignore_offset = false           # true: the feed labels local clock times as UTC; read them in `timezone`

A long mapping reads better as its own table (TOML inline tables must fit on one line):

    [sources.centre.fields]
    pm25 = "pm2_5"
    co = { path = "co", unit = "mg/m3" }
    no2 = { path = "no2.v", unit = "@no2.u" }

Paths are dotted keys into JSON objects; a numeric step indexes a list ("results.0.value").
A key that itself holds a dot, like "pm2.5", is found as it is (the longest key that matches
wins). A path starting with "$." starts at the document, not the record: a feed that stamps
the whole document once (`time = "$.data.pubtime"`). A field's unit defaults to the
parameter's canonical unit; "@path" reads the unit from each record. Gases in ppb or ppm are
converted at GB 3095's reference state (298.15 K, 101.325 kPa; see sources/base.py).

Times may be ISO 8601 dates or date-times, "YYYY/MM/DD hh:mm:ss" (or with "-" and a space),
or epoch seconds / milliseconds (numbers or digit strings; ≥ 10¹¹ is read as milliseconds).
Clock times without an offset are read in `timezone`.

A field whose value is null, or one of `placeholders`, was not measured: the reading simply
lacks it. Each record is judged alone: a record with a field missing, a value that is not a
number 0 or more, or a time that cannot be read is refused with its reason (`ledctl data show`
lists them), and the other records are read as usual. With `stations`, records of stations
the map does not name are skipped (a city feed lists many). Records are counted from 0.

Secrets never come from the config file, and never appear in a message or a log line: the
header value is read from the environment when the source is read. Redirects are followed
only to the same scheme, host and port, so a credential is never sent to another server.

The HTTP helpers here (`HttpSettings`, `fetch_json`, `http_options`) are shared by the
OpenAQ and WAQI source types.
"""

from __future__ import annotations

import json
import logging
import os
import re
import time as time_mod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ledctl import __version__, net
from ledctl.errors import DataError
from ledctl.model import Reading, Rejection
from ledctl.sources.base import CANONICAL_UNITS, Fetched, to_canonical

if TYPE_CHECKING:
    from ledctl.config import _Table

log = logging.getLogger("ledctl.sources.http")

PERIODS = ("24h", "1h", "8h")
RETRY_AFTER_CAP_S = 60.0  # never wait longer than this for one Retry-After
MAX_BODY_BYTES = 16 * 1024 * 1024  # a feed larger than this is refused, not read into memory
DEFAULT_PLACEHOLDERS = ("", "-", "—", "–", "_", "--", "NA", "N/A", "/")
_ENV_NAME_CHARS = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_")

Sleep = Callable[[float], None]


# -- shared HTTP plumbing --------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class HttpSettings:
    """How patiently to ask: per-request timeout, extra attempts, first backoff wait."""

    timeout_s: float = 10.0
    retries: int = 3
    backoff_s: float = 1.0

    @classmethod
    def from_options(cls, options: Mapping[str, object]) -> HttpSettings:
        return cls(
            timeout_s=float(str(options.get("timeout", 10.0))),
            retries=int(str(options.get("retries", 3))),
            backoff_s=float(str(options.get("backoff", 1.0))),
        )


def http_options(table: _Table) -> dict[str, object]:
    """The keys every HTTP source type shares: timeout, retries, backoff."""
    timeout = table.get("timeout", (int, float), "seconds per request, more than 0 and at most 300", 10,
                        lambda v: 0 < v <= 300)
    retries = table.get("retries", int, "extra attempts, 0..10", 3, lambda v: 0 <= v <= 10)
    backoff = table.get("backoff", (int, float), "seconds before the first retry, 0..60", 1,
                        lambda v: 0 <= v <= 60)
    return {"timeout": timeout, "retries": retries, "backoff": backoff}


def http_url(table: _Table, key: str, default: object = None) -> str | None:
    """A key holding an http:// or https:// URL with a host."""
    args: tuple[object, ...] = () if default is None else (default,)
    value = table.get(key, str, 'an http:// or https:// URL like "https://host/path"', *args,
                      check=_is_web_url)
    return value if isinstance(value, str) else None


def env_name(table: _Table, key: str, default: object = None) -> str | None:
    """A key naming an environment variable (never the secret itself)."""
    args: tuple[object, ...] = () if default is None else (default,)
    value = table.get(key, str, "the NAME of an environment variable (letters, digits, '_')", *args,
                      check=lambda v: v != "" and set(v) <= _ENV_NAME_CHARS and not v[0].isdigit())
    return value if isinstance(value, str) else None


def secret_from_env(source: str, key: str, env: str) -> str:
    value = os.environ.get(env, "").strip()
    if not value:
        raise DataError(f"source {source}: {key} {env} is not set; "
                        f"export {env} with the credential before running ledctl")
    return value


def _is_web_url(url: str) -> bool:
    try:
        parts = urlsplit(url)
        _ = parts.port  # raises ValueError for a port that is not a number 0..65535
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def public_url(url: str, secrets: Sequence[str] = ()) -> str:
    """`url` as it may be shown: no user:password, no query (it may hold a token), no secrets."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return "(an invalid URL)"
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = f"{host}:{port}" if port else host
    query = "…" if parts.query else ""
    return redact(urlunsplit((parts.scheme, netloc, parts.path, query, "")), secrets)


def redact(text: str, secrets: Sequence[str]) -> str:
    for s in secrets:
        if s:
            text = text.replace(s, "***")
    return text


@dataclass(frozen=True, slots=True)
class _Failure:
    what: str  # "answered 503 Service Unavailable", "timed out after 10 s", …
    retry: bool
    wait_s: float | None = None  # from Retry-After
    status: int = 0  # the HTTP status, when the server answered


def fetch_json(
    source: str,
    url: str,
    *,
    settings: HttpSettings,
    headers: Mapping[str, str] | None = None,
    secrets: Sequence[str] = (),
    refused: str = "",
    sleep: Sleep = time_mod.sleep,
) -> Any:
    """GET `url` and parse its JSON body, retrying what may pass; raises DataError naming `source`.

    Retried: timeouts, connection errors, 5xx and 429, up to `settings.retries` extra attempts,
    waiting backoff, 2×backoff, 4×backoff … or, on 429/503, the server's Retry-After in seconds
    (at most RETRY_AFTER_CAP_S). `refused` replaces the message for 401/403. Nothing in
    `secrets` (nor the URL's query or password) ever appears in a message or a log line.
    """
    if not _is_web_url(url):
        raise DataError(f"source {source}: {public_url(url, secrets)} is not an http:// or https:// URL")
    shown = public_url(url, secrets)
    request_headers = {"Accept": "application/json", "User-Agent": f"ledctl/{__version__}",
                       **(headers or {})}
    attempts = settings.retries + 1
    for attempt in range(1, attempts + 1):
        result = _attempt(url, request_headers, settings.timeout_s, secrets)
        if not isinstance(result, _Failure):
            return _parse_json(source, shown, result)
        if result.status in (401, 403) and refused:
            raise DataError(f"source {source}: {refused} ({shown} {result.what})")
        if not result.retry or attempt == attempts:
            tries = ""
            if attempt > 1:
                tries = f" after {attempt} attempts" if result.status else f" ({attempt} attempts)"
            raise DataError(f"source {source}: {shown} {result.what}{tries}")
        wait = result.wait_s if result.wait_s is not None else settings.backoff_s * 2 ** (attempt - 1)
        log.warning("source %s: %s %s; attempt %d of %d, retrying in %g s",
                    source, shown, result.what, attempt, attempts, wait)
        sleep(wait)
    raise AssertionError("unreachable")  # pragma: no cover


def _attempt(url: str, headers: Mapping[str, str], timeout: float,
             secrets: Sequence[str]) -> bytes | _Failure:
    """One GET, bounded as a whole by `timeout` (a trickling server cannot hold it longer)."""
    try:
        return net.get(url, limits=net.Limits(timeout, MAX_BODY_BYTES), headers=headers)
    except net.FetchFailed as e:
        failure = e
    status, reply, what = failure.status, failure.headers, failure.what
    if not status:
        return _Failure(redact(what, secrets), failure.retry)
    retry_after = reply.get("Retry-After") if reply else None
    location = reply.get("Location", "") if reply else ""
    reset = reply.get("x-ratelimit-reset") if reply else None
    if status == 429 and retry_after is None and reset is not None:
        # OpenAQ sends no Retry-After, but says in x-ratelimit-reset how many seconds are left in
        # its rate-limit window: retrying sooner only spends the next window's budget.
        wait = _retry_after(reset, cap=float("inf"))
        if wait is not None and wait > RETRY_AFTER_CAP_S:
            return _Failure(f"{what}: its rate limit resets in {wait:g} s; asked again at the next "
                            "fetch", False, status=status)
        return _Failure(what, True, wait, status)
    if 300 <= status < 400 and location:
        return _Failure(f"{what}: a redirect to {public_url(location, secrets)}, "
                        "not followed to another server; put the final URL in the config", False,
                        status=status)
    if status == 429 or status >= 500:
        wait = _retry_after(retry_after) if status in (429, 503) else None
        return _Failure(what, True, wait, status)
    return _Failure(what, False, status=status)


def _retry_after(value: str | None, cap: float = RETRY_AFTER_CAP_S) -> float | None:
    """Retry-After in seconds (the HTTP-date form is not used: our own backoff applies)."""
    if value is None:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        return None
    if seconds != seconds or seconds < 0 or seconds == float("inf"):  # NaN, negative or endless
        return None
    return min(seconds, cap)


def _parse_json(source: str, shown: str, body: bytes) -> Any:
    try:
        return json.loads(body)
    except json.JSONDecodeError as e:
        raise DataError(f"source {source}: {shown} is not valid JSON: {e.msg} at line {e.lineno} "
                        f"column {e.colno}") from None
    except UnicodeDecodeError:
        raise DataError(f"source {source}: {shown} is not valid JSON: not UTF-8 text") from None


# -- values and paths ------------------------------------------------------------------------------

_ABSENT = object()


def lookup(doc: Any, path: str) -> Any:
    """The value at a dotted `path` in `doc`, or _ABSENT. "" is the document itself.

    A key holding dots ("pm2.5") is found as it is: at each level the longest run of steps
    that names a key wins, so "data.pm2.5" reaches {"data": {"pm2.5": 31}}.
    """
    node = doc
    steps = path.split(".") if path else []
    i = 0
    while i < len(steps):
        if isinstance(node, dict):
            for j in range(len(steps), i, -1):
                key = ".".join(steps[i:j])
                if key in node:
                    node, i = node[key], j
                    break
            else:
                return _ABSENT
        elif isinstance(node, list) and steps[i].isdigit() and int(steps[i]) < len(node):
            node, i = node[int(steps[i])], i + 1
        else:
            return _ABSENT
    return node


def is_absent(value: object) -> bool:
    return value is _ABSENT


def concentration(raw: object, where: str, placeholders: Sequence[str] = ("",)) -> Decimal | None:
    """A JSON value as a concentration: None when not measured (null, or one of `placeholders`)."""
    if raw is None or (isinstance(raw, str) and raw.strip() in placeholders):
        return None
    if isinstance(raw, bool) or not isinstance(raw, int | float | str):
        raise DataError(f"{where}: {json.dumps(raw, ensure_ascii=False)} is not a number")
    try:
        value = Decimal(str(raw).strip())
    except InvalidOperation:
        raise DataError(f"{where}: {str(raw)!r} is not a number") from None
    if not value.is_finite() or value < 0:
        raise DataError(f"{where}: {str(raw)!r} is not a concentration (a number 0 or more)")
    return value


# -- the generic source ----------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class FieldMap:
    path: str
    unit: str  # a unit, or "@path" to read it from the record


@dataclass
class HttpJsonSource:
    name: str
    url: str
    fields: Mapping[str, FieldMap]
    station: str = "station"
    time: str = "date"
    records: str = ""
    period: str = "24h"  # or "@path"
    timezone: str = "Asia/Shanghai"
    auth_header: str = ""
    auth_env: str = ""
    auth_scheme: str = ""
    stations: Mapping[str, str] = field(default_factory=dict)  # the feed's station names → config ids
    placeholders: tuple[str, ...] = DEFAULT_PLACEHOLDERS
    ignore_offset: bool = False
    settings: HttpSettings = field(default_factory=HttpSettings)
    sleep: Sleep = time_mod.sleep

    @classmethod
    def options_from_config(cls, table: _Table, base: Path) -> dict[str, object]:
        url = http_url(table, "url")
        records = table.get("records", str, 'a dotted path like "data.records" ("" = the whole document)', "")
        station = table.text("station")
        when = table.text("time")
        period = table.get("period", str, 'one of "24h", "1h", "8h", or "@path" to read it from each record',
                           "24h", lambda v: v in PERIODS or (v.startswith("@") and len(v) > 1))
        tz = table.text("timezone", "Asia/Shanghai")
        if isinstance(tz, str):
            try:
                ZoneInfo(tz)
            except (ZoneInfoNotFoundError, ValueError, OSError):
                table.p.bad(table.key("timezone"), tz, 'an IANA time zone like "Asia/Shanghai"')
        auth_header = table.get("auth_header", str, 'a header name like "Authorization"', "",
                                lambda v: v != "" and all(c.isalnum() or c in "-_" for c in v))
        auth_env = env_name(table, "auth_env", "")
        auth_scheme = table.get("auth_scheme", str, 'a word like "Bearer"', "",
                                lambda v: v.strip() != "" and " " not in v.strip())
        if bool(auth_header) != bool(auth_env):
            missing = "auth_env" if auth_header else "auth_header"
            table.p.add(table.key(missing), "missing; auth_header and auth_env go together "
                        "(the header's value is read from that environment variable)")
        if auth_scheme and not auth_header:
            table.p.add(table.key("auth_scheme"), "needs auth_header and auth_env")
        stations = table.get("stations", dict, 'a table of the feed\'s station name = station id, like '
                             '{ "镇海城区" = "zh-urban" }', {},
                             lambda v: all(isinstance(x, str) and x.strip() for x in v.values()))
        placeholders = table.get("placeholders", list, 'texts meaning "not measured", like ["-", "—"]',
                                 list(DEFAULT_PLACEHOLDERS), lambda v: all(isinstance(x, str) for x in v))
        ignore_offset = table.get("ignore_offset", bool,
                                  "true when the feed labels local clock times as UTC", False)
        fields = _fields(table)
        return {
            "url": url, "records": records, "station": station, "time": when, "period": period,
            "timezone": tz, "auth_header": auth_header or "", "auth_env": auth_env or "",
            "auth_scheme": (auth_scheme or "").strip(), "fields": fields,
            "stations": dict(stations or {}), "placeholders": list(placeholders or []),
            "ignore_offset": bool(ignore_offset), **http_options(table),
        }

    @classmethod
    def from_options(cls, name: str, options: Mapping[str, object], *,
                     sleep: Sleep = time_mod.sleep) -> HttpJsonSource:
        raw_fields = options.get("fields")
        fields: dict[str, FieldMap] = {}
        if isinstance(raw_fields, Mapping):
            for param, spec in raw_fields.items():
                if isinstance(spec, Mapping):
                    fields[str(param)] = FieldMap(str(spec["path"]),
                                                  str(spec.get("unit") or CANONICAL_UNITS[str(param)]))
                else:
                    fields[str(param)] = FieldMap(str(spec), CANONICAL_UNITS[str(param)])
        stations = options.get("stations")
        placeholders = options.get("placeholders")
        if not isinstance(placeholders, list | tuple):
            placeholders = DEFAULT_PLACEHOLDERS
        return cls(
            name=name,
            url=str(options["url"]),
            fields=fields,
            station=str(options.get("station", "station")),
            time=str(options.get("time", "date")),
            records=str(options.get("records", "") or ""),
            period=str(options.get("period", "24h")),
            timezone=str(options.get("timezone", "Asia/Shanghai")),
            auth_header=str(options.get("auth_header", "") or ""),
            auth_env=str(options.get("auth_env", "") or ""),
            auth_scheme=str(options.get("auth_scheme", "") or ""),
            stations={str(k): str(v) for k, v in stations.items()} if isinstance(stations, Mapping) else {},
            placeholders=tuple(str(p).strip() for p in placeholders),
            ignore_offset=bool(options.get("ignore_offset", False)),
            settings=HttpSettings.from_options(options),
            sleep=sleep,
        )

    def fetch(self) -> Fetched:
        headers: dict[str, str] = {}
        secrets: list[str] = []
        refused = ""
        if self.auth_header:
            secret = secret_from_env(self.name, "auth_env", self.auth_env)
            secrets.append(secret)
            headers[self.auth_header] = f"{self.auth_scheme} {secret}" if self.auth_scheme else secret
            refused = f"the credential in ${self.auth_env} was refused"
        doc = fetch_json(self.name, self.url, settings=self.settings, headers=headers, secrets=secrets,
                         refused=refused, sleep=self.sleep)
        try:
            fetched = self._parse(doc)
        except DataError as e:
            raise DataError(redact(str(e), secrets)) from None
        rejected = [replace(r, reason=redact(r.reason, secrets)) for r in fetched.rejected]
        return Fetched(fetched.readings, rejected)

    def _parse(self, doc: Any) -> Fetched:
        shown = public_url(self.url)
        items = lookup(doc, self.records)
        if not isinstance(items, list):
            where = f"at {self.records!r}" if self.records else "at the top"
            found = "nothing" if is_absent(items) else f"a JSON {_kind(items)}"
            raise DataError(f"source {self.name}: {shown}: expected a list of records {where}, found {found}")
        tz = ZoneInfo(self.timezone)
        out: list[Reading] = []
        rejected: list[Rejection] = []
        for i, record in enumerate(items):
            station = ""
            start: datetime | None = None
            try:
                station = self._station(doc, record, i)
                if station is None:
                    continue  # a station of the feed that this deployment does not show
                where = f"source {self.name}: record {i} (station {station})"
                start, period = self._when(doc, record, tz, where)
                out.append(Reading(station, start, period, self._values(doc, record, where)))
            except DataError as e:
                rejected.append(Rejection(station or "", start, str(e), self.name))
        return Fetched(out, rejected)

    def _station(self, doc: Any, record: Any, i: int) -> str | None:
        where = f"source {self.name}: record {i}"
        if not isinstance(record, dict):
            raise DataError(f"{where}: expected an object, found a JSON {_kind(record)}")
        raw = self._required(doc, record, self.station, where)
        if not isinstance(raw, str | int) or isinstance(raw, bool) or str(raw).strip() == "":
            raise DataError(f"{where}: station (path {self.station}) {json.dumps(raw, ensure_ascii=False)} "
                            "is not a station id")
        name = str(raw).strip()
        if self.stations:
            return self.stations.get(name)
        return name

    def _values(self, doc: Any, record: Mapping[str, Any], where: str) -> dict[str, Decimal]:
        values: dict[str, Decimal] = {}
        for param, spec in self.fields.items():
            raw = self._required(doc, record, spec.path, where)
            value = concentration(raw, f"{where}: field {spec.path!r} for {param}", self.placeholders)
            if value is None:
                continue
            unit = spec.unit
            if unit.startswith("@"):
                unit_raw = self._required(doc, record, unit[1:], where)
                if not isinstance(unit_raw, str) or not unit_raw.strip():
                    raise DataError(f"{where}: unit of {param} (path {unit[1:]}) "
                                    f"{json.dumps(unit_raw, ensure_ascii=False)} is not a unit")
                unit = unit_raw
            values[param] = to_canonical(param, value, unit, where)
        return values

    @staticmethod
    def _required(doc: Any, record: Mapping[str, Any], path: str, where: str) -> Any:
        root, path = (doc, path[2:]) if path.startswith("$.") else (record, path)
        value = lookup(root, path)
        if is_absent(value):
            raise DataError(f"{where}: missing field {path.rsplit('.', 1)[-1]!r} (path {path})")
        return value

    def _when(self, doc: Any, record: Mapping[str, Any], tz: ZoneInfo, where: str) -> tuple[datetime, str]:
        if self.period.startswith("@"):
            period = self._required(doc, record, self.period[1:], where)
            if period not in PERIODS:
                shown = json.dumps(period, ensure_ascii=False)
                raise DataError(f"{where}: period (path {self.period[1:]}) {shown} "
                                f"is not one of {', '.join(PERIODS)}")
        else:
            period = self.period
        raw = self._required(doc, record, self.time, where)
        start, date_only = parse_time(raw, tz, f"{where}: time (path {self.time})",
                                      ignore_offset=self.ignore_offset)
        if date_only and period != "24h":
            raise DataError(f"{where}: a date without a time of day ({raw!r}) fits only period 24h, "
                            f"not {period}")
        return start, period


_SLASHED = re.compile(r"^(\d{4})/(\d{1,2})/(\d{1,2})(?:[ T](\d{1,2}):(\d{2})(?::(\d{2}))?)?$")


def parse_time(raw: object, tz: ZoneInfo, where: str, *,
               ignore_offset: bool = False) -> tuple[datetime, bool]:
    """A feed's time as an aware datetime, and whether it was a date without a time of day.

    Accepts ISO 8601 dates and date-times ("2026-11-24", "2026-11-24 15:00:00", with or without an
    offset), "YYYY/MM/DD[ hh:mm[:ss]]", and epoch seconds or milliseconds (a number or a string of
    digits; 10¹¹ and more is milliseconds, as no feed reports from the year 5138).
    """
    if isinstance(raw, bool) or not isinstance(raw, str | int | float):
        raise DataError(f"{where} {json.dumps(raw, ensure_ascii=False)} is not a date or date-time")
    text = str(raw).strip()
    if isinstance(raw, int | float) or text.isdigit():
        try:
            number = Decimal(text)
            seconds = number / 1000 if number >= 10**11 else number
            moment = datetime.fromtimestamp(float(seconds), UTC)
        except (InvalidOperation, OverflowError, OSError, ValueError):
            raise DataError(f"{where} {text!r} is not an epoch time in seconds or milliseconds") from None
        return moment.astimezone(tz), False
    m = _SLASHED.match(text)
    if m:
        y, mo, d, hh, mm, ss = m.groups()
        try:
            moment = datetime(int(y), int(mo), int(d), int(hh or 0), int(mm or 0), int(ss or 0), tzinfo=tz)
        except ValueError:
            raise DataError(f"{where} {text!r} is not a real date") from None
        return moment, hh is None
    if len(text) == 10:
        try:
            return datetime.combine(date.fromisoformat(text), time(0), tz), True
        except ValueError:
            raise DataError(f"{where} {raw!r} is not YYYY-MM-DD") from None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise DataError(f"{where} {raw!r} is not a date or time ledctl reads: YYYY-MM-DD, ISO 8601 "
                        "like 2026-11-24T15:00+08:00, YYYY/MM/DD hh:mm:ss, or epoch seconds/milliseconds"
                        ) from None
    if moment.tzinfo is None or ignore_offset:
        moment = moment.replace(tzinfo=tz)
    return moment, False


def _fields(table: _Table) -> dict[str, dict[str, str]] | None:
    expected = 'a table of parameter = "path" or { path = "...", unit = "..." }'
    raw = table.get("fields", dict, expected)
    if raw is None:
        return None
    if not raw:
        table.p.bad(table.key("fields"), raw, f"at least one parameter: {expected}")
        return None
    out: dict[str, dict[str, str]] = {}
    known = ", ".join(CANONICAL_UNITS)
    for param, spec in raw.items():
        key = table.key(f"fields.{param}")
        if param not in CANONICAL_UNITS:
            table.p.add(key, f"not a known parameter; expected one of {known}")
            continue
        if isinstance(spec, str):
            if spec.strip() == "":
                table.p.bad(key, spec, "a dotted path inside a record")
                continue
            out[param] = {"path": spec, "unit": CANONICAL_UNITS[param]}
            continue
        sub = type(table)(table.p, key, spec)
        if not sub.ok:
            continue
        path = sub.text("path")
        unit = sub.text("unit", CANONICAL_UNITS[param])
        sub.finish()
        if isinstance(unit, str) and not unit.startswith("@"):
            try:
                to_canonical(param, Decimal(1), unit, "")
            except DataError:
                table.p.bad(f"{key}.unit", unit,
                            f"a unit convertible to {CANONICAL_UNITS[param]} (µg/m³, mg/m³, mg/L, µg/L; "
                            'ppb or ppm for gases), or "@path" to read it from each record')
                continue
        if isinstance(path, str) and isinstance(unit, str):
            out[param] = {"path": path, "unit": unit}
    return out


def _kind(value: object) -> str:
    if isinstance(value, dict):
        return "object"
    if isinstance(value, list):
        return "list"
    if isinstance(value, str):
        return "string"
    if isinstance(value, bool):
        return "boolean"
    if value is None:
        return "null"
    return "number"
