"""Colours by meaning, reduced to what a board's LEDs can show.

Brightness is never baked into pixels: boards dim themselves on command.
"""

from __future__ import annotations

from ledctl.model import ColourMode

RGB = tuple[int, int, int]

RED: RGB = (255, 0, 0)
GREEN: RGB = (0, 255, 0)
YELLOW: RGB = (255, 255, 0)  # red + green on a dual-colour board

# AQI level colours on a red/green board (facts/air-quality.md): green → green,
# yellow and orange → yellow, red, purple and maroon → red.
_RED_GREEN_LEVELS: dict[str, RGB] = {
    "#00E400": GREEN,
    "#FFFF00": YELLOW,
    "#FF7E00": YELLOW,
    "#FF0000": RED,
    "#99004C": RED,
    "#7E0023": RED,
}

# Colours by meaning, per colour mode.
_MEANINGS: dict[str, dict[ColourMode, RGB]] = {
    "title": {ColourMode.FULL: (255, 255, 255), ColourMode.RED_GREEN: RED, ColourMode.MONO_RED: RED},
    "text": {ColourMode.FULL: (255, 255, 255), ColourMode.RED_GREEN: GREEN, ColourMode.MONO_RED: RED},
    "label": {ColourMode.FULL: (0, 200, 255), ColourMode.RED_GREEN: RED, ColourMode.MONO_RED: RED},
    "warning": {ColourMode.FULL: (255, 0, 0), ColourMode.RED_GREEN: RED, ColourMode.MONO_RED: RED},
}


def parse_hex(colour: str) -> RGB:
    value = colour.lstrip("#")
    if len(value) != 6:
        raise ValueError(f"colour {colour!r} is not #RRGGBB")
    return (int(value[0:2], 16), int(value[2:4], 16), int(value[4:6], 16))


def reduce(colour: str, mode: ColourMode) -> RGB:
    """A meaning ("title", "text", …) or a "#RRGGBB" colour, as the board can show it."""
    if colour in _MEANINGS:
        return _MEANINGS[colour][mode]
    if mode is ColourMode.MONO_RED:
        return RED
    if mode is ColourMode.RED_GREEN:
        mapped = _RED_GREEN_LEVELS.get(colour.upper())
        if mapped:
            return mapped
        r, g, _ = parse_hex(colour)
        return (255 if r >= 128 else 0, 255 if g >= 128 else 0, 0) if (r >= 128 or g >= 128) else RED
    return parse_hex(colour)


def palette(mode: ColourMode) -> set[RGB]:
    """Every colour a pixel may have on a board of this mode (full colour: any)."""
    if mode is ColourMode.MONO_RED:
        return {(0, 0, 0), RED}
    if mode is ColourMode.RED_GREEN:
        return {(0, 0, 0), RED, GREEN, YELLOW}
    return set()
