"""`ledctl data fetch|show`: the monitoring data behind the bulletin, and the indices computed from it."""

from __future__ import annotations

import argparse
import json
import sys

from ledctl.cli.common import config_arg, date_arg, deployment, sample_arg
from ledctl.clock import Clock
from ledctl.model import Bulletin


def add_parsers(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    data = sub.add_parser("data", help="fetch and show the monitoring data behind the bulletin")
    data_sub = data.add_subparsers(dest="data_command", metavar="ACTION")
    for action, what in (("fetch", "read every source now and keep the valid readings in the store"),
                         ("show", "readings per station, the indices computed, freshness and rejections")):
        d = data_sub.add_parser(action, help=what)
        config_arg(d)
        d.add_argument("--date", type=date_arg, help="as of this day's broadcast (default: today)")
        sample_arg(d)
        if action == "show":
            d.add_argument("--json", action="store_true")
        d.set_defaults(func=cmd_data)


def cmd_data(args: argparse.Namespace, clock: Clock) -> int:
    from ledctl import pipeline
    from ledctl.state import state_dir
    from ledctl.store import Store

    dep = deployment(args)
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
