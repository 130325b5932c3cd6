"""The command line as office staff meet it (issue 18): `ledctl demo` run twice on one state directory
(its log one line per meaningful event, in local time; its banner's commands work as typed; it honours
STATE/sim/faults.toml; after a restart it counts only what this run confirmed), `ledctl timeline` asking
the running service, `ledctl audit show` in local time, and `ledctl preview` saying why a day has no
data and how to see the showcase day. Loopback only, every port free."""

from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from .conftest import free_ports

REPO = Path(__file__).resolve().parents[2]
TZ = ZoneInfo("Asia/Shanghai")
pytestmark = pytest.mark.slow


def ledctl(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "ledctl", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=300, env={**os.environ, **(env or {})})


def site_config(folder: Path) -> Path:
    """The Zhenhai config on free loopback ports, its centre simulated by the demo (示例数据)."""
    text = (REPO / "config" / "zhenhai.toml").read_text(encoding="utf-8")
    ports = iter(free_ports(len(re.findall(r"socket://127\.0\.0\.1:\d+", text)) + 2))
    text = re.sub(r"socket://127\.0\.0\.1:\d+", lambda m: f"socket://127.0.0.1:{next(ports)}", text)
    text = text.replace("mqtt://127.0.0.1:1883", f"mqtt://127.0.0.1:{next(ports)}")
    text = text.replace("http://127.0.0.1:17200/", f"http://127.0.0.1:{next(ports)}/")
    text = text.replace('"sample-data/', f'"{REPO}/config/sample-data/')
    text += f'\n[layouts]\ndir = "{REPO}/config/layouts"\n'
    path = folder / "site.toml"
    path.write_text(text, encoding="utf-8")
    return path


class Running:
    """A process whose output lines are collected as they come, to wait for one with a deadline."""

    def __init__(self, args: list[str], cwd: Path) -> None:
        self.proc = subprocess.Popen(args, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.out: list[str] = []
        self.err: list[str] = []
        for stream, lines in ((self.proc.stdout, self.out), (self.proc.stderr, self.err)):
            threading.Thread(target=self._read, args=(stream, lines), daemon=True).start()

    @staticmethod
    def _read(stream, lines: list[str]) -> None:  # type: ignore[no-untyped-def]
        for line in stream:
            lines.append(line.rstrip("\n"))

    def wait_for(self, pattern: str, lines: list[str], timeout_s: float = 90) -> str:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            for line in list(lines):
                if re.search(pattern, line):
                    return line
            if self.proc.poll() is not None and not any(re.search(pattern, x) for x in lines):
                time.sleep(0.5)  # let the readers finish
                if not any(re.search(pattern, x) for x in lines):
                    break
            time.sleep(0.2)
        pytest.fail(f"never printed {pattern!r}\nstdout:\n" + "\n".join(self.out) + "\nstderr:\n"
                    + "\n".join(self.err[-60:]))

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            self.proc.wait(timeout=60)
        time.sleep(0.3)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory):
    """`ledctl demo` with its console on a free port; while it runs: a fault written into
    STATE/sim/faults.toml and taken away again, a notice drafted, published and cancelled with the CLI,
    and `ledctl timeline` asked. Then stopped (Ctrl-C), and run again on the same state (--once)."""
    tmp = tmp_path_factory.mktemp("demo")
    site = site_config(tmp)
    state = tmp / "st"
    listen = f"127.0.0.1:{free_ports(1)[0]}"
    run = Running([sys.executable, "-m", "ledctl", "--state", str(state), "demo", "-c", str(site), "--out",
                   str(tmp / "pv"), "--listen", listen], cwd=tmp)
    found: dict[str, object] = {"site": site, "state": state, "tmp": tmp, "run": run}
    try:
        run.wait_for(r"running until Ctrl-C", run.out, 180)
        faults = state / "sim" / "faults.toml"
        faults.write_text("[zbs-05]\noffline = true\n", encoding="utf-8")
        run.wait_for(r"faults now: zbs-05 offline=True", run.out)
        run.wait_for(r" board-offline board=zbs-05", run.err)
        faults.write_text("", encoding="utf-8")
        run.wait_for(r"faults now: none", run.out)
        run.wait_for(r" board-back board=zbs-05", run.err)

        password = (state / "demo-password").read_text(encoding="utf-8").strip()
        env = {"LEDCTL_PASSWORD": password}
        base = ["--state", str(state), "--as", "demo", "notice"]
        drafted = ledctl(*base, "draft", "-c", str(site), "--template", "heavy-pollution", "--slot",
                         "level=红色", "--target", "all", "--end", "+1h", cwd=tmp, env=env)
        assert drafted.returncode == 0, drafted.stderr
        number = re.search(r"notice (\d+) drafted", drafted.stdout).group(1)  # type: ignore[union-attr]
        published = ledctl(*base, "publish", "-c", str(site), number, cwd=tmp, env=env)
        assert published.returncode == 0, published.stderr
        run.wait_for(rf" delivered what=notice:{number} boards=42", run.err)
        found["timeline"] = ledctl("--state", str(state), "timeline", "-c", str(site), "--board", "zbs-01",
                                   cwd=tmp)
        cancelled = ledctl(*base, "cancel", "-c", str(site), number, "--reason", "演示结束", cwd=tmp, env=env)
        assert cancelled.returncode == 0, cancelled.stderr
        run.wait_for(rf"notice-cancelled notice={number}", run.err)
        found["audit"] = ledctl("--state", str(state), "audit", "show", cwd=tmp)
    finally:
        run.stop()
    again = ledctl("--state", str(state), "demo", "-c", str(site), "--out", str(tmp / "pv"), "--listen",
                   f"127.0.0.1:{free_ports(1)[0]}", "--once", cwd=tmp)
    found["again"] = again
    return found


def test_the_demo_logs_one_line_per_meaningful_event_in_local_time(demo) -> None:
    run: Running = demo["run"]  # type: ignore[assignment]
    lines = [line for line in run.err if re.match(r"\d{4}-\d{2}-\d{2}T", line)]
    assert lines, run.err
    now = datetime.now(TZ)
    for line in lines:
        stamp = datetime.fromisoformat(line.split(" ", 1)[0])
        assert stamp.utcoffset() == timedelta(hours=8), line  # Beijing time, said so
        assert abs(stamp - now) < timedelta(minutes=30), line
    text = "\n".join(lines)
    for name in ("notice-drafted", "notice-published", "notice-cancelled"):
        assert len(re.findall(rf" {name} notice=", text)) == 1, (name, text)
    assert re.search(r" notice-published notice=\d+ by=demo title=重污染天气红色预警", text), text
    assert re.search(r" delivered what=bulletin@\S+ boards=42", text), text
    # No per-board routine: no line for each page, intent, setting, re-confirmation or link.
    for routine in (r" page board=", r" intended board=", r" settings board=", r" confirmed board=",
                    r"link \S+: opened", r"link \S+: connected", r"job job=health"):
        assert not re.search(routine, text), routine
    assert len(lines) < 80, text


def test_the_banner_prints_commands_that_work_as_typed(demo) -> None:
    run: Running = demo["run"]  # type: ignore[assignment]
    for label in ("intended vs confirmed:", "what a board plays when:"):
        line = next(line for line in run.out if label in line)
        typed = line.split(label, 1)[1].strip()
        result = subprocess.run(shlex.split(typed), cwd=demo["tmp"],
                                capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, (typed, result.stderr)


def test_the_demo_honours_its_faults_file(demo) -> None:
    run: Running = demo["run"]  # type: ignore[assignment]
    text = "\n".join(run.err)
    assert len(re.findall(r"WARNING ledctl.service board-offline board=zbs-05", text)) == 1, text
    assert len(re.findall(r" board-back board=zbs-05", text)) == 1, text


def test_timeline_asks_the_running_service(demo) -> None:
    run: Running = demo["run"]  # type: ignore[assignment]
    banner = next(line for line in run.out if line.startswith("service on a compressed day"))
    off, on = re.search(r"screens off (\d\d:\d\d) and on at 100 % (\d\d:\d\d)", banner).groups()  # type: ignore[union-attr]
    timeline = demo["timeline"]
    assert timeline.returncode == 0, timeline.stderr  # type: ignore[attr-defined]
    out = timeline.stdout  # type: ignore[attr-defined]
    assert "(from ledctl demo" in out, out
    # The compressed day the demo plays, not the shipped schedule (screens off 22:30).
    assert re.search(rf"\d\d-\d\d {off} – \d\d-\d\d {on} .*screen off", out), out
    assert "notice:" in out, out  # the notice it was showing then


def test_audit_show_prints_local_times_and_the_first_admin(demo) -> None:
    audit = demo["audit"]
    assert audit.returncode == 0, audit.stderr  # type: ignore[attr-defined]
    lines = audit.stdout.splitlines()  # type: ignore[attr-defined]
    first = next(line for line in lines if "user-add" in line)
    assert "user:demo" in first and "ledctl demo" in first
    stamp = datetime.strptime(" ".join(first.split()[1:3]), "%Y-%m-%d %H:%M:%S").replace(tzinfo=TZ)
    assert abs(stamp - datetime.now(TZ)) < timedelta(minutes=30), first  # Beijing time, not UTC


def test_a_restarted_demo_counts_only_what_this_run_confirmed(demo) -> None:
    again = demo["again"]
    assert again.returncode == 0, again.stdout + again.stderr  # type: ignore[attr-defined]
    counts = [tuple(map(int, m.groups())) for m in
              re.finditer(r"confirmed (\d+)/(\d+) boards", again.stdout)]  # type: ignore[attr-defined]
    assert counts[-1] == (42, 42)
    # The boards start blank (a new simulator): the first count cannot be all of them, whatever the
    # store remembers from the first run.
    assert counts[0][0] < 42, again.stdout  # type: ignore[attr-defined]


def test_preview_says_why_a_day_has_no_data_and_the_showcase_works_with_a_centre_running(tmp_path) -> None:
    from ledctl.simulator.data_server import DataServer

    site = site_config(tmp_path)
    port = int(re.search(r"http://127\.0\.0\.1:(\d+)/", site.read_text(encoding="utf-8")).group(1))  # type: ignore[union-attr]
    for centre in (False, True):
        server = DataServer(lambda: datetime.now(TZ), port=port) if centre else None
        if server is not None:
            server.start()
        try:
            showcase = ledctl("--state", str(tmp_path / "st"), "preview", "-c", str(site), "--sample-data",
                              "--date", "2026-12-20", "--group", "outdoor", "--out", str(tmp_path / "pv"),
                              cwd=tmp_path)
            plain = ledctl("--state", str(tmp_path / "st"), "preview", "-c", str(site), "--date",
                           "2026-12-20", "--group", "outdoor", "--out", str(tmp_path / "pv"), cwd=tmp_path)
        finally:
            if server is not None:
                server.stop()
        assert showcase.returncode == 0 and "AQI 202 重度污染" in showcase.stdout, showcase.stdout
        assert "数据更新中" in plain.stdout
        assert "ledctl preview --sample-data --date 2026-12-20" in plain.stdout, plain.stdout
