"""What every source type provides."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from ledctl.errors import DataError
from ledctl.model import Reading

if TYPE_CHECKING:
    from ledctl.config import _Table

# Parameter → canonical unit. Readings always carry values in these units.
CANONICAL_UNITS: dict[str, str] = {
    "pm25": "µg/m³",
    "pm10": "µg/m³",
    "so2": "µg/m³",
    "no2": "µg/m³",
    "o3_8h": "µg/m³",
    "o3_1h": "µg/m³",
    "co": "mg/m³",
    "do": "mg/L",
    "codmn": "mg/L",
    "cod": "mg/L",
    "bod5": "mg/L",
    "nh3n": "mg/L",
    "tp": "mg/L",
    "tn": "mg/L",
    "us_aqi": "US AQI",  # an index on the US scale (WAQI): shown as such, never fed into HJ 633
}

# Accepted spellings of units → (canonical unit, factor to multiply by).
_UNIT_ALIASES: dict[str, tuple[str, Decimal]] = {
    "µg/m³": ("µg/m³", Decimal(1)),
    "μg/m³": ("µg/m³", Decimal(1)),  # Greek mu
    "ug/m3": ("µg/m³", Decimal(1)),
    "µg/m3": ("µg/m³", Decimal(1)),
    "mg/m³": ("mg/m³", Decimal(1)),
    "mg/m3": ("mg/m³", Decimal(1)),
    "mg/l": ("mg/L", Decimal(1)),
    "ug/l": ("mg/L", Decimal("0.001")),
    "µg/l": ("mg/L", Decimal("0.001")),
}


def to_canonical(param: str, value: Decimal, unit: str, where: str) -> Decimal:
    """Convert `value` in `unit` to the canonical unit of `param`.

    Mass concentrations convert between µg/m³ and mg/m³; volume ratios (ppb, ppm)
    need temperature and pressure, so they are rejected rather than guessed.
    """
    canonical = CANONICAL_UNITS[param]
    alias = _UNIT_ALIASES.get(unit.strip().lower().replace("μ", "µ")) or _UNIT_ALIASES.get(unit.strip())
    if alias is None:
        raise DataError(f"{where}: unit {unit!r} for {param} is not supported; use {canonical}")
    base, factor = alias
    value = value * factor
    if base == canonical:
        return value
    if base == "µg/m³" and canonical == "mg/m³":
        return value / 1000
    if base == "mg/m³" and canonical == "µg/m³":
        return value * 1000
    raise DataError(f"{where}: unit {unit!r} cannot be converted to {canonical} for {param}")


class SourceType(Protocol):
    """A source type: reads its options from config, then yields readings."""

    @classmethod
    def options_from_config(cls, table: _Table, base: Path) -> dict[str, object]:
        """Read and check this type's keys of a [sources.<name>] table."""
        ...

    @classmethod
    def from_options(cls, name: str, options: Mapping[str, object]) -> SourceType:
        ...

    def readings(self) -> list[Reading]:
        """Every reading the source has now. Raises DataError when it cannot be read."""
        ...
