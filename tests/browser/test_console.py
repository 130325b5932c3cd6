"""The console in headless Chromium (Debian's /usr/bin/chromium, driven by Playwright), against the
real service, the simulated fleet and a real Mosquitto: log in, see 42 boards, draft a notice, a
second user approves and publishes it, the targeted simulated boards show it, cancel, they stop.
Every page also works with the network cut off: nothing is fetched from anywhere but the console."""

from __future__ import annotations

import re
import shutil
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect

from ledctl import config
from ledctl.api import server
from ledctl.api.app import Console
from ledctl.clock import SystemClock
from ledctl.notices.items import notices_for
from ledctl.notices.users import Users
from ledctl.service import Service
from ledctl.simulator.bx_card import BxCard
from ledctl.simulator.fleet import Fleet
from ledctl.store import Store

from ..integration.conftest import on_free_ports

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
pytestmark = pytest.mark.skipif(
    not (Path(CHROMIUM).exists() and shutil.which("mosquitto")),
    reason="needs Debian's chromium and mosquitto (make test installs them)",
)
PASSWORDS = {"wang": "wang-password", "li": "li-password!"}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory):
    tmp = tmp_path_factory.mktemp("console")
    dep = on_free_ports(config.load(REPO / "config" / "zhenhai.toml").with_sample_data())
    clock = SystemClock()
    fleet = Fleet.running(dep, clock.now, state=tmp, pace=False, ephemeral=True)
    live = fleet.rewired()
    store = Store(tmp / "ledctl.sqlite")
    users = Users(store.path)
    root = users.add("root", "admin", "root-password", clock.now(), None)
    users.add("wang", "operator", PASSWORDS["wang"], clock.now(), root)
    users.add("li", "approver", PASSWORDS["li"], clock.now(), root)
    notices = notices_for(live, store.path, clock)
    service = Service(live, store, clock, notices=notices)
    stop = threading.Event()
    serving = threading.Thread(target=service.serve, args=(stop,), daemon=True)
    serving.start()
    console = server.start(
        Console(live, store, users, notices, clock, service=service, fleet=fleet), "127.0.0.1:0"
    )
    yield console.url, fleet, service
    console.stop()
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
    url = world[0]
    context = browser.new_context(locale="zh-CN")
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


def test_log_in_draft_approve_show_cancel(world, page) -> None:
    url, fleet, service = world
    login(page, url, "wang")
    assert page.locator(".board").count() == 42
    assert page.locator("h1").inner_text().startswith("屏幕总览")
    eventually(lambda: service.dispatcher.pending(due_only=False) == [], "every board confirmed")

    page.goto(f"{url}/notices")
    text = "明天上午九点到十二点城河社区停水，请提前储水。"
    page.fill("textarea[name=text]", text)
    page.fill("input[name=title]", "停水通知")
    page.check("input[value='group:community']")
    end = (datetime.now(service.dep.tz) + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M")
    page.fill("input[name=end]", end)
    page.wait_for_selector("#preview img")  # the live preview on the target boards
    page.click("#draft button[type=submit]")
    page.wait_for_url(f"{url}/notices/*")
    notice_url = page.url
    assert "草稿" in page.inner_text("#notice-state")
    assert page.locator("[data-action=approve]").count() == 0  # the author gets no approve button

    page.click("[data-logout]")
    page.wait_for_url(f"{url}/login")
    login(page, url, "li")
    page.goto(notice_url)
    page.click("[data-action=approve]")
    page.wait_for_selector("[data-action=publish]")
    page.click("[data-action=publish]")
    page.wait_for_selector("#delivered")
    # The live update (server-sent events) counts the boards up.
    expect(page.locator("#delivered")).to_have_text(re.compile(r"^40/40"), timeout=60_000)
    cards = community_cards(fleet)
    assert len(cards) == 40
    assert all(any("城河社区停水" in t for t in card.text_areas.values()) for card in cards)

    page.on("dialog", lambda dialog: dialog.accept("检修取消"))
    page.click("[data-action=cancel]")
    expect(page.locator("#notice-state")).to_contain_text("撤销")
    eventually(lambda: all(not card.text_areas for card in cards), "the notice gone from every card")
    assert all(card.bitmap is not None for card in cards)  # the bulletin picture again


def test_every_page_works_offline_in_both_languages(world, page) -> None:
    url = world[0]
    page.goto(f"{url}/login?next=/%5Cevil.example/")  # after logging in, never off to another site
    page.fill("input[name=name]", "li")
    page.fill("input[name=password]", PASSWORDS["li"])
    page.click("button[type=submit]")
    page.wait_for_url(f"{url}/")  # the console's front page, not the other site
    for lang, word in (("zh", "屏幕总览"), ("en", "Fleet")):
        for path in ("/", "/data", "/notices", "/audit", "/reports", "/boards/zbs-01", "/sim"):
            response = page.goto(f"{url}{path}?lang={lang}")
            assert response is not None and response.status == 200, path
            assert page.locator("header nav").inner_text().count(word) == 1, (path, lang)
    page.goto(f"{url}/sim")
    assert page.locator("img[data-which=sim]").count() == 42
