"""Login flood benchmark: an emergency published through the console while 40 clients send wrong
passwords without pause, each one checked with scrypt (issue 17.10: before the password pool, the
publish took 22 s and the boards 23.6 s).

The whole service runs here against the simulated fleet of config/zhenhai.toml (40 BX cards on
9600-baud wires, the two outdoor screens on a real mosquitto), its console served by uvicorn as
`ledctl serve` serves it. The flood comes from another process, as an attacker's would, and as if
from many addresses: the per-address login limits are off here, so every try costs a password check.
An approver drafts an emergency for every board and publishes it by override through the API; the
clock runs from the draft request until every board confirmed. The baseline is the same without the
flood.

    python bench/login_flood.py
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

from ledctl import config
from ledctl.api import server
from ledctl.api.app import Console
from ledctl.clock import SystemClock
from ledctl.notices.items import notices_for
from ledctl.notices.users import Users
from ledctl.service import Service
from ledctl.simulator.fleet import Fleet
from ledctl.store import Store

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
from tests.integration.conftest import on_free_ports  # noqa: E402 - the same isolation as the tests

# The simulated broker and the service log in with the controller's password (as in the tests).
os.environ.setdefault("LEDCTL_MQTT_PASSWORD", secrets.token_hex(16))
FLOODERS = 40  # clients of ledctl.simulator.login_flood


class Unlimited:
    """No per-address login limits: the flood stands for many addresses, each under its limit."""

    def retry_after(self, *args: object) -> int:
        return 0

    def failed(self, *args: object) -> None:
        pass

    def succeeded(self, *args: object) -> None:
        pass


def post(url: str, token: str, body: object) -> dict:
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json",
                                              "Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request, timeout=300) as response:
        return json.loads(response.read())


def publish_emergency(url: str, token: str, service: Service, store: Store) -> tuple[float, float]:
    """Seconds until the API said published, and until every board confirmed."""
    start = time.monotonic()
    n = post(f"{url}/api/notices", token, {
        "title": "紧急通知", "text": "石化区发生化学品泄漏，请关闭门窗，就地避险。", "level": "emergency",
        "targets": ["all"], "end": (service.clock.now() + timedelta(hours=1)).isoformat()})
    post(f"{url}/api/notices/{n['id']}/override", token, {"reason": "泄漏正在扩散"})
    published = time.monotonic() - start
    service.notices_changed()
    item = f"notice:{n['id']}"
    while True:
        rows = store.boards()
        if len(rows) == len(service.dep.boards) and all(
                item in r.confirmed_items and r.confirmed == r.intended for r in rows.values()):
            return published, time.monotonic() - start
        if time.monotonic() - start > 300:
            raise SystemExit(f"- login flood: the emergency not confirmed everywhere in 300 s ({item})")
        time.sleep(0.01)


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        dep = on_free_ports(config.load(REPO / "config" / "zhenhai.toml").with_sample_data())
        clock = SystemClock()
        fleet = Fleet.running(dep, clock.now, state=Path(tmp), pace=True, ephemeral=True)
        live = fleet.rewired()
        live = replace(live, schedule=replace(live.schedule, screen_on=None, screen_off=None, brightness=()))
        store = Store(Path(tmp) / "ledctl.sqlite")
        users = Users(store.path)
        root = users.add("root", "admin", "root-password", clock.now(), None)
        li = users.add("li", "approver", "li-password!", clock.now(), root)
        token = users.new_token(li, "bench", clock.now())
        notices = notices_for(live, store.path, clock)
        service = Service(live, store, clock, notices=notices)
        stop = threading.Event()
        serving = threading.Thread(target=service.serve, args=(stop,), daemon=True)
        serving.start()
        console = Console(live, store, users, notices, clock, service=service)
        console.limiter = Unlimited()  # type: ignore[assignment]
        running = server.start(console, "127.0.0.1:0")
        try:
            service.ready.wait(60)
            while service.dispatcher.pending(due_only=False):
                time.sleep(0.1)  # the first broadcast settles first
            _, calm = publish_emergency(running.url, token, service, store)
            flood = subprocess.Popen([sys.executable, "-m", "ledctl.simulator.login_flood", running.url,
                                      str(FLOODERS)], stdout=subprocess.PIPE, text=True)
            time.sleep(3)  # the flood in full swing
            published, flooded = publish_emergency(running.url, token, service, store)
            flood.send_signal(signal.SIGTERM)
            out, _ = flood.communicate(timeout=600)
            answers = json.loads(out.strip().splitlines()[-1])
        finally:
            running.stop()
            stop.set()
            serving.join(timeout=30)
            fleet.stop()
    tried = sum(answers.values())
    print("## login flood (the whole service; 9600-baud wires, a real mosquitto, the console on uvicorn)")
    print(f"- emergency under {FLOODERS} clients sending wrong passwords (scrypt each, {tried:,} tries: "
          f"{', '.join(f'{k} x{v:,}' for k, v in sorted(answers.items()))}): published through the API in "
          f"{published:.2f} s, all {len(live.boards)} boards confirmed in {flooded:.2f} s; without the flood "
          f"{calm:.2f} s; ratio {flooded / calm:.2f} "
          "(goal: seconds; issue 17 measured 23.6 s before the password pool)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
