"""Algorithm 1 (``rewrite_frame``) checked against scapy-built frames, property by property.

Frames are built and parsed with scapy, never sent: every Ether/IP layer gets explicit
addresses so that scapy has no reason to resolve anything on the network.
"""

from __future__ import annotations

import random
import socket
import struct
from dataclasses import dataclass

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from scapy.layers.inet import IP, TCP, UDP, IPOption_NOP, fragment
from scapy.layers.inet6 import IPv6
from scapy.layers.l2 import ARP, Ether
from scapy.packet import Packet, Raw

from pytest_nfv.vnf.checksum import internet_checksum
from pytest_nfv.vnf.rewrite import ProxyTable, mac_bytes, rewrite_frame

RUNS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
# Drops are one comparison deep; fewer examples find what there is to find.
DROP_RUNS = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
FRAGMENT_RUNS = settings(
    max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)

ETH = 14
IP_DST = slice(ETH + 16, ETH + 20)
IP_CSUM = slice(ETH + 10, ETH + 12)
L4_CSUM_OFFSET = {"udp": 6, "tcp": 16}


# ------------------------------------------------------------------ strategies and helpers


def ip_str(raw: bytes) -> str:
    return socket.inet_ntoa(raw)


def mac_str(raw: bytes) -> str:
    return ":".join(f"{b:02x}" for b in raw)


@dataclass(frozen=True)
class Net:
    """Host A, host B, a stranger, the address A aimed at (the proxy's), and the MACs."""

    a: bytes
    b: bytes
    stranger: bytes
    proxy: bytes
    mac_a: bytes
    mac_b: bytes
    own_mac: bytes
    wire_mac: bytes  # the destination MAC frames arrive with (the proxy's, as seen by senders)

    @property
    def table(self) -> ProxyTable:
        return ProxyTable(self.a, self.b, self.mac_a, self.mac_b, self.own_mac)


IPV4_INTS = st.integers(min_value=0, max_value=2**32 - 1)
MAC_INTS = st.integers(min_value=0, max_value=2**48 - 1)
ipv4s = IPV4_INTS.map(lambda n: n.to_bytes(4, "big"))
macs = MAC_INTS.map(lambda n: n.to_bytes(6, "big"))
ports = st.integers(min_value=0, max_value=0xFFFF)
ttls = st.integers(min_value=1, max_value=255)
ip_ids = st.integers(min_value=0, max_value=0xFFFF)
payloads = st.binary(max_size=3000)
# 0..3 words of IP options (NOPs; scapy pads to a 4-byte boundary), so ihl is not always 5.
ip_option_counts = st.integers(min_value=0, max_value=12)


@st.composite
def nets(draw: st.DrawFn) -> Net:
    a, b, stranger = (
        n.to_bytes(4, "big") for n in draw(st.lists(IPV4_INTS, min_size=3, max_size=3, unique=True))
    )
    # Any proxy address, including B itself (then the destination does not change at all).
    proxy = draw(st.one_of(ipv4s, st.sampled_from([b, a])))
    mac_a, mac_b, own_mac = (
        n.to_bytes(6, "big") for n in draw(st.lists(MAC_INTS, min_size=3, max_size=3, unique=True))
    )
    return Net(a, b, stranger, proxy, mac_a, mac_b, own_mac, draw(macs))


def ether(net: Net, src_mac: bytes, l3: Packet) -> Ether:
    return Ether(src=mac_str(src_mac), dst=mac_str(net.wire_mac)) / l3


def ipv4(src: bytes, dst: bytes, ttl: int = 64, ip_id: int = 1, options: int = 0) -> IP:
    return IP(
        src=ip_str(src), dst=ip_str(dst), ttl=ttl, id=ip_id, options=[IPOption_NOP()] * options
    )


def l4_layer(proto: str, sport: int, dport: int) -> Packet:
    return UDP(sport=sport, dport=dport) if proto == "udp" else TCP(sport=sport, dport=dport)


def run(frame: bytes, net: Net, slack: bytes = b"") -> tuple[bool, bytes, bytes]:
    """Rewrite ``frame`` inside a larger buffer (as the proxy's reused receive buffer is).

    Returns the verdict, the frame after rewriting, and what followed it in the buffer.
    """
    buffer = bytearray(frame + slack)
    verdict = rewrite_frame(buffer, len(frame), net.table)
    assert isinstance(verdict, bool)
    return verdict, bytes(buffer[: len(frame)]), bytes(buffer[len(frame) :])


def assert_checksums_valid(frame: bytes) -> Ether:
    """Parse ``frame``; recompute its IP and UDP/TCP checksums with scapy; they must match."""
    pkt = Ether(frame)
    fresh = pkt.copy()
    del fresh[IP].chksum
    if UDP in pkt:
        if pkt[UDP].chksum != 0:
            del fresh[UDP].chksum
    elif TCP in pkt:
        del fresh[TCP].chksum
    rebuilt = Ether(bytes(fresh))
    assert pkt[IP].chksum == rebuilt[IP].chksum, "IPv4 header checksum"
    assert internet_checksum(frame[ETH : ETH + pkt[IP].ihl * 4]) == 0
    if UDP in pkt:
        assert pkt[UDP].chksum == rebuilt[UDP].chksum, "UDP checksum"
    if TCP in pkt:
        assert pkt[TCP].chksum == rebuilt[TCP].chksum, "TCP checksum"
    return pkt


def changed_offsets(before: bytes, after: bytes) -> set[int]:
    assert len(before) == len(after)
    return {i for i, (x, y) in enumerate(zip(before, after, strict=True)) if x != y}


def allowed_offsets(ihl_bytes: int, proto: str | None) -> set[int]:
    """Bytes rewriting may touch: Ethernet addresses, IP checksum and dst, L4 checksum."""
    allowed = set(range(12)) | set(range(IP_CSUM.start, IP_CSUM.stop))
    allowed |= set(range(IP_DST.start, IP_DST.stop))
    if proto is not None:
        at = ETH + ihl_bytes + L4_CSUM_OFFSET[proto]
        allowed |= {at, at + 1}
    return allowed


def pseudo_header_sum(src: bytes, dst: bytes, proto: int, length: int) -> int:
    """The folded, NOT complemented, pseudo-header sum Linux leaves with CHECKSUM_PARTIAL."""
    total = sum(struct.unpack("!6H", src + dst + struct.pack("!BBH", 0, proto, length)))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return total


# ------------------------------------------------------------------ 1-3: A <-> B, UDP and TCP


@RUNS
@given(
    net=nets(),
    proto=st.sampled_from(["udp", "tcp"]),
    sport=ports,
    dport=ports,
    payload=payloads,
    ttl=ttls,
    ip_id=ip_ids,
    options=ip_option_counts,
    slack=st.binary(max_size=16),
)
def test_a_to_proxy_is_readdressed_to_b(
    *,
    net: Net,
    proto: str,
    sport: int,
    dport: int,
    payload: bytes,
    ttl: int,
    ip_id: int,
    options: int,
    slack: bytes,
) -> None:
    pkt = ether(net, net.mac_a, ipv4(net.a, net.proxy, ttl, ip_id, options))
    before = bytes(pkt / l4_layer(proto, sport, dport) / Raw(payload))

    verdict, after, slack_after = run(before, net, slack)

    assert verdict is True
    assert slack_after == slack, "bytes past `length` must not be touched"
    parsed = assert_checksums_valid(after)
    assert parsed[IP].dst == ip_str(net.b)
    assert parsed[IP].src == ip_str(net.a)
    assert parsed[Ether].dst == mac_str(net.mac_b)
    assert parsed[Ether].src == mac_str(net.own_mac)
    assert parsed[IP].ttl == ttl
    assert parsed[IP].id == ip_id
    layer = UDP if proto == "udp" else TCP
    assert (parsed[layer].sport, parsed[layer].dport) == (sport, dport)
    assert bytes(parsed[layer].payload) == payload
    assert changed_offsets(before, after) <= allowed_offsets(parsed[IP].ihl * 4, proto)


@RUNS
@given(
    net=nets(),
    proto=st.sampled_from(["udp", "tcp"]),
    sport=ports,
    dport=ports,
    payload=payloads,
    ttl=ttls,
    ip_id=ip_ids,
    to_proxy=st.booleans(),
    pad=st.booleans(),
)
def test_b_reply_goes_to_a(
    *,
    net: Net,
    proto: str,
    sport: int,
    dport: int,
    payload: bytes,
    ttl: int,
    ip_id: int,
    to_proxy: bool,
    pad: bool,
) -> None:
    """B answers A directly (usual) or addresses the proxy; either way it goes to A."""
    dst = net.proxy if to_proxy else net.a
    before = bytes(
        ether(net, net.mac_b, ipv4(net.b, dst, ttl, ip_id))
        / l4_layer(proto, sport, dport)
        / Raw(payload)
    )
    if pad and len(before) < 60:  # Ethernet minimum-frame padding after the IP datagram
        before += b"\0" * (60 - len(before))

    verdict, after, _ = run(before, net)

    assert verdict is True
    parsed = assert_checksums_valid(after)
    assert parsed[IP].dst == ip_str(net.a)
    assert parsed[IP].src == ip_str(net.b)
    assert parsed[Ether].dst == mac_str(net.mac_a)
    assert parsed[Ether].src == mac_str(net.own_mac)
    assert after[ETH + parsed[IP].len :] == before[ETH + parsed[IP].len :], "padding kept"
    if dst == net.a:  # nothing to readdress in IP: only the Ethernet header may change
        assert after[ETH:] == before[ETH:]
    assert changed_offsets(before, after) <= allowed_offsets(parsed[IP].ihl * 4, proto)


# ------------------------------------------------------------------ 4-5: offload, UDP csum 0


@RUNS
@given(
    net=nets(),
    proto=st.sampled_from(["udp", "tcp"]),
    from_b=st.booleans(),
    payload=payloads,
    options=ip_option_counts,
)
def test_checksum_partial_from_offload_is_completed(
    net: Net, proto: str, from_b: bool, payload: bytes, options: int
) -> None:
    src, src_mac = (net.b, net.mac_b) if from_b else (net.a, net.mac_a)
    pkt = ether(net, src_mac, ipv4(src, net.proxy, options=options))
    frame = bytearray(bytes(pkt / l4_layer(proto, 1234, 4321) / Raw(payload)))
    ihl = (frame[ETH] & 0x0F) * 4
    segment_length = len(frame) - ETH - ihl
    proto_number = 17 if proto == "udp" else 6
    at = ETH + ihl + L4_CSUM_OFFSET[proto]
    struct.pack_into(
        "!H", frame, at, pseudo_header_sum(src, net.proxy, proto_number, segment_length)
    )

    verdict, after, _ = run(bytes(frame), net)

    assert verdict is True
    parsed = assert_checksums_valid(after)
    assert parsed[IP].dst == ip_str(net.a if from_b else net.b)


@RUNS
@given(net=nets(), from_b=st.booleans(), payload=payloads)
def test_udp_checksum_zero_stays_zero(net: Net, from_b: bool, payload: bytes) -> None:
    src, src_mac = (net.b, net.mac_b) if from_b else (net.a, net.mac_a)
    before = bytes(
        ether(net, src_mac, ipv4(src, net.proxy)) / UDP(sport=5, dport=6, chksum=0) / Raw(payload)
    )

    verdict, after, _ = run(before, net)

    assert verdict is True
    parsed = assert_checksums_valid(after)
    assert parsed[UDP].chksum == 0
    assert parsed[IP].dst == ip_str(net.a if from_b else net.b)


def test_computed_zero_udp_checksum_is_sent_as_all_ones() -> None:
    """RFC 768: a UDP checksum that computes to 0 goes out as 0xFFFF, never as 0 ("none")."""
    a, b = socket.inet_aton("10.0.0.1"), socket.inet_aton("10.0.0.2")
    net = Net(
        a, b, socket.inet_aton("10.0.0.3"), b, b"\x02" * 6, b"\x04" * 6, b"\x06" * 6, b"\x06" * 6
    )
    base = bytes(ether(net, net.mac_a, ipv4(a, b)) / UDP(sport=1, dport=2) / Raw(b"\0\0"))
    frame = bytearray(base)
    # Choose the last two payload bytes so the segment's ones'-complement sum is 0xFFFF.
    frame[-2:] = b"\0\0"
    struct.pack_into("!H", frame, ETH + 20 + 6, 0)
    partial = (
        ~internet_checksum(a + b + struct.pack("!BBH", 0, 17, 10) + bytes(frame[ETH + 20 :]))
        & 0xFFFF
    )
    struct.pack_into("!H", frame, len(frame) - 2, 0xFFFF - partial)
    struct.pack_into("!H", frame, ETH + 20 + 6, 0x1234)  # something stale to be replaced

    verdict, after, _ = run(bytes(frame), net)

    assert verdict is True
    assert after[ETH + 26 : ETH + 28] == b"\xff\xff"
    assert_checksums_valid(after)


# ------------------------------------------------------------------ 6: fragmented datagrams


def reassemble(frames: list[bytes]) -> tuple[IP, bytes]:
    """Concatenate fragment payloads by offset; return the first header and the segment."""
    first: IP | None = None
    pieces: dict[int, bytes] = {}
    total = 0
    for frame in frames:
        ip = Ether(frame)[IP]
        ihl = ip.ihl * 4
        data = frame[ETH + ihl : ETH + ip.len]
        offset = ip.frag * 8
        pieces[offset] = data
        if offset == 0:
            first = ip
        if not ip.flags.MF:
            total = offset + len(data)
    assert first is not None
    segment = b"".join(pieces[k] for k in sorted(pieces))
    assert len(segment) == total
    return first, segment


def assert_reassembled_valid(first: IP, segment: bytes, proto: str) -> None:
    layer = UDP if proto == "udp" else TCP
    whole = IP(bytes(IP(src=first.src, dst=first.dst, proto=first.proto) / Raw(segment)))
    fresh = whole.copy()
    if not (proto == "udp" and whole[UDP].chksum == 0):
        del fresh[layer].chksum
    assert IP(bytes(fresh))[layer].chksum == whole[layer].chksum


def rewrite_fragments(
    net: Net,
    proto: str,
    *,
    from_b: bool,
    payload: bytes,
    fragsize: int,
    udp_csum_zero: bool = False,
) -> tuple[list[bytes], bytes]:
    src, src_mac = (net.b, net.mac_b) if from_b else (net.a, net.mac_a)
    l4 = l4_layer(proto, 4000, 5000)
    if udp_csum_zero:
        l4.chksum = 0
    datagram = ipv4(src, net.proxy, ip_id=0x4242) / l4 / Raw(payload)
    fragments = fragment(datagram, fragsize=fragsize)
    assert len(fragments) >= 2 or fragsize >= len(datagram[IP].payload)
    rewritten = []
    for frag in fragments:
        verdict, after, _ = run(bytes(ether(net, src_mac, frag)), net)
        assert verdict is True
        parsed = assert_checksums_valid(after) if frag.frag else Ether(after)
        assert parsed[IP].dst == ip_str(net.a if from_b else net.b)
        assert parsed[Ether].dst == mac_str(net.mac_a if from_b else net.mac_b)
        assert internet_checksum(after[ETH : ETH + parsed[IP].ihl * 4]) == 0
        rewritten.append(after)
    return rewritten, bytes(datagram[IP].payload)


@st.composite
def fragmented_payloads(draw: st.DrawFn, min_fragsize: int) -> tuple[int, bytes]:
    """A fragment size and a payload long enough to need at least two fragments."""
    fragsize = draw(
        st.one_of(
            st.sampled_from([8, 16, 24, 576, 1480]),
            st.integers(min_value=min_fragsize, max_value=1480),
        ).filter(lambda n: n >= min_fragsize)
    )
    rounded = (fragsize + 7) // 8 * 8  # what scapy's fragment() does
    return fragsize, draw(st.binary(min_size=rounded, max_size=max(rounded, 3000)))


@FRAGMENT_RUNS
@given(
    net=nets(),
    from_b=st.booleans(),
    sized=fragmented_payloads(min_fragsize=8),
    csum_zero=st.booleans(),
    order=st.randoms(use_true_random=False),
)
def test_fragmented_udp_reassembles_with_valid_checksum(
    *,
    net: Net,
    from_b: bool,
    sized: tuple[int, bytes],
    csum_zero: bool,
    order: random.Random,
) -> None:
    fragsize, payload = sized
    frames, original = rewrite_fragments(
        net, "udp", from_b=from_b, payload=payload, fragsize=fragsize, udp_csum_zero=csum_zero
    )
    order.shuffle(frames)
    first, segment = reassemble(frames)
    assert first.dst == ip_str(net.a if from_b else net.b)
    assert segment[8:] == original[8:], "payload unchanged"
    assert segment[:6] == original[:6], "ports and length unchanged"
    if csum_zero:
        assert segment[6:8] == b"\0\0"
    assert_reassembled_valid(first, segment, "udp")


@FRAGMENT_RUNS
@given(
    net=nets(),
    from_b=st.booleans(),
    sized=fragmented_payloads(min_fragsize=24),
)
def test_fragmented_tcp_reassembles_with_valid_checksum(
    net: Net, from_b: bool, sized: tuple[int, bytes]
) -> None:
    fragsize, payload = sized
    frames, original = rewrite_fragments(
        net, "tcp", from_b=from_b, payload=payload, fragsize=fragsize
    )
    first, segment = reassemble(frames)
    assert first.dst == ip_str(net.a if from_b else net.b)
    assert segment[20:] == original[20:]
    assert_reassembled_valid(first, segment, "tcp")


@pytest.mark.parametrize("fragsize", [8, 16])
def test_tiny_first_tcp_fragment_still_reassembles_valid(fragsize: int) -> None:
    a, b = socket.inet_aton("10.0.0.1"), socket.inet_aton("10.0.0.2")
    net = Net(
        a,
        b,
        socket.inet_aton("10.0.0.3"),
        socket.inet_aton("10.0.0.9"),
        b"\x02" * 6,
        b"\x04" * 6,
        b"\x06" * 6,
        b"\x06" * 6,
    )
    frames, _ = rewrite_fragments(net, "tcp", from_b=False, payload=b"x" * 100, fragsize=fragsize)
    first, segment = reassemble(frames)
    assert_reassembled_valid(first, segment, "tcp")


# ------------------------------------------------------------------ 7: what is dropped


@DROP_RUNS
@given(
    net=nets(),
    proto=st.sampled_from(["udp", "tcp"]),
    payload=st.binary(max_size=300),
    to=st.sampled_from(["a", "b", "proxy"]),
)
def test_stranger_is_dropped_untouched(net: Net, proto: str, payload: bytes, to: str) -> None:
    dst = {"a": net.a, "b": net.b, "proxy": net.proxy}[to]
    before = bytes(
        ether(net, net.mac_a, ipv4(net.stranger, dst)) / l4_layer(proto, 1, 2) / Raw(payload)
    )
    verdict, after, _ = run(before, net)
    assert verdict is False
    assert after == before


@DROP_RUNS
@given(net=nets(), from_b=st.booleans())
def test_arp_is_dropped_untouched(net: Net, from_b: bool) -> None:
    src, mac = (net.b, net.mac_b) if from_b else (net.a, net.mac_a)
    before = bytes(
        Ether(src=mac_str(mac), dst="ff:ff:ff:ff:ff:ff")
        / ARP(op=1, hwsrc=mac_str(mac), psrc=ip_str(src), pdst=ip_str(net.proxy))
    )
    verdict, after, _ = run(before, net)
    assert verdict is False
    assert after == before


@DROP_RUNS
@given(net=nets(), payload=st.binary(max_size=300), mislabelled=st.booleans())
def test_ipv6_is_dropped_untouched(net: Net, payload: bytes, mislabelled: bool) -> None:
    # The IPv6 source embeds A's IPv4 address where an IPv4 parser would look for it.
    src6 = socket.inet_ntop(socket.AF_INET6, net.a * 4)
    pkt = (
        Ether(src=mac_str(net.mac_a), dst=mac_str(net.wire_mac))
        / IPv6(src=src6, dst="fe80::1")
        / UDP(sport=1, dport=2)
        / Raw(payload)
    )
    if mislabelled:  # an IPv6 packet behind an IPv4 EtherType must not pass as IPv4
        pkt[Ether].type = 0x0800
    before = bytes(pkt)
    verdict, after, _ = run(before, net)
    assert verdict is False
    assert after == before


@DROP_RUNS
@given(net=nets(), payload=payloads, cut=st.integers(min_value=0, max_value=33))
def test_frames_without_a_whole_ip_header_are_dropped(net: Net, payload: bytes, cut: int) -> None:
    whole = bytes(ether(net, net.mac_a, ipv4(net.a, net.proxy)) / UDP() / Raw(payload))
    before = whole[:cut]
    verdict, after, _ = run(before, net, slack=whole[cut:])
    assert verdict is False
    assert after == before


@DROP_RUNS
@given(net=nets(), ihl=st.integers(min_value=0, max_value=15), payload=st.binary(max_size=64))
def test_bad_ihl_is_dropped(net: Net, ihl: int, payload: bytes) -> None:
    frame = bytearray(bytes(ether(net, net.mac_a, ipv4(net.a, net.proxy)) / Raw(payload)))
    frame[ETH] = 0x40 | ihl
    assume(ihl < 5 or ETH + ihl * 4 > len(frame))
    before = bytes(frame)
    verdict, after, _ = run(before, net)
    assert verdict is False
    assert after == before


@DROP_RUNS
@given(net=nets(), garbage=st.binary(max_size=200))
def test_short_random_bytes_are_dropped(net: Net, garbage: bytes) -> None:
    before = garbage[: ETH + 19]
    verdict, after, _ = run(before, net)
    assert verdict is False
    assert after == before


@RUNS
@given(net=nets(), garbage=st.binary(max_size=400), length=st.integers(min_value=0))
def test_random_garbage_never_raises(net: Net, garbage: bytes, length: int) -> None:
    buffer = bytearray(garbage)
    rewrite_frame(buffer, min(length, len(buffer)), net.table)
    assert len(buffer) == len(garbage)


@RUNS
@given(
    net=nets(),
    from_b=st.booleans(),
    head=st.binary(min_size=ETH + 20, max_size=ETH + 20),
    tail=st.binary(max_size=120),
    proto=st.sampled_from([6, 17, 1, 0]),
    length_cut=st.integers(min_value=0, max_value=200),
)
def test_garbage_from_a_or_b_never_raises(
    *, net: Net, from_b: bool, head: bytes, tail: bytes, proto: int, length_cut: int
) -> None:
    """Garbage that passes the IPv4 and source checks reaches the transport code."""
    frame = bytearray(head + tail)
    frame[12:14] = b"\x08\x00"
    frame[ETH] = 0x40 | max(5, frame[ETH] & 0x0F)
    frame[ETH + 9] = proto
    frame[ETH + 12 : ETH + 16] = net.b if from_b else net.a
    length = max(0, len(frame) - length_cut)
    before = bytes(frame)
    verdict = rewrite_frame(frame, length, net.table)
    assert verdict is (length >= ETH + (frame[ETH] & 0x0F) * 4)
    assert bytes(frame[length:]) == before[length:]


# ------------------------------------------------------------------ 8-9: helpers


@pytest.mark.parametrize("field", ["host_a", "host_b", "mac_a", "mac_b", "own_mac"])
@pytest.mark.parametrize("delta", [-1, 1])
def test_proxy_table_rejects_wrong_lengths(field: str, delta: int) -> None:
    good = {
        "host_a": b"\x0a\0\0\x01",
        "host_b": b"\x0a\0\0\x02",
        "mac_a": b"\x02" * 6,
        "mac_b": b"\x04" * 6,
        "own_mac": b"\x06" * 6,
    }
    ProxyTable(**good)
    value = good[field]
    good[field] = value[:-1] if delta < 0 else value + b"\0"
    with pytest.raises(ValueError, match="must be"):
        ProxyTable(**good)


@RUNS
@given(raw=macs, upper=st.booleans())
def test_mac_bytes_round_trips(raw: bytes, upper: bool) -> None:
    text = mac_str(raw)
    assert mac_bytes(text.upper() if upper else text) == raw


@pytest.mark.parametrize(
    "text",
    [
        "",
        "02:4e:46:00:00",
        "02:4e:46:00:00:05:06",
        "02-4e-46-00-00-05",
        "024e46000005",
        "02:4e:46:00:00:",
        "02:4e:46:00::05",
        "02:4e:46:00:00:zz",
        "02:4e:46:00:00:100",
        "02:4e:46:00:00:-1",
    ],
)
def test_mac_bytes_rejects_malformed(text: str) -> None:
    with pytest.raises(ValueError, match=r"MAC|invalid literal|range"):
        mac_bytes(text)


@pytest.mark.parametrize(
    "text",
    [
        "0x2:4e:46:00:00:05",
        "+2:4e:46:00:00:05",
        "0_2:4e:46:00:00:05",
        " 2:4e:46:00:00:05",
        "002:4e:46:00:00:05",
    ],
)
def test_mac_bytes_rejects_non_hex_pair_parts(text: str) -> None:
    with pytest.raises(ValueError, match="MAC"):
        mac_bytes(text)
