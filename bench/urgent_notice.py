"""Urgent notice benchmark: from the last approval of the review chain to all 42 boards confirmed.

The whole service runs here against the simulated fleet of config/zhenhai.toml: 40 BX
cards on wires paced at 9600 baud (bytes cross at the real rate) and the two outdoor
screens on a real mosquitto. An emergency notice for every board is drafted, signed off
by the office and approved by the deputy head in charge (the shipped review chain) and
published; the clock runs from the last approval until every board confirmed. The physical
limit is the busiest wire: the bytes that had to cross it × 10 / baud.

The second run does the same while the monitoring centre and a CAP feed both trickle (a byte
every 50 ms, issue 20): a fetch and a CAP poll are in progress when the notice is approved, and
the notice must go out as fast as on a quiet day.

    python bench/urgent_notice.py
"""

from __future__ import annotations

import os
import sqlite3
import sys
import tempfile
import threading
import time
from dataclasses import replace
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from ledctl import config
from ledctl.clock import SystemClock
from ledctl.notices.items import notices_for
from ledctl.notices.users import User
from ledctl.schedule import FETCH, Job
from ledctl.service import Service
from ledctl.simulator.fleet import Fleet
from ledctl.store import Store

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
# The shipped config logs in to its broker with this variable's password; the simulated broker is
# made with it (a bench on its own machine may pick any).
os.environ.setdefault("LEDCTL_MQTT_PASSWORD", "bench-only-controller-password")
from tests.integration.conftest import on_free_ports  # noqa: E402 - the same isolation as the tests

GOAL_OVER_MINIMUM_S = 1.0  # issue 16: all 42 boards within the busiest wire's minimum + 1 s


class Trickler:
    """A loopback HTTP server that sends any body one byte every `gap_s`."""

    def __init__(self, body: bytes, gap_s: float) -> None:
        stop = self.stop_event = threading.Event()

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                for i in range(len(body)):
                    if stop.wait(gap_s):
                        return
                    try:
                        self.wfile.write(body[i:i + 1])
                        self.wfile.flush()
                    except OSError:
                        return

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.stop_event.set()
        self.server.shutdown()


def run(trickle: bool) -> tuple[float, float, str, int] | None:
    # A straggling snapshot written while the directory goes is no failure of the benchmark.
    with tempfile.TemporaryDirectory(ignore_cleanup_errors=True) as tmp:
        dep = on_free_ports(config.load(REPO / "config" / "zhenhai.toml").with_sample_data())
        peers: list[Trickler] = []
        if trickle:
            # The centre (its HTTP source, which the stations read before their fallback) and a CAP feed.
            centre = Trickler(b'{"data": {"records": []}}' + b" " * 4000, 0.05)
            feed = Trickler((REPO / "tests" / "fixtures" / "cap" / "zhenhai-alert.xml").read_bytes(), 0.05)
            peers = [centre, feed]
            real = config.load(REPO / "config" / "zhenhai.toml")
            sources = {**dep.sources, "centre": replace(real.sources["centre"], options={
                **real.sources["centre"].options, "url": f"{centre.url}/api/daily"})}
            stations = {sid: replace(st, source="centre") for sid, st in dep.stations.items()}
            sources["centre"] = replace(sources["centre"], fallback=("sample",))
            dep = replace(dep, sources=sources, stations=stations,
                          cap=replace(dep.cap, feeds=(f"{feed.url}/cap.xml",)))
        clock = SystemClock()
        fleet = Fleet.running(dep, clock.now, state=Path(tmp), pace=True, ephemeral=True)
        live = fleet.rewired()
        # Screens on and no scheduled job during the run: only the notice moves.
        live = replace(live, schedule=replace(live.schedule, screen_on=None, screen_off=None, brightness=()))
        store = Store(Path(tmp) / "ledctl.sqlite")
        notices = notices_for(live, store.path, clock)
        service = Service(live, store, clock, notices=notices)
        stop = threading.Event()
        busy: list[threading.Thread] = []
        serving = threading.Thread(target=service.serve, args=(stop,), daemon=True)
        serving.start()
        try:
            service.ready.wait(120)
            settling = time.monotonic()
            while pending := service.dispatcher.pending(due_only=False):
                if time.monotonic() - settling > 120:  # the first broadcast settles first
                    views = service.dispatcher.view()
                    print("- urgent notice: the first broadcast did not settle in 120 s; still pending: "
                          + ", ".join(f"{b} ({views[b].pages[0]}/{views[b].pages[1]} pages, "
                                      f"{views[b].last_result.describe() if views[b].last_result else '-'})"
                                      for b in pending))
                    return None
                time.sleep(0.1)
            if trickle:  # a fetch and a CAP poll under way, each reading a byte every 50 ms
                busy = [threading.Thread(target=service.run_job, args=(Job(FETCH, FETCH, None, None),),
                                         daemon=True), threading.Thread(target=service.poll_cap, daemon=True)]
                for t in busy:
                    t.start()
                time.sleep(0.5)
            n = notices.draft(User("wang", "operator"), title="紧急通知",
                              text="石化区发生化学品泄漏，请关闭门窗，就地避险。", level="emergency",
                              targets=["all"], end=clock.now() + timedelta(hours=1))
            # The office's review (with 保密审查) before the clock; the deputy head's approval starts it.
            notices.approve(User("li", "approver"), n.id, confidentiality_checked=True)
            start, published = time.monotonic(), clock.now()
            notices.approve(User("chen", "approver"), n.id)
            notices.publish(User("li", "approver"), n.id)
            service.notices_changed()
            item = f"notice:{n.id}"
            when: dict[str, float] = {}  # board -> seconds until it confirmed
            while True:
                rows = store.boards()
                done = [b for b, r in rows.items() if item in r.confirmed_items and r.confirmed == r.intended]
                for b in done:
                    when.setdefault(b, time.monotonic() - start)
                if len(done) == len(live.boards):
                    break
                if time.monotonic() - start > 120:
                    print(f"- urgent notice: only {len(done)}/{len(live.boards)} confirmed in 120 s")
                    return None
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
            last = sorted(when, key=when.__getitem__)[-3:]
            said = ", ".join(f"{b} {when[b]:.2f} s" for b in last)
            return took, per_wire[busiest] * 10 / live.links[busiest].baud, busiest, per_wire[busiest], said
        finally:
            for peer in peers:  # the fetch and the CAP poll end when their peers go …
                peer.close()
            for t in busy:  # … and finish before their store does
                t.join(timeout=30)
            stop.set()
            serving.join(timeout=30)
            fleet.stop()


def main() -> int:
    print("## urgent notice (the whole service; 9600-baud wires and a real mosquitto)")
    missed = False
    for trickle in (False, True):
        got = run(trickle)
        if got is None:
            return 1
        took, minimum, busiest, sent, last = got
        what = ("while the centre and a CAP feed trickle (a byte / 50 ms)" if trickle
                else "on a quiet day")
        print(f"- {what}: approval and publish to all 42 boards confirmed: {took:.2f} s; physical "
              f"minimum {minimum:.2f} s (busiest wire {busiest}: {sent:,} bytes); over the minimum "
              f"{took - minimum:+.2f} s (goal: ≤ +1 s); the last to confirm: {last}")
        missed = missed or took - minimum > GOAL_OVER_MINIMUM_S
    # What a notice may wait for: a bulletin page (the host plays the community boards' loop) may be
    # crossing a wire when it comes. A frame is never cut, but a picture goes in blocks and gives way
    # between them (dispatch.py, `Content.give_way`), so the wait is one block: 1,024 bytes go as
    # three of 342, about 0.4 s at 9600 baud with its reply, not the whole picture (1.1 s).
    print("  (a bulletin page on a wire when the notice comes gives way at its next block: at most one "
          "block, about 0.4 s at 9600 baud, on top of the minimum)")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
