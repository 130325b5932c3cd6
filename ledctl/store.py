"""The store: SQLite in WAL mode under the state directory; nothing is lost on a restart or crash.

It keeps the last good data (every reading that passed validation, by source), the
delivery attempts, and for the service: each board's intended and confirmed program
(or, for a board that cannot acknowledge, the program sent to it — never a confirmation)
and settings, its health and last failure, the proof of display (one row per program a
board confirmed, with when it was first and last confirmed), and when each job last ran.
The file itself (schema, migrations, connections) is `ledctl.db`'s; `prune` keeps it from
growing without end.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

from ledctl.db import StoreError, database
from ledctl.model import Reading

__all__ = ["BoardRow", "DeliveryRecord", "Display", "Pruned", "Store", "StoreError", "open_db"]

KEEP_HEALTH_DAYS = 90
KEEP_DELIVERY_DAYS = 400


@dataclass(frozen=True, slots=True)
class DeliveryRecord:
    board: str
    program: str
    mode: str
    ok: bool  # confirmed by the board (a program only sent to a board that cannot acknowledge is not)
    result: str
    bytes: int
    seconds: float
    at: datetime
    outcome: str = ""  # the driver's typed Outcome ("confirmed", "sent", "offline", …); "" unknown


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
    last_failure_at: str | None = None  # when the last delivery or command failed (ISO 8601)
    pages: tuple[int, int] = (0, 0)  # of the confirmed program: pages that reached the board, pages in it
    sent: str | None = None  # the program last sent to it where it cannot acknowledge (never confirmed)
    sent_at: str | None = None


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
def open_db(path: Path, schema: str = "") -> Iterator[sqlite3.Connection]:
    """One write transaction on the store at `path`.

    Kept for callers from before `ledctl.db`: the schema is that module's now (all tables, made
    and migrated on first use), so `schema` is not used. New code reads with `database(path).read()`.
    """
    with database(path).write() as db:
        yield db


@dataclass(frozen=True, slots=True)
class Pruned:
    """What `Store.prune` deleted."""

    health_checks: int
    deliveries: int
    displays: int


class Store:
    """The service's tables. Shares one `Database` (one connection per thread) with everything
    else using the same file in this process; `close()` (or `with Store(…)`) closes it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.db = database(path)

    def close(self) -> None:
        """Close the connections to the file (every user of it in this process; they reopen on use)."""
        self.db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def save_readings(self, source: str, readings: Iterable[Reading], fetched: datetime) -> int:
        rows = [(source, r.station, r.time.isoformat(), r.period,
                 json.dumps({k: str(v) for k, v in r.values.items()}, sort_keys=True), fetched.isoformat())
                for r in readings]
        with self.db.write() as db:
            db.executemany("INSERT OR REPLACE INTO readings (source, station, start, period, vals, fetched) "
                           "VALUES (?, ?, ?, ?, ?, ?)", rows)
        return len(rows)

    def readings(self, source: str | None = None) -> list[Reading]:
        query = "SELECT station, start, period, vals, source FROM readings"
        args: tuple[str, ...] = ()
        if source is not None:
            query += " WHERE source = ?"
            args = (source,)
        with self.db.read() as db:
            rows = db.execute(query, args).fetchall()
        return [Reading(station, datetime.fromisoformat(start), period,
                        {k: Decimal(v) for k, v in json.loads(vals).items()}, source)
                for station, start, period, vals, source in rows]

    def record_fetch(self, source: str, at: datetime, ok: bool, detail: str) -> None:
        with self.db.write() as db:
            db.execute("INSERT INTO fetches (source, at, ok, detail) VALUES (?, ?, ?, ?)",
                       (source, at.isoformat(), int(ok), detail))

    def last_fetches(self) -> dict[str, tuple[str, bool, str]]:
        with self.db.read() as db:
            rows = db.execute("SELECT source, at, ok, detail FROM fetches ORDER BY at").fetchall()
        return {source: (at, bool(ok), detail) for source, at, ok, detail in rows}

    def record_deliveries(self, records: Iterable[DeliveryRecord]) -> None:
        with self.db.write() as db:
            self._insert_deliveries(db, records)

    @staticmethod
    def _insert_deliveries(db: sqlite3.Connection, records: Iterable[DeliveryRecord]) -> None:
        rows = [(r.board, r.program, r.mode, int(r.ok), r.result, r.bytes, r.seconds, r.at.isoformat(),
                 r.outcome or None) for r in records]
        db.executemany("INSERT INTO deliveries (board, program, mode, ok, result, bytes, seconds, at, "
                       "outcome) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)

    def board_summaries(self) -> dict[str, dict[str, object]]:
        """Per board: the last delivery attempt, and the last confirmed program with its time."""
        with self.db.read() as db:
            rows = db.execute("SELECT board, program, mode, ok, result, at, outcome FROM deliveries "
                              "ORDER BY at, rowid").fetchall()
        out: dict[str, dict[str, object]] = {}
        failures: dict[str, int] = {}
        for board, program, mode, ok, result, at, outcome in rows:
            entry = out.setdefault(board, {"confirmed": None, "confirmed_at": None})
            entry.update(last_result=result, last_at=at, mode=mode)
            if ok:
                entry.update(confirmed=program, confirmed_at=at)
                failures[board] = 0
            elif outcome == "sent":  # only sent, to a board that cannot acknowledge: not confirmed
                entry.update(sent=program, sent_at=at)
                failures[board] = 0
            else:
                failures[board] = failures.get(board, 0) + 1
            entry["failures_in_a_row"] = failures[board]
        return out

    # -- the service: intended vs confirmed, proof of display, health, job runs ---------------------

    def set_intended(self, board: str, program: str | None, summary: str, at: datetime,
                     items: Sequence[str] = ()) -> None:
        with self.db.write() as db:
            db.execute("INSERT INTO boards (board) VALUES (?) ON CONFLICT DO NOTHING", (board,))
            db.execute("UPDATE boards SET intended = ?, intended_summary = ?, intended_at = ?, "
                       "intended_items = ? WHERE board = ?",
                       (program, summary, at.isoformat(), json.dumps(list(items)), board))

    def set_settings_intended(self, board: str, settings: str) -> None:
        with self.db.write() as db:
            db.execute("INSERT INTO boards (board) VALUES (?) ON CONFLICT DO NOTHING", (board,))
            db.execute("UPDATE boards SET settings_intended = ? WHERE board = ?", (settings, board))

    def confirm(self, board: str, program: str, summary: str, at: datetime,
                attempt: DeliveryRecord | None = None, items: Sequence[str] = (),
                pages: tuple[int, int] = (0, 0)) -> None:
        """A board confirmed `program`: one transaction updates its state, extends or starts its
        display in the proof log, and logs the attempt — so a crash can neither lose nor double it."""
        when = at.isoformat()
        with self.db.write() as db:
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
                       "failures = 0, last_error = '', confirmed_items = ?, pages_shown = ?, pages_total = ? "
                       "WHERE board = ?",
                       (program, when, when, json.dumps(list(items)), pages[0], pages[1], board))
            if attempt is not None:
                self._insert_deliveries(db, [attempt])

    def sent(self, board: str, program: str, at: datetime, attempt: DeliveryRecord | None = None) -> None:
        """`program` went to a board that cannot acknowledge it: kept apart from what it confirmed (no
        proof of display), with the attempt, in one transaction."""
        when = at.isoformat()
        with self.db.write() as db:
            db.execute("INSERT INTO boards (board) VALUES (?) ON CONFLICT DO NOTHING", (board,))
            db.execute("UPDATE boards SET sent = ?, sent_at = ?, failures = 0, last_error = '' "
                       "WHERE board = ?", (program, when, board))
            if attempt is not None:
                self._insert_deliveries(db, [attempt])

    def failed(self, board: str, error: str, at: datetime, attempt: DeliveryRecord | None = None,
               offline: bool = False) -> int:
        """A delivery or command failed; returns the failures in a row."""
        with self.db.write() as db:
            db.execute("INSERT INTO boards (board) VALUES (?) ON CONFLICT DO NOTHING", (board,))
            db.execute("UPDATE boards SET failures = failures + 1, last_error = ?, last_failure_at = ?, "
                       "online = CASE WHEN ? THEN 0 ELSE online END WHERE board = ?",
                       (error, at.isoformat(), int(offline), board))
            if attempt is not None:
                self._insert_deliveries(db, [attempt])
            row = db.execute("SELECT failures FROM boards WHERE board = ?", (board,)).fetchone()
        return int(row[0])

    def settings_confirmed(self, board: str, settings: str, at: datetime) -> None:
        with self.db.write() as db:
            db.execute("UPDATE boards SET settings_confirmed = ?, online = 1, last_seen = ? WHERE board = ?",
                       (settings, at.isoformat(), board))

    def forget_confirmation(self, board: str) -> None:
        """The board may have lost what it showed (it was off-line, or restarted): send it again."""
        with self.db.write() as db:
            db.execute("UPDATE boards SET confirmed = NULL, settings_confirmed = NULL, sent = NULL "
                       "WHERE board = ?", (board,))

    def seen(self, board: str, online: bool, at: datetime, error: str = "") -> None:
        with self.db.write() as db:
            db.execute("INSERT INTO boards (board) VALUES (?) ON CONFLICT DO NOTHING", (board,))
            db.execute("INSERT INTO health_checks (board, at, online) VALUES (?, ?, ?)",
                       (board, at.isoformat(), int(online)))
            if online:
                db.execute("UPDATE boards SET online = 1, last_seen = ? WHERE board = ?",
                           (at.isoformat(), board))
            else:
                db.execute("UPDATE boards SET online = 0, last_error = ? WHERE board = ?", (error, board))

    def boards(self) -> dict[str, BoardRow]:
        with self.db.read() as db:
            rows = db.execute(
                "SELECT board, intended, intended_summary, intended_at, confirmed, confirmed_at, "
                "settings_intended, settings_confirmed, online, last_seen, failures, last_error, "
                "intended_items, confirmed_items, last_failure_at, pages_shown, pages_total, sent, sent_at "
                "FROM boards"
            ).fetchall()
        return {r[0]: BoardRow(*r[:8], None if r[8] is None else bool(r[8]), *r[9:12],
                               tuple(json.loads(r[12])), tuple(json.loads(r[13])), r[14], (r[15], r[16]),
                               r[17], r[18])
                for r in rows}

    def displays(self, board: str | None = None) -> list[Display]:
        query = "SELECT seq, board, program, summary, first_at, last_at, items FROM displays"
        args: tuple[str, ...] = ()
        if board is not None:
            query += " WHERE board = ?"
            args = (board,)
        with self.db.read() as db:
            rows = db.execute(query + " ORDER BY seq", args).fetchall()
        return [Display(*r[:6], tuple(json.loads(r[6]))) for r in rows]

    def deliveries(self, board: str | None = None, *, failed_only: bool = False,
                   limit: int = 5000) -> list[DeliveryRecord]:
        """Delivery attempts, newest first (at most `limit`): every board's, or one board's."""
        query = "SELECT board, program, mode, ok, result, bytes, seconds, at FROM deliveries"
        where, args = [], []
        if board is not None:
            where.append("board = ?")
            args.append(board)
        if failed_only:
            where.append("ok = 0")
        if where:
            query += " WHERE " + " AND ".join(where)
        with self.db.read() as db:
            rows = db.execute(query + " ORDER BY rowid DESC LIMIT ?", (*args, limit)).fetchall()
        return [DeliveryRecord(b, p, m, bool(ok), r, n, s, datetime.fromisoformat(at))
                for b, p, m, ok, r, n, s, at in rows]

    def job_ran(self, job: str, fired: datetime, at: datetime) -> None:
        with self.db.write() as db:
            db.execute("INSERT OR REPLACE INTO job_runs (job, fired, ran_at) VALUES (?, ?, ?)",
                       (job, fired.isoformat(), at.isoformat()))

    def job_runs(self) -> dict[str, datetime]:
        with self.db.read() as db:
            rows = db.execute("SELECT job, fired FROM job_runs").fetchall()
        return {job: datetime.fromisoformat(fired) for job, fired in rows}

    def put(self, key: str, value: str) -> None:
        with self.db.write() as db:
            db.execute("INSERT OR REPLACE INTO service (key, value) VALUES (?, ?)", (key, value))

    def get(self, key: str) -> str | None:
        with self.db.read() as db:
            row = db.execute("SELECT value FROM service WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    # -- retention ----------------------------------------------------------------------------------

    def prune(self, now: datetime, *, keep_health_days: int = KEEP_HEALTH_DAYS,
              keep_delivery_days: int = KEEP_DELIVERY_DAYS) -> Pruned:
        """Delete health checks and delivery attempts older than their ages, and proof of display
        that ended before the previous calendar year (in `now`'s time zone): the disclosure report
        covers a year, so this year's and last year's displays are never deleted, whatever the ages.
        The file does not shrink; SQLite reuses the freed pages."""
        if keep_health_days < 1 or keep_delivery_days < 1:
            raise ValueError("keep at least a day of health checks and delivery attempts")
        health_cut = (now - timedelta(days=keep_health_days)).isoformat()
        delivery_cut = (now - timedelta(days=keep_delivery_days)).isoformat()
        last_year = now.replace(year=now.year - 1, month=1, day=1, hour=0, minute=0, second=0, microsecond=0)
        # Times are ISO 8601 text with their offset; julianday() compares them as instants (a text
        # comparison would not, across offsets). A time that does not parse is never deleted.
        with self.db.write() as db:
            health = db.execute("DELETE FROM health_checks WHERE julianday(at) < julianday(?)",
                                (health_cut,)).rowcount
            deliveries = db.execute("DELETE FROM deliveries WHERE julianday(at) < julianday(?)",
                                    (delivery_cut,)).rowcount
            displays = db.execute("DELETE FROM displays WHERE julianday(last_at) < julianday(?)",
                                  (last_year.isoformat(),)).rowcount
        return Pruned(health, deliveries, displays)
