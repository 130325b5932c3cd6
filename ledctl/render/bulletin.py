"""The daily bulletin as board pages, through the board's layout (config/layouts/*.toml)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date

from ledctl.model import Board, Page, Program, StationBulletin, WaterBulletin
from ledctl.render.cache import PageCache
from ledctl.render.canvas import FontLoader
from ledctl.render.layout import Layout, render_pages
from ledctl.standards.aqi import US_CATEGORY_ZH, US_EPA

WEEKDAYS = "一二三四五六日"
UNKNOWN = "—"


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
    return fields, colours, facts


def bulletin_fields(sb: StationBulletin) -> tuple[dict[str, str], dict[str, str], dict[str, bool]]:
    """(fields for the markup, colour meanings, conditions) of one station's bulletin.

    Stale or invalid data have no figures at all: a template cannot show one by mistake.
    """
    fields = {"station": sb.station_name, **day_fields(sb.day), "valid_label": "日均值"}
    a = sb.assessment
    facts = {"assessed": a is not None, "updating": a is None, "last_valid": sb.last_valid}
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
    fields.update({
        "aqi": a.display, "category": category, "level": str(a.level), "standard": a.standard,
        "primary": " ".join(a.primary) or "无",
        "primary_first": a.primary[0] if a.primary else "",
        "primary_more": "等" if len(a.primary) > 1 else "",
        "primary_plus": f" +{len(a.primary) - 1}" if len(a.primary) > 1 else "",
        **{name: f"{v[param]:f}" if param in v else UNKNOWN for name, param in
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

    def make() -> list[Page]:
        return render_pages(board, layout, layout.bulletin, fields, colours, facts, fonts)

    if cache is None:
        return Program(board=board.id, pages=tuple(make()))
    key = ("bulletin", layout, board.size, board.colour, _frozen(fields), _frozen(colours), _frozen(facts))
    return Program(board=board.id, pages=cache.pages(key, make))


def _frozen(mapping: Mapping[str, object]) -> tuple[tuple[str, object], ...]:
    return tuple(sorted(mapping.items()))
