"""Serial benchmark: the 40 community boards on simulated 9600-baud wires.

Prints, for a bitmap broadcast and for a short urgent text, the time until every
board confirmed, against the physical minimum: the bytes that crossed each wire
(both directions: RS-485 is half duplex) × 10 bits / 9600 baud, wires in parallel.

    python bench/bx_serial.py
"""

from __future__ import annotations

import sys
import time
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path

from PIL import Image

from ledctl import config, pipeline
from ledctl.delivery import deliver_once as deliver
from ledctl.drivers.base import Content
from ledctl.model import Page, Program
from ledctl.simulator.fleet import Fleet

REPO = Path(__file__).resolve().parent.parent


def run(fleet: Fleet, contents: dict[str, Content]) -> tuple[float, float, int, int]:
    for wire in fleet.wires.values():
        wire.stats.bytes_to_devices = wire.stats.bytes_from_devices = 0
    dep = fleet.rewired()
    boards = dep.boards_in("community")
    start = time.monotonic()
    results = deliver(dep, boards, contents)
    took = time.monotonic() - start
    physical = max((w.stats.bytes_to_devices + w.stats.bytes_from_devices) * 10 / w.baud
                   for w in fleet.wires.values())
    total = sum(w.stats.bytes_to_devices + w.stats.bytes_from_devices for w in fleet.wires.values())
    return took, physical, sum(1 for r in results if r.ok), total


def main() -> int:
    dep = config.load(REPO / "config" / "zhenhai.toml").with_sample_data()
    fleet = Fleet(dep, clock=lambda: datetime.now(UTC))
    fleet.build({b.id for b in dep.boards_in("community")})
    fleet.start(ephemeral=True)
    try:
        boards = dep.boards_in("community")
        bulletin = pipeline.bulletin_at(dep, pipeline.broadcast_instant(dep, date(2026, 11, 25)))
        rendered = pipeline.render_fleet(dep, boards, bulletin)
        programs = {r.board.id: Content(program=r.program) for r in rendered}
        # Every page of every board's loop: a BX card holds one picture, so the host sends each page
        # in turn (the dwell between them is the loop's, not the wire's: it is not counted).
        pages = max(len(c.program.pages) for c in programs.values())
        took = physical = 0.0
        ok, total = 40, 0
        for i in range(pages):
            page_i = {b: replace(c, page=min(i, len(c.program.pages) - 1)) for b, c in programs.items()}
            t, p, k, n = run(fleet, page_i)
            took, physical, ok, total = took + t, physical + p, min(ok, k), total + n
        busiest = max(fleet.wires.values(), key=lambda w: w.stats.bytes_to_devices)
        print("## serial (40 community boards, simulated 9600-baud wires)")
        print(f"- bitmap broadcast, every page of the loop ({pages} pages): {ok}/40 confirmed in "
              f"{took:.2f} s of wire work; physical minimum {physical:.2f} s (busiest wire {busiest.name}: "
              f"{len(busiest.devices)} boards); ratio {took / physical:.3f} (goal <= 1.15); "
              f"{total:,} bytes on all wires")
        blank = {b.id: Program(b.id, (Page("notice", Image.new("RGB", (b.size.width, b.size.height))),))
                 for b in boards}
        words = "重污染天气预警 减少户外活动"
        text = {b.id: Content(blank[b.id], text=words, lifetime_s=3600) for b in boards}
        took_t, physical_t, ok_t, total_t = run(fleet, text)
        print(f"- urgent text (card font, fast path): {ok_t}/40 confirmed in {took_t:.2f} s "
              f"(goal <= 2 s); physical minimum {physical_t:.2f} s; ratio {took_t / physical_t:.3f}; "
              f"{total_t:,} bytes on all wires")
        good = ok == 40 and ok_t == 40 and took / physical <= 1.15 and took_t <= 2.0
    finally:
        fleet.stop()
    return 0 if good else 1


if __name__ == "__main__":
    sys.exit(main())
