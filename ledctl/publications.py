"""Publish once, reach every channel: what the bureau published, each item once by a stable id.

Every daily bulletin and every published notice becomes a publication (`bulletin:2026-11-25`,
`notice:7`) with its latest revision. The feeds (`/feed.atom`, `/feed.json`, `/cap/alerts.xml`)
read them; each configured channel ([[channels]], a webhook) gets each revision once through its
outbox, a queue in the store written in the same transaction as the publication — so nothing
is lost across a restart, and the outbox row (sent when, what the receiver answered) is the proof
of delivery. A cancelled notice is a new revision of its publication, not a new item.

Documents are plain JSON with times in the deployment's zone; pictures are PNGs kept once by
content hash (the feeds enclose them: `/feed/pictures/<hash>.png`).
"""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from PIL import Image

from ledctl.config import Channel, Deployment
from ledctl.db import database
from ledctl.model import Bulletin, Program

MAX_FEED_ITEMS = 50


@dataclass(frozen=True, slots=True)
class Publication:
    id: str  # "bulletin:2026-11-25", "notice:7": stable across revisions
    kind: str  # bulletin, notice
    published_at: datetime
    updated_at: datetime
    revision: str
    doc: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Delivery:
    """One row of a channel's outbox: a revision of a publication to push, or pushed."""

    seq: int  # the delivery id the receiver sees (X-Ledctl-Delivery)
    channel: str
    publication: str
    revision: str
    attempts: int
    next_try: datetime
    sent_at: datetime | None
    status: int | None
    last_error: str


@dataclass(frozen=True, slots=True)
class ChannelState:
    """How a channel is doing, for the console and the report."""

    channel: str
    sent: int
    pending: int
    failing: int  # pending rows that have failed at least once
    last_error: str
    last_sent: datetime | None


def _revision(doc: Mapping[str, Any]) -> str:
    return hashlib.sha256(json.dumps(doc, ensure_ascii=False, sort_keys=True).encode()).hexdigest()[:16]


def png(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, "PNG", optimize=True)
    return out.getvalue()


class Publications:
    """The publications, their pictures and the channels' outboxes in the store at `path`."""

    def __init__(self, path: Path) -> None:
        self.db = database(path)

    # -- writing -------------------------------------------------------------------------------

    def record(self, pub_id: str, kind: str, doc: Mapping[str, Any], at: datetime,
               channels: Sequence[Channel], pictures: Iterable[bytes] = ()) -> bool:
        """Keep `doc` as the latest revision of `pub_id` (and its pictures), and queue it for every
        channel that receives `kind` — in one transaction. False when this revision is kept already."""
        revision = _revision(doc)
        when = at.isoformat()
        with self.db.write() as db:
            row = db.execute("SELECT revision FROM publications WHERE id = ?", (pub_id,)).fetchone()
            if row is not None and row[0] == revision:
                return False
            for data in pictures:
                db.execute("INSERT OR IGNORE INTO pictures (hash, png) VALUES (?, ?)",
                           (hashlib.sha256(data).hexdigest()[:32], data))
            body = json.dumps(doc, ensure_ascii=False, sort_keys=True)
            if row is None:
                db.execute("INSERT INTO publications (id, kind, published_at, updated_at, revision, doc) "
                           "VALUES (?, ?, ?, ?, ?, ?)", (pub_id, kind, when, when, revision, body))
            else:
                db.execute("UPDATE publications SET updated_at = ?, revision = ?, doc = ? WHERE id = ?",
                           (when, revision, body, pub_id))
            for channel in channels:
                if kind in channel.receives:
                    # An older revision not yet delivered goes no more: this one carries the news.
                    db.execute("UPDATE outbox SET sent_at = ?, status = 0, last_error = ? WHERE channel = ? "
                               "AND publication = ? AND sent_at IS NULL",
                               (when, f"superseded by revision {revision}", channel.name, pub_id))
                    db.execute("INSERT OR IGNORE INTO outbox (channel, publication, revision, queued_at, "
                               "next_try) VALUES (?, ?, ?, ?, ?)",
                               (channel.name, pub_id, revision, when, when))
        return True

    @staticmethod
    def picture_hash(data: bytes) -> str:
        return hashlib.sha256(data).hexdigest()[:32]

    # -- reading -------------------------------------------------------------------------------

    def latest(self, kind: str | None = None, limit: int = MAX_FEED_ITEMS) -> list[Publication]:
        """The most recently updated publications, newest first."""
        query = "SELECT id, kind, published_at, updated_at, revision, doc FROM publications"
        args: tuple[object, ...] = ()
        if kind is not None:
            query += " WHERE kind = ?"
            args = (kind,)
        with self.db.read() as db:
            rows = db.execute(query + " ORDER BY updated_at DESC, id LIMIT ?", (*args, limit)).fetchall()
        return [_publication(r) for r in rows]

    def get(self, pub_id: str) -> Publication | None:
        with self.db.read() as db:
            row = db.execute("SELECT id, kind, published_at, updated_at, revision, doc FROM publications "
                             "WHERE id = ?", (pub_id,)).fetchone()
        return _publication(row) if row else None

    def picture(self, digest: str) -> bytes | None:
        with self.db.read() as db:
            row = db.execute("SELECT png FROM pictures WHERE hash = ?", (digest,)).fetchone()
        return bytes(row[0]) if row else None

    def counts(self) -> dict[str, int]:
        """Publications by kind (for the disclosure report)."""
        with self.db.read() as db:
            return dict(db.execute("SELECT kind, count(*) FROM publications GROUP BY kind").fetchall())

    # -- the outbox ----------------------------------------------------------------------------

    def due(self, now: datetime, limit: int = 20) -> list[tuple[Delivery, Publication]]:
        """Deliveries whose time has come, oldest first, with the revision they carry."""
        with self.db.read() as db:
            rows = db.execute(
                "SELECT o.seq, o.channel, o.publication, o.revision, o.attempts, o.next_try, o.sent_at, "
                "o.status, o.last_error, p.id, p.kind, p.published_at, p.updated_at, p.revision, p.doc "
                "FROM outbox o JOIN publications p ON p.id = o.publication "
                "WHERE o.sent_at IS NULL AND julianday(o.next_try) <= julianday(?) ORDER BY o.seq LIMIT ?",
                (now.isoformat(), limit)).fetchall()
        return [(_delivery(r[:9]), _publication(r[9:])) for r in rows]

    def next_due(self) -> datetime | None:
        with self.db.read() as db:
            row = db.execute("SELECT min(next_try) FROM outbox WHERE sent_at IS NULL").fetchone()
        return datetime.fromisoformat(row[0]) if row and row[0] else None

    def sent(self, seq: int, at: datetime, status: int) -> None:
        with self.db.write() as db:
            db.execute("UPDATE outbox SET sent_at = ?, status = ?, attempts = attempts + 1, last_error = '' "
                       "WHERE seq = ?", (at.isoformat(), status, seq))

    def failed(self, seq: int, at: datetime, error: str, status: int | None = None) -> datetime:
        """A try failed: the next one after a backoff (30 s doubling to an hour); returns when."""
        with self.db.write() as db:
            row = db.execute("SELECT attempts FROM outbox WHERE seq = ?", (seq,)).fetchone()
            attempts = (row[0] if row else 0) + 1
            later = at + timedelta(seconds=min(30 * 2 ** (attempts - 1), 3600))
            db.execute("UPDATE outbox SET attempts = ?, next_try = ?, status = ?, last_error = ? "
                       "WHERE seq = ?", (attempts, later.isoformat(), status, error[:500], seq))
        return later

    def deliveries(self, channel: str | None = None) -> list[Delivery]:
        query = ("SELECT seq, channel, publication, revision, attempts, next_try, sent_at, status, "
                 "last_error FROM outbox")
        args: tuple[object, ...] = ()
        if channel is not None:
            query += " WHERE channel = ?"
            args = (channel,)
        with self.db.read() as db:
            return [_delivery(r) for r in db.execute(query + " ORDER BY seq", args).fetchall()]

    def channel_states(self, channels: Sequence[Channel]) -> list[ChannelState]:
        out = []
        with self.db.read() as db:
            for channel in channels:
                sent, pending, failing, last_sent = db.execute(
                    "SELECT sum(CASE WHEN status BETWEEN 200 AND 299 THEN 1 ELSE 0 END), "
                    "count(*) - count(sent_at), "
                    "sum(CASE WHEN sent_at IS NULL AND attempts > 0 THEN 1 ELSE 0 END), max(sent_at) "
                    "FROM outbox WHERE channel = ?", (channel.name,)).fetchone()
                error = db.execute("SELECT last_error FROM outbox WHERE channel = ? AND sent_at IS NULL "
                                   "AND last_error != '' ORDER BY seq DESC LIMIT 1",
                                   (channel.name,)).fetchone()
                out.append(ChannelState(channel.name, sent or 0, pending or 0, failing or 0,
                                        error[0] if error else "",
                                        datetime.fromisoformat(last_sent) if last_sent else None))
        return out


def _publication(r: Sequence[Any]) -> Publication:
    return Publication(r[0], r[1], datetime.fromisoformat(r[2]), datetime.fromisoformat(r[3]), r[4],
                       json.loads(r[5]))


def _delivery(r: Sequence[Any]) -> Delivery:
    return Delivery(r[0], r[1], r[2], r[3], r[4], datetime.fromisoformat(r[5]),
                    datetime.fromisoformat(r[6]) if r[6] else None, r[7], r[8])


# -- the documents ---------------------------------------------------------------------------------


def bulletin_doc(dep: Deployment, bulletin: Bulletin, programs: Mapping[str, Program]
                 ) -> tuple[str, dict[str, Any], list[bytes]]:
    """The publication of a daily bulletin: its id, document and the distinct board pictures."""
    tz = dep.tz
    issued = bulletin.issued.astimezone(tz)
    stations = []
    for sid, sb in sorted(bulletin.stations.items()):
        entry: dict[str, Any] = {"id": sid, "name": sb.station_name,
                                 "day": sb.day.isoformat() if sb.day else None, "sample": sb.sample}
        if sb.assessment is None:
            entry.update({"aqi": None, "text": f"{sb.station_name} 数据更新中"})
        else:
            a = sb.assessment
            primary = "、".join(a.primary) or "无"
            entry.update({
                "aqi": a.display, "level": a.level, "category": a.category, "colour": a.colour,
                "primary": list(a.primary), "standard": a.standard,
                "missing": list(sb.missing),
                "values": {k: str(v) for k, v in sorted(sb.values.items())},
                "text": f"{sb.station_name} 空气质量指数 {a.display} {a.category}，首要污染物：{primary}",
            })
        stations.append(entry)
    water = []
    for wid, wb in sorted(bulletin.water.items()):
        water.append({"id": wid, "name": wb.station_name, "day": wb.day.isoformat() if wb.day else None,
                      "class": wb.label or None, "category": wb.category or None, "sample": wb.sample,
                      "text": (f"{wb.station_name} 水质 {wb.label}类 {wb.category}" if wb.label
                               else f"{wb.station_name} 数据更新中")})
    pictures: dict[str, bytes] = {}
    boards: dict[str, list[str]] = {}
    for board_id, program in sorted(programs.items()):
        for page in program.pages:
            data = png(page.image)
            digest = Publications.picture_hash(data)
            pictures.setdefault(digest, data)
            boards.setdefault(board_id, []).append(digest)
    day = issued.date().isoformat()
    doc = {"kind": "bulletin", "date": day, "issued": issued.isoformat(timespec="minutes"),
           "title": f"{dep.site.name} {day} 环境质量日报", "stations": stations, "water": water,
           "pictures": boards}
    return f"bulletin:{day}", doc, list(pictures.values())


def notice_doc(dep: Deployment, notice: Any, now: datetime) -> tuple[str, dict[str, Any]]:
    """The publication of a published notice; its cancellation or end is a new revision."""
    tz = dep.tz
    state = notice.state_at(now)
    doc = {
        "kind": "notice", "id": notice.id, "title": notice.title, "text": notice.text,
        "level": notice.level, "targets": list(notice.targets),
        "target_names": [b.name for b in _boards(dep, notice.targets)],
        "start": notice.start.astimezone(tz).isoformat(timespec="minutes"),
        "end": notice.end.astimezone(tz).isoformat(timespec="minutes"),
        "state": {"published": "published", "cancelled": "cancelled"}.get(state, "ended"),
        "published_at": notice.published_at.astimezone(tz).isoformat(timespec="seconds"),
    }
    if state == "cancelled":
        doc["cancelled_at"] = notice.closed_at.astimezone(tz).isoformat(timespec="seconds")
        doc["reason"] = notice.reason or ""
    return f"notice:{notice.id}", doc


def _boards(dep: Deployment, targets: Sequence[str]) -> list[Any]:
    chosen: set[str] = set()
    for target in targets:
        kind, _, name = target.partition(":")
        if target == "all":
            chosen |= {b.id for b in dep.boards}
        elif kind == "group":
            chosen |= {b.id for b in dep.boards_in(name)}
        elif kind == "board":
            chosen.add(name)
    return [b for b in dep.boards if b.id in chosen]
