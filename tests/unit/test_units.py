"""Units: conversions to and from the base unit, and figures written the same way everywhere."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pytest_nfv.errors import NfvUsageError
from pytest_nfv.units import (
    UNITS,
    base_unit,
    dimension_of,
    display_unit,
    format_value,
    from_base,
    to_base,
)

ALL_UNITS = [unit for units in UNITS.values() for unit in units]


@pytest.mark.parametrize(
    ("value", "unit", "text"),
    [
        (1.234, "s", "1.23 s"),
        (1.97, "ms", "1970 ms"),
        (0.00004, "s", "0.00004 s"),
        (0.0, "us", "0 µs"),
        (2048.0, "GiB", "2 GiB"),
        (1.0, "KiB", "1024 KiB"),
    ],
)
def test_format_value(value: float, unit: str, text: str) -> None:
    assert format_value(value, unit) == text


@given(st.floats(0, 1e9), st.sampled_from(ALL_UNITS))
def test_unit_conversion_round_trips(value: float, unit: str) -> None:
    assert from_base(to_base(value, unit), unit) == pytest.approx(value)


def test_an_unknown_unit_names_the_known_ones() -> None:
    with pytest.raises(NfvUsageError, match=r"unknown unit 'sec': use one of s, ms, us, MiB"):
        to_base(1.0, "sec")


@pytest.mark.parametrize(
    ("unit", "dimension"), [("ms", "time"), ("s", "time"), ("GiB", "memory"), ("ops", None)]
)
def test_dimension_of(unit: str, dimension: str | None) -> None:
    assert dimension_of(unit) == dimension


def test_base_units_are_what_the_records_say() -> None:
    assert (base_unit("time"), base_unit("memory")) == ("s", "MiB")
    with pytest.raises(NfvUsageError, match="unknown dimension 'Time'"):
        base_unit("Time")


@pytest.mark.parametrize(
    ("unit", "value", "shown"),
    [
        ("s", 0.0004, "us"),
        ("s", 0.02, "ms"),
        ("s", 3.0, "s"),
        ("s", -0.02, "ms"),
        ("MiB", 1e-6, "MiB"),
    ],
)
def test_display_unit_picks_a_readable_unit_for_seconds(
    unit: str, value: float, shown: str
) -> None:
    assert display_unit(unit, value) == shown
