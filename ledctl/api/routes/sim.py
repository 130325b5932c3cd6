"""The demo's simulated boards, live: what each one shows now, and switches to try a fault — take a
board offline, make it busy, make its wire noisy or slow, cut its power — and bring it back
(`ledctl demo` has a fleet; elsewhere 404). The switches write `STATE/sim/faults.toml`, the file
`ledctl sim` and `ledctl demo` both honour, so a fault set here and one written by hand are the same."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse
from pydantic import Field, StrictBool

from ledctl.api.deps import ERRORS, BoardId, Console, ConsoleDep, Input, Operator, page_user
from ledctl.api.routes.boards import board_rows
from ledctl.api.routes.pages import lang_of, page

router = APIRouter()
_lock = threading.Lock()


class FaultIn(Input):
    offline: StrictBool = False
    busy: StrictBool = False
    corrupt: Annotated[float, Field(ge=0.0, le=0.5)] = 0.0
    delay: Annotated[float, Field(ge=0.0, le=5.0)] = 0.0
    power_cycle: StrictBool = False


def _fleet(console: Console) -> Any:
    if console.fleet is None:
        raise HTTPException(404, "no simulated board here (the demo has them)")
    return console.fleet


def read(console: Console) -> dict[str, dict[str, object]]:
    from ledctl.simulator.fleet import read_faults

    if console.sim_faults is None:
        return dict(console.sim_faults_now)
    return read_faults(console.sim_faults)


def write(console: Console, faults: dict[str, dict[str, object]]) -> None:
    """The faults as `faults.toml` says them (the demo re-reads it), applied to the fleet at once."""
    from ledctl.simulator.fleet import apply_faults

    faults = {b: f for b, f in faults.items() if f}
    if console.sim_faults is not None:
        lines = ["# Faults of the simulated boards: written by the console's /sim switches, re-read by",
                 "# ledctl demo and ledctl sim while they run. Delete a table to bring the board back.", ""]
        for board, f in sorted(faults.items()):
            lines.append(f"[{board}]")
            lines += [f"{k} = {str(v).lower() if isinstance(v, bool) else v}" for k, v in f.items()]
            lines.append("")
        path: Path = console.sim_faults
        path.parent.mkdir(parents=True, exist_ok=True)
        temp = path.with_suffix(".tmp")
        temp.write_text("\n".join(lines), encoding="utf-8")
        temp.replace(path)
    else:
        console.sim_faults_now = faults
    apply_faults(console.fleet, faults)


@router.get("/api/sim/faults", responses=ERRORS)
def faults(user: Operator, console: ConsoleDep) -> dict[str, dict[str, object]]:
    _fleet(console)
    return read(console)


@router.post("/api/sim/{board_id}/fault", responses=ERRORS)
def set_fault(board_id: BoardId, body: FaultIn, user: Operator, console: ConsoleDep) -> dict[str, Any]:
    """Set one simulated board's faults (all false and zero: bring it back)."""
    fleet = _fleet(console)
    if board_id not in fleet.boards:
        raise HTTPException(404, f"no board {board_id!r}")
    with _lock:
        current = read(console)
        wanted: dict[str, object] = {}
        if body.offline:
            wanted["offline"] = True
        if body.busy:
            wanted["busy"] = True
        if body.corrupt:
            wanted["corrupt"] = body.corrupt
        if body.delay:
            wanted["delay"] = body.delay
        current[board_id] = wanted
        write(console, current)
    if body.power_cycle:
        fleet.power_cycle(board_id)
    console.notices.record(user.name, "sim-fault", f"board:{board_id}",
                           {**wanted, **({"power_cycle": True} if body.power_cycle else {})})
    if console.service is not None:
        console.service.dispatcher.check_health()  # so the console sees the change within seconds
    return {"board": board_id, "faults": wanted}


@router.get("/sim", include_in_schema=False)
def sim_page(request: Request, console: ConsoleDep) -> HTMLResponse:
    user = page_user(request)
    _fleet(console)
    faults_now = read(console)
    wires: dict[str, list[str]] = {}
    for b in console.dep.boards:
        wires.setdefault(b.link, []).append(b.id)
    return page(request, "sim.html", user, rows=board_rows(console, lang_of(request)), faults=faults_now,
                shared={b.id: [o for o in wires[b.link] if o != b.id] for b in console.dep.boards},
                power={bid for bid, s in console.fleet.boards.items() if hasattr(s.device, "power_cycle")})
