"""Algorithm 1 of the paper, as a pure function over one Ethernet frame.

    if pkt.src == host_A: pkt.dst <- host_B
    elif pkt.src == host_B: pkt.dst <- host_A
    send(pkt, eth0)

Kept free of sockets so that it can be checked exhaustively (hypothesis, scapy-built frames)
and reused by every process-shaped proxy. What the pseudo-code leaves implicit, and a real
wire needs, is done here too: the Ethernet header is readdressed (we are one hop), the IPv4
header checksum is updated, and the UDP/TCP checksum -- whose pseudo-header covers the
destination address -- is made right again. Frames from anyone but A or B are dropped: sending
them back out of the one interface they came in on would only loop them.
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass

from pytest_nfv.vnf.checksum import adjust_checksum, internet_checksum

__all__ = ["ProxyTable", "ipv4_header_length", "mac_bytes", "rewrite_frame"]

ETH_HLEN = 14
ETH_P_IP = 0x0800
PROTO_TCP = 6
PROTO_UDP = 17
_CSUM_OFFSET = {PROTO_TCP: 16, PROTO_UDP: 6}


_MAC = re.compile(r"[0-9a-fA-F]{2}(?::[0-9a-fA-F]{2}){5}")


def mac_bytes(mac: str) -> bytes:
    """``"02:4e:46:00:00:05"`` -> six bytes; anything but six two-digit hex pairs is refused."""
    if not _MAC.fullmatch(mac):
        raise ValueError(f"not a MAC address: {mac!r}")
    return bytes.fromhex(mac.replace(":", ""))


@dataclass(frozen=True)
class ProxyTable:
    """The proxy's whole state: who A and B are, on the wire and in IP, and its own MAC."""

    host_a: bytes  # 4-byte IPv4 address
    host_b: bytes
    mac_a: bytes  # 6-byte MAC
    mac_b: bytes
    own_mac: bytes

    def __post_init__(self) -> None:
        if len(self.host_a) != 4 or len(self.host_b) != 4:
            raise ValueError("host addresses must be 4-byte IPv4 addresses")
        if len(self.mac_a) != 6 or len(self.mac_b) != 6 or len(self.own_mac) != 6:
            raise ValueError("MAC addresses must be 6 bytes")


def ipv4_header_length(frame: bytes | bytearray, length: int) -> int | None:
    """The IPv4 header's length in ``frame[:length]``, an Ethernet frame; None when the frame
    is not a whole IPv4 header (another EtherType, a truncated or malformed header): what
    every process-shaped VNF reads first, and drops a frame on."""
    if length < ETH_HLEN + 20 or (frame[12] << 8 | frame[13]) != ETH_P_IP:
        return None
    ihl = (frame[ETH_HLEN] & 0x0F) * 4
    if frame[ETH_HLEN] >> 4 != 4 or ihl < 20 or length < ETH_HLEN + ihl:
        return None
    return ihl


def rewrite_frame(frame: bytearray, length: int, table: ProxyTable) -> bool:
    """Apply Algorithm 1 to ``frame[:length]`` in place.

    Returns True when the frame is to be sent (it came from A or B), False to drop it.
    """
    ihl = ipv4_header_length(frame, length)
    if ihl is None:
        return False
    ip = ETH_HLEN
    src = bytes(frame[ip + 12 : ip + 16])
    if src == table.host_a:
        new_dst, new_mac = table.host_b, table.mac_b
    elif src == table.host_b:
        new_dst, new_mac = table.host_a, table.mac_a
    else:
        return False
    frame[0:6] = new_mac
    frame[6:12] = table.own_mac
    old_dst = bytes(frame[ip + 16 : ip + 20])
    if old_dst != new_dst:
        frame[ip + 16 : ip + 20] = new_dst
        ip_csum = (frame[ip + 10] << 8) | frame[ip + 11]
        struct.pack_into("!H", frame, ip + 10, adjust_checksum(ip_csum, old_dst, new_dst))
    _fix_transport_checksum(frame, length, ip, ihl, old_dst, new_dst)
    return True


def _fix_transport_checksum(
    frame: bytearray, length: int, ip: int, ihl: int, old_dst: bytes, new_dst: bytes
) -> None:
    """Make the UDP/TCP checksum match the new destination.

    An unfragmented segment is summed afresh even when the destination did not change: a
    sender with checksum offload (veth, most NICs) leaves only the pseudo-header sum in the
    field for the last hop to finish, and a frame re-sent through a packet socket gets no such
    finishing. A fragmented datagram was necessarily summed in full by the sender's stack, so
    an incremental update is exact; it is applied in whichever fragment holds the checksum
    field (usually the first, but a first fragment of 8 or 16 bytes ends before a TCP one).
    """
    proto = frame[ip + 9]
    if proto not in _CSUM_OFFSET:
        return
    flags_offset = struct.unpack_from("!H", frame, ip + 6)[0]
    more_fragments = bool(flags_offset & 0x2000)
    fragment_start = (flags_offset & 0x1FFF) * 8
    total_length = struct.unpack_from("!H", frame, ip + 2)[0]
    end = min(length, ip + total_length)  # Ethernet padding is not part of the datagram
    l4 = ip + ihl
    if fragment_start == 0 and not more_fragments:
        _sum_afresh(frame, end, ip, l4, proto)
        return
    if old_dst == new_dst:
        return
    at = l4 + _CSUM_OFFSET[proto] - fragment_start
    if at < l4 or at + 2 > end:
        return  # this fragment does not hold the checksum field
    current = (frame[at] << 8) | frame[at + 1]
    if proto == PROTO_UDP and current == 0:
        return  # the sender chose no UDP checksum; keep it that way
    updated = adjust_checksum(current, old_dst, new_dst)
    if proto == PROTO_UDP and updated == 0:
        updated = 0xFFFF  # RFC 768: a computed zero is sent as all ones
    struct.pack_into("!H", frame, at, updated)


def _sum_afresh(frame: bytearray, end: int, ip: int, l4: int, proto: int) -> None:
    at = l4 + _CSUM_OFFSET[proto]
    if at + 2 > end:
        return
    if proto == PROTO_UDP and frame[at] == 0 and frame[at + 1] == 0:
        return  # the sender chose no UDP checksum; keep it that way
    pseudo = bytes(frame[ip + 12 : ip + 20]) + struct.pack("!BBH", 0, proto, end - l4)
    frame[at : at + 2] = b"\0\0"
    updated = internet_checksum(pseudo + bytes(frame[l4:end]))
    if proto == PROTO_UDP and updated == 0:
        updated = 0xFFFF  # RFC 768: a computed zero is sent as all ones
    struct.pack_into("!H", frame, at, updated)
