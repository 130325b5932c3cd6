"""The dispatcher: drives what each board has confirmed toward what it should show.

For every board it keeps the intended program and settings (from the service) and
what the board confirmed (from acks and read-backs), both in the store. A
reconciliation pass per link sends what differs — on a change, on reconnect and
on a periodic re-assert — with backoff for boards that fail. One pass at a time
per link, so boards sharing a wire get one frame at a time. Health checks ping
each board; a board that comes back is sent its program again (it may have
rebooted with an empty screen).
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from ledctl.broadcast import Content, Delivery, Links, apply_settings, deliver
from ledctl.clock import Clock
from ledctl.config import Deployment
from ledctl.drivers.ledctl_mqtt import MqttBoards
from ledctl.drivers.link import LinkError
from ledctl.drivers.mqtt_link import MqttLink
from ledctl.drivers.onbon.driver import BxCard, DeliveryError
from ledctl.drivers.tpm2 import Tpm2Board
from ledctl.errors import LedctlError
from ledctl.events import event
from ledctl.model import Board, Program
from ledctl.schedule import Settings
from ledctl.store import DeliveryRecord, Store, StoreError

log = logging.getLogger("ledctl.dispatch")

BACKOFF_FIRST_S = 5.0
BACKOFF_MAX_S = 300.0
MQTT_STATUS_WAIT_S = 2.0


@dataclass(frozen=True, slots=True)
class Intent:
    """What a board should show: the program and its hash, and a summary people can read."""

    program: Program
    hash: str
    summary: str
    items: tuple[str, ...] = ()  # the ids of what it is made of ("notice:7", "bulletin@…")
    text: str | None = None  # for a card that draws text itself (BX): the notice text instead of pages

    @classmethod
    def of(
        cls, program: Program, summary: str, items: tuple[str, ...] = (), text: str | None = None
    ) -> Intent:
        digest = program.content_hash()
        if text is not None:
            digest = hashlib.sha256(f"{digest}|text|{text}".encode()).hexdigest()
        return cls(program, digest, summary, items, text)

    def content(self, now: datetime) -> Content:
        # Only a program holding a notice expires on the board by itself (when the notice ends):
        # a bulletin stays up even if the controller is down when its successor is due.
        ends = any(i.startswith("notice:") for i in self.items)
        lifetime = _lifetime(self.program, now) if ends else None
        if self.text is not None:
            return Content(text=self.text, text_timeout_s=lifetime or 65535)
        return Content(program=self.program, expires=self.program.valid_to if ends else None,
                       lifetime_s=lifetime, clear_text=True)


@dataclass
class BoardRuntime:
    intent: Intent | None = None
    settings: Settings | None = None
    confirmed: str | None = None
    settings_confirmed: str | None = None
    failures: int = 0
    next_try: datetime | None = None
    online: bool | None = None
    resend_program: bool = False  # send again even though confirmed (re-assert, reconnect)
    resend_settings: bool = False


def backoff(failures: int) -> timedelta:
    return timedelta(seconds=min(BACKOFF_FIRST_S * 2 ** max(failures - 1, 0), BACKOFF_MAX_S))


@dataclass
class Dispatcher:
    dep: Deployment
    store: Store
    clock: Clock
    boards: dict[str, BoardRuntime] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._links = Links(self.dep)
        self._wake = {name: threading.Event() for name in {b.link for b in self.dep.boards}}
        self._health_due: set[str] = set()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._busy: dict[str, bool] = dict.fromkeys(self._wake, False)
        self._idle = threading.Condition(self._lock)
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
                    rt.failures, rt.online = row.failures, row.online

    def set_intended(self, intents: Mapping[str, Intent]) -> list[str]:
        """New intended programs; returns the boards whose program changed (they are sent at once)."""
        changed = []
        now = self.clock.now()
        with self._lock:
            for board_id, intent in intents.items():
                rt = self.boards[board_id]
                if rt.intent is not None and rt.intent.hash == intent.hash:
                    continue
                rt.intent = intent
                rt.next_try = None  # a change is tried at once, whatever the backoff said
                changed.append(board_id)
        for board_id in changed:
            intent = intents[board_id]
            self.store.set_intended(board_id, intent.hash, intent.summary, now, intent.items)
            event(
                log,
                "intended",
                board=board_id,
                program=intents[board_id].hash[:12],
                summary=intents[board_id].summary,
            )
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
                rt.next_try = None
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
        """Ping every board at its link's next pass."""
        with self._lock:
            self._health_due |= set(self._wake)
        for wake in self._wake.values():
            wake.set()

    def pending(self, link: str | None = None, *, due_only: bool = True) -> list[str]:
        now = self.clock.now()
        with self._lock:
            return [
                b.id
                for b in self.dep.boards
                if (link is None or b.link == link)
                and self._needs_work(self.boards[b.id])
                and (not due_only or self._due(self.boards[b.id], now))
            ]

    @staticmethod
    def _needs_work(rt: BoardRuntime) -> bool:
        return Dispatcher._program_due(rt) or Dispatcher._settings_due(rt)

    @staticmethod
    def _program_due(rt: BoardRuntime) -> bool:
        return rt.intent is not None and (rt.resend_program or rt.confirmed != rt.intent.hash)

    @staticmethod
    def _settings_due(rt: BoardRuntime) -> bool:
        return rt.settings is not None and (rt.resend_settings or rt.settings_confirmed != rt.settings.key())

    @staticmethod
    def _due(rt: BoardRuntime, now: datetime) -> bool:
        return rt.next_try is None or rt.next_try <= now

    def _wake_boards(self, board_ids: Iterable[str]) -> None:
        links = {self.dep.board(b).link for b in board_ids}
        for name in links:
            self._wake[name].set()

    # -- one pass over one link ------------------------------------------------------------------

    def reconcile_link(self, link_name: str) -> int:
        """Health checks if due, then every due board whose confirmed state differs; returns the
        number of boards worked on."""
        with self._lock:
            health = link_name in self._health_due
            self._health_due.discard(link_name)
        if health:
            self._health(link_name)
        ids = self.pending(link_name)
        if not ids:
            return 0
        boards = [self.dep.board(b) for b in ids]
        self._send_programs(link_name, boards)
        self._send_settings(link_name, boards)
        return len(boards)

    def _send_programs(self, link_name: str, boards: list[Board]) -> None:
        with self._lock:
            work = {b.id: rt.intent for b in boards if self._program_due(rt := self.boards[b.id])}
        if not work:
            return
        members = [b for b in boards if b.id in work]
        contents = {board_id: intent.content(self.clock.now()) for board_id, intent in work.items() if intent}
        serial = self.dep.links[link_name].transport == "serial"
        # A serial wire goes board by board, so each board gets the newest intent at its turn.
        batches = [[b] for b in members] if serial else [members]
        for batch in batches:
            if self._stop.is_set():
                return
            if serial:
                with self._lock:
                    intent = self.boards[batch[0].id].intent
                if intent is None:
                    continue
                work[batch[0].id] = intent
                contents[batch[0].id] = intent.content(self.clock.now())
            results = deliver(self.dep, batch, contents, links=self._links)
            for result in results:
                intent = work[result.board]
                assert intent is not None
                self._content_result(result, intent)

    def _content_result(self, d: Delivery, intent: Intent) -> None:
        now = self.clock.now()
        record = DeliveryRecord(d.board, intent.hash, d.mode, d.ok, d.result, d.bytes_sent, d.seconds, now)
        if d.ok:
            try:
                # The proof first: a confirmation the store cannot keep (disk full) is not counted,
                # so it is sent and recorded again once the store works.
                self.store.confirm(d.board, intent.hash, intent.summary, now, record, intent.items)
            except StoreError as e:
                d = replace(d, ok=False, result=f"confirmed but not recorded: {e}")
        with self._lock:
            rt = self.boards[d.board]
            if d.ok:
                rt.confirmed, rt.failures, rt.next_try, rt.online = intent.hash, 0, None, True
                rt.resend_program = False
            else:
                rt.failures += 1
                rt.next_try = now + backoff(rt.failures)
                if d.result.startswith("offline"):
                    rt.online = False
        if d.ok:
            event(log, "confirmed", board=d.board, program=intent.hash[:12], result=d.result,
                  bytes=d.bytes_sent, seconds=f"{d.seconds:.2f}")
        else:
            try:
                failures = self.store.failed(d.board, d.result, now, record,
                                             offline=d.result.startswith("offline"))
            except StoreError:
                failures = self.boards[d.board].failures
            event(
                log,
                "not-confirmed",
                level=logging.WARNING,
                board=d.board,
                program=intent.hash[:12],
                result=d.result,
                failures=failures,
                retry_in=f"{backoff(failures).total_seconds():.0f}s",
            )

    def _send_settings(self, link_name: str, boards: list[Board]) -> None:
        with self._lock:
            now = self.clock.now()
            work = {
                b.id: rt.settings
                for b in boards
                if self._settings_due(rt := self.boards[b.id]) and self._due(rt, now)
            }
        if not work:
            return
        members = [b for b in boards if b.id in work]
        wanted = {k: v for k, v in work.items() if v is not None}
        for d in apply_settings(self.dep, members, wanted, links=self._links):
            now = self.clock.now()
            want = wanted[d.board]
            with self._lock:
                rt = self.boards[d.board]
                if d.ok:
                    rt.settings_confirmed, rt.resend_settings = want.key(), False
                else:
                    rt.failures += 1
                    rt.next_try = now + backoff(rt.failures)
            if d.ok:
                self.store.settings_confirmed(d.board, want.key(), now)
                event(log, "settings", board=d.board, settings=want.key(), result=d.result)
            else:
                self.store.failed(
                    d.board, f"settings: {d.result}", now, offline=d.result.startswith("offline")
                )
                event(
                    log,
                    "settings-failed",
                    level=logging.WARNING,
                    board=d.board,
                    settings=want.key(),
                    result=d.result,
                )

    # -- health ----------------------------------------------------------------------------------

    def _health(self, link_name: str) -> None:
        members = [b for b in self.dep.boards if b.link == link_name]
        if self.dep.links[link_name].transport == "mqtt":
            seen = self._mqtt_health(link_name, members)
        else:
            seen = {b.id: self._serial_ping(b) for b in members}
        now = self.clock.now()
        for board_id, (online, why) in seen.items():
            with self._lock:
                rt = self.boards[board_id]
                came_back = online and rt.online is False
                went = not online and rt.online is not False
                rt.online = online
                if came_back:
                    # It may have restarted blank: send it everything again.
                    rt.resend_program = rt.resend_settings = True
                    rt.next_try = None
            self.store.seen(board_id, online, now, why)
            if came_back:
                event(log, "back-online", board=board_id)
            elif went:
                event(log, "offline", level=logging.WARNING, board=board_id, why=why)

    def _serial_ping(self, board: Board) -> tuple[bool, str]:
        link = self._links.get(board.link)
        try:
            if board.driver == "tpm2":
                ok = Tpm2Board(board.size.width, board.size.height, link).ping()
                return ok, "" if ok else "no ping reply"
            BxCard(board, link).ping()
            return True, ""
        except DeliveryError as e:
            return False, str(e)
        except (LinkError, LedctlError) as e:
            return False, f"link error: {e}"

    def _mqtt_health(self, link_name: str, members: list[Board]) -> dict[str, tuple[bool, str]]:
        link = self.dep.links[link_name]
        mqtt = MqttLink(
            link_name,
            link.url,
            client_id=f"ledctl-health-{link_name}",
            username=link.username,
            password_env=link.password_env,
            tls_ca=link.tls_ca,
            password_file=link.password_file,
            subscriptions=MqttBoards.topics(self.dep.site.id),
        )
        ours = [b for b in members if b.driver == "ledctl-mqtt"]
        try:
            mqtt.connect()
        except LedctlError as e:
            return {b.id: (False, f"broker: {e}") for b in ours}
        try:
            fleet = MqttBoards(mqtt, self.dep.site.id)
            # The retained statuses arrive in a burst after subscribing: read until all are in.
            deadline = time.monotonic() + MQTT_STATUS_WAIT_S
            while time.monotonic() < deadline and any(
                fleet.states.get(b.id) is None or fleet.states[b.id].online is None for b in ours
            ):
                fleet.drain(block_s=0.1)
            out = {}
            for b in ours:
                state = fleet.states.get(b.id)
                online = bool(state and state.online)
                out[b.id] = (online, "" if online else "offline (its last will, or never connected)")
            return out
        finally:
            mqtt.close()

    # -- running ---------------------------------------------------------------------------------

    def settle(self, max_passes: int = 20) -> None:
        """Reconcile every link until nothing due is left (tests and the demo call this)."""
        for _ in range(max_passes):
            links = [name for name in self._wake if self.pending(name) or name in self._health_due]
            if not links:
                return
            threads = [threading.Thread(target=self.reconcile_link, args=(name,)) for name in links]
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
            wake.wait(period_s)
            wake.clear()
            if self._stop.is_set():
                break
            try:
                self.reconcile_link(link_name)
            except LedctlError as e:  # the store failed (disk full …): say so, try again later
                event(log, "dispatch-failed", level=logging.ERROR, link=link_name, error=str(e))
            except Exception:  # one link's bug must not freeze its boards for good
                log.exception("link %s: the reconciliation pass failed unexpectedly; trying again", link_name)

    def stop(self) -> None:
        self._stop.set()
        for wake in self._wake.values():
            wake.set()
        for t in self._threads:
            t.join(timeout=30)
        self._links.close()


def _lifetime(program: Program, now: datetime) -> int | None:
    """Seconds until the program ends, for boards that count down themselves (BX, AWTRIX)."""
    if program.valid_to is None:
        return None
    return max(1, min(65535, int((program.valid_to - now).total_seconds())))
