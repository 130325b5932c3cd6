"""The ledctl-mqtt driver without a broker: chunking and clearing what a program leaves behind, and how
a health check judges a board from its status, telemetry and screen read-back (issue 16, item 14)."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import random
import time
from typing import Any

from PIL import Image

from ledctl import config
from ledctl.drivers.base import DriverContext
from ledctl.drivers.ledctl_mqtt import LedctlMqttDriver, encode
from ledctl.model import Page, Program
from tests.unit.test_config import REPO

URBAN = "outdoor-urban"


class FakeLink:
    def __init__(self) -> None:
        self.published: list[tuple[str, bytes, bool]] = []

    def on(self, topic: str, handler: Any, *, qos: int = 1) -> None:
        pass

    def publish(self, topic: str, payload: bytes, *, retain: bool = False, **kw: Any) -> None:
        self.published.append((topic, payload, retain))

    def flush(self, timeout_s: float = 60.0) -> None:
        pass


def world():
    dep = config.load(REPO / "config" / "zhenhai.toml")
    link = FakeLink()
    driver = LedctlMqttDriver(link, DriverContext(dep.site.id, 1.0, dep.boards))  # type: ignore[arg-type]
    return dep, link, driver


def noise(width: int, height: int) -> Image.Image:
    rng = random.Random(5)
    raw = bytes(rng.randrange(256) for _ in range(width * height * 3))
    return Image.frombytes("RGB", (width, height), raw)


def topics(link: FakeLink, base: str) -> list[tuple[str, bool]]:
    return [(t[len(base):], bool(p)) for t, p, _ in link.published if t.startswith(base)]


def test_a_large_page_goes_in_parts_and_a_later_cut_clears_the_rest() -> None:
    dep, link, driver = world()
    board = dep.board(URBAN)
    base = f"ledctl/v1/{dep.site.id}/{URBAN}/"
    big = Program(URBAN, (Page("noise", noise(256, 128)),))
    encoded = encode(board, big, max_message=16384)
    manifest = json.loads(encoded.manifest)
    parts = manifest["pages"][0]["parts"]
    assert parts > 5 and all(len(p) <= 16384 for p in encoded.pages[0])
    assert manifest["pages"][0]["bytes"] == sum(len(p) for p in encoded.pages[0])
    driver.boards.publish(board, encoded)
    assert topics(link, base)[:parts] == [(f"page/0/{k}", True) for k in range(parts)]
    assert topics(link, base)[-1] == ("program", True)
    link.published.clear()
    dark = Image.new("RGB", (256, 128))
    small = Program(URBAN, (Page("dark", dark), Page("dark2", dark)))
    driver.boards.publish(board, encode(board, small))
    # The new page 0 whole, page 1, every old part deleted (an empty retained message), then the manifest.
    assert topics(link, base) == [("page/0", True), ("page/1", True),
                                  *[(f"page/0/{k}", False) for k in range(parts)], ("program", True)]
    link.published.clear()
    driver.boards.publish(board, encoded)  # and back: page/0 deleted, page/1 too
    assert ("page/0", False) in topics(link, base) and ("page/1", False) in topics(link, base)


def test_the_board_says_how_much_it_takes_in_its_info() -> None:
    dep, _, driver = world()
    driver.boards.take(f"ledctl/v1/{dep.site.id}/{URBAN}/info", json.dumps({"max_message": 65536}).encode())
    assert driver.boards.state_of(URBAN).max_message == 65536
    driver.boards.take(f"ledctl/v1/{dep.site.id}/{URBAN}/info", json.dumps({"max_message": 100}).encode())
    assert driver.boards.state_of(URBAN).max_message == 16384  # never under the document's minimum


def screen_answer(image: Image.Image, program: str, **kw: Any) -> dict[str, Any]:
    buf = io.BytesIO()
    image.save(buf, "PNG")
    return {"id": "r-1", "program": program, "page": 0, "origin": [0, 0], "lit": True, "power": True,
            "png": base64.b64encode(buf.getvalue()).decode(), **kw}


def healthy(driver: LedctlMqttDriver, site: str, *, frames: int = 10) -> None:
    driver.boards.take(f"ledctl/v1/{site}/{URBAN}/status", b'{"state": "online", "program": "h"}')
    driver.boards.take(f"ledctl/v1/{site}/{URBAN}/telemetry",
                       json.dumps({"state": "online", "frames": frames, "interval": 60}).encode())


def test_a_read_back_that_matches_is_what_the_board_shows() -> None:
    dep, _, driver = world()
    page = noise(256, 128)
    program = Program(URBAN, (Page("p", page),))
    driver._programs[program.content_hash()] = program
    healthy(driver, dep.site.id)
    health = driver._judge_health(dep.board(URBAN), screen_answer(page, program.content_hash()))
    assert health.online and health.shows == program.content_hash()
    other = page.copy()
    other.putpixel((5, 5), (1, 1, 1))
    health = driver._judge_health(dep.board(URBAN), screen_answer(other, program.content_hash()))
    assert health.online and health.shows == "" and "differs from page 1 at [0, 0]" in health.detail


def test_alert_silence_stuck_frames_and_no_read_back_are_each_unhealthy() -> None:
    dep, _, driver = world()
    board = dep.board(URBAN)
    site = dep.site.id
    driver.boards.take(f"ledctl/v1/{site}/{URBAN}/status",
                       b'{"state": "alert", "program": "h", "error": "panel: row driver 3 failed"}')
    assert driver._judge_health(board, None).detail == "alert: panel: row driver 3 failed"
    healthy(driver, site)
    state = driver.boards.state_of(URBAN)
    state.telemetry_at = time.monotonic() - 151  # more than 2.5 x 60 s ago
    assert driver._judge_health(board, None).detail.startswith("silent: no telemetry for 151 s")
    healthy(driver, site, frames=10)
    state.frames_before = (10, time.monotonic() - 60)
    assert driver._judge_health(board, None).detail.startswith("renderer stuck: 10 frames")
    state.frames_before = (9, time.monotonic() - 60)
    verdict = driver._judge_health(board, "no screen read-back within 5 s")
    assert not verdict.online and "stuck renderer" in verdict.detail


def test_a_board_never_heard_from_since_the_controller_listens_is_silent() -> None:
    dep, _, driver = world()
    driver.boards.take(f"ledctl/v1/{dep.site.id}/{URBAN}/status", b'{"state": "online", "program": "h"}')
    driver.boards.listening_since = time.monotonic() - 200
    assert "silent" in driver._judge_health(dep.board(URBAN), None).detail


def test_a_manifest_is_the_whole_document_serialised_though_its_pages_are_shared() -> None:
    """Pages shared by boards are encoded once and their manifest entries spliced in: the manifest
    must still be exactly the document serialised at once, and its PNGs those of each page."""
    from datetime import UTC, datetime

    dep, _, _ = world()
    shared = (Page("今日空气", noise(64, 32), dwell_s=8.0),
              Page("scroll", noise(200, 32), effect="scroll-left", speed_px_s=24.0))
    for board in dep.boards_in("outdoor"):
        for expires in (None, datetime(2026, 11, 26, tzinfo=UTC)):
            program = Program(board.id, shared)
            encoded = encode(board, program, expires=expires, max_message=16384)
            entries = []
            for i, page in enumerate(shared):
                buffer = io.BytesIO()
                page.image.save(buffer, format="PNG", optimize=False)
                png = buffer.getvalue()
                parts = tuple(png[k:k + 16384] for k in range(0, len(png), 16384))
                assert encoded.pages[i] == parts
                entries.append({"index": i, "name": page.name, "effect": page.effect, "dwell": page.dwell_s,
                                "speed": page.speed_px_s, "width": page.image.width,
                                "height": page.image.height, "bytes": len(png), "parts": len(parts),
                                "sha256": hashlib.sha256(png).hexdigest()})
            whole = {"protocol": 1, "hash": program.content_hash(), "board": board.id,
                     "size": [board.size.width, board.size.height], "colour": board.colour.value,
                     "valid_from": None, "expires": expires.isoformat() if expires else None,
                     "pages": entries}
            assert encoded.manifest == json.dumps(whole, ensure_ascii=False, sort_keys=True).encode()
