"""Units of the two dimensions pytest-nfv measures, and how their figures are written.

Every figure is measured and stored in a base unit (seconds for time, MiB for memory), and
converted only where a person reads or writes one: a budget file, a gate floor, a table.
Keeping the conversions and the formatting in one leaf module is what makes "1970 ms" in a
budget message, in the gate's table and in the scorecard the same number written the same way.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from types import MappingProxyType

from pytest_nfv.errors import NfvUsageError

__all__ = [
    "BASE_UNITS",
    "MIB",
    "UNITS",
    "base_unit",
    "dimension_of",
    "display_unit",
    "factor",
    "format_value",
    "from_base",
    "significant",
    "to_base",
]

#: Bytes in one MiB: memory probes read bytes and report the base unit.
MIB = 1024 * 1024

#: dimension -> unit -> size of one unit in the base unit (seconds, MiB).
UNITS: Mapping[str, Mapping[str, float]] = MappingProxyType(
    {
        "time": MappingProxyType({"s": 1.0, "ms": 1e-3, "us": 1e-6}),
        "memory": MappingProxyType({"MiB": 1.0, "GiB": 1024.0, "KiB": 1.0 / 1024.0}),
    }
)

#: dimension -> the unit its figures are measured and recorded in.
BASE_UNITS: Mapping[str, str] = MappingProxyType({"time": "s", "memory": "MiB"})

_FACTORS: dict[str, float] = {u: f for units in UNITS.values() for u, f in units.items()}


def factor(unit: str) -> float:
    """The size of one ``unit`` in its base unit.

    Raises:
        NfvUsageError: ``unit`` is none of :data:`UNITS`; the message lists those that are.
    """
    try:
        return _FACTORS[unit]
    except KeyError:
        raise NfvUsageError(f"unknown unit {unit!r}: use one of {', '.join(_FACTORS)}") from None


def to_base(value: float, unit: str) -> float:
    """Convert ``value`` in ``unit`` to the base unit (seconds or MiB) measurements use.

    Raises:
        NfvUsageError: ``unit`` is unknown.
    """
    return value * factor(unit)


def from_base(value: float, unit: str) -> float:
    """Convert ``value`` from the base unit to ``unit``, to speak the budget file's language.

    Raises:
        NfvUsageError: ``unit`` is unknown.
    """
    return value / factor(unit)


def dimension_of(unit: str) -> str | None:
    """``"time"`` or ``"memory"`` for a known unit; None for any other, e.g. a custom metric's."""
    for dimension, units in UNITS.items():
        if unit in units:
            return dimension
    return None


def base_unit(dimension: str) -> str:
    """The unit a series of ``dimension`` is recorded in: ``"s"`` or ``"MiB"``.

    Raises:
        NfvUsageError: ``dimension`` is neither time nor memory; guessing one would record
            seconds as MiB or the other way round.
    """
    try:
        return BASE_UNITS[dimension]
    except KeyError:
        known = " or ".join(BASE_UNITS)
        raise NfvUsageError(f"unknown dimension {dimension!r}: use {known}") from None


def display_unit(unit: str, value: float) -> str:
    """A readable unit for a value in a record's base unit: us or ms for seconds."""
    if unit == "s":
        return "us" if abs(value) < 1e-3 else ("ms" if abs(value) < 1.0 else "s")
    return unit


def significant(value: float, digits: int = 3) -> str:
    """``digits`` significant digits, no exponent and no rounding of integer digits.

    "1974 ms" reads in a log where "1.97e+03 ms" does not, and rounding it to "1970" would
    make the limit in a message disagree with the formula beside it.
    """
    if value == 0 or not math.isfinite(value):
        return "0" if value == 0 else str(value)
    decimals = min(12, max(0, digits - 1 - math.floor(math.log10(abs(value)))))
    text = f"{value:.{decimals}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


_SHOWN_AS = {"us": "µs"}
"""How a unit is printed for a person; ``us`` stays its spelling in options and budget files."""


def format_value(value: float, unit: str) -> str:
    """Render a base-unit ``value`` in ``unit`` with 3 significant digits, e.g. ``"1.23 s"``.

    Raises:
        NfvUsageError: ``unit`` is unknown.
    """
    return f"{significant(from_base(value, unit))} {_SHOWN_AS.get(unit, unit)}"
