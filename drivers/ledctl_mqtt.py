"""The controller side of the ledctl-mqtt protocol (docs/protocols/ledctl-mqtt.md).

A program goes out as retained PNG pages and then a retained manifest, so a board
that reboots finds its current program on the broker. It counts as delivered only
when the board acknowledges its hash (an ack, or the hash in its retained status).
"""

from __future__ import annotations

import hashlib
import io
import json
import queue
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from ledctl.drivers.mqtt_link import MqttLink
from ledctl.model import Board, Program

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
    """All ledctl-mqtt boards of one site behind one broker link."""

    link: MqttLink
    site: str
    states: dict[str, BoardState] = field(default_factory=dict)
    command_acks: dict[str, str] = field(default_factory=dict)  # command id -> "" (done) or the error

    @classmethod
    def topics(cls, site: str) -> tuple[str, ...]:
        base = f"ledctl/v1/{site}/+"
        return (f"{base}/program", f"{base}/status", f"{base}/ack")

    def publish(self, board: Board, encoded: Encoded) -> int:
        """Publish the pages, clear pages left from a longer program, then the manifest; bytes sent.

        Messages are queued without waiting for each PUBACK (`flush` waits for them all);
        the broker keeps one client's messages in order, so the pages precede the manifest.
        """
        self.drain()
        state = self.states.setdefault(board.id, BoardState())
        base = prefix(self.site, board.id)
        sent = 0
        for i, png in enumerate(encoded.pages):
            self.link.publish(f"{base}/page/{i}", png, retain=True, wait=False)
            sent += len(png)
        for i in range(len(encoded.pages), state.pages):
            # An empty retained message deletes the page a longer program left behind.
            self.link.publish(f"{base}/page/{i}", b"", retain=True, wait=False)
        self.link.publish(f"{base}/program", encoded.manifest, retain=True, response_topic=f"{base}/ack",
                          correlation=encoded.hash.encode(), wait=False)
        state.program, state.pages, state.error = encoded.hash, len(encoded.pages), ""
        return sent + len(encoded.manifest)

    def command(self, board: Board, command: Mapping[str, object], command_id: str) -> None:
        """Send a command (`brightness` in percent, `power`, `reannounce`); the board acks it by id."""
        payload = json.dumps({"id": command_id, **command}, sort_keys=True).encode()
        self.link.publish(f"{prefix(self.site, board.id)}/cmd", payload)

    def wait_commands(self, ids: Mapping[str, str], timeout_s: float) -> dict[str, str]:
        """Wait for the acks of commands (board -> command id); board -> "" (done) or why not."""
        deadline = time.monotonic() + timeout_s
        while True:
            self.drain()
            if all(i in self.command_acks for i in ids.values()):
                break
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            self.drain(block_s=min(remaining, 0.5))
        out = {}
        for board_id, cmd_id in ids.items():
            if cmd_id in self.command_acks:
                out[board_id] = self.command_acks[cmd_id]
            else:
                state = self.states.get(board_id, BoardState())
                out[board_id] = ("offline (its last will)" if state.online is False
                                 else f"no ack within {timeout_s:g} s")
        return out

    def wait(self, wanted: Mapping[str, str], timeout_s: float,
             on_result: Callable[[str, bool, str], None] = lambda b, ok, why: None) -> dict[str, str]:
        """Wait until each board confirms its hash; returns board → "" (confirmed) or the reason not."""
        results: dict[str, str] = {}
        deadline = time.monotonic() + timeout_s
        while len(results) < len(wanted):
            for board_id, want in wanted.items():
                if board_id in results:
                    continue
                state = self.states.get(board_id, BoardState())
                if state.shows == want:
                    results[board_id] = ""
                    on_result(board_id, True, "")
                elif state.error:
                    results[board_id] = state.error
                    on_result(board_id, False, state.error)
            if len(results) == len(wanted):
                break
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            self.drain(block_s=min(remaining, 0.5))
        for board_id in wanted:
            if board_id not in results:
                state = self.states.get(board_id, BoardState())
                why = "offline (its last will)" if state.online is False else f"no ack within {timeout_s:g} s"
                results[board_id] = why
                on_result(board_id, False, why)
        return results

    def drain(self, block_s: float = 0.0) -> None:
        """Take in what the broker sent (retained manifests, statuses, acks), waiting up to
        `block_s` for the first message and then only for what is already there."""
        try:
            msg = self.link.inbox.get(timeout=block_s) if block_s > 0 else self.link.inbox.get_nowait()
        except queue.Empty:
            return
        while True:
            self._take(msg.topic, msg.payload)
            try:
                msg = self.link.inbox.get_nowait()
            except queue.Empty:
                return

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
