"""Surface-water quality class per GB 3838-2002, assessed per 环办〔2011〕22号, with exact arithmetic.

Each basic item is classed against the GB 3838 limits (I … V, worse than V is 劣V, here 6);
the section's class is the worst class among its assessed items (single-factor rule).
Values are compared as Decimals: binary floating point cannot hold 0.1 exactly, and a
value exactly on a limit must meet that class.

Decisions (see the module tests):
* pH has one range for every class (6–9). Inside it pH is class I, i.e. it never worsens
  a section; outside it (either side) it is 劣V.
* DO class I is "≥ 7.5 mg/L or 90 % saturation"; only the mg/L limit is applied (the
  readings carry no saturation).
* TN never sets a section's class. 环办〔2011〕22号 (地表水环境质量评价办法（试行）) §2.1: the class
  is assessed on the 21 basic items of GB 3838 Table 1 other than water temperature, total
  nitrogen and faecal coliforms; "水温、总氮、粪大肠菌群作为参考指标单独评价（河流总氮除外）".
  So for lakes and reservoirs TN gets its own class against the lake column, reported apart
  (`reference_classes`); for rivers it is only a reported value (GB 3838 has no river limit).
* `missing` lists the project's core items that were not measured: do, codmn, nh3n, tp.
  Other basic items are assessed when given but are not expected, so their absence is not
  reported.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Literal

from ledctl.errors import LedctlError

WORSE_THAN_V = 6  # class number meaning 劣V

Value = Decimal | str | int | float


class WaterInputError(LedctlError):
    pass


@dataclass(frozen=True, slots=True)
class Item:
    """One GB 3838 basic item.

    `rule` is "max" (not more than), "min" (not less than, DO) or "range" (pH: limits are
    the low and high end, inclusive). `river` / `lake` hold the class I … V limits in mg/L
    (pH: the two ends of the range); None where the standard has no limit for that water body.
    """

    id: str
    name_zh: str
    name_en: str
    rule: Literal["max", "min", "range"]
    river: tuple[Decimal, ...] | None
    lake: tuple[Decimal, ...] | None
    unit: str = "mg/L"

    def limits(self, *, lake: bool) -> tuple[Decimal, ...] | None:
        return self.lake if lake else self.river


@dataclass(frozen=True, slots=True)
class ReferenceItem:
    """An item reported with a section but never setting its class."""

    id: str
    name_zh: str
    name_en: str
    unit: str


def _d(*values: str) -> tuple[Decimal, ...]:
    return tuple(Decimal(v) for v in values)


def _item(
    id: str, zh: str, en: str, rule: Literal["max", "min", "range"], *limits: str, unit: str = "mg/L"
) -> Item:
    both = _d(*limits)
    return Item(id, zh, en, rule, both, both, unit)


# GB 3838-2002 table 1, basic items. Order is the table's and is the order of `per_item`
# and `limiting`.
ITEMS: dict[str, Item] = {
    item.id: item
    for item in (
        _item("ph", "pH", "pH", "range", "6", "9", unit=""),
        _item("do", "溶解氧", "DO", "min", "7.5", "6", "5", "3", "2"),
        _item("codmn", "高锰酸盐指数", "CODMn", "max", "2", "4", "6", "10", "15"),
        _item("cod", "化学需氧量", "COD", "max", "15", "15", "20", "30", "40"),
        _item("bod5", "五日生化需氧量", "BOD5", "max", "3", "3", "4", "6", "10"),
        _item("nh3n", "氨氮", "NH3-N", "max", "0.15", "0.5", "1.0", "1.5", "2.0"),
        Item(
            "tp",
            "总磷",
            "TP",
            "max",
            river=_d("0.02", "0.1", "0.2", "0.3", "0.4"),
            lake=_d("0.01", "0.025", "0.05", "0.1", "0.2"),
        ),
        Item("tn", "总氮", "TN", "max", river=None, lake=_d("0.2", "0.5", "1.0", "1.5", "2.0")),
        _item("cu", "铜", "Cu", "max", "0.01", "1.0", "1.0", "1.0", "1.0"),
        _item("zn", "锌", "Zn", "max", "0.05", "1.0", "1.0", "2.0", "2.0"),
        _item("as", "砷", "As", "max", "0.05", "0.05", "0.05", "0.1", "0.1"),
        _item("hg", "汞", "Hg", "max", "0.00005", "0.00005", "0.0001", "0.001", "0.001"),
        _item("cd", "镉", "Cd", "max", "0.001", "0.005", "0.005", "0.005", "0.01"),
        _item("cr6", "六价铬", "Cr(VI)", "max", "0.01", "0.05", "0.05", "0.05", "0.1"),
        _item("pb", "铅", "Pb", "max", "0.01", "0.01", "0.05", "0.05", "0.1"),
        _item("petroleum", "石油类", "Petroleum", "max", "0.05", "0.05", "0.05", "0.5", "1.0"),
    )
}

# Reported, never assessed. TN is one too for rivers (it has no river limit).
REFERENCE_ITEMS: dict[str, ReferenceItem] = {
    r.id: r
    for r in (
        ReferenceItem("temp", "水温", "Water temperature", "℃"),
        ReferenceItem("fcoli", "粪大肠菌群", "Faecal coliforms", "个/L"),
    )
}

KNOWN_IDS = (*ITEMS, *REFERENCE_ITEMS)

# The project's core set: measured at every automatic station. Absent ones are listed in
# `missing`; they are never assumed good.
CORE_RIVER = ("do", "codmn", "nh3n", "tp")
CORE_LAKE = CORE_RIVER
# Basic items assessed apart from the class (环办〔2011〕22号 §2.1): TN, for lakes and reservoirs.
ASSESSED_APART = ("tn",)


@dataclass(frozen=True, slots=True)
class WaterClass:
    number: int  # 1..6, 6 is 劣V
    label: str
    category: str  # 水质状况
    colour: str


# Colours follow common public practice (blue I–II, green III, yellow IV, orange V, red 劣V);
# they are UNVERIFIED against the assessment method, so `assess_section` takes overrides.
CLASSES = (
    WaterClass(1, "I", "优", "#1E90FF"),
    WaterClass(2, "II", "优", "#1E90FF"),
    WaterClass(3, "III", "良好", "#00E400"),
    WaterClass(4, "IV", "轻度污染", "#FFFF00"),
    WaterClass(5, "V", "中度污染", "#FF7E00"),
    WaterClass(6, "劣V", "重度污染", "#FF0000"),
)
DEFAULT_COLOURS: Mapping[int, str] = {c.number: c.colour for c in CLASSES}

_COLOUR_RE = re.compile(r"#[0-9A-Fa-f]{6}")


def class_info(number: int) -> WaterClass:
    if not 1 <= number <= WORSE_THAN_V:
        raise WaterInputError(f"water class {number!r} is out of range: give 1..6 (6 is 劣V)")
    return CLASSES[number - 1]


@dataclass(frozen=True, slots=True)
class WaterAssessment:
    """The class of one section from the items measured there.

    `per_item` maps each assessed item id to its class (1..6), in table order; `limiting`
    lists the items whose class equals the section's (all of them on a tie). `reference`
    holds the values of reported-only items, `reference_classes` the classes of the items
    assessed apart from the section's (lake TN); `missing` the core items not measured.
    """

    water_class: int  # 1..6, 6 is 劣V
    label: str  # "I" … "V", "劣V"
    category: str  # 优 / 良好 / 轻度污染 / 中度污染 / 重度污染
    limiting: tuple[str, ...]
    per_item: Mapping[str, int]
    reference: Mapping[str, Decimal]
    missing: tuple[str, ...]
    colour: str  # "#RRGGBB"
    lake: bool = False
    reference_classes: Mapping[str, int] = field(default_factory=dict)


def _exact(param: str, value: Value) -> Decimal:
    """The value as a finite Decimal; a float goes through its shortest text form (0.1 → "0.1")."""
    if isinstance(value, bool):
        raise WaterInputError(f"{param}: value {value!r} is not a number")
    try:
        d = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
    except (InvalidOperation, TypeError, ValueError):
        raise WaterInputError(f"{param}: value {value!r} is not a number") from None
    if not d.is_finite():
        raise WaterInputError(f"{param}: value {value!r} is not a finite number")
    return d


def _unknown_error(params: list[str]) -> WaterInputError:
    return WaterInputError(f"unknown water item(s): {', '.join(params)}; known: {', '.join(KNOWN_IDS)}")


def item_class(param: str, value: Value, *, lake: bool = False) -> int:
    """The GB 3838 class (1..5, or 6 for 劣V) of one basic item.

    A value exactly on a limit meets that class. DO is "not less than", pH must lie in
    6–9 (inside: class I, outside: 劣V), every other item is "not more than".
    `lake` selects the lake/reservoir column (TP, TN).
    """
    item = ITEMS.get(param)
    if item is None:
        if param in REFERENCE_ITEMS:
            raise WaterInputError(f"{param} is a reference item: it is reported but has no class")
        raise _unknown_error([param])
    v = _exact(param, value)
    if v < 0:
        raise WaterInputError(f"{param} ({item.name_zh}): value {value} is negative")
    limits = item.limits(lake=lake)
    if limits is None:
        raise WaterInputError(
            f"{param} ({item.name_zh}): GB 3838 gives limits for lakes and reservoirs only;"
            " for a river it is a reference item"
        )
    if item.rule == "range":
        low, high = limits
        return 1 if low <= v <= high else WORSE_THAN_V
    for number, limit in enumerate(limits, start=1):
        if (v >= limit) if item.rule == "min" else (v <= limit):
            return number
    return WORSE_THAN_V


def assess_section(
    values: Mapping[str, Value],
    *,
    lake: bool = False,
    colours: Mapping[int, str] | None = None,
) -> WaterAssessment:
    """Class, category, limiting items and colour of a section from its measured values.

    `values` maps item ids (see KNOWN_IDS) to mg/L (pH unitless; temp ℃; fcoli 个/L).
    Values are strings, Decimals or ints; a float is read through its shortest text form.
    `lake` is True for lakes and reservoirs (TP lake column; TN classed apart).
    `colours` overrides DEFAULT_COLOURS per class number.
    """
    unknown = [p for p in values if p not in ITEMS and p not in REFERENCE_ITEMS]
    if unknown:
        raise _unknown_error(unknown)

    palette = dict(DEFAULT_COLOURS)
    for number, colour in (colours or {}).items():
        class_info(number)
        if not isinstance(colour, str) or not _COLOUR_RE.fullmatch(colour):
            raise WaterInputError(f"colour for class {number}: {colour!r} is not of the form #RRGGBB")
        palette[number] = colour.upper()

    per_item: dict[str, int] = {}
    reference: dict[str, Decimal] = {}
    apart: dict[str, int] = {}
    for param in (*ITEMS, *REFERENCE_ITEMS):  # table order, whatever the mapping's order
        if param not in values:
            continue
        if param in ASSESSED_APART:
            reference[param] = _exact(param, values[param])
            if lake:
                apart[param] = item_class(param, values[param], lake=lake)
            elif reference[param] < 0:
                raise WaterInputError(f"{param}: value {values[param]} is negative")
        elif param in ITEMS and ITEMS[param].limits(lake=lake) is not None:
            per_item[param] = item_class(param, values[param], lake=lake)
        else:
            v = _exact(param, values[param])
            if v < 0 and param != "temp":
                raise WaterInputError(f"{param}: value {values[param]} is negative")
            reference[param] = v

    if not per_item:
        assessed = [p for p in ITEMS if ITEMS[p].limits(lake=lake) is not None and p not in ASSESSED_APART]
        raise WaterInputError(f"no assessed item: give at least one of {', '.join(assessed)}")

    worst = max(per_item.values())
    info = class_info(worst)
    core = CORE_LAKE if lake else CORE_RIVER
    return WaterAssessment(
        water_class=worst,
        label=info.label,
        category=info.category,
        limiting=tuple(p for p, c in per_item.items() if c == worst),
        per_item=per_item,
        reference=reference,
        missing=tuple(p for p in core if p not in values),
        colour=palette[worst],
        lake=lake,
        reference_classes=apart,
    )
