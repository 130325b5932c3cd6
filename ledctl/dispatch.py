"""The dispatcher: drives what each board has confirmed toward what it should show.

It is the only thing that talks to boards. For every board it keeps the intended program and
settings (from the service) and what the board confirmed (from acks and read-backs), both in
the store. A reconciliation pass per link sends what differs — on a change, on reconnect and on
a periodic re-assert — with backoff for boards that fail. One pass at a time per link, so
boards sharing a wire get one frame at a time. Health checks ask each board's driver; a board
that comes back is sent its program again (it may have rebooted with an empty screen), and a
board that says it shows something other than what it confirmed is sent its program again too
(logged as a possible tampering).

A board that holds fewer pages than its program has (a BX card holds one picture, a TPM2
receiver one frame) gets its loop played by the host: page after page, each sent so that it
goes up as the one before has had its dwell. Such a program is confirmed only once every page
has reached the board (`ledctl boards` shows 2/2); until then it is pending. A new intent
always goes before the next page of the old one.

Urgent work does not wait for a picture on a shared wire: a bulletin picture goes to a BX card in
blocks, and when a notice starts or ends on any board of the wire (or the board being sent has a
newer intent itself), the transfer gives way at the next block (`Content.give_way`; the card keeps
its previous picture) and the pass starts over with notices first. A notice's own delivery never
gives way, and a new bulletin for one board does not stop another's picture (a day of changing
bulletins cannot starve a wire).

The links live as long as the dispatcher (one LinkPool); `close()` (or `with Dispatcher(...)`)
stops the workers, cuts exchanges short and closes every link.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from ledctl.clock import Clock
from ledctl.config import Deployment
from ledctl.delivery import apply_settings, deliver
from ledctl.drivers import capabilities, driver_class
from ledctl.drivers.base import Content, Health, Outcome, Result
from ledctl.drivers.pool import LinkPool
from ledctl.errors import FaultError, LedctlError
from ledctl.events import event
from ledctl.model import Board, Program
from ledctl.schedule import Settings
from ledctl.store import DeliveryRecord, Store, StoreError

log = logging.getLogger("ledctl.dispatch")

BACKOFF_FIRST_S = 5.0
BACKOFF_MAX_S = 300.0
STOP_WAIT_S = 5.0  # how long close() waits for a worker in the middle of an exchange


@dataclass(frozen=True, slots=True)
class Intent:
    """What a board should show: the program and its hash, and a summary people can read."""

    program: Program
    hash: str
    summary: str
    items: tuple[str, ...] = ()  # the ids of what it is made of ("notice:7", "bulletin@…")
    text: str | None = None  # for a board with its own font: the notice text instead of pages
    ends: bool = False  # the board removes it by itself at the program's valid_to

    @classmethod
    def of(
        cls, program: Program, summary: str, items: tuple[str, ...] = (), text: str | None = None,
        *, ends: bool | None = None,
    ) -> Intent:
        digest = program.content_hash()
        if text is not None:
            digest = hashlib.sha256(f"{digest}|text|{text}".encode()).hexdigest()
        # By default only a program holding a notice expires on the board by itself (when the notice
        # ends): a bulletin stays up even if the controller is down when its successor is due.
        if ends is None:
            ends = any(i.startswith("notice:") for i in items)
        return cls(program, digest, summary, items, text, ends)

    @property
    def pages(self) -> int:
        return len(self.program.pages)

    def content(self, now: datetime) -> Content:
        ends = self.ends
        lifetime = _lifetime(self.program, now) if ends else None
        if self.text is not None:
            return Content(self.program, text=self.text, lifetime_s=lifetime or 65535)
        return Content(self.program, expires=self.program.valid_to if ends else None,
                       lifetime_s=lifetime, clear_text=True)


@dataclass
class Attempts:
    """Failures in a row of one kind of work (programs or settings), and when to try again."""

    failures: int = 0
    next_try: datetime | None = None

    def due(self, now: datetime) -> bool:
        return self.next_try is None or self.next_try <= now

    def failed(self, now: datetime) -> None:
        self.failures += 1
        self.next_try = now + backoff(self.failures)

    def succeeded(self) -> None:
        self.failures, self.next_try = 0, None


@dataclass
class Play:
    """The host playing one program's loop on a board that holds fewer pages (see the module doc)."""

    hash: str
    page: int  # the page the board shows now
    next_at: datetime  # when to send the next page (its transfer ends as this one's dwell does)
    delivered: set[int] = field(default_factory=set)  # the pages that have reached the board
    recorded: bool = False  # the whole loop is up and the proof says so (once per loop started)
    bytes_sent: int = 0  # over the first loop, for the proof's delivery record
    seconds: float = 0.0


@dataclass
class BoardRuntime:
    intent: Intent | None = None
    settings: Settings | None = None
    confirmed: str | None = None
    sent: str | None = None  # sent to a board that cannot acknowledge: done, but never "confirmed"
    settings_confirmed: str | None = None
    program: Attempts = field(default_factory=Attempts)
    settings_attempts: Attempts = field(default_factory=Attempts)
    online: bool | None = None
    resend_program: bool = False  # send again even though confirmed (re-assert, reconnect)
    resend_settings: bool = False
    last_result: Result | None = None
    play: Play | None = None  # the loop the host plays on it, if it holds fewer pages than that

    @property
    def failures(self) -> int:
        return self.program.failures + self.settings_attempts.failures


@dataclass(frozen=True, slots=True)
class BoardView:
    """A consistent copy of one board's state, for the console and the CLI (never the live object)."""

    board: str
    intended: str | None
    summary: str
    items: tuple[str, ...]
    confirmed: str | None
    settings: str | None
    settings_confirmed: str | None
    online: bool | None
    failures: int
    last_result: Result | None
    pages: tuple[int, int] = (0, 0)  # of the intended program: pages that reached the board, pages
    page: int | None = None  # the page the host last put up, where the host plays the loop
    sent: str | None = None  # the program sent to a board that cannot acknowledge (not a confirmation)


def backoff(failures: int) -> timedelta:
    return timedelta(seconds=min(BACKOFF_FIRST_S * 2 ** max(failures - 1, 0), BACKOFF_MAX_S))


@dataclass
class Dispatcher:
    dep: Deployment
    store: Store
    clock: Clock
    pool: LinkPool | None = None  # the links and their drivers (tests give a pool of fake drivers)
    boards: dict[str, BoardRuntime] = field(default_factory=dict)
    progress: Callable[[str], None] = lambda line: None  # a line per board as it ends (the CLI prints it)

    def __post_init__(self) -> None:
        if self.pool is None:
            self.pool = LinkPool(self.dep.links, self.dep.boards, self.dep.site.id)
        self._lock = threading.Lock()
        self._wake = {name: threading.Event() for name in {b.link for b in self.dep.boards}}
        # Bumped when a notice starts or ends on a board of the link: a transfer started before gives way.
        self._urgent_changes = dict.fromkeys(self._wake, 0)
        self._health_due: set[str] = set()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        for board in self.dep.boards:
            self.boards.setdefault(board.id, BoardRuntime())

    # -- state -----------------------------------------------------------------------------------

    def restore(self) -> None:
        """What the store says each board confirmed, so a restart sends only what differs."""
        rows = self.store.boards()
        with self._lock:
            for board_id, rt in self.boards.items():
                row = rows.get(board_id)
                if row is not None:
                    rt.confirmed, rt.settings_confirmed = row.confirmed, row.settings_confirmed
                    rt.sent = row.sent
                    rt.program.failures, rt.online = row.failures, row.online

    def set_intended(self, intents: Mapping[str, Intent]) -> list[str]:
        """New intended programs; returns the boards whose program changed (they are sent at once)."""
        changed = []
        now = self.clock.now()
        with self._lock:
            for board_id, intent in intents.items():
                rt = self.boards[board_id]
                if rt.intent is not None and rt.intent.hash == intent.hash:
                    continue
                if _urgent(intent) or _urgent(rt.intent):
                    self._urgent_changes[self.dep.board(board_id).link] += 1
                rt.intent = intent
                rt.program = Attempts()  # a change is tried at once, whatever the backoff said
                changed.append(board_id)
        for board_id in changed:
            intent = intents[board_id]
            self.store.set_intended(board_id, intent.hash, intent.summary, now, intent.items)
            event(log, "intended", board=board_id, program=intent.hash[:12], summary=intent.summary)
        self._wake_boards(changed)
        return changed

    def set_settings(self, settings: Mapping[str, Settings]) -> list[str]:
        changed = []
        with self._lock:
            for board_id, want in settings.items():
                rt = self.boards[board_id]
                if rt.settings == want:
                    continue
                rt.settings = want
                rt.settings_attempts = Attempts()
                changed.append(board_id)
        for board_id in changed:
            self.store.set_settings_intended(board_id, settings[board_id].key())
        self._wake_boards(changed)
        return changed

    def reassert(self, board_ids: Iterable[str] | None = None) -> None:
        """Send again what each board should show, even where it confirmed it (it may have lost it)."""
        ids = list(self.boards) if board_ids is None else list(board_ids)
        with self._lock:
            for board_id in ids:
                self.boards[board_id].resend_program = self.boards[board_id].resend_settings = True
        self._wake_boards(ids)

    def check_health(self) -> None:
        """Ask every board at its link's next pass."""
        with self._lock:
            self._health_due |= set(self._wake)
        for wake in self._wake.values():
            wake.set()

    def view(self) -> dict[str, BoardView]:
        """Every board's state, copied under the lock (what the console and the CLI read)."""
        with self._lock:
            return {
                board_id: BoardView(
                    board_id, rt.intent.hash if rt.intent else None, rt.intent.summary if rt.intent else "",
                    rt.intent.items if rt.intent else (), rt.confirmed,
                    rt.settings.key() if rt.settings else None, rt.settings_confirmed, rt.online,
                    rt.failures, rt.last_result, self._pages(rt), self._playing(rt), rt.sent)
                for board_id, rt in self.boards.items()
            }

    @staticmethod
    def _pages(rt: BoardRuntime) -> tuple[int, int]:
        if rt.intent is None:
            return (0, 0)
        if rt.play is not None and rt.play.hash == rt.intent.hash:
            return (len(rt.play.delivered), rt.intent.pages)
        done = rt.intent.hash in (rt.confirmed, rt.sent)
        return (rt.intent.pages, rt.intent.pages) if done else (0, rt.intent.pages)

    @staticmethod
    def _playing(rt: BoardRuntime) -> int | None:
        current = rt.play is not None and rt.intent is not None and rt.play.hash == rt.intent.hash
        return rt.play.page if current and rt.play is not None else None

    def program_of(self, board_id: str, *, confirmed: bool = False) -> Program | None:
        """The program `board_id` should show (with `confirmed`: only once the board confirmed it)."""
        with self._lock:
            rt = self.boards.get(board_id)
            if rt is None or rt.intent is None or (confirmed and rt.confirmed != rt.intent.hash):
                return None
            return rt.intent.program

    def pending(self, link: str | None = None, *, due_only: bool = True, pages: bool = True) -> list[str]:
        """Boards with work due: a program or settings to send, or (with `pages`) the next page of
        a loop."""
        now = self.clock.now()
        with self._lock:
            return [
                b.id
                for b in self.dep.boards
                if (link is None or b.link == link)
                and (self._program_due(rt := self.boards[b.id], now, due_only)
                     or self._settings_due(rt, now, due_only)
                     or (pages and (self._page_due(rt, now)
                                    or (not due_only and self._playing(rt) is not None
                                        and rt.confirmed != rt.intent.hash))))
            ]

    @staticmethod
    def _program_due(rt: BoardRuntime, now: datetime, due_only: bool = True) -> bool:
        if rt.intent is None:
            return False
        playing = rt.play is not None and rt.play.hash == rt.intent.hash
        # A loop in play is the player's: its first page went, the rest follow at their time. A
        # program sent to a board that cannot acknowledge is done as much as it can be.
        wanted = rt.resend_program or (rt.intent.hash not in (rt.confirmed, rt.sent) and not playing)
        return wanted and (not due_only or rt.program.due(now))

    @staticmethod
    def _page_due(rt: BoardRuntime, now: datetime) -> bool:
        play = rt.play
        return (play is not None and rt.intent is not None and play.hash == rt.intent.hash
                and not rt.resend_program and play.next_at <= now and rt.program.due(now))

    def next_page_at(self, link: str) -> datetime | None:
        """When the next page of a loop the host plays on this link is due (None: no loop playing)."""
        with self._lock:
            times = [rt.play.next_at for b in self.dep.boards if b.link == link
                     if (rt := self.boards[b.id]).play is not None and self._playing(rt) is not None]
        return min(times) if times else None

    @staticmethod
    def _settings_due(rt: BoardRuntime, now: datetime, due_only: bool = True) -> bool:
        want = rt.settings
        wanted = want is not None and (rt.resend_settings or rt.settings_confirmed != want.key())
        return wanted and (not due_only or rt.settings_attempts.due(now))

    def _wake_boards(self, board_ids: Iterable[str]) -> None:
        links = {self.dep.board(b).link for b in board_ids}
        for name in links:
            self._wake[name].set()

    # -- one pass over one link ------------------------------------------------------------------

    def reconcile_link(self, link_name: str, *, pages: bool = True, only: set[str] | None = None) -> int:
        """Health checks if due, then every due board whose confirmed state differs, then the next
        page of each loop the host plays that is due (unless `pages` is False); with `only`, just
        those boards (a one-off command that played each loop once leaves the rest on their last
        page). Returns the number of boards worked on."""
        with self._lock:
            health = link_name in self._health_due
            self._health_due.discard(link_name)
        if health:
            self._health(link_name)
        ids = [b for b in self.pending(link_name) if only is None or b in only]
        if not ids:
            return 0
        boards = [self.dep.board(b) for b in ids]
        # Work that gave way to a newer intent ends the pass: the next one starts with that intent.
        if self._send_programs(link_name, boards):
            return len(boards)
        self._send_settings(link_name, boards)
        if pages:
            self._send_pages(link_name, boards)
        return len(boards)

    def _give_way(self, board: Board, intent: Intent) -> Callable[[], bool]:
        """For a transfer of `intent` to `board` starting now: True once a notice starts or ends on a
        board of its link, or the board itself has a newer intent (this one is stale)."""
        link, rt = board.link, self.boards[board.id]
        with self._lock:
            mark = self._urgent_changes[link]
        # Plain reads, no lock: a counter and a reference, asked between frames.
        return lambda: self._urgent_changes[link] != mark or rt.intent is not intent

    def _cut_short(self, r: Result) -> bool:
        """A delivery the shutdown cut short says nothing of its board: it is not recorded (the board
        keeps what it had confirmed, and the next start goes on from there)."""
        if r.ok or not self._stop.is_set():
            return False
        log.debug("board %s: %s (cut short by the shutdown; not recorded)", r.board, r.describe())
        return True

    def _gave_way(self, r: Result, intent: Intent) -> None:
        event(log, "gave-way", board=r.board, program=intent.hash[:12], result=r.describe(),
              note="a notice on the wire (or this board's newer program) goes first; this goes again "
                   "after it")

    def _send_programs(self, link_name: str, boards: list[Board]) -> bool:
        """Each due board's program; True when one gave way to a newer intent (the pass ends)."""
        now = self.clock.now()
        with self._lock:
            members = [b for b in boards if self._program_due(self.boards[b.id], now)]
            # Notices first, then the rest in board order: on a shared wire an urgent notice
            # does not queue behind bulletin pictures.
            members.sort(key=lambda b: not _urgent(self.boards[b.id].intent))
        if not members:
            return False
        serial = self.dep.links[link_name].transport == "serial"
        # A serial wire goes board by board, so each board gets the newest intent at its turn.
        for batch in [[b] for b in members] if serial else [members]:
            if self._stop.is_set():
                return False
            with self._lock:
                work = {b.id: intent for b in batch if (intent := self.boards[b.id].intent) is not None}
            if not work:
                continue
            now = self.clock.now()
            contents = {}
            for board_id, intent in work.items():
                board = self.dep.board(board_id)
                contents[board_id] = self._first_content(board, intent, now, self._give_way(board, intent))
            results = deliver(self._pool(), [b for b in batch if b.id in work], contents,
                              progress=self.progress)
            gave_way = False
            for result in results:
                if self._cut_short(result):
                    continue
                if result.outcome is Outcome.GAVE_WAY:
                    self._gave_way(result, work[result.board])
                    gave_way = True
                elif contents[result.board].page is not None:
                    self._page_result(result, work[result.board], 0, first=True)
                else:
                    self._content_result(result, work[result.board])
            if gave_way:
                return True
        return False

    @staticmethod
    def _first_content(board: Board, intent: Intent, now: datetime, give_way: Callable[[], bool]) -> Content:
        """The whole program, or — where the host plays the loop — its first page. Anything but a
        notice gives way when `give_way` says so (a notice starting or ending on the wire)."""
        content = intent.content(now)
        if not _urgent(intent):
            content = replace(content, give_way=give_way)
        if content.text is None and _host_plays(board, intent):
            return replace(content, page=0)
        return content

    def _send_pages(self, link_name: str, boards: list[Board]) -> None:
        """The next page of each loop the host plays whose time has come, board by board (each
        gives way to a newer intent on the wire: the pass ends and the page goes after it)."""
        for board in boards:
            if self._stop.is_set():
                return
            now = self.clock.now()
            with self._lock:
                rt = self.boards[board.id]
                if not self._page_due(rt, now) or rt.play is None or rt.intent is None:
                    continue
                intent, page = rt.intent, (rt.play.page + 1) % rt.intent.pages
            content = replace(intent.content(now), page=page, clear_text=False,
                              give_way=self._give_way(board, intent))
            [result] = deliver(self._pool(), [board], {board.id: content}, progress=self.progress)
            if self._cut_short(result):
                return
            if result.outcome is Outcome.GAVE_WAY:
                self._gave_way(result, intent)
                return
            self._page_result(result, intent, page, first=False)

    def _page_result(self, r: Result, intent: Intent, page: int, *, first: bool) -> None:
        """One page of a loop the host plays: on the board (and the loop confirmed once every page
        has been), or a failure handled like any delivery's."""
        now = self.clock.now()
        with self._lock:
            rt = self.boards[r.board]
            current = rt.intent is not None and rt.intent.hash == intent.hash
            if not r.ok:
                rt.last_result = r
                if current:
                    rt.program.failed(now)
                if r.outcome is Outcome.OFFLINE:
                    rt.online = False
                failures = rt.program.failures
            else:
                if r.confirmed:  # a page only sent says nothing of the board being there
                    rt.online = True
                if first or rt.play is None or rt.play.hash != intent.hash:
                    rt.play = Play(intent.hash, page, now, set())
                    rt.resend_program = False
                play = rt.play
                play.page = page
                play.delivered.add(page)
                play.bytes_sent += r.bytes_sent
                play.seconds += r.seconds
                # The next page goes early by this one's wire time, so it is up when the dwell ends.
                dwell = timedelta(seconds=intent.program.pages[page].dwell_s)
                play.next_at = max(now, now + dwell - timedelta(seconds=r.seconds))
                refresh = capabilities(self.dep.board(r.board)).refresh_s
                if refresh is not None:
                    play.next_at = min(play.next_at, now + timedelta(seconds=refresh))
                rt.program.succeeded()
                newly = len(play.delivered) == intent.pages and not play.recorded
                play.recorded = play.recorded or newly
                summed = replace(r, bytes_sent=play.bytes_sent, seconds=play.seconds,
                                 pages=(len(play.delivered), intent.pages))
                rt.last_result = summed
        if not r.ok:
            self._page_failed(r, intent, page, failures, now)
            return
        if newly and current:
            self._content_result(summed, intent)
        elif first:
            event(log, "page", board=r.board, program=intent.hash[:12], page=f"1/{intent.pages}",
                  note="the rest follow at their dwell; confirmed once every page is up")

    def _page_failed(self, r: Result, intent: Intent, page: int, failures: int, now: datetime) -> None:
        record = DeliveryRecord(r.board, intent.hash, r.mode, False,
                                f"{r.describe()} (page {page + 1} of {intent.pages})", r.bytes_sent,
                                r.seconds, now)
        try:
            self.store.failed(r.board, record.result, now, record, offline=r.outcome is Outcome.OFFLINE)
        except StoreError as e:
            event(log, "store-failed", level=logging.ERROR, board=r.board, error=str(e))
        event(log, "not-confirmed", level=logging.WARNING, board=r.board, program=intent.hash[:12],
              page=f"{page + 1}/{intent.pages}", result=r.describe(), failures=failures,
              retry_in=f"{backoff(failures).total_seconds():.0f}s")

    def _content_result(self, r: Result, intent: Intent) -> None:
        now = self.clock.now()
        record = DeliveryRecord(r.board, intent.hash, r.mode, r.confirmed, r.describe(), r.bytes_sent,
                                r.seconds, now, r.outcome.value)
        if r.ok:
            try:
                # The proof first: a confirmation the store cannot keep (disk full) is not counted,
                # so it is sent and recorded again once the store works. A program only sent (to a
                # board that cannot acknowledge) is kept as sent: it is no proof of display.
                if r.confirmed:
                    self.store.confirm(r.board, intent.hash, intent.summary, now, record, intent.items,
                                       pages=(intent.pages, intent.pages))
                else:
                    self.store.sent(r.board, intent.hash, now, record)
            except StoreError as e:
                r = replace(r, outcome=Outcome.LINK, detail=f"{r.outcome.value} but not recorded: {e}")
        with self._lock:
            rt = self.boards[r.board]
            rt.last_result = r
            current = rt.intent is not None and rt.intent.hash == intent.hash
            if r.confirmed:
                rt.confirmed, rt.online = intent.hash, True
            elif r.ok:
                rt.sent = intent.hash
            if r.ok:
                if current:
                    rt.program.succeeded()
                    if r.mode != "page":  # a loop the host plays: resending starts it over
                        rt.resend_program = False
                    if rt.play is not None and rt.play.hash != intent.hash:
                        rt.play = None
            elif current:
                # A failure of an intent already replaced must not hold the new one back.
                rt.program.failed(now)
            if r.outcome is Outcome.OFFLINE:
                rt.online = False
            failures = rt.program.failures
        if r.ok:
            event(log, "confirmed" if r.confirmed else "sent", board=r.board, program=intent.hash[:12],
                  result=r.describe(), bytes=r.bytes_sent, seconds=f"{r.seconds:.2f}")
            return
        try:
            self.store.failed(r.board, r.describe(), now, record, offline=r.outcome is Outcome.OFFLINE)
        except StoreError as e:
            event(log, "store-failed", level=logging.ERROR, board=r.board, error=str(e))
        event(log, "not-confirmed", level=logging.WARNING, board=r.board, program=intent.hash[:12],
              result=r.describe(), failures=failures, retry_in=f"{backoff(failures).total_seconds():.0f}s")

    def _send_settings(self, link_name: str, boards: list[Board]) -> None:
        now = self.clock.now()
        with self._lock:
            wanted = {b.id: rt.settings for b in boards
                      if self._settings_due(rt := self.boards[b.id], now) and rt.settings is not None}
        if not wanted or self._stop.is_set():
            return
        members = [b for b in boards if b.id in wanted]
        for r in apply_settings(self._pool(), members, wanted):
            if self._cut_short(r):
                continue
            self._settings_result(r, wanted[r.board])

    def _settings_result(self, r: Result, want: Settings) -> None:
        now = self.clock.now()
        with self._lock:
            rt = self.boards[r.board]
            current = rt.settings == want
            if r.ok:
                rt.settings_confirmed = want.key()
                if current:
                    rt.settings_attempts.succeeded()
                    rt.resend_settings = False
            elif current:
                rt.settings_attempts.failed(now)
        try:
            if r.ok:
                self.store.settings_confirmed(r.board, want.key(), now)
            else:
                self.store.failed(r.board, f"settings: {r.describe()}", now,
                                  offline=r.outcome is Outcome.OFFLINE)
        except StoreError as e:
            event(log, "store-failed", level=logging.ERROR, board=r.board, error=str(e))
        if r.ok:
            event(log, "settings", board=r.board, settings=want.key(), result=r.describe())
        else:
            event(log, "settings-failed", level=logging.WARNING, board=r.board, settings=want.key(),
                  result=r.describe())

    # -- health ----------------------------------------------------------------------------------

    def _health(self, link_name: str) -> None:
        members = [b for b in self.dep.boards if b.link == link_name]
        by_driver: dict[str, list[Board]] = {}
        for board in members:
            by_driver.setdefault(board.driver, []).append(board)
        seen: list[Health] = []
        for driver_name, group in by_driver.items():
            try:
                seen += self._pool().driver(link_name, driver_name).check(group)
            except (FaultError, LedctlError) as e:  # the link itself is down
                seen += [Health(b.id, False, detail=f"link {link_name}: {e}") for b in group]
        now = self.clock.now()
        for health in seen:
            with self._lock:
                rt = self.boards[health.board]
                came_back = health.online and rt.online is False
                went = not health.online and rt.online is not False
                rt.online = health.online
                # What the board says it shows, where its protocol tells: a difference from what it
                # confirmed is a board that lost its program, or one that was given another.
                differs = (health.online and health.shows is not None and rt.confirmed is not None
                           and health.shows != rt.confirmed)
                emptied = health.online and health.empty and rt.confirmed is not None
                if came_back or differs or emptied:
                    rt.resend_program = rt.resend_settings = True
                    rt.program.next_try = None
            try:
                self.store.seen(health.board, health.online, now, health.detail)
            except StoreError as e:
                event(log, "store-failed", level=logging.ERROR, board=health.board, error=str(e))
            if emptied:
                event(log, "lost-program", level=logging.WARNING, board=health.board,
                      note="the board holds nothing (a power cut empties its RAM): sending it again")
            if differs:
                event(log, "shows-other", level=logging.WARNING, board=health.board,
                      shows=(health.shows or "")[:12], confirmed=(rt.confirmed or "")[:12],
                      note="possible tampering or a lost program: sending it again")
            if came_back:
                event(log, "back-online", board=health.board)
            elif went:
                event(log, "offline", level=logging.WARNING, board=health.board, why=health.detail)

    # -- running ---------------------------------------------------------------------------------

    def _pool(self) -> LinkPool:
        assert self.pool is not None
        return self.pool

    def settle(self, max_passes: int = 20, *, pages: bool = True) -> None:
        """Reconcile every link until nothing due is left (tests and the demo call this); with
        `pages` False, loops the host plays stay on their page (a test that jumps hours ahead)."""
        for _ in range(max_passes):
            links = [name for name in self._wake
                     if self.pending(name, pages=pages) or name in self._health_due]
            if not links:
                return
            threads = [threading.Thread(target=self.reconcile_link, args=(name,), kwargs={"pages": pages})
                       for name in links]
            for t in threads:
                t.start()
            for t in threads:
                t.join()

    def start(self, period_s: float = 5.0) -> None:
        """One worker per link: a pass when woken, and every `period_s` for due retries."""
        for name in self._wake:
            t = threading.Thread(
                target=self._worker, args=(name, period_s), name=f"dispatch-{name}", daemon=True
            )
            t.start()
            self._threads.append(t)

    def _worker(self, link_name: str, period_s: float) -> None:
        wake = self._wake[link_name]
        while not self._stop.is_set():
            wait = period_s
            next_page = self.next_page_at(link_name)
            if next_page is not None:
                wait = min(wait, max(0.0, (next_page - self.clock.now()).total_seconds()))
            wake.wait(wait)
            wake.clear()
            if self._stop.is_set():
                break
            try:
                self.reconcile_link(link_name)
            except (FaultError, LedctlError) as e:  # the store failed (disk full …): say so, try again
                event(log, "dispatch-failed", level=logging.ERROR, link=link_name, error=str(e))
            except Exception:  # one link's bug must not freeze its boards for good
                log.exception("link %s: the reconciliation pass failed unexpectedly; trying again", link_name)

    def close(self) -> None:
        """Stop the workers (exchanges in progress are cut short) and close every link."""
        self._stop.set()
        for wake in self._wake.values():
            wake.set()
        pool = self._pool()
        pool.cancel()
        for t in self._threads:
            t.join(timeout=STOP_WAIT_S)
        self._threads = [t for t in self._threads if t.is_alive()]
        # A serial link closes under its wire lock, so a worker still in an exchange is never cut
        # off mid-frame by the close itself.
        pool.close()

    stop = close

    def __enter__(self) -> Dispatcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _urgent(intent: Intent | None) -> bool:
    """A program holding a notice: it goes first on a shared wire and never gives way."""
    return intent is not None and any(i.startswith("notice:") for i in intent.items)


def _host_plays(board: Board, intent: Intent) -> bool:
    """Whether the host plays this program's loop on the board (it holds fewer pages, or it drops a
    page the host does not send again in time)."""
    return driver_class(board).host_plays(board, intent.program)


def _lifetime(program: Program, now: datetime) -> int | None:
    """Seconds until the program ends, for boards that count down themselves (BX, AWTRIX)."""
    if program.valid_to is None:
        return None
    return max(1, min(65535, int((program.valid_to - now).total_seconds())))
