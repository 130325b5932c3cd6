"""The service's schedule: jobs from config, settings as a function of time, missed runs."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from ledctl import schedule
from ledctl.clock import FixedClock
from ledctl.config import BrightnessStep, Schedule
from ledctl.model import Board, ColourMode, Size

TZ = ZoneInfo("Asia/Shanghai")
SCHEDULE = Schedule(
    fetch=time(7, 30),
    broadcast=time(8, 0),
    screen_on=time(6, 0),
    screen_off=time(22, 30),
    brightness=(
        BrightnessStep(time(6), 60),
        BrightnessStep(time(8), 100),
        BrightnessStep(time(18), 70, ("outdoor",)),
        BrightnessStep(time(21), 40),
    ),
    refresh=(time(12),),
    misfire_grace_minutes=120,
)
BOARD = Board("b", "b", Size(64, 32), ColourMode("mono-red"), "onbon-bx", "l", "s", groups=("community",))
OUTDOOR = replace(BOARD, id="o", groups=("outdoor",))


def at(hh: int, mm: int = 0, day: int = 25) -> datetime:
    return datetime(2026, 11, day, hh, mm, tzinfo=TZ)


@pytest.mark.parametrize(
    ("when", "power", "community", "outdoor"),
    [
        (at(0), False, 40, 40),
        (at(5, 59), False, 40, 40),
        (at(6), True, 60, 60),
        (at(7, 59), True, 60, 60),
        (at(8), True, 100, 100),
        (at(18), True, 100, 70),
        (at(21), True, 40, 40),
        (at(22, 29), True, 40, 40),
        (at(22, 30), False, 40, 40),
    ],
)
def test_settings_follow_the_clock(when: datetime, power: bool, community: int, outdoor: int) -> None:
    assert schedule.settings_at(SCHEDULE, BOARD, when, TZ) == schedule.Settings(power, community)
    assert schedule.settings_at(SCHEDULE, OUTDOOR, when, TZ) == schedule.Settings(power, outdoor)


def test_settings_use_the_site_time_zone() -> None:
    utc_morning = datetime(2026, 11, 24, 22, 0, tzinfo=ZoneInfo("UTC"))  # 06:00 in Shanghai
    assert schedule.settings_at(SCHEDULE, BOARD, utc_morning, TZ).power is True


def test_screen_off_window_across_midnight_and_without_times() -> None:
    night_shift = replace(SCHEDULE, screen_on=time(20), screen_off=time(4))
    assert schedule.settings_at(night_shift, BOARD, at(23), TZ).power is True
    assert schedule.settings_at(night_shift, BOARD, at(12), TZ).power is False
    always = replace(SCHEDULE, screen_on=None, screen_off=None, brightness=())
    assert schedule.settings_at(always, BOARD, at(3), TZ) == schedule.Settings(True, None)


def test_jobs_have_names_and_only_data_jobs_catch_up() -> None:
    jobs = {j.id: j for j in schedule.jobs(SCHEDULE, TZ, start=at(0))}
    assert set(jobs) == {
        "fetch",
        "broadcast",
        "refresh@12:00",
        "settings@06:00",
        "settings@08:00",
        "settings@18:00",
        "settings@21:00",
        "settings@22:30",
        "health",
        "reassert",
    }
    assert jobs["broadcast"].grace_s == 7200 and jobs["settings@06:00"].grace_s is None


def test_a_missed_broadcast_runs_within_its_grace_once() -> None:
    broadcast = next(j for j in schedule.jobs(SCHEDULE, TZ) if j.id == "broadcast")
    # Down from yesterday 07:00 to today 09:30: yesterday's run is too old, today's runs (once).
    assert schedule.missed(broadcast, at(7, day=24), at(9, 30)) == at(8)
    assert schedule.missed(broadcast, at(8), at(9, 30)) is None  # it ran
    assert schedule.missed(broadcast, at(7, day=24), at(10, 1)) is None  # beyond two hours: skipped
    assert schedule.missed(broadcast, None, at(8, 5)) == at(8)  # never ran before
    assert schedule.missed(broadcast, None, at(7, 59)) is None


def test_virtual_runner_fires_in_time_order() -> None:
    clock = FixedClock(at(5))
    jobs = [
        j
        for j in schedule.jobs(SCHEDULE, TZ, start=at(5))
        if j.kind not in (schedule.HEALTH, schedule.REASSERT)
    ]
    seen: list[tuple[datetime, str]] = []
    fired = schedule.VirtualRunner(jobs, clock).run_until(
        at(9), lambda job, t: seen.append((clock.now(), job.id))
    )
    assert fired == seen
    assert [name for _, name in seen] == ["settings@06:00", "fetch", "broadcast", "settings@08:00"]
    assert [t for t, _ in seen] == [at(6), at(7, 30), at(8), at(8)] and clock.now() == at(9)
    clock.advance(hours=24)  # the next day's jobs come from the same triggers
    again = schedule.VirtualRunner(jobs, clock).run_until(at(12, day=26), lambda job, t: None)
    assert [name for _, name in again] == ["refresh@12:00"] and again[0][0] - timedelta(days=1) == at(12)


def test_screen_times_per_group() -> None:
    from ledctl.config import ScreenTimes

    evening = replace(SCHEDULE, screens=(ScreenTimes(time(6), time(23, 30), ("outdoor",)),))
    assert schedule.settings_at(evening, OUTDOOR, at(23), TZ).power is True  # the outdoor screens stay on
    assert schedule.settings_at(evening, BOARD, at(23), TZ).power is False  # the rest keep 22:30
    assert schedule.settings_at(evening, OUTDOOR, at(23, 30), TZ).power is False
    jobs = {j.id for j in schedule.jobs(evening, TZ, start=at(0))}
    assert "settings@23:30" in jobs


def test_screen_times_are_checked(tmp_path, repo) -> None:
    from ledctl import config
    from ledctl.errors import ConfigError

    text = (repo / "config" / "zhenhai.toml").read_text(encoding="utf-8")
    old = 'groups = ["outdoor"]\non = "06:00"\noff = "23:30"'
    text = text.replace(old, 'groups = ["outdor"]\non = "06:00"\noff = "06:00"')
    path = tmp_path / "bad.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as e:
        config.load(path)
    problems = "\n".join(e.value.problems)
    assert 'schedule.screen[0].groups = "outdor": expected one of the [groups]' in problems
    assert 'schedule.screen[0].off = "06:00": expected a time other than on' in problems
