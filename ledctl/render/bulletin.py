"""The daily bulletin as board pages, through the board's layout (config/layouts/*.toml).

Figures are written to the precision the standard rates them at (HJ 633—2026 §4.2.2: CO to
0.1 mg/m³, the other pollutants to whole µg/m³, rounded half to even by GB/T 8170), so a board
never shows a raw float and always shows the value its AQI was computed from.

A bulletin built from sample data says so on every page that shows a figure (示例数据); a layout
that has no room for it is refused, naming the page, rather than showing synthetic figures
as if measured.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from decimal import ROUND_HALF_EVEN, Decimal

from ledctl.errors import FitError
from ledctl.model import Board, Page, Program, StationBulletin, WaterBulletin
from ledctl.render.cache import PageCache
from ledctl.render.canvas import FontLoader
from ledctl.render.layout import Layout, render_pages
from ledctl.standards.aqi import US_CATEGORY_ZH, US_EPA

WEEKDAYS = "一二三四五六日"
UNKNOWN = "—"
SAMPLE_MARK = "示例"  # every page with a figure from sample data carries it ("示例数据", "示例")
_PRECISION = {"co": Decimal("0.1")}  # everything else: whole µg/m³


def concentration_text(param: str, value: Decimal) -> str:
    """A concentration as the board writes it: CO to 0.1 mg/m³, the rest whole, half to even."""
    return f"{value.quantize(_PRECISION.get(param, Decimal(1)), rounding=ROUND_HALF_EVEN):f}"


def missing_label(missing: Sequence[str]) -> str:
    """What a board says about indicators not measured (HJ 633—2026 §5.3.1 names them)."""
    names = [m.split("-")[0] for m in missing]
    return f"{names[0]}缺测" if len(names) == 1 else f"{len(names)}项缺测"


def day_fields(day: date | None) -> dict[str, str]:
    if day is None:
        return {"date": UNKNOWN, "date_long": UNKNOWN, "date_short": UNKNOWN, "weekday": UNKNOWN}
    return {
        "date": f"{day.month}月{day.day}日",
        "date_long": f"{day.year}年{day.month}月{day.day}日",
        "date_short": f"{day.month:02d}-{day.day:02d}",
        "weekday": f"星期{WEEKDAYS[day.weekday()]}",
    }


def water_fields(water: Sequence[WaterBulletin]) -> tuple[dict[str, str], dict[str, str], dict[str, bool]]:
    """Fields for up to three water sections: name and "III类 良好" (or 数据更新中), class colour."""
    fields: dict[str, str] = {}
    colours: dict[str, str] = {}
    facts = {"has_water": bool(water)}
    for n in (1, 2, 3):
        w = water[n - 1] if len(water) >= n else None
        facts[f"has_water{n}"] = w is not None
        fields[f"water{n}_name"] = w.station_name if w else UNKNOWN
        fields[f"water{n}_state"] = (f"{w.label}类 {w.category}" if w and not w.updating else "数据更新中")
        colours[f"water{n}"] = w.colour if w and not w.updating else "warning"
    facts["water_sample"] = any(w.sample for w in water)
    return fields, colours, facts


def bulletin_fields(sb: StationBulletin) -> tuple[dict[str, str], dict[str, str], dict[str, bool]]:
    """(fields for the markup, colour meanings, conditions) of one station's bulletin.

    Stale or invalid data have no figures at all: a template cannot show one by mistake.
    """
    fields = {"station": sb.station_name, **day_fields(sb.day), "valid_label": "日均值", "missing": ""}
    a = sb.assessment
    facts = {"assessed": a is not None, "updating": a is None, "last_valid": sb.last_valid,
             "sample": sb.sample, "real": not sb.sample, "has_missing": bool(sb.missing),
             "complete": not sb.missing}
    colours = {"level": "text"}
    if a is None:
        fields["valid_label"] = UNKNOWN
        fields.update({k: UNKNOWN for k in ("aqi", "category", "level", "primary", "primary_first",
                                              "primary_more", "primary_plus", "pm25", "pm10", "so2",
                                              "no2", "co", "o3", "standard")})
        return fields, colours, facts
    v = sb.values
    category = a.category
    if a.standard == US_EPA:  # an index on the US scale (e.g. from WAQI): said so, in Chinese
        category = US_CATEGORY_ZH[a.level - 1]
        fields["valid_label"] = "美标AQI"
    if sb.last_valid:
        fields["valid_label"] = "最近有效"
    if sb.missing:
        fields["valid_label"] = fields["missing"] = missing_label(sb.missing)
    fields.update({
        "aqi": a.display, "category": category, "level": str(a.level), "standard": a.standard,
        "primary": " ".join(a.primary) or "无",
        "primary_first": a.primary[0] if a.primary else "",
        "primary_more": "等" if len(a.primary) > 1 else "",
        "primary_plus": f" +{len(a.primary) - 1}" if len(a.primary) > 1 else "",
        **{name: concentration_text(param, v[param]) if param in v else UNKNOWN for name, param in
           (("pm25", "pm25"), ("pm10", "pm10"), ("so2", "so2"), ("no2", "no2"), ("co", "co"),
            ("o3", "o3_8h" if "o3_8h" in v else "o3_1h"))},
    })
    colours["level"] = a.colour
    facts.update({"has_primary": bool(a.primary), "no_primary": not a.primary, "ties": len(a.primary) > 1})
    return fields, colours, facts


def render_bulletin(
    board: Board, sb: StationBulletin, fonts: FontLoader, layout: Layout, cache: PageCache | None = None,
    water: Sequence[WaterBulletin] = (),
) -> Program:
    """The board's bulletin program: every page at the board's exact size, fit-checked."""
    fields, colours, facts = bulletin_fields(sb)
    w_fields, w_colours, w_facts = water_fields(water)
    fields.update(w_fields)
    colours.update(w_colours)
    facts.update(w_facts)

    facts["any_sample"] = facts["sample"] or facts["water_sample"]
    facts["all_real"] = not facts["any_sample"]

    def make() -> list[Page]:
        pages = render_pages(board, layout, layout.bulletin, fields, colours, facts, fonts)
        if facts["any_sample"]:
            _check_sample_marked(board, layout, pages)
        return pages

    if cache is None:
        return Program(board=board.id, pages=tuple(make()))
    key = ("bulletin", layout, board.size, board.colour, board.loop, _frozen(fields), _frozen(colours),
           _frozen(facts))
    return Program(board=board.id, pages=cache.pages(key, make))


def _check_sample_marked(board: Board, layout: Layout, pages: Sequence[Page]) -> None:
    """Sample figures never look measured: every page that shows one must say so."""
    for page in pages:
        said = "".join(text for _, text in page.texts)
        if "数据更新中" in said:
            continue  # no figure on it
        if SAMPLE_MARK not in said:
            raise FitError(board.id, page.name, " / ".join(t for _, t in page.texts),
                           f"shows sample data without saying so; give layout {layout.name} a line for "
                           f'when = "sample" that writes 示例数据 ({layout.path.name})')


def _frozen(mapping: Mapping[str, object]) -> tuple[tuple[str, object], ...]:
    return tuple(sorted(mapping.items()))
