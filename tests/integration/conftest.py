"""Shared fixtures of the integration tests: a copy of the Zhenhai config on free loopback ports."""

from __future__ import annotations

import os
import random
import re
import socket
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


# Below Linux's ephemeral range (32768-60999): the kernel never hands these out for an outgoing
# connection, so a port chosen here stays free between choosing it and a simulator binding it — even
# across a restart that reuses the config, with other tests' clients busy on the machine.
_PORTS = range(20000, 32700)
_pick = random.Random(os.getpid())


def free_ports(count: int) -> list[int]:
    """Distinct free loopback ports (all held open while choosing, so none is handed out twice)."""
    held: list[socket.socket] = []
    try:
        while len(held) < count:
            s = socket.socket()
            try:
                s.bind(("127.0.0.1", _pick.choice(_PORTS)))
            except OSError:
                s.close()  # taken: another test's, or anything else's
                continue
            held.append(s)
        return [s.getsockname()[1] for s in held]
    finally:
        for s in held:
            s.close()


@pytest.fixture
def site(tmp_path: Path) -> Path:
    """The Zhenhai config with every link on a free loopback port (so tests never collide), its
    stations reading the sample data (marked 示例数据) instead of a monitoring centre."""
    text = (REPO / "config" / "zhenhai.toml").read_text(encoding="utf-8")
    ports = iter(free_ports(len(re.findall(r"socket://127\.0\.0\.1:\d+", text)) + 2))
    text = re.sub(r"socket://127\.0\.0\.1:\d+", lambda m: f"socket://127.0.0.1:{next(ports)}", text)
    text = text.replace("mqtt://127.0.0.1:1883", f"mqtt://127.0.0.1:{next(ports)}")
    text = text.replace("http://127.0.0.1:17200/", f"http://127.0.0.1:{next(ports)}/")
    text = text.replace('"sample-data/', f'"{REPO}/config/sample-data/')
    text = text.replace('source = "centre"', 'source = "sample"')
    text += f'\n[layouts]\ndir = "{REPO}/config/layouts"\n'
    path = tmp_path / "site.toml"
    path.write_text(text, encoding="utf-8")
    return path




def play_loops(dispatcher, clock, limit_s: float = 600.0) -> None:
    """Move the injected clock page by page until every loop the host plays (a BX card holds one
    picture) has put each of its pages up once, for its dwell: then those boards are confirmed."""
    from datetime import timedelta

    dispatcher.settle()
    end = clock.now() + timedelta(seconds=limit_s)
    links = {b.link for b in dispatcher.dep.boards}
    while clock.now() < end:
        views = dispatcher.view().values()
        if not any(v.page is not None and v.confirmed != v.intended and not v.failures for v in views):
            return
        due = [t for link in links if (t := dispatcher.next_page_at(link)) is not None]
        if not due:
            return
        clock.instant = max(clock.instant, min(due))
        dispatcher.settle()


def quick_replies(dep, timeout_s: float = 0.3):
    """The deployment with its serial links waiting `timeout_s` for a reply instead of the card's 2 s
    CommTimeout: the simulated wires here are not paced and answer at once, and a test with an
    offline or noisy card would otherwise spend seconds on every silent attempt."""
    from dataclasses import replace

    links = {name: replace(link, timeout_s=timeout_s) if link.transport == "serial" else link
             for name, link in dep.links.items()}
    return replace(dep, links=links)


def on_free_ports(dep):
    """The deployment with its MQTT links on free loopback ports: a fleet started for it brings its
    own broker there, so a demo or another test run on this machine cannot cross-talk."""
    from dataclasses import replace

    mqtt = [name for name, link in dep.links.items() if link.transport == "mqtt"]
    ports = iter(free_ports(len(mqtt)))
    links = {name: replace(link, url=f"mqtt://127.0.0.1:{next(ports)}") if name in mqtt else link
             for name, link in dep.links.items()}
    return replace(dep, links=links)


@pytest.fixture
def service_world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """The simulated fleet of config/zhenhai.toml (real TCP wires, a real mosquitto) and the service
    with notices, started at 2026-11-25 10:00 Shanghai (screens on) on a clock the test moves."""
    from datetime import datetime
    from zoneinfo import ZoneInfo

    from ledctl import config
    from ledctl.clock import FixedClock
    from ledctl.notices.items import notices_for
    from ledctl.service import Service
    from ledctl.simulator.fleet import Fleet
    from ledctl.store import Store

    monkeypatch.chdir(REPO)
    dep = on_free_ports(config.load(REPO / "config" / "zhenhai.toml").with_sample_data())
    clock = FixedClock(datetime(2026, 11, 25, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai")))
    fleet = Fleet.running(dep, clock.now, state=tmp_path, pace=False, ephemeral=True)
    live = quick_replies(fleet.rewired())
    store = Store(tmp_path / "ledctl.sqlite")
    notices = notices_for(live, store.path, clock)
    service = Service(live, store, clock, notices=notices)
    service.start(workers=False)
    play_loops(service.dispatcher, clock)
    yield service, notices, fleet, clock
    fleet.stop()
