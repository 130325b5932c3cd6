"""Latest hourly readings from OpenAQ (API v3).

    [sources.openaq]
    type = "openaq"
    base_url = "https://api.openaq.org"     # default
    api_key_env = "OPENAQ_API_KEY"          # default; the key itself is never in the config
    locations = { zh-urban = 12345 }        # station id → OpenAQ location id
    timeout = 10                            # seconds per request; retries, backoff as for "http"

For each location, two requests (OpenAQ allows 60 a minute, 2,000 an hour; a 429 is
retried after its Retry-After):

    GET {base}/v3/locations/{id}          results[0].sensors[] {id, parameter {name, units}}
    GET {base}/v3/locations/{id}/latest   results[] {datetime {utc, local}, value, sensorsId, locationsId}

joined by sensor id. OpenAQ parameters pm25, pm10, so2, no2 and co become the ledctl
parameters of the same name; o3 becomes o3_1h (a latest value is an hourly mean, never the
8-hour O3 of the daily report). Other parameters (temperature, pm1, no, …) are ignored, as are
latest values of sensors the location does not list.

Units: µg/m³ (and mg/m³) are converted to ledctl's canonical units; gases in ppb or ppm are
converted at the reference state of GB 3095 (298.15 K, 101.325 kPa; see sources/base.py), as
many OpenAQ stations outside China report them so.

Each value is judged alone: OpenAQ's -9999 "no data" sentinel, any other negative value, a
sensor without units or a result without a time drops that one value (with its reason in
`ledctl data show`), never the station or the source. A location OpenAQ does not know is
refused for its station only. Rate limits: OpenAQ sends no Retry-After with its 429 but an
`x-ratelimit-reset` in seconds; ledctl waits that long (or, beyond a minute, tries again at the
next fetch) instead of spending the next window's budget.

Time: OpenAQ stamps an hourly mean with the end of its hour (like CNEMC, where "16:00" is
the mean of 15:00–16:00). A Reading's time is the start of its period, so every reading is
period "1h" with time = OpenAQ's `datetime.utc` minus one hour (in UTC). Values with
different times become different readings. When two sensors of a location measure the same
parameter at the same time, the one listed first by OpenAQ is used.
"""

from __future__ import annotations

import time as time_mod
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ledctl.errors import DataError
from ledctl.model import Reading, Rejection
from ledctl.sources.base import Fetched, to_canonical
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

DEFAULT_BASE_URL = "https://api.openaq.org"
DEFAULT_KEY_ENV = "OPENAQ_API_KEY"

# OpenAQ parameter name → ledctl parameter.
PARAMETERS: dict[str, str] = {
    "pm25": "pm25",
    "pm10": "pm10",
    "so2": "so2",
    "no2": "no2",
    "co": "co",
    "o3": "o3_1h",
}


@dataclass
class OpenAQSource:
    name: str
    locations: Mapping[str, int]  # station id → OpenAQ location id
    base_url: str = DEFAULT_BASE_URL
    api_key_env: str = DEFAULT_KEY_ENV
    settings: HttpSettings = field(default_factory=HttpSettings)
    sleep: Sleep = time_mod.sleep

    @classmethod
    def options_from_config(cls, table: _Table, base: Path) -> dict[str, object]:
        base_url = http_url(table, "base_url", DEFAULT_BASE_URL)
        key_env = env_name(table, "api_key_env", DEFAULT_KEY_ENV)
        expected = "a table of station id = OpenAQ location id, like { zh-urban = 12345 }"
        raw = table.get("locations", dict, expected)
        locations: dict[str, int] = {}
        if isinstance(raw, dict):
            if not raw:
                table.p.bad(table.key("locations"), raw, f"at least one location: {expected}")
            for station, loc in raw.items():
                if isinstance(loc, bool) or not isinstance(loc, int) or loc <= 0:
                    table.p.bad(table.key(f"locations.{station}"), loc,
                                "an OpenAQ location id (a whole number)")
                else:
                    locations[station] = loc
        return {"base_url": base_url, "api_key_env": key_env, "locations": locations, **http_options(table)}

    @classmethod
    def from_options(cls, name: str, options: Mapping[str, object], *,
                     sleep: Sleep = time_mod.sleep) -> OpenAQSource:
        raw = options.get("locations")
        locations = {str(k): int(str(v)) for k, v in raw.items()} if isinstance(raw, Mapping) else {}
        return cls(
            name=name,
            locations=locations,
            base_url=str(options.get("base_url") or DEFAULT_BASE_URL),
            api_key_env=str(options.get("api_key_env") or DEFAULT_KEY_ENV),
            settings=HttpSettings.from_options(options),
            sleep=sleep,
        )

    def fetch(self) -> Fetched:
        key = secret_from_env(self.name, "api_key_env", self.api_key_env)
        out: list[Reading] = []
        rejected: list[Rejection] = []
        for station, location in self.locations.items():
            try:
                meta = self._get(f"/v3/locations/{location}", key)
                latest = self._get(f"/v3/locations/{location}/latest", key)
            except DataError as e:  # the service itself failed: the whole source has
                raise DataError(redact(str(e), [key])) from None
            try:
                readings, problems = self._location(station, location, meta, latest)
            except DataError as e:  # this location's answer is unusable: its station alone
                rejected.append(Rejection(station, None, redact(str(e), [key]), self.name))
                continue
            out.extend(readings)
            rejected.extend(problems)
        return Fetched(out, rejected)

    def _get(self, path: str, key: str) -> Any:
        return fetch_json(
            self.name, self.base_url.rstrip("/") + path, settings=self.settings,
            headers={"X-API-Key": key}, secrets=[key], sleep=self.sleep,
            refused=f"OpenAQ refused the API key in ${self.api_key_env} (check or renew it)",
        )

    def _location(self, station: str, location: int, meta: Any,
                  latest_doc: Any) -> tuple[list[Reading], list[Rejection]]:
        where = f"source {self.name}: OpenAQ location {location} (station {station})"
        results = _results(meta, where)
        if not results:
            raise DataError(f"{where}: OpenAQ does not know this location (no results)")
        sensors_raw = results[0].get("sensors") if isinstance(results[0], dict) else None
        if not isinstance(sensors_raw, list):
            raise DataError(f"{where}: results[0].sensors is missing; expected a list of sensors")
        problems: list[Rejection] = []

        def refuse(reason: str, at: datetime | None = None) -> None:
            problems.append(Rejection(station, at, reason, self.name))

        sensors: dict[int, tuple[str, str]] = {}  # sensor id → (ledctl param, unit)
        for i, sensor in enumerate(sensors_raw):
            s_where = f"{where}: sensors[{i}]"
            sid = sensor.get("id") if isinstance(sensor, dict) else None
            parameter = sensor.get("parameter") if isinstance(sensor, dict) else None
            if not isinstance(sid, int) or not isinstance(parameter, dict):
                refuse(f"{s_where}: expected {{id, parameter {{name, units}}}}")
                continue
            param = PARAMETERS.get(str(parameter.get("name", "")))
            if param is None:
                continue  # temperature, humidity, pm1, …: not shown on a board
            units = parameter.get("units")
            if not isinstance(units, str) or not units.strip():
                refuse(f"{s_where}: parameter {parameter.get('name')} has no units")
                continue
            sensors.setdefault(sid, (param, units))

        latest = _results(latest_doc, f"{where} latest")
        by_time: dict[datetime, dict[str, Decimal]] = {}
        first_sensor: dict[tuple[datetime, str], int] = {}
        order = {sid: n for n, sid in enumerate(sensors)}
        for i, item in enumerate(latest):
            l_where = f"{where}: latest results[{i}]"
            end: datetime | None = None
            try:
                if not isinstance(item, dict):
                    raise DataError(f"{l_where}: expected an object")
                sid = item.get("sensorsId")
                if not isinstance(sid, int):
                    raise DataError(f"{l_where}: missing field 'sensorsId'")
                if sid not in sensors:
                    continue
                loc_id = item.get("locationsId")
                if loc_id is not None and loc_id != location:
                    continue  # not this location's value
                param, units = sensors[sid]
                if "value" not in item:
                    raise DataError(f"{l_where}: missing field 'value'")
                end = _utc(item.get("datetime"), l_where)
                if isinstance(item["value"], int | float) and not isinstance(item["value"], bool) \
                        and item["value"] < 0:
                    # -9999 is OpenAQ's "no data"; any negative value is a fault of the sensor.
                    raise DataError(f"{l_where} ({param}, sensor {sid}): value {item['value']} is OpenAQ's "
                                    "no-data sentinel or a faulty sensor; that value is left out")
                value = concentration(item["value"], f"{l_where} ({param}, sensor {sid}) value")
                if value is None:
                    continue
                start = end - timedelta(hours=1)
                prior = first_sensor.get((start, param))
                if prior is not None and order[prior] <= order[sid]:
                    continue
                converted = to_canonical(param, value, units, f"{l_where} (sensor {sid})")
                first_sensor[(start, param)] = sid
                by_time.setdefault(start, {})[param] = converted
            except DataError as e:
                refuse(str(e), None if end is None else end - timedelta(hours=1))
        readings = [Reading(station, start, "1h", values) for start, values in sorted(by_time.items())]
        return readings, problems


def _results(doc: Any, where: str) -> list[Any]:
    results = doc.get("results") if isinstance(doc, dict) else None
    if not isinstance(results, list):
        raise DataError(f"{where}: expected an object with a 'results' list")
    return results


def _utc(raw: object, where: str) -> datetime:
    text = raw.get("utc") if isinstance(raw, dict) else None
    if not isinstance(text, str):
        raise DataError(f"{where}: missing field 'datetime.utc'")
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise DataError(f"{where}: datetime.utc {text!r} is not ISO 8601") from None
    if moment.tzinfo is None:
        raise DataError(f"{where}: datetime.utc {text!r} has no UTC offset")
    return moment
