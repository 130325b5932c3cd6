"""`ledctl demo`: the whole system on this machine — simulated monitoring centre, boards and broker,
and the service with its console on a day compressed into a few minutes."""

from __future__ import annotations

import argparse
import shlex
import sys
import threading
from datetime import datetime, time, timedelta
from pathlib import Path

from ledctl import config as config_mod
from ledctl.cli.common import claim_boards, config_arg
from ledctl.cli.serve import console_args, log_events, start_console, stop_on_signals
from ledctl.clock import Clock
from ledctl.errors import LedctlError
from ledctl.store import Store


def add_parsers(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    dm = sub.add_parser("demo", help="the whole system on this machine: simulated boards, broker and "
                                     "monitoring centre, and the service on a compressed schedule")
    config_arg(dm)
    dm.add_argument("--out", metavar="DIR", type=Path, default=Path("out/preview"),
                    help="where the preview pictures go (default out/preview)")
    until = dm.add_mutually_exclusive_group()
    until.add_argument("--once", action="store_true",
                       help="stop once every board confirmed (default: run until Ctrl-C)")
    until.add_argument("--for", dest="run_for", type=float, metavar="S", help="stop after S seconds")
    console_args(dm)
    dm.set_defaults(func=cmd_demo)


def _compressed(dep: config_mod.Deployment, now: datetime) -> config_mod.Deployment:
    """The day's schedule squeezed into a few minutes from `now`, so a demo shows it all."""
    from dataclasses import replace

    from ledctl.config import BrightnessStep

    base = (now.astimezone(dep.tz) + timedelta(minutes=1)).replace(second=0, microsecond=0)

    def at(minutes: int) -> time:
        return (base + timedelta(minutes=minutes)).time()

    compressed = replace(dep.schedule, fetch=at(0), broadcast=at(1), refresh=(at(3),),
                         brightness=(BrightnessStep(at(2), 40), BrightnessStep(at(4), 100)),
                         screen_off=at(3), screen_on=at(4), health_every_minutes=1, reassert_every_minutes=3)
    return replace(dep, schedule=compressed)


def _demo_login(state: Path, clock: Clock) -> str:
    """A first admin for the demo's console, its password in a file only its owner can read."""
    import secrets

    from ledctl.notices import audit
    from ledctl.notices.users import Users

    users = Users(state / "ledctl.sqlite")
    secret = state / "demo-password"
    if users.empty():
        password = secrets.token_urlsafe(12)
        secret.touch(mode=0o600)
        secret.chmod(0o600)
        secret.write_text(password + "\n", encoding="utf-8")
        now = clock.now()
        # The first admin is audited like every later user (nobody made it: the demo did).
        users.add("demo", "admin", password, now, None,
                  lambda db: audit.append(db, now, "ledctl demo", "user-add", "user:demo", None,
                                          {"role": "admin"}))
    if secret.exists():
        return f"log in as demo, the password is in {secret.resolve()}"
    return "log in as one of: " + ", ".join(u.name for u in users.list())


def cmd_demo(args: argparse.Namespace, clock: Clock) -> int:
    """The simulated world and the service, on a compressed schedule, until Ctrl-C."""
    import time as time_mod
    from urllib.parse import urlsplit

    from ledctl import pipeline, preview
    from ledctl.notices.items import notices_for
    from ledctl.service import Service, wait_confirmed
    from ledctl.simulator.data_server import DataServer
    from ledctl.simulator.fleet import Fleet
    from ledctl.state import secure_state, state_dir

    # Everything the demo shows comes from a simulated centre: every page says 示例数据.
    dep = config_mod.load(args.config).as_simulated()
    state = secure_state(state_dir(args.state))
    lock = claim_boards(args, clock, "demo")  # the one process that talks to these boards
    _broker_password(dep)
    stop = stop_on_signals()
    servers: list[DataServer] = []
    for source in dep.sources.values():
        url = str(source.options.get("url", "")) if source.type == "http" else ""
        parts = urlsplit(url)
        if parts.hostname in ("127.0.0.1", "localhost") and parts.port:
            server = DataServer(clock.now, port=parts.port)
            try:
                print(f"monitoring centre (simulated): {server.start()}", flush=True)
                servers.append(server)
            except OSError as e:
                print(f"ledctl demo: the simulated centre cannot listen on port {parts.port} ({e}); "
                      "the boards say 数据更新中 until it can", file=sys.stderr)
    fleet = Fleet(dep, clock=clock.now, state=state)
    fleet.build()
    faults_file = state / "sim" / "faults.toml"  # as `ledctl sim` does: faults by board, re-read
    result = {"ok": False}
    try:
        fleet.start()
        applied = _apply_faults(fleet, faults_file, {})
        if applied:
            print(f"faults now: {_faults_text(applied)} (from {faults_file})", flush=True)
        print(f"simulated boards: {len(fleet.boards)} on {len(fleet.wires)} serial wires and "
              f"{len(fleet.brokers) or 'an existing'} MQTT broker", flush=True)
        fleet.wait_ready(10)
        fleet.write_snapshots(state / "sim")
        demo = _compressed(dep, clock.now())
        s = demo.schedule
        print(f"service on a compressed day: fetch {s.fetch:%H:%M}, broadcast {s.broadcast:%H:%M}, "
              f"dim to 40 % {s.brightness[0].at:%H:%M}, screens off {s.screen_off:%H:%M} "
              f"and on at 100 % {s.screen_on:%H:%M}, health every minute ({dep.site.timezone})", flush=True)
        store = Store(state / "ledctl.sqlite")
        notices = notices_for(demo, store.path, clock)
        service = Service(demo, store, clock, notices=notices, state=state)
        console = start_console(args, demo, store, notices, clock, service, fleet, announce=False,
                                sim_faults=faults_file)
        if console is not None:
            login = _demo_login(state, clock)
            print(f"  the console:                  {console.url}/  ({login})"  # type: ignore[attr-defined]
                  f"\n  the simulated boards, live:   {console.url}/sim", flush=True)  # type: ignore[attr-defined]
        started = time_mod.monotonic()

        def watch() -> None:
            while not service.ready.wait(0.1) and not stop.is_set():
                pass
            ok = wait_confirmed(service, timedelta(seconds=120), lambda done, total: print(
                f"  confirmed {done}/{total} boards ({time_mod.monotonic() - started:.1f} s)", flush=True))
            result["ok"] = ok
            fleet.write_snapshots(state / "sim")
            if service.bulletin is not None:
                out: Path = args.out
                out.mkdir(parents=True, exist_ok=True)
                results = pipeline.render_fleet(dep, dep.boards, service.bulletin)
                gifs: dict[str, Path] = {}
                files = {r.board.id: preview.write_board(out, r, gifs) for r in results}
                index = preview.write_index(out, dep.site.name, service.bulletin, results, files)
                print(f"  what each board should show:  {index.resolve()}")
            print(f"  what each board shows now:    {(state / 'sim').resolve()}/<board>.png (every 2 s)")
            config = f" -c {shlex.quote(str(args.config))}" if args.config else ""
            where = f"--state {shlex.quote(str(state))}"
            print(f"  intended vs confirmed:        {command()} {where} boards{config}")
            print(f"  what a board plays when:      {command()} {where} timeline --board zbs-01{config}")
            print(f"  try a fault:                  the console's /sim page, or {faults_file} "
                  "(e.g. [zbs-05] offline = true)")
            print("  the service's log:            the lines above and below (event key=value)")
            if not ok:
                print("  not every board confirmed within 120 s: the console's fleet page says why, board by "
                      "board", flush=True)
            if args.once:
                stop.set()
                return
            print("running until Ctrl-C …", flush=True)

        def faults_and_snapshots() -> None:
            nonlocal applied
            while not stop.wait(2.0):
                fleet.write_snapshots(state / "sim")
                try:
                    wanted = _apply_faults(fleet, faults_file, applied)
                except LedctlError as e:
                    print(f"ledctl demo: {e}", file=sys.stderr, flush=True)
                    continue
                if wanted != applied:  # say so, and look at the boards now rather than at the next check
                    applied = wanted
                    print(f"faults now: {_faults_text(wanted)}", flush=True)
                    service.dispatcher.check_health()

        timer = threading.Timer(args.run_for or 0, stop.set)
        timer.daemon = True  # Ctrl-C before --for S is up must not leave the process waiting for it
        if args.run_for:
            timer.start()
        log_events(dep.tz)
        watcher = threading.Thread(target=watch, name="demo-watch", daemon=True)
        watcher.start()
        threading.Thread(target=faults_and_snapshots, name="demo-faults", daemon=True).start()
        try:
            service.serve(stop)
        finally:
            timer.cancel()
            if console is not None:
                console.stop()  # type: ignore[attr-defined]
        watcher.join(timeout=5)
        fleet.write_snapshots(state / "sim")
        return 0 if result["ok"] else 1
    finally:
        fleet.stop()
        for server in servers:
            server.stop()
        lock.release()


def _apply_faults(fleet: object, path: Path, applied: dict[str, dict[str, object]]
                  ) -> dict[str, dict[str, object]]:
    """The faults `path` says (none when it is absent), applied to the fleet when they changed."""
    from ledctl.simulator.fleet import apply_faults, read_faults

    wanted = read_faults(path)
    if wanted != applied:
        apply_faults(fleet, wanted)  # type: ignore[arg-type]
    return wanted


def _faults_text(faults: dict[str, dict[str, object]]) -> str:
    shown = [f"{board} " + " ".join(f"{k}={v}" for k, v in f.items()) for board, f in faults.items() if f]
    return "; ".join(shown) or "none"


def command() -> str:
    """How to run this ledctl again from this shell, as typed: `ledctl` when the one on the PATH is this
    one (an activated venv), else its path (`.venv/bin/ledctl`), else `python -m ledctl` with this
    Python."""
    import shutil

    here = Path(sys.executable).parent
    found = shutil.which("ledctl")
    if found and Path(found).parent.resolve() == here.resolve():
        return "ledctl"
    script = here / "ledctl"
    if script.exists():
        return _as_typed(script)
    return f"{_as_typed(Path(sys.executable))} -m ledctl"


def _as_typed(path: Path) -> str:
    """A path a shell runs as typed: relative to here when that is short (.venv/bin/ledctl), else whole."""
    import os

    try:
        relative = os.path.relpath(path)
    except ValueError:
        return str(path)
    if relative.startswith(".."):
        return str(path.absolute())
    return relative if "/" in relative else f"./{relative}"


def _broker_password(dep: config_mod.Deployment) -> None:
    """The demo's broker and service share one process: make the controller's broker password for
    this run when the environment has none (the simulated broker is made with it)."""
    import os
    import secrets

    for link in dep.links.values():
        if link.username and link.password_env and not os.environ.get(link.password_env):
            os.environ[link.password_env] = secrets.token_urlsafe(16)
