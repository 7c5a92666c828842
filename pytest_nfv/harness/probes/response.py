"""Response time from host A: one request out, the matching reply back, kernel-timestamped.

The socket is opened inside host A's namespace. Both ends of the interval are the kernel's
software timestamps (SO_TIMESTAMPING: transmit when the request left the stack, receive when
the reply arrived), so the figure excludes Python's own latency on either side. If the kernel
gives no transmit timestamp (old kernels, some drivers), the time just before ``sendto`` is
used instead and ``tx_clock`` says so; a result never mixes the two silently.

Each request carries a sequence number in its first 8 bytes; only a reply with that number,
from the expected responder, ends the interval, so a late duplicate cannot pass for a reply.
The next 8 bytes (in requests of 16 bytes or more) are its ``CLOCK_MONOTONIC`` send time, for
a proxy VNF that slows round trips by a factor (``vnf.slowdown``).

The requests are UDP datagrams to host B's echo responder, or with ``protocol="icmp"`` ICMP
echo requests of the same payload (as ``ping -s SIZE`` sends), which host B's kernel answers
itself: the same instrument timing the path without a user-space responder. The testbed uses
ICMP where the proxy VNF carries it (``backends.base.echo_protocol``), so that its figure is
the path's; UDP beside it shows a benchmark the responder's share.

Every ICMP requester has an identifier of its own: a raw socket receives every echo reply
that reaches its namespace, and two requesters of one process (the suites' and a
benchmark's) must not take each other's replies for their own.
"""

from __future__ import annotations

import contextlib
import ipaddress
import itertools
import os
import select
import socket
import struct
import time
from dataclasses import dataclass
from typing import Literal

from pytest_nfv.errors import ProbeError
from pytest_nfv.harness.probes.icmp import ICMP_ECHO_REPLY, echo_request
from pytest_nfv.host.namespaces import entered
from pytest_nfv.model import MAX_UDP_PAYLOAD, MIN_PAYLOAD, EchoProtocol
from pytest_nfv.vnf.checksum import adjust_checksum
from pytest_nfv.vnf.slowdown import STAMP_OFFSET

__all__ = ["ECHO_METHODS", "MAX_UDP_PAYLOAD", "MIN_PAYLOAD", "RoundTrip", "RoundTripSample"]

ECHO_METHODS: dict[EchoProtocol, str] = {
    "udp": "UDP to host B's echo responder",
    "icmp": "ICMP echo answered by host B's kernel",
}
"""How each protocol's round trip is answered, for the report header and the record."""

SO_TIMESTAMPING = 37
SOF_TIMESTAMPING_TX_SOFTWARE = 1 << 1
SOF_TIMESTAMPING_RX_SOFTWARE = 1 << 3
SOF_TIMESTAMPING_SOFTWARE = 1 << 4
SOF_TIMESTAMPING_OPT_ID = 1 << 7
SOF_TIMESTAMPING_OPT_TSONLY = 1 << 11
_TIMESTAMPS = struct.Struct("@qqqqqq")  # struct scm_timestamping: three timespecs
_SEQ = struct.Struct("!Q")
_STAMP = struct.Struct("!Q")
_NO_STAMP = bytes(_STAMP.size)
_ICMP_HLEN = 8
_ICMP_ID = struct.Struct("!H")
_REQUESTERS = itertools.count()
_IDENT_STRIDE = 4099
"""Between the identifiers of one process's requesters: a prime, so that the next process's
(pid + 1) starts far from them."""


@dataclass(frozen=True)
class RoundTripSample:
    """One round trip: seconds, and which clock stamped the request."""

    seconds: float
    tx_clock: Literal["kernel", "user"]


def kernel_stamp(ancillary: list[tuple[int, int, bytes]]) -> int | None:
    """The kernel's software timestamp (ns, ``CLOCK_REALTIME``) in a message's ancillary data."""
    for level, kind, data in ancillary:
        if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPING and len(data) >= 16:
            sec, nsec = struct.unpack_from("@qq", data)
            if sec or nsec:
                return int(sec * 1_000_000_000 + nsec)
    return None


class RoundTrip:
    """A UDP or ICMP echo requester living in host A's namespace."""

    def __init__(self, netns_path: str | None, protocol: EchoProtocol = "udp") -> None:
        self.protocol = protocol
        kind, proto = (
            (socket.SOCK_RAW, socket.IPPROTO_ICMP) if protocol == "icmp" else (socket.SOCK_DGRAM, 0)
        )
        if netns_path is None:
            self._sock = socket.socket(socket.AF_INET, kind, proto)
        else:
            with entered(netns_path):
                self._sock = socket.socket(socket.AF_INET, kind, proto)
        flags = (
            SOF_TIMESTAMPING_TX_SOFTWARE
            | SOF_TIMESTAMPING_RX_SOFTWARE
            | SOF_TIMESTAMPING_SOFTWARE
            | SOF_TIMESTAMPING_OPT_ID
            | SOF_TIMESTAMPING_OPT_TSONLY
        )
        self._sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPING, flags)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 << 20)
        self._sock.bind(("0.0.0.0", 0))
        self._sock.setblocking(False)
        self._seq = 0
        self._ident = (os.getpid() + _IDENT_STRIDE * next(_REQUESTERS)) & 0xFFFF
        self._buffer = bytearray(MAX_UDP_PAYLOAD + 64)

    def close(self) -> None:
        self._sock.close()

    def __enter__(self) -> RoundTrip:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _stamp(self, ancillary: list[tuple[int, int, bytes]]) -> int | None:
        return kernel_stamp(ancillary)

    def _tx_stamp(self) -> int | None:
        try:
            _data, ancillary, _flags, _addr = self._sock.recvmsg(
                0, socket.CMSG_SPACE(_TIMESTAMPS.size) + 256, socket.MSG_ERRQUEUE
            )
        except (BlockingIOError, InterruptedError):
            return None
        return self._stamp(ancillary)

    def _drain_errqueue(self) -> None:
        while self._tx_stamp() is not None:
            pass

    def _reply_within(self, timeout_s: float) -> tuple[int, int | None, str] | None:
        """The next datagram within ``timeout_s``: its sequence number, kernel receive stamp
        and sender; None if none came (or only a transmit stamp woke the socket up).

        A datagram too short to carry a sequence number gets -1, which matches no request.
        """
        readable, _, _ = select.select([self._sock], [], [], max(0.0, timeout_s))
        if not readable:
            return None
        try:
            length, ancillary, _flags, peer = self._sock.recvmsg_into(
                [self._buffer], socket.CMSG_SPACE(_TIMESTAMPS.size)
            )
        except BlockingIOError:
            return None
        start = 0
        if self.protocol == "icmp":  # a raw socket: IP header, then the ICMP header
            start = (self._buffer[0] & 0x0F) * 4 + 8
            kind, ident = self._buffer[start - 8], _ICMP_ID.unpack_from(self._buffer, start - 4)[0]
            if length < start or kind != ICMP_ECHO_REPLY or ident != self._ident:
                return -1, None, peer[0]
        seq = _SEQ.unpack_from(self._buffer, start)[0] if length >= start + _SEQ.size else -1
        return seq, self._stamp(ancillary), peer[0]

    def _request(self, seq: int, size: int) -> bytearray:
        """The request: sequence number, then room for the send time (``_stamp_send_time``)."""
        payload = _SEQ.pack(seq) + bytes(size - _SEQ.size)
        message = echo_request(self._ident, seq, payload) if self.protocol == "icmp" else payload
        return bytearray(message)

    def _stamp_send_time(self, message: bytearray) -> None:
        """Write the send time into a request of 16 payload bytes or more, just before it goes.

        The send time (``CLOCK_MONOTONIC``, ns, shared by every namespace of the host) is what
        a proxy VNF told to slow the round trip by a factor needs (``vnf.slowdown``); no
        measurement here reads it. It is taken as late as it can be, and an ICMP checksum is
        updated for it rather than summed again, so that it is as near the kernel's transmit
        time as Python gets: the proxy's estimate of the round trip counts its distance twice.
        """
        at = (_ICMP_HLEN if self.protocol == "icmp" else 0) + STAMP_OFFSET
        if len(message) < at + _STAMP.size:
            return
        stamp = _STAMP.pack(time.monotonic_ns())
        message[at : at + _STAMP.size] = stamp
        if self.protocol == "icmp":
            checksum = message[2] << 8 | message[3]
            struct.pack_into("!H", message, 2, adjust_checksum(checksum, _NO_STAMP, stamp))

    def once(
        self,
        target: ipaddress.IPv4Address,
        port: int,
        size: int,
        expect_from: ipaddress.IPv4Address,
        timeout_s: float = 1.0,
    ) -> RoundTripSample | None:
        """One request of ``size`` payload bytes to ``target``; None when no reply came in time.

        Raises:
            ProbeError: the size is out of range or the socket refused to send.
        """
        if not MIN_PAYLOAD <= size <= MAX_UDP_PAYLOAD:
            raise ProbeError(f"payload size {size} outside {MIN_PAYLOAD}..{MAX_UDP_PAYLOAD}")
        self._drain_errqueue()
        self._seq += 1
        payload = self._request(self._seq, size)
        to = (str(target), port if self.protocol == "udp" else 0)
        user_tx = time.time_ns()
        self._stamp_send_time(payload)
        try:
            self._sock.sendto(payload, to)
        except OSError as exc:
            raise ProbeError(f"cannot send to {target}:{port}: {exc}") from exc
        tx = self._tx_stamp()
        deadline = time.monotonic() + timeout_s
        expected = str(expect_from)
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            reply = self._reply_within(remaining)
            if reply is None:
                if tx is None:
                    tx = self._tx_stamp()
                continue
            seq, rx_stamp, peer = reply
            if peer != expected or seq != self._seq:
                continue
            rx = rx_stamp or time.time_ns()
            if tx is None:
                tx = self._tx_stamp()
            clock: Literal["kernel", "user"] = "kernel" if tx is not None else "user"
            return RoundTripSample((rx - (tx if tx is not None else user_tx)) / 1e9, clock)

    def measure(
        self,
        target: ipaddress.IPv4Address,
        port: int,
        size: int,
        expect_from: ipaddress.IPv4Address,
        timeout_s: float = 1.0,
        attempts: int = 3,
    ) -> RoundTripSample:
        """Like ``once`` but a lost datagram is retried; all attempts lost is an error.

        Raises:
            ProbeError: no reply from ``expect_from`` after ``attempts`` requests.
        """
        for _ in range(attempts):
            sample = self.once(target, port, size, expect_from, timeout_s)
            if sample is not None:
                return sample
        raise ProbeError(
            f"no reply from {expect_from} to {size}-byte requests sent to "
            f"{target}:{port} ({attempts} attempts, {timeout_s:g} s each)"
        )

    def first_reply_ns(
        self,
        target: ipaddress.IPv4Address,
        port: int,
        expect_from: ipaddress.IPv4Address,
        timeout_s: float,
        interval_s: float = 0.001,
    ) -> int:
        """Send small requests every ``interval_s`` until ``expect_from`` answers one.

        Returns the kernel receive timestamp (ns, CLOCK_REALTIME) of that first reply: the
        moment a (re)deployed proxy VNF was observably doing its job. Only replies to requests
        of this call count: those to an earlier call's requests, still arriving after it
        returned, would date from before the deployment being timed.

        Raises:
            ProbeError: no such reply within ``timeout_s``.
        """
        deadline = time.monotonic() + timeout_s
        expected = str(expect_from)
        first = self._seq + 1  # replies to earlier calls' requests may still be queued
        while time.monotonic() < deadline:
            self._seq += 1
            request = self._request(self._seq, 64)
            self._stamp_send_time(request)
            with contextlib.suppress(OSError):  # path not up yet
                self._sock.sendto(request, (str(target), port if self.protocol == "udp" else 0))
            self._drain_errqueue()
            wait_until = time.monotonic() + interval_s
            while (remaining := wait_until - time.monotonic()) > 0:
                reply = self._reply_within(remaining)
                if reply is None:
                    continue
                seq, rx_stamp, peer = reply
                if peer == expected and seq >= first:
                    return rx_stamp or time.time_ns()
        raise ProbeError(f"no reply from {expected} via {target}:{port} within {timeout_s:g} s")
