"""The Internet checksum (RFC 1071) and its incremental update (RFC 1624).

One implementation for every place that writes or checks one: the proxy VNF fixing headers
after Algorithm 1 readdresses a frame, the readiness prober building ICMP echo requests, and
the model of Click's elements checking IPv4 headers. Pure and dependency-free, so the VNF
processes that import it stay light.
"""

from __future__ import annotations

__all__ = ["adjust_checksum", "internet_checksum"]


def _fold(total: int) -> int:
    """Add the carries back in until the sum fits 16 bits (ones' complement addition)."""
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return total


def internet_checksum(data: bytes | bytearray | memoryview) -> int:
    """RFC 1071 checksum (ones' complement of the ones' complement sum of 16-bit words).

    Data of odd length is summed as if padded with a zero byte, as the RFC says.
    """
    raw = bytes(data)
    if len(raw) % 2:
        raw += b"\0"
    # Since 2**16 = 1 (mod 0xFFFF), the ones' complement sum of the 16-bit words is the data
    # read as one big number, mod 0xFFFF -- except that the folded sum of data that is not all
    # zeros is never 0 but 0xFFFF. CPython does this remainder in C: the proxy VNF sums every
    # unfragmented datagram it forwards, and summing word by word in Python would be a large
    # share of a full-size datagram's time through it.
    total = int.from_bytes(raw, "big") % 0xFFFF
    if total == 0 and raw.count(0) != len(raw):
        total = 0xFFFF
    return ~total & 0xFFFF


def adjust_checksum(checksum: int, old: bytes, new: bytes) -> int:
    """RFC 1624 incremental update: HC' = ~(~HC + ~m + m') over the changed 16-bit words.

    Cheaper than summing a whole segment again, and the only way to fix a checksum whose
    covered bytes are not all in hand (a later fragment holds the rest of the datagram).

    Args:
        checksum: the checksum as it is in the header now.
        old: the covered bytes that changed, as they were; an even number of them.
        new: the same bytes as they are now.
    """
    total = ~checksum & 0xFFFF
    for i in range(0, len(old), 2):
        total += (~((old[i] << 8) | old[i + 1])) & 0xFFFF
        total += (new[i] << 8) | new[i + 1]
    return ~_fold(total) & 0xFFFF
