"""`ledctl aqi` and `ledctl water`: the official indices from values given on the command line."""

from __future__ import annotations

import argparse
import json
import sys
from decimal import Decimal, InvalidOperation
from zoneinfo import ZoneInfo

from ledctl.cli.common import UsageError, date_arg
from ledctl.clock import Clock
from ledctl.standards import aqi as aqi_mod

SHANGHAI = ZoneInfo("Asia/Shanghai")


def add_parsers(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    a = sub.add_parser("aqi", help="HJ 633 AQI from daily (24-h) concentrations")
    when = a.add_mutually_exclusive_group()
    when.add_argument("--date", type=date_arg, help="the day the values are for; picks the standard")
    when.add_argument("--standard", choices=[*sorted(aqi_mod.STANDARDS), aqi_mod.US_EPA])
    for flag, unit in (("pm25", "µg/m³"), ("pm10", "µg/m³"), ("so2", "µg/m³"), ("no2", "µg/m³"),
                       ("co", "mg/m³"), ("o3-8h", "µg/m³ (daily max 8-h)"),
                       ("o3-1h", "µg/m³ (daily max 1-h, optional)")):
        a.add_argument(f"--{flag}", metavar="X", help=unit)
    a.add_argument("--json", action="store_true")
    a.set_defaults(func=cmd_aqi)

    w = sub.add_parser("water", help="GB 3838-2002 surface-water class from measured values (mg/L)")
    for flag, what in (("do", "dissolved oxygen"), ("codmn", "permanganate index"), ("cod", "COD"),
                       ("bod5", "BOD5"), ("nh3n", "ammonia nitrogen"), ("tp", "total phosphorus"),
                       ("tn", "total nitrogen (assessed for lakes)")):
        w.add_argument(f"--{flag}", metavar="X", help=f"{what}, mg/L")
    w.add_argument("--lake", action="store_true", help="a lake or reservoir (its TP limits; TN assessed)")
    w.add_argument("--json", action="store_true")
    w.set_defaults(func=cmd_water)


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

def cmd_water(args: argparse.Namespace, clock: Clock) -> int:
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
