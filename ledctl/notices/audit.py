"""The audit log: append-only, chained, keyed and anchored outside the store.

Each row's hash covers its own fields and the previous row's hash, so an edited, inserted or
deleted row breaks the chain. That alone proves nothing against someone who can write the store:
they can recompute the whole chain. So:

* **Keyed.** With an audit key (`[audit] key_env` or `key_file`: the environment or a 0600 file,
  never the config, never a log), each row's hash is an HMAC-SHA256 under that key: without the key
  no row can be written, changed or recomputed so that it verifies. A log written before a key was
  configured stays as it was (SHA-256); the first change made with a key writes a row `audit-keyed`
  that commits to the unkeyed head, and every row from it on is keyed. So the keyed part vouches for
  everything before it, and a log keyed once never takes an unkeyed row again.
* **Anchored.** After every change the head (row number and hash) is appended to the anchor file
  (`[audit] anchor_file`, by default `STATE/audit-anchors`), which ledctl only ever appends to: put
  it on append-only storage (`chattr +a`) or copy its lines off the machine. Deleting the newest rows,
  the whole log or both tables, or rewriting it even with the key, then disagrees with an anchor.
  A head written down elsewhere (`audit verify --head SEQ:HASH`) is an anchor too.

`verify` says what is wrong, row by row; "no audit table", "fewer rows than anchored" and a notice
without its history are failures like an edited row. Rows are written in the same transaction as
the change they record; these functions work inside the caller's transaction
(`ledctl.db.database(path).read()` or `.write()`), except `Seal.anchor`, which runs after it.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import logging
import os
import sqlite3
import threading
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from ledctl.config import AuditRules, secret_file_problem
from ledctl.errors import LedctlError
from ledctl.events import event

log = logging.getLogger("ledctl.audit")

# The audit tables (audit: the rows; audit_head: the last seq and hash) are made by ledctl.db with
# every other table. Kept, empty, for callers that still pass it to ledctl.store.open_db.
SCHEMA = ""

GENESIS = "0" * 64
KEYED = "audit-keyed"  # the action of the row from which the chain is keyed
ANCHOR_FILE = "audit-anchors"  # in the state directory, unless [audit] anchor_file says elsewhere
MIN_KEY_BYTES = 16


class AuditError(LedctlError):
    """The audit log cannot be written as it must be (no key for a keyed log, a different key)."""


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


# -- the key and the anchors ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Anchor:
    seq: int
    hash: str
    at: str  # when it was written (or "given" for a head from the command line)


@dataclass
class Seal:
    """How this process seals the audit log: its key (None: unkeyed) and where it anchors the head."""

    key: bytes | None
    anchors: Path | None
    source: str = ""  # where the key came from, for messages (the variable's name or the file)
    problem: str = ""  # why a configured key cannot be used ("" when it can, or none is configured)
    _last: int = field(default=-1, repr=False)  # the last seq this process anchored
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @classmethod
    def of(cls, rules: AuditRules, state: Path) -> Seal:
        """The seal a deployment's [audit] gives, for the store in the folder `state`."""
        anchors = Path(rules.anchor_file) if rules.anchor_file else state / ANCHOR_FILE
        if rules.key_file:
            path = Path(rules.key_file)
            problem = secret_file_problem(path)
            if problem:
                return cls(None, anchors, str(path), f"[audit] key_file: {problem}")
            return cls._checked(path.read_bytes().strip(), anchors, str(path))
        value = os.environ.get(rules.key_env, "") if rules.key_env else ""
        if not value:
            return cls(None, anchors, rules.key_env)
        return cls._checked(value.strip().encode(), anchors, f"${rules.key_env}")

    @classmethod
    def _checked(cls, key: bytes, anchors: Path, source: str) -> Seal:
        if len(key) < MIN_KEY_BYTES:
            return cls(None, anchors, source, f"the audit key in {source} is shorter than {MIN_KEY_BYTES} "
                       "bytes; make one with: openssl rand -hex 32")
        return cls(key, anchors, source)

    def key_id(self) -> str:
        """A fingerprint of the key (says which key sealed a log; gives nothing of the key away)."""
        assert self.key is not None
        return hmac.new(self.key, b"ledctl audit key id", hashlib.sha256).hexdigest()[:16]

    def read_anchors(self) -> tuple[list[Anchor], list[str]]:
        """The anchors in the anchor file, and any line that cannot be read."""
        if self.anchors is None or not self.anchors.exists():
            return [], []
        found, bad = [], []
        try:
            text = self.anchors.read_text(encoding="utf-8", errors="replace")
        except OSError as e:
            return [], [f"the anchor file {self.anchors} cannot be read ({e.strerror})"]
        for number, line in enumerate(text.splitlines(), 1):
            try:
                doc = json.loads(line)
                found.append(Anchor(int(doc["seq"]), str(doc["hash"]), str(doc["at"])))
            except (ValueError, KeyError, TypeError):
                bad.append(f"the anchor file {self.anchors}, line {number}, is damaged: {line[:80]!r}")
        return found, bad

    def anchor(self, db: object, at: datetime) -> None:
        """Append the committed head to the anchor file (after the change's transaction): what the
        log held at this moment can then never be taken back unnoticed. A failure is logged, never
        raised: the change is made, and the next one anchors again."""
        if self.anchors is None:
            return
        try:
            with db.read() as con:  # type: ignore[attr-defined]
                seq, digest = head(con)
        except LedctlError as e:
            event(log, "audit-anchor-failed", level=logging.WARNING, file=self.anchors, error=str(e))
            return
        with self._lock:
            if seq == 0 or seq == self._last:
                return
            line = json.dumps({"seq": seq, "hash": digest, "at": at.isoformat(timespec="seconds")}) + "\n"
            try:
                self.anchors.parent.mkdir(parents=True, exist_ok=True)
                fd = os.open(self.anchors, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
                try:
                    os.write(fd, line.encode())
                    os.fsync(fd)  # the evidence outlives a power cut, as the row it anchors does
                finally:
                    os.close(fd)
            except OSError as e:
                event(log, "audit-anchor-failed", level=logging.WARNING, file=self.anchors, error=e.strerror)
                return
            self._last = seq


UNSEALED = Seal(None, None)  # no key, no anchors: for stores written by hand in tests


# -- writing ----------------------------------------------------------------------------------------


def _body(seq: int, at: str, actor: str, action: str, subject: str, before: str, after: str,
          prev: str) -> bytes:
    return json.dumps([seq, at, actor, action, subject, before, after, prev], ensure_ascii=False).encode()


def _digest(*fields: object, key: bytes | None = None) -> str:
    body = _body(*fields)  # type: ignore[arg-type]
    if key is None:
        return hashlib.sha256(body).hexdigest()
    return hmac.new(key, body, hashlib.sha256).hexdigest()


def keyed_from(db: sqlite3.Connection) -> int | None:
    """The row from which the chain is keyed (None: not keyed)."""
    row = db.execute("SELECT seq FROM audit WHERE action = ? ORDER BY seq LIMIT 1", (KEYED,)).fetchone()
    return None if row is None else int(row[0])


def append(
    db: sqlite3.Connection, at: datetime, actor: str, action: str, subject: str, before: object,
    after: object, *, seal: Seal = UNSEALED,
) -> Entry:
    """Append one row (inside the caller's transaction); keyed when the seal has a key. The caller
    anchors the head once its transaction is committed (`seal.anchor`)."""
    if seal.problem:
        raise AuditError(f"the audit log cannot be written: {seal.problem}")
    since = keyed_from(db)
    if seal.key is None and since is not None:
        raise AuditError(
            f"the audit log is keyed since row {since}, and this ledctl has no audit key: give it the same "
            f"key as the service (${seal.source or 'LEDCTL_AUDIT_KEY'} or [audit] key_file), or make this "
            "change through the console")
    if seal.key is not None:
        if since is None:  # the first change with a key: the keyed chain starts here
            _write(db, at, actor, KEYED, "audit", None, _keyed_note(db, seal), seal.key)
        else:
            _check_key(db, seal)
    return _write(db, at, actor, action, subject, before, after, seal.key)


def _keyed_note(db: sqlite3.Connection, seal: Seal) -> dict[str, object]:
    seq, digest = head(db)
    return {"unkeyed_rows": seq, "unkeyed_head": digest, "key": seal.source, "key_id": seal.key_id()}


def _check_key(db: sqlite3.Connection, seal: Seal) -> None:
    """Refuse to extend a keyed chain with another key: every later row would fail verification."""
    row = db.execute("SELECT seq, at, actor, action, subject, before, after, prev, hash FROM audit "
                     "ORDER BY seq DESC LIMIT 1").fetchone()
    if row is not None and _digest(*row[:8], key=seal.key) != row[8]:
        raise AuditError(
            f"the audit key in {seal.source} is not the one that wrote the log's last row ({row[0]}): "
            "a wrong key would make every later row fail verification (ledctl audit verify says more)")


def _write(db: sqlite3.Connection, at: datetime, actor: str, action: str, subject: str, before: object,
           after: object, key: bytes | None) -> Entry:
    seq, prev = head(db)
    seq += 1
    b = json.dumps(before, ensure_ascii=False, sort_keys=True, default=str)
    a = json.dumps(after, ensure_ascii=False, sort_keys=True, default=str)
    when = at.isoformat()
    digest = _digest(seq, when, actor, action, subject, b, a, prev, key=key)
    db.execute("INSERT INTO audit VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
               (seq, when, actor, action, subject, b, a, prev, digest))
    db.execute("INSERT OR REPLACE INTO audit_head VALUES (1, ?, ?)", (seq, digest))
    return Entry(seq, when, actor, action, subject, b, a, prev, digest)


def entries(db: sqlite3.Connection, subject: str | None = None) -> list[Entry]:
    query = "SELECT seq, at, actor, action, subject, before, after, prev, hash FROM audit"
    args: tuple[str, ...] = ()
    if subject is not None:
        query += " WHERE subject = ?"
        args = (subject,)
    return [Entry(*row) for row in db.execute(query + " ORDER BY seq", args).fetchall()]


def head(db: sqlite3.Connection) -> tuple[int, str]:
    row = db.execute("SELECT seq, hash FROM audit_head WHERE id = 1").fetchone()
    return (row[0], row[1]) if row else (0, GENESIS)


# -- checking ---------------------------------------------------------------------------------------


@dataclass
class Check:
    """What `verify` found: problems (the log cannot be trusted) and warnings (it proves less than
    it could), the last row and its hash, and the row from which it is keyed."""

    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    rows: int = 0
    head: str = GENESIS
    keyed_from: int | None = None

    @property
    def intact(self) -> bool:
        return not self.problems


def verify(db: sqlite3.Connection, seal: Seal = UNSEALED, heads: tuple[Anchor, ...] = ()) -> Check:
    """Check the chain, the key, the anchors (the anchor file's and `heads` given from elsewhere)
    and that every notice has its history."""
    check = Check()
    anchors, damaged = seal.read_anchors()
    anchors += list(heads)
    check.problems += damaged
    tables = {r[0] for r in db.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name IN ('audit', 'audit_head')")}
    if tables != {"audit", "audit_head"}:
        missing = " and ".join(sorted({"audit", "audit_head"} - tables))
        check.problems.append(f"no audit table: {missing} is missing from the store (dropped outside "
                              "ledctl); restore the store from a backup")
        if anchors:
            last = max(anchors, key=lambda a: a.seq)
            check.problems.append(f"the anchors saw row {last.seq} ({last.at}): the whole log is gone")
        return check
    rows = entries(db)
    check.keyed_from = since = next((e.seq for e in rows if e.action == KEYED), None)
    _check_chain(rows, seal, since, check)
    by_seq = {e.seq: e for e in rows}
    last = rows[-1].seq if rows else 0
    check.rows, check.head = last, rows[-1].hash if rows else GENESIS
    _check_head(db, last, check)
    _check_anchors(anchors, by_seq, last, since, seal, check)
    _check_notices(db, rows, check)
    if since is None and seal.key is None and not seal.problem:
        check.warnings.append(
            f"the log is not keyed: whoever can write the store can rewrite it and its chain; set an audit "
            f"key (${seal.source or 'LEDCTL_AUDIT_KEY'} or [audit] key_file; see README \"Security\")")
    elif since is None and seal.key is not None:
        check.warnings.append("the log is not keyed yet: the next change (or `ledctl audit seal`) keys it "
                              "from there on")
    if seal.problem:
        check.problems.append(seal.problem)
    return check


def _check_chain(rows: list[Entry], seal: Seal, since: int | None, check: Check) -> None:
    prev, expected_seq = GENESIS, 1
    keyed_bad: list[Entry] = []
    keyed_rows = 0
    for e in rows:
        if e.seq != expected_seq:
            check.problems.append(
                f"rows {expected_seq}..{e.seq - 1} are missing (deleted)"
                if e.seq > expected_seq
                else f"row {e.seq}: out of order"
            )
        if e.prev != prev:
            check.problems.append(
                f"row {e.seq}: does not follow row {e.seq - 1} (a row was inserted or removed before it)"
            )
        fields = (e.seq, e.at, e.actor, e.action, e.subject, e.before, e.after, e.prev)
        if since is not None and e.seq >= since:
            keyed_rows += 1
            if seal.key is not None and _digest(*fields, key=seal.key) != e.hash:
                keyed_bad.append(e)
        elif _digest(*fields) != e.hash:
            check.problems.append(f"row {e.seq} ({e.action} {e.subject} by {e.actor} at {e.at}): its content "
                                  "was edited")
        prev, expected_seq = e.hash, e.seq + 1
    if since is None:
        return
    if seal.key is None:
        check.problems.append(f"rows {since}..{expected_seq - 1} are keyed: give the audit key "
                              f"(${seal.source or 'LEDCTL_AUDIT_KEY'} or [audit] key_file) to verify them")
    elif keyed_bad and len(keyed_bad) == keyed_rows and keyed_rows > 1:
        check.problems.append(f"no keyed row (from row {since}) verifies with the audit key in "
                              f"{seal.source}: a different key from the one that wrote them, or all of "
                              "them were rewritten")
    else:
        for e in keyed_bad:
            fields = (e.seq, e.at, e.actor, e.action, e.subject, e.before, e.after, e.prev)
            how = ("written without the key after the log was keyed" if _digest(*fields) == e.hash
                   else "its content was edited")
            check.problems.append(f"row {e.seq} ({e.action} {e.subject} by {e.actor} at {e.at}): {how}")


def _check_head(db: sqlite3.Connection, last: int, check: Check) -> None:
    row = db.execute("SELECT seq, hash FROM audit_head WHERE id = 1").fetchone()
    if row is not None and (row[0] != last or row[1] != check.head):
        if row[0] > last:
            check.problems.append(f"rows {last + 1}..{row[0]} at the end are missing (deleted)")
        else:
            check.problems.append(
                f"the log ends at row {last}, but its head says row {row[0]}: rows were added outside ledctl"
            )
    elif row is None and last > 0:
        check.problems.append("the log's head is missing")


def _check_anchors(anchors: list[Anchor], by_seq: dict[int, Entry], last: int, since: int | None,
                   seal: Seal, check: Check) -> None:
    deleted = [a for a in anchors if a.seq > last]
    if deleted:
        most = max(deleted, key=lambda a: a.seq)
        check.problems.append(f"fewer rows than anchored: the log ends at row {last}, but it had row "
                              f"{most.seq} at {most.at}: rows were deleted")
    rewritten = sorted({a.seq for a in anchors if a.seq in by_seq and by_seq[a.seq].hash != a.hash})
    if rewritten:
        at = next(a.at for a in anchors if a.seq == rewritten[0])
        check.problems.append(f"row {rewritten[0]} is not the row anchored at {at}: the log was rewritten "
                              f"from there on ({len(rewritten)} anchor(s) disagree)")
    if since is not None and not any(a.seq >= since for a in anchors):
        check.problems.append(f"the log was keyed (and anchored) at row {since}, but the anchor file "
                              f"{seal.anchors} has no anchor since: the anchors were deleted or moved")
    if not anchors and since is None and last > 0:
        check.warnings.append(f"no anchors yet ({seal.anchors}): the next change anchors the head")


def _check_notices(db: sqlite3.Connection, rows: list[Entry], check: Check) -> None:
    """Every notice is written with its audit row in one transaction, the row's `after` being the very
    document written: a notice without a row is a deleted history (or a notice made outside ledctl),
    and one whose document differs from its last row was edited outside ledctl — its text on the
    boards is then something nobody approved."""
    with contextlib.suppress(sqlite3.Error):  # no notices table: nothing to compare (the store says why)
        notices = db.execute("SELECT id, doc FROM notices ORDER BY id").fetchall()
        last: dict[str, str] = {e.subject: e.after for e in rows}  # rows are in order: the last wins
        silent = [i for i, _ in notices if f"notice:{i}" not in last]
        edited = [i for i, doc in notices
                  if f"notice:{i}" in last and not _same_json(doc, last[f"notice:{i}"])]
        for ids, what in ((silent, "no row in the audit log (their history was deleted, or they were "
                                   "written outside ledctl)"),
                          (edited, "the store holds another document than the audit log's last row (edited "
                                   "outside ledctl: what the boards show was never approved)")):
            if ids:
                shown = ", ".join(map(str, ids[:10])) + (" …" if len(ids) > 10 else "")
                check.problems.append(f"notice(s) {shown}: {what}")


def _same_json(a: str, b: str) -> bool:
    try:
        return bool(json.loads(a) == json.loads(b))
    except ValueError:
        return False
