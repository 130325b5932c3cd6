"""Urgent notice benchmark: from the second person's approval to all 42 boards confirmed.

The whole service runs here against the simulated fleet of config/zhenhai.toml: 40 BX
cards on wires paced at 9600 baud (bytes cross at the real rate) and the two outdoor
screens on a real mosquitto. An emergency notice for every board is drafted, approved by
a second user and published; the clock runs from the approval until every board
confirmed. The physical limit is the busiest wire: the bytes that had to cross it × 10 / baud.

    python bench/urgent_notice.py
"""

from __future__ import annotations

import sqlite3
import sys
import tempfile
import threading
import time
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

from ledctl import config
from ledctl.clock import SystemClock
from ledctl.notices.items import notices_for
from ledctl.notices.users import User
from ledctl.service import Service
from ledctl.simulator.fleet import Fleet
from ledctl.store import Store

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
from tests.integration.conftest import on_free_ports  # noqa: E402 - the same isolation as the tests


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        dep = on_free_ports(config.load(REPO / "config" / "zhenhai.toml").with_sample_data())
        clock = SystemClock()
        fleet = Fleet.running(dep, clock.now, state=Path(tmp), pace=True, ephemeral=True)
        live = fleet.rewired()
        # Screens on and no scheduled job during the run: only the notice moves.
        live = replace(live, schedule=replace(live.schedule, screen_on=None, screen_off=None, brightness=()))
        store = Store(Path(tmp) / "ledctl.sqlite")
        notices = notices_for(live, store.path, clock)
        service = Service(live, store, clock, notices=notices)
        stop = threading.Event()
        serving = threading.Thread(target=service.serve, args=(stop,), daemon=True)
        serving.start()
        try:
            service.ready.wait(60)
            while service.dispatcher.pending(due_only=False):
                time.sleep(0.1)  # the first broadcast settles first
            n = notices.draft(User("wang", "operator"), title="紧急通知",
                              text="石化区发生化学品泄漏，请关闭门窗，就地避险。", level="emergency",
                              targets=["all"], end=clock.now() + timedelta(hours=1))
            start, published = time.monotonic(), clock.now()
            notices.approve(User("li", "approver"), n.id)  # the second person's approval starts the clock
            notices.publish(User("li", "approver"), n.id)
            service.notices_changed()
            item = f"notice:{n.id}"
            while True:
                rows = store.boards()
                done = [b for b, r in rows.items() if item in r.confirmed_items and r.confirmed == r.intended]
                if len(done) == len(live.boards):
                    break
                if time.monotonic() - start > 120:
                    print(f"- urgent notice: only {len(done)}/{len(live.boards)} confirmed in 120 s")
                    return 1
                time.sleep(0.01)
            took = time.monotonic() - start
            with sqlite3.connect(store.path) as db:
                rows_sent = db.execute("SELECT board, bytes FROM deliveries WHERE ok = 1 AND at >= ?",
                                       (published.isoformat(),)).fetchall()
            per_wire: dict[str, int] = {}
            for board_id, sent in rows_sent:
                board = live.board(board_id)
                if live.links[board.link].transport == "serial":
                    per_wire[board.link] = per_wire.get(board.link, 0) + sent
            busiest = max(per_wire, key=per_wire.__getitem__)
            minimum = per_wire[busiest] * 10 / live.links[busiest].baud
            print("## urgent notice (the whole service; 9600-baud wires and a real mosquitto)")
            print(f"- approval and publish to all {len(live.boards)} boards confirmed: {took:.2f} s; "
                  "physical minimum "
                  f"{minimum:.2f} s (busiest wire {busiest}: {per_wire[busiest]:,} bytes); ratio "
                  f"{took / minimum:.2f} (goal: seconds; BX cards get the text in their own font)")
        finally:
            stop.set()
            serving.join(timeout=30)
            fleet.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
