"""When the service does what: the jobs of a deployment's [schedule], and the board settings
(screen on/off, brightness) that hold at any instant.

The jobs are APScheduler 3 triggers by name; `ledctl serve` hands them to APScheduler's
BackgroundScheduler, and tests hand the same triggers to `VirtualRunner`, which moves an
injected clock from one fire time to the next instead of sleeping. Settings are a pure
function of the schedule and the time, so a restart knows them without any history.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, time, timedelta, tzinfo

from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from ledctl.clock import FixedClock
from ledctl.config import Schedule
from ledctl.model import Board

# What each kind of job does is the service's business; here they are only named.
FETCH, BROADCAST, REFRESH, SETTINGS, HEALTH, REASSERT = (
    "fetch",
    "broadcast",
    "refresh",
    "settings",
    "health",
    "reassert",
)


@dataclass(frozen=True, slots=True)
class Settings:
    """What a board's screen should be: on or off, and how bright (percent; None: leave it)."""

    power: bool = True
    brightness: int | None = None

    def key(self) -> str:
        return (
            f"power={'on' if self.power else 'off'} brightness={self.brightness if self.brightness else '-'}"
        )


@dataclass(frozen=True, slots=True)
class Job:
    id: str  # unique, e.g. "broadcast" or "settings@06:00"
    kind: str  # FETCH, BROADCAST, …
    trigger: BaseTrigger
    grace_s: int | None  # a run missed by at most this much still happens (None: skip it)


def jobs(schedule: Schedule, tz: tzinfo, start: datetime | None = None) -> list[Job]:
    """Every job of the schedule. `start` anchors the periodic jobs (default: when first asked)."""
    grace = schedule.misfire_grace_minutes * 60

    def daily(at: time) -> CronTrigger:
        return CronTrigger(hour=at.hour, minute=at.minute, timezone=tz)

    out = [
        Job(FETCH, FETCH, daily(schedule.fetch), grace),
        Job(BROADCAST, BROADCAST, daily(schedule.broadcast), grace),
    ]
    out += [Job(f"{REFRESH}@{t:%H:%M}", REFRESH, daily(t), grace) for t in schedule.refresh]
    # Screen and brightness steps need no catch-up: settings are recomputed from the clock.
    changes = {s.at for s in schedule.brightness}
    changes |= {t for t in (schedule.screen_on, schedule.screen_off) if t is not None}
    changes |= {t for s in schedule.screens for t in (s.on, s.off)}
    out += [Job(f"{SETTINGS}@{t:%H:%M}", SETTINGS, daily(t), None) for t in sorted(changes)]
    out.append(
        Job(
            HEALTH,
            HEALTH,
            IntervalTrigger(minutes=schedule.health_every_minutes, start_date=start, timezone=tz),
            None,
        )
    )
    out.append(
        Job(
            REASSERT,
            REASSERT,
            IntervalTrigger(minutes=schedule.reassert_every_minutes, start_date=start, timezone=tz),
            None,
        )
    )
    return out


def settings_at(schedule: Schedule, board: Board, now: datetime, tz: tzinfo) -> Settings:
    """The screen state and brightness the schedule gives `board` at `now`."""
    local = now.astimezone(tz).time()
    power = True
    times = [(schedule.screen_on, schedule.screen_off)] if schedule.screen_on and schedule.screen_off else []
    times += [(s.on, s.off) for s in schedule.screens if _applies(s.groups, board)]
    if times:
        on, off = times[-1]  # the most specific: group entries come after the site-wide times
        power = on <= local < off if on < off else not (off <= local < on)
    steps = [s for s in schedule.brightness if _applies(s.groups, board)]
    brightness = None
    if steps:
        earlier = [s for s in steps if s.at <= local]
        brightness = (earlier[-1] if earlier else steps[-1]).percent  # before the first: last night's
    return Settings(power, brightness)


def _applies(groups: tuple[str, ...], board: Board) -> bool:
    """Whether an entry for `groups` (empty: every board) covers the board."""
    return not groups or "all" in groups or any(g in board.groups for g in groups)


def last_fire(trigger: BaseTrigger, since: datetime, now: datetime) -> datetime | None:
    """The last time the trigger fired in (since, now], or None."""
    last = None
    fire = trigger.get_next_fire_time(None, since + timedelta(microseconds=1))
    while fire is not None and fire <= now:
        last = fire
        fire = trigger.get_next_fire_time(fire, fire + timedelta(microseconds=1))
    return last


def missed(job: Job, last_run: datetime | None, now: datetime) -> datetime | None:
    """The fire time of `job` that should run at start-up, or None.

    Several missed runs coalesce into one (the latest); a run later than the grace
    time is dropped, as APScheduler does while running.
    """
    if job.grace_s is None:
        return None
    window_start = now - timedelta(seconds=job.grace_s)
    since = max(last_run, window_start) if last_run is not None else window_start
    return last_fire(job.trigger, since, now)


class VirtualRunner:
    """Fires jobs in order of their fire times by moving a FixedClock: a day in a second.

    `run_until` calls `on_job(job, fire_time)` for each fire in (clock, end], with the
    clock set to that fire time; `after_each` runs after every fire (e.g. let deliveries settle).
    """

    def __init__(self, jobs: Iterable[Job], clock: FixedClock) -> None:
        self.jobs = list(jobs)
        self.clock = clock
        self._next: dict[str, datetime | None] = {
            j.id: j.trigger.get_next_fire_time(None, clock.now() + timedelta(microseconds=1))
            for j in self.jobs
        }

    def run_until(self, end: datetime, on_job: Callable[[Job, datetime], None]) -> list[tuple[datetime, str]]:
        fired: list[tuple[datetime, str]] = []
        while True:
            due = [(t, j) for j in self.jobs if (t := self._next[j.id]) is not None and t <= end]
            if not due:
                break
            fire, job = min(due, key=lambda pair: (pair[0], self.jobs.index(pair[1])))
            self.clock.instant = fire
            on_job(job, fire)
            fired.append((fire, job.id))
            self._next[job.id] = job.trigger.get_next_fire_time(fire, fire + timedelta(microseconds=1))
        self.clock.instant = max(self.clock.instant, end)
        return fired
