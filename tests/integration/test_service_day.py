"""One whole simulated day of the service, driven by moving an injected clock.

The real simulator (40 BX cards on TCP wires, two ledctl-mqtt screens on a real
Mosquitto) and the real scheduler triggers; only time is virtual. At each moment
the test looks at what every simulated board physically shows.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from ledctl import config
from ledctl.clock import FixedClock
from ledctl.schedule import VirtualRunner
from ledctl.service import Service
from ledctl.simulator.bx_card import BxCard
from ledctl.simulator.fleet import Fleet
from ledctl.simulator.mqtt_board import BoardLogic
from ledctl.store import Store

from .conftest import on_free_ports, play_loops, quick_replies

REPO = Path(__file__).resolve().parents[2]
TZ = ZoneInfo("Asia/Shanghai")

pytestmark = pytest.mark.skipif(not __import__("shutil").which("mosquitto"), reason="needs mosquitto")


def at(day: int, hh: int, mm: int = 0) -> datetime:
    return datetime(2026, 11, day, hh, mm, tzinfo=TZ)


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(REPO)
    # No monitoring centre runs here: the stations read the sample data (every page says 示例数据).
    dep = on_free_ports(config.load(REPO / "config" / "zhenhai.toml").with_sample_data())
    clock = FixedClock(at(24, 23, 45))
    fleet = Fleet.running(dep, clock.now, state=tmp_path, pace=False, ephemeral=True)
    # Health every two hours and re-assertion every six keep the test quick; the jobs are the same.
    live = quick_replies(fleet.rewired())
    quick = replace(live.schedule, health_every_minutes=120, reassert_every_minutes=360)
    live = replace(live, schedule=quick)
    service = Service(live, Store(tmp_path / "ledctl.sqlite"), clock)
    yield service, fleet, clock
    fleet.stop()


def shows(service: Service, fleet: Fleet, board_id: str) -> tuple[bool, int, str]:
    """(screen on, brightness in percent, the program it shows).

    A BX card holds one picture: its pixels must be the page of the intended program the host put
    up last (the host plays the loop); an MQTT board says which program it plays."""
    device = fleet.boards[board_id].device
    intent = service.dispatcher.boards[board_id].intent
    assert intent is not None
    if isinstance(device, BxCard):
        page = service.dispatcher.view()[board_id].page or 0
        if device.power_on:  # a dark screen shows nothing
            assert device.snapshot().tobytes() == intent.program.pages[page].image.tobytes(), (board_id, page)
        return device.power_on, round(device.brightness * 100 / 15), intent.hash
    assert isinstance(device, BoardLogic)
    return device.power, device.brightness, device.program_hash


def test_one_whole_day(world) -> None:
    service, fleet, clock = world
    runner = None

    def run_to(when: datetime) -> None:
        nonlocal runner
        if runner is None:
            runner = VirtualRunner(service.jobs(), clock)

        def fire(job, fired):
            service.run_job(job, fired)
            service.dispatcher.settle(pages=False)  # hours apart: the loops play at the end (play_loops)

        runner.run_until(when, fire)
        play_loops(service.dispatcher, clock)

    outdoor = {b.id for b in service.dep.boards_in("outdoor")}

    def everyone(power: bool, brightness: int, outdoor_power: bool | None = None) -> dict[str, bytes | str]:
        seen = {}
        for board in service.dep.boards:
            on, bri, what = shows(service, fleet, board.id)
            want = outdoor_power if board.id in outdoor and outdoor_power is not None else power
            assert on is want, (board.id, clock.now())
            assert abs(bri - brightness) <= 4, (board.id, bri, brightness)  # BX has 16 steps
            if want:
                assert what == service.dispatcher.boards[board.id].intent.hash, (board.id, clock.now())
            seen[board.id] = what
        return seen

    # 23:45, first start: yesterday's bulletin goes out at once, to dark screens (off 22:30–06:00,
    # the outdoor screens 23:30–06:00).
    service.start(workers=False)
    play_loops(service.dispatcher, clock)
    everyone(power=False, brightness=40)
    rows = service.store.boards().values()
    assert all(row.confirmed == row.intended for row in rows)
    # Every page of every loop reached its board (issue 16.1: only page 1 of 2 ever reached a BX card).
    assert all(row.pages[0] == row.pages[1] >= 1 for row in rows)
    assert {row.pages for row in rows if row.board.startswith("zbs-")} == {(2, 2)}
    dark = fleet.boards["zbs-01"].device.snapshot()
    assert dark.getbbox() is None  # nothing lit at night

    run_to(at(25, 5, 59))
    everyone(power=False, brightness=40)

    run_to(at(25, 6, 0))  # morning on, at 60 %
    before = everyone(power=True, brightness=60)

    run_to(at(25, 7, 59))  # the 07:30 fetch changes nothing on the boards
    assert everyone(power=True, brightness=60) == before

    run_to(at(25, 8, 0))  # the daily broadcast: yesterday's full day of data, at full brightness
    after = everyone(power=True, brightness=100)
    assert all(after[b] != before[b] for b in after)  # every board changed to the new bulletin
    assert service.bulletin is not None and service.bulletin.issued == at(25, 8)

    run_to(at(25, 17, 59))  # refreshes at 12:00 and 17:00 with the same data: nothing resent
    assert everyone(power=True, brightness=100) == after
    run_to(at(25, 18, 0))
    everyone(power=True, brightness=70)
    run_to(at(25, 21, 0))
    everyone(power=True, brightness=40)
    run_to(at(25, 22, 30))  # night off, except the outdoor screens
    everyone(power=False, brightness=40, outdoor_power=True)
    run_to(at(25, 23, 30))
    everyone(power=False, brightness=40)
    run_to(at(26, 6, 0))  # next morning: on again, still showing the 08:00 bulletin
    assert everyone(power=True, brightness=60) == after

    # The proof of display: per board, exactly the two programs it confirmed, in order, no repeats.
    displays = service.store.displays()
    for board in service.dep.boards:
        mine = [d for d in displays if d.board == board.id]
        assert len(mine) == 2, (board.id, mine)
        assert mine[-1].program == service.dispatcher.boards[board.id].intent.hash
        # Confirmed when the whole loop is up: the first page's dwell after the job, at most.
        assert at(24, 23, 45).isoformat() <= mine[0].first_at < at(24, 23, 46).isoformat()
        assert at(25, 8).isoformat() <= mine[1].first_at < at(25, 8, 1).isoformat()
        assert mine[1].last_at >= at(26, 5).isoformat()  # re-asserted overnight, same row


def test_timeline_prints_what_the_board_will_show(world, tmp_path: Path, capsys) -> None:
    from ledctl import cli

    service, _, clock = world
    service.start(workers=False)  # the first start's bulletin, at 23:00
    service.dispatcher.settle()
    argv = ["--state", str(tmp_path), "timeline", "-c", str(REPO / "config" / "zhenhai.toml"), "--board",
            "zbs-01", "--from", "2026-11-25T00:00", "--to", "2026-11-26T00:00"]
    assert cli.main(argv, clock=clock) == 0
    out = capsys.readouterr().out.splitlines()
    rows = [line for line in out if " – " in line][1:]
    assert rows[0].startswith("11-25 00:00 – 11-25 06:00   40%  bulletin@2026-11-24T23:45+08:00: screen off")
    assert rows[1].startswith("11-25 06:00 – 11-25 08:00   60%  bulletin@2026-11-24T23:45+08:00: air static")
    assert [r[:25] for r in rows[2:]] == ["11-25 08:00 – 11-25 18:00", "11-25 18:00 – 11-25 21:00",
                                          "11-25 21:00 – 11-25 22:30", "11-25 22:30 – 11-26 00:00"]
    assert "11-25 08:00 broadcast: the bulletin is made again" in "\n".join(out)
    bad = cli.main([*argv[:-4], "--from", "2026-11-25T09:00", "--to", "08:00"], clock=clock)
    assert bad == 2 and "is not after" in capsys.readouterr().err
