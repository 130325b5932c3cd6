"""What every source type provides."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from ledctl.errors import DataError
from ledctl.model import Reading, Rejection

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


# Gases given as volume ratios are converted at the reference state GB 3095 fixes for them
# (参比状态, GB 3095-2012 amendment No. 1 of 2018, kept by GB 3095-2026): 298.15 K and 101.325 kPa,
# where one mole of an ideal gas takes 24.465 L. Molar masses in g/mol.
REFERENCE_MOLAR_VOLUME_L = Decimal("24.465")
MOLAR_MASS: dict[str, Decimal] = {
    "so2": Decimal("64.066"), "no2": Decimal("46.0055"), "co": Decimal("28.010"),
    "o3_8h": Decimal("47.998"), "o3_1h": Decimal("47.998"),
}
_VOLUME_FACTORS = {"ppb": Decimal(1), "ppm": Decimal(1000)}  # → ppb


def to_canonical(param: str, value: Decimal, unit: str, where: str) -> Decimal:
    """Convert `value` in `unit` to the canonical unit of `param`.

    Mass concentrations convert between µg/m³ and mg/m³. Volume ratios (ppb, ppm) of the gases
    convert at the reference state of GB 3095 (see REFERENCE_MOLAR_VOLUME_L): 1 ppb of NO2 is
    46.0055 / 24.465 = 1.880 µg/m³. A volume ratio of particles is meaningless and refused.
    """
    canonical = CANONICAL_UNITS[param]
    volume = unit.strip().lower()
    if volume in _VOLUME_FACTORS:
        if param not in MOLAR_MASS:
            raise DataError(f"{where}: unit {unit.strip()!r} for {param}: a volume ratio applies to gases "
                            f"only; give {param} in {canonical}")
        ug_m3 = value * _VOLUME_FACTORS[volume] * MOLAR_MASS[param] / REFERENCE_MOLAR_VOLUME_L
        return ug_m3 / 1000 if canonical == "mg/m³" else ug_m3
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


@dataclass(frozen=True, slots=True)
class Fetched:
    """One read of a source: the usable readings, and every record refused with its reason.

    A record is judged alone: one bad record (a sentinel, a unit that cannot be converted, an
    unknown station) is refused by itself and never fails the whole source.
    """

    readings: list[Reading]
    rejected: list[Rejection] = field(default_factory=list)


class SourceType(Protocol):
    """A source type: reads its options from config, then yields readings."""

    @classmethod
    def options_from_config(cls, table: _Table, base: Path) -> dict[str, object]:
        """Read and check this type's keys of a [sources.<name>] table."""
        ...

    @classmethod
    def from_options(cls, name: str, options: Mapping[str, object]) -> SourceType:
        ...

    def fetch(self) -> Fetched:
        """Every reading the source has now, and the records it refused.

        Raises DataError when the source as a whole cannot be read (down, not JSON, refused).
        """
        ...
