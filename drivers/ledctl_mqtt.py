"""The controller side of the ledctl-mqtt protocol (docs/protocols/ledctl-mqtt.md).

A program goes out as retained PNG pages (in parts when a page is larger than the board takes in
one message) and then a retained manifest, so a board that reboots finds its current program on
the broker; power and brightness go out as retained settings for the same reason. A program
counts as confirmed only when the board acknowledged its hash **and** its screen, read back,
shows it pixel for pixel. A health check reads every board's screen back and judges its
lifecycle state and its telemetry (fresh, frames counting up), so a hung renderer behind a live
connection is not taken for a healthy board.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
import json
import os
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from PIL import Image, UnidentifiedImageError

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
MIN_MAX_MESSAGE = 16384  # §4.1: what every board takes, and what is assumed without its info
MAX_PAGES = 64  # §4.1
MAX_SIDE = 8192  # §4.1
DEFAULT_INTERVAL_S = 60.0  # §9: telemetry, when a board has not said its interval yet
SILENT_AFTER = 2.5  # §9: telemetry older than this many intervals is a silent board
SCREEN_WAIT_S = 5.0  # a health check's wait for the screen read-backs
STUCK_AFTER_S = 2.0  # two telemetries at least this far apart with the same frame count: stuck
STATUS_WAIT_S = 2.0
ASK_EVERY = 200  # boards published between two looks at the acks (to ask for their screens early)


def prefix(site: str, board: str) -> str:
    return f"ledctl/v1/{site}/{board}"


@dataclass(frozen=True, slots=True)
class Encoded:
    hash: str
    manifest: bytes
    pages: tuple[tuple[bytes, ...], ...]  # each page's PNG, in one part or several (§4)

    @property
    def size(self) -> int:
        return len(self.manifest) + sum(len(part) for parts in self.pages for part in parts)


_PNG_CACHE: dict[tuple[str, tuple[int, int], bytes], tuple[bytes, str]] = {}
_PNG_CACHE_SIZE = 512  # distinct page images; a city's fleet has a few kinds of board
_png_lock = threading.Lock()


_PAGES_CACHE: dict[tuple[object, ...], tuple[tuple[tuple[bytes, ...], ...], str]] = {}
_PAGES_SLOT = "@pages@"  # where the page entries go; no id, colour or time can hold an "@"
_PAGES_JSON = json.dumps(_PAGES_SLOT)
_PNG_OF: dict[int, tuple[Image.Image, tuple[bytes, str]]] = {}  # id(image) -> (image, PNG and sha256)


def page_png(image: Image.Image) -> tuple[bytes, str]:
    """The page as an 8-bit RGB PNG and its sha256, encoded once per distinct image: boards of the
    same kind share their pages, so a broadcast to thousands encodes each page once, not per board.
    The very image object is found without hashing its pixels (the rendered pages are shared
    objects, never drawn on again); an equal image rendered anew is found by its content."""
    known = _PNG_OF.get(id(image))  # one dict lookup: atomic, no lock needed
    if known is not None and known[0] is image:
        return known[1]
    key = (image.mode, image.size, hashlib.blake2b(image.tobytes(), digest_size=20).digest())
    with _png_lock:
        found = _PNG_CACHE.get(key)
    if found is not None:
        with _png_lock:
            _remember(image, found)
        return found
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, format="PNG", optimize=False)
    png = buffer.getvalue()
    made = (png, hashlib.sha256(png).hexdigest())
    with _png_lock:
        if len(_PNG_CACHE) >= _PNG_CACHE_SIZE:
            _PNG_CACHE.clear()
        _PNG_CACHE[key] = made
        _remember(image, made)
    return made


def _remember(image: Image.Image, made: tuple[bytes, str]) -> None:
    if len(_PNG_OF) >= _PNG_CACHE_SIZE:
        _PNG_OF.clear()
    _PNG_OF[id(image)] = (image, made)  # holding the image keeps its id from being reused


def encode(board: Board, program: Program, *, valid_from: datetime | None = None,
           expires: datetime | None = None, max_message: int = MIN_MAX_MESSAGE) -> Encoded:
    """The manifest and the PNG pages of one board's program, each page in parts of at most
    `max_message` bytes."""
    key = (max_message, tuple((page.name, page.effect, page.dwell_s, page.speed_px_s, page_png(page.image)[1])
                              for page in program.pages))
    with _png_lock:
        cached = _PAGES_CACHE.get(key)
    if cached is None:
        pages = []
        entries = []
        for i, page in enumerate(program.pages):
            png, sha = page_png(page.image)
            parts = tuple(png[k:k + max_message] for k in range(0, len(png), max_message)) or (b"",)
            pages.append(parts)
            entries.append({"index": i, "name": page.name, "effect": page.effect,
                            "dwell": round(page.dwell_s, 3), "speed": page.speed_px_s,
                            "width": page.image.width, "height": page.image.height, "bytes": len(png),
                            "parts": len(parts), "sha256": sha})
        cached = (tuple(pages), json.dumps(entries, ensure_ascii=False, sort_keys=True))
        with _png_lock:
            if len(_PAGES_CACHE) >= _PNG_CACHE_SIZE:
                _PAGES_CACHE.clear()
            _PAGES_CACHE[key] = cached
    content = program.content_hash()
    manifest = {
        "protocol": PROTOCOL, "hash": content, "board": board.id,
        "size": [board.size.width, board.size.height], "colour": board.colour.value,
        "valid_from": valid_from.isoformat() if valid_from else None,
        "expires": expires.isoformat() if expires else None,
        "pages": _PAGES_SLOT,
    }
    # The page entries, the bulk of a manifest, are serialised once per set of pages and spliced
    # in; the bytes are those of serialising the whole manifest at once.
    text = json.dumps(manifest, ensure_ascii=False, sort_keys=True).replace(_PAGES_JSON, cached[1], 1)
    return Encoded(content, text.encode(), cached[0])


def expected_frame(board: Board, program: Program, answer: Mapping[str, Any]) -> Image.Image | None:
    """What the screen must show for a read-back (§10): black, with the page drawn pasted at its
    `origin` if lit and the screen is on; None when the answer names no page of `program`."""
    frame = Image.new("RGB", (board.size.width, board.size.height))
    page = answer.get("page")
    if not isinstance(page, int) or isinstance(page, bool) or not 0 <= page < len(program.pages):
        return None
    origin = answer.get("origin")
    if not (isinstance(origin, list) and len(origin) == 2 and all(isinstance(v, int) for v in origin)):
        return None
    if answer.get("lit") is True and answer.get("power") is not False:
        frame.paste(program.pages[page].image.convert("RGB"), (origin[0], origin[1]))
    return frame


def screen_image(answer: Mapping[str, Any]) -> Image.Image | None:
    raw = answer.get("png")
    if not isinstance(raw, str):
        return None
    try:
        with Image.open(io.BytesIO(base64.b64decode(raw, validate=True))) as img:
            return img.convert("RGB")
    except (binascii.Error, UnidentifiedImageError, OSError, ValueError):
        return None


@dataclass
class BoardState:
    """What the broker says about a board: its retained manifest, status and info, its telemetry."""

    program: str = ""  # hash of the retained manifest
    pages: int = 0  # pages that manifest has
    parts: tuple[int, ...] = ()  # parts of each of its pages
    shows: str = ""  # hash in the board's status or acks
    online: bool | None = None  # status "online" (only that counts)
    state: str = ""  # the status's lifecycle state: init, online, alert, offline
    alert: str = ""  # why it is in alert
    error: str = ""
    max_message: int = MIN_MAX_MESSAGE  # from its info
    max_page_pixels: int | None = None
    telemetry: dict[str, Any] = field(default_factory=dict)  # the last one
    telemetry_at: float | None = None  # when it came (time.monotonic)
    frames_before: tuple[int, float] | None = None  # frames and arrival of one at least 2 s older
    recent: list[tuple[int, float]] = field(default_factory=list)  # (frames, arrival) of the last few


@dataclass
class MqttBoards:
    """All ledctl-mqtt boards of one site behind one broker link: what the broker says of each
    (kept current by the link's subscriptions), publishing programs, settings and commands,
    waiting for acks and screens."""

    link: MqttLink
    site: str
    states: dict[str, BoardState] = field(default_factory=dict)
    command_acks: dict[str, str] = field(default_factory=dict)  # command id -> "" (done) or the error
    screens: dict[str, dict[str, Any]] = field(default_factory=dict)  # command id -> the read-back
    listening_since: float = field(default_factory=time.monotonic)
    _burst_seen: bool = field(default=False, init=False, repr=False)
    _changed: threading.Condition = field(default_factory=threading.Condition, init=False, repr=False)
    # Each waiter's set of the boards heard from since it last looked: a wait over thousands of
    # boards rechecks only those, not all of them on every message (that was quadratic).
    _watchers: list[tuple[set[str], set[str] | None]] = field(default_factory=list, init=False, repr=False)
    _batched: bool = field(default=False, init=False, repr=False)  # waiters woken once per burst (woken)
    _wake: bool = field(default=False, init=False, repr=False)

    def listen(self) -> None:
        """Route the site's retained manifests, statuses, infos, acks, telemetry and screens to this
        object (in paho's thread)."""
        self.listening_since = time.monotonic()
        after_read = getattr(self.link, "after_read", None)
        if after_read is not None:
            after_read(self.woken)
            self._batched = True
        for topic in self.topics(self.site):
            # QoS 0 from the broker to us (the boards still publish at QoS 1): our session is clean,
            # so QoS 1 would add nothing but a PUBACK per ack, status and read-back (see MqttLink).
            self.link.on(topic, lambda msg: self.take(msg.topic, msg.payload), qos=0)

    @classmethod
    def topics(cls, site: str) -> tuple[str, ...]:
        base = f"ledctl/v1/{site}/+"
        return (f"{base}/program", f"{base}/status", f"{base}/info", f"{base}/ack", f"{base}/telemetry",
                f"{base}/screen")

    def take(self, topic: str, payload: bytes) -> None:
        doc = _json_object(payload)  # outside the lock: the publishing thread waits for nothing
        with self._changed:
            keys = self._record(topic, doc)
            wake = False
            for heard, wanted in self._watchers:
                news = keys if wanted is None else [k for k in keys if k in wanted]
                if news:
                    heard.update(news)
                    wake = wake or wanted is not None  # a watch() only collects: nobody waits on it
            if wake:  # a waiter is woken only by what it waits for (a status after the ack is not)
                if self._batched:
                    self._wake = True  # at the end of this burst of messages (woken)
                else:
                    self._changed.notify_all()

    def woken(self) -> None:
        """After a burst of messages (the link's after-read hook): wake the waiters once for all."""
        with self._changed:
            if self._wake:
                self._wake = False
                self._changed.notify_all()

    def _waiting(self, board_ids: Sequence[str] | Mapping[str, str], timeout_s: float,
                 settled: Callable[[str], bool], commands: Mapping[str, str] | None = None,
                 between: Callable[[], None] | None = None) -> None:
        """Under the lock: wait until `settled(board)` holds for every board or the time is up.
        `settled` is called once per board at first, then only for boards heard from since (or
        whose command, in `commands`: board -> command id, was answered). `between` runs after each
        round with the lock released (to publish what the settled boards need next)."""
        by_command = {cmd: board for board, cmd in (commands or {}).items()}
        deadline = time.monotonic() + timeout_s
        heard: set[str] = set()
        open_ = {b for b in board_ids if not settled(b)}
        watcher = (heard, open_ | set(by_command))  # what wakes it: its open boards, their commands
        self._watchers.append(watcher)
        try:
            while open_:
                if between is not None:
                    self._changed.release()  # held once, by the caller's `with`
                    try:
                        between()
                    finally:
                        self._changed.acquire()
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return
                if not heard:  # what came while `between` ran is already in `heard`
                    self._changed.wait(remaining)
                news = (heard | {by_command[k] for k in heard if k in by_command}) & open_
                heard.clear()
                done = {b for b in news if settled(b)}
                open_ -= done
                watcher[1].difference_update(done)
        finally:
            self._watchers.remove(watcher)

    def state_of(self, board_id: str) -> BoardState:
        with self._changed:
            return self.states.setdefault(board_id, BoardState())

    def publish(self, board: Board, encoded: Encoded) -> int:
        """Publish the pages, clear what a longer (or differently cut) program left, then the
        manifest; bytes sent. Messages are queued without waiting for each PUBACK (`flush` waits for
        them all); the broker keeps one client's messages in order, so the pages precede the manifest."""
        with self._changed:
            state = self.states.setdefault(board.id, BoardState())
            stale = state.parts or (1,) * state.pages
            state.program, state.pages, state.error = encoded.hash, len(encoded.pages), ""
            state.parts = tuple(len(parts) for parts in encoded.pages)
        base = prefix(self.site, board.id)
        sent = 0
        for i, parts in enumerate(encoded.pages):
            if len(parts) == 1:
                self.link.publish(f"{base}/page/{i}", parts[0], retain=True, wait=False)
            else:
                for k, part in enumerate(parts):
                    self.link.publish(f"{base}/page/{i}/{k}", part, retain=True, wait=False)
            sent += sum(len(part) for part in parts)
        # An empty retained message deletes what a longer program, or the other cut of a page, left.
        for i, had in enumerate(stale):
            now = len(encoded.pages[i]) if i < len(encoded.pages) else 0
            if had == 1 and now != 1:
                self.link.publish(f"{base}/page/{i}", b"", retain=True, wait=False)
            for k in range(now if now > 1 else 0, had if had > 1 else 0):
                self.link.publish(f"{base}/page/{i}/{k}", b"", retain=True, wait=False)
        self.link.publish(f"{base}/program", encoded.manifest, retain=True, response_topic=f"{base}/ack",
                          correlation=encoded.hash.encode(), wait=False)
        return sent + len(encoded.manifest)

    def command(self, board: Board, command: Mapping[str, object], command_id: str) -> None:
        """Send a command (`reannounce`, `screen`, `time`); the board acks it by id (a `screen` is
        answered by the screen itself)."""
        payload = json.dumps({"id": command_id, **command}, sort_keys=True).encode()
        self.link.publish(f"{prefix(self.site, board.id)}/cmd", payload, wait=False)

    def settings(self, board: Board, settings: Mapping[str, object], settings_id: str) -> None:
        """Power and brightness, retained (§6): the board gets them again after a reboot."""
        payload = json.dumps({"id": settings_id, **settings}, sort_keys=True).encode()
        self.link.publish(f"{prefix(self.site, board.id)}/settings", payload, retain=True, wait=False)

    def wait_commands(self, ids: Mapping[str, str], timeout_s: float,
                      on_result: Callable[[str, str], None] = lambda b, why: None) -> dict[str, str]:
        """Wait for the acks of commands (board -> command id); board -> "" (done) or why not."""
        out: dict[str, str] = {}

        def settled(board_id: str) -> bool:
            cmd_id = ids[board_id]
            if cmd_id in self.command_acks:
                out[board_id] = self.command_acks[cmd_id]
                on_result(board_id, out[board_id])
                return True
            return False

        with self._changed:
            self._waiting(ids, timeout_s, settled, ids)
            for board_id in ids:
                if board_id not in out:
                    out[board_id] = self._silence(board_id, timeout_s)
                    on_result(board_id, out[board_id])
        return out

    def wait_screens(self, ids: Mapping[str, str], timeout_s: float) -> dict[str, dict[str, Any] | str]:
        """Wait for the read-backs of `screen` commands (board -> command id); board -> the answer,
        or why there is none (the board refused the command, or said nothing in time)."""
        out: dict[str, dict[str, Any] | str] = {}

        def settled(board_id: str) -> bool:
            cmd_id = ids[board_id]
            if cmd_id in self.screens:
                out[board_id] = self.screens.pop(cmd_id)
            elif self.command_acks.get(cmd_id):  # refused: it cannot read its screen back
                out[board_id] = f"refused: {self.command_acks[cmd_id]}"
            return board_id in out

        with self._changed:
            self._waiting(ids, timeout_s, settled, ids)
        for board_id in ids:
            out.setdefault(board_id, f"no screen read-back within {timeout_s:g} s")
        return out

    def wait(self, wanted: Mapping[str, str], timeout_s: float,
             on_result: Callable[[str, bool, str], None] = lambda b, ok, why: None,
             between: Callable[[], None] | None = None) -> dict[str, str]:
        """Wait until each board acknowledges its hash; returns board → "" (acked) or the reason not.
        `on_result` is called (under the lock) as each board settles, `between` (without it) after
        each round of them.

        Woken by every message the link routes here: no polling, no sleeps in the ack path."""
        results: dict[str, str] = {}

        def settled(board_id: str) -> bool:
            state = self.states.get(board_id, BoardState())
            # Only a board that is there confirms: an ack or a status is believed while the
            # broker has not published the board's will (the ACL lets only the board write them).
            if state.shows == wanted[board_id] and state.online is not False:
                results[board_id] = ""
                on_result(board_id, True, "")
            elif state.error:
                results[board_id] = state.error
                on_result(board_id, False, state.error)
            return board_id in results

        with self._changed:
            self._waiting(wanted, timeout_s, settled, between=between)
            for board_id in wanted:
                if board_id not in results:
                    results[board_id] = self._silence(board_id, timeout_s)
                    on_result(board_id, False, results[board_id])
        return results

    def watch(self) -> set[str]:
        """Start collecting what every message is about (boards, commands) into the set returned;
        `acked_since` drains it, `unwatch` ends it."""
        heard: set[str] = set()
        with self._changed:
            self._watchers.append((heard, None))
        return heard

    def unwatch(self, heard: set[str]) -> None:
        with self._changed:
            self._watchers = [w for w in self._watchers if w[0] is not heard]

    def acked_since(self, heard: set[str], wanted: Mapping[str, str]) -> list[str]:
        """The boards of `wanted` heard from since the last call that acknowledged their hash (no
        waiting; only those heard from are looked at, whatever the size of the fleet)."""
        with self._changed:
            news = [b for b in heard if b in wanted]
            heard.clear()
            return [b for b in news if (state := self.states.get(b)) is not None
                    and state.shows == wanted[b] and state.online is not False]

    def wait_retained(self, board_ids: Sequence[str], timeout_s: float) -> None:
        """Once per connection: wait for the retained burst after subscribing, so that what a board's
        retained manifest holds (the pages and parts to clear) is known before publishing over it.
        A status comes after the manifest (it is subscribed after it, and the broker answers each
        subscription in order), so a known status means a known manifest."""
        if self._burst_seen:
            return
        self.wait_status(board_ids, timeout_s)
        self._burst_seen = True

    def wait_status(self, board_ids: Sequence[str], timeout_s: float) -> None:
        """Wait until the broker has told the status of each board (the retained burst after subscribing)."""
        with self._changed:
            self._waiting(board_ids, timeout_s,
                          lambda b: b in self.states and self.states[b].online is not None)

    def _silence(self, board_id: str, timeout_s: float) -> str:
        state = self.states.get(board_id, BoardState())
        if state.state == "alert":
            return f"the board is in alert: {state.alert or 'no reason given'}"
        return "offline (its last will)" if state.online is False else f"no ack within {timeout_s:g} s"

    def _take(self, topic: str, payload: bytes) -> tuple[str, ...]:
        return self._record(topic, _json_object(payload))

    def _record(self, topic: str, doc: dict[str, Any] | None) -> tuple[str, ...]:
        """Record one message (its JSON object; None when it is not one); what it is about: the
        board, and the command it answers (nothing when it is not ours, or not understood)."""
        parts = topic.split("/")
        if len(parts) < 5 or parts[0] != "ledctl" or parts[2] != self.site:
            return ()
        board_id, leaf = parts[3], parts[4]
        state = self.states.setdefault(board_id, BoardState())
        if doc is None:
            return ()  # not ours to judge: a board's malformed message is ignored
        if leaf == "program":
            state.program = str(doc.get("hash", ""))
            pages = doc.get("pages", [])
            pages = pages if isinstance(pages, list) else []
            state.pages = len(pages)
            state.parts = tuple(_parts(p) for p in pages)
        elif leaf == "status":
            state.state = str(doc.get("state", ""))
            state.alert = str(doc.get("error", "")) if state.state == "alert" else ""
            state.online = state.state == "online"
            # Only an online status says what the board shows: a will names the program of
            # its connect time, which may be long gone.
            state.shows = str(doc.get("program", "")) if state.online else ""
        elif leaf == "info":
            size = doc.get("max_message")
            state.max_message = max(MIN_MAX_MESSAGE, size) if isinstance(size, int) else MIN_MAX_MESSAGE
            pixels = doc.get("max_page_pixels")
            state.max_page_pixels = pixels if isinstance(pixels, int) and pixels > 0 else None
        elif leaf == "telemetry":
            arrived = time.monotonic()
            # The one to compare frames with: the newest at least STUCK_AFTER_S older (telemetries
            # sent in quick succession, on a change of state, are too close to tell).
            older = [r for r in state.recent if arrived - r[1] >= STUCK_AFTER_S]
            state.frames_before = older[-1] if older else None
            frames = doc.get("frames")
            if isinstance(frames, int):
                state.recent = [*state.recent[-7:], (frames, arrived)]
            state.telemetry, state.telemetry_at = doc, arrived
        elif leaf == "screen" and isinstance(doc.get("id"), str):
            self.screens[doc["id"]] = doc
            return (board_id, doc["id"])
        elif leaf == "ack" and isinstance(doc.get("cmd"), str):
            self.command_acks[doc["cmd"]] = "" if doc.get("ok") is True else str(doc.get("error", "refused"))
            return (board_id, doc["cmd"])
        elif leaf == "ack" and "hash" in doc:
            if doc.get("ok") is True:
                state.shows = str(doc["hash"])
                state.error = ""
            elif doc.get("hash") == state.program and "no clock" not in str(doc.get("error", "")):
                state.error = f"the board refused it: {doc.get('error', 'no reason given')}"
        return (board_id,)


class LedctlMqttDriver(Driver):
    """Boards speaking ledctl's own MQTT protocol (docs/protocols/ledctl-mqtt.md) behind one broker."""

    spec = DriverSpec("ledctl-mqtt", "mqtt", frozenset(ColourMode), needs_address=False)

    def __init__(self, link: MqttLink, context: DriverContext) -> None:
        self.link = link
        self.context = context
        self.boards = MqttBoards(link, context.site)
        self.boards.listen()
        self._commands = 0
        self._programs: dict[str, Program] = {}  # by hash: what read-backs are compared with
        self._matched: set[tuple[object, ...]] = set()  # read-backs found to match their page

    @classmethod
    def capabilities(cls, board: Board) -> Capabilities:
        # The board's player cycles the pages of its retained program (at most MAX_PAGES: see
        # program_problem), acks its hash, and reads its screen back.
        return Capabilities(largest_message=MIN_MAX_MESSAGE, acknowledges=True, reads_back=True)

    @classmethod
    def program_problem(cls, board: Board, program: Program) -> str | None:
        """§4.1, as far as it is known before the board's info: pages, and pixels a page."""
        return _page_problem(board, program, 8 * board.size.width * board.size.height)

    def _id(self, kind: str, board: Board) -> str:
        self._commands += 1
        return f"{kind}-{os.getpid()}-{self._commands}-{board.id}"

    def _problem(self, board: Board, program: Program, encoded: Encoded) -> str | None:
        """§4.1: what this board cannot take, before anything is sent."""
        state = self.boards.state_of(board.id)
        limit = state.max_page_pixels or 8 * board.size.width * board.size.height
        problem = _page_problem(board, program, limit)
        if problem:
            return problem
        if len(encoded.manifest) > state.max_message:
            return (f"the manifest is {len(encoded.manifest)} bytes; the board takes at most "
                    f"{state.max_message}")
        return None

    def deliver(self, jobs: Sequence[tuple[Board, Content]], report: Report) -> None:
        start = time.monotonic()
        wanted: dict[str, str] = {}
        sent: dict[str, int] = {}
        pages: dict[str, int] = {}
        by_id = {board.id: board for board, _ in jobs}
        self.boards.wait_retained(list(by_id), STATUS_WAIT_S)
        now = self.context.now().isoformat()
        # Each board's screen is asked for as soon as it acks, while the others' acks still come:
        # the read-backs of a large fleet overlap its deliveries instead of following them all.
        asked: dict[str, str] = {}  # board -> screen command id
        unasked: list[str] = []  # boards that could not be asked (the link failed)
        acked_now: list[str] = []

        def on_ack(board_id: str, ok: bool, why: str) -> None:
            if ok:
                acked_now.append(board_id)

        def ask() -> None:
            while acked_now:
                board_id = acked_now.pop()
                if board_id in asked:
                    continue
                command_id = self._id("r", by_id[board_id])
                try:
                    self.boards.command(by_id[board_id], {"screen": True}, command_id)
                except FaultError:
                    unasked.append(board_id)
                    continue
                asked[board_id] = command_id

        heard = self.boards.watch()  # who answers while the rest of the fleet is being published
        try:
            for n, (board, content) in enumerate(jobs):
                if n % ASK_EVERY == ASK_EVERY - 1:
                    acked_now.extend(self.boards.acked_since(heard, wanted))
                    ask()
                state = self.boards.state_of(board.id)
                encoded = encode(board, content.program, expires=content.expires,
                                 max_message=state.max_message)
                pages[board.id] = len(content.program.pages)
                problem = self._problem(board, content.program, encoded)
                if problem:
                    report(Result(board.id, Outcome.REFUSED, problem, "pages", 0, 0.0, (0, pages[board.id])))
                    continue
                try:
                    # §11: the time first, for a board without a clock of its own, where the program
                    # needs it (valid_from, expires); one with neither is shown at once without it.
                    if content.expires is not None:
                        self.boards.command(board, {"time": now}, self._id("t", board))
                    sent[board.id] = self.boards.publish(board, encoded)
                except FaultError as e:
                    report(Result(board.id, Outcome.LINK, str(e), "pages", 0, time.monotonic() - start))
                    continue
                wanted[board.id] = encoded.hash
                self._programs[encoded.hash] = content.program
        finally:
            self.boards.unwatch(heard)
        try:
            self.link.flush()
        except FaultError as e:
            for board_id in wanted:
                report(Result(board_id, Outcome.LINK, str(e), "pages", sent[board_id],
                              time.monotonic() - start))
            return
        acked = self.boards.wait(wanted, self.context.ack_timeout_s, on_ack, between=ask)
        ask()
        for board_id, why in acked.items():
            if why:
                n = pages[board_id]
                report(Result(board_id, _outcome_of(self.boards, board_id), why, "pages", sent[board_id],
                              time.monotonic() - start, (0, n)))
        answers = self.boards.wait_screens(asked, self.context.ack_timeout_s) if asked else {}
        for board_id in unasked:
            answers[board_id] = "the read-back could not be asked (the broker link failed)"
        for board_id in (b for b, why in acked.items() if not why):
            board = by_id[board_id]
            outcome, detail = self._judge_delivery(board, wanted[board_id], answers[board_id])
            n = pages[board_id]
            report(Result(board_id, outcome, detail, "pages", sent[board_id], time.monotonic() - start,
                          (n if outcome is Outcome.CONFIRMED else 0, n)))
        self._forget_old_programs()

    def _read_back(self, boards: Sequence[Board], timeout_s: float) -> dict[str, dict[str, Any] | str]:
        ids = {}
        for board in boards:
            ask = self._id("r", board)
            try:
                self.boards.command(board, {"screen": True}, ask)
            except FaultError:
                continue  # answered below: it could not be asked
            ids[board.id] = ask
        answers = self.boards.wait_screens(ids, timeout_s) if ids else {}
        for board in boards:
            answers.setdefault(board.id, "the read-back could not be asked (the broker link failed)")
        return answers

    def _judge_delivery(self, board: Board, want: str, answer: dict[str, Any] | str) -> tuple[Outcome, str]:
        if isinstance(answer, str):
            if answer.startswith("refused"):
                return Outcome.SENT, (f"acked, but the board cannot read its screen back ({answer}): "
                                      "not confirmed")
            return Outcome.NACK, f"acked, but {answer} (a stuck renderer?)"
        if answer.get("program") != want:
            return Outcome.NACK, f"acked, but the screen shows program {str(answer.get('program'))[:12]!r}"
        verdict = self._compare(board, self._programs[want], answer)
        if verdict:
            return Outcome.NACK, f"acked, but {verdict}"
        pages = len(self._programs[want].pages)
        if answer.get("power") is False:  # read back dark, as set: the board plays it unlit
            return Outcome.CONFIRMED, (f"acked; screen read back: off as set (dark), playing page "
                                       f"{answer['page'] + 1} of {pages}")
        return Outcome.CONFIRMED, f"acked; screen read back: page {answer['page'] + 1} of {pages} as sent"

    def _compare(self, board: Board, program: Program, answer: Mapping[str, Any]) -> str:
        """"" when the read-back shows `program` exactly, else what is wrong.

        Boards of one kind showing the same page send the same frame: a read-back already found to
        match that page (the same PNG, page image, place and lighting) is not decoded again."""
        page = answer.get("page")
        key = None
        if isinstance(page, int) and not isinstance(page, bool) and 0 <= page < len(program.pages):
            key = (answer.get("png"), page_png(program.pages[page].image)[1], board.size.width,
                   board.size.height, str(answer.get("origin")), answer.get("lit") is True,
                   answer.get("power") is not False)
            if key in self._matched:
                return ""
        verdict = self._compare_pixels(board, program, answer)
        if key is not None and not verdict:
            if len(self._matched) >= 1024:
                self._matched.clear()
            self._matched.add(key)
        return verdict

    @staticmethod
    def _compare_pixels(board: Board, program: Program, answer: Mapping[str, Any]) -> str:
        expected = expected_frame(board, program, answer)
        if expected is None:
            return f"the read-back names no page of the program (page {answer.get('page')!r})"
        got = screen_image(answer)
        if got is None or got.size != expected.size:
            return "the read-back is not a PNG of the board's size"
        if got.tobytes() != expected.tobytes():
            return f"the screen differs from page {answer['page'] + 1} at {answer.get('origin')}"
        return ""

    def _forget_old_programs(self) -> None:
        if len(self._programs) > 4 * max(1, len(self.context.boards)):
            states = list(self.boards.states.values())
            keep = {s.program for s in states} | {s.shows for s in states}
            self._programs = {h: p for h, p in self._programs.items() if h in keep}

    def apply(self, jobs: Sequence[tuple[Board, Settings]], report: Report) -> None:
        start = time.monotonic()
        ids: dict[str, str] = {}
        for board, want in jobs:
            settings: dict[str, object] = {"power": want.power}
            if want.brightness is not None:
                settings["brightness"] = want.brightness
            ids[board.id] = self._id("s", board)
            try:
                self.boards.settings(board, settings, ids[board.id])
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
        # The link's subscriptions keep every board's status and telemetry current; at first use the
        # retained statuses arrive in a burst: wait a moment for them.
        self.boards.wait_status([b.id for b in boards], STATUS_WAIT_S)
        now = self.context.now().isoformat()
        online = [b for b in boards if self.boards.state_of(b.id).online]
        for board in online:
            try:
                self.boards.command(board, {"time": now}, self._id("t", board))
            except FaultError:
                break
        answers = self._read_back(online, SCREEN_WAIT_S) if online else {}
        return [self._judge_health(board, answers.get(board.id)) for board in boards]

    def _judge_health(self, board: Board, answer: dict[str, Any] | str | None) -> Health:
        """§9: healthy = online, telemetry fresh, frames counting up, and a read-back that matches."""
        state = self.boards.state_of(board.id)
        if state.state == "alert":
            return Health(board.id, False, detail=f"alert: {state.alert or 'no reason given'}")
        if not state.online:
            return Health(board.id, False, detail="offline (its last will, or never connected)"
                          if state.state in ("", "offline") else f"not ready ({state.state})")
        now = time.monotonic()
        interval = state.telemetry.get("interval")
        if not (isinstance(interval, int | float) and interval > 0):
            interval = DEFAULT_INTERVAL_S
        heard = state.telemetry_at if state.telemetry_at is not None else self.boards.listening_since
        if now - heard > SILENT_AFTER * float(interval):
            return Health(board.id, False, detail=f"silent: no telemetry for {now - heard:.0f} s "
                                                  f"(it reports every {float(interval):g} s)")
        frames = state.telemetry.get("frames")
        before = state.frames_before
        if before is not None and state.telemetry_at is not None and frames == before[0]:
            gap = state.telemetry_at - before[1]
            return Health(board.id, False, detail=f"renderer stuck: {frames} frames drawn, none in the "
                                                  f"{gap:.0f} s between two telemetries")
        if answer is None or isinstance(answer, str):
            why = answer or "no screen read-back"
            if why.startswith("refused"):  # an older board: the status is all there is
                return Health(board.id, True, state.shows or None, f"no read-back ({why})")
            return Health(board.id, False, detail=f"{why} (a stuck renderer?)")
        shows = str(answer.get("program", ""))
        program = self._programs.get(shows)
        if program is None:  # not sent by this process (it restarted since): the board's word for it
            return Health(board.id, True, shows or None)
        verdict = self._compare(board, program, answer)
        if verdict:
            return Health(board.id, True, "", verdict)  # shows something else: sent again
        return Health(board.id, True, shows)


def _json_object(payload: bytes) -> dict[str, Any] | None:
    """The message's JSON object ({} for an empty message); None when it is not one."""
    try:
        doc = json.loads(payload) if payload else {}
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None
    return doc if isinstance(doc, dict) else None


def _page_problem(board: Board, program: Program, limit: int) -> str | None:
    if len(program.pages) > MAX_PAGES:
        return f"{len(program.pages)} pages; a ledctl-mqtt board holds at most {MAX_PAGES}"
    for i, page in enumerate(program.pages, start=1):
        w, h = page.image.size
        if max(w, h) > MAX_SIDE or w * h > limit:
            return (f"page {i} ({page.name}) is {w}x{h}; the board holds pages of at most {limit} pixels "
                    f"and {MAX_SIDE} a side")
    return None


def _parts(page: object) -> int:
    parts = page.get("parts", 1) if isinstance(page, dict) else 1
    return parts if isinstance(parts, int) and not isinstance(parts, bool) and parts > 0 else 1


def _outcome_of(boards: MqttBoards, board_id: str, refused: str = "") -> Outcome:
    state = boards.states.get(board_id, BoardState())
    if state.error or (refused and state.online):
        return Outcome.NACK
    return Outcome.OFFLINE
