"""The proxy's injected slowdown: its grammar, its reading of frames, and its arithmetic.

Frames are built with scapy and never sent, as in ``test_rewrite.py``.
"""

from __future__ import annotations

import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st
from scapy.layers.inet import ICMP, IP, UDP, IPOption_NOP, fragment
from scapy.layers.l2 import ARP, Ether
from scapy.packet import Packet, Raw

from pytest_nfv.errors import NfvUsageError
from pytest_nfv.harness.probes.response import RoundTrip
from pytest_nfv.vnf.proxy import parse_args
from pytest_nfv.vnf.slowdown import (
    MAX_RELATIVE_NS,
    SLOWDOWN_ENV,
    STAMP_OFFSET,
    PendingRequests,
    Slowdown,
    Slower,
    datagram,
    parse_slowdown,
    relative_delay_ns,
    slowdown_from_env,
)

A, B, PROXY = "10.213.0.3", "10.213.0.4", "10.213.0.2"
MS = 1_000_000


# ------------------------------------------------------------------ the grammar


@pytest.mark.parametrize(
    ("text", "factor", "fixed_ns"),
    [
        ("x1.2", 1.2, 0),
        (" x4 ", 4.0, 0),
        ("x10", 10.0, 0),
        ("+20%", 1.2, 0),
        ("+900%", 10.0, 0),
        ("+30us", 1.0, 30_000),
        ("+0.5us", 1.0, 500),
        ("+100000us", 1.0, 100 * MS),
        ("+1.5ms", 1.0, 1_500_000),
        ("+100ms", 1.0, 100 * MS),
    ],
)
def test_the_accepted_forms(text: str, factor: float, fixed_ns: int) -> None:
    slowdown = parse_slowdown(text, "X")
    assert slowdown is not None
    assert slowdown.factor == pytest.approx(factor)
    assert slowdown.fixed_ns == fixed_ns
    assert slowdown.spec == text.strip()
    assert slowdown.relative == (factor > 1)


@pytest.mark.parametrize(
    "text",
    [
        "x1",  # no slowdown at all
        "x0.5",  # a speed-up
        "x10.01",
        "xinf",
        "xnan",
        "x1e3",
        "1.2",
        "x",
        "+0%",
        "+901%",
        "20%",
        "-20%",
        "+nan%",
        "+0us",
        "+100001us",
        "+100.1ms",
        "+infus",
        "+30",
        "+30s",
        "30us",
        "+30 us",
        "x1.2,+30us",
    ],
)
def test_bad_values_name_the_source_and_the_accepted_forms(text: str) -> None:
    with pytest.raises(NfvUsageError, match=rf"^{SLOWDOWN_ENV}=.*expected xFACTOR.*\+30us"):
        slowdown_from_env({SLOWDOWN_ENV: text})


def test_unset_or_empty_is_no_slowdown() -> None:
    assert slowdown_from_env({}) is None
    assert slowdown_from_env({SLOWDOWN_ENV: "  "}) is None


def test_the_proxy_takes_a_slowdown() -> None:
    common = ["--host-a", A, "--mac-a", "02:00:00:00:00:01"]
    common += ["--host-b", B, "--mac-b", "02:00:00:00:00:02"]
    assert parse_args(common).slowdown is None
    assert parse_args([*common, "--slowdown", "x1.5"]).slowdown == Slowdown("x1.5", factor=1.5)
    with pytest.raises(SystemExit):
        parse_args([*common, "--slowdown", "x0"])


# ------------------------------------------------------------------ the arithmetic


def test_the_reply_is_held_factor_minus_one_round_trips() -> None:
    # Sent at 1000, at the proxy 100 later, the reply back at the proxy 300 after the send:
    # the round trip is taken as 300 + 100 (the leg back as long as the leg out).
    assert relative_delay_ns(1.5, 1000, 1100, 1300) == 200
    assert relative_delay_ns(4.0, 1000, 1100, 1300) == 1200
    assert relative_delay_ns(1.2, 0, 10 * MS, 30 * MS) == pytest.approx(8 * MS, abs=1)


@given(
    factor=st.floats(min_value=1.0001, max_value=10.0),
    sent=st.integers(min_value=0, max_value=2**62),
    out=st.integers(min_value=0, max_value=10 * MS),
    turn=st.integers(min_value=0, max_value=10 * MS),
)
def test_the_held_reply_makes_the_round_trip_factor_times_longer(
    factor: float, sent: int, out: int, turn: int
) -> None:
    """With the leg back as long as the leg out, the slowed round trip is factor times the
    unslowed one."""
    held = relative_delay_ns(factor, sent, sent + out, sent + out + turn)
    round_trip = 2 * out + turn
    assert held == pytest.approx((factor - 1) * round_trip, abs=1)
    assert held + round_trip == pytest.approx(factor * round_trip, abs=1)


def test_times_out_of_order_or_absurd_hold_nothing() -> None:
    assert relative_delay_ns(2.0, 2000, 1000, 3000) == 0  # a "send time" after the arrival
    assert relative_delay_ns(2.0, 1000, 3000, 2000) == 0  # the reply before its request
    assert relative_delay_ns(2.0, 0, MAX_RELATIVE_NS, MAX_RELATIVE_NS) == 0  # 2 s: no stamp
    assert relative_delay_ns(1.0001, 1000, 1000, 1001) == 0  # less than a nanosecond


def test_the_table_of_pending_requests_is_bounded() -> None:
    pending = PendingRequests(limit=3)
    for seq in range(10):
        pending.note((1, 7, seq), seq, seq + 1)
    assert len(pending) == 3
    assert pending.take((1, 7, 0)) is None  # the oldest went first
    assert pending.take((1, 7, 9)) == (9, 10)
    assert pending.take((1, 7, 9)) is None  # taken once
    pending.note((1, 7, 7), 70, 71)  # a retry: its newest copy counts, and it is now newest
    pending.note((1, 7, 10), 100, 101)
    pending.note((1, 7, 11), 110, 111)
    assert pending.take((1, 7, 8)) is None
    assert pending.take((1, 7, 7)) == (70, 71)


# ------------------------------------------------------------------ frames


def _payload(seq: int, sent_ns: int | None, size: int) -> bytes:
    body = struct.pack("!Q", seq) + (b"" if sent_ns is None else struct.pack("!Q", sent_ns))
    return (body + bytes(size))[:size]


def _frame(src: str, dst: str, l4: Packet, options: int = 0) -> bytes:
    ip = IP(src=src, dst=dst, options=[IPOption_NOP()] * options)
    return bytes(Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:09") / ip / l4)


def icmp_request(seq: int, sent_ns: int | None, size: int = 64, ident: int = 77) -> bytes:
    return _frame(A, PROXY, ICMP(type=8, id=ident, seq=seq) / Raw(_payload(seq, sent_ns, size)))


def icmp_reply(seq: int, size: int = 64, ident: int = 77, options: int = 0) -> bytes:
    l4 = ICMP(type=0, id=ident, seq=seq) / Raw(_payload(seq, 0, size))
    return _frame(B, A, l4, options)


def udp_request(seq: int, sent_ns: int | None, size: int = 64, port: int = 40000) -> bytes:
    return _frame(A, PROXY, UDP(sport=port, dport=7) / Raw(_payload(seq, sent_ns, size)))


def udp_reply(seq: int, size: int = 64, port: int = 40000) -> bytes:
    return _frame(B, A, UDP(sport=7, dport=port) / Raw(_payload(seq, None, size)))


def see(slower: Slower, frame: bytes, from_a: bool, now_ns: int) -> int:
    buffer = bytearray(frame + bytes(64))  # in a larger buffer, as the proxy's is
    return slower.delay_ns(buffer, len(frame), from_a, now_ns)


def test_requests_and_replies_meet_by_icmp_identifier_and_sequence() -> None:
    request = datagram(icmp_request(5, 123), len(icmp_request(5, 123)), from_a=True)
    reply = datagram(icmp_reply(5), len(icmp_reply(5)), from_a=False)
    assert request is not None
    assert reply is not None
    assert request.key == reply.key == (1, 77, 5)
    assert request.stamp_ns == 123
    with_options = icmp_reply(5, options=3)
    assert datagram(with_options, len(with_options), from_a=False) == reply  # IHL > 5


def test_requests_and_replies_meet_by_a_s_udp_port_and_sequence() -> None:
    out, back = udp_request(2**40, 456), udp_reply(2**40)
    request = datagram(out, len(out), from_a=True)
    reply = datagram(back, len(back), from_a=False)
    assert request is not None
    assert reply is not None
    assert request.key == reply.key == (17, 40000, 2**40)
    assert request.stamp_ns == 456


def test_what_is_not_an_echo_has_no_key() -> None:
    arp = bytes(Ether(dst="ff:ff:ff:ff:ff:ff") / ARP())
    assert datagram(arp, len(arp), from_a=True) is None
    assert datagram(icmp_request(1, 1)[:30], 30, from_a=True) is None  # cut inside the IP header
    # An echo request from B, a reply from A: not the directions an echo goes.
    back, out = icmp_reply(1), icmp_request(1, 1)
    assert datagram(back, len(back), from_a=True) == (True, None, None)
    assert datagram(out, len(out), from_a=False) == (True, None, None)
    tiny = _frame(A, PROXY, UDP(sport=1, dport=7) / Raw(b"1234"))
    assert datagram(tiny, len(tiny), from_a=True) == (True, None, None)  # no sequence number


def test_a_request_too_short_for_a_send_time_has_none() -> None:
    frame = icmp_request(3, None, size=15)
    parsed = datagram(frame, len(frame), from_a=True)
    assert parsed is not None
    assert parsed.key == (1, 77, 3)
    assert parsed.stamp_ns is None
    # Ethernet padding after a short datagram is not read as a send time.
    padded = frame + struct.pack("!Q", 5)
    assert datagram(padded, len(padded), from_a=True) == parsed


def test_a_relative_slowdown_holds_the_matching_reply_once() -> None:
    slower = Slower(Slowdown("x3", factor=3.0))
    assert see(slower, icmp_request(1, 10 * MS), from_a=True, now_ns=11 * MS) == 0
    assert see(slower, udp_request(1, 10 * MS), from_a=True, now_ns=11 * MS) == 0
    assert len(slower.pending) == 2
    # Round trip taken as (13 - 10) + (11 - 10) = 4 ms; held (3 - 1) x 4 ms.
    assert see(slower, icmp_reply(1), from_a=False, now_ns=13 * MS) == 8 * MS
    assert see(slower, icmp_reply(1), from_a=False, now_ns=14 * MS) == 0  # a duplicate
    assert see(slower, udp_reply(1, port=40001), from_a=False, now_ns=13 * MS) == 0  # not A's
    assert see(slower, udp_reply(1), from_a=False, now_ns=12 * MS) == 6 * MS  # 2 x (2 + 1)
    assert len(slower.pending) == 0


def test_a_relative_slowdown_leaves_requests_without_a_send_time_alone() -> None:
    slower = Slower(Slowdown("x3", factor=3.0))
    assert see(slower, icmp_request(1, None, size=8), from_a=True, now_ns=11 * MS) == 0
    assert see(slower, icmp_reply(1, size=8), from_a=False, now_ns=13 * MS) == 0


def test_a_fixed_slowdown_holds_each_reply_once_and_no_request() -> None:
    slower = Slower(Slowdown("+30us", fixed_ns=30_000))
    assert see(slower, icmp_request(1, None, size=8), from_a=True, now_ns=1) == 0
    assert see(slower, icmp_reply(1, size=8), from_a=False, now_ns=2) == 30_000
    assert see(slower, udp_reply(9), from_a=False, now_ns=2) == 30_000
    assert len(slower.pending) == 0


@pytest.mark.parametrize("kind", ["icmp", "udp"])
def test_only_the_first_fragment_of_a_reply_is_held(kind: str) -> None:
    size = 4000
    l4: Packet = (
        ICMP(type=0, id=77, seq=1) if kind == "icmp" else UDP(sport=7, dport=40000)
    ) / Raw(_payload(1, None, size))
    reply_frags = [
        bytes(Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:09") / f)
        for f in fragment(IP(src=B, dst=A, id=9) / l4, fragsize=1480)
    ]
    request = icmp_request(1, 10 * MS, size) if kind == "icmp" else udp_request(1, 10 * MS, size)
    first_request = bytes(
        Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:09")
        / fragment(Ether(request)[IP], fragsize=1480)[0]
    )
    assert len(reply_frags) == 3
    fixed = Slower(Slowdown("+30us", fixed_ns=30_000))
    assert [see(fixed, f, from_a=False, now_ns=0) for f in reply_frags] == [30_000, 0, 0]
    relative = Slower(Slowdown("x2", factor=2.0))
    assert see(relative, first_request, from_a=True, now_ns=11 * MS) == 0
    assert len(relative.pending) == 1
    later = [see(relative, f, from_a=False, now_ns=13 * MS) for f in reversed(reply_frags)]
    assert later == [0, 0, 4 * MS]  # the later fragments first: still only the first is held


# ------------------------------------------------------------------ the requester's side


@pytest.mark.parametrize("protocol", ["udp", "icmp"])
def test_host_a_stamps_its_send_time_after_the_sequence_number(protocol: str) -> None:
    import time

    from pytest_nfv.vnf.checksum import internet_checksum

    requester = RoundTrip(None, protocol)  # type: ignore[arg-type]
    try:
        message, short = requester._request(42, 64), requester._request(43, 15)
        before = time.monotonic_ns()
        requester._stamp_send_time(message)
        after = time.monotonic_ns()
        requester._stamp_send_time(short)
    finally:
        requester.close()
    header = 8 if protocol == "icmp" else 0
    payload, short_payload = message[header:], short[header:]
    assert len(payload) == 64
    assert len(short_payload) == 15
    assert struct.unpack_from("!Q", payload)[0] == 42
    assert before <= struct.unpack_from("!Q", payload, STAMP_OFFSET)[0] <= after
    assert short_payload[8:] == bytes(7)  # no room for a send time: none written
    if protocol == "icmp":  # the checksum was brought up to date for the send time
        assert internet_checksum(message) == 0


# ------------------------------------------------------------------ the run's record


def test_a_bad_slowdown_is_a_usage_error_before_the_backend_is_built(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from pytest_nfv.backends.base import BackendSettings
    from pytest_nfv.backends.netns.backend import make
    from pytest_nfv.host.identity import RunIdentity

    monkeypatch.setenv(SLOWDOWN_ENV, "x0.9")
    with pytest.raises(NfvUsageError, match=f"{SLOWDOWN_ENV}='x0.9'"):
        make("netns", RunIdentity.new(), BackendSettings())


def test_the_run_says_what_slowdown_was_injected(monkeypatch: pytest.MonkeyPatch) -> None:
    from types import SimpleNamespace

    from pytest_nfv.plugin.state import NfvState

    plain = SimpleNamespace(canary={}, settings=SimpleNamespace(proxy_b=None), not_measured=[])
    monkeypatch.delenv("NFV_PROXY_HOLD_US", raising=False)
    monkeypatch.delenv(SLOWDOWN_ENV, raising=False)
    assert NfvState.run_conditions(plain) == {}  # type: ignore[arg-type]
    monkeypatch.setenv(SLOWDOWN_ENV, "+20%")
    assert NfvState.run_conditions(plain) == {"injected": {SLOWDOWN_ENV: "+20%"}}  # type: ignore[arg-type]
    monkeypatch.setenv("NFV_PROXY_HOLD_US", "30")
    assert NfvState.run_conditions(plain)["injected"] == {  # type: ignore[arg-type]
        "NFV_PROXY_HOLD_US": "30",
        SLOWDOWN_ENV: "+20%",
    }


# ------------------------------------------------------------------ variant B's SPEC


def test_a_variant_spec_names_what_b_has_other_than_a() -> None:
    from pytest_nfv.backends.variant import ProxyVariant, parse_proxy_variant

    assert parse_proxy_variant("slowdown=x1.2") == ProxyVariant(
        "slowdown=x1.2", slowdown=Slowdown("x1.2", factor=1.2)
    )
    both = parse_proxy_variant(" hold-us=5 , slowdown=+30us ")
    assert both.spec == "hold-us=5,slowdown=+30us"
    assert both.hold_us == 5
    assert both.slowdown == Slowdown("+30us", fixed_ns=30_000)
    assert parse_proxy_variant("hold-us=0") == ProxyVariant("hold-us=0", hold_us=0)  # A/A
    for bad in ("", ",", "slowdown", "x=1", "hold-us=1,hold-us=2", "hold-us=1.5"):
        with pytest.raises(NfvUsageError):
            parse_proxy_variant(bad)
