"""The `ledctl` command line. User errors print a clear message and exit 2, never a traceback."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import threading
from collections.abc import Mapping, Sequence
from datetime import date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from ledctl import __version__
from ledctl import config as config_mod
from ledctl.cli import governance as cli_governance
from ledctl.clock import Clock, SystemClock
from ledctl.errors import ConfigError, LedctlError
from ledctl.model import Board, Bulletin
from ledctl.standards import aqi as aqi_mod
from ledctl.store import Store

if TYPE_CHECKING:
    from ledctl.broadcast import Content, Delivery

SHANGHAI = ZoneInfo("Asia/Shanghai")


class UsageError(LedctlError):
    pass


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="ledctl",
        description="Controller for public LED boards: environmental bulletins and urgent notices.",
    )
    p.add_argument("--version", action="version", version=f"ledctl {__version__}")
    p.add_argument("--state", metavar="DIR",
                   help="state directory for everything ledctl writes (default $LEDCTL_STATE or ./var)")
    p.add_argument("--as", dest="as_user", metavar="NAME",
                   help="act as this user (password from $LEDCTL_PASSWORD or a prompt); or set $LEDCTL_TOKEN")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    cfg = sub.add_parser("config", help="work with the deployment config")
    cfg_sub = cfg.add_subparsers(dest="config_command", metavar="ACTION")
    check = cfg_sub.add_parser("check", help="validate a config and summarise it")
    _config_arg(check)
    check.add_argument("--json", action="store_true", help="print the summary as JSON")

    a = sub.add_parser("aqi", help="HJ 633 AQI from daily (24-h) concentrations")
    when = a.add_mutually_exclusive_group()
    when.add_argument("--date", type=_date, help="the day the values are for; picks the standard")
    when.add_argument("--standard", choices=[*sorted(aqi_mod.STANDARDS), aqi_mod.US_EPA])
    for flag, unit in (("pm25", "µg/m³"), ("pm10", "µg/m³"), ("so2", "µg/m³"), ("no2", "µg/m³"),
                       ("co", "mg/m³"), ("o3-8h", "µg/m³ (daily max 8-h)"),
                       ("o3-1h", "µg/m³ (daily max 1-h, optional)")):
        a.add_argument(f"--{flag}", metavar="X", help=unit)
    a.add_argument("--json", action="store_true")

    w = sub.add_parser("water", help="GB 3838-2002 surface-water class from measured values (mg/L)")
    for flag, what in (("do", "dissolved oxygen"), ("codmn", "permanganate index"), ("cod", "COD"),
                       ("bod5", "BOD5"), ("nh3n", "ammonia nitrogen"), ("tp", "total phosphorus"),
                       ("tn", "total nitrogen (assessed for lakes)")):
        w.add_argument(f"--{flag}", metavar="X", help=f"{what}, mg/L")
    w.add_argument("--lake", action="store_true", help="a lake or reservoir (its TP limits; TN assessed)")
    w.add_argument("--json", action="store_true")

    data = sub.add_parser("data", help="fetch and show the monitoring data behind the bulletin")
    data_sub = data.add_subparsers(dest="data_command", metavar="ACTION")
    for action, what in (("fetch", "read every source now and keep the valid readings in the store"),
                         ("show", "readings per station, the indices computed, freshness and rejections")):
        d = data_sub.add_parser(action, help=what)
        _config_arg(d)
        d.add_argument("--date", type=_date, help="as of this day's broadcast (default: today)")
        _sample_arg(d)
        if action == "show":
            d.add_argument("--json", action="store_true")

    pv = sub.add_parser("preview", help="render what each board shows, as pictures and index.html")
    _config_arg(pv)
    pv.add_argument("--date", type=_date, help="the day of the broadcast (default: today)")
    _sample_arg(pv)
    which = pv.add_mutually_exclusive_group()
    which.add_argument("--board", metavar="ID")
    which.add_argument("--group", metavar="G")
    pv.add_argument("--out", metavar="DIR", type=Path, default=Path("out/preview"))
    pv.add_argument("--notice", metavar="TEXT",
                    help="preview this notice text instead of the bulletin (fit-checked on every board)")
    pv.add_argument("--notice-title", metavar="TITLE", default="紧急通知",
                    help="the notice's title (default 紧急通知)")
    pv.add_argument("--blink", action="store_true", help="the notice blinks")
    sim = sub.add_parser("sim", help="run the simulated boards of a config, or the fake monitoring "
                                     "centre (`ledctl sim data-server`), until Ctrl-C")
    sim.add_argument("what", nargs="?", choices=["boards", "data-server"], default="boards",
                     help="what to simulate (default: boards)")
    sim.add_argument("--port", type=int, default=17200, help="data-server: the loopback port")
    sim.add_argument("--today", type=_date, help="data-server: a fixed 'today' (default: the clock)")
    sim.add_argument("--token", help="data-server: require 'Authorization: Bearer TOKEN'")
    _config_arg(sim)
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

    dm = sub.add_parser("demo", help="the whole system on this machine: simulated boards, broker and "
                                     "monitoring centre, and the service on a compressed schedule")
    _config_arg(dm)
    dm.add_argument("--out", metavar="DIR", type=Path, default=Path("out/preview"),
                    help="where the preview pictures go (default out/preview)")
    until = dm.add_mutually_exclusive_group()
    until.add_argument("--once", action="store_true",
                       help="stop once every board confirmed (default: run until Ctrl-C)")
    until.add_argument("--for", dest="run_for", type=float, metavar="S", help="stop after S seconds")
    _console_args(dm)

    sv = sub.add_parser("serve", help="run the service: scheduled fetch and broadcast, screen and "
                                      "brightness schedules, confirmed delivery, health checks, the console")
    _config_arg(sv)
    _console_args(sv)

    tl = sub.add_parser("timeline", help="what a board will show when (bulletin, notices, screen off)")
    _config_arg(tl)
    tl.add_argument("--board", metavar="ID", required=True)
    tl.add_argument("--from", dest="start", metavar="T", type=_instant,
                    help="from this time: 2026-11-25T08:00, 2026-11-25 or 08:00 (default: now)")
    tl.add_argument("--to", dest="end", metavar="T", type=_instant, help="until this time (default: +24 h)")

    cli_governance.add_parsers(sub, _config_arg)

    bo = sub.add_parser("boards", help="every board: online, intended and confirmed program, failures")
    _config_arg(bo)
    bo.add_argument("--json", action="store_true",
                    help="a list of objects: board, online, intended, confirmed, last_confirmed, …")

    bc = sub.add_parser("broadcast", help="render today's bulletin and deliver it to the boards")
    _config_arg(bc)
    which = bc.add_mutually_exclusive_group()
    which.add_argument("--board", metavar="ID")
    which.add_argument("--group", metavar="G")
    bc.add_argument("--date", type=_date, help="the day of the broadcast (default: today)")
    bc.add_argument("--dry-run", action="store_true", help="render and count bytes; send nothing")
    bc.add_argument("--text", metavar="TEXT",
                    help="send this text for the card's own font instead (fast path for urgent notices)")
    bc.add_argument("--timeout", type=_seconds, metavar="S", default=3600,
                    help="with --text: the board removes the text after S seconds, 1..65535 "
                         "(default 3600)")
    return p


def _console_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--listen", metavar="HOST:PORT", default="127.0.0.1:8080",
                   help="where the console and API listen (default 127.0.0.1:8080; 'off': no console)")
    p.add_argument("--tls-cert", type=Path, metavar="FILE", help="serve HTTPS with this certificate (PEM)")
    p.add_argument("--tls-key", type=Path, metavar="FILE", help="… and this key (PEM, mode 0600)")


def _start_console(args: argparse.Namespace, dep: config_mod.Deployment, store: Store, notices: object,
                   clock: Clock, service: object, fleet: object = None, *, announce: bool = True) -> object:
    """The console in a thread of this process, or None with --listen off."""
    if args.listen == "off":
        return None
    from ledctl.api import server
    from ledctl.api.app import Console
    from ledctl.notices.users import Users

    if args.tls_key is not None:
        problem = config_mod.secret_file_problem(args.tls_key)
        if problem:
            raise UsageError(f"--tls-key: {problem}")
    console = Console(dep, store, Users(store.path), notices, clock, service=service,  # type: ignore[arg-type]
                      fleet=fleet)
    running = server.start(console, args.listen, tls_cert=args.tls_cert, tls_key=args.tls_key)
    if announce:
        print(f"console: {running.url}/  (users: ledctl users add NAME --role …)", flush=True)
    return running


def _config_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("-c", "--config", metavar="FILE",
                   help="config file (default $LEDCTL_CONFIG, then config/zhenhai.toml)")


def _seconds(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of seconds") from None
    if not 1 <= value <= 65535:  # what a BX card's timeout field holds
        raise argparse.ArgumentTypeError(f"{value}: give 1..65535 seconds")
    return value


def _instant(text: str) -> str:
    """Checked now, resolved against the site's time zone later."""
    for parse in (datetime.fromisoformat, date.fromisoformat, time.fromisoformat):
        try:
            parse(text)
            return text
        except ValueError:
            continue
    raise argparse.ArgumentTypeError(f"{text!r} is not a time like 2026-11-25T08:00, 2026-11-25 or 08:00")


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date like 2026-11-25") from None


def main(argv: Sequence[str] | None = None, clock: Clock | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    clock = clock or SystemClock()
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s: %(message)s")
    if os.environ.get("LEDCTL_TRACE"):
        logging.getLogger("ledctl.link.trace").setLevel(logging.DEBUG)  # every byte, in hex
    try:
        if args.command == "config" and args.config_command == "check":
            return cmd_config_check(args)
        if args.command == "aqi":
            return cmd_aqi(args, clock)
        if args.command == "water":
            return cmd_water(args)
        if args.command == "data" and args.data_command in ("fetch", "show"):
            return cmd_data(args, clock)
        if args.command == "preview":
            return cmd_preview(args, clock)
        if args.command == "sim":
            return cmd_sim(args, clock)
        if args.command == "broadcast":
            return cmd_broadcast(args, clock)
        if args.command == "boards":
            return cmd_boards(args)
        if args.command == "demo":
            return cmd_demo(args, clock)
        if args.command == "serve":
            return cmd_serve(args, clock)
        if args.command == "timeline":
            return cmd_timeline(args, clock)
        if args.command in cli_governance.COMMANDS:
            from ledctl.state import state_dir

            return cli_governance.run(args, clock, state_dir(args.state))
    except ConfigError as e:
        print("ledctl: the configuration has problems:", file=sys.stderr)
        for problem in e.problems:
            print(f"  {problem}", file=sys.stderr)
        return e.exit_code
    except LedctlError as e:
        print(f"ledctl: {e}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        print("ledctl: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (e.g. `| head`): stop quietly, as other CLI tools do.
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - stdout must stay valid until exit
        return 0
    parser.print_help()
    return 2 if args.command is None else 0


# -- config check ----------------------------------------------------------------------------

def cmd_config_check(args: argparse.Namespace) -> int:
    from ledctl.render import layout as layout_mod

    dep = config_mod.load(args.config)
    layouts = layout_mod.load_dir(dep.layouts_dir)
    chosen: dict[str, str] = {}
    problems: list[str] = []
    for board in dep.boards:
        try:
            chosen[board.id] = layout_mod.layout_for(board, layouts).name
        except ConfigError as e:
            problems.extend(f"{dep.path}: {p}" for p in e.problems)
    if problems:
        raise ConfigError(problems)
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
    return 0


# -- aqi --------------------------------------------------------------------------------------

def _concentration(flag: str, text: str) -> Decimal:
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise UsageError(f"--{flag} {text!r}: not a number; give a concentration like 35 or 0.8") from None
    if not value.is_finite():
        raise UsageError(f"--{flag} {text!r}: not a finite number")
    if value < 0:
        raise UsageError(f"--{flag} {text}: a concentration cannot be negative")
    return value


def cmd_aqi(args: argparse.Namespace, clock: Clock) -> int:
    values = {}
    for param, attr in (("pm25", "pm25"), ("pm10", "pm10"), ("so2", "so2"), ("no2", "no2"),
                        ("co", "co"), ("o3_8h", "o3_8h"), ("o3_1h", "o3_1h")):
        raw = getattr(args, attr)
        if raw is not None:
            values[param] = _concentration(attr.replace("_", "-"), raw)
    if not values:
        raise UsageError("give at least one concentration, e.g. ledctl aqi --pm25 52 --pm10 78")
    if args.standard == aqi_mod.US_EPA:
        a = aqi_mod.assess_us_epa(values)
    else:
        if args.standard:
            standard = aqi_mod.STANDARDS[args.standard]
        else:
            day = args.date or clock.now().astimezone(SHANGHAI).date()
            standard = aqi_mod.standard_for(day)
        if "o3_1h" in values and not standard.daily_o3_1h and len(values) > 1:
            print(f"note: --o3-1h is not part of the {standard.id} daily AQI (HJ 633—2026 §4.2.2: O3 enters "
                  "as the daily maximum 8-hour mean only); ignored", file=sys.stderr)
        a = aqi_mod.assess_daily(values, standard)
        if standard.rounds_first:
            for param, value in values.items():
                column = aqi_mod.DAILY_COLUMNS.get(param)
                if column and aqi_mod.rounded(standard, column, value) != value:
                    rated = aqi_mod.rounded(standard, column, value)
                    shown = f"{float(rated):.1f}" if column.startswith("co_") else str(int(rated))
                    print(f"note: {param} {value} is rated as {shown} (HJ 633—2026 §4.2.2 rounds by "
                          "GB/T 8170 before the IAQI)", file=sys.stderr)
    iaqi = {aqi_mod.POLLUTANT_OF_COLUMN[c] + ("-1h" if c == "o3_1h" else ""): v
            for c, v in a.iaqi.items()}
    if args.json:
        print(json.dumps({
            "standard": a.standard, "aqi": a.aqi, "level": a.level, "category": a.category,
            "color": a.colour, "primary": list(a.primary), "iaqi": iaqi,
            "above_scale": a.above_scale, "display": a.display,
        }, ensure_ascii=False))
        return 0
    primary = " ".join(a.primary) or "无 (AQI ≤ 50)"
    print(f"AQI {a.display}  {a.level}级 {a.category}  {a.colour}  首要污染物 {primary}  [{a.standard}]")
    for name, v in iaqi.items():
        print(f"  IAQI {name:<7} {v:>4}")
    return 0


# -- water --------------------------------------------------------------------------------------

def cmd_water(args: argparse.Namespace) -> int:
    from ledctl.standards import water as water_mod

    values = {}
    for param in ("do", "codmn", "cod", "bod5", "nh3n", "tp", "tn"):
        raw = getattr(args, param)
        if raw is not None:
            values[param] = _concentration(param, raw)
    if not values:
        raise UsageError("give at least one value, e.g. ledctl water --do 6.2 --nh3n 0.8 --tp 0.15")
    if "tn" in values and not args.lake:
        print("note: TN is a reference item for rivers (reported, not assessed); use --lake for a lake",
              file=sys.stderr)
    elif "tn" in values:
        print("note: TN is assessed apart from the class (环办〔2011〕22号 §2.1: a reference item for lakes "
              "and reservoirs)", file=sys.stderr)
    a = water_mod.assess_section(values, lake=args.lake)
    if args.json:
        print(json.dumps({"class": a.label, "category": a.category, "limiting": list(a.limiting),
                          "per_item": {k: water_mod.class_info(v).label for k, v in a.per_item.items()},
                          "missing": list(a.missing), "color": a.colour, "lake": a.lake,
                          "assessed_apart": {k: water_mod.class_info(v).label
                                             for k, v in a.reference_classes.items()}},
                         ensure_ascii=False))
        return 0
    names = {item.id: item.name_zh for item in water_mod.ITEMS.values()}
    limiting = "、".join(names.get(p, p) for p in a.limiting) or "—"
    print(f"{a.label}类 {a.category}  定类项目 {limiting}  {'湖库' if a.lake else '河流'}")
    for param, cls in a.per_item.items():
        print(f"  {names.get(param, param):<8} {water_mod.class_info(cls).label}")
    for param, cls in a.reference_classes.items():
        print(f"  {names.get(param, param):<8} {water_mod.class_info(cls).label}  (单独评价，不参与定类)")
    if a.missing:
        print(f"  not measured: {', '.join(a.missing)}")
    return 0


# -- data ---------------------------------------------------------------------------------------

def _sample_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--sample-data", action="store_true",
                        help="read the sample data (the source with sample = true) for every station; "
                             "every page says 示例数据")


def _deployment(args: argparse.Namespace) -> config_mod.Deployment:
    """The config named on the command line, with every station on the sample data if asked."""
    dep = config_mod.load(args.config)
    return dep.with_sample_data() if getattr(args, "sample_data", False) else dep


def cmd_data(args: argparse.Namespace, clock: Clock) -> int:
    from ledctl import pipeline
    from ledctl.state import state_dir
    from ledctl.store import Store

    dep = _deployment(args)
    store = Store(state_dir(args.state) / "ledctl.sqlite")
    day = args.date or clock.now().astimezone(dep.tz).date()
    now = pipeline.broadcast_instant(dep, day) if args.date else clock.now().astimezone(dep.tz)
    got = pipeline.gather(dep, store, now)
    for problem in got.problems:
        print(f"ledctl: {problem} (using the last good data kept in the store)", file=sys.stderr)
    if args.data_command == "fetch":
        used = len({s.source for s in dep.stations.values()})
        print(f"{len(got.readings)} readings from {used} source(s); {len(got.rejected)} record(s) refused; "
              f"kept in {store.path}")
        for r in got.rejected:
            print(f"  refused ({r.source}) {r.reason}")
        return 1 if got.problems else 0
    bulletin = pipeline.bulletin_from(dep, got.readings, now, refused=got.rejected)
    if args.json:
        print(json.dumps(_bulletin_json(bulletin), ensure_ascii=False, indent=2))
        return 0
    print(f"as of {now:%Y-%m-%d %H:%M} ({dep.validation.bulletin} bulletin)")
    for sb in bulletin.stations.values():
        a = sb.assessment
        if a is None:
            print(f"  {sb.station_name:<8} 数据更新中 — {sb.problem}")
            continue
        note = f"  (最近有效; {sb.problem})" if sb.last_valid else ""
        if sb.missing:
            note += f"  ({', '.join(sb.missing)} not measured; AQI from the others, HJ 633—2026 §5.3.1)"
        if sb.sample:
            note += "  [示例数据: sample data, not measured]"
        values = " ".join(f"{k}={v}" for k, v in sb.values.items())
        print(f"  {sb.station_name:<8} {sb.day} AQI {a.display} {a.category} {' '.join(a.primary)} "
              f"[{a.standard}] from {sb.source or '?'}  {values}{note}")
    for w in bulletin.water.values():
        state = f"{w.label}类 {w.category} (定类 {', '.join(w.limiting)})" if not w.updating else \
            f"数据更新中 — {w.problem}"
        apart = "".join(f"  {item} {label}类 (单独评价)" for item, label in w.reference)
        sample = "  [示例数据]" if w.sample else ""
        print(f"  {w.station_name:<8} {w.day or '—'} {state}{apart}{sample}")
    for r in bulletin.rejections[-20:]:
        when = f" {r.time:%Y-%m-%d %H:%M}" if r.time else ""
        print(f"  rejected {r.station or '(no station)'}{when}: {r.reason}")
    return 0


def _bulletin_json(bulletin: Bulletin) -> dict[str, object]:
    air = {}
    for sid, sb in bulletin.stations.items():
        a = sb.assessment
        air[sid] = {
            "name": sb.station_name, "day": sb.day.isoformat() if sb.day else None,
            "updating": sb.updating, "last_valid": sb.last_valid, "problem": sb.problem,
            "sample": sb.sample, "missing": list(sb.missing), "source": sb.source,
            "values": {k: str(v) for k, v in sb.values.items()},
            "aqi": a.aqi if a else None, "display": a.display if a else None,
            "level": a.level if a else None, "category": a.category if a else None,
            "primary": list(a.primary) if a else [], "standard": a.standard if a else None,
        }
    water = {sid: {"name": w.station_name, "day": w.day.isoformat() if w.day else None,
                   "class": w.label or None, "category": w.category or None, "limiting": list(w.limiting),
                   "missing": list(w.missing), "problem": w.problem, "sample": w.sample,
                   "assessed_apart": dict(w.reference)}
             for sid, w in bulletin.water.items()}
    rejections = [{"station": r.station, "time": r.time.isoformat() if r.time else None, "reason": r.reason,
                   "source": r.source} for r in bulletin.rejections]
    return {"issued": bulletin.issued.isoformat(), "air": air, "water": water, "rejections": rejections}


# -- preview ----------------------------------------------------------------------------------

def _notice_text(text: str, flag: str) -> str:
    cleaned = text.strip()
    if not cleaned:
        raise UsageError(f"{flag}: the text is empty")
    bad = [c for c in cleaned if (ord(c) < 32 and c != "\n") or 0x7F <= ord(c) < 0xA0]
    if bad:
        raise UsageError(f"{flag}: control character U+{ord(bad[0]):04X} in the text; remove it")
    return cleaned


def _store(args: argparse.Namespace) -> Store:
    """The store under the state directory: fresh readings are kept there, and it stands in
    with the last good data when every source fails."""
    from ledctl.state import state_dir
    from ledctl.store import Store

    return Store(state_dir(args.state) / "ledctl.sqlite")


def _chosen_boards(dep: config_mod.Deployment, args: argparse.Namespace) -> tuple[Board, ...]:
    """`--board ID`, `--group G`, or every board."""
    if args.board:
        return (dep.board(args.board),)
    if args.group:
        return dep.boards_in(args.group)
    return dep.boards


def cmd_preview(args: argparse.Namespace, clock: Clock) -> int:
    from ledctl import pipeline, preview

    dep = _deployment(args)
    boards = _chosen_boards(dep, args)
    day = args.date or clock.now().astimezone(dep.tz).date()
    now = pipeline.broadcast_instant(dep, day)
    bulletin = pipeline.bulletin_at(dep, now, store=_store(args))
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    if args.notice is not None:
        text = _notice_text(args.notice, "--notice")
        title = _notice_text(args.notice_title, "--notice-title")
        print(f"preview of notice {title!r} ({len(text)} characters), {len(boards)} board(s) → {out}/")
        results = pipeline.render_notice_fleet(dep, boards, title=title, body=text, day=day,
                                               blink=args.blink)
    else:
        print(f"preview of the {now:%Y-%m-%d %H:%M} broadcast, {len(boards)} board(s) → {out}/")
        results = pipeline.render_fleet(dep, boards, bulletin)
    files: dict[str, list[tuple[str, str]]] = {}
    gifs: dict[str, Path] = {}
    failed = 0
    for n, r in enumerate(results, start=1):
        files[r.board.id] = preview.write_board(out, r, gifs)
        sb = bulletin.stations[r.board.station]
        if r.error:
            failed += 1
            state = f"ERROR {r.error}"
        elif args.notice is not None and r.program:
            state = "notice: " + ", ".join(f"{p.name} {p.effect} {p.dwell_s:.3g}s" for p in r.program.pages)
        elif sb.assessment:
            a = sb.assessment
            state = f"AQI {a.display} {a.category} {' '.join(a.primary)} ({sb.station_name} {sb.day})"
        else:
            state = f"数据更新中 ({sb.station_name}: {sb.problem})"
        pages = len(r.program.pages) if r.program else 0
        print(f"[{n:>2}/{len(results)}] {r.board.id:<18} {r.board.size!s:>7} {r.board.colour:<9} "
              f"{pages} page(s)  {state}")
    index = preview.write_index(out, dep.site.name, bulletin, results, files)
    print(f"\nopen {index.resolve()} to see every board; per-board pictures are in {out}/<board>/")
    if failed:
        print(f"ledctl: {failed} board(s) could not be rendered (see ERROR lines above)", file=sys.stderr)
        return 2
    return 0


# -- boards and the proof of display ----------------------------------------------------------------

def _record(args: argparse.Namespace, clock: Clock, contents: Mapping[str, Content],
            results: Sequence[Delivery]) -> None:
    """Keep every delivery and its result in the store: the proof of display."""
    import hashlib

    from ledctl.store import DeliveryRecord

    store = _store(args)
    at = clock.now()
    for d in results:
        content = contents[d.board]
        if content.program is not None:
            program = content.program.content_hash()
            summary = f"ledctl broadcast ({len(content.program.pages)} pages)"
        else:
            program = "text:" + hashlib.sha256((content.text or "").encode()).hexdigest()
            summary = f"ledctl broadcast --text ({len(content.text or '')} characters)"
        record = DeliveryRecord(d.board, program, d.mode, d.ok, d.result, d.bytes_sent, d.seconds, at)
        if d.ok:
            store.confirm(d.board, program, summary, at, record)
        else:
            store.failed(d.board, d.result, at, record, offline=d.result.startswith("offline"))


def cmd_boards(args: argparse.Namespace) -> int:
    dep = config_mod.load(args.config)
    rows = _store(args).boards()
    out = []
    for b in dep.boards:
        row = rows.get(b.id)
        out.append({
            "board": b.id, "name": b.name, "driver": b.driver, "link": b.link,
            "online": bool(row and row.online), "intended": row.intended if row else None,
            "confirmed": row.confirmed if row else None,
            "last_confirmed": row.confirmed_at if row else None,
            "shows": row.intended_summary if row else "", "settings": row.settings_confirmed if row else None,
            "failures": row.failures if row else 0, "last_error": row.last_error if row else "",
        })
    if args.json:
        print(json.dumps(out, ensure_ascii=False, indent=2))
        return 0
    print(f"{'board':<18} {'online':<7} {'state':<10} {'program':<13} {'last confirmed':<20} "
          "shows / last error")
    for o in out:
        known = o["last_confirmed"] or o["failures"]
        online = ("yes" if o["online"] else "no") if known else "?"
        if o["confirmed"] and o["confirmed"] == o["intended"]:
            state = "confirmed"
        elif o["intended"]:
            state = "pending"
        else:
            state = "confirmed" if o["confirmed"] else "—"
        program = str(o["confirmed"] or o["intended"] or "—")[:12]
        note = str(o["last_error"]) if o["failures"] else str(o["shows"] or "")
        when = "—"
        if o["last_confirmed"]:
            when = f"{datetime.fromisoformat(str(o['last_confirmed'])).astimezone(dep.tz):%Y-%m-%d %H:%M:%S}"
        print(f"{o['board']:<18} {online:<7} {state:<10} {program:<13} {when:<20} "
              f"{note[:70]}")
    confirmed = sum(1 for o in out if o["confirmed"] and o["confirmed"] == o["intended"])
    print(f"\n{confirmed}/{len(out)} boards confirmed on what they should show")
    return 0


# -- serve, timeline and demo -------------------------------------------------------------------------

def _log_events() -> None:
    from ledctl.events import FORMAT

    logging.getLogger().handlers.clear()
    logging.basicConfig(level=logging.INFO, format=FORMAT, force=True)
    for noisy in ("apscheduler", "paho", "amqtt", "transitions"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def _stop_on_signals() -> threading.Event:
    import signal

    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    return stop


def cmd_serve(args: argparse.Namespace, clock: Clock) -> int:
    from ledctl.notices.items import notices_for
    from ledctl.service import Service

    dep = config_mod.load(args.config)
    _log_events()
    stop = _stop_on_signals()
    store = _store(args)
    notices = notices_for(dep, store.path, clock)
    service = Service(dep, store, clock, notices=notices)
    console = _start_console(args, dep, store, notices, clock, service)
    try:
        service.serve(stop)
    finally:
        if console is not None:
            console.stop()  # type: ignore[attr-defined]
    return 0


def cmd_timeline(args: argparse.Namespace, clock: Clock) -> int:
    from ledctl import schedule
    from ledctl.notices.items import notices_for
    from ledctl.service import Service

    dep = config_mod.load(args.config)
    board = dep.board(args.board)
    now = clock.now().astimezone(dep.tz)
    start = _resolve(args.start, dep, now) if args.start else now
    end = _resolve(args.end, dep, now) if args.end else start + timedelta(hours=24)
    if end <= start:
        raise UsageError(f"--to {end:%Y-%m-%d %H:%M} is not after --from {start:%Y-%m-%d %H:%M}")
    store = _store(args)
    service = Service(dep, store, clock, notices=notices_for(dep, store.path, clock))
    if service.restore_items() is None:
        service._make_bulletin(now)  # nothing broadcast yet: what a broadcast now would show
    print(f"{board.id} ({board.name}), {start:%Y-%m-%d %H:%M} – {end:%Y-%m-%d %H:%M} {dep.site.timezone}")
    for seg in service.timeline(board, start, end):
        what = ", ".join(f"{p.name} {p.effect} {p.dwell_s:g}s" for p in seg.pages) or "nothing"
        if not seg.settings.power:
            what = f"screen off (holds: {what})"
        bri = f"{seg.settings.brightness}%" if seg.settings.brightness else "—"
        span = f"{seg.start.astimezone(dep.tz):%m-%d %H:%M} – {seg.end.astimezone(dep.tz):%m-%d %H:%M}"
        print(f"{span}  {bri:>4}  {'+'.join(seg.items) or 'idle'}: {what}")
    jobs = service.jobs()
    upcoming = [(t, job.id) for job in jobs if job.kind in (schedule.BROADCAST, schedule.REFRESH)
                for t in [job.trigger.get_next_fire_time(None, start)] if t is not None and t < end]
    for t, job_id in sorted(upcoming):
        print(f"  {t.astimezone(dep.tz):%m-%d %H:%M} {job_id}: the bulletin is made again from the "
              "newest data")
    return 0


def _resolve(text: str, dep: config_mod.Deployment, now: datetime) -> datetime:
    try:
        t = datetime.fromisoformat(text)
    except ValueError:
        try:
            t = datetime.combine(date.fromisoformat(text), time(0))
        except ValueError:
            t = datetime.combine(now.date(), time.fromisoformat(text))
    return t if t.tzinfo else t.replace(tzinfo=dep.tz)


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

    from ledctl.notices.users import Users

    users = Users(state / "ledctl.sqlite")
    secret = state / "demo-password"
    if users.empty():
        password = secrets.token_urlsafe(12)
        secret.touch(mode=0o600)
        secret.chmod(0o600)
        secret.write_text(password + "\n", encoding="utf-8")
        users.add("demo", "admin", password, clock.now(), None)
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
    from ledctl.state import state_dir

    # Everything the demo shows comes from a simulated centre: every page says 示例数据.
    dep = config_mod.load(args.config).as_simulated()
    state = state_dir(args.state)
    stop = _stop_on_signals()
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
    result = {"ok": False}
    try:
        fleet.start()
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
        service = Service(demo, store, clock, notices=notices)
        console = _start_console(args, demo, store, notices, clock, service, fleet, announce=False)
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
            print(f"  intended vs confirmed:        ledctl --state {state} boards")
            print("  the service's log:            the lines above and below (event key=value)")
            if args.once or not ok:
                stop.set()
                return
            print("running until Ctrl-C …", flush=True)
            while not stop.wait(2.0):
                fleet.write_snapshots(state / "sim")

        if args.run_for:
            threading.Timer(args.run_for, stop.set).start()
        _log_events()
        watcher = threading.Thread(target=watch, name="demo-watch", daemon=True)
        watcher.start()
        try:
            service.serve(stop)
        finally:
            if console is not None:
                console.stop()  # type: ignore[attr-defined]
        watcher.join(timeout=5)
        fleet.write_snapshots(state / "sim")
        return 0 if result["ok"] else 1
    finally:
        fleet.stop()
        for server in servers:
            server.stop()


# -- sim --------------------------------------------------------------------------------------

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
        while not stop.wait(args.snapshot_every):
            fleet.write_snapshots(snapshots)
            try:
                apply_faults(fleet, faults_now())  # faults can change while the simulator runs
            except LedctlError as e:
                print(f"ledctl sim: {e}", file=sys.stderr, flush=True)
        fleet.write_snapshots(snapshots)
    finally:
        fleet.stop()
    return 0


# -- broadcast ----------------------------------------------------------------------------------

def cmd_broadcast(args: argparse.Namespace, clock: Clock) -> int:
    import time

    from ledctl import pipeline
    from ledctl.broadcast import Content, card_can_draw, deliver

    dep = config_mod.load(args.config)
    boards = _chosen_boards(dep, args)
    contents: dict[str, Content] = {}
    failed_render: dict[str, str] = {}
    day = args.date or clock.now().astimezone(dep.tz).date()
    if args.text is not None:
        # Per board: the card's own font where it can draw the text (tens of bytes), else a
        # rendered page (a bitmap), fit-checked like every page.
        text = _notice_text(args.text, "--text")
        drawn = tuple(b for b in boards if not card_can_draw(b, text))
        for b in boards:
            if b not in drawn:
                contents[b.id] = Content(text=text, text_timeout_s=args.timeout)
        expires = clock.now() + timedelta(seconds=args.timeout)
        for r in pipeline.render_notice_fleet(dep, drawn, title="通知", body=text, day=day):
            if r.program is None:
                failed_render[r.board.id] = r.error
            else:
                contents[r.board.id] = Content(program=r.program, expires=expires, lifetime_s=args.timeout,
                                               whole=True)
    else:
        bulletin = pipeline.bulletin_at(dep, pipeline.broadcast_instant(dep, day), store=_store(args))
        for r in pipeline.render_fleet(dep, boards, bulletin):
            if r.program is None:
                failed_render[r.board.id] = r.error
            else:
                contents[r.board.id] = Content(program=r.program)
    for board_id, error in failed_render.items():
        print(f"ledctl: {board_id}: not sent: {error}", file=sys.stderr)
    ready = tuple(b for b in boards if b.id in contents)
    wires = {b.link for b in ready}
    if args.dry_run:
        print(f"dry run: {len(ready)} board(s) on {len(wires)} wire(s); nothing sent")
        return 2 if failed_render else 0
    print(f"delivering to {len(ready)} board(s) on {len(wires)} wire(s) …", flush=True)
    start = time.monotonic()
    results = deliver(dep, ready, contents, progress=lambda line: print("  " + line, flush=True))
    took = time.monotonic() - start
    _record(args, clock, contents, results)
    print(f"\n{'board':<18} {'result':<40} {'mode':<7} {'bytes':>7} {'seconds':>8}")
    for d in results:
        print(f"{d.board:<18} {d.result[:40]:<40} {d.mode:<7} {d.bytes_sent:>7} {d.seconds:>8.1f}")
    confirmed = sum(1 for d in results if d.ok)
    print(f"\n{confirmed}/{len(boards)} confirmed in {took:.1f} s")
    return 0 if confirmed == len(boards) else 1
