"""Readings from a local CSV or JSON file: the embedded default source.

CSV, one row per station and day (or hour):

    station,date,pm25,pm10,so2,no2,co,o3_8h         daily means, canonical units
    station,time,period,pm25,...                    any period, ISO 8601 time

An empty cell is a value that was not measured. Columns are parameters in
their canonical unit (µg/m³, CO in mg/m³, water in mg/L); a column may name
its unit instead, as `co[µg/m³]`.

JSON: {"readings": [{"station": "...", "date": "2026-11-24"   (or "time" + "period"),
                     "values": {"pm25": 52, "co": {"value": 0.7, "unit": "mg/m³"}}}]}
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Mapping, Sequence
from datetime import date, datetime, time
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from ledctl.errors import DataError
from ledctl.model import Reading
from ledctl.sources.base import CANONICAL_UNITS, Fetched, to_canonical

if TYPE_CHECKING:
    from ledctl.config import _Table

_COLUMN = re.compile(r"^([a-z0-9_]+)(?:\[(.+)\])?$")
PERIODS = ("24h", "1h", "8h")


class FileSource:
    """One file, or several read one after the other (e.g. the sample air and water data)."""

    def __init__(self, name: str, path: Path | Sequence[Path], timezone: str) -> None:
        self.name = name
        self.paths = (path,) if isinstance(path, Path) else tuple(path)
        self.tz = ZoneInfo(timezone)

    @classmethod
    def options_from_config(cls, table: _Table, base: Path) -> dict[str, object]:
        expected = 'the path of a .csv or .json file relative to the config file, or a list of them'
        raw = table.get("path", (str, list), expected,
                        check=lambda v: all(isinstance(p, str) and p.endswith((".csv", ".json"))
                                            for p in ([v] if isinstance(v, str) else v)) and v != [])
        tz = table.text("timezone", "Asia/Shanghai")
        paths = None if raw is None else [base / p for p in ([raw] if isinstance(raw, str) else raw)]
        return {"path": paths, "timezone": tz}

    @classmethod
    def from_options(cls, name: str, options: Mapping[str, object]) -> FileSource:
        raw = options["path"]
        paths = [Path(str(p)) for p in raw] if isinstance(raw, list | tuple) else [Path(str(raw))]
        return cls(name, paths, str(options.get("timezone", "Asia/Shanghai")))

    def fetch(self) -> Fetched:
        out: list[Reading] = []
        for path in self.paths:
            out.extend(self._read_one(path))
        return Fetched(out)

    def _read_one(self, path: Path) -> list[Reading]:
        try:
            text = path.read_text(encoding="utf-8-sig")
        except FileNotFoundError:
            raise DataError(f"source {self.name}: data file {path} does not exist") from None
        except UnicodeDecodeError:
            raise DataError(f"source {self.name}: {path} is not UTF-8 text") from None
        except OSError as e:
            raise DataError(f"source {self.name}: cannot read {path}: {e.strerror}") from None
        if path.suffix == ".json":
            return self._from_json(path, text)
        return self._from_csv(path, text)

    # -- CSV ----------------------------------------------------------------

    def _from_csv(self, path: Path, text: str) -> list[Reading]:
        rows = csv.reader(io.StringIO(text))
        header = next(rows, None)
        if not header:
            raise DataError(f"{path}: empty file; expected a header row like station,date,pm25,…")
        header = [h.strip() for h in header]
        if "station" not in header or not ({"date", "time"} & set(header)):
            raise DataError(f"{path}: header needs 'station' and 'date' (or 'time' and 'period')")
        units: dict[int, tuple[str, str]] = {}
        for i, name in enumerate(header):
            if name in ("station", "date", "time", "period"):
                continue
            m = _COLUMN.match(name)
            if not m or m.group(1) not in CANONICAL_UNITS:
                known = ", ".join(CANONICAL_UNITS)
                raise DataError(f"{path}: column {name!r} is not a known parameter ({known})")
            units[i] = (m.group(1), m.group(2) or CANONICAL_UNITS[m.group(1)])
        out: list[Reading] = []
        for line_no, row in enumerate(rows, start=2):
            if not any(cell.strip() for cell in row):
                continue
            where = f"{path}:{line_no}"
            if len(row) != len(header):
                raise DataError(f"{where}: {len(row)} cells, the header has {len(header)}")
            cells = dict(zip(header, (c.strip() for c in row), strict=True))
            start, period = self._when(cells, where)
            values: dict[str, Decimal] = {}
            for i, (param, unit) in units.items():
                cell = row[i].strip()
                if cell:
                    values[param] = to_canonical(param, _number(cell, f"{where} {param}"), unit, where)
            out.append(Reading(cells["station"], start, period, values))
        return out

    # -- JSON ---------------------------------------------------------------

    def _from_json(self, path: Path, text: str) -> list[Reading]:
        try:
            doc = json.loads(text)
        except json.JSONDecodeError as e:
            raise DataError(f"{path}: not valid JSON: {e.msg} at line {e.lineno}") from None
        items = doc.get("readings") if isinstance(doc, dict) else None
        if not isinstance(items, list):
            raise DataError(f'{path}: expected {{"readings": [...]}} at the top')
        out: list[Reading] = []
        for i, item in enumerate(items):
            where = f"{path}: readings[{i}]"
            if not isinstance(item, dict) or not isinstance(item.get("station"), str):
                raise DataError(f"{where}: expected an object with a 'station' string")
            cells = {k: str(v) for k, v in item.items() if k in ("date", "time", "period")}
            start, period = self._when(cells, where)
            raw_values = item.get("values", {})
            if not isinstance(raw_values, dict):
                raise DataError(f"{where}.values: expected an object of parameter: value")
            values: dict[str, Decimal] = {}
            for param, v in raw_values.items():
                if param not in CANONICAL_UNITS:
                    raise DataError(f"{where}.values.{param}: not a known parameter")
                value, unit = _json_value(v, param, f"{where}.values.{param}")
                if value is not None:
                    values[param] = to_canonical(param, value, unit, f"{where}.values.{param}")
            out.append(Reading(item["station"], start, period, values))
        return out

    # -- shared -------------------------------------------------------------

    def _when(self, cells: Mapping[str, str], where: str) -> tuple[datetime, str]:
        if cells.get("date"):
            try:
                day = date.fromisoformat(cells["date"])
            except ValueError:
                raise DataError(f"{where}: date {cells['date']!r} is not YYYY-MM-DD") from None
            return datetime.combine(day, time(0), self.tz), "24h"
        raw = cells.get("time", "")
        try:
            start = datetime.fromisoformat(raw)
        except ValueError:
            raise DataError(f"{where}: time {raw!r} is not ISO 8601 like 2026-11-24T15:00+08:00") from None
        if start.tzinfo is None:
            start = start.replace(tzinfo=self.tz)
        period = cells.get("period", "")
        if period not in PERIODS:
            raise DataError(f"{where}: period {period!r} must be one of {', '.join(PERIODS)}")
        return start, period


def _number(text: str, where: str) -> Decimal:
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise DataError(f"{where}: {text!r} is not a number") from None
    if not value.is_finite() or value < 0:
        raise DataError(f"{where}: {text!r} is not a concentration (a number 0 or more)")
    return value


def _json_value(v: Any, param: str, where: str) -> tuple[Decimal | None, str]:
    unit = CANONICAL_UNITS[param]
    if isinstance(v, dict):
        unit = str(v.get("unit", unit))
        v = v.get("value")
    if v is None:
        return None, unit
    if isinstance(v, bool) or not isinstance(v, int | float | str):
        raise DataError(f"{where}: {v!r} is not a number")
    return _number(str(v), where), unit
