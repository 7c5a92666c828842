"""The rendered ClickOS templates, run on scapy-built frames through the element model.

Hypothesis picks the testbed's addresses and the packets; every frame is built and parsed
with scapy, never sent. The proxy's output is also compared with ``rewrite_frame`` (the netns
proxy's Algorithm 1), an implementation written independently of the Click one.
"""

from __future__ import annotations

import ipaddress
import struct
from typing import NamedTuple

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from scapy.layers.inet import ICMP, IP, TCP, UDP, fragment
from scapy.layers.inet6 import IPv6
from scapy.layers.l2 import ARP, Ether
from scapy.packet import Packet, Raw

from pytest_nfv.backends.clickos.click.model import Router
from pytest_nfv.backends.clickos.click.render import (
    instance_config,
    proxy_config,
    rendered_and_checked,
)
from pytest_nfv.model import Endpoint
from pytest_nfv.vnf.checksum import internet_checksum
from pytest_nfv.vnf.rewrite import ProxyTable, mac_bytes, rewrite_frame

ETH_IP = 14 + 20
RUNS = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
FEW = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])

unicast = st.integers(0x01000000, 0xDFFFFFFF).map(ipaddress.IPv4Address)
macs = st.binary(min_size=5, max_size=5).map(lambda b: ":".join(f"{x:02x}" for x in b"\x02" + b))


class Bed(NamedTuple):
    proxy: Endpoint
    a: Endpoint
    b: Endpoint
    b2: Endpoint
    other: Endpoint


@st.composite
def lab_addresses(draw: st.DrawFn) -> Bed:
    """Proxy, A, B, B2 and a stranger: five distinct addresses and MACs."""
    addresses = draw(st.lists(unicast, min_size=5, max_size=5, unique=True))
    hw = draw(st.lists(macs, min_size=5, max_size=5, unique=True))
    return Bed(*(Endpoint("x", addr, mac, "") for addr, mac in zip(addresses, hw, strict=True)))


def _router(bed: Bed) -> Router:
    return Router(rendered_and_checked(proxy_config(bed.proxy, bed.a, bed.b, bed.b2)))


def _frame(src: Endpoint, dst_mac: str, dst_ip: str, l4: Packet) -> bytes:
    return bytes(Ether(src=src.mac, dst=dst_mac) / IP(src=str(src.address), dst=dst_ip) / l4)


def _checksums_valid(frame: bytes) -> bool:
    """Every checksum in the frame verifies the way a receiver checks it: the sum is zero.

    (0x0000 and 0xFFFF are the same number in ones' complement; both are valid.)
    """
    raw = Ether(frame)[IP]
    ip = bytes(raw)
    ihl = (ip[0] & 0x0F) * 4
    ok = internet_checksum(ip[:ihl]) == 0
    segment = ip[ihl:]
    proto = ip[9]
    if proto in (6, 17) and not (proto == 17 and segment[6:8] == b"\0\0"):
        pseudo = ip[12:20] + struct.pack("!BBH", 0, proto, len(segment))
        ok = ok and internet_checksum(pseudo + segment) == 0
    if proto == 1:
        ok = ok and internet_checksum(segment) == 0
    return ok


def _data(frame: bytes) -> bytes:
    """The application bytes after the transport header (ICMP: after its 8-byte header)."""
    ip = Ether(frame)[IP]
    for layer in (UDP, TCP, ICMP):
        if layer in ip:
            return bytes(ip[layer].payload)
    return b""


transport = st.one_of(
    st.builds(
        lambda sport, dport, data: UDP(sport=sport, dport=dport) / Raw(data),
        st.integers(1, 65535),
        st.integers(1, 65535),
        st.binary(max_size=1400),
    ),
    st.builds(
        lambda sport, dport, seq, data: (
            TCP(sport=sport, dport=dport, seq=seq, flags="PA") / Raw(data)
        ),
        st.integers(1, 65535),
        st.integers(1, 65535),
        st.integers(0, 2**32 - 1),
        st.binary(max_size=1400),
    ),
    st.builds(lambda data: ICMP(type=8) / Raw(data), st.binary(max_size=64)),
)


@RUNS
@given(lab_addresses(), transport, st.booleans())
def test_a_goes_to_b_and_b_goes_to_a(bed: Bed, l4: Packet, from_b: bool) -> None:
    proxy, a, b = bed.proxy, bed.a, bed.b
    sender, receiver = (b, a) if from_b else (a, b)
    frame = _frame(sender, proxy.mac, str(proxy.address), l4)
    result = _router(bed).push(frame)
    assert len(result.sent) == 1
    out = Ether(result.sent[0])
    assert out.dst == receiver.mac
    assert out.src == proxy.mac
    assert out[IP].src == str(sender.address)
    assert out[IP].dst == str(receiver.address)
    assert _data(result.sent[0]) == _data(frame)
    assert _checksums_valid(result.sent[0])


@RUNS
@given(lab_addresses(), transport, st.booleans())
def test_agrees_with_the_netns_proxy(bed: Bed, l4: Packet, from_b: bool) -> None:
    """Two independent implementations of Algorithm 1 produce the same bytes."""
    proxy, a, b = bed.proxy, bed.a, bed.b
    if UDP in l4:
        assume(IP(bytes(IP(src="1.1.1.1", dst="2.2.2.2") / l4))[UDP].chksum != 0)
    sender = b if from_b else a
    frame = _frame(sender, proxy.mac, str(proxy.address), l4)
    clicked = _router(bed).push(frame).sent
    table = ProxyTable(
        a.address.packed, b.address.packed, mac_bytes(a.mac), mac_bytes(b.mac), mac_bytes(proxy.mac)
    )
    buffer = bytearray(frame)
    assert rewrite_frame(buffer, len(buffer), table)
    assert clicked == [bytes(buffer)]


@FEW
@given(lab_addresses(), st.binary(min_size=1500, max_size=6000), st.booleans())
def test_fragments_reassemble_to_a_valid_datagram_for_b(bed: Bed, data: bytes, tcp: bool) -> None:
    proxy, a, b = bed.proxy, bed.a, bed.b
    l4 = TCP(sport=5, dport=7, flags="PA") if tcp else UDP(sport=5, dport=7)
    datagram = IP(src=str(a.address), dst=str(proxy.address), id=77) / l4 / Raw(data)
    router = _router(bed)
    sent = []
    for piece in fragment(datagram, fragsize=1000):
        result = router.push(bytes(Ether(src=a.mac, dst=proxy.mac) / piece))
        assert len(result.sent) == 1
        sent.append(Ether(result.sent[0]))
    assert all(p[IP].dst == str(b.address) and p.dst == b.mac for p in sent)
    assert all(internet_checksum(bytes(p[IP])[:20]) == 0 for p in sent)
    whole = b"".join(bytes(p[IP].payload) for p in sorted(sent, key=lambda p: p[IP].frag))
    assert whole[20 if tcp else 8 :] == data
    pseudo = b.address.packed
    pseudo = a.address.packed + pseudo + struct.pack("!BBH", 0, 6 if tcp else 17, len(whole))
    assert internet_checksum(pseudo + whole) == 0


@RUNS
@given(lab_addresses(), transport)
def test_strangers_traffic_is_not_forwarded(bed: Bed, l4: Packet) -> None:
    proxy, other = bed.proxy, bed.other
    frame = _frame(other, proxy.mac, str(proxy.address), l4)
    sent = _router(bed).push(frame).sent
    if ICMP in l4:  # the boot probe: echo answered, nothing forwarded
        assert len(sent) == 1
        reply = Ether(sent[0])
        assert reply.dst == other.mac
        assert reply.src == proxy.mac
        assert (reply[IP].src, reply[IP].dst) == (str(proxy.address), str(other.address))
        assert reply[ICMP].type == 0
        assert bytes(reply[ICMP].payload) == bytes(l4[ICMP].payload)
        assert _checksums_valid(sent[0])
    else:
        assert sent == []


@RUNS
@given(lab_addresses(), unicast)
def test_arp_answered_for_the_proxy_only(bed: Bed, asked: ipaddress.IPv4Address) -> None:
    proxy, a, _b = bed.proxy, bed.a, bed.b
    router = _router(bed)
    for target in (proxy.address, asked):
        query = Ether(src=a.mac, dst="ff:ff:ff:ff:ff:ff") / ARP(
            op=1, hwsrc=a.mac, psrc=str(a.address), pdst=str(target)
        )
        sent = router.push(bytes(query)).sent
        if target != proxy.address:
            assert sent == []
            continue
        reply = Ether(sent[0])
        assert reply.dst == a.mac
        assert reply[ARP].op == 2
        assert (reply[ARP].hwsrc, reply[ARP].psrc) == (proxy.mac, str(proxy.address))
        assert (reply[ARP].hwdst, reply[ARP].pdst) == (a.mac, str(a.address))


@RUNS
@given(lab_addresses(), st.sampled_from(["ipv6", "bad-ip-checksum", "arp-reply", "short"]))
def test_anything_else_is_dropped(bed: Bed, kind: str) -> None:
    proxy, a, _b = bed.proxy, bed.a, bed.b
    if kind == "ipv6":
        frame = bytes(Ether(src=a.mac, dst=proxy.mac) / IPv6() / UDP())
    elif kind == "bad-ip-checksum":
        good = IP(bytes(IP(src=str(a.address), dst=str(proxy.address)) / UDP()))
        good.chksum ^= 0x5555
        frame = bytes(Ether(src=a.mac, dst=proxy.mac) / good)
    elif kind == "arp-reply":
        frame = bytes(
            Ether(src=a.mac, dst=proxy.mac)
            / ARP(op=2, hwsrc=a.mac, psrc=str(a.address), pdst=str(proxy.address))
        )
    else:
        frame = bytes(Ether(src=a.mac, dst=proxy.mac, type=0x0800)) + b"\x45\x00"
    assert _router(bed).push(frame).sent == []


@RUNS
@given(unicast, macs, unicast, macs, transport)
def test_an_instance_answers_arp_and_echo_and_nothing_else(
    address: ipaddress.IPv4Address,
    mac: str,
    peer: ipaddress.IPv4Address,
    peer_mac: str,
    l4: Packet,
) -> None:
    assume(peer != address and peer_mac != mac)
    router = Router(rendered_and_checked(instance_config(address, mac)))
    query = Ether(src=peer_mac, dst="ff:ff:ff:ff:ff:ff") / ARP(
        op=1, hwsrc=peer_mac, psrc=str(peer), pdst=str(address)
    )
    assert Ether(router.push(bytes(query)).sent[0])[ARP].hwsrc == mac
    frame = bytes(Ether(src=peer_mac, dst=mac) / IP(src=str(peer), dst=str(address)) / l4)
    sent = router.push(frame).sent
    if ICMP in l4:
        assert Ether(sent[0])[IP].dst == str(peer)
    else:
        assert sent == []


@RUNS
@given(lab_addresses(), transport)
def test_reconfiguration_sends_a_to_b2_and_back(bed: Bed, l4: Packet) -> None:
    """Writing the Switch handler, as ClickOS does on a xenstore write, moves A's traffic."""
    router = _router(bed)
    router.write_handler("target", "switch", "1")
    out = router.push(_frame(bed.a, bed.proxy.mac, str(bed.proxy.address), l4)).sent
    assert [(Ether(f).dst, Ether(f)[IP].dst) for f in out] == [(bed.b2.mac, str(bed.b2.address))]
    assert _checksums_valid(out[0])
    back = router.push(_frame(bed.b2, bed.proxy.mac, str(bed.a.address), l4)).sent
    assert [(Ether(f).dst, Ether(f)[IP].dst) for f in back] == [(bed.a.mac, str(bed.a.address))]
    router.write_handler("target", "switch", "0")
    again = router.push(_frame(bed.a, bed.proxy.mac, str(bed.proxy.address), l4)).sent
    assert Ether(again[0])[IP].dst == str(bed.b.address)


@RUNS
@given(lab_addresses(), transport, st.booleans())
def test_the_plain_path_only_readdresses_ethernet(bed: Bed, l4: Packet, to_b2: bool) -> None:
    """A's packets addressed to B itself cross the same domain without Algorithm 1."""
    target = bed.b2 if to_b2 else bed.b
    frame = _frame(bed.a, bed.proxy.mac, str(target.address), l4)
    sent = _router(bed).push(frame).sent
    assert len(sent) == 1
    assert sent[0][:6] == mac_bytes(target.mac)
    assert sent[0][6:12] == mac_bytes(bed.proxy.mac)
    assert sent[0][12:] == frame[12:]


@RUNS
@given(
    lab_addresses(),
    st.sampled_from([UDP, TCP]),
    st.binary(max_size=1400),
    st.sampled_from(["from A to the proxy", "from B to the proxy", "from A to B", "from A to B2"]),
)
def test_an_offloaded_partial_checksum_is_completed(
    bed: Bed, layer: type[Packet], data: bytes, path: str
) -> None:
    """A sender with checksum offload leaves only the pseudo-header sum (CHECKSUM_PARTIAL).

    The receiver drops such a datagram unless the forwarder completes the sum, on Algorithm 1's
    path and on the plain path alike (a veth sender offloads either way).
    """
    sender = bed.b if path == "from B to the proxy" else bed.a
    target = {"from A to B": bed.b, "from A to B2": bed.b2}.get(path, bed.proxy)
    frame = bytearray(_frame(sender, bed.proxy.mac, str(target.address), layer() / Raw(data)))
    segment = len(frame) - ETH_IP
    proto = 17 if layer is UDP else 6
    pseudo = sender.address.packed + target.address.packed
    pseudo += struct.pack("!BBH", 0, proto, segment)
    partial = sum(struct.unpack("!6H", pseudo))
    partial = (partial & 0xFFFF) + (partial >> 16)
    struct.pack_into("!H", frame, ETH_IP + (6 if proto == 17 else 16), partial or 0xFFFF)
    sent = _router(bed).push(bytes(frame)).sent
    assert len(sent) == 1
    assert _checksums_valid(sent[0])
