"""`ledctl serve` killed with SIGKILL in the middle of a broadcast, then started again.

Every board must end confirmed on its intended program, and the proof-of-display log
must have no duplicate and no gap. Real processes, real TCP wires paced at the baud
rate, a real Mosquitto.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from ledctl import config
from ledctl.clock import SystemClock
from ledctl.simulator.bx_card import BxCard
from ledctl.simulator.fleet import Fleet
from ledctl.simulator.mqtt_board import BoardLogic

pytestmark = pytest.mark.skipif(not __import__("shutil").which("mosquitto"), reason="needs mosquitto")


def serve(site: Path, state: Path, log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "ledctl", "--state", str(state), "serve", "-c", str(site), "--listen", "off"],
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
        cwd=state.parent,
    )


def displays(state: Path) -> list[tuple[int, str, str]]:
    db = state / "ledctl.sqlite"
    if not db.exists():
        return []
    try:
        with sqlite3.connect(db, timeout=5) as con:
            return con.execute("SELECT seq, board, program FROM displays ORDER BY seq").fetchall()
    except sqlite3.OperationalError:  # the service has not made its tables yet
        return []


def boards(site: Path, state: Path) -> list[dict]:
    run = subprocess.run(
        [sys.executable, "-m", "ledctl", "--state", str(state), "boards", "-c", str(site), "--json"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=state.parent,
    )
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout)


def test_sigkill_mid_broadcast_then_restart(site: Path, tmp_path: Path) -> None:
    # No scheduled broadcast near now: the first start's broadcast is the only one in this test.
    later = (datetime.now(ZoneInfo("Asia/Shanghai")) + timedelta(hours=12)).strftime("%H:%M")
    text = site.read_text(encoding="utf-8")
    text = re.sub(r'(?m)^(fetch|broadcast) = "\d\d:\d\d"', lambda m: f'{m.group(1)} = "{later}"', text)
    text = re.sub(r"(?m)^refresh = .*$", "refresh = []", text)
    site.write_text(text, encoding="utf-8")
    dep = config.load(site)
    fleet = Fleet(dep, clock=SystemClock().now, pace=True, state=tmp_path / "sim")
    fleet.build()
    fleet.start()
    state = tmp_path / "state"
    log = tmp_path / "serve.log"
    try:
        for sim in fleet.boards.values():
            if sim.client is not None and hasattr(sim.client, "wait_ready"):
                sim.client.wait_ready(10)
        for board_id in ("zbs-01", "zbs-02", "zbs-03", "zbs-04"):  # bus-a answers slowly: a long broadcast
            fleet.set_fault(board_id, delay_s=0.3)

        first = serve(site, state, log)
        deadline = time.monotonic() + 120
        while len(displays(state)) < 3 and time.monotonic() < deadline and first.poll() is None:
            time.sleep(0.02)
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
        confirmed_before = {board for _, board, _ in displays(state)}
        assert 3 <= len(confirmed_before) < 42, log.read_text()  # killed in the middle

        second = serve(site, state, log)
        try:
            deadline = time.monotonic() + 180
            while time.monotonic() < deadline:
                rows = boards(site, state)
                if all(r["confirmed"] and r["confirmed"] == r["intended"] for r in rows):
                    break
                time.sleep(1)
            else:
                pytest.fail("not every board confirmed after the restart:\n" + log.read_text()[-3000:])
        finally:
            second.send_signal(signal.SIGTERM)
            assert second.wait(timeout=60) == 0  # a clean shutdown
        assert "stopped" in log.read_text()

        rows = {r["board"]: r for r in boards(site, state)}
        proof = displays(state)
        for board in dep.boards:
            mine = [program for _, b, program in proof if b == board.id]
            assert mine, f"{board.id}: no proof of display (a gap)"
            assert all(a != b for a, b in itertools.pairwise(mine)), f"{board.id}: duplicate rows {mine}"
            assert mine[-1] == rows[board.id]["intended"] == rows[board.id]["confirmed"]
            assert rows[board.id]["last_confirmed"] is not None
            # What the simulated board physically shows is that program.
            device = fleet.boards[board.id].device
            if isinstance(device, BoardLogic):
                assert device.program_hash == rows[board.id]["intended"]
            else:
                assert isinstance(device, BxCard) and device.bitmap is not None, (
                    board.id
                )  # (screen may be off)
        # No confirmation went unrecorded: every confirmed delivery is in the proof of display.
        with sqlite3.connect(state / "ledctl.sqlite") as con:
            delivered = set(con.execute("SELECT board, program FROM deliveries WHERE ok = 1").fetchall())
        assert delivered <= {(b, p) for _, b, p in proof}
    finally:
        fleet.stop()
        for proc_log in (log,):
            if os.environ.get("LEDCTL_TEST_VERBOSE"):
                print(proc_log.read_text())
