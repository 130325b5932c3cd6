"""The controller side of the ledctl-mqtt protocol (docs/protocols/ledctl-mqtt.md).

A program goes out as retained PNG pages and then a retained manifest, so a board
that reboots finds its current program on the broker. It counts as delivered only
when the board acknowledges its hash (an ack, or the hash in its retained status).
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from ledctl.drivers.base import (
    Capabilities,
    Content,
    Driver,
    DriverContext,
    DriverSpec,
    Health,
    Outcome,
    Report,
    Result,
)
from ledctl.drivers.mqtt_link import MqttLink
from ledctl.errors import FaultError
from ledctl.model import Board, ColourMode, Program

if TYPE_CHECKING:
    from ledctl.schedule import Settings

PROTOCOL = 1


def prefix(site: str, board: str) -> str:
    return f"ledctl/v1/{site}/{board}"


@dataclass(frozen=True, slots=True)
class Encoded:
    hash: str
    manifest: bytes
    pages: tuple[bytes, ...]

    @property
    def size(self) -> int:
        return len(self.manifest) + sum(len(p) for p in self.pages)


def encode(board: Board, program: Program, *, valid_from: datetime | None = None,
           expires: datetime | None = None) -> Encoded:
    """The manifest and the PNG pages of one board's program."""
    pages = []
    entries = []
    for i, page in enumerate(program.pages):
        buffer = io.BytesIO()
        page.image.convert("RGB").save(buffer, format="PNG", optimize=False)
        png = buffer.getvalue()
        pages.append(png)
        entries.append({"index": i, "name": page.name, "effect": page.effect, "dwell": round(page.dwell_s, 3),
                        "speed": page.speed_px_s, "width": page.image.width, "height": page.image.height,
                        "sha256": hashlib.sha256(png).hexdigest()})
    content = program.content_hash()
    manifest = {
        "protocol": PROTOCOL, "hash": content, "board": board.id,
        "size": [board.size.width, board.size.height], "colour": board.colour.value,
        "valid_from": valid_from.isoformat() if valid_from else None,
        "expires": expires.isoformat() if expires else None,
        "pages": entries,
    }
    return Encoded(content, json.dumps(manifest, ensure_ascii=False, sort_keys=True).encode(), tuple(pages))


@dataclass
class BoardState:
    """What the broker says about a board: its retained manifest and status."""

    program: str = ""  # hash of the retained manifest
    pages: int = 0  # pages that manifest has
    shows: str = ""  # hash in the board's status
    online: bool | None = None
    error: str = ""


@dataclass
class MqttBoards:
    """All ledctl-mqtt boards of one site behind one broker link: what the broker says of each
    (kept current by the link's subscriptions), publishing programs and commands, waiting for acks."""

    link: MqttLink
    site: str
    states: dict[str, BoardState] = field(default_factory=dict)
    command_acks: dict[str, str] = field(default_factory=dict)  # command id -> "" (done) or the error
    _changed: threading.Condition = field(default_factory=threading.Condition, init=False, repr=False)

    def listen(self) -> None:
        """Route the site's retained manifests, statuses and acks to this object (in paho's thread)."""
        for topic in self.topics(self.site):
            self.link.on(topic, lambda msg: self.take(msg.topic, msg.payload))

    @classmethod
    def topics(cls, site: str) -> tuple[str, ...]:
        base = f"ledctl/v1/{site}/+"
        return (f"{base}/program", f"{base}/status", f"{base}/ack")

    def take(self, topic: str, payload: bytes) -> None:
        with self._changed:
            self._take(topic, payload)
            self._changed.notify_all()

    def publish(self, board: Board, encoded: Encoded) -> int:
        """Publish the pages, clear pages left from a longer program, then the manifest; bytes sent.

        Messages are queued without waiting for each PUBACK (`flush` waits for them all);
        the broker keeps one client's messages in order, so the pages precede the manifest.
        """
        with self._changed:
            state = self.states.setdefault(board.id, BoardState())
            stale_pages = state.pages
            state.program, state.pages, state.error = encoded.hash, len(encoded.pages), ""
        base = prefix(self.site, board.id)
        sent = 0
        for i, png in enumerate(encoded.pages):
            self.link.publish(f"{base}/page/{i}", png, retain=True, wait=False)
            sent += len(png)
        for i in range(len(encoded.pages), stale_pages):
            # An empty retained message deletes the page a longer program left behind.
            self.link.publish(f"{base}/page/{i}", b"", retain=True, wait=False)
        self.link.publish(f"{base}/program", encoded.manifest, retain=True, response_topic=f"{base}/ack",
                          correlation=encoded.hash.encode(), wait=False)
        return sent + len(encoded.manifest)

    def command(self, board: Board, command: Mapping[str, object], command_id: str) -> None:
        """Send a command (`brightness` in percent, `power`, `reannounce`); the board acks it by id."""
        payload = json.dumps({"id": command_id, **command}, sort_keys=True).encode()
        self.link.publish(f"{prefix(self.site, board.id)}/cmd", payload, wait=False)

    def wait_commands(self, ids: Mapping[str, str], timeout_s: float,
                      on_result: Callable[[str, str], None] = lambda b, why: None) -> dict[str, str]:
        """Wait for the acks of commands (board -> command id); board -> "" (done) or why not."""
        out: dict[str, str] = {}
        deadline = time.monotonic() + timeout_s
        with self._changed:
            while True:
                for board_id, cmd_id in ids.items():
                    if board_id not in out and cmd_id in self.command_acks:
                        out[board_id] = self.command_acks[cmd_id]
                        on_result(board_id, out[board_id])
                remaining = deadline - time.monotonic()
                if len(out) == len(ids) or remaining <= 0:
                    break
                self._changed.wait(remaining)
            for board_id in ids:
                if board_id not in out:
                    out[board_id] = self._silence(board_id, timeout_s)
                    on_result(board_id, out[board_id])
        return out

    def wait(self, wanted: Mapping[str, str], timeout_s: float,
             on_result: Callable[[str, bool, str], None] = lambda b, ok, why: None) -> dict[str, str]:
        """Wait until each board confirms its hash; returns board → "" (confirmed) or the reason not.

        Woken by every message the link routes here: no polling, no sleeps in the ack path."""
        results: dict[str, str] = {}
        deadline = time.monotonic() + timeout_s
        with self._changed:
            while True:
                for board_id, want in wanted.items():
                    if board_id in results:
                        continue
                    state = self.states.get(board_id, BoardState())
                    # Only a board that is there confirms: an ack or a status is believed while the
                    # broker has not published the board's will (the ACL lets only the board write them).
                    if state.shows == want and state.online is not False:
                        results[board_id] = ""
                        on_result(board_id, True, "")
                    elif state.error:
                        results[board_id] = state.error
                        on_result(board_id, False, state.error)
                remaining = deadline - time.monotonic()
                if len(results) == len(wanted) or remaining <= 0:
                    break
                self._changed.wait(remaining)
            for board_id in wanted:
                if board_id not in results:
                    results[board_id] = self._silence(board_id, timeout_s)
                    on_result(board_id, False, results[board_id])
        return results

    def wait_status(self, board_ids: Sequence[str], timeout_s: float) -> None:
        """Wait until the broker has told the status of each board (the retained burst after subscribing)."""
        deadline = time.monotonic() + timeout_s
        with self._changed:
            while any(self.states.get(b, BoardState()).online is None for b in board_ids):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return
                self._changed.wait(remaining)

    def _silence(self, board_id: str, timeout_s: float) -> str:
        state = self.states.get(board_id, BoardState())
        return "offline (its last will)" if state.online is False else f"no ack within {timeout_s:g} s"

    def _take(self, topic: str, payload: bytes) -> None:
        parts = topic.split("/")
        if len(parts) < 5 or parts[0] != "ledctl" or parts[2] != self.site:
            return
        board_id, leaf = parts[3], parts[4]
        state = self.states.setdefault(board_id, BoardState())
        try:
            doc = json.loads(payload) if payload else {}
        except (json.JSONDecodeError, UnicodeDecodeError):
            return  # not ours to judge: a board's malformed message is ignored
        if not isinstance(doc, dict):
            return
        if leaf == "program":
            state.program = str(doc.get("hash", ""))
            pages = doc.get("pages", [])
            state.pages = len(pages) if isinstance(pages, list) else 0
        elif leaf == "status":
            state.online = doc.get("state") == "online"
            # Only an online status says what the board shows: a will names the program of
            # its connect time, which may be long gone.
            state.shows = str(doc.get("program", "")) if state.online else ""
        elif leaf == "ack" and isinstance(doc.get("cmd"), str):
            self.command_acks[doc["cmd"]] = "" if doc.get("ok") is True else str(doc.get("error", "refused"))
        elif leaf == "ack" and "hash" in doc:
            if doc.get("ok") is True:
                state.shows = str(doc["hash"])
                state.error = ""
            elif doc.get("hash") == state.program:
                state.error = f"the board refused it: {doc.get('error', 'no reason given')}"


class LedctlMqttDriver(Driver):
    """Boards speaking ledctl's own MQTT protocol (docs/protocols/ledctl-mqtt.md) behind one broker."""

    spec = DriverSpec("ledctl-mqtt", "mqtt", frozenset(ColourMode), needs_address=False)

    def __init__(self, link: MqttLink, context: DriverContext) -> None:
        self.link = link
        self.context = context
        self.boards = MqttBoards(link, context.site)
        self.boards.listen()
        self._commands = 0

    @classmethod
    def capabilities(cls, board: Board) -> Capabilities:
        # The board's player cycles the pages of its retained program and acks its hash.
        return Capabilities(holds_pages=1000, acknowledges=True)

    def deliver(self, jobs: Sequence[tuple[Board, Content]], report: Report) -> None:
        start = time.monotonic()
        wanted: dict[str, str] = {}
        sent: dict[str, int] = {}
        pages: dict[str, int] = {}
        for board, content in jobs:
            encoded = encode(board, content.program, expires=content.expires)
            pages[board.id] = len(content.program.pages)
            try:
                sent[board.id] = self.boards.publish(board, encoded)
            except FaultError as e:
                report(Result(board.id, Outcome.LINK, str(e), "pages", 0, time.monotonic() - start))
                continue
            wanted[board.id] = encoded.hash
        try:
            self.link.flush()
        except FaultError as e:
            for board_id in wanted:
                report(Result(board_id, Outcome.LINK, str(e), "pages", sent[board_id],
                              time.monotonic() - start))
            return

        def done(board_id: str, ok: bool, why: str) -> None:
            outcome = Outcome.CONFIRMED if ok else _outcome_of(self.boards, board_id)
            n = pages[board_id]
            report(Result(board_id, outcome, why, "pages", sent[board_id], time.monotonic() - start,
                          (n if ok else 0, n)))

        self.boards.wait(wanted, self.context.ack_timeout_s, done)

    def apply(self, jobs: Sequence[tuple[Board, Settings]], report: Report) -> None:
        start = time.monotonic()
        ids: dict[str, str] = {}
        for board, want in jobs:
            command: dict[str, object] = {"power": want.power}
            if want.brightness is not None:
                command["brightness"] = want.brightness
            self._commands += 1
            ids[board.id] = f"s-{os.getpid()}-{self._commands}-{board.id}"
            try:
                self.boards.command(board, command, ids[board.id])
            except FaultError as e:
                report(Result(board.id, Outcome.LINK, str(e), "settings"))
                del ids[board.id]
        if not ids:
            return

        def done(board_id: str, why: str) -> None:
            outcome = Outcome.CONFIRMED if not why else _outcome_of(self.boards, board_id, refused=why)
            report(Result(board_id, outcome, why, "settings", 0, time.monotonic() - start))

        self.boards.wait_commands(ids, self.context.ack_timeout_s, done)

    def check(self, boards: Sequence[Board]) -> list[Health]:
        # The link's subscriptions keep every board's status current; at first use the retained
        # statuses arrive in a burst: wait a moment for them.
        self.boards.wait_status([b.id for b in boards], STATUS_WAIT_S)
        out = []
        for board in boards:
            state = self.boards.states.get(board.id, BoardState())
            online = bool(state.online)
            out.append(Health(board.id, online, state.shows or None,
                              "" if online else "offline (its last will, or never connected)"))
        return out


STATUS_WAIT_S = 2.0


def _outcome_of(boards: MqttBoards, board_id: str, refused: str = "") -> Outcome:
    state = boards.states.get(board_id, BoardState())
    if state.error or (refused and state.online):
        return Outcome.NACK
    return Outcome.OFFLINE
