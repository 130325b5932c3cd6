"""The font catalogue (import name: ledctl.fonts).

Layouts name fonts logically (`cjk16`, `latin5x7`); the catalogue maps each
name to a file, found in the configured folders, this folder, or Debian's font
folders. Glyphs render as crisp 1-bit bitmaps, and a character the font lacks
is reported, never drawn as a box. A font may name a `fallback` of the same
line height (WenQuanYi 16 px lacks accented Latin such as "ö"; GNU Unifont 16 px
has it): characters the font lacks are drawn from the fallback.
"""

from __future__ import annotations

import functools
import tomllib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import freetype
from PIL import Image, ImageDraw, ImageFont

from ledctl.errors import FontError

HERE = Path(__file__).resolve().parent
DEBIAN_FONT_DIRS = (
    Path("/usr/share/fonts/X11/misc"),
    Path("/usr/share/fonts/opentype/unifont"),
    Path("/usr/share/fonts/truetype/unifont"),
)


@dataclass(frozen=True, slots=True)
class FontSpec:
    name: str
    file: str
    size: int
    line_height: int
    offset: int = 0
    package: str = ""
    description: str = ""
    fallback: str = ""  # the font drawing the characters this one lacks (same line height)


@functools.cache
def catalogue() -> dict[str, FontSpec]:
    text = resources.files(__name__).joinpath("catalogue.toml").read_text(encoding="utf-8")
    return {
        name: FontSpec(name=name, **{k: v for k, v in entry.items()})
        for name, entry in tomllib.loads(text).items()
    }


@dataclass(frozen=True)
class BoardFont:
    """A loaded font: renders 1-bit text and knows which characters it has."""

    spec: FontSpec
    path: Path
    pil: ImageFont.FreeTypeFont = field(repr=False)
    face: freetype.Face = field(repr=False)
    fallback: BoardFont | None = field(default=None, repr=False)
    _has_glyph: dict[str, bool] = field(default_factory=dict, repr=False, compare=False)

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def line_height(self) -> int:
        return self.spec.line_height

    def missing(self, text: str) -> list[str]:
        """Characters of `text` neither this font nor its fallback has a glyph for, in order, once each."""
        return [c for c in dict.fromkeys(text) if self._font_for(c) is None]

    def _font_for(self, char: str) -> BoardFont | None:
        if self._has(char):
            return self
        if self.fallback is not None and self.fallback._has(char):
            return self.fallback
        return None

    def _segments(self, text: str) -> list[tuple[BoardFont, str]]:
        """`text` in runs of one font each (this one where it has the glyph)."""
        out: list[tuple[BoardFont, str]] = []
        for char in text:
            font = self._font_for(char) or self
            if out and out[-1][0] is font:
                out[-1] = (font, out[-1][1] + char)
            else:
                out.append((font, char))
        return out

    def _mixed(self, text: str) -> bool:
        """Whether part of `text` comes from the fallback (as `_segments` would split it), without
        splitting it: asked for every run drawn."""
        fallback = self.fallback
        return fallback is not None and any(not self._has(c) and fallback._has(c) for c in text)

    def _has(self, char: str) -> bool:
        known = self._has_glyph.get(char)
        if known is None:
            known = self._has_glyph[char] = self.face.get_char_index(ord(char)) != 0
        return known

    def width(self, text: str) -> int:
        if self._mixed(text):
            return sum(round(f.pil.getlength(part)) for f, part in self._segments(text))
        return round(self.pil.getlength(text))

    def ink(self, text: str) -> tuple[Any, tuple[int, int, int, int]] | None:
        """`text`'s glyphs as a 1-bit core mask cropped to the ink, and where that ink sits
        relative to the top-left of its line box; None when there is no ink (spaces).

        A glyph no taller than the line but placed partly outside it (WenQuanYi 16 px draws
        "/", "(", "g" two rows below its 16-row line, for an 18-row cell) is moved up or down
        just enough to fit: a board line has no room for the cell's descent, and the glyph is
        still itself. Ink taller than the line stays outside: callers check, and refuse it.
        """
        if not text:
            return None
        if self._mixed(text):
            return self._fitted(text)
        core, (ox, oy) = self.pil.getmask2(text, mode="1", anchor="la")
        box = core.getbbox()
        if box is None:
            return None
        left, top, right, bottom = box
        dy = oy - self.spec.offset
        if dy + top < 0 or dy + bottom > self.line_height:
            return self._fitted(text)
        return core.crop(box), (ox + left, dy + top, ox + right, dy + bottom)

    def _fitted(self, text: str) -> tuple[Any, tuple[int, int, int, int]] | None:
        """`text` drawn glyph by glyph, each one that sticks out of the line moved back into it."""
        spill = self.spec.size
        image = Image.new("1", (self.width(text) + 2 * spill, self.line_height + 2 * spill), 0)
        x = 0.0
        for char in text:
            font = self._font_for(char) or self
            core, (ox, oy) = font.pil.getmask2(char, mode="1", anchor="la")
            box = core.getbbox()
            if box is not None:
                left, top, right, bottom = box
                y = oy - font.spec.offset + top
                height = bottom - top
                if height <= self.line_height:
                    y = min(max(y, 0), self.line_height - height)
                glyph = Image.new("1", (right - left, height))
                glyph.im.paste(1, (0, 0, right - left, height), core.crop(box))
                image.paste(glyph, (spill + round(x) + ox + left, spill + y), glyph)
            x += round(font.pil.getlength(char)) if font is not self else self.pil.getlength(char)
        box = image.getbbox()
        if box is None:
            return None
        left, top, right, bottom = box
        mask = image.crop(box).convert("L")  # the same kind of mask FreeType gives for whole runs
        return mask.im, (left - spill, top - spill, right - spill, bottom - spill)

    def render(self, text: str) -> Image.Image:
        """`text` as a 1-bit image one line high; ink outside the line box is kept below/right.

        The image is `line_height` rows plus room for descenders, so callers can
        see ink that would spill out of the line (a fit error, not a silent clip).
        """
        spill = self.spec.size
        image = Image.new("1", (max(1, self.width(text)) + spill, self.line_height + spill), 0)
        draw = ImageDraw.Draw(image)
        draw.fontmode = "1"  # crisp: no anti-aliasing on an LED
        x = 0
        for font, part in self._segments(text):
            draw.text((x, -font.spec.offset), part, font=font.pil, fill=1, anchor="la")
            x += round(font.pil.getlength(part))
        return image


def search_dirs(extra: Iterable[Path] = ()) -> list[Path]:
    return [*extra, HERE, *DEBIAN_FONT_DIRS]


def find_file(spec: FontSpec, extra: Sequence[Path] = ()) -> Path:
    for folder in search_dirs(extra):
        candidate = folder / spec.file
        if candidate.is_file():
            return candidate
    for candidate in sorted(Path("/usr/share/fonts").rglob(spec.file)):
        return candidate
    where = ", ".join(str(d) for d in search_dirs(extra))
    fix = (
        f"install the Debian package: sudo apt-get install {spec.package}"
        if spec.package
        else "it ships with ledctl: reinstall the project (make venv)"
    )
    raise FontError(f"font {spec.name}: file {spec.file} not found (looked in {where}); {fix}")


def load(name: str, extra_dirs: Sequence[Path] = ()) -> BoardFont:
    """Load the font with logical `name`; a missing font names the package to install."""
    return _load(name, tuple(extra_dirs))


@functools.cache
def _load(name: str, extra_dirs: tuple[Path, ...]) -> BoardFont:
    specs = catalogue()
    spec = specs.get(name)
    if spec is None:
        raise FontError(f"font {name!r} is not in the catalogue (known: {', '.join(specs)})")
    path = find_file(spec, extra_dirs)
    try:
        pil = ImageFont.truetype(str(path), spec.size)
        face = freetype.Face(str(path))
    except OSError as e:
        raise FontError(f"font {name}: cannot load {path} at {spec.size} px: {e}") from None
    fallback = None
    if spec.fallback:
        fallback = _load(spec.fallback, extra_dirs)
        if fallback.line_height != spec.line_height:
            raise FontError(f"font {name}: its fallback {spec.fallback} has line height "
                            f"{fallback.line_height}, not {spec.line_height}; pick one of the same height")
    return BoardFont(spec, path, pil, face, fallback)
