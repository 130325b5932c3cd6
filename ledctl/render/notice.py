"""A notice as board pages: a title and a body that flows, pages or scrolls to fit the board."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

from ledctl.errors import FitError
from ledctl.model import Board, Page, Size
from ledctl.render.bulletin import day_fields
from ledctl.render.canvas import Canvas, FontLoader, Line, Run
from ledctl.render.layout import Layout, check_dwell, flow_lines, slot_line


def render_notice(
    board: Board, layout: Layout, fonts: FontLoader, *, title: str, body: str,
    day: date | None = None, blink: bool = False, dwell_s: float | None = None, issuer: str = "",
) -> list[Page]:
    """Pages showing the notice on this board. FitError if it cannot be shown legibly.

    The body is wrapped by character (with Chinese punctuation rules) into the
    layout's flow region. If it does not fit one page, the layout's overflow
    decides: more pages with the title repeated, or a page that scrolls left or
    up (then the title gets a static page of its own first).

    A title wider than the board's title line (a real headline such as
    北京市气象台升级发布暴雨橙色预警信号) never stops the notice: it flows at the head of the
    body instead, in the warning colour, so an emergency always finds a way onto a board.
    """
    spec = layout.notice
    if spec is None:
        raise FitError(board.id, "notice", title, f"layout {layout.name} has no [notice] section")
    flow = spec.flow
    fields = {"title": title, "body": body, "issuer": issuer, **day_fields(day)}
    colours = {"level": "warning"}
    font = fonts(flow.font)
    rows = max(1, flow.height // font.line_height)
    lines = flow_lines(body, flow, board.size.width, fonts)
    effect = "blink" if blink else "static"

    title_lines: set[int] = set()  # indexes of flow lines that carry a folded title

    def static_page(name: str, chunk: list[str], first: int = 0, slots: bool = True) -> Page:
        canvas = Canvas(board, name, fonts)
        for slot in spec.slots if slots else ():
            canvas.draw(slot_line(slot, fields, colours))
        top = flow.y if slots else 0  # without the title line the flow has the whole board
        for i, text in enumerate(chunk):
            colour = "warning" if first + i in title_lines else flow.colour
            canvas.draw(Line(((Run(text, colour),),), flow.font, top + i * font.line_height,
                             align="left"))
        return canvas.page_value(effect=effect, dwell_s=_dwell(canvas, layout, dwell_s, spec.dwell_s))

    folded = False
    if flow.overflow == "page" and spec.slots:
        try:
            static_page("notice", [])
        except FitError:
            folded = True  # the title does not fit its line: it leads the body instead
            head = flow_lines(title, flow, board.size.width, fonts)
            title_lines = set(range(len(head)))
            lines = head + lines
    if folded:
        rows = max(1, (flow.y + flow.height) // font.line_height)
        chunks = [lines[i:i + rows] for i in range(0, len(lines), rows)]
        names = ["notice"] if len(chunks) == 1 else [f"notice-{n}" for n in range(1, len(chunks) + 1)]
        pages = [static_page(name, chunk, i * rows, slots=False)
                 for i, (name, chunk) in enumerate(zip(names, chunks, strict=True))]
    elif len(lines) <= rows:
        pages = [static_page("notice", lines)]
    elif flow.overflow == "page":
        chunks = [lines[i:i + rows] for i in range(0, len(lines), rows)]
        pages = [static_page(f"notice-{n}", chunk) for n, chunk in enumerate(chunks, start=1)]
    else:
        try:
            pages = [static_page("notice-title", [])] if spec.slots else []
        except FitError:
            # The title itself is too long for this board: it scrolls in front of the body.
            pages, body = [], f"{title}：{body}"
            lines = flow_lines(body, flow, board.size.width, fonts)
        pages.append(_scroll_page(board, layout, fonts, body, lines, flow.overflow))
    for page in pages:
        check_dwell(board, page, layout)
    return pages


def _dwell(canvas: Canvas, layout: Layout, asked: float | None, default: float) -> float:
    """The caller's dwell, else the layout's — raised to what the characters need to be read."""
    if asked is not None:
        return asked
    chars = sum(len(t.replace(" ", "")) for _, t in canvas.texts)
    return max(default, chars * layout.min_dwell_per_char)


def _scroll_page(board: Board, layout: Layout, fonts: FontLoader, body: str, lines: list[str],
                 overflow: str) -> Page:
    flow = layout.notice.flow  # type: ignore[union-attr]
    font = fonts(flow.font)
    width, height = board.size.width, board.size.height
    if overflow == "scroll-left":
        text = " ".join(body.split())
        strip = replace(board, size=Size(max(width, font.width(text)), height))
        canvas = Canvas(strip, "notice-scroll", fonts)
        canvas.draw(Line(((Run(text, flow.colour),),), flow.font, flow.y, align="left"))
        travel = canvas.image.width + width
    else:
        strip = replace(board, size=Size(width, max(height, len(lines) * font.line_height)))
        canvas = Canvas(strip, "notice-scroll", fonts)
        for i, text in enumerate(lines):
            canvas.draw(Line(((Run(text, flow.colour),),), flow.font, i * font.line_height, align="left"))
        travel = canvas.image.height + height
    # Slow down where the layout's speed would pass the text by faster than it can be read.
    chars = sum(len(t.replace(" ", "")) for _, t in canvas.texts)
    needed = chars * layout.min_dwell_per_char
    speed = min(layout.scroll_speed, travel / needed) if needed else layout.scroll_speed
    return canvas.page_value(effect=overflow, dwell_s=travel / speed, speed=speed)
