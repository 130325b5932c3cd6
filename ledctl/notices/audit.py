"""The audit log: append-only and hash-chained, so an edited, inserted or deleted row shows.

Each row's hash covers its own fields and the previous row's hash. The head (last
sequence number and hash) is kept apart, so deleting the newest rows shows too.
Rows are written in the same transaction as the change they record; these functions work
inside the caller's transaction (`ledctl.db.database(path).read()` or `.write()`).
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from dataclasses import dataclass
from datetime import datetime

# The audit tables (audit: the rows; audit_head: the last seq and hash) are made by ledctl.db with
# every other table. Kept, empty, for callers that still pass it to ledctl.store.open_db.
SCHEMA = ""

GENESIS = "0" * 64


@dataclass(frozen=True, slots=True)
class Entry:
    seq: int
    at: str
    actor: str
    action: str
    subject: str
    before: str
    after: str
    prev: str
    hash: str

    def as_json(self) -> dict[str, object]:
        return {"seq": self.seq, "at": self.at, "actor": self.actor, "action": self.action,
                "subject": self.subject, "before": json.loads(self.before), "after": json.loads(self.after),
                "hash": self.hash}


def _digest(
    seq: int, at: str, actor: str, action: str, subject: str, before: str, after: str, prev: str
) -> str:
    body = json.dumps([seq, at, actor, action, subject, before, after, prev], ensure_ascii=False)
    return hashlib.sha256(body.encode()).hexdigest()


def append(
    db: sqlite3.Connection, at: datetime, actor: str, action: str, subject: str, before: object, after: object
) -> Entry:
    """Append one row (inside the caller's transaction)."""
    head = db.execute("SELECT seq, hash FROM audit_head WHERE id = 1").fetchone()
    seq, prev = (head[0] + 1, head[1]) if head else (1, GENESIS)
    b = json.dumps(before, ensure_ascii=False, sort_keys=True, default=str)
    a = json.dumps(after, ensure_ascii=False, sort_keys=True, default=str)
    when = at.isoformat()
    digest = _digest(seq, when, actor, action, subject, b, a, prev)
    db.execute(
        "INSERT INTO audit VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (seq, when, actor, action, subject, b, a, prev, digest),
    )
    db.execute("INSERT OR REPLACE INTO audit_head VALUES (1, ?, ?)", (seq, digest))
    return Entry(seq, when, actor, action, subject, b, a, prev, digest)


def entries(db: sqlite3.Connection, subject: str | None = None) -> list[Entry]:
    query = "SELECT seq, at, actor, action, subject, before, after, prev, hash FROM audit"
    args: tuple[str, ...] = ()
    if subject is not None:
        query += " WHERE subject = ?"
        args = (subject,)
    return [Entry(*row) for row in db.execute(query + " ORDER BY seq", args).fetchall()]


def verify(db: sqlite3.Connection) -> list[str]:
    """Every problem in the chain, each naming the row; empty when the log is intact."""
    problems: list[str] = []
    prev, expected_seq = GENESIS, 1
    for e in entries(db):
        if e.seq != expected_seq:
            problems.append(
                f"rows {expected_seq}..{e.seq - 1} are missing (deleted)"
                if e.seq > expected_seq
                else f"row {e.seq}: out of order"
            )
        if e.prev != prev:
            problems.append(
                f"row {e.seq}: does not follow row {e.seq - 1} (a row was inserted or removed before it)"
            )
        if _digest(e.seq, e.at, e.actor, e.action, e.subject, e.before, e.after, e.prev) != e.hash:
            problems.append(
                f"row {e.seq} ({e.action} {e.subject} by {e.actor} at {e.at}): its content was edited"
            )
        prev, expected_seq = e.hash, e.seq + 1
    head = db.execute("SELECT seq, hash FROM audit_head WHERE id = 1").fetchone()
    last = expected_seq - 1
    if head is not None and (head[0] != last or head[1] != prev):
        if head[0] > last:
            problems.append(f"rows {last + 1}..{head[0]} at the end are missing (deleted)")
        else:
            problems.append(
                f"the log ends at row {last}, but its head says row {head[0]}: rows were added outside ledctl"
            )
    elif head is None and last > 0:
        problems.append("the log's head is missing")
    return problems


def head(db: sqlite3.Connection) -> tuple[int, str]:
    row = db.execute("SELECT seq, hash FROM audit_head WHERE id = 1").fetchone()
    return (row[0], row[1]) if row else (0, GENESIS)
