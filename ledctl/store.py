"""The store: SQLite in WAL mode under the state directory; nothing is lost on a restart or crash.

For now it keeps the last good data: every reading that passed validation, by
source, so a source outage or a restart still gives the last valid bulletin.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path

from ledctl.errors import LedctlError
from ledctl.model import Reading

SCHEMA = """
CREATE TABLE IF NOT EXISTS readings (
    source   TEXT NOT NULL,
    station  TEXT NOT NULL,
    start    TEXT NOT NULL,          -- ISO 8601 with offset: the start of the averaging period
    period   TEXT NOT NULL,
    vals     TEXT NOT NULL,          -- JSON: parameter -> decimal as text (exact)
    fetched  TEXT NOT NULL,
    PRIMARY KEY (station, start, period)
);
CREATE TABLE IF NOT EXISTS deliveries (     -- the proof of display: every delivery and its result
    board    TEXT NOT NULL,
    program  TEXT NOT NULL,          -- the content hash (of the program, or of the text sent)
    mode     TEXT NOT NULL,
    ok       INTEGER NOT NULL,
    result   TEXT NOT NULL,
    bytes    INTEGER NOT NULL,
    seconds  REAL NOT NULL,
    at       TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS deliveries_board ON deliveries (board, at);
CREATE TABLE IF NOT EXISTS fetches (
    source   TEXT NOT NULL,
    at       TEXT NOT NULL,
    ok       INTEGER NOT NULL,
    detail   TEXT NOT NULL
);
"""


class StoreError(LedctlError):
    pass


@dataclass(frozen=True, slots=True)
class DeliveryRecord:
    board: str
    program: str
    mode: str
    ok: bool
    result: str
    bytes: int
    seconds: float
    at: datetime


class Store:
    def __init__(self, path: Path) -> None:
        self.path = path

    @contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(self.path, timeout=10)
        except (OSError, sqlite3.Error) as e:
            raise StoreError(f"cannot open the store {self.path}: {e}") from None
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=FULL")  # a reading the bureau published must survive power loss
            db.executescript(SCHEMA)
            with db:
                yield db
        except sqlite3.OperationalError as e:
            raise StoreError(f"the store {self.path} failed: {e} (disk full or read-only?)") from None
        finally:
            db.close()

    def save_readings(self, source: str, readings: Iterable[Reading], fetched: datetime) -> int:
        rows = [(source, r.station, r.time.isoformat(), r.period,
                 json.dumps({k: str(v) for k, v in r.values.items()}, sort_keys=True), fetched.isoformat())
                for r in readings]
        with self._db() as db:
            db.executemany("INSERT OR REPLACE INTO readings VALUES (?, ?, ?, ?, ?, ?)", rows)
        return len(rows)

    def readings(self, source: str | None = None) -> list[Reading]:
        query = "SELECT station, start, period, vals FROM readings"
        args: tuple[str, ...] = ()
        if source is not None:
            query += " WHERE source = ?"
            args = (source,)
        with self._db() as db:
            rows = db.execute(query, args).fetchall()
        return [Reading(station, datetime.fromisoformat(start), period,
                        {k: Decimal(v) for k, v in json.loads(vals).items()})
                for station, start, period, vals in rows]

    def record_fetch(self, source: str, at: datetime, ok: bool, detail: str) -> None:
        with self._db() as db:
            db.execute("INSERT INTO fetches VALUES (?, ?, ?, ?)", (source, at.isoformat(), int(ok), detail))

    def last_fetches(self) -> dict[str, tuple[str, bool, str]]:
        with self._db() as db:
            rows = db.execute("SELECT source, at, ok, detail FROM fetches ORDER BY at").fetchall()
        return {source: (at, bool(ok), detail) for source, at, ok, detail in rows}

    def record_deliveries(self, records: Iterable[DeliveryRecord]) -> None:
        rows = [(r.board, r.program, r.mode, int(r.ok), r.result, r.bytes, r.seconds, r.at.isoformat())
                for r in records]
        with self._db() as db:
            db.executemany("INSERT INTO deliveries VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)

    def board_summaries(self) -> dict[str, dict[str, object]]:
        """Per board: the last delivery attempt, and the last confirmed program with its time."""
        with self._db() as db:
            rows = db.execute("SELECT board, program, mode, ok, result, at FROM deliveries "
                              "ORDER BY at, rowid").fetchall()
        out: dict[str, dict[str, object]] = {}
        failures: dict[str, int] = {}
        for board, program, mode, ok, result, at in rows:
            entry = out.setdefault(board, {"confirmed": None, "confirmed_at": None})
            entry.update(last_result=result, last_at=at, mode=mode)
            if ok:
                entry.update(confirmed=program, confirmed_at=at)
                failures[board] = 0
            else:
                failures[board] = failures.get(board, 0) + 1
            entry["failures_in_a_row"] = failures[board]
        return out
