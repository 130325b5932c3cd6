"""Drawing lines of text onto a page, with the fit check built in.

A page is a list of lines. A line has one or more alternatives — the first one
that fits the board is drawn — and each alternative is a row of runs: text in
one colour, font and integer scale. Before a pixel is drawn, every character is
checked against its font and every run's ink against the board: a missing glyph
or clipped text is a FitError naming the board, page and text.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from PIL import Image

from ledctl.errors import FitError
from ledctl.fonts import BoardFont
from ledctl.model import Board, Page, TextLine
from ledctl.render.colour import reduce


# Runs and lines are named tuples, not frozen dataclasses: a broadcast makes them by the thousand
# (a line per slot of every page) and a tuple is made several times faster.
class Run(NamedTuple):
    text: str
    colour: str = "text"  # a meaning ("title", "text", "level" resolved by the caller) or "#RRGGBB"
    font: str | None = None  # None: the line's font
    scale: int = 1


class Line(NamedTuple):
    """One line of a page: the first alternative that fits is drawn."""

    alternatives: tuple[tuple[Run, ...], ...]
    font: str
    y: int
    align: str = "center"  # "left", "center", "right"
    x: int = 0  # left edge for "left", right margin for "right", offset for "center"
    valign: str = "bottom"  # where runs of different heights sit: "top", "middle", "bottom"

    @property
    def text(self) -> str:
        return "".join(r.text for r in self.alternatives[0])


def line(*runs: Run | str, font: str, y: int, **kw: object) -> Line:
    """Shorthand for a line with one alternative; plain strings become runs in the text colour."""
    parts = tuple(r if isinstance(r, Run) else Run(r) for r in runs)
    return Line((parts,), font, y, **kw)  # type: ignore[arg-type]


FontLoader = Callable[[str], BoardFont]


@dataclass(frozen=True, slots=True)
class PlannedLine:
    """A line laid out: each run's colour, box on the page and ink mask (a Pillow core image)."""

    pastes: tuple[tuple[tuple[int, int, int], tuple[int, int, int, int], Any], ...]
    said: tuple[str, str]  # (font, text) as shown
    text: TextLine | None = None  # the line as text, when it is one font at its own size


@dataclass(frozen=True, slots=True)
class _Placed:
    ink_mask: Any  # Pillow core mask cropped to the ink; None for a run with no ink (spaces)
    ink: tuple[int, int, int, int] | None  # where that ink sits, relative to the run's top-left
    width: int
    height: int  # the run's line box


@dataclass
class Canvas:
    """Draws lines on one page image; remembers the rendered runs for speed."""

    board: Board
    page: str
    fonts: FontLoader
    image: Image.Image = field(init=False)
    texts: list[tuple[str, str]] = field(default_factory=list)
    # The page as text, kept only for a board whose controller draws its pages itself (`loop =
    # "card"`): None for every other board, and once anything drawn is not plain text.
    lines: list[TextLine] | None = field(init=False, default=None)
    _core: Any = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.image = Image.new("RGB", (self.board.size.width, self.board.size.height), (0, 0, 0))
        self._core = self.image.im
        if self.board.loop == "card":
            self.lines = []

    def draw(self, ln: Line) -> None:
        self.apply(self.plan(ln))

    def plan(self, ln: Line) -> PlannedLine:
        """Lay out a line (cached by everything that decides its pixels); FitError if it cannot fit."""
        key = (ln, self.image.size, self.board.colour, self.fonts, self.lines is not None)
        planned = _LINE_CACHE.get(key)
        if planned is None:
            planned = self._layout(ln)
            if len(_LINE_CACHE) > 8192:
                _LINE_CACHE.clear()
            _LINE_CACHE[key] = planned
        return planned

    def apply(self, planned: PlannedLine) -> None:
        core = self._core
        for colour, box, mask in planned.pastes:
            # The core paste skips Pillow's per-call checks; the fit check has placed it inside.
            core.paste(colour, box, mask)
        self.texts.append(planned.said)
        if self.lines is not None:
            if planned.text is None:
                self.lines = None
            else:
                self.lines.append(planned.text)

    def _layout(self, ln: Line) -> PlannedLine:
        """The first alternative that fits, drawn into one line image."""
        problem: FitError | None = None
        for alternative in ln.alternatives:
            try:
                placed = [self._place(run, ln.font) for run in alternative]
                x0, top = self._position(ln, alternative, placed)
            except FitError as e:
                problem = e  # the last, most compact form's reason is the one to report
                continue
            return self._paint(ln, alternative, placed, x0, top)
        assert problem is not None
        raise problem

    def _fail(self, text: str, reason: str) -> FitError:
        return FitError(self.board.id, self.page, text, reason)

    def _place(self, run: Run, line_font: str) -> _Placed:
        font = self.fonts(run.font or line_font)
        placed, missing = _rendered(font, run.text, run.scale)
        if missing:
            chars = " ".join(f"{c!r} (U+{ord(c):04X})" for c in missing)
            raise self._fail(run.text, f"uses {chars}, not in font {font.name} of this board; reword it")
        return placed

    def _position(self, ln: Line, runs: Sequence[Run], placed: Sequence[_Placed]) -> tuple[int, int]:
        text = "".join(r.text for r in runs)
        total = sum(p.width for p in placed)
        width, height = self.image.size
        if ln.align == "left":
            x0 = ln.x
        elif ln.align == "right":
            x0 = width - ln.x - total
        else:
            x0 = (width - total) // 2 + ln.x
        box = max(p.height for p in placed)
        if x0 < 0 or x0 + total > width:
            raise self._fail(text, f"is {total} px wide; the board is {width} px wide")
        if ln.y < 0 or ln.y + box > height:
            raise self._fail(text, f"needs rows {ln.y}..{ln.y + box - 1}; the board has rows 0..{height - 1}")
        x = x0
        for run, p in zip(runs, placed, strict=True):
            if p.ink is not None:
                ink_left, ink_top, ink_right, ink_bottom = p.ink
                if ink_top < 0 or ink_bottom > p.height or x + ink_left < 0 or x + ink_right > width:
                    raise self._fail(text, f"{run.text!r} has ink outside its line in font "
                                           f"{run.font or ln.font}: a descender or wide glyph "
                                           "would be clipped")
            x += p.width
        return x0, ln.y

    def _paint(self, ln: Line, runs: Sequence[Run], placed: Sequence[_Placed], x0: int,
               top: int) -> PlannedLine:
        said = (ln.font, "".join(r.text for r in runs))
        box = max(p.height for p in placed)
        pastes = []
        x = x0
        for run, p in zip(runs, placed, strict=True):
            if p.ink is not None and p.ink_mask is not None:
                left, ink_top, right, bottom = p.ink  # the mask is cropped to this box
                y = top + _offset(ln.valign, box, p.height) + ink_top
                pastes.append((reduce(run.colour, self.board.colour),
                               (x + left, y, x + right, y + bottom - ink_top), p.ink_mask))
            x += p.width
        text = self._text_line(ln, runs) if self.lines is not None else None
        return PlannedLine(tuple(pastes), said, text)

    def _text_line(self, ln: Line, runs: Sequence[Run]) -> TextLine | None:
        """The line as text, when it is one font at its own size (else None: only a picture)."""
        if any(r.scale != 1 or (r.font is not None and r.font != ln.font) for r in runs):
            return None
        return TextLine(ln.y, ln.font, tuple((r.text, reduce(r.colour, self.board.colour)) for r in runs),
                        ln.align, ln.x)

    def page_value(self, *, effect: str = "static", dwell_s: float = 8.0, speed: float = 0.0) -> Page:
        lines = tuple(self.lines) if self.lines is not None and effect == "static" else None
        return Page(name=self.page, image=self.image, effect=effect, dwell_s=dwell_s,
                    texts=tuple(self.texts), speed_px_s=speed, lines=lines)


def _offset(valign: str, box: int, height: int) -> int:
    if valign == "top":
        return 0
    if valign == "middle":
        return (box - height) // 2
    return box - height


# A drawn line, by everything that decides its pixels: the line, page size, colour mode and fonts.
_LINE_CACHE: dict[tuple[object, ...], PlannedLine] = {}

_RunKey = tuple[int, str, int]
_RUN_CACHE: dict[_RunKey, tuple[_Placed, tuple[str, ...], BoardFont]] = {}


def _rendered(font: BoardFont, text: str, scale: int) -> tuple[_Placed, tuple[str, ...]]:
    """A run drawn once per font, text and scale: its ink mask and box, width, and missing glyphs.

    Board text repeats ("空气质量", "AQI", labels), so most runs of a page are cache hits.
    """
    key = (id(font), text, scale)
    hit = _RUN_CACHE.get(key)
    if hit is None or hit[2] is not font:  # the font reference keeps the id from being reused
        missing = tuple(font.missing(text))
        drawn = None if missing else font.ink(text)
        mask, ink = (None, None) if drawn is None else drawn
        if mask is not None and ink is not None and scale > 1:
            mask = mask.resize((mask.size[0] * scale, mask.size[1] * scale), Image.Resampling.NEAREST)
            ink = (ink[0] * scale, ink[1] * scale, ink[2] * scale, ink[3] * scale)
        placed = _Placed(mask, ink, font.width(text) * scale, font.line_height * scale)
        if len(_RUN_CACHE) > 8192:
            _RUN_CACHE.clear()
        hit = _RUN_CACHE[key] = (placed, missing, font)
    return hit[0], hit[1]


def clear_caches() -> None:
    """Forget every drawn run and line (benchmarks measure cold rendering with it)."""
    _RUN_CACHE.clear()
    _LINE_CACHE.clear()


def draw_page(
    board: Board,
    name: str,
    lines: Sequence[Line],
    fonts: FontLoader,
    *,
    effect: str = "static",
    dwell_s: float = 8.0,
) -> Page:
    """Render `lines` onto a page of the board's exact size; FitError if anything does not fit."""
    canvas = Canvas(board, name, fonts)
    for ln in lines:
        canvas.draw(ln)
    return canvas.page_value(effect=effect, dwell_s=dwell_s)
