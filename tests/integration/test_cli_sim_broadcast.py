"""`ledctl sim` and `ledctl broadcast` as a user runs them, in two processes, over TCP."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from PIL import Image

REPO = Path(__file__).resolve().parents[2]


def ledctl(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "ledctl", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=300)


def boards_by_id(state: str, site: Path, cwd: Path) -> dict[str, dict]:
    run = ledctl("--state", state, "boards", "-c", str(site), "--json", cwd=cwd)
    assert run.returncode == 0, run.stderr
    return {entry["board"]: entry for entry in json.loads(run.stdout)}


@pytest.fixture
def simulator(site: Path, tmp_path: Path):
    proc = subprocess.Popen([sys.executable, "-m", "ledctl", "--state", str(tmp_path / "state"), "sim",
                             "-c", str(site), "--json", "--snapshot-every", "0.2"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path)
    lines = []
    for _ in range(42):
        line = proc.stdout.readline()
        if not line:
            proc.wait(timeout=10)
            pytest.fail(f"ledctl sim ended early: {proc.stderr.read()}")
        lines.append(json.loads(line))
    yield proc, lines
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=20)


def test_sim_lists_every_board_and_broadcast_confirms_the_community(simulator, site, tmp_path) -> None:
    proc, lines = simulator
    assert {line["board"] for line in lines} >= {f"zbs-{n:02d}" for n in range(1, 41)}
    community = [line for line in lines if line["board"].startswith("zbs-")]
    assert all(line["simulated"] and line["listen"].startswith("socket://127.0.0.1:") for line in community)
    assert {line["driver"] for line in community} == {"onbon-bx"}

    state = str(tmp_path / "ctl")
    run = ledctl("--state", state, "broadcast", "-c", str(site), "--group", "community",
                 "--date", "2026-11-25", cwd=tmp_path)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "40/40 confirmed" in run.stdout
    assert len(re.findall(r"^zbs-\d+\s+confirmed", run.stdout, re.MULTILINE)) == 40  # the table, a row each

    # The proof of display: every confirmed delivery is in the store, and `ledctl boards` shows it.
    shown = boards_by_id(state, site, tmp_path)
    assert all(shown[f"zbs-{n:02d}"]["confirmed"] for n in range(1, 41))
    assert shown["zbs-01"]["online"] is True and shown["zbs-01"]["last_confirmed"]
    assert shown["outdoor-urban"]["confirmed"] is None

    # Every page went up for its dwell (issue 16.1) and the card keeps the last one, pixel for pixel
    # as previewed: with no service running, nothing plays the loop on.
    assert "keep their last page" in run.stdout
    assert all(shown[f"zbs-{n:02d}"]["pages"] == [2, 2] for n in range(1, 41))
    shot = tmp_path / "state" / "sim" / "zbs-01.png"
    preview = ledctl("preview", "-c", str(site), "--board", "zbs-01", "--date", "2026-11-25",
                     "--out", str(tmp_path / "pv"), cwd=tmp_path)
    assert preview.returncode == 0
    pages = sorted(p for p in (tmp_path / "pv" / "zbs-01").glob("*.png") if not p.name.endswith(".led.png"))
    assert len(pages) == 2
    expected = Image.open(pages[-1]).convert("RGB").tobytes()
    # The simulator writes its boards' pictures every 2 s, in its own process: on a busy machine (four
    # test workers on two cores) the one after the last page can take a while.
    deadline = time.monotonic() + 45
    while time.monotonic() < deadline:
        if shot.exists() and Image.open(shot).convert("RGB").tobytes() == expected:
            break
        time.sleep(0.2)
    assert Image.open(shot).convert("RGB").tobytes() == expected

    # The outdoor screens: ledctl-mqtt, through the broker the simulator started.
    outdoor = [line for line in lines if line["board"].startswith("outdoor-")]
    assert all(line["simulated"] and line["listen"].startswith("mqtt://127.0.0.1:") for line in outdoor)
    run = ledctl("broadcast", "-c", str(site), "--group", "outdoor", "--date", "2026-11-25", cwd=tmp_path)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "2/2 confirmed" in run.stdout

    # Urgent text: the cards' own font, tens of bytes each.
    run = ledctl("broadcast", "-c", str(site), "--group", "community", "--text", "重污染天气预警",
                 "--timeout", "600", cwd=tmp_path)
    assert run.returncode == 0, run.stdout + run.stderr
    assert re.search(r"zbs-01\s+confirmed\s+text", run.stdout)

    # A fault switched on while the simulator runs: that board is reported, not assumed.
    (tmp_path / "state" / "sim" / "faults.toml").write_text("[zbs-05]\noffline = true\n")
    while json.loads(proc.stdout.readline()) != {"faults": {"zbs-05": {"offline": True}}}:
        pass  # the simulator says when it has taken the fault in
    run = ledctl("--state", state, "broadcast", "-c", str(site), "--board", "zbs-05", "--date", "2026-11-25",
                 cwd=tmp_path)
    assert run.returncode == 1
    assert "offline" in run.stdout and "0/1 confirmed" in run.stdout
    zbs05 = boards_by_id(state, site, tmp_path)["zbs-05"]
    assert zbs05["failures"] == 1 and zbs05["last_error"].startswith("offline")
    assert zbs05["online"] is False
    assert zbs05["confirmed"]  # still known: what it confirmed before stays the proof of what it shows

    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=20) == 0


def test_broadcast_without_a_simulator_says_the_link_failed(site, tmp_path) -> None:
    run = ledctl("broadcast", "-c", str(site), "--board", "zbs-12", "--date", "2026-11-25", cwd=tmp_path)
    assert run.returncode == 1
    assert re.search(r"^zbs-12\s+link: .*cannot", run.stdout, re.MULTILINE) and "Traceback" not in run.stderr


def test_broadcast_while_a_service_runs_asks_the_service(site, tmp_path) -> None:
    """One delivery path: a running service owns the wires; broadcast asks it and opens nothing."""
    from ledctl.state import answer, claim_boards, pending_requests

    state = tmp_path / "st"
    lock = claim_boards(state, "serve", "2026-11-25T08:00:00+08:00")  # as `ledctl serve` holds it
    try:
        def the_service() -> None:  # what Service.handle_requests does, without boards to drive
            while True:
                for request in pending_requests(state):
                    answer(state, request["id"], {"ok": True})
                    return
                time.sleep(0.05)

        threading.Thread(target=the_service, daemon=True).start()
        run = subprocess.run(
            [sys.executable, "-m", "ledctl", "--state", str(state), "broadcast", "-c", str(site),
             "--board", "zbs-12", "--wait", "0.5"],
            cwd=tmp_path, capture_output=True, text=True, timeout=300,
            env={**os.environ, "PATH": "/usr/bin:/bin"},
        )
        assert "drives these boards: asked it to broadcast now" in run.stdout, run.stdout + run.stderr
        assert "link" not in run.stdout  # it never tried the wire itself (nothing listens there)
        text = subprocess.run([sys.executable, "-m", "ledctl", "--state", str(state), "broadcast", "-c",
                               str(site), "--text", "注意"], cwd=tmp_path, capture_output=True, text=True)
        assert text.returncode == 2 and "publish a notice instead" in text.stderr
    finally:
        lock.release()


def test_dry_run_sends_nothing(site, tmp_path) -> None:
    run = ledctl("broadcast", "-c", str(site), "--group", "community", "--dry-run", cwd=tmp_path)
    assert run.returncode == 0 and "nothing sent" in run.stdout


def test_demo_runs_the_whole_chain(site, tmp_path) -> None:
    run = ledctl("--state", str(tmp_path / "st"), "demo", "-c", str(site), "--out", str(tmp_path / "pv"),
                 "--listen", "127.0.0.1:0", "--once", cwd=tmp_path)  # a free port, never the default
    assert run.returncode == 0, run.stdout + run.stderr
    assert "confirmed 42/42 boards" in run.stdout
    assert " stopped" in run.stderr  # the service shut down cleanly
    pages = sorted(p for p in (tmp_path / "pv" / "zbs-01").glob("*.png") if not p.name.endswith(".led.png"))
    shown = Image.open(tmp_path / "st" / "sim" / "zbs-01.png").convert("RGB").tobytes()
    # What the board shows is a page rendered for it (the host plays the loop on: which one depends on
    # when the demo stopped, on its compressed clock).
    assert len(pages) == 2 and shown in [Image.open(p).convert("RGB").tobytes() for p in pages]
    proof = json.loads(ledctl("--state", str(tmp_path / "st"), "boards", "-c", str(site), "--json",
                              cwd=tmp_path).stdout)
    assert len(proof) == 42
    assert all(entry["confirmed"] == entry["intended"] and entry["online"] for entry in proof)


def test_a_text_timeout_beyond_what_a_card_holds_is_a_clear_error() -> None:
    run = subprocess.run([sys.executable, "-m", "ledctl", "broadcast", "--text", "空气质量", "--timeout",
                          "86400", "--dry-run"], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert run.returncode == 2 and "1..65535" in run.stderr and "Traceback" not in run.stderr
