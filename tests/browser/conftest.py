"""What the console's browser tests share: a world per test module (the real service, the simulated
fleet and a real Mosquitto, the console on a free loopback port), headless Chromium (Debian's
/usr/bin/chromium, driven by Playwright) with the network cut off but for the console, logging in, and
waiting for a condition with a deadline (never a timed assertion)."""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from ledctl import config
from ledctl.api import server
from ledctl.api.app import Console
from ledctl.clock import SystemClock
from ledctl.notices.items import notices_for
from ledctl.notices.users import User, Users
from ledctl.notices.workflow import Notices
from ledctl.service import Service
from ledctl.simulator.bx_card import BxCard
from ledctl.simulator.fleet import Fleet
from ledctl.store import Store

from ..integration.conftest import on_free_ports

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
PASSWORDS = {"wang": "wang-password", "li": "li-password!", "zhao": "zhao-password", "root": "root-password"}


def needs_a_browser() -> pytest.MarkDecorator:
    return pytest.mark.skipif(
        not (Path(CHROMIUM).exists() and shutil.which("mosquitto")),
        reason="needs Debian's chromium and mosquitto (make test installs them)",
    )


@dataclass
class World:
    url: str
    fleet: Fleet
    service: Service
    console: Console
    notices: Notices
    users: dict[str, User]
    state: Path

    def __iter__(self) -> Any:  # url, fleet, service = world
        return iter((self.url, self.fleet, self.service))

    def __getitem__(self, index: int) -> Any:
        return (self.url, self.fleet, self.service)[index]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory):
    tmp = tmp_path_factory.mktemp("console")
    dep = on_free_ports(config.load(REPO / "config" / "zhenhai.toml").with_sample_data())
    clock = SystemClock()
    fleet = Fleet.running(dep, clock.now, state=tmp, pace=False, ephemeral=True)
    live = fleet.rewired()
    store = Store(tmp / "ledctl.sqlite")
    users = Users(store.path)
    root = users.add("root", "admin", PASSWORDS["root"], clock.now(), None)
    made = {
        "root": root,
        "wang": users.add("wang", "operator", PASSWORDS["wang"], clock.now(), root),
        "li": users.add("li", "approver", PASSWORDS["li"], clock.now(), root),
        "zhao": users.add("zhao", "approver", PASSWORDS["zhao"], clock.now(), root),
    }
    notices = notices_for(live, store.path, clock)
    service = Service(live, store, clock, notices=notices)
    stop = threading.Event()
    serving = threading.Thread(target=service.serve, args=(stop,), daemon=True)
    serving.start()
    console = Console(live, store, users, notices, clock, service=service, fleet=fleet,
                      sim_faults=tmp / "sim" / "faults.toml")
    running = server.start(console, "127.0.0.1:0")
    yield World(running.url, fleet, service, console, notices, made, tmp)
    running.stop()
    stop.set()
    serving.join(timeout=30)
    fleet.stop()


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True)
        yield b
        b.close()


@pytest.fixture
def page(browser, world):
    url = world.url
    context = browser.new_context(locale="zh-CN", viewport={"width": 1400, "height": 900},
                                  accept_downloads=True)
    outside: list[str] = []

    def only_the_console(route) -> None:  # the network is cut: only the console itself answers
        host = urlsplit(route.request.url).hostname
        if (
            route.request.url.startswith(url)
            or host in ("127.0.0.1",)
            or route.request.url.startswith("data:")
        ):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    context.route("**/*", only_the_console)
    p = context.new_page()
    errors: list[str] = []
    p.on("pageerror", lambda e: errors.append(str(e)))
    yield p
    assert outside == [], f"the console tried to reach the network: {outside}"
    assert errors == [], f"JavaScript errors: {errors}"
    context.close()


def login(page, url: str, user: str) -> None:
    page.goto(f"{url}/login")
    page.fill("input[name=name]", user)
    page.fill("input[name=password]", PASSWORDS[user])
    page.click("button[type=submit]")
    page.wait_for_url(f"{url}/")


def eventually(check: Callable[[], bool], what: str, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"never happened: {what}")
        time.sleep(0.2)


def community_cards(fleet: Fleet) -> list[BxCard]:
    return [s.device for s in fleet.boards.values() if isinstance(s.device, BxCard)]


def settled(service: Service) -> bool:
    return service.dispatcher.pending(due_only=False) == []
