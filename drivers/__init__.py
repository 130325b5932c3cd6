"""Board protocols and transports (import name: ledctl.drivers).

For now this holds what each driver can drive, so a config can be checked
before any byte is sent. The encoders and links land with their issues.
"""

from __future__ import annotations

from dataclasses import dataclass

from ledctl.model import ColourMode, Size


@dataclass(frozen=True, slots=True)
class DriverSpec:
    name: str
    transport: str  # "serial" or "mqtt"
    colours: frozenset[ColourMode]
    needs_address: bool
    address_range: tuple[int, int] = (0, 0)
    max_width: int = 4096
    max_height: int = 4096
    width_multiple: int = 1
    max_bytes_per_page: int | None = None  # for the card's buffer
    exact_size: Size | None = None

    def size_problem(self, size: Size, colour: ColourMode) -> str | None:
        """Why this driver cannot show a page of `size` in `colour`, or None."""
        if self.exact_size and size != self.exact_size:
            return f"{self.name} boards are exactly {self.exact_size}"
        if size.width > self.max_width or size.height > self.max_height:
            return f"{self.name} handles at most {self.max_width}x{self.max_height}"
        if size.width % self.width_multiple:
            return f"{self.name} needs a width that is a multiple of {self.width_multiple}"
        if self.max_bytes_per_page is not None:
            planes = {ColourMode.MONO_RED: 1, ColourMode.RED_GREEN: 2, ColourMode.FULL: 24}[colour]
            page_bytes = size.width * size.height * planes // 8
            if page_bytes > self.max_bytes_per_page:
                return (
                    f"a {size} {colour} page is {page_bytes} bytes; "
                    f"{self.name} holds at most {self.max_bytes_per_page}"
                )
        return None


DRIVERS: dict[str, DriverSpec] = {
    spec.name: spec
    for spec in (
        # Onbon BX-5K/6K: single or dual colour; the special dynamic area holds
        # 16 KB of bitmap and its X/width are counted in bytes (8 px).
        DriverSpec(
            "onbon-bx",
            "serial",
            frozenset({ColourMode.MONO_RED, ColourMode.RED_GREEN}),
            needs_address=True,
            address_range=(0x0000, 0xFFFE),  # 0xFFFF is broadcast
            max_width=2048,
            max_height=512,
            width_multiple=8,
            max_bytes_per_page=16 * 1024,
        ),
        # TPM2: RGB frames of at most 65535 payload bytes (21,845 pixels).
        DriverSpec(
            "tpm2",
            "serial",
            frozenset(ColourMode),
            needs_address=False,
            max_bytes_per_page=65535,
        ),
        DriverSpec("ledctl-mqtt", "mqtt", frozenset(ColourMode), needs_address=False),
        DriverSpec(
            "awtrix3",
            "mqtt",
            frozenset({ColourMode.FULL}),
            needs_address=False,
            exact_size=Size(32, 8),
        ),
    )
}
