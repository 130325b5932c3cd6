"""The daily bulletin as board pages, through the board's layout (config/layouts/*.toml)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date

from ledctl.model import Board, Page, Program, StationBulletin
from ledctl.render.cache import PageCache
from ledctl.render.canvas import FontLoader
from ledctl.render.layout import Layout, render_pages

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


def bulletin_fields(sb: StationBulletin) -> tuple[dict[str, str], dict[str, str], dict[str, bool]]:
    """(fields for the markup, colour meanings, conditions) of one station's bulletin.

    Stale or invalid data have no figures at all: a template cannot show one by mistake.
    """
    fields = {"station": sb.station_name, **day_fields(sb.day)}
    a = sb.assessment
    facts = {"assessed": a is not None, "updating": a is None}
    colours = {"level": "text"}
    if a is None:
        fields.update({k: UNKNOWN for k in ("aqi", "category", "level", "primary", "primary_first",
                                              "primary_more", "primary_plus", "pm25", "pm10", "so2",
                                              "no2", "co", "o3", "standard")})
        return fields, colours, facts
    v = sb.values
    fields.update({
        "aqi": a.display, "category": a.category, "level": str(a.level), "standard": a.standard,
        "primary": " ".join(a.primary) or "无",
        "primary_first": a.primary[0] if a.primary else "",
        "primary_more": "等" if len(a.primary) > 1 else "",
        "primary_plus": f" +{len(a.primary) - 1}" if len(a.primary) > 1 else "",
        "pm25": f"{v['pm25']:f}", "pm10": f"{v['pm10']:f}", "so2": f"{v['so2']:f}",
        "no2": f"{v['no2']:f}", "co": f"{v['co']:f}", "o3": f"{v['o3_8h']:f}",
    })
    colours["level"] = a.colour
    facts.update({"has_primary": bool(a.primary), "no_primary": not a.primary, "ties": len(a.primary) > 1})
    return fields, colours, facts


def render_bulletin(
    board: Board, sb: StationBulletin, fonts: FontLoader, layout: Layout, cache: PageCache | None = None,
) -> Program:
    """The board's bulletin program: every page at the board's exact size, fit-checked."""
    fields, colours, facts = bulletin_fields(sb)

    def make() -> list[Page]:
        return render_pages(board, layout, layout.bulletin, fields, colours, facts, fonts)

    if cache is None:
        return Program(board=board.id, pages=tuple(make()))
    key = ("bulletin", layout, board.size, board.colour, _frozen(fields), _frozen(colours), _frozen(facts))
    return Program(board=board.id, pages=cache.pages(key, make))


def _frozen(mapping: Mapping[str, object]) -> tuple[tuple[str, object], ...]:
    return tuple(sorted(mapping.items()))
