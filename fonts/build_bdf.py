#!/usr/bin/env python3
"""Build BDF 2.1 bitmap fonts from ledctl's readable glyph sources.

Each ``fonts/src/<name>.txt`` becomes ``fonts/<name>.bdf``. Source format::

    family Latin5x7          # directives, before the first glyph
    width 5                  # ink columns per glyph row
    ascent 7                 # rows above the baseline
    descent 1                # rows below the baseline
    advance 6                # DWIDTH (ink + spacing)

    char U+0041 A            # code point, optional label
    .###.                    # exactly ascent+descent rows of '#'/'.'
    ...

Lines starting with "# " (or a lone "#") are comments; blank lines are ignored.
Neither may appear inside a glyph's rows.

Usage::

    python fonts/build_bdf.py            # rebuild every fonts/src/*.txt
    python fonts/build_bdf.py --check    # exit 1 if a .bdf is stale or missing
    python fonts/build_bdf.py SRC.txt    # build only the given sources

Exit status: 0 ok, 1 ``--check`` found a stale/missing .bdf, 2 bad source.
Part of ledctl (MIT License).
"""

from __future__ import annotations

import argparse
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

FONTS_DIR = Path(__file__).resolve().parent
SRC_DIR = FONTS_DIR / "src"

FOUNDRY = "ledctl"
RESOLUTION = 75
COPYRIGHT = "Copyright (c) the ledctl authors. MIT License."
NOTICE = "Part of ledctl. Original glyphs drawn for ledctl; released under the MIT License."

_CHAR_RE = re.compile(r"^char\s+U\+([0-9A-Fa-f]{4,6})(?:\s+(\S.*?))?\s*$")
_ROW_RE = re.compile(r"^[#.]+$")
_DIRECTIVES = ("family", "width", "ascent", "descent", "advance")


class SourceError(Exception):
    """A problem in a glyph source file, reported with its location."""

    def __init__(self, path: Path, line: int, message: str) -> None:
        super().__init__(f"{path}:{line}: {message}")


@dataclass
class Glyph:
    codepoint: int
    line: int
    rows: list[str] = field(default_factory=list)


@dataclass
class FontSource:
    path: Path
    family: str
    width: int
    ascent: int
    descent: int
    advance: int
    glyphs: list[Glyph]

    @property
    def height(self) -> int:
        return self.ascent + self.descent


def _is_comment(line: str) -> bool:
    return line == "#" or line.startswith("# ")


def parse_source(path: Path) -> FontSource:
    """Parse and validate one source file; raise SourceError on any defect."""
    settings: dict[str, str] = {}
    glyphs: list[Glyph] = []
    seen: dict[int, int] = {}
    current: Glyph | None = None
    height = 0
    width = 0
    last_line = 0

    def settle(lineno: int) -> int:
        nonlocal height, width
        missing = [d for d in _DIRECTIVES if d not in settings]
        if missing:
            names = ", ".join(missing)
            raise SourceError(path, lineno, f"missing directive(s) before first glyph: {names}")
        values: dict[str, int] = {}
        for key in ("width", "ascent", "descent", "advance"):
            try:
                values[key] = int(settings[key])
            except ValueError:
                raise SourceError(path, lineno, f"directive {key!r} must be an integer") from None
        if values["width"] < 1 or values["ascent"] < 1 or values["descent"] < 0:
            raise SourceError(path, lineno, "width/ascent must be >= 1 and descent >= 0")
        if values["advance"] < values["width"]:
            raise SourceError(path, lineno, "advance must be >= width")
        width = values["width"]
        height = values["ascent"] + values["descent"]
        return height

    text = path.read_text(encoding="utf-8")
    for lineno, raw in enumerate(text.splitlines(), start=1):
        last_line = lineno
        line = raw.rstrip()
        if current is not None:
            if not _ROW_RE.match(line):
                raise SourceError(
                    path,
                    lineno,
                    f"glyph U+{current.codepoint:04X} (line {current.line}) has "
                    f"{len(current.rows)} rows, expected {height}",
                )
            if len(line) != width:
                raise SourceError(
                    path,
                    lineno,
                    f"glyph U+{current.codepoint:04X} row is {len(line)} wide, expected {width}",
                )
            current.rows.append(line)
            if len(current.rows) == height:
                glyphs.append(current)
                current = None
            continue

        if not line or _is_comment(line):
            continue
        if _ROW_RE.match(line):
            where = f" after glyph U+{glyphs[-1].codepoint:04X}" if glyphs else ""
            raise SourceError(path, lineno, f"bitmap row outside a glyph{where} (too many rows?)")
        match = _CHAR_RE.match(line)
        if match:
            if not height:
                settle(lineno)
            cp = int(match.group(1), 16)
            label = match.group(2)
            if cp > 0x10FFFF or 0xD800 <= cp <= 0xDFFF:
                raise SourceError(path, lineno, f"U+{cp:04X} is not a valid code point")
            if cp in seen:
                first = seen[cp]
                raise SourceError(
                    path, lineno, f"duplicate code point U+{cp:04X} (first at line {first})"
                )
            if label is not None and len(label) == 1 and label != chr(cp):
                raise SourceError(
                    path, lineno, f"label {label!r} does not match U+{cp:04X} ({chr(cp)!r})"
                )
            seen[cp] = lineno
            current = Glyph(cp, lineno)
            continue
        key, _, value = line.partition(" ")
        if key in _DIRECTIVES:
            if height:
                raise SourceError(
                    path, lineno, f"directive {key!r} must come before the first glyph"
                )
            if key in settings:
                raise SourceError(path, lineno, f"duplicate directive {key!r}")
            if not value.strip():
                raise SourceError(path, lineno, f"directive {key!r} needs a value")
            settings[key] = value.strip()
            continue
        raise SourceError(path, lineno, f"unrecognised line: {line!r}")

    if current is not None:
        raise SourceError(
            path,
            last_line,
            f"glyph U+{current.codepoint:04X} (line {current.line}) has "
            f"{len(current.rows)} rows, expected {height}",
        )
    if not glyphs:
        raise SourceError(path, last_line, "no glyphs defined")
    if not re.fullmatch(r"[A-Za-z0-9 ]+", settings["family"]):
        raise SourceError(path, 1, "family may only contain letters, digits and spaces")

    return FontSource(
        path=path,
        family=settings["family"],
        width=int(settings["width"]),
        ascent=int(settings["ascent"]),
        descent=int(settings["descent"]),
        advance=int(settings["advance"]),
        glyphs=sorted(glyphs, key=lambda g: g.codepoint),
    )


def _ink_box(rows: list[str]) -> tuple[int, int, int, int] | None:
    """Return (left, top, right, bottom) of lit pixels, exclusive ends; None if blank."""
    lit_rows = [y for y, row in enumerate(rows) if "#" in row]
    if not lit_rows:
        return None
    lit_cols = [x for x in range(len(rows[0])) if any(row[x] == "#" for row in rows)]
    return lit_cols[0], lit_rows[0], lit_cols[-1] + 1, lit_rows[-1] + 1


def render_bdf(font: FontSource) -> str:
    """Render a parsed source as BDF 2.1 text (deterministic)."""
    pixel_size = font.height
    point_size = pixel_size * 10  # decipoints, X11 misc-fixed convention; readers use PIXEL_SIZE
    avg_width = font.advance * 10
    xlfd = (
        f"-{FOUNDRY}-{font.family}-Medium-R-Normal--{pixel_size}-{point_size}-"
        f"{RESOLUTION}-{RESOLUTION}-C-{avg_width}-ISO10646-1"
    )
    swidth = round(font.advance * 72000 / (point_size / 10 * RESOLUTION))
    cap_height = _x_extent(font, "H") or font.ascent
    x_height = _x_extent(font, "x") or font.ascent

    props: list[tuple[str, str | int]] = [
        ("FOUNDRY", FOUNDRY),
        ("FAMILY_NAME", font.family),
        ("WEIGHT_NAME", "Medium"),
        ("SLANT", "R"),
        ("SETWIDTH_NAME", "Normal"),
        ("ADD_STYLE_NAME", ""),
        ("PIXEL_SIZE", pixel_size),
        ("POINT_SIZE", point_size),
        ("RESOLUTION_X", RESOLUTION),
        ("RESOLUTION_Y", RESOLUTION),
        ("SPACING", "C"),
        ("AVERAGE_WIDTH", avg_width),
        ("CHARSET_REGISTRY", "ISO10646"),
        ("CHARSET_ENCODING", "1"),
        ("FONT_ASCENT", font.ascent),
        ("FONT_DESCENT", font.descent),
        ("CAP_HEIGHT", cap_height),
        ("X_HEIGHT", x_height),
        ("COPYRIGHT", COPYRIGHT),
        ("NOTICE", NOTICE),
    ]

    out: list[str] = [
        "STARTFONT 2.1",
        f"COMMENT Generated by fonts/build_bdf.py from fonts/src/{font.path.name}; do not edit.",
        f"FONT {xlfd}",
        f"SIZE {pixel_size} {RESOLUTION} {RESOLUTION}",
        f"FONTBOUNDINGBOX {font.advance} {font.height} 0 {-font.descent}",
        f"STARTPROPERTIES {len(props)}",
    ]
    for name, value in props:
        out.append(f'{name} "{value}"' if isinstance(value, str) else f"{name} {value}")
    out += ["ENDPROPERTIES", f"CHARS {len(font.glyphs)}"]

    for glyph in font.glyphs:
        box = _ink_box(glyph.rows)
        out += [
            f"STARTCHAR U+{glyph.codepoint:04X}",
            f"ENCODING {glyph.codepoint}",
            f"SWIDTH {swidth} 0",
            f"DWIDTH {font.advance} 0",
        ]
        if box is None:
            out += ["BBX 0 0 0 0", "BITMAP"]
        else:
            left, top, right, bottom = box
            w, h = right - left, bottom - top
            out += [f"BBX {w} {h} {left} {font.ascent - bottom}", "BITMAP"]
            nbytes = (w + 7) // 8
            for row in glyph.rows[top:bottom]:
                bits = row[left:right].replace("#", "1").replace(".", "0")
                value = int(bits, 2) << (nbytes * 8 - w)
                out.append(f"{value:0{nbytes * 2}X}")
        out.append("ENDCHAR")
    out.append("ENDFONT")
    return "\n".join(out) + "\n"


def _x_extent(font: FontSource, char: str) -> int | None:
    """Height above the baseline of a reference glyph (for CAP_HEIGHT/X_HEIGHT)."""
    for glyph in font.glyphs:
        if glyph.codepoint == ord(char):
            box = _ink_box(glyph.rows)
            return None if box is None else font.ascent - box[1]
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "sources", nargs="*", type=Path, help="source .txt files (default: fonts/src/*.txt)"
    )
    parser.add_argument(
        "--check", action="store_true", help="exit 1 if any .bdf differs from its source"
    )
    args = parser.parse_args(argv)

    sources: list[Path] = args.sources or sorted(SRC_DIR.glob("*.txt"))
    if not sources:
        print(f"no sources found in {SRC_DIR}", file=sys.stderr)
        return 2

    stale: list[Path] = []
    for src in sources:
        try:
            font = parse_source(src)
        except SourceError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        except OSError as exc:
            print(f"error: {src}: {exc.strerror}", file=sys.stderr)
            return 2
        target = FONTS_DIR / f"{src.stem}.bdf"
        bdf = render_bdf(font)
        current = target.read_text(encoding="utf-8") if target.exists() else None
        if args.check:
            if current != bdf:
                stale.append(target)
            continue
        if current != bdf:
            target.write_text(bdf, encoding="utf-8", newline="\n")
            print(f"wrote {target} ({len(font.glyphs)} glyphs)")
        else:
            print(f"up to date: {target}")

    if stale:
        for target in stale:
            print(f"stale or missing: {target} (run: python fonts/build_bdf.py)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
