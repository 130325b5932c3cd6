"""The US-EPA AQI of WAQI (aqicn.org) stations — an index, never concentrations.

    [sources.waqi]
    type = "waqi"
    base_url = "https://api.waqi.info"      # default
    token_env = "WAQI_TOKEN"                # default; the token itself is never in the config
    stations = { zh-urban = "@1234" }       # station id → WAQI feed ("@<uid>", a city, "geo:lat;lng")
    timeout = 10                            # seconds per request; retries, backoff as for "http"

One request per station: GET {base}/feed/{feed}/?token=… →
{status, data {aqi, iaqi {…}, dominentpol, time {s, tz, iso}, city {name}}}.

WAQI publishes sub-indices (`iaqi.pm25.v` is an index on the US scale, not µg/m³), so they
must never be fed into HJ 633 as concentrations. Only `data.aqi` is used, as the value of the
parameter "us_aqi" (unit "US AQI"); every other field is ignored. An `aqi` of "-" (or none)
gives a reading with no values.

Time: WAQI's `time.iso` is the hour the value is reported for, the end of its averaging hour
(its Chinese stations relay CNEMC, where "16:00" is the mean of 15:00–16:00). A Reading's
time is the start of its period, so the reading is period "1h" with time = `time.iso` minus
one hour, in WAQI's own UTC offset. Without `time.iso`, `time.s` with `time.tz` is used.

Each station is judged alone: a feed WAQI does not know ("Unknown station"), or an answer
without a usable time or index, refuses that station only. A refused token fails the source.

The token travels in the query string, so URLs are shown without their query and the token
is removed from every message WAQI sends back.
"""

from __future__ import annotations

import re
import time as time_mod
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from ledctl.errors import DataError
from ledctl.model import Reading, Rejection
from ledctl.sources.base import Fetched
from ledctl.sources.http import (
    HttpSettings,
    Sleep,
    concentration,
    env_name,
    fetch_json,
    http_options,
    http_url,
    redact,
    secret_from_env,
)

if TYPE_CHECKING:
    from ledctl.config import _Table

DEFAULT_BASE_URL = "https://api.waqi.info"
DEFAULT_TOKEN_ENV = "WAQI_TOKEN"
PARAM = "us_aqi"
_FEED = re.compile(r"^(@[0-9]+|geo:-?[0-9.]+;-?[0-9.]+|[A-Za-z0-9][A-Za-z0-9_./-]*)$")


@dataclass
class WaqiSource:
    name: str
    stations: Mapping[str, str]  # station id → WAQI feed
    base_url: str = DEFAULT_BASE_URL
    token_env: str = DEFAULT_TOKEN_ENV
    settings: HttpSettings = field(default_factory=HttpSettings)
    sleep: Sleep = time_mod.sleep

    @classmethod
    def options_from_config(cls, table: _Table, base: Path) -> dict[str, object]:
        base_url = http_url(table, "base_url", DEFAULT_BASE_URL)
        token_env = env_name(table, "token_env", DEFAULT_TOKEN_ENV)
        expected = 'a table of station id = WAQI feed, like { zh-urban = "@1234" }'
        raw = table.get("stations", dict, expected)
        stations: dict[str, str] = {}
        if isinstance(raw, dict):
            if not raw:
                table.p.bad(table.key("stations"), raw, f"at least one station: {expected}")
            for station, feed in raw.items():
                if not isinstance(feed, str) or not _FEED.match(feed) or ".." in feed:
                    table.p.bad(table.key(f"stations.{station}"), feed,
                                'a WAQI feed: "@" and the station uid like "@1234", a city name, '
                                'or "geo:lat;lng"')
                else:
                    stations[station] = feed
        return {"base_url": base_url, "token_env": token_env, "stations": stations, **http_options(table)}

    @classmethod
    def from_options(cls, name: str, options: Mapping[str, object], *,
                     sleep: Sleep = time_mod.sleep) -> WaqiSource:
        raw = options.get("stations")
        stations = {str(k): str(v) for k, v in raw.items()} if isinstance(raw, Mapping) else {}
        return cls(
            name=name,
            stations=stations,
            base_url=str(options.get("base_url") or DEFAULT_BASE_URL),
            token_env=str(options.get("token_env") or DEFAULT_TOKEN_ENV),
            settings=HttpSettings.from_options(options),
            sleep=sleep,
        )

    def fetch(self) -> Fetched:
        token = secret_from_env(self.name, "token_env", self.token_env)
        secrets = [token, quote(token, safe="")]
        out: list[Reading] = []
        rejected: list[Rejection] = []
        for station, feed in self.stations.items():
            where = f"source {self.name}: WAQI feed {feed} (station {station})"
            path = f"/feed/{quote(feed, safe='@:;./-_')}/?token={quote(token, safe='')}"
            url = self.base_url.rstrip("/") + path
            try:
                doc = fetch_json(self.name, url, settings=self.settings, secrets=secrets, sleep=self.sleep,
                                 refused=f"WAQI refused the token in ${self.token_env}")
                if isinstance(doc, dict) and doc.get("status") != "ok" and _about_the_token(doc):
                    message = redact(str(doc.get("data") or doc.get("message") or ""), secrets)
                    raise DataError(f"{where}: WAQI answered status {str(doc['status'])!r}: {message} "
                                    f"(check the token in ${self.token_env})")
            except DataError as e:  # the service or the token failed: the whole source has
                raise DataError(redact(str(e), secrets)) from None
            try:
                out.append(self._station(station, where, doc, secrets))
            except DataError as e:  # this station's answer is unusable: the others still count
                rejected.append(Rejection(station, None, redact(str(e), secrets), self.name))
        return Fetched(out, rejected)

    def _station(self, station: str, where: str, doc: Any, secrets: list[str]) -> Reading:
        if not isinstance(doc, dict) or "status" not in doc:
            raise DataError(f"{where}: expected an object with 'status' and 'data'")
        data = doc.get("data")
        if doc["status"] != "ok":
            message = data if isinstance(data, str) else doc.get("message", "no message")
            raise DataError(f"{where}: WAQI answered status {str(doc['status'])!r}: "
                            f"{redact(str(message), secrets)}")
        if not isinstance(data, dict):
            raise DataError(f"{where}: 'data' is not an object")
        start = _start(data.get("time"), where)
        aqi = data.get("aqi")
        values: dict[str, Decimal] = {}
        if aqi not in (None, "-"):
            value = concentration(aqi, f"{where}: aqi")
            if value is not None:
                if value != value.to_integral_value():
                    raise DataError(f"{where}: aqi {aqi!r} is not a whole number")
                values[PARAM] = value
        return Reading(station, start, "1h", values)


def _about_the_token(doc: dict[str, Any]) -> bool:
    message = doc.get("data") if isinstance(doc.get("data"), str) else doc.get("message", "")
    return "key" in str(message).lower() or "token" in str(message).lower()


def _start(raw: Any, where: str) -> datetime:
    if not isinstance(raw, dict):
        raise DataError(f"{where}: missing field 'time' (data.time.iso)")
    iso = raw.get("iso")
    if isinstance(iso, str) and iso.strip():
        text = iso.strip()
    elif isinstance(raw.get("s"), str) and isinstance(raw.get("tz"), str):
        text = f"{raw['s'].strip().replace(' ', 'T')}{raw['tz'].strip()}"
    else:
        raise DataError(f"{where}: missing field 'iso' (data.time.iso)")
    try:
        end = datetime.fromisoformat(text)
    except ValueError:
        raise DataError(f"{where}: data.time {text!r} is not ISO 8601") from None
    if end.tzinfo is None:
        raise DataError(f"{where}: data.time {text!r} has no UTC offset")
    return end - timedelta(hours=1)
