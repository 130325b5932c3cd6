"""The one store (ledctl.db): migrations from an older file, refusal of a newer one, one connection
per thread, reads without the write lock, the notices' indexed columns, damaged notice rows,
retention, the time of a failure, and readings of two sources for one station."""

from __future__ import annotations

import json
import logging
import sqlite3
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from ledctl import config
from ledctl import db as db_mod
from ledctl.clock import FixedClock
from ledctl.db import LATEST, database, notice_index
from ledctl.errors import ConfigError
from ledctl.model import Reading
from ledctl.notices import audit
from ledctl.notices.users import User, Users
from ledctl.notices.workflow import DamagedNotice, Notice, NoticeError, Notices
from ledctl.store import DeliveryRecord, Store, StoreError
from tests.chain import approve_fully

REPO = Path(__file__).resolve().parents[2]
TZ = ZoneInfo("Asia/Shanghai")
T0 = datetime(2026, 11, 25, 9, 0, tzinfo=TZ)
WANG = User("wang", "operator")
LI = User("li", "approver")

# The tables exactly as ledctl made them before migrations (store.py, notices/users.py,
# notices/audit.py and notices/workflow.py each ran CREATE TABLE IF NOT EXISTS on every open).
OLD_STORE = """
CREATE TABLE IF NOT EXISTS readings (
    source TEXT NOT NULL, station TEXT NOT NULL, start TEXT NOT NULL, period TEXT NOT NULL,
    vals TEXT NOT NULL, fetched TEXT NOT NULL, PRIMARY KEY (station, start, period));
CREATE TABLE IF NOT EXISTS deliveries (
    board TEXT NOT NULL, program TEXT NOT NULL, mode TEXT NOT NULL, ok INTEGER NOT NULL,
    result TEXT NOT NULL, bytes INTEGER NOT NULL, seconds REAL NOT NULL, at TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS deliveries_board ON deliveries (board, at);
CREATE TABLE IF NOT EXISTS boards (
    board TEXT PRIMARY KEY, intended TEXT, intended_summary TEXT NOT NULL DEFAULT '', intended_at TEXT,
    confirmed TEXT, confirmed_at TEXT, settings_intended TEXT, settings_confirmed TEXT, online INTEGER,
    last_seen TEXT, failures INTEGER NOT NULL DEFAULT 0, last_error TEXT NOT NULL DEFAULT '');
CREATE TABLE IF NOT EXISTS displays (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, board TEXT NOT NULL, program TEXT NOT NULL,
    summary TEXT NOT NULL, first_at TEXT NOT NULL, last_at TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS displays_board ON displays (board, seq);
CREATE TABLE IF NOT EXISTS health_checks (board TEXT NOT NULL, at TEXT NOT NULL, online INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS health_checks_at ON health_checks (at);
CREATE TABLE IF NOT EXISTS job_runs (job TEXT PRIMARY KEY, fired TEXT NOT NULL, ran_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS service (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS fetches (source TEXT NOT NULL, at TEXT NOT NULL, ok INTEGER NOT NULL,
    detail TEXT NOT NULL);
"""
OLD_ADDED_COLUMNS = """
ALTER TABLE boards ADD COLUMN intended_items TEXT NOT NULL DEFAULT '[]';
ALTER TABLE boards ADD COLUMN confirmed_items TEXT NOT NULL DEFAULT '[]';
ALTER TABLE displays ADD COLUMN items TEXT NOT NULL DEFAULT '[]';
"""
OLD_GOVERNANCE = """
CREATE TABLE IF NOT EXISTS audit (
    seq INTEGER PRIMARY KEY, at TEXT NOT NULL, actor TEXT NOT NULL, action TEXT NOT NULL,
    subject TEXT NOT NULL, before TEXT NOT NULL, after TEXT NOT NULL, prev TEXT NOT NULL, hash TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS audit_head (id INTEGER PRIMARY KEY CHECK (id = 1), seq INTEGER NOT NULL,
    hash TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS notices (id INTEGER PRIMARY KEY AUTOINCREMENT, doc TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS users (name TEXT PRIMARY KEY, role TEXT NOT NULL, password TEXT NOT NULL,
    disabled INTEGER NOT NULL DEFAULT 0, created TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS tokens (digest TEXT PRIMARY KEY, user TEXT NOT NULL, label TEXT NOT NULL,
    created TEXT NOT NULL);
"""


@pytest.fixture
def dep() -> config.Deployment:
    return config.load(REPO / "config" / "zhenhai.toml")


def a_notice(notice_id: int, **kw: object) -> Notice:
    args: dict[str, object] = dict(
        id=notice_id, title="停水通知", text="明天上午停水，请提前储水。", level="normal",
        targets=("group:community",), start=T0, end=T0 + timedelta(hours=3), state="published",
        author="wang", created=T0,
    )
    args.update(kw)
    return Notice(**args)  # type: ignore[arg-type]


def doc(notice: Notice) -> str:
    return json.dumps(notice.to_json(), ensure_ascii=False, sort_keys=True)


def draft(notices: Notices, **kw: object) -> Notice:
    args: dict[str, object] = dict(title="停水通知", text="明天上午停水，请提前储水。", level="normal",
                                   targets=["group:community"], end=notices.clock.now() + timedelta(hours=3))
    args.update(kw)
    return notices.draft(WANG, **args)  # type: ignore[arg-type]


def published(notices: Notices, **kw: object) -> Notice:
    n = draft(notices, **kw)
    approve_fully(notices, n.id)
    return notices.publish(WANG, n.id)


# -- migrations ------------------------------------------------------------------------------------


@pytest.mark.parametrize("had_added_columns", [True, False], ids=["last-unversioned", "older"])
def test_an_old_store_is_migrated_in_place(tmp_path: Path, dep: config.Deployment,
                                           had_added_columns: bool) -> None:
    path = tmp_path / "ledctl.sqlite"
    with sqlite3.connect(path) as old:
        old.executescript(OLD_STORE + (OLD_ADDED_COLUMNS if had_added_columns else "") + OLD_GOVERNANCE)
        old.execute("INSERT INTO readings VALUES ('centre', 'zh-urban', ?, '24h', '{\"pm25\": \"35\"}', ?)",
                    (T0.isoformat(), T0.isoformat()))
        old.execute("INSERT INTO boards (board, intended, confirmed, failures, last_error) "
                    "VALUES ('zbs-01', 'aaa', 'aaa', 2, 'NACK')")
        old.execute("INSERT INTO displays (board, program, summary, first_at, last_at) "
                    "VALUES ('zbs-01', 'aaa', 'bulletin', ?, ?)", (T0.isoformat(), T0.isoformat()))
        shown = a_notice(1, cap_sender="cma@example", cap_identifier="W-1",
                         cap_sent="2026-11-25T08:00:00+08:00")
        old.execute("INSERT INTO notices (id, doc) VALUES (1, ?)", (doc(shown),))
        old.execute("INSERT INTO notices (id, doc) VALUES (2, ?)",
                    (doc(a_notice(2, state="draft", needs_review=True)),))
        old.execute("INSERT INTO notices (id, doc) VALUES (3, '{broken')")  # must not stop the migration
        for n, (written,) in enumerate(old.execute("SELECT doc FROM notices ORDER BY id"), 1):
            # ledctl wrote each notice with its audit row (3 was damaged later, outside ledctl)
            after = {"state": "draft"} if n == 3 else json.loads(written)
            audit.append(old, T0, "wang", "draft", f"notice:{n}", None, after)
        old.execute("INSERT INTO users VALUES ('root', 'admin', 'scrypt$x', 0, ?)", (T0.isoformat(),))
    assert sqlite3.connect(path).execute("PRAGMA user_version").fetchone()[0] == 0

    store = Store(path)
    row = store.boards()["zbs-01"]
    assert (row.intended, row.failures, row.last_error, row.intended_items, row.last_failure_at) == (
        "aaa", 2, "NACK", (), None)
    assert [(d.program, d.items) for d in store.displays()] == [("aaa", ())]
    [reading] = store.readings()
    assert (reading.station, reading.source, reading.values) == ("zh-urban", "centre", {"pm25": Decimal(35)})
    notices = Notices(dep, path, FixedClock(T0))
    assert [n.id for n in notices.published(T0)] == [1]  # the indexed columns were filled from the JSON
    assert [n.id for n in notices.by_cap("cma@example", "W-1")] == [1]
    assert [n.id for n in notices.needs_review()] == [2]
    assert [d.row for d in notices.damaged()] == [3]
    assert notices.verify_audit() == ([
        "notice(s) 3: the store holds another document than the audit log's last row (edited outside "
        "ledctl: what the boards show was never approved)"], (3, notices.audit_log()[-1].hash))
    assert [u.name for u in Users(path).list()] == ["root"]
    with sqlite3.connect(path) as raw:
        assert raw.execute("PRAGMA user_version").fetchone()[0] == LATEST
        keys = sorted((r[5], r[1]) for r in raw.execute("PRAGMA table_info(readings)") if r[5])
        assert [name for _, name in keys] == ["source", "station", "start", "period"]


def test_every_migration_is_numbered_in_order() -> None:
    assert [m.version for m in db_mod.MIGRATIONS] == list(range(1, LATEST + 1))


def test_a_store_from_a_newer_ledctl_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "ledctl.sqlite"
    with sqlite3.connect(path) as newer:
        newer.execute("CREATE TABLE boards (board TEXT PRIMARY KEY, hologram TEXT)")
        newer.execute(f"PRAGMA user_version = {LATEST + 1}")
    with pytest.raises(StoreError, match=rf"{path}.* is version {LATEST + 1}, written by a newer ledctl"):
        Store(path).boards()
    with sqlite3.connect(path) as after:  # left as it was
        assert after.execute("PRAGMA user_version").fetchone()[0] == LATEST + 1
        tables = {r[0] for r in after.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        assert tables == {"boards"}


def test_a_file_that_is_not_a_store_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "ledctl.sqlite"
    path.write_bytes(b"this is not SQLite at all, just text " * 100)
    with pytest.raises(StoreError, match=rf"the store {path} failed: .*not a database.*not a ledctl store"):
        Store(path).get("x")


# -- connections and transactions -------------------------------------------------------------------


def test_one_connection_per_thread_reused_and_shared(tmp_path: Path, dep: config.Deployment,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    opened: list[sqlite3.Connection] = []
    real_connect = sqlite3.connect

    def counting(*args: object, **kw: object) -> sqlite3.Connection:
        con = real_connect(*args, **kw)  # type: ignore[arg-type]
        opened.append(con)
        return con

    monkeypatch.setattr(db_mod.sqlite3, "connect", counting)
    path = tmp_path / "ledctl.sqlite"
    store, notices, users = Store(path), Notices(dep, path, FixedClock(T0)), Users(path)
    assert store.db is notices.db is users.db is database(path)
    for i in range(5):
        store.put(f"k{i}", "v")
        store.boards()
        notices.published(T0)
        users.list()
    assert len(opened) == 1

    seen: list[sqlite3.Connection] = []
    worker = threading.Thread(
        target=lambda: (store.get("k1"), store.get("k2"), seen.append(store.db.connection())))
    worker.start()
    worker.join()
    assert len(opened) == 2 and seen[0] is opened[1] and store.db.connection() is opened[0]

    store.close()  # closes both: the next call opens afresh
    with pytest.raises(sqlite3.ProgrammingError):
        opened[0].execute("SELECT 1")
    assert store.get("k3") == "v" and len(opened) == 3


def test_a_store_used_as_a_context_manager_closes_its_connections(tmp_path: Path) -> None:
    with Store(tmp_path / "ledctl.sqlite") as store:
        store.put("a", "b")
        con = store.db.connection()
    with pytest.raises(sqlite3.ProgrammingError):
        con.execute("SELECT 1")


WRITER = """
import sqlite3, sys
con = sqlite3.connect(sys.argv[1], timeout=0, isolation_level=None)
try:
    con.execute("BEGIN IMMEDIATE")
    con.execute("INSERT INTO service (key, value) VALUES ('other', 'process')")
    con.execute("COMMIT")
except sqlite3.OperationalError as e:
    print(e)
    sys.exit(1)
"""


def write_from_another_process(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", WRITER, str(path)], capture_output=True, text=True,
                          timeout=60)


def test_a_read_does_not_block_a_writer_in_another_process(tmp_path: Path) -> None:
    path = tmp_path / "ledctl.sqlite"
    store = Store(path)
    store.put("mine", "1")
    with store.db.read() as con:
        assert con.execute("SELECT value FROM service WHERE key = 'mine'").fetchone() == ("1",)
        done = write_from_another_process(path)
        assert done.returncode == 0, done.stdout
    assert store.get("other") == "process"
    with store.db.write():  # the control: a write transaction does hold the lock
        done = write_from_another_process(path)
    assert done.returncode == 1 and "locked" in done.stdout


def test_the_readers_issue_no_write_lock(tmp_path: Path, dep: config.Deployment) -> None:
    path = tmp_path / "ledctl.sqlite"
    store, notices, users = Store(path), Notices(dep, path, FixedClock(T0)), Users(path)
    published(notices)
    statements: list[str] = []
    store.db.connection().set_trace_callback(statements.append)
    store.boards()
    store.displays()
    store.readings()
    notices.published(T0)
    notices.list()
    notices.needs_review()
    notices.audit_log()
    users.list()
    assert statements and not [s for s in statements if "IMMEDIATE" in s]
    store.put("k", "v")
    assert "BEGIN IMMEDIATE" in statements


def test_a_failed_write_rolls_back_and_the_connection_goes_on(tmp_path: Path) -> None:
    store = Store(tmp_path / "ledctl.sqlite")
    with pytest.raises(StoreError, match="UNIQUE constraint failed"), store.db.write() as con:
        con.execute("INSERT INTO service (key, value) VALUES ('a', '1')")
        con.execute("INSERT INTO job_runs (job, fired, ran_at) VALUES ('j', 'x', 'y')")
        con.execute("INSERT INTO job_runs (job, fired, ran_at) VALUES ('j', 'x', 'y')")
    assert store.get("a") is None
    store.put("a", "2")
    assert store.get("a") == "2"


# -- notices: the indexed columns --------------------------------------------------------------------


def test_the_indexed_queries_agree_with_the_json(tmp_path: Path, dep: config.Deployment) -> None:
    clock = FixedClock(T0)
    notices = Notices(dep, tmp_path / "ledctl.sqlite", clock)
    utc_end = (T0 + timedelta(hours=2)).astimezone(UTC)  # the same kind of instant in another zone
    made = [
        published(notices),
        published(notices, end=utc_end),
        published(notices, start=T0 + timedelta(hours=1), end=T0 + timedelta(hours=4)),
        draft(notices),
        approve_fully(notices, draft(notices).id),
        notices.override(LI, draft(notices, level="emergency").id, "化学品泄漏"),
    ]
    notices.cancel(WANG, made[0].id, "停水取消")
    notices.record("cap:cma@example", "cap-import", "cap:W-9", {})
    cap = notices.draft(User("cap:cma@example", "operator"), title="暴雨预警", text="今天有暴雨。",
                        level="normal", targets=["all"], end=T0 + timedelta(hours=5),
                        cap=("cma@example", "W-9", "t1"), author="cap:cma@example")

    with sqlite3.connect(notices.path) as raw:
        rows = raw.execute("SELECT id, doc, state, start_us, end_us, needs_review, cap_sender, "
                           "cap_identifier, cap_sent FROM notices ORDER BY id").fetchall()
    docs = [Notice.from_json(json.loads(r[1])) for r in rows]
    for row in rows:
        index = notice_index(json.loads(row[1]))
        assert (index.state, index.start_us, index.end_us, index.needs_review, index.cap_sender,
                index.cap_identifier, index.cap_sent) == (row[2], row[3], row[4], bool(row[5]), *row[6:])
    instants = [T0 - timedelta(hours=1), T0, utc_end - timedelta(microseconds=1), utc_end,
                T0 + timedelta(hours=3), T0 + timedelta(hours=4), T0 + timedelta(days=1)]
    for now in instants:
        want = [n.id for n in docs if n.state == "published" and now < n.end]
        assert [n.id for n in notices.published(now)] == want, now
    assert [n.id for n in notices.published(utc_end - timedelta(microseconds=1))] == [2, 3, 6]
    assert [n.id for n in notices.published(utc_end)] == [3, 6]
    assert [n.id for n in notices.needs_review()] == [n.id for n in docs if n.needs_review] == [6]
    assert [n.id for n in notices.by_cap("cma@example", "W-9")] == [cap.id]
    assert notices.by_cap("cma@example", "W-9", "other") == [] and notices.by_cap("x", "W-9") == []
    assert notices.list() == docs

    clock.instant = T0 + timedelta(hours=3)
    assert sorted(n.id for n in notices.expire_due()) == [2, 6]
    assert notices.expire_due() == []
    assert [n.state for n in notices.list()] == [
        "cancelled", "expired", "published", "draft", "approved", "expired", "draft"]


# -- notices: damaged rows -----------------------------------------------------------------------------


def test_damaged_notice_rows_are_skipped_and_reported(tmp_path: Path, dep: config.Deployment,
                                                      caplog: pytest.LogCaptureFixture) -> None:
    clock = FixedClock(T0)
    notices = Notices(dep, tmp_path / "ledctl.sqlite", clock)
    good = published(notices)
    far = 2**62  # the columns say "published for ever", so the indexed queries pick these rows up
    with sqlite3.connect(notices.path) as raw:
        raw.execute("INSERT INTO notices (id, doc, state, end_us) VALUES (2, '{\"id\": 2, \"title\": ', "
                    "'published', ?)", (far,))
        raw.execute("INSERT INTO notices (id, doc, state, end_us) VALUES (3, ?, 'published', ?)",
                    (doc(a_notice(3)).replace((T0 + timedelta(hours=3)).isoformat(), "tomorrow"), far))
        raw.execute("INSERT INTO notices (id, doc, state, end_us, needs_review) VALUES (4, '[1, 2]', "
                    "'published', ?, 1)", (far,))
        cancelled = a_notice(5, state="cancelled")  # the columns of a published notice, the JSON cancelled
        index = notice_index(a_notice(5).to_json())
        raw.execute("INSERT INTO notices (id, doc, state, start_us, end_us) VALUES (5, ?, 'published', ?, ?)",
                    (doc(cancelled), index.start_us, index.end_us))
        raw.execute("INSERT INTO notices (id, doc) VALUES (6, ?)", (doc(a_notice(6, level="urgent")),))
        raw.execute("INSERT INTO notices (id, doc) VALUES (7, ?)", (doc(a_notice(7, share="half")),))

    with caplog.at_level(logging.WARNING, logger="ledctl.notices"):
        for _ in range(3):  # the service asks every second: still one warning per row
            assert notices.published(T0) == [good]
            assert notices.list() == [good]
            assert notices.needs_review() == []
        problems = notices.damaged()
    assert [(d.row, d.problem) for d in problems] == [
        (2, "its document is not JSON (Expecting value: line 1 column 20 (char 19))"),
        (3, 'end = "tomorrow": not an ISO 8601 time'),
        (4, "its document is not a JSON object"),
        (5, "its indexed columns disagree with its document: state 'published' in the columns, "
            "'cancelled' in the document"),
        (6, 'level = "urgent": expected one of emergency, normal'),
        (7, 'share = "half": expected a number'),
    ]
    warned = [r.getMessage() for r in caplog.records if "notice-damaged" in r.getMessage()]
    assert len(warned) == 6 and all(f"row={d.row}" in w for d, w in zip(problems, warned, strict=True))
    assert str(problems[1]) == 'notice row 3: end = "tomorrow": not an ISO 8601 time'

    with pytest.raises(DamagedNotice, match=r"notice 3 cannot be read .*: end = \"tomorrow\""):
        notices.get(3)
    with pytest.raises(NoticeError, match="notice 3 cannot be read"):
        notices.cancel(WANG, 3, "清理")
    # Everything else goes on: drafting, publishing, expiring, the audit.
    other = published(notices, end=T0 + timedelta(hours=1))
    assert [n.id for n in notices.published(T0)] == [good.id, other.id]
    clock.advance(hours=2)
    assert [n.id for n in notices.expire_due()] == [other.id]
    # The audit log is intact, and tells the rows written by hand: they have no history.
    assert notices.verify_audit()[0] == ["notice(s) 2, 3, 4, 5, 6, 7: no row in the audit log (their "
                                         "history was deleted, or they were written outside ledctl)"]


# -- the service's tables: failures, readings, retention ------------------------------------------------


def test_failed_keeps_its_time(tmp_path: Path) -> None:
    store = Store(tmp_path / "ledctl.sqlite")
    first, second = T0, T0 + timedelta(minutes=7)
    store.failed("zbs-01", "offline (no reply)", first, offline=True)
    assert store.boards()["zbs-01"].last_failure_at == first.isoformat()
    store.confirm("zbs-01", "aaa", "bulletin", first + timedelta(minutes=1))
    assert store.boards()["zbs-01"].last_failure_at == first.isoformat()  # history, not a state
    store.failed("zbs-01", "NACK", second,
                 DeliveryRecord("zbs-01", "bbb", "bitmap", False, "NACK", 10, 0.1, second))
    row = store.boards()["zbs-01"]
    assert (row.last_failure_at, row.last_error, row.failures) == (second.isoformat(), "NACK", 1)
    assert store.boards().get("zbs-02") is None


def test_two_sources_for_one_station_are_both_kept(tmp_path: Path) -> None:
    store = Store(tmp_path / "ledctl.sqlite")
    day = datetime(2026, 11, 24, tzinfo=TZ)
    store.save_readings("centre", [Reading("zh-urban", day, "24h", {"pm25": Decimal("35")})], T0)
    store.save_readings("backup", [Reading("zh-urban", day, "24h", {"pm25": Decimal("41.5")})], T0)
    store.save_readings("centre", [Reading("zh-urban", day, "24h", {"pm25": Decimal("36")})], T0)  # again
    got = sorted((r.source, r.station, r.time, r.values["pm25"]) for r in store.readings())
    assert got == [("backup", "zh-urban", day, Decimal("41.5")), ("centre", "zh-urban", day, Decimal("36"))]
    assert [(r.source, r.values["pm25"]) for r in store.readings("backup")] == [("backup", Decimal("41.5"))]


def test_prune_keeps_the_displays_of_this_and_last_year(tmp_path: Path) -> None:
    store = Store(tmp_path / "ledctl.sqlite")
    now = datetime(2026, 3, 10, 12, 0, tzinfo=TZ)
    # Ended before 2025-01-01 00:00 in Shanghai: gone. The last two end in 2025 in Shanghai
    # (one written in UTC, where it is still 2024): kept.
    ends = {
        "2023": datetime(2023, 6, 1, tzinfo=TZ),
        "2024-late": datetime(2024, 12, 31, 23, 59, tzinfo=TZ),
        "2025-first": datetime(2025, 1, 1, 0, 0, tzinfo=TZ),
        "2025-in-utc": datetime(2024, 12, 31, 20, 0, tzinfo=UTC),
        "2025": datetime(2025, 7, 1, tzinfo=TZ),
        "2026": datetime(2026, 3, 1, tzinfo=TZ),
    }
    for name, end in ends.items():
        store.confirm("zbs-01", name, name, end - timedelta(days=30))
        store.confirm("zbs-01", name, name, end)
    for days in (1, 89, 91, 200):
        store.seen("zbs-01", True, now - timedelta(days=days))
        store.record_deliveries([DeliveryRecord("zbs-01", "p", "bitmap", True, "confirmed", 1, 0.1,
                                                now - timedelta(days=days * 2))])  # 2, 178, 182, 400 days

    pruned = store.prune(now, keep_health_days=90, keep_delivery_days=180)
    assert (pruned.health_checks, pruned.deliveries, pruned.displays) == (2, 2, 2)
    assert [d.program for d in store.displays()] == ["2025-first", "2025-in-utc", "2025", "2026"]
    with sqlite3.connect(store.path) as raw:
        health = [r[0] for r in raw.execute("SELECT at FROM health_checks ORDER BY at DESC")]
        deliveries = [r[0] for r in raw.execute("SELECT at FROM deliveries ORDER BY at DESC")]
    assert health == [(now - timedelta(days=d)).isoformat() for d in (1, 89)]
    assert deliveries == [(now - timedelta(days=d)).isoformat() for d in (2, 178)]

    # However short the ages, this year's and last year's proof of display stays.
    assert store.prune(now, keep_health_days=1, keep_delivery_days=1).displays == 0
    assert len(store.displays()) == 4
    assert store.prune(now).health_checks == 0  # the defaults keep 90 and 400 days


def test_prune_defaults_come_from_the_config(tmp_path: Path, repo: Path) -> None:
    rules = config.load(repo / "config" / "zhenhai.toml").store
    assert (rules.keep_health_days, rules.keep_delivery_days) == (90, 400)
    text = (repo / "config" / "zhenhai.toml").read_text(encoding="utf-8")
    good = tmp_path / "good.toml"
    good.write_text(text + "\n[store]\nkeep_health_days = 30\nkeep_delivery_days = 730\n", encoding="utf-8")
    rules = config.load(good).store
    assert (rules.keep_health_days, rules.keep_delivery_days) == (30, 730)
    bad = tmp_path / "bad.toml"
    bad.write_text(text + '\n[store]\nkeep_health_days = 0\nkeep_delivery_days = "400"\nkeep_all = true\n',
                   encoding="utf-8")
    with pytest.raises(ConfigError) as e:
        config.load(bad)
    assert e.value.problems == [
        f"{bad}: store.keep_health_days = 0: expected days, 1..3650",
        f'{bad}: store.keep_delivery_days = "400": expected days, 1..3650',
        f"{bad}: store.keep_all: unknown key; expected one of: keep_delivery_days, keep_health_days "
        "(see README 'Configuration')",
    ]
