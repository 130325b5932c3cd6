"""`ledctl sim`: the simulated boards of a config (with fault injection), or the simulated monitoring
centre (`ledctl sim data-server`), until Ctrl-C."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ledctl import config as config_mod
from ledctl.cli.common import config_arg, date_arg
from ledctl.clock import Clock
from ledctl.errors import LedctlError


def add_parsers(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    sim = sub.add_parser("sim", help="run the simulated boards of a config, or the fake monitoring "
                                     "centre (`ledctl sim data-server`), until Ctrl-C")
    sim.add_argument("what", nargs="?", choices=["boards", "data-server"], default="boards",
                     help="what to simulate (default: boards)")
    sim.add_argument("--port", type=int, default=17200, help="data-server: the loopback port")
    sim.add_argument("--today", type=date_arg, help="data-server: a fixed 'today' (default: the clock)")
    sim.add_argument("--token", help="data-server: require 'Authorization: Bearer TOKEN'")
    config_arg(sim)
    sim.add_argument("--json", action="store_true", help="one JSON object per board when ready")
    sim.add_argument("--corrupt", type=float, metavar="P", default=0.0,
                     help="damage this fraction of bytes on every wire (e.g. 0.01)")
    sim.add_argument("--offline", metavar="ID", action="append", default=[],
                     help="this board does not answer (repeatable)")
    sim.add_argument("--faults", metavar="FILE", type=Path,
                     help="faults by board, re-read while running (default STATE/sim/faults.toml): "
                          "[zbs-01] offline = true / busy = true / corrupt = 0.05 / delay = 0.5")
    sim.add_argument("--pty", action="store_true", help="serve each wire on a pseudo-terminal, not TCP")
    sim.add_argument("--snapshot-every", type=float, metavar="S", default=2.0,
                     help="write what each board shows as PNG to STATE/sim every S seconds")
    sim.set_defaults(func=cmd_sim)


def cmd_sim(args: argparse.Namespace, clock: Clock) -> int:
    import signal
    import threading

    if args.what == "data-server":
        from ledctl.simulator import data_server

        argv = ["--port", str(args.port)]
        argv += ["--today", args.today.isoformat()] if args.today else []
        argv += ["--token", args.token] if args.token else []
        return data_server.main(argv)

    from ledctl.simulator.fleet import Fleet, apply_faults, read_faults
    from ledctl.state import state_dir

    dep = config_mod.load(args.config)
    fleet = Fleet(dep, clock=clock.now, state=state_dir(args.state))
    fleet.build()
    snapshots = state_dir(args.state) / "sim"
    faults_file: Path = args.faults or snapshots / "faults.toml"

    def faults_now() -> dict[str, dict[str, object]]:
        faults = read_faults(faults_file)
        for board_id in args.offline:
            faults.setdefault(board_id, {})["offline"] = True
        if args.corrupt:
            for board_id in fleet.boards:
                faults.setdefault(board_id, {}).setdefault("corrupt", args.corrupt)
        return faults

    apply_faults(fleet, faults_now())
    fleet.start(pty=args.pty)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    try:
        for board in dep.boards:
            sim = fleet.boards.get(board.id)
            listen = sim.listen if sim else dep.links[board.link].url
            note = "" if sim else f"not simulated (no simulator for driver {board.driver} yet)"
            if args.json:
                print(json.dumps({"board": board.id, "driver": board.driver, "listen": listen,
                                  "address": board.address, "simulated": sim is not None},
                                 ensure_ascii=False), flush=True)
            else:
                address = f" #{board.address}" if board.address is not None else ""
                print(f"{board.id:<18} {board.driver:<12} {listen}{address} {note}".rstrip(), flush=True)
        if not args.json:
            print(f"ready: {len(fleet.boards)} simulated boards on {len(fleet.wires)} wires; "
                  f"snapshots in {snapshots}/; faults from {faults_file}; Ctrl-C stops", flush=True)
        applied = faults_now()
        while not stop.wait(args.snapshot_every):
            fleet.write_snapshots(snapshots)
            try:
                wanted = faults_now()  # faults can change while the simulator runs
                apply_faults(fleet, wanted)
            except LedctlError as e:
                print(f"ledctl sim: {e}", file=sys.stderr, flush=True)
                continue
            if wanted != applied:  # say so: whoever watches (a person, a test) knows when it holds
                applied = wanted
                if args.json:
                    print(json.dumps({"faults": wanted}, ensure_ascii=False), flush=True)
                else:
                    print(f"faults now: {_faults_text(wanted)}", flush=True)
        fleet.write_snapshots(snapshots)
    finally:
        fleet.stop()
    return 0


def _faults_text(faults: dict[str, dict[str, object]]) -> str:
    shown = [f"{board} " + " ".join(f"{k}={v}" for k, v in f.items()) for board, f in faults.items() if f]
    return "; ".join(shown) or "none"
