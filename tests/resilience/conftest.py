"""A running world for resilience tests: the simulated fleet (real TCP wires, real mosquitto), the
service with notices, and a clock the test moves."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from ledctl import config
from ledctl.cli_governance import notices_for
from ledctl.clock import FixedClock
from ledctl.service import Service
from ledctl.simulator.fleet import Fleet
from ledctl.store import Store

from ..integration.conftest import on_free_ports, site  # noqa: F401 - `site`: a fixture for the tests here

REPO = Path(__file__).resolve().parents[2]
TZ = ZoneInfo("Asia/Shanghai")
T0 = datetime(2026, 11, 25, 10, 0, tzinfo=TZ)


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(REPO)
    dep = on_free_ports(config.load(REPO / "config" / "zhenhai.toml"))
    clock = FixedClock(T0)
    fleet = Fleet(dep, clock=clock.now, pace=False, state=tmp_path)
    fleet.build()
    fleet.start(ephemeral=True)
    for sim in fleet.boards.values():
        if sim.client is not None and hasattr(sim.client, "wait_ready"):
            sim.client.wait_ready(10)
    live = fleet.rewired()
    store = Store(tmp_path / "ledctl.sqlite")
    notices = notices_for(live, store.path, clock)
    service = Service(live, store, clock, notices=notices)
    service.start(workers=False)
    service.dispatcher.settle()
    yield service, notices, fleet, clock
    fleet.stop()
