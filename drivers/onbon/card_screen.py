"""What an Onbon BX card draws for a text area: its own 16-dot GB2312 font, the area's alignment,
wrapping, colour codes and effect.

One model, used twice: by the card emulator (what the simulated card shows) and by the previews
and the console (what ledctl promises a board shows), so a notice the card draws in its own
font looks in the preview as it will on the card — not like ledctl's rendered pictures.

Sources: the A3 06 area record and the text codes (`\\C` colour, `\\n`, `\\F` font …) are the
protocol document's (§5.6.1, "字符串转义"); the colour digits 1..7 are red, green, yellow, blue,
cyan, magenta, white there. The card's own 16-dot font is modelled by WenQuanYi Bitmap Song 16 px
(GB2312, as the card's font). Not documented, and ledctl's model until measured on a card: the
scroll rate of each Speed value (`SCROLL_PX_PER_S`) and where a scrolling line starts (off the
right edge, as LedshowTW previews it).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime

from PIL import Image, ImageDraw, ImageFont

from ledctl import fonts
from ledctl.drivers.onbon import commands
from ledctl.model import Board, Page, TextLine

CARD_FONT = "cjk16"  # the catalogue's WenQuanYi 16 px: the card's GB2312 16-dot font
CELL = 16  # the card font's cell: a Chinese character is 16x16, a Latin one 8x16
BLACK = (0, 0, 0)
COLOURS = {  # the \C digit → (R, G, B)
    1: (255, 0, 0), 2: (0, 255, 0), 3: (255, 255, 0), 4: (0, 0, 255),
    5: (0, 255, 255), 6: (255, 0, 255), 7: (255, 255, 255),
}
NOTICE_COLOUR = 1  # red: a notice on a red-green board reads as a warning, never as green "good"
EFFECT_STATIC, EFFECT_LEFT = 0x01, 0x03
ALIGN_MIDDLE = 0x08  # bits 3-2 = 2: vertically centred
SCROLL_SPEED = 0  # the Speed byte ledctl sends (0 fastest … 24 slowest)


def scroll_px_per_s(speed: int) -> float:
    """How fast a moving area travels at a Speed byte: ledctl's model (see the module doc)."""
    return 32.0 / (1 + speed / 4)


@dataclass(frozen=True)
class TextRun:
    text: str
    colour: int  # \C digit, 1 = red


@dataclass(frozen=True, slots=True)
class TextLook:
    """How ledctl asks a card to draw a text in one full-board area (what `show_text` sends)."""

    scroll: bool  # one line moving left; else wrapped lines, still
    align: int
    effect: int
    speed: int = SCROLL_SPEED


def text_look(board: Board, text: str) -> TextLook:
    """Still and wrapped when the text fits the board in the card's font; else one line moving left,
    vertically centred (a single line at the top would leave the rest of the board dark)."""
    cells = sum(1 if ch.isascii() else 2 for ch in text)  # in half-width cells of 8 px
    fits = (board.size.width // (CELL // 2)) * (board.size.height // CELL)
    if cells <= fits:
        return TextLook(False, 0, EFFECT_STATIC)
    return TextLook(True, ALIGN_MIDDLE, EFFECT_LEFT)


def decode_text(raw: bytes, now: datetime | None = None) -> list[list[TextRun]]:
    """Area/page text (GB2312/GBK with inline codes) → lines of coloured runs.

    Parsed byte-wise so that a GBK trail byte 0x5C is never taken for a backslash.
    """
    lines: list[list[TextRun]] = [[]]
    colour = 1
    pending = bytearray()

    def flush() -> None:
        if pending:
            lines[-1].append(TextRun(pending.decode("gbk", errors="replace"), colour))
            pending.clear()

    i, n = 0, len(raw)
    while i < n:
        b = raw[i]
        if b >= 0x81 and i + 1 < n:
            pending += raw[i:i + 2]
            i += 2
            continue
        if b == 0x0A:
            flush()
            lines.append([])
            i += 1
            continue
        if b == 0x0D:
            i += 1
            continue
        if b == 0x5C and i + 1 < n:
            code = raw[i + 1]
            if code == ord("n"):
                flush()
                lines.append([])
                i += 2
                continue
            if code == ord("F"):
                i += 6
                continue
            if code == ord("C") and i + 2 < n and 0x30 <= raw[i + 2] <= 0x39:
                flush()
                colour = raw[i + 2] - 0x30
                i += 3
                continue
            if code == ord("W"):
                i += 5
                continue
            if code == ord("T"):
                end = raw.find(b"|", i + 5)
                i = n if end < 0 else end + 1
                continue
            if code == ord("D") and i + 2 < n:
                if now is not None:
                    field_ = {
                        ord("S"): f"{now.second:02d}", ord("M"): f"{now.minute:02d}",
                        ord("H"): f"{now.hour:02d}", ord("D"): f"{now.day:02d}",
                        ord("L"): f"{now.month:02d}", ord("Y"): f"{now.year:04d}",
                        ord("W"): str(now.isoweekday()),
                    }.get(raw[i + 2], "")
                    pending += field_.encode("ascii")
                i += 3
                continue
        pending.append(b)
        i += 1
    flush()
    return lines


@functools.lru_cache(maxsize=8)
def card_font(path: str = "") -> ImageFont.FreeTypeFont:
    """The card's font (a path for an emulator told to use another)."""
    spec = fonts.catalogue()[CARD_FONT]
    return ImageFont.truetype(path or str(fonts.find_file(spec)), spec.size)


def rgb(colour: int, mono: bool) -> tuple[int, int, int]:
    r, g, b = COLOURS.get(colour, COLOURS[1])
    if mono:
        return (255, 0, 0) if (r or g or b) else BLACK
    return (r, g, 0)  # a red-green panel has no blue


def _wrap(lines: list[list[TextRun]], font: ImageFont.FreeTypeFont, width: int) -> list[list[TextRun]]:
    out: list[list[TextRun]] = []
    for line in lines:
        cur: list[TextRun] = []
        used = 0.0
        for run in line:
            for ch in run.text:
                cw = font.getlength(ch)
                if used + cw > width and used > 0:
                    out.append(cur)
                    cur, used = [], 0.0
                if cur and cur[-1].colour == run.colour:
                    cur[-1] = TextRun(cur[-1].text + ch, run.colour)
                else:
                    cur.append(TextRun(ch, run.colour))
                used += cw
        out.append(cur)
    return out


def draw_area(lines: list[list[TextRun]], width: int, height: int, *, align: int, spacing: int,
              wrap: bool, effect: int = EFFECT_STATIC, speed: int = SCROLL_SPEED, elapsed_s: float = 0.0,
              mono: bool = False, font: ImageFont.FreeTypeFont | None = None) -> Image.Image:
    """The area as the card shows it `elapsed_s` after it was sent. A single line moving left
    enters at the right edge and leaves at the left, again and again."""
    font = font or card_font()
    ascent, descent = font.getmetrics()
    line_h = ascent + descent + spacing
    if wrap:
        lines = _wrap(lines, font, width)
    area = Image.new("RGB", (width, height), BLACK)
    draw = ImageDraw.Draw(area)
    draw.fontmode = "1"
    total_h = len(lines) * line_h - spacing
    v = (align >> 2) & 3
    y = height - total_h if v == 1 else (height - total_h) // 2 if v == 2 else 0
    moving = effect == EFFECT_LEFT and len(lines) == 1
    for line in lines:
        line_w = sum(font.getlength(run.text) for run in line)
        hz = align & 3
        x = width - line_w if hz == 1 else (width - line_w) / 2 if hz == 2 else 0
        if moving:
            travel = line_w + width
            x = width - (elapsed_s * scroll_px_per_s(speed)) % travel
        for run in line:
            draw.text((int(x), y), run.text, font=font, fill=rgb(run.colour, mono))
            x += font.getlength(run.text)
        y += line_h
    return area


def text_pages(board: Board, text: str, *, dwell_s: float = 10.0) -> tuple[Page, ...]:
    """What the card shows for `text` sent as ledctl sends it (`text_look`), as pages a preview plays:
    one still page, or one line moving left at the card's rate. CommandError-free: the caller has
    checked the card can draw it (`OnbonBxDriver.can_draw`)."""
    look = text_look(board, text)
    raw = commands.encode_text(text, colour=NOTICE_COLOUR)
    lines = decode_text(raw)
    mono = board.colour.value == "mono-red"
    width, height = board.size.width, board.size.height
    said = (("card", text),)
    if not look.scroll:
        image = draw_area(lines, width, height, align=look.align, spacing=0, wrap=True, mono=mono)
        return (Page("card-text", image, effect="static", dwell_s=dwell_s, texts=said),)
    font = card_font()
    line_w = round(sum(font.getlength(run.text) for line in lines for run in line))
    # The whole line once, still: the preview's scroll moves it in from the right as the card does.
    strip = draw_area(lines, line_w, height, align=look.align, spacing=0, wrap=False, mono=mono)
    speed = scroll_px_per_s(look.speed)
    return (Page("card-text", strip, effect="scroll-left", dwell_s=(line_w + width) / speed,
                 texts=said, speed_px_s=speed),)


# -- pages the card draws and cycles itself (the special area in text mode) ------------------------------


class NotCardText(ValueError):
    """A page the card cannot draw as text: a picture, another font, a line off its 16-px rows."""


def colour_code(rgb: tuple[int, int, int]) -> int | None:
    """The \\C digit of a colour as a board shows it (red, green, yellow …), or None (black, a shade)."""
    for digit, value in COLOURS.items():
        if value == rgb:
            return digit
    return None


def page_rows(board: Board, page: Page) -> list[list[tuple[str, int]]]:
    """A page of text lines as the special area draws it in text mode: one row of the card's 16-dot
    font per 16 px, the lines' runs with their colour codes. The area has no alignment of its own
    (A4 01, protocol document §8.3), so a centred or right-aligned line starts after half-width
    spaces: it may sit up to 4 px from where ledctl's picture put it. NotCardText when the page is
    anything else."""
    if page.lines is None or page.effect != "static":
        raise NotCardText(f"page {page.name} is a picture, not lines of text")
    font = card_font()
    rows: dict[int, TextLine] = {}
    for ln in page.lines:
        if ln.font != CARD_FONT:
            raise NotCardText(f"page {page.name}: {ln.text!r} is in font {ln.font}, not the card's 16-dot "
                              f"font ({CARD_FONT})")
        if ln.y % CELL or ln.y + CELL > board.size.height or ln.y // CELL in rows:
            raise NotCardText(f"page {page.name}: {ln.text!r} at y = {ln.y} is not on a row of its own of "
                              f"the card's {CELL}-px text")
        rows[ln.y // CELL] = ln
    out: list[list[tuple[str, int]]] = []
    for row in range(max(rows, default=-1) + 1):
        ln = rows.get(row)
        if ln is None:
            out.append([])
            continue
        width = font.getlength(ln.text)
        room = board.size.width
        left = {"left": ln.x, "right": room - ln.x - width}.get(ln.align, (room - width) / 2 + ln.x)
        spaces = max(0, round(left / (CELL // 2)))
        if spaces * (CELL // 2) + width > room:
            raise NotCardText(f"page {page.name}: {ln.text!r} is wider than the board in the card's font")
        runs: list[tuple[str, int]] = []
        for i, (text, rgb) in enumerate(ln.runs):
            code = colour_code(rgb)
            if code is None:
                raise NotCardText(f"page {page.name}: {text!r} is in colour {rgb}, which the card's "
                                  "text colours (\\C1..7) do not have")
            runs.append(((" " * spaces if i == 0 else "") + text, code))
        out.append(runs)
    return out


def page_text(board: Board, page: Page) -> bytes:
    """The bytes of one text page of the special area (A4 02) for `page`: NotCardText, or
    commands.TextNotEncodable for a character outside the card's GB2312."""
    return commands.encode_rows(page_rows(board, page))


def draw_page_text(board: Board, raw: bytes) -> Image.Image:
    """A text page (`page_text`'s bytes) as the card draws it: the same model the emulator draws with."""
    return draw_area(decode_text(raw), board.size.width, board.size.height, align=0, spacing=0, wrap=False,
                     mono=board.colour.value == "mono-red")


def stay_half_seconds(dwell_s: float) -> int:
    """The area's StayTime (0.5-s units) for a page dwell: one value for every page of the area."""
    return max(1, min(0xFFFF, round(dwell_s * 2)))
