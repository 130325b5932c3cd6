"""The daily bulletin as board pages, one layout per board class.

Classes by size: outdoor full-colour screens (192x96 and up), community boards
(128x32 and up), small boards (64x32). Every line goes through the fit check in
`canvas`, so a layout that does not fit a board fails loudly, naming the board.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date

from ledctl.model import Board, Page, Program, StationBulletin
from ledctl.render.canvas import FontLoader, Line, Run, draw_page, line

WEEKDAYS = "一二三四五六日"
UPDATING = "数据更新中"


def day_text(day: date, with_year: bool = False) -> str:
    text = f"{day.month}月{day.day}日"
    return f"{day.year}年{text}" if with_year else text


def _values(sb: StationBulletin) -> dict[str, str]:
    v = sb.values
    return {
        "PM2.5": f"{v['pm25']:f}", "PM10": f"{v['pm10']:f}", "SO2": f"{v['so2']:f}",
        "NO2": f"{v['no2']:f}", "CO": f"{v['co']:f}", "O3": f"{v['o3_8h']:f}",
    }


def fitting(fonts: FontLoader, font: str, width: int, *candidates: str) -> str:
    """The first candidate text that fits `width` in `font` (the last one if none does,
    so the fit check reports it)."""
    f = fonts(font)
    for text in candidates:
        if f.width(text) <= width:
            return text
    return candidates[-1]


# -- outdoor full-colour screens ---------------------------------------------------------

def _outdoor(board: Board, sb: StationBulletin, fonts: FontLoader,
             title: str) -> list[tuple[str, list[Line]]]:
    wide = board.size.width >= 256
    head = [line(Run(title, "title"), font="cjk16", y=0)]
    if sb.assessment is None:
        return [("air", [*head, line(Run(UPDATING, "warning"), font="cjk16", y=board.size.height // 2 - 16,
                                      scale=2 if board.size.width >= 192 else 1)])]
    a = sb.assessment
    assert sb.day is not None
    big = 3 if wide else 2
    number_w = fonts("cjk16").width(a.display) * big
    gap = 8
    room = board.size.width - (8 + number_w + gap)
    primary = " ".join(a.primary) or "无"
    category_scale = 2 if fonts("cjk16").width(a.category) * 2 <= room else 1
    air = [
        *head,
        line(Run(f"{day_text(sb.day, with_year=wide)} {sb.station_name}"), font="cjk16", y=18),
        Line((Run(a.display, a.colour),), "cjk16", 38, align="left", x=8, scale=big),
        Line((Run(a.category, a.colour),), "cjk16", 38 + (16 * big - 16 * category_scale) // 2,
             align="left",
             x=8 + number_w + gap, scale=category_scale),
        line(Run(fitting(fonts, "cjk16", board.size.width - fonts("cjk16").width(primary),
                         "首要污染物 ", "首要 "), "label"),
             Run(primary), font="cjk16", y=38 + 16 * big + 4),
    ]
    vals = _values(sb)
    rows = [("PM2.5", "PM10"), ("SO2", "NO2"), ("CO", "O3")]
    col = board.size.width // 2
    table = [line(Run("主要污染物浓度", "title"), font="cjk16", y=0)]
    for i, (left, right) in enumerate(rows):
        y = 20 + i * (20 if wide else 18)
        table.append(Line((Run(f"{left} ", "label"), Run(vals[left])), "cjk16", y, align="left", x=8))
        table.append(Line((Run(f"{right} ", "label"), Run(vals[right])), "cjk16", y, align="left",
                          x=col + 8))
    h = board.size.height
    if wide:
        table.append(line(Run("单位：微克每立方米，CO为毫克每立方米", "label"), font="cjk12", y=h - 12))
    else:
        table.append(line(Run("单位：微克每立方米", "label"), font="cjk12", y=h - 24))
        table.append(line(Run("CO为毫克每立方米", "label"), font="cjk12", y=h - 12))
    return [("air", air), ("values", table)]


# -- community boards (two 16-px lines) ---------------------------------------------------

def _community(board: Board, sb: StationBulletin, fonts: FontLoader) -> list[tuple[str, list[Line]]]:
    if sb.assessment is None:
        return [("air", [line(Run("空气质量", "title"), font="cjk16", y=0),
                         line(Run(UPDATING, "warning"), font="cjk16", y=16)])]
    a = sb.assessment
    assert sb.day is not None
    # Ties name the first and say there are more; a page of their own lists them all.
    first = f" {a.primary[0]}{'等' if len(a.primary) > 1 else ''}" if a.primary else ""
    width = board.size.width
    label = fitting(fonts, "cjk16", width - fonts("cjk16").width(a.display + first), "AQI ", "AQI")
    second = [Run(label, "text"), Run(a.display, a.colour)]
    if first and fonts("cjk16").width(label + a.display + first) <= width:
        second.append(Run(first, "text"))
    label = "空气质量 " if len(a.category) <= 2 else "空气 "
    pages = [("air", [line(Run(label, "title"), Run(a.category, a.colour), font="cjk16", y=0),
                      Line(tuple(second), "cjk16", 16)])]
    if len(a.primary) > 1 or (a.primary and len(second) == 2):
        pages.append(("primary", [line(Run("首要污染物", "title"), font="cjk16", y=0),
                                  line(" ".join(a.primary), font="cjk16", y=16)]))
    pages.append(("source", [line(Run(sb.station_name, "title"), font="cjk16", y=0),
                             line(Run(f"{day_text(sb.day)} 日均值", "text"), font="cjk16", y=16)]))
    return pages


# -- small boards (64x32) ----------------------------------------------------------------

def _small(board: Board, sb: StationBulletin, fonts: FontLoader) -> list[tuple[str, list[Line]]]:
    if sb.assessment is None:
        return [("air", [line("数据", font="cjk16", y=0), line("更新中", font="cjk16", y=16)])]
    a = sb.assessment
    assert sb.day is not None
    lines = [line(Run(a.category, a.colour), font="cjk16", y=0),
             line(f"AQI {a.display}", font="latin5x7", y=16)]
    if a.primary:
        more = f" +{len(a.primary) - 1}" if len(a.primary) > 1 else ""
        lines.append(line(a.primary[0] + more, font="latin5x7", y=24))
    return [
        ("air", lines),
        ("source", [line("空气质量", font="cjk16", y=0),
                    line(f"{sb.day.month:02d}-{sb.day.day:02d}", font="latin5x7", y=20)]),
    ]


LayoutFn = Callable[[Board, StationBulletin, FontLoader], list[tuple[str, list[Line]]]]


def layout_for(board: Board, title: str) -> LayoutFn:
    w, h = board.size.width, board.size.height
    if w >= 192 and h >= 96:
        return lambda b, sb, f: _outdoor(b, sb, f, title)
    if w >= 128 and h >= 32:
        return _community
    return _small


def render_bulletin(
    board: Board, sb: StationBulletin, fonts: FontLoader, *, title: str = "环境空气质量日报",
    dwell_s: float = 8.0,
) -> Program:
    """The board's bulletin program: every page at the board's exact size, fit-checked."""
    pages: Sequence[Page] = [
        draw_page(board, name, lines, fonts, dwell_s=dwell_s)
        for name, lines in layout_for(board, title)(board, sb, fonts)
    ]
    return Program(board=board.id, pages=tuple(pages))
