"""The store: SQLite in WAL mode under the state directory; nothing is lost on a restart or crash.

It keeps the last good data (every reading that passed validation, by source), the
delivery attempts, and for the service: each board's intended and confirmed program
and settings, its health, the proof of display (one row per program a board
confirmed, with when it was first and last confirmed), and when each job last ran.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
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
CREATE TABLE IF NOT EXISTS boards (        -- per board: intended vs confirmed, and health
    board              TEXT PRIMARY KEY,
    intended           TEXT,         -- program hash
    intended_summary   TEXT NOT NULL DEFAULT '',
    intended_at        TEXT,
    confirmed          TEXT,
    confirmed_at       TEXT,
    settings_intended  TEXT,
    settings_confirmed TEXT,
    online             INTEGER,      -- NULL: not known yet
    last_seen          TEXT,
    failures           INTEGER NOT NULL DEFAULT 0,
    last_error         TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS displays (       -- the proof of display: each program each board confirmed
    seq      INTEGER PRIMARY KEY AUTOINCREMENT,
    board    TEXT NOT NULL,
    program  TEXT NOT NULL,
    summary  TEXT NOT NULL,
    first_at TEXT NOT NULL,          -- first confirmed
    last_at  TEXT NOT NULL           -- last confirmed again (a re-assert or a health check)
);
CREATE INDEX IF NOT EXISTS displays_board ON displays (board, seq);
CREATE TABLE IF NOT EXISTS health_checks (  -- every health check's answer: the boards' availability
    board    TEXT NOT NULL,
    at       TEXT NOT NULL,
    online   INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS health_checks_at ON health_checks (at);
CREATE TABLE IF NOT EXISTS job_runs (
    job      TEXT PRIMARY KEY,
    fired    TEXT NOT NULL,          -- the scheduled time it ran for
    ran_at   TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS service (        -- small facts the service restores on start
    key      TEXT PRIMARY KEY,
    value    TEXT NOT NULL
);
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


@dataclass(frozen=True, slots=True)
class BoardRow:
    """What the store knows of one board."""

    board: str
    intended: str | None = None
    intended_summary: str = ""
    intended_at: str | None = None
    confirmed: str | None = None
    confirmed_at: str | None = None
    settings_intended: str | None = None
    settings_confirmed: str | None = None
    online: bool | None = None
    last_seen: str | None = None
    failures: int = 0
    last_error: str = ""
    intended_items: tuple[str, ...] = ()  # what the intended program is made of: "notice:7", "bulletin@…"
    confirmed_items: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Display:
    seq: int
    board: str
    program: str
    summary: str
    first_at: str
    last_at: str
    items: tuple[str, ...] = ()


@contextmanager
def open_db(path: Path, schema: str) -> Iterator[sqlite3.Connection]:
    """One transaction on the SQLite file at `path` (WAL, synchronous writes), with `schema` made."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(path, timeout=10)
    except (OSError, sqlite3.Error) as e:
        raise StoreError(f"cannot open the store {path}: {e}") from None
    try:
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=FULL")  # what the bureau published must survive power loss
        db.executescript(schema)
        # The write lock from the start: a read-then-write (a notice's state change) cannot interleave
        # with another process's.
        db.execute("BEGIN IMMEDIATE")
        with db:
            yield db
    except sqlite3.Error as e:
        raise StoreError(f"the store {path} failed: {e} (disk full or read-only?)") from None
    finally:
        db.close()


def _add_columns(db: sqlite3.Connection, table: str, columns: dict[str, str]) -> None:
    """Columns added since a store was made (a store from an older ledctl keeps working)."""
    have = {row[1] for row in db.execute(f"PRAGMA table_info({table})")}
    for name, kind in columns.items():
        if name not in have:
            db.execute(f"ALTER TABLE {table} ADD COLUMN {name} {kind}")


class Store:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._migrated = False

    @contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        with open_db(self.path, SCHEMA) as db:
            if not self._migrated:
                _add_columns(db, "boards", {"intended_items": "TEXT NOT NULL DEFAULT '[]'",
                                            "confirmed_items": "TEXT NOT NULL DEFAULT '[]'"})
                _add_columns(db, "displays", {"items": "TEXT NOT NULL DEFAULT '[]'"})
                self._migrated = True
            yield db

    def save_readings(self, source: str, readings: Iterable[Reading], fetched: datetime) -> int:
        rows = [(source, r.station, r.time.isoformat(), r.period,
                 json.dumps({k: str(v) for k, v in r.values.items()}, sort_keys=True), fetched.isoformat())
                for r in readings]
        with self._db() as db:
            db.executemany("INSERT OR REPLACE INTO readings VALUES (?, ?, ?, ?, ?, ?)", rows)
        return len(rows)

    def readings(self, source: str | None = None) -> list[Reading]:
        query = "SELECT station, start, period, vals, source FROM readings"
        args: tuple[str, ...] = ()
        if source is not None:
            query += " WHERE source = ?"
            args = (source,)
        with self._db() as db:
            rows = db.execute(query, args).fetchall()
        return [Reading(station, datetime.fromisoformat(start), period,
                        {k: Decimal(v) for k, v in json.loads(vals).items()}, source)
                for station, start, period, vals, source in rows]

    def record_fetch(self, source: str, at: datetime, ok: bool, detail: str) -> None:
        with self._db() as db:
            db.execute("INSERT INTO fetches VALUES (?, ?, ?, ?)", (source, at.isoformat(), int(ok), detail))

    def last_fetches(self) -> dict[str, tuple[str, bool, str]]:
        with self._db() as db:
            rows = db.execute("SELECT source, at, ok, detail FROM fetches ORDER BY at").fetchall()
        return {source: (at, bool(ok), detail) for source, at, ok, detail in rows}

    def record_deliveries(self, records: Iterable[DeliveryRecord]) -> None:
        with self._db() as db:
            self._insert_deliveries(db, records)

    @staticmethod
    def _insert_deliveries(db: sqlite3.Connection, records: Iterable[DeliveryRecord]) -> None:
        rows = [(r.board, r.program, r.mode, int(r.ok), r.result, r.bytes, r.seconds, r.at.isoformat())
                for r in records]
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

    # -- the service: intended vs confirmed, proof of display, health, job runs ---------------------

    def set_intended(self, board: str, program: str | None, summary: str, at: datetime,
                     items: Sequence[str] = ()) -> None:
        with self._db() as db:
            db.execute("INSERT INTO boards (board) VALUES (?) ON CONFLICT DO NOTHING", (board,))
            db.execute("UPDATE boards SET intended = ?, intended_summary = ?, intended_at = ?, "
                       "intended_items = ? WHERE board = ?",
                       (program, summary, at.isoformat(), json.dumps(list(items)), board))

    def set_settings_intended(self, board: str, settings: str) -> None:
        with self._db() as db:
            db.execute("INSERT INTO boards (board) VALUES (?) ON CONFLICT DO NOTHING", (board,))
            db.execute("UPDATE boards SET settings_intended = ? WHERE board = ?", (settings, board))

    def confirm(self, board: str, program: str, summary: str, at: datetime,
                attempt: DeliveryRecord | None = None, items: Sequence[str] = ()) -> None:
        """A board confirmed `program`: one transaction updates its state, extends or starts its
        display in the proof log, and logs the attempt — so a crash can neither lose nor double it."""
        when = at.isoformat()
        with self._db() as db:
            db.execute("INSERT INTO boards (board) VALUES (?) ON CONFLICT DO NOTHING", (board,))
            last = db.execute("SELECT seq, program FROM displays WHERE board = ? ORDER BY seq DESC LIMIT 1",
                              (board,)).fetchone()
            if last is not None and last[1] == program:
                db.execute("UPDATE displays SET last_at = ? WHERE seq = ?", (when, last[0]))
            else:
                db.execute("INSERT INTO displays (board, program, summary, first_at, last_at, items) "
                           "VALUES (?, ?, ?, ?, ?, ?)",
                           (board, program, summary, when, when, json.dumps(list(items))))
            db.execute("UPDATE boards SET confirmed = ?, confirmed_at = ?, online = 1, last_seen = ?, "
                       "failures = 0, last_error = '', confirmed_items = ? WHERE board = ?",
                       (program, when, when, json.dumps(list(items)), board))
            if attempt is not None:
                self._insert_deliveries(db, [attempt])

    def failed(self, board: str, error: str, at: datetime, attempt: DeliveryRecord | None = None,
               offline: bool = False) -> int:
        """A delivery or command failed; returns the failures in a row."""
        with self._db() as db:
            db.execute("INSERT INTO boards (board) VALUES (?) ON CONFLICT DO NOTHING", (board,))
            db.execute("UPDATE boards SET failures = failures + 1, last_error = ?, "
                       "online = CASE WHEN ? THEN 0 ELSE online END WHERE board = ?",
                       (error, int(offline), board))
            if attempt is not None:
                self._insert_deliveries(db, [attempt])
            row = db.execute("SELECT failures FROM boards WHERE board = ?", (board,)).fetchone()
        return int(row[0])

    def settings_confirmed(self, board: str, settings: str, at: datetime) -> None:
        with self._db() as db:
            db.execute("UPDATE boards SET settings_confirmed = ?, online = 1, last_seen = ? WHERE board = ?",
                       (settings, at.isoformat(), board))

    def forget_confirmation(self, board: str) -> None:
        """The board may have lost what it showed (it was off-line, or restarted): send it again."""
        with self._db() as db:
            db.execute("UPDATE boards SET confirmed = NULL, settings_confirmed = NULL WHERE board = ?",
                       (board,))

    def seen(self, board: str, online: bool, at: datetime, error: str = "") -> None:
        with self._db() as db:
            db.execute("INSERT INTO boards (board) VALUES (?) ON CONFLICT DO NOTHING", (board,))
            db.execute("INSERT INTO health_checks VALUES (?, ?, ?)", (board, at.isoformat(), int(online)))
            if online:
                db.execute("UPDATE boards SET online = 1, last_seen = ? WHERE board = ?",
                           (at.isoformat(), board))
            else:
                db.execute("UPDATE boards SET online = 0, last_error = ? WHERE board = ?", (error, board))

    def boards(self) -> dict[str, BoardRow]:
        with self._db() as db:
            rows = db.execute(
                "SELECT board, intended, intended_summary, intended_at, confirmed, confirmed_at, "
                "settings_intended, settings_confirmed, online, last_seen, failures, last_error, "
                "intended_items, confirmed_items FROM boards").fetchall()
        return {r[0]: BoardRow(*r[:8], None if r[8] is None else bool(r[8]), *r[9:12],
                               tuple(json.loads(r[12])), tuple(json.loads(r[13]))) for r in rows}

    def displays(self, board: str | None = None) -> list[Display]:
        query = "SELECT seq, board, program, summary, first_at, last_at, items FROM displays"
        args: tuple[str, ...] = ()
        if board is not None:
            query += " WHERE board = ?"
            args = (board,)
        with self._db() as db:
            rows = db.execute(query + " ORDER BY seq", args).fetchall()
        return [Display(*r[:6], tuple(json.loads(r[6]))) for r in rows]

    def job_ran(self, job: str, fired: datetime, at: datetime) -> None:
        with self._db() as db:
            db.execute("INSERT OR REPLACE INTO job_runs VALUES (?, ?, ?)",
                       (job, fired.isoformat(), at.isoformat()))

    def job_runs(self) -> dict[str, datetime]:
        with self._db() as db:
            rows = db.execute("SELECT job, fired FROM job_runs").fetchall()
        return {job: datetime.fromisoformat(fired) for job, fired in rows}

    def put(self, key: str, value: str) -> None:
        with self._db() as db:
            db.execute("INSERT OR REPLACE INTO service VALUES (?, ?)", (key, value))

    def get(self, key: str) -> str | None:
        with self._db() as db:
            row = db.execute("SELECT value FROM service WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])
