"""The service: the scheduled jobs, the items each board could show, and the dispatcher.

`Service.start` restores what the store knows (what each board confirmed, the last
bulletin), runs a missed broadcast that is still within its grace time, works out
what every board should show now, and re-asserts it. The jobs then keep it true:
fetch and broadcast, refreshes, screen and brightness changes, health checks and
re-assertion. `serve` runs them under APScheduler until told to stop; tests drive
the same jobs with `schedule.VirtualRunner` and an injected clock.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from PIL import Image

from ledctl import pipeline, schedule
from ledctl import state as state_mod
from ledctl.channels import POST_TIMEOUT_S, ChannelSender
from ledctl.clock import Clock
from ledctl.compose import Item, Priority, compose, shown
from ledctl.config import Deployment
from ledctl.dispatch import BoardView, Dispatcher, Intent
from ledctl.drivers import driver_class
from ledctl.errors import LedctlError
from ledctl.events import event
from ledctl.model import Board, Bulletin, Page, Program, Rejection
from ledctl.notices.cap import CapAlert
from ledctl.notices.items import NoticeItems
from ledctl.notices.workflow import Notices
from ledctl.publications import Publications, bulletin_doc, notice_doc
from ledctl.render import layout as layout_mod
from ledctl.render.cache import PageCache
from ledctl.store import Store

log = logging.getLogger("ledctl.service")

TICK = "tick"
CAP_POLL = "cap-poll"
PRUNE = "prune"  # daily: the store keeps [store] keep_*_days of health checks and delivery attempts
BULLETIN_KEY = "bulletin_at"
DELIVERY_REPORT_S = 120.0  # a change not on all its boards by then is logged as a warning, once
NOTICE_EVENTS = {
    "draft": "notice-drafted", "approve": "notice-approved", "reject": "notice-rejected",
    "publish": "notice-published", "override": "notice-published-by-override", "review": "notice-reviewed",
    "cancel": "notice-cancelled", "sign-off": "notice-signed-off", "edit": "notice-edited",
}

# More items (notices) come from elsewhere: a provider returns them for an instant.
ItemSource = Callable[[datetime], Sequence[Item]]


@dataclass
class _Delivery:
    """A change of what some boards show, until they have all confirmed it."""

    at: datetime
    started: float  # time.monotonic()
    boards: set[str] = field(default_factory=set)
    warned: bool = False


@dataclass(frozen=True, slots=True)
class Segment:
    """A stretch of a board's timeline with one program and one screen setting."""

    start: datetime
    end: datetime
    settings: schedule.Settings
    items: tuple[str, ...]
    pages: tuple[Page, ...]

    def same_as(self, other: Segment) -> bool:
        return (self.settings, self.items, [p.name for p in self.pages]) == (
            other.settings, other.items, [p.name for p in other.pages])


class Service:
    def __init__(
        self, dep: Deployment, store: Store, clock: Clock, *, dispatcher: Dispatcher | None = None,
        notices: Notices | None = None, state: Path | None = None,
    ) -> None:
        self.dep = dep
        self.store = store
        self.clock = clock
        self.state = state  # where other processes leave requests (ledctl broadcast while it runs)
        self.dispatcher = dispatcher or Dispatcher(dep, store, clock)
        self.bulletin: Bulletin | None = None
        self.item_sources: list[ItemSource] = []
        self._bulletin_items: dict[str, Item] = {}
        self._refused: list[Rejection] = []  # records the last fetch refused, with their reasons
        self._shown_items: dict[str, tuple[str, ...]] = {}
        self._cache = PageCache()
        self._lock = threading.RLock()  # one job at a time
        self.started: datetime | None = None
        self.ready = threading.Event()  # set once start() has worked out what every board should show
        self.notices = notices
        self.notice_items = NoticeItems(dep, notices) if notices is not None else None
        # What people read in the log: one line when a change has reached its boards (not one per
        # board), and one per notice action, whichever process made it (the console, the CLI, CAP).
        self._deliveries: dict[tuple[str, ...], _Delivery] = {}
        self._audit_seen: int | None = None
        self._notices_rev: int | None = None
        self._online: dict[str, tuple[bool | None, float]] = {}  # board -> (online, since: monotonic)
        if self.notice_items is not None:
            self.item_sources.append(self.notice_items)
        # Publish once, reach every channel: each bulletin and notice becomes a publication, read
        # by the feeds and pushed to every [[channels]] webhook from the store's outbox.
        self.publications = Publications(store.path)
        self.sender = ChannelSender(self.publications, dep.channels, clock) if dep.channels else None
        self._sender_thread: threading.Thread | None = None
        self._notices_seen: tuple[int, frozenset[int]] | None = None  # (revision, notices in their window)

    # -- jobs ------------------------------------------------------------------------------------

    def jobs(self) -> list[schedule.Job]:
        start = self.started or self.clock.now()
        tick = schedule.Job(
            TICK, TICK, IntervalTrigger(minutes=1, start_date=start, timezone=self.dep.tz), None
        )
        # 03:17 local: a quiet hour, off the round minutes when the jobs of the day run.
        prune = schedule.Job(PRUNE, PRUNE, CronTrigger(hour=3, minute=17, timezone=self.dep.tz), None)
        jobs = [*schedule.jobs(self.dep.schedule, self.dep.tz, start), tick, prune]
        if self.notices is not None and self.dep.cap.feeds:
            every = IntervalTrigger(minutes=self.dep.cap.poll_minutes, start_date=start, timezone=self.dep.tz)
            jobs.append(schedule.Job(CAP_POLL, CAP_POLL, every, None))
        return jobs

    def run_job(self, job: schedule.Job, fired: datetime | None = None) -> None:
        fired = fired or self.clock.now()
        if job.kind in (schedule.FETCH, schedule.BROADCAST, schedule.REFRESH):
            # The network fetch runs outside the lock, so an urgent notice never waits for a slow source.
            try:
                self.fetch(self.clock.now())
            except LedctlError as e:
                event(log, "job-failed", level=logging.ERROR, job=job.id, error=str(e))
                return
        read: list[tuple[str, list[CapAlert], list[str]]] = []
        if job.kind == CAP_POLL:
            read = self.read_cap_feeds()  # the network, outside the lock: a slow feed delays nothing
        with self._lock:
            try:
                if job.kind == CAP_POLL:
                    self.import_alerts(read)
                self._run(job, fired)
            except LedctlError as e:
                event(log, "job-failed", level=logging.ERROR, job=job.id, error=str(e))
                return
            if job.kind != TICK:
                self.store.job_ran(job.id, fired, self.clock.now())

    def _run(self, job: schedule.Job, fired: datetime) -> None:
        now = self.clock.now()
        if job.kind == schedule.FETCH:
            pass  # fetched before the lock was taken
        elif job.kind in (schedule.BROADCAST, schedule.REFRESH):
            self.broadcast(fired, fetch=False)
        elif job.kind == schedule.SETTINGS:
            self.update_settings(now)
        elif job.kind == schedule.HEALTH:
            self.dispatcher.check_health()
        elif job.kind == schedule.REASSERT:
            self.dispatcher.reassert()
        elif job.kind == TICK and self.notices is not None:
            for notice in self.notices.expire_due():
                event(log, "notice-expired", notice=notice.id)
        elif job.kind == PRUNE:
            rules = self.dep.store
            pruned = self.store.prune(now, keep_health_days=rules.keep_health_days,
                                      keep_delivery_days=rules.keep_delivery_days)
            event(log, "pruned", health_checks=pruned.health_checks, deliveries=pruned.deliveries,
                  displays=pruned.displays)
            return  # nothing on the boards changes
        if job.kind != schedule.HEALTH:
            self.recompose(now)
            self.update_settings(now)
        if job.kind != TICK:
            event(log, "job", job=job.id, fired=fired.astimezone(self.dep.tz).isoformat(timespec="seconds"))

    def poll_cap(self) -> None:
        """Import what the configured CAP feeds carry (each alert once; the approval rule applies).
        The feeds are read before the lock is taken; only the import holds it."""
        read = self.read_cap_feeds()
        with self._lock:
            self.import_alerts(read)
            self.recompose(self.clock.now())

    def read_cap_feeds(self) -> list[tuple[str, list[CapAlert], list[str]]]:
        """Every configured feed's alerts and problems (network I/O, bounded; never under the lock)."""
        from ledctl.notices import cap_bridge

        out = []
        for url in self.dep.cap.feeds:
            problems: list[str] = []
            try:
                alerts = cap_bridge.read_alerts(cap_bridge.fetch(url), url, problems=problems)
            except LedctlError as e:
                event(log, "cap-failed", level=logging.WARNING, feed=url, error=str(e))
                continue
            out.append((url, alerts, problems))
        return out

    def import_alerts(self, read: Sequence[tuple[str, list[CapAlert], list[str]]]) -> None:
        from ledctl.notices import cap_bridge

        assert self.notices is not None
        for url, alerts, problems in read:
            for problem in problems:
                event(log, "cap-entry-refused", level=logging.WARNING, feed=url, error=problem)
            for alert in alerts:  # each entry alone: a refused one never hides the next
                try:
                    result = cap_bridge.import_alert(self.dep, self.notices, alert, may_trust=True)
                except LedctlError as e:
                    event(log, "cap-refused", level=logging.WARNING, feed=url, identifier=alert.identifier,
                          error=str(e))
                    continue
                if result.action != "duplicate":
                    event(log, "cap", feed=url, identifier=alert.identifier, action=result.action,
                          message=result.message)

    def fetch(self, now: datetime) -> None:
        got = pipeline.gather(self.dep, self.store, now)
        self._refused = got.rejected
        event(log, "fetched", readings=len(got.readings), problems=len(got.problems),
              refused=len(got.rejected))
        for problem in got.problems:
            event(log, "source-failed", level=logging.WARNING, error=problem)

    def broadcast(self, instant: datetime, *, fetch: bool = True) -> None:
        """Fresh data, then today's bulletin on every board (as of `instant`)."""
        if fetch:
            self.fetch(self.clock.now())
        self._make_bulletin(instant)
        self.store.put(BULLETIN_KEY, instant.isoformat())

    def _make_bulletin(self, instant: datetime) -> None:
        instant = instant.astimezone(self.dep.tz)
        bulletin = pipeline.bulletin_from(self.dep, self.store.readings(), instant, refused=self._refused)
        layouts = layout_mod.load_dir(self.dep.layouts_dir)
        results = pipeline.render_fleet(self.dep, self.dep.boards, bulletin, self._cache, layouts)
        self._publish_bulletin(bulletin, {r.board.id: r.program for r in results if r.program is not None})
        for r in results:
            if r.program is None:
                event(log, "render-failed", level=logging.ERROR, board=r.board.id, error=r.error)
                # The board keeps its last bulletin, but never past the freshness of its figures.
                continue
            old = self._bulletin_items.get(r.board.id)
            until = _figures_valid_until(bulletin, r.board)
            if old is not None and _same_pages(old.pages, r.program.pages) and old.end == until:
                continue  # a refresh with the same data changes nothing on the board
            self._bulletin_items[r.board.id] = Item(
                f"bulletin@{instant.isoformat(timespec='minutes')}",
                Priority.BULLETIN,
                r.program.pages,
                start=instant,
                end=until,  # the figures' freshness limit: then 数据更新中, fetched or not
                boards=frozenset({r.board.id}),
            )
        self.bulletin = bulletin

    def _publish_bulletin(self, bulletin: Bulletin, programs: dict[str, Program]) -> None:
        pub_id, doc, pictures = bulletin_doc(self.dep, bulletin, programs)
        if self.publications.record(pub_id, "bulletin", doc, self.clock.now(), self.dep.channels, pictures):
            event(log, "published", publication=pub_id)
            if self.sender is not None:
                self.sender.wake()

    def _publish_notices(self, now: datetime) -> None:
        """Each published notice as a publication; its cancellation or end as a new revision. Looked
        at when the notices change, and when one in its window reaches its end."""
        if self.notices is None:
            return
        revision = self.notices.revision()
        seen = self._notices_seen
        if seen is not None and seen[0] == revision and not any(
                n.end <= now for n in self.notices.published(now - timedelta(minutes=2)) if n.id in seen[1]):
            return
        live: set[int] = set()
        changed = False
        for notice in self.notices.list():
            if notice.published_at is None:
                continue
            if notice.state_at(now) == "published":
                live.add(notice.id)
            pub_id, doc = notice_doc(self.dep, notice, now)
            changed |= self.publications.record(pub_id, "notice", doc, now, self.dep.channels)
        self._notices_seen = (revision, frozenset(live))
        if changed:
            event(log, "published", publication="notices")
            if self.sender is not None:
                self.sender.wake()

    def items(self, now: datetime) -> list[Item]:
        items = list(self._bulletin_items.values())
        for source in self.item_sources:
            items.extend(source(now))
        return items

    def recompose(self, now: datetime, *, force: bool = False) -> None:
        """What every board should show now; the dispatcher sends what changed."""
        if any(i.end is not None and i.end <= now for i in self._bulletin_items.values()):
            # Figures past their freshness limit: the bulletin as of now says 数据更新中 where the data
            # are too old, whether or not a fetch has finished (a trickling centre cannot hold it up).
            event(log, "bulletin-stale", note="figures past data_max_age_hours: made again as of now")
            self._make_bulletin(now)
        self._publish_notices(now)
        items = self.items(now)
        intents = {}
        for board in self.dep.boards:
            # What the board really shows: a takeover hides the rest, and hidden items are neither
            # sent as text nor recorded as displayed.
            active = tuple(sorted(i.id for i in shown(board.id, now, items)))
            if not force and self._shown_items.get(board.id) == active:
                continue
            self._shown_items[board.id] = active
            program, text = self._board_program(board, now, items, active)
            if not program.pages and not text:
                # Nothing to show (a notice ended and the bulletin could not be made): dark, never
                # the notice that was cancelled.
                blank = Image.new("RGB", (board.size.width, board.size.height))
                program = Program(board.id, (Page("blank", blank, dwell_s=60.0),))
            intents[board.id] = Intent.of(program, _summary(active, program), active, text)
        changed = self.dispatcher.set_intended(intents)
        for board_id in changed:
            key = intents[board_id].items
            delivery = self._deliveries.setdefault(key, _Delivery(now, time.monotonic()))
            delivery.boards.add(board_id)

    def timeline(self, board: Board, start: datetime, end: datetime) -> list[Segment]:
        """What `board` shows from `start` to `end`: one segment per change of program or screen.

        The bulletin is today's; later broadcasts will replace it (their data do not exist yet).
        """
        items = self.items(start)
        edges = {start} | {t for i in items for t in (i.start, i.end) if t is not None and start < t < end}
        for job in self.jobs():
            if job.kind == schedule.SETTINGS:
                t = job.trigger.get_next_fire_time(None, start)
                while t is not None and t < end:
                    edges.add(t)
                    t = job.trigger.get_next_fire_time(t, t + timedelta(microseconds=1))
        out: list[Segment] = []
        points = sorted(edges)
        for t0, t1 in zip(points, [*points[1:], end], strict=True):
            settings = schedule.settings_at(self.dep.schedule, board, t0, self.dep.tz)
            active = tuple(sorted(i.id for i in shown(board.id, t0, items)))
            segment = Segment(t0, t1, settings, tuple(i.id for i in shown(board.id, t0, items)),
                              self._board_program(board, t0, items, active)[0].pages)
            if out and out[-1].same_as(segment):
                out[-1] = replace(out[-1], end=t1)  # nothing changed for this board at t0
            else:
                out.append(segment)
        return out

    def _board_program(self, board: Board, now: datetime, items: Sequence[Item],
                       active: tuple[str, ...]) -> tuple[Program, str | None]:
        """What `board` plays at `now`, and the text it draws in its own font instead, if any. A card
        drawing notice text shows that text alone over the whole board: its program is then the
        card's own drawing of it, so the console, the timeline and the proof show what the public sees."""
        program = compose(board.id, now, items)
        text = self.notice_items.text_for(board, active) if self.notice_items else None
        if text is not None:
            pages = driver_class(board).text_pages(board, text)
            program = Program(board.id, pages, valid_from=program.valid_from, valid_to=program.valid_to)
        return program, text

    def timeline_doc(self, board: Board, start: datetime, end: datetime) -> dict[str, object]:
        """`timeline` as plain data (what `ledctl timeline` prints, asked of the running service): the
        segments, and the jobs that make the bulletin again within the span."""
        tz = self.dep.tz
        segments = [{"start": seg.start.astimezone(tz).isoformat(), "end": seg.end.astimezone(tz).isoformat(),
                     "power": seg.settings.power, "brightness": seg.settings.brightness,
                     "items": list(seg.items),
                     "pages": [{"name": p.name, "effect": p.effect, "dwell": p.dwell_s} for p in seg.pages]}
                    for seg in self.timeline(board, start, end)]
        upcoming = sorted(
            (t.astimezone(tz).isoformat(), job.id) for job in self.jobs()
            if job.kind in (schedule.BROADCAST, schedule.REFRESH)
            for t in [job.trigger.get_next_fire_time(None, start)] if t is not None and t < end)
        return {"board": board.id, "start": start.astimezone(tz).isoformat(),
                "end": end.astimezone(tz).isoformat(), "segments": segments,
                "remade": [{"at": at, "job": job} for at, job in upcoming]}

    def notices_changed(self) -> None:
        """A notice was published or cancelled in this process (the console): act on it now."""
        with self._lock:
            self.recompose(self.clock.now())

    def update_settings(self, now: datetime) -> None:
        self.dispatcher.set_settings(
            {b.id: schedule.settings_at(self.dep.schedule, b, now, self.dep.tz) for b in self.dep.boards}
        )

    # -- start and run ---------------------------------------------------------------------------

    def restore_items(self) -> str | None:
        """The last broadcast's bulletin, rebuilt from the stored readings (the same pages, the same
        hashes, so boards that confirmed it get nothing new); returns its instant, or None.

        A bulletin older than the data's freshness window is made again as of now instead: after a
        long outage its figures would be shown as if current."""
        saved = self.store.get(BULLETIN_KEY)
        if saved is None:
            return None
        instant = datetime.fromisoformat(saved)
        now = self.clock.now()
        if now - instant > timedelta(hours=self.dep.schedule.data_max_age_hours):
            event(log, "stale-bulletin", bulletin=saved, note="older than data_max_age_hours: made again now")
            self.broadcast(now)
            return self.store.get(BULLETIN_KEY)
        self._make_bulletin(instant)
        event(log, "restored", bulletin=saved, boards=len(self._bulletin_items))
        return saved

    def start(self, *, workers: bool = True) -> None:
        """Restore, catch up, work out what every board should show, and re-assert it.

        Holds the job lock throughout, so nothing (a notice published meanwhile) composes
        against a half-restored state; `ready` is set at the end."""
        with self._lock:
            now = self.clock.now()
            self.started = now
            self.dispatcher.restore()
            self.restore_items()
            self._catch_up()
            if not self._bulletin_items:  # the very first start: show today's data now, not tomorrow
                event(log, "first-start", note="no bulletin yet: broadcasting now")
                self.broadcast(now)
            self.recompose(now, force=True)
            self.update_settings(now)
            self.dispatcher.reassert()  # the boards may have lost or changed what they showed meanwhile
            self.dispatcher.check_health()
            if workers:
                self.dispatcher.start()
                if self.sender is not None:
                    self._sender_thread = threading.Thread(target=self.sender.run, name="channels",
                                                           daemon=True)
                    self._sender_thread.start()
            self.ready.set()

    def _catch_up(self) -> None:
        """Run each job missed while down (within its grace time; several missed runs coalesce)."""
        now = self.clock.now()
        runs = self.store.job_runs()
        for job in self.jobs():  # in order: a missed fetch runs before a missed broadcast
            fire = schedule.missed(job, runs.get(job.id), now)
            if fire is not None:
                event(log, "missed-run", job=job.id,
                      fired=fire.astimezone(self.dep.tz).isoformat(timespec="seconds"))
                self.run_job(job, fire)

    def serve(self, stop: threading.Event) -> None:
        """Run the jobs under APScheduler until `stop` is set (SIGTERM, SIGINT)."""
        self.start()
        scheduler = BackgroundScheduler(timezone=self.dep.tz)
        for job in self.jobs():
            scheduler.add_job(
                self.run_job,
                job.trigger,
                args=(job,),
                id=job.id,
                coalesce=True,
                max_instances=1,
                misfire_grace_time=job.grace_s or 60,
            )
        scheduler.start()
        event(log, "serving", boards=len(self.dep.boards), jobs=len(scheduler.get_jobs()))
        self._catch_up()  # a run that fell due while start() worked would otherwise wait a day
        try:
            # Notices change from other processes (the CLI, the console): look every second, so an
            # urgent notice goes out at once, and a window's start or end is kept to the second.
            while not stop.wait(1.0):
                self.handle_requests()
                with self._lock:
                    try:
                        now = self.clock.now()
                        self.recompose(now)
                        self.update_settings(now)
                    except LedctlError as e:
                        event(log, "recompose-failed", level=logging.ERROR, error=str(e))
                    except Exception:  # the service outlives a bug; it is logged in full
                        log.exception("recompose failed unexpectedly; the service carries on")
                try:
                    self.log_notice_actions()
                    self.log_deliveries()
                    self.log_board_states()
                except LedctlError as e:
                    event(log, "report-failed", level=logging.WARNING, error=str(e))
        finally:
            event(log, "stopping")
            scheduler.shutdown(wait=False)
            self.close()
            event(log, "stopped")

    def _answer_timeline(self, request_id: str, request: dict[str, object]) -> None:
        """What a board will show when, as this running service will play it (`ledctl timeline` asks)."""
        assert self.state is not None
        try:
            board = self.dep.board(str(request.get("board", "")))
            start = datetime.fromisoformat(str(request["start"]))
            end = datetime.fromisoformat(str(request["end"]))
            with self._lock:
                doc = self.timeline_doc(board, start, end)
        except (LedctlError, KeyError, ValueError) as e:
            state_mod.answer(self.state, request_id, {"ok": False, "error": str(e)})
            return
        state_mod.answer(self.state, request_id, {"ok": True, **doc})

    def log_deliveries(self, wait_s: float = DELIVERY_REPORT_S) -> None:
        """One line per change that reached its boards (`delivered what=notice:3 boards=42 seconds=2.4`),
        or that has not after `wait_s` (a warning naming the boards still waiting); a board's own
        failures are logged by the dispatcher as they happen."""
        if not self._deliveries:
            return
        view = self.dispatcher.view()
        for key, d in list(self._deliveries.items()):
            d.boards = {b for b in d.boards if view[b].items == key}  # a newer change replaced it
            waiting = sorted(b for b in d.boards if view[b].confirmed != view[b].intended
                             or view[b].pages[0] < view[b].pages[1])
            took = time.monotonic() - d.started
            what = " + ".join(key) or "idle"
            if not d.boards:
                del self._deliveries[key]
            elif not waiting:
                event(log, "delivered", what=what, boards=len(d.boards), seconds=f"{took:.1f}")
                del self._deliveries[key]
            elif took > wait_s and not d.warned:
                d.warned = True
                event(log, "not-delivered", level=logging.WARNING, what=what,
                      confirmed=f"{len(d.boards) - len(waiting)}/{len(d.boards)}", waiting=",".join(waiting),
                      note="still trying; the console's fleet page says why per board")

    def log_board_states(self) -> None:
        """A line when a board goes offline and when it is back, however the dispatcher found out (a
        health check, or a delivery that got no answer, or one that did)."""
        view = self.dispatcher.view()
        first = not self._online
        now = time.monotonic()
        rows = None
        for board_id, v in view.items():
            was, since = self._online.get(board_id, (None, now))
            if v.online is None or v.online == was:
                continue
            self._online[board_id] = (v.online, now)
            if first and v.online:
                continue
            if not v.online:
                if rows is None:
                    rows = self.store.boards()
                row = rows.get(board_id)
                why = (row.last_error if row and row.last_error else
                       v.last_result.describe() if v.last_result else "")
                event(log, "board-offline", level=logging.WARNING, board=board_id, why=why or None)
            elif was is False:
                event(log, "board-back", board=board_id, offline_for=f"{now - since:.0f}s",
                      note="its program is sent again")

    def log_notice_actions(self) -> None:
        """A log line per notice action (drafted, approved, published, cancelled …), from the audit log,
        whichever process made it."""
        if self.notices is None:
            return
        revision = self.notices.revision()
        if revision == self._notices_rev:
            return
        self._notices_rev = revision
        entries = self.notices.audit_log()
        if self._audit_seen is None:  # the first look: only what happens from now on
            self._audit_seen = entries[-1].seq if entries else 0
            return
        for e in entries:
            if e.seq <= self._audit_seen:
                continue
            self._audit_seen = e.seq
            name = NOTICE_EVENTS.get(e.action)
            if name is None or not e.subject.startswith("notice:"):
                continue
            try:
                after = json.loads(e.after) or {}
            except ValueError:
                after = {}
            reason = after.get("override_reason") if e.action == "override" else after.get("reason")
            event(log, name, notice=e.subject[7:], by=e.actor, title=after.get("title"),
                  kind=after.get("level"), targets=",".join(after.get("targets") or ()) or None,
                  reason=reason or None)

    def handle_requests(self) -> None:
        """What other processes asked of the boards this service owns (STATE/requests/)."""
        if self.state is None:
            return
        for request in state_mod.pending_requests(self.state):
            request_id = str(request.get("id", ""))
            if request.get("kind") == "timeline":
                self._answer_timeline(request_id, request)
                continue
            if request.get("kind") != "broadcast":
                state_mod.answer(self.state, request_id, {"ok": False, "error": f"unknown request "
                                                           f"{request.get('kind')!r}"})
                continue
            event(log, "broadcast-requested", request=request_id)
            try:
                self.fetch(self.clock.now())  # outside the lock: a slow source never holds up a notice
                with self._lock:
                    now = self.clock.now()
                    self.broadcast(now, fetch=False)
                    self.recompose(now)
            except LedctlError as e:
                state_mod.answer(self.state, request_id, {"ok": False, "error": str(e)})
                continue
            state_mod.answer(self.state, request_id, {"ok": True, "at": self.clock.now().isoformat()})

    def close(self) -> None:
        """Stop the dispatcher and the channels' sender (a delivery in flight is finished and
        recorded, so a clean stop never sends one twice), and close every link."""
        if self.sender is not None:
            self.sender.stop()
            if self._sender_thread is not None:
                self._sender_thread.join(timeout=POST_TIMEOUT_S + 1)
        self.dispatcher.close()

    def __enter__(self) -> Service:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _figures_valid_until(bulletin: Bulletin, board: Board) -> datetime | None:
    """When the first figure on `board` becomes too old to show (None: nothing there expires)."""
    station = bulletin.stations.get(board.station)
    times = [station.valid_until] if station is not None else []
    times += [bulletin.water[w].valid_until for w in board.water_stations if w in bulletin.water]
    known = [t for t in times if t is not None]
    return min(known) if known else None


def _same_pages(a: Sequence, b: Sequence) -> bool:
    return Program("", tuple(a)).content_hash() == Program("", tuple(b)).content_hash()


def _summary(active: tuple[str, ...], program: Program) -> str:
    pages = len(program.pages)
    return f"{' + '.join(active) or 'idle'} ({pages} page{'s' if pages != 1 else ''})"


def wait_confirmed(service: Service, timeout: timedelta, tick: Callable[[int, int], None]) -> bool:
    """Block until every board with an intended program confirmed it (or, a board that cannot
    acknowledge, was sent it), calling `tick(done, total)`.

    Only a confirmation made since this service started counts: what the store remembers from an
    earlier run says nothing of boards that may have gone blank meanwhile (the start re-sends
    everything), so a board counts once this run has delivered its program to it, every page."""
    deadline = time.monotonic() + timeout.total_seconds()
    last = -1
    while True:
        view = service.dispatcher.view()
        total = [v for v in view.values() if v.intended is not None]
        done = sum(1 for v in total if confirmed_now(v))
        if done != last:
            tick(done, len(total))
            last = done
        if done == len(total) or time.monotonic() > deadline:
            return done == len(total)
        time.sleep(0.2)


def confirmed_now(v: BoardView) -> bool:
    """Whether a board confirmed its intended program in this run (not only in the store's memory), or
    was sent it, for a board that cannot acknowledge."""
    return (v.intended is not None and v.intended in (v.confirmed, v.sent) and v.last_result is not None
            and v.last_result.ok and v.pages[0] >= v.pages[1])
