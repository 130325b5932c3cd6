"""The notice lifecycle and the bureau's review chain.

    draft ──approve (each stage)──► approved ──publish──► published ──(end)──► expired
      │  └─reject──► rejected                                  │
      ├──publish (template: one person) ───────────────────────┤
      ├──override (emergency, one person, flagged for review) ──┘
      └──────────────cancel (from draft, approved or published)──► cancelled

Free text goes through the stages of [governance] in order (by default one: an approver
who did not write it); each stage has its role, may allow editing (a new revision, the
change in the audit log) and may ask for the confidentiality review (保密审查). Whoever
already acted on a notice cannot sign off a stage that does not allow it, and never the
last one: the two-person rule is the floor of every chain. A template is pre-approved
wording, so its author's own publish suffices; an emergency override publishes alone
with a reason, records the stages it skipped (the shortcut, counted by the report), and
stays on the needs-review list until another user reviews it. Every change goes into the
audit log in the same transaction. Windows are absolute and never change after drafting.
"""

from __future__ import annotations

import json
import logging
import re
import sqlite3
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

from ledctl.clock import Clock
from ledctl.config import ALL_GROUP, Deployment, SlotType, Stage, Template
from ledctl.db import NoticeIndex, database, epoch_us, notice_index, set_notice_index
from ledctl.errors import LedctlError
from ledctl.events import event
from ledctl.model import Board
from ledctl.notices import audit
from ledctl.notices.users import AuthError, User

LEVELS = ("emergency", "normal")
STATES = ("draft", "approved", "published", "expired", "cancelled", "rejected")
ORIGINS = ("manual", "template", "cap")
MODES = ("takeover", "share")
MAX_WINDOW = timedelta(days=31)
REVISION_KEY = "notices_rev"
TIMES = ("start", "end", "created", "published_at", "closed_at")

log = logging.getLogger("ledctl.notices")

_BIDI = set("\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u061c")


class NoticeError(LedctlError):
    """A notice that may not do what was asked, with why and what to do instead."""


class DamagedNotice(NoticeError):
    """A notice row in the store that cannot be read (edited outside ledctl, or a damaged file)."""


@dataclass(frozen=True, slots=True)
class Damage:
    """One notice row that cannot be read, and what is wrong with it."""

    row: int
    problem: str

    def __str__(self) -> str:
        return f"notice row {self.row}: {self.problem}"


@dataclass(frozen=True, slots=True)
class Signoff:
    """One stage of the review chain signed off: by whom, when, and with the confidentiality review."""

    stage: str
    by: str
    at: str  # ISO 8601 with its offset (kept as written: the audit log compares documents)
    confidentiality: bool = False
    drafted: bool = False  # signed off by drafting (the department drafts or confirms it)


@dataclass(frozen=True, slots=True)
class Notice:
    id: int
    title: str
    text: str
    level: str  # emergency | normal
    targets: tuple[str, ...]  # "all", "group:<id>", "board:<id>"
    start: datetime
    end: datetime
    state: str
    author: str
    created: datetime
    mode: str = "takeover"  # takeover (the board shows only this) | share (beside the bulletin)
    share: float = 0.5
    blink: bool = False
    origin: str = "manual"
    template: str | None = None
    slots: dict[str, str] = field(default_factory=dict)
    approver: str | None = None
    published_at: datetime | None = None
    published_by: str | None = None
    override_reason: str | None = None
    needs_review: bool = False
    reviewer: str | None = None
    closed_at: datetime | None = None  # cancelled or rejected
    closed_by: str | None = None
    reason: str | None = None  # why rejected or cancelled
    cap_identifier: str | None = None
    cap_sender: str | None = None
    cap_sent: str | None = None  # the exact <sent> text (CAP references match on it)
    replaces: tuple[int, ...] = ()  # notices this one withdraws when it is published (a CAP Update)
    # Drafted from a template whose every slot is typed: wording approved beforehand, so its author's
    # own publish suffices. Absent from documents written before slots were typed: those wait for
    # an approver (the safe side).
    preapproved: bool = False
    signoffs: tuple[Signoff, ...] = ()  # the review chain's stages signed off so far, in order
    revision: int = 1  # one more for every edit during review
    skipped: tuple[str, ...] = ()  # the stages an override published past (the shortcut)

    def state_at(self, now: datetime) -> str:
        return "expired" if self.state == "published" and now >= self.end else self.state

    def to_json(self, now: datetime | None = None) -> dict[str, object]:
        doc = asdict(self)
        for key, value in doc.items():
            if isinstance(value, datetime):
                doc[key] = value.isoformat()
        doc["targets"] = list(self.targets)
        doc["replaces"] = list(self.replaces)
        doc["signoffs"] = [asdict(so) for so in self.signoffs]
        doc["skipped"] = list(self.skipped)
        if now is not None:
            doc["state"] = self.state_at(now)
        return doc

    @classmethod
    def from_json(cls, doc: dict[str, object]) -> Notice:
        times = {"start", "end", "created", "published_at", "closed_at"}
        values = {
            k: (datetime.fromisoformat(str(v)) if k in times and v is not None else v)
            for k, v in doc.items()
            if k in cls.__dataclass_fields__
        }
        values["targets"] = tuple(values.get("targets", ()))  # type: ignore[arg-type]
        values["replaces"] = tuple(values.get("replaces", ()))  # type: ignore[arg-type]
        values["signoffs"] = tuple(Signoff(**so) for so in values.get("signoffs", ()))  # type: ignore[arg-type, attr-defined]
        values["skipped"] = tuple(values.get("skipped", ()))  # type: ignore[arg-type]
        return cls(**values)  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class Standing:
    """Where a notice stands in its review chain, and who must act next."""

    stages: tuple[Stage, ...]
    signoffs: tuple[Signoff, ...]
    next: Stage | None  # the stage that acts next (None: not in review)
    acted: tuple[str, ...]  # who already acted on the notice (its author, each stage's signer)

    def not_by(self) -> tuple[str, ...]:
        """Who cannot sign off the next stage."""
        return () if self.next is None or self.next.same_person else self.acted

    def as_json(self) -> dict[str, object]:
        done = {so.stage: so for so in self.signoffs}
        return {
            "stages": [{"id": st.id, "name": st.name, "role": st.role, "may_edit": st.may_edit,
                        "confidentiality": st.confidentiality,
                        "by": done[st.id].by if st.id in done else None,
                        "at": done[st.id].at if st.id in done else None,
                        "drafted": done[st.id].drafted if st.id in done else False}
                       for st in self.stages],
            "next": None if self.next is None else {
                "id": self.next.id, "name": self.next.name, "role": self.next.role,
                "step": self.stages.index(self.next) + 1, "of": len(self.stages),
                "may_edit": self.next.may_edit, "confidentiality": self.next.confidentiality,
                "not_by": list(self.not_by())},
        }

    def describe(self) -> str:
        """One line for the command line: 2/3 办公室审核 (office): an approver other than wang, li."""
        if self.next is None:
            return ""
        others = self.not_by()
        who = f"an {self.next.role}"  # operator, approver, admin
        return (f"{self.stages.index(self.next) + 1}/{len(self.stages)} {self.next.name} ({self.next.id}): "
                f"{who}{' other than ' + ', '.join(others) if others else ''}"
                f"{'; may edit' if self.next.may_edit else ''}"
                f"{'; confirms the confidentiality review' if self.next.confidentiality else ''}")


# Checks a notice against its target boards (fonts, sizes): the problems, each naming the board.
FitCheck = Callable[[Notice, Sequence[Board]], list[str]]


def clean_text(text: str, what: str, max_chars: int, banned: Sequence[str]) -> str:
    """The text as it will be shown, or a NoticeError saying exactly what is wrong with it."""
    cleaned = unicodedata.normalize("NFC", text).strip()
    if not cleaned:
        raise NoticeError(f"{what} is empty")
    for i, c in enumerate(cleaned):
        if c in _BIDI:
            raise NoticeError(
                f"{what}: a direction mark U+{ord(c):04X} at character {i + 1}; remove it "
                "(it can make a board show text in an order nobody wrote)"
            )
        if (
            (ord(c) < 32 and c != "\n")
            or 0x7F <= ord(c) < 0xA0
            or unicodedata.category(c) in ("Cf", "Co", "Cs")
        ):
            raise NoticeError(
                f"{what}: an invisible or control character U+{ord(c):04X} at character {i + 1}; remove it"
            )
    if len(cleaned) > max_chars:
        raise NoticeError(
            f"{what} has {len(cleaned)} characters; at most {max_chars} fit a notice "
            "(shorten it, or split it into two notices)"
        )
    compared = banned_form(cleaned)
    for word in banned:
        if banned_form(word) and banned_form(word) in compared:
            raise NoticeError(f"{what} contains the banned word {word!r} (see [notices] banned_words)")
    return cleaned


# Characters that show as nothing (or as a blank) on a board, yet split a word for a plain
# substring test: Hangul fillers, the braille blank, the combining grapheme joiner, and the like.
_BLANKS = set("\u115f\u1160\u3164\uffa0\u2800\u034f\u17b4\u17b5\u180e\u00ad")


def banned_form(text: str) -> str:
    """`text` as the banned-word check compares it: NFKC (full-width letters and digits, Kangxi
    radicals, compatibility ideographs become the characters they look like), case-folded, and
    without spaces of any width, invisible characters or combining marks — so 机　密 (an
    ideographic space), ｍｉｍｉ (full width) and 机密 with a zero-width space between are the
    words they show."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    return "".join(c for c in folded
                   if not (c.isspace() or c in _BLANKS or unicodedata.category(c) in _UNSEEN))


_UNSEEN = ("Zs", "Zl", "Zp", "Cc", "Cf", "Mn", "Me")  # spaces, controls, format characters, marks


def fill_template(
    template: Template, slots: dict[str, str], banned: Sequence[str] = ()
) -> tuple[str, str, dict[str, str]]:
    """The template's title and text with its slots filled, and the slot values as filled (each
    checked against its type, times written one way); a NoticeError naming the slot otherwise."""
    missing = [s for s in template.types if s not in slots]
    if missing:
        raise NoticeError(f"template {template.id} needs {', '.join(missing)} (e.g. --slot {missing[0]}=…)")
    unknown = [s for s in slots if s not in template.types]
    if unknown:
        raise NoticeError(
            f"template {template.id} has no slot {unknown[0]!r}; its slots: "
            f"{', '.join(template.types) or 'none'}"
        )
    filled = {name: slot_value(template.id, name, kind, slots[name], banned)
              for name, kind in template.types.items()}

    def fill(s: str) -> str:
        return re.sub(r"{([^{}]*)}", lambda m: filled[m.group(1)], s)

    return fill(template.title), fill(template.text), filled


# A time in a time slot: [M月D日]H:MM[至H:MM] (also "-", "~", "到" between the two times).
_SLOT_TIME = re.compile(
    r"(?:(?P<month>\d{1,2})月(?P<day>\d{1,2})日)?\s*(?P<h1>\d{1,2}):(?P<m1>\d{2})"
    r"(?:\s*(?:至|到|-|–|~)\s*(?P<h2>\d{1,2}):(?P<m2>\d{2}))?"
)
_SLOT_NUMBER = re.compile(r"-?\d{1,9}(?:\.\d{1,3})?")


def slot_value(template: str, name: str, kind: SlotType, raw: str, banned: Sequence[str] = ()) -> str:
    """One slot's value as it goes into the notice, or a NoticeError saying what the slot takes.

    Typed slots leave no room for wording of one's own: that is what lets one person publish a
    template. Every value is one line, checked like notice text (control characters, banned words)."""
    what = f"template {template}: slot {name}"
    if "\n" in raw or "\r" in raw:
        raise NoticeError(f"{what} is one line: no line breaks")
    value = clean_text(raw, what, kind.max_chars if kind.kind in ("name", "text") else 40, banned)
    if "{" in value or "}" in value:
        raise NoticeError(f"{what} may not contain braces")
    if kind.kind == "choice":
        if value not in kind.values:
            raise NoticeError(f"{what} = {value!r}: one of {', '.join(kind.values)}")
        return value
    if kind.kind == "time":
        return _slot_time(what, unicodedata.normalize("NFKC", value))
    if kind.kind == "number":
        plain = unicodedata.normalize("NFKC", value)
        if not _SLOT_NUMBER.fullmatch(plain):
            raise NoticeError(f"{what} = {value!r}: a number like 35 or 2.5")
        number = Decimal(plain)
        if (kind.low is not None and number < kind.low) or (kind.high is not None and number > kind.high):
            raise NoticeError(f"{what} = {value}: a number from {kind.low if kind.low is not None else '…'} "
                              f"to {kind.high if kind.high is not None else '…'}")
        return plain
    if kind.kind == "name":
        odd = next((c for c in value if unicodedata.category(c)[0] not in "LN" and c != "·"), None)
        if odd is not None:
            raise NoticeError(f"{what} = {value!r}: a short name of letters and digits only "
                              f"(no {odd!r}; at most {kind.max_chars} characters)")
        return value
    return value  # text: free wording, so the notice needs a second person (Template.preapproved)


def _slot_time(what: str, value: str) -> str:
    m = _SLOT_TIME.fullmatch(value.strip())
    if m is None:
        raise NoticeError(f"{what} = {value!r}: a time like 9:00, 9:00至12:00 or 11月26日9:00至12:00")
    month, day = m["month"], m["day"]
    if month is not None and not (1 <= int(month) <= 12 and 1 <= int(day) <= 31):
        raise NoticeError(f"{what} = {value!r}: no such date")
    times = [(m["h1"], m["m1"])] + ([(m["h2"], m["m2"])] if m["h2"] is not None else [])
    if any(not (0 <= int(h) <= 24 and 0 <= int(mm) <= 59) or (int(h) == 24 and int(mm)) for h, mm in times):
        raise NoticeError(f"{what} = {value!r}: no such time of day")
    date = f"{int(month)}月{int(day)}日" if month is not None else ""
    return date + "至".join(f"{int(h)}:{mm}" for h, mm in times)


_SELECT = (
    "SELECT id, doc, state, start_us, end_us, needs_review, cap_sender, cap_identifier, cap_sent FROM notices"
)
# What a notice document must have (the rest have defaults in Notice).
_REQUIRED = ("id", "title", "text", "level", "targets", "start", "end", "state", "author", "created")
_CHOICES = {"state": STATES, "level": LEVELS, "mode": MODES, "origin": ORIGINS}


def _document_problem(row: int, doc: dict[str, object]) -> str:
    """What makes a notice document unreadable ("" when nothing), naming the field and its value."""
    missing = [key for key in _REQUIRED if key not in doc]
    if missing:
        return f"its document lacks {', '.join(missing)}"
    if type(doc["id"]) is not int or doc["id"] != row:  # type(): JSON true would equal 1
        return f"id = {json.dumps(doc['id'])}: the row is {row}"
    for key in TIMES:
        value = doc.get(key)
        if value is None and key in ("published_at", "closed_at"):
            continue
        if not isinstance(value, str):
            return f"{key} = {json.dumps(value, ensure_ascii=False)}: expected an ISO 8601 time"
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            return f"{key} = {json.dumps(value, ensure_ascii=False)}: not an ISO 8601 time"
        if parsed.tzinfo is None:
            return f"{key} = {json.dumps(value)}: a time without its offset"
    for key, allowed in _CHOICES.items():
        if key in doc and doc[key] not in allowed:
            return f"{key} = {json.dumps(doc[key], ensure_ascii=False)}: expected one of {', '.join(allowed)}"
    for key in ("title", "text", "author"):
        if not isinstance(doc[key], str):
            return f"{key} = {json.dumps(doc[key], ensure_ascii=False)}: expected text"
    for key in ("blink", "needs_review", "preapproved"):
        if key in doc and not isinstance(doc[key], bool):
            return f"{key} = {json.dumps(doc[key], ensure_ascii=False)}: expected true or false"
    share = doc.get("share", 0.5)
    if isinstance(share, bool) or not isinstance(share, int | float):
        return f"share = {json.dumps(share, ensure_ascii=False)}: expected a number"
    slots = doc.get("slots", {})
    if not isinstance(slots, dict) or not all(isinstance(v, str) for v in slots.values()):
        return f"slots = {json.dumps(slots, ensure_ascii=False)}: expected a table of texts"
    targets = doc["targets"]
    if not isinstance(targets, list) or not all(isinstance(t, str) for t in targets):
        return f"targets = {json.dumps(targets, ensure_ascii=False)}: expected a list of targets"
    replaces = doc.get("replaces", [])
    if not isinstance(replaces, list) or not all(isinstance(r, int) for r in replaces):
        return f"replaces = {json.dumps(replaces)}: expected a list of notice ids"
    signoffs = doc.get("signoffs", [])
    if not isinstance(signoffs, list) or not all(
            isinstance(so, dict) and isinstance(so.get("stage"), str) and isinstance(so.get("by"), str)
            and isinstance(so.get("at"), str) and set(so) <= set(Signoff.__slots__) for so in signoffs):
        return f"signoffs = {json.dumps(signoffs, ensure_ascii=False)}: expected a list of {{stage, by, at}}"
    skipped = doc.get("skipped", [])
    if not isinstance(skipped, list) or not all(isinstance(x, str) for x in skipped):
        return f"skipped = {json.dumps(skipped, ensure_ascii=False)}: expected a list of stage ids"
    revision = doc.get("revision", 1)
    if type(revision) is not int or revision < 1:
        return f"revision = {json.dumps(revision)}: expected a whole number from 1"
    return ""


def _parse(row: tuple[object, ...]) -> Notice | Damage:
    """The notice a row holds, or what is wrong with it: a damaged row never stops the others."""
    notice_id, text, *columns = row
    assert isinstance(notice_id, int)
    try:
        doc = json.loads(str(text))
    except ValueError as e:
        return Damage(notice_id, f"its document is not JSON ({e})")
    if not isinstance(doc, dict):
        return Damage(notice_id, "its document is not a JSON object")
    problem = _document_problem(notice_id, doc)
    if problem:
        return Damage(notice_id, problem)
    try:
        notice = Notice.from_json(doc)
        index = notice_index(doc)
    except (TypeError, ValueError) as e:
        return Damage(notice_id, f"its document does not make a notice ({e})")
    state, start_us, end_us, review, sender, identifier, sent = columns
    stored = NoticeIndex(state, start_us, end_us, bool(review), sender, identifier, sent)  # type: ignore[arg-type]
    if stored != index:
        differ = [f"{name} {getattr(stored, name)!r} in the columns, {getattr(index, name)!r} in the document"
                  for name in NoticeIndex.__slots__ if getattr(stored, name) != getattr(index, name)]
        return Damage(notice_id, "its indexed columns disagree with its document: " + "; ".join(differ))
    return notice


class Notices:
    """Notices in the store, every change checked, audited and counted (the service watches the count).

    Each notice is a JSON document with indexed columns (state, window, review, CAP keys) written
    from that document in the same transaction, so the frequent questions are index queries.
    A row that cannot be read is skipped by every query, logged once, and listed by `damaged()`.
    """

    def __init__(self, dep: Deployment, path: Path, clock: Clock, fit: FitCheck | None = None) -> None:
        self.dep = dep
        self.path = path
        self.clock = clock
        self.fit = fit
        self.db = database(path)
        self.seal = audit.Seal.of(dep.audit, path.parent)  # the audit log's key and anchors

    # -- reading ---------------------------------------------------------------------------------

    def get(self, notice_id: int) -> Notice:
        with self.db.read() as db:
            return self._get(db, notice_id)

    def _get(self, db: sqlite3.Connection, notice_id: int) -> Notice:
        if not 1 <= notice_id < 2**63:  # what SQLite can hold; no notice has such an id
            raise NoticeError(f"no notice {notice_id} (ledctl notice list shows them)")
        row = db.execute(f"{_SELECT} WHERE id = ?", (notice_id,)).fetchone()
        if row is None:
            raise NoticeError(f"no notice {notice_id} (ledctl notice list shows them)")
        parsed = _parse(row)
        if isinstance(parsed, Damage):
            self._report(parsed)
            raise DamagedNotice(f"notice {notice_id} cannot be read from the store {self.path}: "
                                f"{parsed.problem} (edited outside ledctl? the audit log has its history)")
        return parsed

    def _select(self, where: str = "", args: tuple[object, ...] = ()) -> list[Notice]:
        with self.db.read() as db:
            rows = db.execute(f"{_SELECT} {where} ORDER BY id", args).fetchall()
        notices = []
        for row in rows:
            parsed = _parse(row)
            if isinstance(parsed, Damage):
                self._report(parsed)
            else:
                notices.append(parsed)
        return notices

    def _report(self, damage: Damage) -> None:
        key = ("notice", damage.row, damage.problem)
        if key not in self.db.reported:  # once per row and problem, not every second
            self.db.reported.add(key)
            event(log, "notice-damaged", level=logging.WARNING, row=damage.row, problem=damage.problem,
                  store=self.path)

    def list(self) -> list[Notice]:
        return self._select()

    def published(self, now: datetime) -> list[Notice]:
        """Published notices not yet past their end: what boards show now or will show."""
        found = self._select("WHERE state = 'published' AND end_us > ?", (epoch_us(now),))
        return [n for n in found if n.state == "published" and now < n.end]

    def needs_review(self) -> list[Notice]:
        return self._select("WHERE needs_review = 1")

    def by_cap(self, sender: str, identifier: str, sent: str | None = None) -> list[Notice]:
        """The notices made from one CAP alert (`sent`: only those of that exact <sent> text)."""
        if sent is None:
            return self._select("WHERE cap_sender = ? AND cap_identifier = ?", (sender, identifier))
        return self._select("WHERE cap_sender = ? AND cap_identifier = ? AND cap_sent = ?",
                            (sender, identifier, sent))

    def damaged(self) -> list[Damage]:
        """Every notice row that cannot be read, and why (each is also logged once)."""
        with self.db.read() as db:
            rows = db.execute(f"{_SELECT} ORDER BY id").fetchall()
        found = [p for p in map(_parse, rows) if isinstance(p, Damage)]
        for damage in found:
            self._report(damage)
        return found

    def revision(self) -> int:
        with self.db.read() as db:
            row = db.execute("SELECT value FROM service WHERE key = ?", (REVISION_KEY,)).fetchone()
        return int(row[0]) if row else 0

    def audit_log(self, subject: str | None = None) -> list[audit.Entry]:
        with self.db.read() as db:
            return audit.entries(db, subject)

    def verify_audit(self) -> tuple[list[str], tuple[int, str]]:
        check = self.check_audit()
        return check.problems, (check.rows, check.head)

    def check_audit(self, heads: Sequence[audit.Anchor] = ()) -> audit.Check:
        """The audit log checked: chain, key, anchors (and `heads` kept elsewhere), every notice's
        history. When it is intact its head is anchored too: each check adds evidence."""
        with self.db.read() as db:  # one snapshot: the rows and the head agree
            check = audit.verify(db, self.seal, tuple(heads))
        if check.intact:
            self.seal.anchor(self.db, self.clock.now())
        return check

    def standing(self, n: Notice) -> Standing:
        """Where `n` stands in the review chain: a draft that is not pre-approved wording waits for the
        first stage not yet signed off."""
        stages = self.dep.governance.stages
        signed = {so.stage for so in n.signoffs}
        waiting = n.state == "draft" and not (n.origin == "template" and n.preapproved)
        nxt = next((st for st in stages if st.id not in signed), None) if waiting else None
        acted = tuple(dict.fromkeys([n.author, *(so.by for so in n.signoffs)]))
        return Standing(stages, n.signoffs, nxt, acted)

    def boards_of(self, targets: Sequence[str]) -> tuple[Board, ...]:
        chosen: dict[str, Board] = {}
        for target in targets:
            kind, _, name = target.partition(":")
            if target == ALL_GROUP:
                boards: tuple[Board, ...] = self.dep.boards
            elif kind == "group" and (name in self.dep.groups or name == ALL_GROUP):
                boards = self.dep.boards_in(name)
            elif kind == "board" and any(b.id == name for b in self.dep.boards):
                boards = (self.dep.board(name),)
            else:
                raise NoticeError(
                    f"target {target!r}: use all, group:<id> ({', '.join(self.dep.groups)}) or board:<id>"
                )
            chosen.update((b.id, b) for b in boards)
        return tuple(b for b in self.dep.boards if b.id in chosen)

    # -- changes ---------------------------------------------------------------------------------

    def _write(
        self, db: sqlite3.Connection, notice: Notice, actor: str, action: str, before: Notice | None
    ) -> Notice:
        now = self.clock.now()
        if before is None:
            cur = db.execute("INSERT INTO notices (doc) VALUES ('{}')")
            notice = replace(notice, id=int(cur.lastrowid or 0))
        doc = notice.to_json()
        db.execute(
            "UPDATE notices SET doc = ? WHERE id = ?",
            (json.dumps(doc, ensure_ascii=False, sort_keys=True), notice.id),
        )
        set_notice_index(db, notice.id, notice_index(doc))  # the columns, from the very document written
        audit.append(
            db,
            now,
            actor,
            action,
            f"notice:{notice.id}",
            before.to_json() if before else None,
            notice.to_json(),
            seal=self.seal,
        )
        db.execute(
            "INSERT INTO service VALUES (?, '1') ON CONFLICT(key) DO UPDATE SET value = value + 1",
            (REVISION_KEY,),
        )
        newly_published = notice.state == "published" and (before is None or before.state != "published")
        if newly_published and notice.replaces:
            self._withdraw_replaced(db, notice, actor, now)
        return notice

    def _withdraw_replaced(self, db: sqlite3.Connection, notice: Notice, actor: str, now: datetime) -> None:
        """The notices a newly published one replaces end in the same transaction: the public is
        never left between two warnings (the old stays up until the new one is on)."""
        for old_id in notice.replaces:
            try:
                old = self._get(db, old_id)
            except DamagedNotice:
                continue  # unreadable, so never shown: nothing to withdraw (it is reported)
            if old.state_at(now) in ("draft", "approved", "published"):
                gone = replace(old, state="cancelled", closed_at=now, closed_by=actor,
                               reason=f"replaced by notice {notice.id}")
                self._write(db, gone, actor, "cancel", old)

    def draft(
        self,
        user: User,
        *,
        title: str,
        text: str,
        level: str,
        targets: Sequence[str],
        start: datetime | None = None,
        end: datetime,
        mode: str | None = None,
        share: float | None = None,
        blink: bool = False,
        origin: str = "manual",
        template: str | None = None,
        slots: dict[str, str] | None = None,
        cap: tuple[str, str, str] | None = None,
        author: str | None = None,
        replaces: Sequence[int] = (),
        preapproved: bool = False,
    ) -> Notice:
        if author is None:  # a CAP import is drafted by its sender, not by a user
            user.require("operator", "draft notices")
        now = self.clock.now()
        rules = self.dep.notices
        if level not in LEVELS:
            raise NoticeError(f"level {level!r}: emergency or normal")
        mode = mode or ("takeover" if level == "emergency" else "share")
        if mode not in MODES:
            raise NoticeError(
                f"mode {mode!r}: takeover (the board shows only the notice) or share (beside the bulletin)"
            )
        share = rules.default_share if share is None else share
        if not 0.1 <= share <= 0.9:
            raise NoticeError(f"share {share}: a share of the loop between 0.1 and 0.9")
        title = clean_text(title, "the title", 40, rules.banned_words)
        text = clean_text(text, "the text", rules.max_chars, rules.banned_words)
        if not targets:
            raise NoticeError("no targets: give all, group:<id> or board:<id>")
        boards = self.boards_of(targets)
        start = start or now
        if start.tzinfo is None or end.tzinfo is None:
            raise NoticeError("start and end need a time zone (or are read in the site's)")
        if end <= start:
            raise NoticeError(f"the window ends ({end.isoformat()}) before it starts ({start.isoformat()})")
        if end <= now:
            raise NoticeError(f"the window ended already ({end.isoformat()}); give a later --end")
        if end - start > MAX_WINDOW:
            raise NoticeError(
                f"the window is {(end - start).days} days; at most {MAX_WINDOW.days} "
                "(a standing message belongs in a layout, not a notice)"
            )
        notice = Notice(
            0,
            title,
            text,
            level,
            tuple(targets),
            start,
            end,
            "draft",
            author or user.name,
            now,
            mode=mode,
            share=share,
            blink=blink,
            origin=origin,
            template=template,
            slots=dict(slots or {}),
            cap_identifier=cap[1] if cap else None,
            cap_sender=cap[0] if cap else None,
            cap_sent=cap[2] if cap else None,
            replaces=tuple(replaces),
            preapproved=preapproved and origin == "template",
        )
        if author is None:  # a user's own draft: "the department drafts or confirms it" (not a feed's)
            drafted = []
            for stage in self.dep.governance.stages:
                if not (stage.drafting_counts and user.can(stage.role)):
                    break
                drafted.append(Signoff(stage.id, user.name, now.isoformat(), drafted=True))
            notice = replace(notice, signoffs=tuple(drafted))
        if self.fit is not None:
            problems = self.fit(notice, boards)
            if problems:
                raise NoticeError("the notice does not fit every target board:\n  " + "\n  ".join(problems))
        with self.db.write() as db:
            notice = self._write(db, notice, author or user.name, "draft", None)
        # Once committed: an anchor never names a row that was rolled back.
        self.seal.anchor(self.db, self.clock.now())
        return notice

    def draft_from_template(
        self,
        user: User,
        template_id: str,
        slots: dict[str, str],
        *,
        targets: Sequence[str],
        end: datetime,
        start: datetime | None = None,
        mode: str | None = None,
    ) -> Notice:
        template = self.dep.notices.templates.get(template_id)
        if template is None:
            raise NoticeError(
                f"no template {template_id!r}; the templates: "
                f"{', '.join(self.dep.notices.templates) or 'none (see [notices.templates])'}"
            )
        title, text, filled = fill_template(template, slots, self.dep.notices.banned_words)
        return self.draft(
            user,
            title=title,
            text=text,
            level=template.level,
            targets=targets,
            start=start,
            end=end,
            mode=mode,
            origin="template",
            template=template_id,
            slots=filled,
            preapproved=template.preapproved,
        )

    def _change(
        self, notice_id: int, actor: str, action: str | Callable[[Notice], str],
        change: Callable[[Notice, datetime], Notice],
    ) -> Notice:
        with self.db.write() as db:  # the write lock from the start: read-then-write is atomic
            before = self._get(db, notice_id)
            after = change(before, self.clock.now())
            said = action if isinstance(action, str) else action(after)
            written = self._write(db, after, actor, said, before)
        self.seal.anchor(self.db, self.clock.now())
        return written

    @staticmethod
    def _expect(notice: Notice, now: datetime, states: Sequence[str], doing: str) -> None:
        state = notice.state_at(now)
        if state not in states:
            raise NoticeError(
                f"notice {notice.id} is {state}; only a notice that is {' or '.join(states)} can be {doing}"
            )

    def _stage_for(self, user: User, n: Notice, doing: str) -> Stage:
        """The stage `user` would act at on `n`, checked: their role, and whether they already acted."""
        standing = self.standing(n)
        stage = standing.next
        if stage is None:  # signed off under a chain since shortened: the last stage approves it
            stage = standing.stages[-1]
        if not user.can(stage.role):
            raise AuthError(f"to {doing} {stage.name} ({stage.id}, stage {standing.stages.index(stage) + 1} "
                            f"of {len(standing.stages)}) needs the {stage.role} role; {user.name} is "
                            f"{user.role}")
        if not stage.same_person and user.name in standing.acted:
            did = "wrote" if user.name == n.author else "signed off an earlier stage of"
            raise AuthError(f"{user.name} {did} notice {n.id}; another {stage.role} must {doing} "
                            f"{stage.name} ({stage.id}) (the two-person rule)")
        return stage

    def approve(self, user: User, notice_id: int, *, confidentiality_checked: bool = False) -> Notice:
        """Sign off the next stage of the notice's review chain; the last one approves it."""
        user.require("operator", "sign off notices")

        def change(n: Notice, now: datetime) -> Notice:
            self._expect(n, now, ("draft",), "approved")
            stage = self._stage_for(user, n, "sign off")
            if stage.confidentiality and not confidentiality_checked:
                raise NoticeError(
                    f"{stage.name} ({stage.id}) confirms the confidentiality review (保密审查) of notice "
                    f"{n.id}: review it, then sign off with --confidentiality-checked "
                    "(API: confidentiality_checked = true)")
            if now >= n.end:
                raise NoticeError(f"notice {n.id}'s window ended at {n.end.isoformat()}; draft a new one")
            signoffs = (*(so for so in n.signoffs if so.stage != stage.id),
                        Signoff(stage.id, user.name, now.isoformat(), stage.confidentiality))
            signed = {so.stage for so in signoffs}
            if all(st.id in signed for st in self.dep.governance.stages):
                return replace(n, state="approved", approver=user.name, signoffs=signoffs)
            return replace(n, signoffs=signoffs)

        def action(n: Notice) -> str:
            return "approve" if n.state == "approved" else "sign-off"

        return self._change(notice_id, user.name, action, change)

    def edit(self, user: User, notice_id: int, *, title: str | None = None,
             text: str | None = None) -> Notice:
        """Change a draft's title or text at a stage that may edit: a new revision, the change audited."""
        user.require("operator", "edit notices")
        rules = self.dep.notices

        def change(n: Notice, now: datetime) -> Notice:
            self._expect(n, now, ("draft",), "edited")
            standing = self.standing(n)
            if standing.next is None or not standing.next.may_edit:
                editing = [st.name for st in standing.stages if st.may_edit]
                where = f"at {standing.next.name} ({standing.next.id})" if standing.next else "not in review"
                raise NoticeError(f"notice {n.id} is {where}, which does not edit; "
                                  + (f"only {'、'.join(editing)} may edit" if editing else "no stage edits")
                                  + " (or cancel it and draft it anew)")
            self._stage_for(user, n, "edit at")
            banned = rules.banned_words
            new_title = n.title if title is None else clean_text(title, "the title", 40, banned)
            new_text = n.text if text is None else clean_text(text, "the text", rules.max_chars, banned)
            if (new_title, new_text) == (n.title, n.text):
                raise NoticeError(f"notice {n.id}: the title and text are as they were; nothing to edit")
            edited = replace(n, title=new_title, text=new_text, revision=n.revision + 1)
            if self.fit is not None:
                problems = self.fit(edited, self.boards_of(n.targets))
                if problems:
                    raise NoticeError("the edited notice does not fit every target board:\n  "
                                      + "\n  ".join(problems))
            return edited

        return self._change(notice_id, user.name, "edit", change)

    def reject(self, user: User, notice_id: int, reason: str) -> Notice:
        user.require("approver", "reject notices")
        reason = clean_text(reason, "the reason", 200, ())

        def change(n: Notice, now: datetime) -> Notice:
            self._expect(n, now, ("draft",), "rejected")
            if n.author == user.name:
                raise AuthError(f"{user.name} wrote notice {n.id}; cancel it instead of rejecting it")
            return replace(n, state="rejected", closed_at=now, closed_by=user.name, reason=reason)

        return self._change(notice_id, user.name, "reject", change)

    def publish(self, user: User, notice_id: int) -> Notice:
        user.require("operator", "publish notices")

        def change(n: Notice, now: datetime) -> Notice:
            if n.origin == "template" and n.preapproved and n.state == "draft":
                pass  # pre-approved wording, every slot typed: one person's confirmation is the rule
            elif n.origin == "template" and n.state == "draft":
                raise NoticeError(
                    f"notice {n.id} fills a template with free wording (slots "
                    f"{', '.join(n.slots) or '—'}): like free text, another approver approves it first"
                )
            else:
                self._expect(n, now, ("approved",), "published (free text needs an approver first)")
            if now >= n.end:
                raise NoticeError(
                    f"notice {n.id}'s window ended at {n.end.isoformat()}; it can no longer be "
                    "published (draft a new one)"
                )
            return replace(
                n,
                state="published",
                published_at=now,
                published_by=user.name,
                approver=n.approver or (user.name if n.origin == "template" and n.preapproved else None),
            )

        return self._change(notice_id, user.name, "publish", change)

    def override(self, user: User, notice_id: int, reason: str) -> Notice:
        """Emergency override: publish a draft alone, with a reason; flagged until someone reviews it."""
        user.require("approver", "publish by emergency override")
        reason = clean_text(reason, "the override reason", 200, ())
        if len(reason) < 4:
            raise NoticeError("say why the override is needed (at least 4 characters)")

        def change(n: Notice, now: datetime) -> Notice:
            self._expect(n, now, ("draft", "approved"), "published by override")
            if n.level != "emergency":
                raise NoticeError(
                    f"notice {n.id} is {n.level}; the override is only for emergencies (ask an approver)"
                )
            if now >= n.end:
                raise NoticeError(f"notice {n.id}'s window ended at {n.end.isoformat()}; draft a new one")
            standing = self.standing(n)
            signed = {so.stage for so in n.signoffs}
            skipped = (tuple(st.id for st in standing.stages if st.id not in signed)
                       if n.state == "draft" else ())
            return replace(
                n,
                state="published",
                published_at=now,
                published_by=user.name,
                override_reason=reason,
                needs_review=True,
                skipped=skipped,
            )

        return self._change(notice_id, user.name, "override", change)

    def review(self, user: User, notice_id: int) -> Notice:
        user.require("approver", "review overrides")

        def change(n: Notice, now: datetime) -> Notice:
            if not n.needs_review:
                raise NoticeError(f"notice {n.id} does not need a review")
            if user.name == n.published_by:
                raise AuthError(
                    f"{user.name} published notice {n.id} by override; another approver reviews it"
                )
            return replace(n, needs_review=False, reviewer=user.name)

        return self._change(notice_id, user.name, "review", change)

    def cancel(self, user: User | None, notice_id: int, reason: str, *, actor: str | None = None) -> Notice:
        if user is not None:
            user.require("operator", "cancel notices")
        who = actor or (user.name if user else "system")
        reason = clean_text(reason, "the reason", 200, ())

        def change(n: Notice, now: datetime) -> Notice:
            self._expect(n, now, ("draft", "approved", "published"), "cancelled")
            return replace(n, state="cancelled", closed_at=now, closed_by=who, reason=reason)

        return self._change(notice_id, who, "cancel", change)

    def publish_trusted(self, notice_id: int, actor: str) -> Notice:
        """A CAP alert from a sender the config trusts: published without a second person."""

        def change(n: Notice, now: datetime) -> Notice:
            self._expect(n, now, ("draft",), "published")
            return replace(n, state="published", published_at=now, published_by=actor, approver=actor)

        return self._change(notice_id, actor, "publish-trusted", change)

    def expire_due(self) -> list[Notice]:
        """Mark published notices past their end as expired (the audit says when it was noticed)."""
        now = self.clock.now()
        done = []

        def expire(n: Notice, now: datetime) -> Notice:
            if n.state != "published":  # cancelled meanwhile by someone else: leave it
                raise NoticeError(f"notice {n.id} is {n.state}")
            return replace(n, state="expired")

        for n in self._select("WHERE state = 'published' AND end_us <= ?", (epoch_us(now),)):
            if n.state == "published" and now >= n.end:
                try:
                    done.append(self._change(n.id, "system", "expire", expire))
                except NoticeError:
                    continue
        return done

    def record(self, actor: str, action: str, subject: str, detail: object) -> None:
        """An event that changes no notice but belongs in the audit log (e.g. an ignored CAP test alert)."""
        with self.db.write() as db:
            audit.append(db, self.clock.now(), actor, action, subject, None, detail, seal=self.seal)
        self.seal.anchor(self.db, self.clock.now())
