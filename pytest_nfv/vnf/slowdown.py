"""A known slowdown of the proxy VNF's hop, relative or fixed, injected on purpose.

A benchmark that asks whether a judge (the regression gate, an A/B comparison) sees a change
needs a change of known size. ``--hold-us`` holds every frame, so what it adds to a round
trip depends on how many frames the round trip has. A slowdown here is stated per round trip:

- ``x1.2`` or ``+20%``: the round trip through the proxy becomes that much longer;
- ``+30us`` (or ``+0.5ms``): that much is added to each round trip.

Both are held once per round trip, on the reply's first frame from B (the one that carries
the transport header; later fragments wait behind it in the proxy's single queue anyway).

A relative slowdown needs the round trip's own length, which only host A knows. Host A's
requester therefore writes its ``CLOCK_MONOTONIC`` send time (ns) into payload bytes 8..16,
after the sequence number, as late before the send as it can; every namespace of the host
shares that clock. The proxy notes when each request arrived (the kernel's receive stamp,
keyed by ICMP identifier and sequence, or by A's UDP port and the payload's sequence number)
and, on the matching reply from B, estimates the round trip as ``(reply arrival - sent) +
(request arrival - sent)``: the leg back to A taken as long as the leg out.
It then holds the reply ``(factor - 1)`` times that. Requests of fewer than 16 payload bytes
carry no send time and are not slowed relatively. For a fragmented datagram the estimate
runs between first fragments, so it leaves out the time the reply's later fragments take:
a relative slowdown of a large size is smaller than asked, never larger. A proxy with a
relative slowdown also does more for each frame than one without (it reads the kernel's
receive stamp and the frame's headers, in Python), and that work lengthens its round trips
beyond the factor; a fixed slowdown reads two header bytes of B's frames and nothing more.
"""

from __future__ import annotations

import math
import re
import struct
from collections.abc import Mapping
from dataclasses import dataclass
from typing import NamedTuple

from pytest_nfv.errors import NfvUsageError
from pytest_nfv.vnf.rewrite import ETH_HLEN, ETH_P_IP, ipv4_header_length

__all__ = [
    "SLOWDOWN_ENV",
    "STAMP_OFFSET",
    "Datagram",
    "PendingRequests",
    "Slowdown",
    "Slower",
    "datagram",
    "parse_slowdown",
    "relative_delay_ns",
    "slowdown_from_env",
]

SLOWDOWN_ENV = "NFV_PROXY_SLOWDOWN"
MAX_FACTOR = 10.0
MAX_FIXED_NS = 100_000_000  # 100 ms
MAX_RELATIVE_NS = 1_000_000_000
"""No relative hold is longer: a send time that would ask for more is not a real one."""
STAMP_OFFSET = 8
"""Where in a request's payload host A's send time sits: after the 8-byte sequence number."""
PENDING_LIMIT = 1024
"""Requests remembered at most; the oldest is forgotten first (its reply was lost)."""

_PROTO_ICMP = 1
_PROTO_UDP = 17
_ICMP_ECHO_REPLY = 0
_ICMP_ECHO_REQUEST = 8
_L4_HLEN = 8  # the ICMP echo header and the UDP header alike
_U64 = struct.Struct("!Q")
_NUMBER = r"([0-9]+(?:\.[0-9]+)?)"
_FORMS = (
    (re.compile(rf"x{_NUMBER}"), "x"),
    (re.compile(rf"\+{_NUMBER}%"), "%"),
    (re.compile(rf"\+{_NUMBER}us"), "us"),
    (re.compile(rf"\+{_NUMBER}ms"), "ms"),
)
ACCEPTED = (
    "xFACTOR with 1 < FACTOR <= 10 (x1.2), +PERCENT% with 0 < PERCENT <= 900 (+20%), "
    "or +Nus / +Nms of at most 100 ms (+30us)"
)


@dataclass(frozen=True)
class Slowdown:
    """One slowdown: a factor on the round trip (relative) or nanoseconds added (fixed)."""

    spec: str
    factor: float = 1.0
    fixed_ns: int = 0

    @property
    def relative(self) -> bool:
        return self.factor > 1.0


def parse_slowdown(text: str, source: str) -> Slowdown | None:
    """The slowdown ``text`` states; None for an empty one.

    Args:
        text: ``x1.2``, ``+20%``, ``+30us`` or ``+0.5ms`` (surrounding spaces ignored).
        source: what the value came from (an option or variable), named in an error.

    Raises:
        NfvUsageError: not one of the accepted forms, or out of range.
    """
    spec = text.strip()
    if not spec:
        return None
    for pattern, kind in _FORMS:
        match = pattern.fullmatch(spec)
        if match is None:
            continue
        value = float(match.group(1))
        if not math.isfinite(value):  # the pattern admits none, but say so where it matters
            break
        if kind in ("x", "%"):
            factor = value if kind == "x" else 1.0 + value / 100.0
            if 1.0 < factor <= MAX_FACTOR:
                return Slowdown(spec, factor=factor)
            break
        fixed_ns = round(value * (1_000 if kind == "us" else 1_000_000))
        if 0 < fixed_ns <= MAX_FIXED_NS:
            return Slowdown(spec, fixed_ns=fixed_ns)
        break
    raise NfvUsageError(f"{source}={spec!r}: expected {ACCEPTED}")


def slowdown_from_env(environ: Mapping[str, str]) -> Slowdown | None:
    """The slowdown ``NFV_PROXY_SLOWDOWN`` asks for; None when unset or empty.

    Raises:
        NfvUsageError: the value is not an accepted form (the message names the variable).
    """
    return parse_slowdown(environ.get(SLOWDOWN_ENV, ""), SLOWDOWN_ENV)


def relative_delay_ns(factor: float, sent_ns: int, request_ns: int, reply_ns: int) -> int:
    """How long to hold a reply so that its round trip grows ``factor``-fold.

    The round trip is estimated from what the proxy sees: A's send time, the request's and the
    reply's arrivals, with the leg back to A as long as the leg out. Times out of order (a
    stamp that is no send time of this host's clock) give 0: nothing is held on a guess.
    """
    if not sent_ns <= request_ns <= reply_ns:
        return 0
    round_trip = (reply_ns - sent_ns) + (request_ns - sent_ns)
    delay = int((factor - 1.0) * round_trip)
    return delay if 0 < delay <= MAX_RELATIVE_NS else 0


class Datagram(NamedTuple):
    """What a slowdown needs of one frame: whether it starts its datagram, and its key."""

    first: bool
    """The frame carries the datagram's start (fragment offset 0), transport header and all."""
    key: tuple[int, int, int] | None
    """(protocol, ICMP identifier or A's UDP port, sequence): pairs a reply with its request."""
    stamp_ns: int | None
    """Host A's send time from the payload, where there is one."""


def datagram(frame: bytes | bytearray, length: int, from_a: bool) -> Datagram | None:
    """Read ``frame[:length]`` as an IPv4 datagram sent by A (``from_a``) or B; None if not one.

    Only the first fragment holds the transport header; later fragments are ``first=False``
    with no key. A request's key is an ICMP echo request's (identifier, sequence) or a UDP
    datagram's (source port, payload sequence number); a reply's the same fields of the echo
    reply or of the UDP datagram's destination port, so the two meet.
    """
    ihl = ipv4_header_length(frame, length)
    if ihl is None:
        return None
    ip = ETH_HLEN
    total_length = frame[ip + 2] << 8 | frame[ip + 3]
    end = min(length, ip + total_length)  # Ethernet padding is no part of the datagram
    if (frame[ip + 6] << 8 | frame[ip + 7]) & 0x1FFF:
        return Datagram(False, None, None)
    l4 = ip + ihl
    payload = l4 + _L4_HLEN
    proto = frame[ip + 9]
    if payload > end or proto not in (_PROTO_ICMP, _PROTO_UDP):
        return Datagram(True, None, None)
    if proto == _PROTO_ICMP:
        wanted = _ICMP_ECHO_REQUEST if from_a else _ICMP_ECHO_REPLY
        if frame[l4] != wanted:
            return Datagram(True, None, None)
        ident = frame[l4 + 4] << 8 | frame[l4 + 5]
        key = (proto, ident, frame[l4 + 6] << 8 | frame[l4 + 7])
    else:
        if payload + _U64.size > end:
            return Datagram(True, None, None)
        at = l4 if from_a else l4 + 2  # A's port: the source on the way out, then the dest
        port = frame[at] << 8 | frame[at + 1]
        key = (proto, port, _U64.unpack_from(frame, payload)[0])
    stamp_at = payload + STAMP_OFFSET
    stamp = _U64.unpack_from(frame, stamp_at)[0] if stamp_at + _U64.size <= end else None
    return Datagram(True, key, stamp)


class PendingRequests:
    """Requests from A whose replies have not passed yet: send time and arrival, by key.

    Bounded: a request whose reply never comes (lost, or not an echo at all) is forgotten once
    ``limit`` newer ones have arrived.
    """

    def __init__(self, limit: int = PENDING_LIMIT) -> None:
        self.limit = limit
        self._pending: dict[tuple[int, int, int], tuple[int, int]] = {}

    def __len__(self) -> int:
        return len(self._pending)

    def note(self, key: tuple[int, int, int], sent_ns: int, arrived_ns: int) -> None:
        self._pending.pop(key, None)  # a retry of the same request: its newest copy counts
        self._pending[key] = (sent_ns, arrived_ns)
        while len(self._pending) > self.limit:
            del self._pending[next(iter(self._pending))]

    def take(self, key: tuple[int, int, int]) -> tuple[int, int] | None:
        return self._pending.pop(key, None)


class Slower:
    """The proxy's side of a slowdown: sees every frame it sends on, says how long to hold it.

    Args:
        slowdown: what to inject.
        pending: the table of requests (a fresh bounded one by default).
    """

    def __init__(self, slowdown: Slowdown, pending: PendingRequests | None = None) -> None:
        self.slowdown = slowdown
        self.pending = pending if pending is not None else PendingRequests()

    def delay_ns(self, frame: bytes | bytearray, length: int, from_a: bool, now_ns: int) -> int:
        """Nanoseconds to hold ``frame[:length]``, which arrived at ``now_ns`` (monotonic).

        A request from A is noted (for a relative slowdown) and never held; the first frame
        of a datagram from B is held: a fixed slowdown whatever the datagram, a relative one
        when it is the reply to a noted request with a send time.
        """
        if not self.slowdown.relative:  # no table to keep: only whether B's datagram starts here
            if from_a or length < ETH_HLEN + 20 or (frame[12] << 8 | frame[13]) != ETH_P_IP:
                return 0
            offset = (frame[ETH_HLEN + 6] << 8 | frame[ETH_HLEN + 7]) & 0x1FFF
            return 0 if offset else self.slowdown.fixed_ns
        parsed = datagram(frame, length, from_a)
        if parsed is None or not parsed.first:
            return 0
        if parsed.key is None:
            return 0
        if from_a:
            if parsed.stamp_ns is not None:
                self.pending.note(parsed.key, parsed.stamp_ns, now_ns)
            return 0
        noted = self.pending.take(parsed.key)
        if noted is None:
            return 0
        sent_ns, request_ns = noted
        return relative_delay_ns(self.slowdown.factor, sent_ns, request_ns, now_ns)
