"""How a board plays a page: the frames of its effect and how long each stays.

Boards that play programs themselves (BX cards, ledctl-mqtt players) get the
page and its effect; hosts that must stream frames (TPM2) and the animated
previews use these frames. Pure: no clock, no I/O.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from PIL import Image

from ledctl.model import Page, Program, Size

BLINK_PERIOD_S = 1.0  # on half, off half


@dataclass(frozen=True, slots=True)
class Frame:
    image: Image.Image
    duration_s: float


def frames(page: Page, size: Size, fps: float = 25.0) -> Iterator[Frame]:
    """The frames of one page on a board of `size`.

    Static and blinking pages last exactly their dwell. A scroll lasts its travel
    (image plus board) at its speed, plus one last step in which the board is dark
    before the next page.
    """
    if page.effect == "static":
        yield Frame(page.image, page.dwell_s)
    elif page.effect == "blink":
        dark = Image.new(page.image.mode, page.image.size)
        half = BLINK_PERIOD_S / 2
        remaining = page.dwell_s
        on = True
        while remaining > 1e-9:
            step = min(half, remaining)
            yield Frame(page.image if on else dark, step)
            remaining -= step
            on = not on
    elif page.effect in ("scroll-left", "scroll-up"):
        yield from _scroll(page, size, fps)
    else:
        raise ValueError(f"unknown effect {page.effect!r}")


def _scroll(page: Page, size: Size, fps: float) -> Iterator[Frame]:
    """The image enters from the right (bottom) edge and leaves at the left (top)."""
    horizontal = page.effect == "scroll-left"
    travel = (page.image.width + size.width) if horizontal else (page.image.height + size.height)
    speed = page.speed_px_s or travel / max(page.dwell_s, 1e-3)
    step = max(1, round(speed / fps))  # pixels per frame
    duration = step / speed
    offsets = [*range(0, travel, step), travel]  # always end with the image gone
    for offset in offsets:
        frame = Image.new(page.image.mode, (size.width, size.height))
        if horizontal:
            frame.paste(page.image.crop((0, 0, page.image.width, size.height)), (size.width - offset, 0))
        else:
            frame.paste(page.image.crop((0, 0, size.width, page.image.height)), (0, size.height - offset))
        yield Frame(frame, duration)


def program_frames(program: Program, size: Size, fps: float = 25.0) -> Iterator[Frame]:
    """One pass of the program loop, page after page."""
    for page in program.pages:
        yield from frames(page, size, fps)
