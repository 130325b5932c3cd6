"""Layouts as data: board templates in TOML, turned into pages.

A layout file (config/layouts/*.toml) describes what one class of boards shows:
the pages of the daily bulletin and of a notice, each a list of lines at fixed
rows, with fonts by logical name, alignment, and colours by meaning. Text is a
small markup: `{field}` inserts a value, `[colour font xN]` starts a run
(`[level x3]{aqi}`). A line may list alternatives; the first that fits is used.

A new board size needs a new layout file, not a code change.
"""

from __future__ import annotations

import functools
import re
import string
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from ledctl.errors import ConfigError, FitError
from ledctl.fonts import catalogue
from ledctl.model import Board, Page, Size
from ledctl.render.canvas import Canvas, FontLoader, Line, PlannedLine, Run
from ledctl.render.canvas import clear_caches as canvas_clear_caches
from ledctl.render.text import wrap

MEANINGS = ("title", "text", "label", "warning", "level", "water1", "water2", "water3")
EFFECTS = ("static", "scroll-left", "scroll-up", "blink")
CONDITIONS = ("always", "assessed", "updating", "has_primary", "no_primary", "ties", "last_valid",
              "has_water", "has_water1", "has_water2", "has_water3",
              "sample", "real",  # the station's figures are sample data, or not
              "water_sample", "any_sample", "all_real",  # the water figures; any figure on the board
              "has_missing", "complete",  # an indicator was not measured (HJ 633—2026 §5.3.1), or none
              # the monthly summary: every HJ 663 figure given, or some withheld (数据不足); the same
              # month a year earlier could be compared, or not
              "month_given", "month_withheld", "has_change", "no_change")
OVERFLOWS = ("page", "scroll-left", "scroll-up")

BULLETIN_FIELDS = frozenset({
    "station", "date", "date_long", "date_short", "weekday", "aqi", "category", "level",
    "primary", "primary_first", "primary_more", "primary_plus", "pm25", "pm10", "so2", "no2", "co", "o3",
    "standard", "valid_label", "missing",
    "water1_name", "water1_state", "water2_name", "water2_state", "water3_name", "water3_state",
})
NOTICE_FIELDS = frozenset({"title", "body", "date", "date_short", "issuer"})
# The monthly summary of the outdoor screens (HJ 663 month figures, ledctl.render.monthly).
MONTHLY_FIELDS = frozenset({
    "month", "month_long", "area", "days_assessed", "days_in_month", "good_days", "good_share",
    "pm25", "pm10", "so2", "no2", "co", "o3", "index", "index_change", "pm25_change", "good_days_change",
    "short", "limits",
})

_TAG = re.compile(r"\[([^\[\]]*)\]")
_HEX = re.compile(r"^#[0-9A-Fa-f]{6}$")
_SCALE = re.compile(r"^x([1-8])$")


@dataclass(frozen=True, slots=True)
class Slot:
    """One line of a template before its fields are filled in."""

    y: int
    font: str
    texts: tuple[str, ...]  # alternatives, in markup
    align: str = "center"
    x: int = 0
    valign: str = "bottom"
    when: str = "always"


@dataclass(frozen=True, slots=True)
class PageSpec:
    name: str
    slots: tuple[Slot, ...]
    dwell_s: float = 8.0
    effect: str = "static"
    when: str = "always"


@dataclass(frozen=True, slots=True)
class Flow:
    """Where a notice's long text flows: wrapped into rows, paged or scrolled when it overflows."""

    y: int
    height: int
    font: str
    colour: str = "text"
    overflow: str = "page"


@dataclass(frozen=True, slots=True)
class NoticeSpec:
    slots: tuple[Slot, ...]
    flow: Flow
    dwell_s: float = 10.0


@dataclass(frozen=True, slots=True)
class MonthlySpec:
    """The monthly summary: its pages, shown on the first `days` days of a month."""

    pages: tuple[PageSpec, ...]
    days: int = 3


@dataclass(frozen=True, slots=True)
class Layout:
    name: str
    path: Path
    min_size: Size
    bulletin: tuple[PageSpec, ...]
    notice: NoticeSpec | None
    min_dwell_per_char: float = 0.25
    scroll_speed: float = 24.0
    description: str = ""
    monthly: MonthlySpec | None = None

    def fits(self, size: Size) -> bool:
        return size.width >= self.min_size.width and size.height >= self.min_size.height


# -- loading ---------------------------------------------------------------------------------

class _Checker:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.problems: list[str] = []

    def bad(self, where: str, value: object, expected: str) -> None:
        shown = f'"{value}"' if isinstance(value, str) else repr(value)
        self.problems.append(f"{self.path}: {where} = {shown}: expected {expected}")

    def need(self, table: Mapping[str, Any], key: str, kind: type | tuple[type, ...], where: str,
             expected: str, default: Any = None) -> Any:
        if key not in table:
            if default is None:
                self.problems.append(f"{self.path}: {where}.{key}: missing; expected {expected}")
            return default
        value = table[key]
        if not isinstance(value, kind) or (isinstance(value, bool) and bool not in (
                kind if isinstance(kind, tuple) else (kind,))):
            self.bad(f"{where}.{key}", value, expected)
            return default
        return value

    def unknown(self, table: Mapping[str, Any], known: Sequence[str], where: str) -> None:
        for key in table:
            if key not in known:
                path = f"{where}.{key}" if where else key
                self.problems.append(f"{self.path}: {path}: unknown key; expected one of: "
                                     f"{', '.join(known)}")

    def positive(self, value: Any, where: str, expected: str) -> None:
        if isinstance(value, int | float) and not isinstance(value, bool) and value <= 0:
            self.bad(where, value, expected)


def load_dir(folder: Path) -> dict[str, Layout]:
    """Every layout in `folder`; ConfigError listing every problem."""
    if not folder.is_dir():
        raise ConfigError([f"{folder}: layouts folder not found (set [layouts] dir in the config)"])
    layouts: dict[str, Layout] = {}
    problems: list[str] = []
    for path in sorted(folder.glob("*.toml")):
        try:
            layout = load_file(path)
        except ConfigError as e:
            problems.extend(e.problems)
            continue
        if layout.name in layouts:
            problems.append(f"{path}: layout.name = \"{layout.name}\": expected a unique name "
                            f"({layouts[layout.name].path} has it)")
        layouts[layout.name] = layout
    if problems:
        raise ConfigError(problems)
    if not layouts:
        raise ConfigError([f"{folder}: no layout files (*.toml) in it; copy the ones in config/layouts "
                           "or set [layouts] dir in the config"])
    return layouts


def load_file(path: Path) -> Layout:
    c = _Checker(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError([f"{path}: cannot read: {e}"]) from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError([f"{path}: not valid TOML: {e}"]) from None
    c.unknown(data, ("layout", "rules", "bulletin", "notice", "monthly"), "")
    head = c.need(data, "layout", dict, "layout", "a [layout] table", {}) or {}
    c.unknown(head, ("name", "description", "min_size"), "layout")
    name = c.need(head, "name", str, "layout", "a name")
    if name is not None and not name.strip():
        c.bad("layout.name", name, "a name boards can refer to, like \"community\"")
    size_text = c.need(head, "min_size", str, "layout", "WIDTHxHEIGHT like 128x32")
    min_size = Size(1, 1)
    if size_text is not None:
        try:
            min_size = Size.parse(size_text)
        except ValueError:
            c.bad("layout.min_size", size_text, "WIDTHxHEIGHT like 128x32")
    rules = c.need(data, "rules", dict, "rules", "a [rules] table", {}) or {}
    c.unknown(rules, ("min_dwell_per_char", "scroll_speed"), "rules")
    min_dwell = c.need(rules, "min_dwell_per_char", (int, float), "rules", "seconds per character", 0.25)
    speed = c.need(rules, "scroll_speed", (int, float), "rules", "pixels per second", 24.0)
    c.positive(min_dwell, "rules.min_dwell_per_char", "seconds per character, more than 0")
    c.positive(speed, "rules.scroll_speed", "pixels per second, more than 0")
    pages_raw = c.need(data, "bulletin", list, "bulletin", "an array of pages: [[bulletin]]", [])
    pages = tuple(_page(c, p, f"bulletin[{i}]", BULLETIN_FIELDS) for i, p in enumerate(pages_raw))
    if not pages_raw:
        c.problems.append(f"{path}: bulletin: missing; expected at least one [[bulletin]] page")
    notice = None
    if "notice" in data:
        notice = _notice(c, data["notice"])
    monthly = _monthly(c, data["monthly"]) if "monthly" in data else None
    if c.problems:
        raise ConfigError(c.problems)
    return Layout(name=name, path=path, min_size=min_size, bulletin=pages, notice=notice,
                  min_dwell_per_char=float(min_dwell), scroll_speed=float(speed),
                  description=head.get("description", ""), monthly=monthly)


def _page(c: _Checker, raw: Any, where: str, fields: frozenset[str]) -> PageSpec:
    if not isinstance(raw, dict):
        c.bad(where, raw, "a table")
        return PageSpec("?", ())
    c.unknown(raw, ("name", "when", "dwell", "effect", "lines"), where)
    name = c.need(raw, "name", str, where, "a page name") or "?"
    when = _choice(c, raw, "when", CONDITIONS, where, "always")
    effect = _choice(c, raw, "effect", EFFECTS, where, "static")
    dwell = c.need(raw, "dwell", (int, float), where, "seconds", 8.0)
    c.positive(dwell, f"{where}.dwell", "seconds, more than 0")
    lines = c.need(raw, "lines", list, where, "a list of lines", [])
    slots = tuple(_slot(c, s, f"{where}.lines[{i}]", fields) for i, s in enumerate(lines))
    return PageSpec(name, slots, float(dwell), effect, when)


def _slot(c: _Checker, raw: Any, where: str, fields: frozenset[str]) -> Slot:
    if not isinstance(raw, dict):
        c.bad(where, raw, "a table like { y = 0, font = \"cjk16\", text = [\"…\"] }")
        return Slot(0, "cjk16", ("",))
    c.unknown(raw, ("y", "font", "text", "align", "x", "valign", "when"), where)
    y = c.need(raw, "y", int, where, "a row number", 0)
    font = _font(c, raw, where)
    texts = raw.get("text")
    if isinstance(texts, str):
        texts = [texts]
    if not isinstance(texts, list) or not texts or not all(isinstance(t, str) for t in texts):
        c.bad(f"{where}.text", texts, "a text or a list of alternative texts")
        texts = [""]
    for t in texts:
        _check_markup(c, t, f"{where}.text", fields)
    align = _choice(c, raw, "align", ("left", "center", "right"), where, "center")
    valign = _choice(c, raw, "valign", ("top", "middle", "bottom"), where, "bottom")
    x = c.need(raw, "x", int, where, "pixels", 0)
    when = _choice(c, raw, "when", CONDITIONS, where, "always")
    return Slot(y, font, tuple(texts), align, x, valign, when)


def _notice(c: _Checker, raw: Any) -> NoticeSpec | None:
    if not isinstance(raw, dict):
        c.bad("notice", raw, "a [notice] table")
        return None
    c.unknown(raw, ("dwell", "lines", "flow"), "notice")
    dwell = c.need(raw, "dwell", (int, float), "notice", "seconds", 10.0)
    c.positive(dwell, "notice.dwell", "seconds, more than 0")
    lines = c.need(raw, "lines", list, "notice", "a list of lines", [])
    slots = tuple(_slot(c, s, f"notice.lines[{i}]", NOTICE_FIELDS) for i, s in enumerate(lines))
    flow_raw = c.need(raw, "flow", dict, "notice", "a flow table { y, height, font, overflow }")
    if flow_raw is None:
        return None  # reported above; its keys cannot be judged
    c.unknown(flow_raw, ("y", "height", "font", "colour", "overflow"), "notice.flow")
    c.positive(flow_raw.get("height"), "notice.flow.height", "rows, more than 0")
    flow = Flow(
        y=c.need(flow_raw, "y", int, "notice.flow", "a row number", 0),
        height=c.need(flow_raw, "height", int, "notice.flow", "rows"),
        font=_font(c, flow_raw, "notice.flow"),
        colour=_colour(c, flow_raw.get("colour", "text"), "notice.flow.colour"),
        overflow=_choice(c, flow_raw, "overflow", OVERFLOWS, "notice.flow", "page"),
    )
    return NoticeSpec(slots, flow, float(dwell))


def _monthly(c: _Checker, raw: Any) -> MonthlySpec | None:
    if not isinstance(raw, dict):
        c.bad("monthly", raw, "a [monthly] table with days and [[monthly.page]] pages")
        return None
    c.unknown(raw, ("days", "page"), "monthly")
    days = c.need(raw, "days", int, "monthly", "the first days of a month it is shown on, 1..10", 3)
    if isinstance(days, int) and not 1 <= days <= 10:
        c.bad("monthly.days", days, "1..10 (the first days of a month)")
    pages_raw = c.need(raw, "page", list, "monthly", "an array of pages: [[monthly.page]]", []) or []
    if not pages_raw:
        c.problems.append(f"{c.path}: monthly.page: missing; expected at least one [[monthly.page]]")
    pages = tuple(_page(c, p, f"monthly.page[{i}]", MONTHLY_FIELDS) for i, p in enumerate(pages_raw))
    return MonthlySpec(pages, days if isinstance(days, int) else 3)


def _choice(c: _Checker, raw: Mapping[str, Any], key: str, options: Sequence[str], where: str,
            default: str) -> str:
    value = raw.get(key, default)
    if value not in options:
        c.bad(f"{where}.{key}", value, f"one of {', '.join(options)}")
        return default
    return str(value)


def _font(c: _Checker, raw: Mapping[str, Any], where: str) -> str:
    font = c.need(raw, "font", str, where, "a font name from fonts/catalogue.toml")
    if font and font not in catalogue():
        c.bad(f"{where}.font", font, f"a font from fonts/catalogue.toml ({', '.join(catalogue())})")
        return "cjk16"
    return font or "cjk16"


def _colour(c: _Checker, value: Any, where: str) -> str:
    if not isinstance(value, str) or not (value in MEANINGS or _HEX.match(value)):
        c.bad(where, value, f"a colour meaning ({', '.join(MEANINGS)}) or #RRGGBB")
        return "text"
    return value


def _check_markup(c: _Checker, text: str, where: str, fields: frozenset[str]) -> None:
    for tag in _TAG.findall(text):
        for word in tag.split():
            if not (word in MEANINGS or _HEX.match(word) or _SCALE.match(word) or word in catalogue()):
                c.bad(where, text, f"tags like [level], [title cjk12], [level x3]; {word!r} is none of "
                                   "a colour meaning, #RRGGBB, a font or a scale x1..x8")
    try:
        names = {name for _, name, _, _ in string.Formatter().parse(_TAG.sub("", text)) if name}
    except ValueError:
        c.bad(where, text, "balanced { } around field names")
        return
    for name in sorted(names - fields):
        c.bad(where, text, f"fields from: {', '.join(sorted(fields))} ({{{name}}} is not one)")


# -- choosing and applying ---------------------------------------------------------------------

def for_effects(layout: Layout, effects: frozenset[str] | None) -> Layout:
    """`layout` for a board that shows only `effects` (None: all): pages with another effect are
    static, and a notice that would scroll pages instead — a BX card's picture cannot move, so its
    preview must not either."""
    if effects is None:
        return layout
    pages = tuple(p if p.effect in effects else replace(p, effect="static") for p in layout.bulletin)
    notice = layout.notice
    if notice is not None and notice.flow.overflow not in effects and notice.flow.overflow != "page":
        notice = replace(notice, flow=replace(notice.flow, overflow="page"))
    return replace(layout, bulletin=pages, notice=notice)


def layout_for(board: Board, layouts: Mapping[str, Layout]) -> Layout:
    """The board's own layout (`layout = "…"`), else the largest one made for a board its size."""
    if board.layout:
        if board.layout not in layouts:
            raise ConfigError([f"board {board.id}: layout \"{board.layout}\" not found "
                               f"(known: {', '.join(layouts)})"])
        return layouts[board.layout]
    fitting = [lay for lay in layouts.values() if lay.fits(board.size)]
    if not fitting:
        raise ConfigError([f"board {board.id}: no layout is made for a {board.size} board; add one to "
                           "the layouts folder (see README 'Adding a board size')"])
    return max(fitting, key=lambda lay: (lay.min_size.width * lay.min_size.height, lay.name))


def parse_markup(text: str, fields: Mapping[str, str], colours: Mapping[str, str]) -> tuple[Run, ...]:
    """`[level x3]{aqi}[text] {primary}` with fields filled in → runs."""
    runs = []
    for colour, font, scale, chunk in _segments(text):
        value = chunk.format_map(fields)
        if value:
            runs.append(Run(value, colours.get(colour, colour), font, scale))
    return tuple(runs)


@functools.lru_cache(maxsize=4096)
def _segments(text: str) -> tuple[tuple[str, str | None, int, str], ...]:
    """The markup split into (colour, font, scale, text with {fields}); parsed once per template text."""
    out: list[tuple[str, str | None, int, str]] = []
    colour, font, scale = "text", None, 1
    pos = 0
    for m in [*_TAG.finditer(text), None]:
        chunk = text[pos:m.start() if m else len(text)]
        if chunk:
            out.append((colour, font, scale, chunk))
        if m is None:
            break
        colour, font, scale = "text", None, 1
        for word in m.group(1).split():
            if word in MEANINGS or _HEX.match(word):
                colour = word
            elif _SCALE.match(word):
                scale = int(word[1:])
            else:
                font = word
        pos = m.end()
    return tuple(out)


def holds(condition: str, facts: Mapping[str, bool]) -> bool:
    return condition == "always" or facts.get(condition, False)


def slot_line(slot: Slot, fields: Mapping[str, str], colours: Mapping[str, str]) -> Line:
    alternatives = tuple(parse_markup(t, fields, colours) for t in slot.texts)
    return Line(alternatives, slot.font, slot.y, slot.align, slot.x, slot.valign)


_SLOT_CACHE: dict[tuple[object, ...], tuple[Slot, PlannedLine]] = {}


def _planned_slot(canvas: Canvas, slot: Slot, fields: Mapping[str, str],
                  colours: Mapping[str, str]) -> PlannedLine:
    """A slot laid out, cached by the slot and just the field values it uses (cheap to key)."""
    key = (id(slot), *[fields.get(n, "") for n in _slot_fields(slot)], colours.get("level"),
           canvas.image.size, canvas.board.colour, canvas.fonts, canvas.lines is not None)
    hit = _SLOT_CACHE.get(key)
    if hit is None or hit[0] is not slot:  # holding the slot keeps its id from being reused
        planned = canvas.plan(slot_line(slot, fields, colours))
        if len(_SLOT_CACHE) > 8192:
            _SLOT_CACHE.clear()
        hit = _SLOT_CACHE[key] = (slot, planned)
    return hit[1]


_FIELDS_OF: dict[int, tuple[Slot, tuple[str, ...]]] = {}


def _slot_fields(slot: Slot) -> tuple[str, ...]:
    """The field names a slot uses, worked out once per slot."""
    hit = _FIELDS_OF.get(id(slot))
    if hit is None or hit[0] is not slot:
        hit = _FIELDS_OF[id(slot)] = (slot, _field_names(slot))
    return hit[1]


def _field_names(slot: Slot) -> tuple[str, ...]:
    names: list[str] = []
    for text in slot.texts:
        for *_, chunk in _segments(text):
            names.extend(n for _, n, _, _ in string.Formatter().parse(chunk) if n)
    return tuple(dict.fromkeys(names))


def clear_caches() -> None:
    """Forget every laid-out slot and line (benchmarks measure cold rendering with it)."""
    _SLOT_CACHE.clear()
    canvas_clear_caches()


def check_dwell(board: Board, page: Page, layout: Layout) -> None:
    """A page must stay long enough to be read: `min_dwell_per_char` seconds per character."""
    chars = sum(len(text) - text.count(" ") for _, text in page.texts)
    needed = chars * layout.min_dwell_per_char
    if page.dwell_s + 1e-9 < needed:
        said = " / ".join(text for _, text in page.texts)
        raise FitError(board.id, page.name, said,
                       f"is shown {page.dwell_s:g} s; {chars} characters need at least {needed:g} s "
                       f"({layout.min_dwell_per_char:g} s each, rules in {layout.path.name})")


def render_pages(
    board: Board, layout: Layout, specs: Sequence[PageSpec], fields: Mapping[str, str],
    colours: Mapping[str, str], facts: Mapping[str, bool], fonts: FontLoader,
) -> list[Page]:
    pages = []
    for spec in specs:
        if not holds(spec.when, facts):
            continue
        canvas = Canvas(board, spec.name, fonts)
        for slot in spec.slots:
            if holds(slot.when, facts):
                canvas.apply(_planned_slot(canvas, slot, fields, colours))
        page = canvas.page_value(effect=spec.effect, dwell_s=spec.dwell_s)
        check_dwell(board, page, layout)
        pages.append(page)
    return pages


def flow_lines(text: str, flow: Flow, width: int, fonts: FontLoader) -> list[str]:
    font = fonts(flow.font)
    return wrap(text, font.width, width)
