"""An emergency published while the console is flooded with logins (issue 17, item 10): the whole
service against the simulated fleet, its console served by uvicorn as `ledctl serve` does, and sixty
clients (in another process, as an attacker would be) sending wrong passwords without pause.

Every password check here waits until the test lets it go — the flood's worst case, a check that
never ends. The emergency must nevertheless be published through the API and confirmed by all 42
boards *before* a single check is let go; and never more checks run at once than the password pool
has workers. (The time it takes under a real scrypt flood is a figure in bench/login_flood.py.)"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from datetime import timedelta
from pathlib import Path

import pytest

from ledctl import config
from ledctl.api import server
from ledctl.api.app import Console
from ledctl.api.security import HASH_WORKERS
from ledctl.clock import SystemClock
from ledctl.notices import users as users_module
from ledctl.notices.items import notices_for
from ledctl.notices.users import Users
from ledctl.service import Service
from ledctl.simulator.fleet import Fleet
from ledctl.store import Store

from ..integration.conftest import on_free_ports

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.skipif(not shutil.which("mosquitto"), reason="needs mosquitto (make test has it)")
GUARD_S = 120  # only against a hang: nothing here is timed


def api(url: str, path: str, token: str, body: object | None = None) -> dict:
    request = urllib.request.Request(url + path, method="POST" if body is not None else "GET",
                                     data=json.dumps(body).encode() if body is not None else None,
                                     headers={"Content-Type": "application/json",
                                              "Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request, timeout=GUARD_S) as response:
        return json.loads(response.read())


def eventually(check, what: str) -> None:
    deadline = time.monotonic() + GUARD_S
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"never happened: {what}")
        time.sleep(0.05)


@pytest.fixture
def service(tmp_path: Path):
    """The service with its console, every board confirmed on its bulletin; an approver's API token."""
    dep = on_free_ports(config.load(REPO / "config" / "zhenhai.toml").with_sample_data())
    clock = SystemClock()
    fleet = Fleet.running(dep, clock.now, state=tmp_path, pace=False, ephemeral=True)
    live = fleet.rewired()
    store = Store(tmp_path / "ledctl.sqlite")
    users = Users(store.path)
    root = users.add("root", "admin", "root-password", clock.now(), None)
    li = users.add("li", "approver", "li-password!", clock.now(), root)
    notices = notices_for(live, store.path, clock)
    svc = Service(live, store, clock, notices=notices)
    stop = threading.Event()
    serving = threading.Thread(target=svc.serve, args=(stop,), daemon=True)
    serving.start()
    console = server.start(Console(live, store, users, notices, clock, service=svc), "127.0.0.1:0")
    try:
        assert svc.ready.wait(60)
        eventually(lambda: svc.dispatcher.pending(due_only=False) == [], "the first broadcast confirmed")
        yield console.url, svc, store, users.new_token(li, "test", clock.now())
    finally:
        console.stop()
        stop.set()
        serving.join(timeout=30)
        fleet.stop()


def test_an_emergency_reaches_every_board_while_logins_flood_the_console(service, monkeypatch) -> None:
    url, svc, store, token = service
    let_go, lock = threading.Event(), threading.Lock()
    checks = {"now": 0, "most": 0, "started": 0}
    real_check = users_module.check_password

    def check_that_waits(password: str, stored: str) -> bool:
        with lock:
            checks["now"] += 1
            checks["started"] += 1
            checks["most"] = max(checks["most"], checks["now"])
        try:
            let_go.wait(GUARD_S)
            return real_check(password, stored)
        finally:
            with lock:
                checks["now"] -= 1

    monkeypatch.setattr(users_module, "check_password", check_that_waits)
    flood = subprocess.Popen([sys.executable, "-m", "ledctl.simulator.login_flood", url, "60"],
                             stdout=subprocess.PIPE, text=True)
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(flood.stdout or ()), daemon=True)
    reader.start()
    try:
        # The flood has taken all the console lets it take: logins turned away (the pool is full), or
        # (without a pool) as many checks under way as the web server has threads for its routes.
        eventually(lambda: "turned away\n" in lines or checks["started"] >= 40, "the console flooded")

        # The emergency, through the API: drafted and published by override (one approver, flagged).
        n = api(url, "/api/notices", token, {
            "title": "紧急通知", "text": "石化区发生化学品泄漏，请关闭门窗，就地避险。", "level": "emergency",
            "targets": ["all"], "end": (svc.clock.now() + timedelta(hours=1)).isoformat()})
        published = api(url, f"/api/notices/{n['id']}/override", token, {"reason": "泄漏正在扩散"})
        assert published["state"] == "published"
        svc.notices_changed()

        item = f"notice:{n['id']}"

        def every_board_confirmed() -> bool:
            rows = store.boards()
            return all(item in r.confirmed_items and r.confirmed == r.intended for r in rows.values()) \
                and len(rows) == len(svc.dep.boards)

        eventually(every_board_confirmed, "all 42 boards confirmed the emergency")
        # All of that while every password check of the flood was still held: it went first.
        assert not let_go.is_set() and checks["now"] >= 1
        assert checks["most"] <= HASH_WORKERS  # the pool bounds the hashing, however many ask
    finally:
        let_go.set()
        flood.send_signal(signal.SIGTERM)
        flood.wait(timeout=GUARD_S)
        reader.join(timeout=GUARD_S)
    answers = json.loads(lines[-1])
    assert answers.get("503", 0) > 0  # the rest of the flood was turned away without hashing
    assert "500" not in answers and "dropped" not in answers
