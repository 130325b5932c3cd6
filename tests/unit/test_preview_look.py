"""The LED-look picture: one dot per LED, lit where the page is lit, at every scale."""

from __future__ import annotations

import pytest
from PIL import Image

from ledctl.preview import UNLIT, led_look


@pytest.mark.parametrize("scale", range(2, 11))
def test_each_led_is_a_dot_of_its_colour(scale: int) -> None:
    page = Image.new("RGB", (4, 2))
    page.putpixel((2, 1), (255, 0, 0))
    look = led_look(page, scale)
    assert look.size == (4 * scale, 2 * scale)
    middle = (scale - 1) // 2  # the centre of a dot within its cell
    assert look.getpixel((2 * scale + middle, 1 * scale + middle)) == (255, 0, 0)
    assert look.getpixel((middle, middle)) == UNLIT  # an unlit LED shows as a dark dot
    assert look.getpixel((scale - 1, scale - 1)) == (0, 0, 0)  # the gap between dots is black
    red = sum(count for count, colour in look.getcolors() if colour == (255, 0, 0))
    assert 1 <= red < scale * scale
