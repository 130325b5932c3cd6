"""Special-dynamic-area bitmap packing (fact sheet §5.9.6).

The protocol doc does not define the pixel layout; this follows Onbon's own C#
demo: rows top to bottom, each row in groups of 8 pixels, one bit per pixel per
colour plane with the most significant bit for the leftmost pixel. Dual-colour
cards take the two plane bytes of each group interleaved ("RG": red byte first).
In that demo a lit LED is bit 0 (`lit_bit=0`); a panel's data-polarity setting
may invert this, hence the parameter.
"""

from __future__ import annotations

from PIL import Image

__all__ = ["COLOURS", "page_bitmap", "planes"]

COLOURS = ("mono-red", "red-green")
THRESHOLD = 128  # a channel value >= this lights the LED


def planes(colour: str) -> int:
    """Bitmap planes (bytes per 8-pixel group) for a colour mode."""
    if colour == "mono-red":
        return 1
    if colour == "red-green":
        return 2
    raise ValueError(f"colour must be one of {', '.join(COLOURS)}, got {colour!r}")


def _plane(channel: Image.Image, lit_bit: int) -> bytes:
    lit, dark = (255, 0) if lit_bit else (0, 255)
    # Mode "1" packs each row MSB-first, leftmost pixel in the top bit; 255 -> bit 1.
    bits = channel.point(lambda v: lit if v >= THRESHOLD else dark, "1")
    return bits.tobytes()


def page_bitmap(image: Image.Image, colour: str, *, plane_order: str = "RG", lit_bit: int = 0) -> bytes:
    """Pack `image` for A4 03: height x width/8 x planes bytes.

    colour "mono-red": one byte per group, lit where red >= 128.
    colour "red-green": red and green bytes per group, in `plane_order` ("RG" or "GR").
    `lit_bit` is the bit value of a lit LED (0 as in Onbon's demo, or 1).
    """
    n_planes = planes(colour)
    if plane_order not in ("RG", "GR"):
        raise ValueError(f"plane_order must be 'RG' or 'GR', got {plane_order!r}")
    if lit_bit not in (0, 1) or isinstance(lit_bit, bool):
        raise ValueError(f"lit_bit must be 0 or 1, got {lit_bit!r}")
    width, height = image.size
    if width <= 0 or height <= 0:
        raise ValueError(f"image is empty ({width}x{height})")
    if width % 8:
        raise ValueError(f"image width {width} is not a multiple of 8")
    rgb = image.convert("RGB")
    red = _plane(rgb.getchannel("R"), lit_bit)
    if n_planes == 1:
        return red
    green = _plane(rgb.getchannel("G"), lit_bit)
    first, second = (red, green) if plane_order == "RG" else (green, red)
    out = bytearray(len(red) * 2)
    out[0::2] = first
    out[1::2] = second
    return bytes(out)
