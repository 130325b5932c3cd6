"""Slow and hostile peers: a monitoring centre or CAP feed that trickles, feeds that point elsewhere,
a page forged on the broker, figures that outlive their freshness. Each against the real service,
the simulated fleet and a real mosquitto where it matters."""

from __future__ import annotations

import json
import os
import shutil
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest

from ledctl import net
from ledctl.notices import cap_bridge
from ledctl.notices.cap import CapError
from ledctl.schedule import Job
from ledctl.service import CAP_POLL, TICK

REPO = Path(__file__).resolve().parents[2]
ALERT = (REPO / "tests" / "fixtures" / "cap" / "zhenhai-alert.xml").read_bytes()
pytestmark = pytest.mark.skipif(not shutil.which("mosquitto"), reason="needs mosquitto (make test has it)")


class Peer:
    """A loopback HTTP server: each path a body, sent whole or a byte at a time (`trickle_s` apart)."""

    def __init__(self) -> None:
        self.routes: dict[str, tuple[bytes, float, dict[str, str], int]] = {}
        self.seen: list[str] = []
        self.cuts: dict[str, int] = {}  # path → bytes sent before hanging up (a Content-Length says more)
        self.stopping = threading.Event()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                owner.seen.append(self.path)
                body, trickle, headers, status = owner.routes.get(self.path, (b"not found", 0.0, {}, 404))
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                for k, v in headers.items():
                    self.send_header(k, v)
                self.end_headers()
                if not trickle:
                    self.wfile.write(body[:owner.cuts.get(self.path, len(body))])  # all, or cut short
                    return
                for i in range(len(body)):
                    if owner.stopping.wait(trickle):
                        return
                    try:
                        self.wfile.write(body[i:i + 1])
                        self.wfile.flush()
                    except OSError:
                        return  # the client gave up: as it should

        class Server(ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request: Any, client_address: Any) -> None:
                pass

        self.server = Server(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def route(self, path: str, body: bytes, *, trickle_s: float = 0.0, headers: dict[str, str] | None = None,
              status: int = 200) -> None:
        self.routes[path] = (body, trickle_s, headers or {}, status)

    def stop(self) -> None:
        self.stopping.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def peer() -> Iterator[Peer]:
    p = Peer()
    yield p
    p.stop()


def test_a_trickling_server_is_cut_off_at_the_total_deadline(peer: Peer) -> None:
    # One byte every 0.2 s never trips a per-receive timeout; the total deadline ends it.
    peer.route("/slow", b"x" * 1000, trickle_s=0.2)
    with pytest.raises(net.FetchFailed, match="too slowly") as info:
        net.get(peer.url + "/slow", limits=net.Limits(deadline_s=1.0))
    assert info.value.retry
    with pytest.raises(net.FetchFailed, match="more than 10 bytes"):
        peer.route("/big", b"y" * 100)
        net.get(peer.url + "/big", limits=net.Limits(max_bytes=10))


def test_an_answer_cut_short_is_a_failure_never_a_shorter_document(peer: Peer) -> None:
    # A feed or centre that hangs up half way (Content-Length says more) was read as a whole,
    # shorter document: an alert parsed from half its XML, a data file missing its last stations.
    peer.route("/half", ALERT)
    peer.cuts["/half"] = len(ALERT) // 2
    with pytest.raises(net.FetchFailed, match=rf"broke off the answer after {len(ALERT) // 2:,} of"):
        net.get(peer.url + "/half", limits=net.Limits())


def test_a_slow_cap_feed_never_holds_the_service_lock(world, peer: Peer, monkeypatch) -> None:
    """Publishing an emergency needs the service's lock; a CAP poll must not hold it while it waits
    on a feed (it blocked a publish for over 100 s when poll_cap fetched under the lock)."""
    service, notices, _, _ = world
    from dataclasses import replace

    peer.route("/feed.xml", ALERT, trickle_s=0.005)  # about 8 s for the whole alert
    service.dep = replace(service.dep, cap=replace(service.dep.cap, feeds=(peer.url + "/feed.xml",)))
    monkeypatch.setattr(cap_bridge, "FETCH_DEADLINE_S", 60.0)
    poll = threading.Thread(target=service.run_job, args=(Job(CAP_POLL, CAP_POLL, None, None),))  # type: ignore[arg-type]
    poll.start()
    while not peer.seen:
        time.sleep(0.01)
    assert poll.is_alive()  # the feed is still trickling in …
    acquired = service._lock.acquire(timeout=5)  # … and the lock is free for an urgent notice
    assert acquired
    service._lock.release()
    poll.join(120)
    assert any(n.cap_identifier == "NBEMA-2026-1125-001" for n in notices.list())  # imported in the end


def test_feed_links_are_fetched_only_from_the_feeds_host(peer: Peer) -> None:
    other = Peer()
    try:
        other.route("/alert.xml", ALERT)
        entry = ('<entry><id>e{}</id><title>t</title><updated>2026-11-25T09:00:00Z</updated>'
                 '<link type="application/cap+xml" href="{}"/></entry>')
        feed = ('<?xml version="1.0" encoding="UTF-8"?><feed xmlns="http://www.w3.org/2005/Atom">'
                '<id>f</id><title>t</title><updated>2026-11-25T09:00:00Z</updated>'
                + entry.format(1, other.url + "/alert.xml") + entry.format(2, peer.url + "/alert.xml")
                + "</feed>").encode()
        peer.route("/feed.xml", feed)
        peer.route("/alert.xml", ALERT)
        problems: list[str] = []
        data = cap_bridge.fetch(peer.url + "/feed.xml")
        alerts = cap_bridge.read_alerts(data, peer.url + "/feed.xml", problems=problems)
        assert len(alerts) == 1 and other.seen == []  # never asked the other host
        assert any("not one of the configured feeds" in p for p in problems)
    finally:
        other.stop()


def test_cap_import_never_follows_a_redirect_to_another_host(peer: Peer) -> None:
    other = Peer()
    try:
        other.route("/alert.xml", ALERT)
        peer.route("/go", b"", status=302, headers={"Location": other.url + "/alert.xml"})
        with pytest.raises(CapError, match="302"):
            cap_bridge.fetch(peer.url + "/go")
        assert other.seen == []
    finally:
        other.stop()


def test_figures_past_their_freshness_become_updating_without_a_fetch(world, monkeypatch) -> None:
    """The centre trickles for days: no fetch finishes, and the figures on the boards must go."""
    service, _, _, clock = world
    board = service.dep.board("zbs-01")
    shown = service.bulletin.stations[board.station]
    assert shown.assessment is not None and shown.valid_until is not None
    monkeypatch.setattr(service, "fetch", lambda now: None)  # nothing new ever arrives
    clock.instant = shown.valid_until + timedelta(minutes=1)
    service.run_job(Job(TICK, TICK, None, None))  # type: ignore[arg-type]
    service.dispatcher.settle()
    intent = service.dispatcher.boards[board.id].intent
    texts = " ".join(t for p in intent.program.pages for _, t in p.texts)
    assert "数据更新中" in texts and "AQI" not in texts
    assert service.dispatcher.boards[board.id].confirmed == intent.hash


def test_a_page_forged_on_the_broker_is_put_right_by_the_health_check(world, caplog) -> None:
    service, _, fleet, _ = world
    board = service.dep.board("outdoor-urban")
    ours = service.dispatcher.boards[board.id].confirmed
    screen = fleet.boards[board.id].device
    assert screen.program_hash == ours
    # Someone holding the controller's broker password (an insider, a leaked file) puts their own
    # program on the board's topics, retained; the board shows it.
    link = service.dep.links[board.link]
    host, port = link.url.removeprefix("mqtt://").split(":")
    forger = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="forger")
    forger.username_pw_set(link.username, os.environ[link.password_env])
    forger.connect(host, int(port))
    forger.loop_start()
    base = f"ledctl/v1/{service.dep.site.id}/{board.id}"
    page = service.dispatcher.boards[board.id].intent.program.pages[0]
    import io

    png = io.BytesIO()
    page.image.convert("RGB").transpose(0).save(png, format="PNG")  # a different picture
    import hashlib

    digest = hashlib.sha256(png.getvalue()).hexdigest()
    manifest = {"protocol": 1, "hash": "f" * 64, "board": board.id, "size": [256, 128], "colour": "full",
                "valid_from": None, "expires": None,
                "pages": [{"index": 0, "name": "forged", "effect": "static", "dwell": 10, "speed": 0,
                           "width": 256, "height": 128, "sha256": digest}]}
    forger.publish(f"{base}/page/0", png.getvalue(), qos=1, retain=True).wait_for_publish(5)
    forger.publish(f"{base}/program", json.dumps(manifest).encode(), qos=1, retain=True).wait_for_publish(5)
    deadline = time.monotonic() + 10
    while screen.program_hash != "f" * 64 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert screen.program_hash == "f" * 64  # the board shows the forgery …
    forger.loop_stop()
    forger.disconnect()
    # The board's status saying so reaches the controller a moment after the screen changed: a check
    # made before that sees nothing wrong, and the next one (a minute later in service) does.
    deadline = time.monotonic() + 10
    with caplog.at_level("WARNING", logger="ledctl.dispatch"):
        while screen.program_hash != ours and time.monotonic() < deadline:
            service.dispatcher.check_health()
            service.dispatcher.settle()
            time.sleep(0.2)
    assert screen.program_hash == ours  # … until the health check sees it and sends ours again
    assert "shows-other" in caplog.text
