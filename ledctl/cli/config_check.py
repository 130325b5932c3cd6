"""`ledctl config check`: validate a deployment config and its layouts, and summarise it."""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING

from ledctl import config as config_mod
from ledctl.cli.common import config_arg
from ledctl.clock import Clock
from ledctl.errors import ConfigError

if TYPE_CHECKING:
    from ledctl.model import Board
    from ledctl.render.layout import Layout, PageSpec


def add_parsers(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    cfg = sub.add_parser("config", help="work with the deployment config")
    cfg_sub = cfg.add_subparsers(dest="config_command", metavar="ACTION")
    check = cfg_sub.add_parser("check", help="validate a config and summarise it")
    config_arg(check)
    check.add_argument("--json", action="store_true", help="print the summary as JSON")
    check.set_defaults(func=cmd_config_check)


def cmd_config_check(args: argparse.Namespace, clock: Clock) -> int:
    from ledctl.render import layout as layout_mod

    dep = config_mod.load(args.config)
    layouts = layout_mod.load_dir(dep.layouts_dir)
    chosen: dict[str, str] = {}
    problems: list[str] = []
    warnings = list(dep.warnings)
    for board in dep.boards:
        try:
            chosen[board.id] = layout_mod.layout_for(board, layouts).name
        except ConfigError as e:
            problems.extend(f"{dep.path}: {p}" for p in e.problems)
            continue
        problem, stilled = _layout_problem(board, layouts[chosen[board.id]])
        if problem:
            problems.append(f"{dep.path}: board {board.id}: {problem}")
        from ledctl.drivers import DRIVERS

        specs = layouts[chosen[board.id]].bulletin
        for note in DRIVERS[board.driver].layout_notes(
                board, [(s.name, s.effect, [(slot.font, slot.y) for slot in s.slots]) for s in specs]):
            warnings.append(f"{dep.path}: board {board.id}: layout {chosen[board.id]}: {note}")
        if stilled:
            warnings.append(f"{dep.path}: board {board.id}: layout {chosen[board.id]}: page(s) "
                            f"{', '.join(stilled)} move or blink, which this board cannot show: they are "
                            "shown still on it (and so in its previews)")
    if problems:
        raise ConfigError(problems)
    warnings += _wire_budget(dep, {b: layouts[n] for b, n in chosen.items()})
    by_group = {gid: [b.id for b in dep.boards_in(gid)] for gid in dep.groups}
    by_driver: dict[str, list[str]] = {}
    by_link: dict[str, list[str]] = {}
    for b in dep.boards:
        by_driver.setdefault(b.driver, []).append(b.id)
        by_link.setdefault(b.link, []).append(b.id)
    if args.json:
        print(json.dumps({
            "file": str(dep.path), "ok": True, "site": dep.site.name, "timezone": dep.site.timezone,
            "boards": len(dep.boards), "groups": by_group, "drivers": by_driver,
            "links": {name: {"url": dep.links[name].url, "boards": ids} for name, ids in by_link.items()},
            "stations": {s.id: s.name for s in dep.stations.values()},
            "layouts": {name: sorted(b for b, n in chosen.items() if n == name) for name in layouts},
            "warnings": warnings,
        }, ensure_ascii=False, indent=2))
        return 0
    print(f"{dep.path}: OK — {dep.site.name}, {len(dep.boards)} boards, time zone {dep.site.timezone}")
    print("groups:")
    for gid, ids in by_group.items():
        print(f"  {gid:<20} {len(ids):>3}  {dep.groups[gid].name}")
    print("drivers:")
    for driver, ids in by_driver.items():
        print(f"  {driver:<20} {len(ids):>3}")
    print(f"layouts ({dep.layouts_dir}):")
    for name in layouts:
        print(f"  {name:<20} {sum(1 for n in chosen.values() if n == name):>3}")
    shared = {k: v for k, v in by_link.items() if len(v) > 1}
    print(f"links: {len(by_link)} in use, {len(shared)} shared")
    for name, ids in shared.items():
        print(f"  {name:<20} {len(ids):>3}  {dep.links[name].url}  {' '.join(ids)}")
    for warning in warnings:
        print(f"warning: {warning}")
    return 0



def _layout_problem(board: Board, layout: Layout) -> tuple[str | None, list[str]]:
    """What the board's controller cannot show of its layout's bulletin — its pages (one per name,
    the moving variant where there is one), made for the board's effects as a broadcast makes them,
    asked of the driver — and the pages whose effect the board cannot show (made still for it)."""
    from PIL import Image

    from ledctl.drivers import DRIVERS, capabilities
    from ledctl.model import Page, Program
    from ledctl.render.layout import for_effects

    effects = capabilities(board).effects
    stilled = sorted({s.name for s in layout.bulletin if effects is not None and s.effect not in effects})
    specs: dict[str, PageSpec] = {}
    for spec in for_effects(layout, effects).bulletin:
        if spec.name not in specs or spec.effect != "static":
            specs[spec.name] = spec
    blank = Image.new("RGB", (board.size.width, board.size.height))
    program = Program(board.id, tuple(Page(s.name, blank, s.effect, s.dwell_s) for s in specs.values()))
    problem = DRIVERS[board.driver].program_problem(board, program)
    return (f"layout {layout.name} ({layout.path.name}): {problem}" if problem else None), stilled


WIRE_SHARE = 0.8  # of a loop's time, the most a wire should spend sending its boards' pages


def _wire_budget(dep: config_mod.Deployment, layouts: dict[str, Layout]) -> list[str]:
    """Serial wires whose boards' loops, played page by page by the host, need nearly all the wire's
    time: their pages would go up late. Bytes per page are the picture's (1, 2 or 24 bits per LED)
    plus about 6 % of framing (measured: bench/bx_serial.py); a loop lasts its pages' dwell."""
    from ledctl.drivers import capabilities
    from ledctl.model import ColourMode

    bits = {ColourMode.MONO_RED: 1, ColourMode.RED_GREEN: 2, ColourMode.FULL: 24}
    per_link: dict[str, list[tuple[float, float]]] = {}
    for board in dep.boards:
        link = dep.links[board.link]
        layout = layouts.get(board.id)
        if link.transport != "serial" or layout is None:
            continue
        pages = {s.name: s.dwell_s for s in layout.bulletin}
        if len(pages) <= capabilities(board).holds_pages:
            continue
        page_bytes = board.size.width * board.size.height * bits[board.colour] / 8 * 1.06
        wire = len(pages) * page_bytes * 10 / link.baud
        per_link.setdefault(board.link, []).append((wire, sum(pages.values())))
    out = []
    for name, loads in per_link.items():
        wire = sum(w for w, _ in loads)
        loop = min(t for _, t in loads)
        if wire > WIRE_SHARE * loop:
            baud = dep.links[name].baud
            out.append(f"{dep.path}: links.{name}: its {len(loads)} board(s) need about {wire:.1f} s of "
                       f"wire for every {loop:.0f} s loop ({wire / loop:.0%}) at {baud} baud: pages will go "
                       'up late; fewer boards on it, a faster baud rate, longer dwells, or loop = "card" '
                       "on its BX boards (the cards cycle text pages themselves)")
    return out
