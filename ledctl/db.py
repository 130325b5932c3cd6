"""The one SQLite file under the state directory (`STATE/ledctl.sqlite`): its schema, its
migrations and its connections. Everything ledctl keeps goes through here.

Tables (see `MIGRATIONS` for their columns):

* the data: `readings` (the last good readings, by source, station, start and period), `fetches`;
* the boards: `boards` (intended vs confirmed — or only sent, to a board that cannot acknowledge —,
  health, the last failure and when), `deliveries` (every delivery attempt and its outcome),
  `displays` (the proof of display), `health_checks`;
* the service: `job_runs`, `service` (small facts restored on start, the notices' revision);
* governance: `notices` (each a JSON document plus indexed columns kept in step with it),
  `users`, `tokens`, `audit` and `audit_head` (the hash-chained log).

Migrations are numbered; `PRAGMA user_version` says how many a file has had. A file made by
ledctl before migrations existed has version 0 and is brought up to date in place, in one
transaction, the first time a process opens it; a file from a newer ledctl (a version this one
does not know) is refused rather than guessed at. Upgrade by stopping every ledctl process that
uses the file, then starting the new one.

Connections: one per thread, opened on first use and reused (SQLite connections are not shared
between threads), per file and per process (`database(path)`), so `Store`, `Notices` and `Users`
on one path share them. Reads run in a deferred transaction (a snapshot, no write lock: in WAL
mode a reader never blocks a writer); writes take the write lock at once (`BEGIN IMMEDIATE`), so a
read-then-write, such as a notice's state change, cannot interleave with another process's.
Every SQLite failure becomes a `StoreError` naming the file and the likely cause.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sqlite3
import threading
import weakref
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from ledctl.errors import LedctlError

log = logging.getLogger("ledctl.db")

BUSY_TIMEOUT_S = 10  # how long a writer waits for another's write lock before giving up


class StoreError(LedctlError):
    """The store cannot be opened, read or written; the message names the file and a likely cause."""


# -- migrations --------------------------------------------------------------------------------------
#
# Migration N takes a file from user_version N-1 to N. They are history: once shipped, a step is
# never edited (a file out there has had it); a change is a new step at the end.

# The tables as ledctl made them before migrations existed (CREATE TABLE IF NOT EXISTS, by each
# module on its own), so migration 1 turns any such file, or an empty one, into version 1.
_V1_TABLES = (
    """CREATE TABLE IF NOT EXISTS readings (
        source   TEXT NOT NULL,
        station  TEXT NOT NULL,
        start    TEXT NOT NULL,          -- ISO 8601 with offset: the start of the averaging period
        period   TEXT NOT NULL,
        vals     TEXT NOT NULL,          -- JSON: parameter -> decimal as text (exact)
        fetched  TEXT NOT NULL,
        PRIMARY KEY (station, start, period)
    )""",
    """CREATE TABLE IF NOT EXISTS deliveries (     -- every delivery attempt and its result
        board    TEXT NOT NULL,
        program  TEXT NOT NULL,          -- the content hash (of the program, or of the text sent)
        mode     TEXT NOT NULL,
        ok       INTEGER NOT NULL,
        result   TEXT NOT NULL,
        bytes    INTEGER NOT NULL,
        seconds  REAL NOT NULL,
        at       TEXT NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS deliveries_board ON deliveries (board, at)",
    """CREATE TABLE IF NOT EXISTS boards (        -- per board: intended vs confirmed, and health
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
    )""",
    """CREATE TABLE IF NOT EXISTS displays (       -- the proof of display: each program each board confirmed
        seq      INTEGER PRIMARY KEY AUTOINCREMENT,
        board    TEXT NOT NULL,
        program  TEXT NOT NULL,
        summary  TEXT NOT NULL,
        first_at TEXT NOT NULL,          -- first confirmed
        last_at  TEXT NOT NULL           -- last confirmed again (a re-assert or a health check)
    )""",
    "CREATE INDEX IF NOT EXISTS displays_board ON displays (board, seq)",
    """CREATE TABLE IF NOT EXISTS health_checks (  -- every health check's answer: the boards' availability
        board    TEXT NOT NULL,
        at       TEXT NOT NULL,
        online   INTEGER NOT NULL
    )""",
    "CREATE INDEX IF NOT EXISTS health_checks_at ON health_checks (at)",
    """CREATE TABLE IF NOT EXISTS job_runs (
        job      TEXT PRIMARY KEY,
        fired    TEXT NOT NULL,          -- the scheduled time it ran for
        ran_at   TEXT NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS service (        -- small facts the service restores on start
        key      TEXT PRIMARY KEY,
        value    TEXT NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS fetches (
        source   TEXT NOT NULL,
        at       TEXT NOT NULL,
        ok       INTEGER NOT NULL,
        detail   TEXT NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS notices (
        id        INTEGER PRIMARY KEY AUTOINCREMENT,
        doc       TEXT NOT NULL            -- the notice as JSON (see ledctl.notices.workflow.Notice)
    )""",
    """CREATE TABLE IF NOT EXISTS users (
        name      TEXT PRIMARY KEY,
        role      TEXT NOT NULL,
        password  TEXT NOT NULL,           -- scrypt$n$r$p$salt$hash
        disabled  INTEGER NOT NULL DEFAULT 0,
        created   TEXT NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS tokens (
        digest    TEXT PRIMARY KEY,        -- sha256 of the token: the token itself is never stored
        user      TEXT NOT NULL,
        label     TEXT NOT NULL,
        created   TEXT NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS audit (
        seq      INTEGER PRIMARY KEY,
        at       TEXT NOT NULL,
        actor    TEXT NOT NULL,
        action   TEXT NOT NULL,
        subject  TEXT NOT NULL,
        before   TEXT NOT NULL,          -- JSON
        after    TEXT NOT NULL,          -- JSON
        prev     TEXT NOT NULL,
        hash     TEXT NOT NULL
    )""",
    """CREATE TABLE IF NOT EXISTS audit_head (
        id       INTEGER PRIMARY KEY CHECK (id = 1),
        seq      INTEGER NOT NULL,
        hash     TEXT NOT NULL
    )""",
)

# Columns that ledctl added to existing files on the fly before migrations existed.
_V1_ADDED_COLUMNS = {
    "boards": {"intended_items": "TEXT NOT NULL DEFAULT '[]'",
               "confirmed_items": "TEXT NOT NULL DEFAULT '[]'"},
    "displays": {"items": "TEXT NOT NULL DEFAULT '[]'"},
}


def _columns_of(con: sqlite3.Connection, table: str) -> set[str]:
    return {row[1] for row in con.execute(f"PRAGMA table_info({table})")}


def _m1_tables(con: sqlite3.Connection) -> None:
    for statement in _V1_TABLES:
        con.execute(statement)
    for table, columns in _V1_ADDED_COLUMNS.items():
        have = _columns_of(con, table)
        for name, kind in columns.items():
            if name not in have:
                con.execute(f"ALTER TABLE {table} ADD COLUMN {name} {kind}")


def _m2_readings_by_source(con: sqlite3.Connection) -> None:
    # SQLite cannot change a primary key in place: copy into a new table and swap.
    con.execute(
        """CREATE TABLE readings_new (
            source   TEXT NOT NULL,
            station  TEXT NOT NULL,
            start    TEXT NOT NULL,      -- ISO 8601 with offset: the start of the averaging period
            period   TEXT NOT NULL,
            vals     TEXT NOT NULL,      -- JSON: parameter -> decimal as text (exact)
            fetched  TEXT NOT NULL,
            PRIMARY KEY (source, station, start, period)
        )"""
    )
    con.execute(
        "INSERT INTO readings_new (source, station, start, period, vals, fetched) "
        "SELECT source, station, start, period, vals, fetched FROM readings"
    )
    con.execute("DROP TABLE readings")
    con.execute("ALTER TABLE readings_new RENAME TO readings")


def _m3_last_failure_at(con: sqlite3.Connection) -> None:
    con.execute("ALTER TABLE boards ADD COLUMN last_failure_at TEXT")  # NULL: no failure recorded


def _m4_notice_columns(con: sqlite3.Connection) -> None:
    for column in ("state TEXT", "start_us INTEGER", "end_us INTEGER",
                   "needs_review INTEGER NOT NULL DEFAULT 0", "cap_sender TEXT", "cap_identifier TEXT",
                   "cap_sent TEXT"):
        con.execute(f"ALTER TABLE notices ADD COLUMN {column}")
    con.execute("CREATE INDEX notices_state ON notices (state, end_us)")
    con.execute("CREATE INDEX notices_review ON notices (needs_review) WHERE needs_review = 1")
    con.execute("CREATE INDEX notices_cap ON notices (cap_sender, cap_identifier)")
    # Filled by today's notice_index: should it ever change, this step keeps a copy of this one.
    rows = con.execute("SELECT id, doc FROM notices").fetchall()
    for notice_id, doc in rows:
        try:
            index = notice_index(json.loads(doc))
        except (ValueError, TypeError, AttributeError):
            # A damaged document keeps empty columns; ledctl.notices reports it (Notices.damaged()).
            continue
        set_notice_index(con, notice_id, index)


def _m5_pages(con: sqlite3.Connection) -> None:
    # How many of the confirmed program's pages reached the board (a loop the host plays confirms
    # when every page has); 0/0 for a board confirmed before pages were counted.
    con.execute("ALTER TABLE boards ADD COLUMN pages_shown INTEGER NOT NULL DEFAULT 0")
    con.execute("ALTER TABLE boards ADD COLUMN pages_total INTEGER NOT NULL DEFAULT 0")


def _m6_publications(con: sqlite3.Connection) -> None:
    # What the bureau published (each bulletin and notice once, by a stable id, its latest revision),
    # the pictures the feeds enclose (by content hash), and the push queue of each channel: a row per
    # (channel, publication, revision), sent once and kept as the proof of delivery.
    con.execute("""CREATE TABLE publications (
        id           TEXT PRIMARY KEY,   -- "bulletin:2026-11-25", "notice:7"
        kind         TEXT NOT NULL,      -- bulletin, notice
        published_at TEXT NOT NULL,      -- ISO 8601: first published
        updated_at   TEXT NOT NULL,      -- ISO 8601: this revision
        revision     TEXT NOT NULL,      -- the document's hash
        doc          TEXT NOT NULL       -- JSON
    )""")
    con.execute("CREATE INDEX publications_updated ON publications (updated_at)")
    con.execute("CREATE TABLE pictures (hash TEXT PRIMARY KEY, png BLOB NOT NULL)")
    con.execute("""CREATE TABLE outbox (
        seq         INTEGER PRIMARY KEY AUTOINCREMENT,  -- the delivery id a receiver sees
        channel     TEXT NOT NULL,
        publication TEXT NOT NULL,
        revision    TEXT NOT NULL,
        queued_at   TEXT NOT NULL,
        attempts    INTEGER NOT NULL DEFAULT 0,
        next_try    TEXT NOT NULL,
        sent_at     TEXT,                -- NULL until the receiver answered 2xx
        status      INTEGER,             -- the receiver's last HTTP status
        last_error  TEXT NOT NULL DEFAULT '',
        UNIQUE (channel, publication, revision)
    )""")
    con.execute("CREATE INDEX outbox_due ON outbox (next_try) WHERE sent_at IS NULL")
def _m7_sent(con: sqlite3.Connection) -> None:
    # A board that cannot acknowledge (a TPM2 receiver that answers no ping) is sent its program,
    # never confirmed on it: the program and when it went, kept apart from `confirmed`.
    con.execute("ALTER TABLE boards ADD COLUMN sent TEXT")
    con.execute("ALTER TABLE boards ADD COLUMN sent_at TEXT")
    # The typed outcome of each attempt (confirmed, sent, offline, nack, refused, link); NULL on
    # rows from before, where `ok` is all there is (ok = 1 was then also written for "sent").
    con.execute("ALTER TABLE deliveries ADD COLUMN outcome TEXT")


@dataclass(frozen=True, slots=True)
class Migration:
    version: int  # the file's user_version once this step is done
    summary: str
    apply: Callable[[sqlite3.Connection], None]


MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "the tables of ledctl before migrations (and the columns it added on the fly)", _m1_tables),
    Migration(2, "readings keyed by (source, station, start, period): two sources of a station both kept",
              _m2_readings_by_source),
    Migration(3, "boards.last_failure_at: when the last delivery or command failed", _m3_last_failure_at),
    Migration(4, "notices: indexed state, window, review and CAP columns beside the JSON document",
              _m4_notice_columns),
    Migration(5, "boards.pages_shown / pages_total: the confirmed program's pages that reached the board",
              _m5_pages),
    Migration(6, "publications, pictures and the channels' outbox: publish once, feed every channel",
              _m6_publications),
    Migration(7, "boards.sent/sent_at (sent to a board that cannot acknowledge) and deliveries.outcome",
              _m7_sent),
)
LATEST = MIGRATIONS[-1].version


# -- the notices' indexed columns ----------------------------------------------------------------------

# Columns beside each notice's JSON document (migration 4), so the service's every-second question
# ("what is published now?") and the CAP lookups are index queries instead of parsing every notice
# ever written. The window is in microseconds since 1970-01-01 UTC: exact, and comparable across
# time zones (the ISO text is not).
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def epoch_us(t: datetime) -> int:
    """An aware time as whole microseconds since the Unix epoch (TypeError for a naive one)."""
    return (t - _EPOCH) // timedelta(microseconds=1)


@dataclass(frozen=True, slots=True)
class NoticeIndex:
    """What the indexed columns hold for one notice document."""

    state: str
    start_us: int
    end_us: int
    needs_review: bool
    cap_sender: str | None
    cap_identifier: str | None
    cap_sent: str | None


def notice_index(doc: Mapping[str, object]) -> NoticeIndex:
    """The indexed columns of a notice's JSON document (as `Notice.to_json()` writes it).
    ValueError or TypeError when a field the columns need does not parse."""

    def text(key: str) -> str | None:
        value = doc.get(key)
        if value is not None and not isinstance(value, str):
            raise TypeError(f"{key} = {value!r}: expected text")
        return value

    state = text("state")
    if state is None:
        raise ValueError("state is missing")
    review = doc.get("needs_review", False)
    if not isinstance(review, bool):
        raise TypeError(f"needs_review = {review!r}: expected true or false")
    start, end = (datetime.fromisoformat(str(doc.get(k))) for k in ("start", "end"))
    return NoticeIndex(state, epoch_us(start), epoch_us(end), review,
                       text("cap_sender"), text("cap_identifier"), text("cap_sent"))


def set_notice_index(con: sqlite3.Connection, notice_id: int, index: NoticeIndex) -> None:
    con.execute(
        "UPDATE notices SET state = ?, start_us = ?, end_us = ?, needs_review = ?, cap_sender = ?, "
        "cap_identifier = ?, cap_sent = ? WHERE id = ?",
        (index.state, index.start_us, index.end_us, int(index.needs_review), index.cap_sender,
         index.cap_identifier, index.cap_sent, notice_id),
    )


# -- the database object: one per file and process, one connection per thread -------------------------


def explain(path: Path, e: sqlite3.Error) -> StoreError:
    """A StoreError naming the file, SQLite's words and what probably causes them."""
    text = str(e)
    lowered = text.lower()
    if "full" in lowered:
        hint = "disk full? free some space, then try again"
    elif "readonly" in lowered or "read-only" in lowered or "unable to open" in lowered:
        hint = f"read-only? ledctl needs to write {path} and its folder"
    elif "locked" in lowered or "busy" in lowered:
        hint = f"another process held the write lock for more than {BUSY_TIMEOUT_S} s; try again"
    elif "no such table" in lowered:
        hint = ("a table is missing: the file was changed outside ledctl (ledctl doctor says more); "
                "restore it from a backup")
    elif "not a database" in lowered or "malformed" in lowered:
        hint = "the file is damaged or not a ledctl store; restore it from a backup"
    else:
        hint = "disk full or read-only?"
    return StoreError(f"the store {path} failed: {text} ({hint})")


@dataclass(slots=True)
class _Connection:
    thread: threading.Thread
    con: sqlite3.Connection
    depth: int = 0  # nested transactions in this thread: only the outermost begins and ends
    writing: bool = False
    close_after: bool = False  # close() was called while a transaction was open


# Connections a forked child inherited: never used there, and never closed there either (closing
# would touch the parent's locks), so they are kept referenced here.
_INHERITED: list[sqlite3.Connection] = []


def _close_all(conns: dict[int, _Connection]) -> None:
    # One at a time with popitem (atomic): at exit a daemon thread still winding down (a worker
    # cut short on a silent wire) may open its connection while this runs.
    while conns:
        try:
            _, entry = conns.popitem()
        except KeyError:
            return
        entry.con.close()


class Database:
    """The SQLite file at one path, in this process. Get it with `database(path)`."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.reported: set[tuple[object, ...]] = set()  # problems already logged (each once)
        self._lock = threading.Lock()
        self._pid = os.getpid()
        self._conns: dict[int, _Connection] = {}
        self._migrated = False
        # A sqlite3 connection sits in a reference cycle with its statement cache, so it would stay
        # open until the garbage collector ran: close them when this object goes (or at exit).
        weakref.finalize(self, _close_all, self._conns)

    # -- transactions -------------------------------------------------------------------------

    @contextmanager
    def read(self) -> Iterator[sqlite3.Connection]:
        """A read transaction: one consistent snapshot, without the write lock."""
        with self._transaction(write=False) as con:
            yield con

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """A write transaction holding the write lock from its start (BEGIN IMMEDIATE), so what it
        read cannot change under it; committed at the end, rolled back on any exception."""
        with self._transaction(write=True) as con:
            yield con

    @contextmanager
    def _transaction(self, write: bool) -> Iterator[sqlite3.Connection]:
        with self._lock:
            entry = self._entry()
            entry.depth += 1
        if entry.depth > 1:  # inside this thread's open transaction: part of it
            try:
                if write and not entry.writing:
                    raise RuntimeError("a write inside a read transaction (open the write transaction first)")
                yield entry.con
            finally:
                entry.depth -= 1
            return
        con, done = entry.con, False
        try:
            con.execute("BEGIN IMMEDIATE" if write else "BEGIN")
            entry.writing = write
            yield con
            con.execute("COMMIT")
            done = True
        except sqlite3.Error as e:
            raise explain(self.path, e) from None
        finally:
            if not done:
                self._rollback(entry)
            with self._lock:
                entry.depth, entry.writing = 0, False
                if entry.close_after:
                    self._forget(entry)

    def _rollback(self, entry: _Connection) -> None:
        try:
            if entry.con.in_transaction:
                entry.con.execute("ROLLBACK")
        except sqlite3.Error:
            # The error that got us here is the one to report; this connection is suspect now, so
            # it is closed and the thread's next transaction opens a fresh one.
            entry.close_after = True

    def connection(self) -> sqlite3.Connection:
        """This thread's connection (opened, and the file migrated, on first use)."""
        with self._lock:
            return self._entry().con

    def close(self) -> None:
        """Close every thread's connection now (one inside a transaction closes when it ends).
        The database stays usable: the next call opens a new connection."""
        with self._lock:
            for entry in list(self._conns.values()):
                if entry.depth:
                    entry.close_after = True
                else:
                    self._forget(entry)

    # -- connections (called with self._lock held) ----------------------------------------------

    def _entry(self) -> _Connection:
        if self._pid != os.getpid():  # a forked child: the parent's connections are not ours
            _INHERITED.extend(e.con for e in self._conns.values())
            self._conns.clear()
            self._pid = os.getpid()
        thread = threading.current_thread()
        entry = self._conns.get(thread.ident or 0)
        if entry is not None and entry.thread is thread:
            return entry
        for old in [e for e in self._conns.values() if not e.thread.is_alive()]:
            self._forget(old)  # threads end (a link's worker, a web request's): so do their connections
        entry = _Connection(thread, self._open())
        self._conns[thread.ident or 0] = entry
        return entry

    def _forget(self, entry: _Connection) -> None:
        if self._conns.get(entry.thread.ident or 0) is entry:
            del self._conns[entry.thread.ident or 0]
        entry.con.close()

    def _open(self) -> sqlite3.Connection:
        try:
            self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            # Private from the first byte, whatever the caller's umask: it holds password hashes.
            if not self.path.exists():
                with contextlib.suppress(FileExistsError):
                    os.close(os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
            # Transactions are ours (isolation_level=None); check_same_thread=False only so close()
            # may close another thread's idle connection: each is used by its own thread alone.
            con = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None,
                                  check_same_thread=False)
        except (OSError, sqlite3.Error) as e:
            raise StoreError(f"cannot open the store {self.path}: {e} (read-only, or no folder?)") from None
        try:
            con.execute("PRAGMA journal_mode=WAL")
            con.execute("PRAGMA synchronous=FULL")  # what the bureau published must survive power loss
            if not self._migrated:
                self._migrate(con)
                self._migrated = True
        except sqlite3.Error as e:
            con.close()
            raise explain(self.path, e) from None
        except StoreError:
            con.close()
            raise
        return con

    def _migrate(self, con: sqlite3.Connection) -> None:
        if self._version(con) == LATEST:
            return
        con.execute("BEGIN IMMEDIATE")  # one process migrates; another waits, then finds it done
        try:
            found = self._version(con)
            for step in MIGRATIONS[found:]:
                step.apply(con)
                con.execute(f"PRAGMA user_version = {step.version}")
            con.execute("COMMIT")
        finally:
            if con.in_transaction:
                con.execute("ROLLBACK")
        if found < LATEST:
            log.info("store migrated path=%s from=%d to=%d", self.path, found, LATEST)

    def _version(self, con: sqlite3.Connection) -> int:
        version = int(con.execute("PRAGMA user_version").fetchone()[0])
        if version > LATEST:
            raise StoreError(
                f"the store {self.path} is version {version}, written by a newer ledctl (this one knows "
                f"versions up to {LATEST}); run that ledctl, or restore a copy made before the upgrade"
            )
        return version


_databases: weakref.WeakValueDictionary[Path, Database] = weakref.WeakValueDictionary()
_databases_lock = threading.Lock()


def database(path: Path) -> Database:
    """The database at `path` for this process: one object per file, shared by everyone using it.
    Dropped (its connections closed) when nothing refers to it any more."""
    key = Path(os.path.abspath(path))
    with _databases_lock:
        db = _databases.get(key)
        if db is None:
            db = _databases[key] = Database(key)
        return db
