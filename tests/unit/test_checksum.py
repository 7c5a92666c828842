"""The Internet checksum: RFC 1071 as scapy computes it, and RFC 1624 updates that agree."""

from __future__ import annotations

import struct

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scapy.utils import checksum as scapy_checksum

from pytest_nfv.vnf.checksum import adjust_checksum, internet_checksum

RUNS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
even = st.binary(max_size=500).map(lambda b: b + b"\0" * (len(b) % 2))


@RUNS
@given(data=st.binary(max_size=2000))
def test_internet_checksum_matches_scapy(data: bytes) -> None:
    assert internet_checksum(data) == scapy_checksum(data)
    assert internet_checksum(bytearray(data)) == internet_checksum(memoryview(data))


@pytest.mark.parametrize(
    "data", [b"", b"\0", b"\0\0\0\0", b"\xff\xff", b"\xff\xff" * 700, b"\xff", b"\x00\x01" * 3]
)
def test_sums_of_zero_and_of_all_ones_fold_as_the_rfc_says(data: bytes) -> None:
    assert internet_checksum(data) == scapy_checksum(data)


@RUNS
@given(data=st.binary(max_size=500).map(lambda b: b + b"\0" * (len(b) % 2)))
def test_internet_checksum_of_data_with_its_checksum_is_zero(data: bytes) -> None:
    assert internet_checksum(data + struct.pack("!H", internet_checksum(data))) == 0


@RUNS
@given(data=even, at=st.integers(0, 249), new=st.binary(min_size=4, max_size=4))
def test_an_adjusted_checksum_equals_one_summed_afresh(data: bytes, at: int, new: bytes) -> None:
    """Equal as ones' complement numbers: 0x0000 and 0xFFFF are both zero (RFC 1624, 3)."""
    data = data.ljust(4, b"\0")
    start = 2 * (at % (len(data) // 2 - 1))  # a word boundary with 4 bytes after it
    old = data[start : start + 4]
    changed = data[:start] + new + data[start + 4 :]
    adjusted = adjust_checksum(internet_checksum(data), old, new)
    assert adjusted % 0xFFFF == internet_checksum(changed) % 0xFFFF
