"""Drawing lines of text onto a page, with the fit check built in.

A page is a list of lines; a line is a row of coloured text runs in one font.
Before a pixel is drawn, every character is checked against the font and every
line's ink against the board: a missing glyph or clipped text is a FitError
naming the board, page and text — never a tofu box, never a silent clip.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from PIL import Image

from ledctl.errors import FitError
from ledctl.fonts import BoardFont
from ledctl.model import Board, Page
from ledctl.render.colour import reduce


@dataclass(frozen=True, slots=True)
class Run:
    text: str
    colour: str = "text"  # a meaning or "#RRGGBB"


@dataclass(frozen=True, slots=True)
class Line:
    """One line of text: its runs, font, top row, alignment and integer scale."""

    runs: tuple[Run, ...]
    font: str
    y: int
    align: str = "center"  # "left", "center", "right"
    x: int = 0  # left edge for "left", right margin for "right", offset for "center"
    scale: int = 1

    @property
    def text(self) -> str:
        return "".join(r.text for r in self.runs)


def line(*runs: Run | str, font: str, y: int, **kw: object) -> Line:
    """Shorthand: plain strings become runs in the default text colour."""
    parts = tuple(r if isinstance(r, Run) else Run(r) for r in runs)
    return Line(parts, font, y, **kw)  # type: ignore[arg-type]


FontLoader = Callable[[str], BoardFont]


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
    width, height = board.size.width, board.size.height
    page = Image.new("RGB", (width, height), (0, 0, 0))
    for ln in lines:
        font = fonts(ln.font)
        missing = font.missing(ln.text)
        if missing:
            chars = " ".join(f"{c!r} (U+{ord(c):04X})" for c in missing)
            raise FitError(board.id, name, ln.text,
                           f"uses {chars}, not in font {font.name} of this board; reword it")
        _draw_line(page, board, name, ln, font)
    return Page(name=name, image=page, effect=effect, dwell_s=dwell_s,
                texts=tuple((ln.font, ln.text) for ln in lines))


def _draw_line(page: Image.Image, board: Board, name: str, ln: Line, font: BoardFont) -> None:
    s = ln.scale
    masks = [font.render(run.text) for run in ln.runs]
    widths = [font.width(run.text) * s for run in ln.runs]
    total = sum(widths)
    if ln.align == "left":
        x0 = ln.x
    elif ln.align == "right":
        x0 = page.width - ln.x - total
    else:
        x0 = (page.width - total) // 2 + ln.x
    box_top, box_bottom = ln.y, ln.y + font.line_height * s
    if x0 < 0 or x0 + total > page.width:
        raise FitError(board.id, name, ln.text,
                       f"is {total} px wide in font {font.name}"
                       f"{f' x{s}' if s > 1 else ''}; the board is {page.width} px wide")
    if box_top < 0 or box_bottom > page.height:
        raise FitError(board.id, name, ln.text,
                       f"needs rows {box_top}..{box_bottom - 1}; the board has rows 0..{page.height - 1}")
    x = x0
    for run, mask, w in zip(ln.runs, masks, widths, strict=True):
        if s > 1:
            mask = mask.resize((mask.width * s, mask.height * s), Image.Resampling.NEAREST)
        ink = mask.getbbox()
        if ink is not None:
            _, top, right, bottom = ink
            if top + box_top < box_top or bottom + box_top > box_bottom or x + right > page.width:
                raise FitError(board.id, name, ln.text,
                               f"has ink outside its line (rows {box_top}..{box_bottom - 1}) "
                               f"in font {font.name}: a descender or tall glyph would be clipped")
            colour = reduce(run.colour, board.colour)
            page.paste(colour, (x, box_top), mask)
        x += w
