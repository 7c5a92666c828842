"""A probe stream: sequence-numbered UDP requests from host A at a fixed rate, through the path.

Where ``response.RoundTrip`` times one request at a time, a stream watches the path over an
interval without waiting on any reply: while the proxy VNF migrates, the requests keep going
out on schedule and the replies' kernel receive stamps show when the path carried traffic and
when it did not. The gaps between replies are downtime as the traffic saw it, whatever the
hypervisor says of its own pause.

Requests go on a fixed schedule (request k is due k/rate seconds after the start; a late
wake-up sends every request due by then), so a pause of the sender is not taken for a gap of
the path: its requests are late, not missing. Send times are ``CLOCK_REALTIME`` (the clock of
the kernel's receive stamps); a gap is measured between receive stamps alone.
"""

from __future__ import annotations

import contextlib
import ipaddress
import select
import socket
import struct
import threading
import time
from dataclasses import dataclass, field

from pytest_nfv.errors import ProbeError
from pytest_nfv.harness.probes.response import (
    SO_TIMESTAMPING,
    SOF_TIMESTAMPING_RX_SOFTWARE,
    SOF_TIMESTAMPING_SOFTWARE,
    kernel_stamp,
)
from pytest_nfv.host.namespaces import entered

__all__ = ["DEFAULT_RATE_HZ", "ProbeStream", "StreamLog"]

DEFAULT_RATE_HZ = 200.0
"""Requests per second: a gap is resolved to 5 ms, at a load no path here notices."""
DRAIN_S = 0.5
"""How long replies to the last requests are waited for after the stream stops."""
_SEQ = struct.Struct("!Q")
_SIZE = 64


@dataclass
class StreamLog:
    """What a stream sent and got back: request and reply times by sequence number (ns)."""

    interval_s: float
    sent_ns: dict[int, int] = field(default_factory=dict)
    replied_ns: dict[int, int] = field(default_factory=dict)


class ProbeStream:
    """Send ``rate_hz`` requests a second to ``target``:``port`` from a namespace until stopped.

    Args:
        netns_path: host A's namespace (None: the caller's).
        target: where the requests go (the proxy VNF).
        port: the UDP port there.
        expect_from: whose replies count (``Testbed.replier``).
        rate_hz: requests per second.

    Raises:
        ProbeError: the rate is not positive, or the socket could not be opened.
    """

    def __init__(
        self,
        netns_path: str | None,
        target: ipaddress.IPv4Address,
        port: int,
        expect_from: ipaddress.IPv4Address,
        rate_hz: float = DEFAULT_RATE_HZ,
    ) -> None:
        if not rate_hz > 0:
            raise ProbeError(f"a probe stream needs a positive rate, got {rate_hz}")
        self._to = (str(target), port)
        self._expected = str(expect_from)
        self.log = StreamLog(1.0 / rate_hz)
        self._stop = threading.Event()
        self._sending_done = threading.Event()
        self._threads: list[threading.Thread] = []
        try:
            if netns_path is None:
                self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            else:
                with entered(netns_path):
                    self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            flags = SOF_TIMESTAMPING_RX_SOFTWARE | SOF_TIMESTAMPING_SOFTWARE
            self._sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPING, flags)
            self._sock.bind(("0.0.0.0", 0))
            self._sock.setblocking(False)
        except OSError as exc:
            raise ProbeError(f"cannot open the probe stream's socket: {exc}") from exc

    def __enter__(self) -> ProbeStream:
        self._threads = [
            threading.Thread(target=self._send, name="nfv-stream-send", daemon=True),
            threading.Thread(target=self._receive, name="nfv-stream-recv", daemon=True),
        ]
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def stop(self) -> StreamLog:
        """Stop sending, wait ``DRAIN_S`` for the last replies, close; the log."""
        if not self._stop.is_set():
            self._stop.set()
            for thread in self._threads:
                thread.join()
            self._sock.close()
        return self.log

    def _send(self) -> None:
        interval = self.log.interval_s
        start = time.monotonic()
        seq = 0
        payload = bytearray(_SIZE)
        try:
            while not self._stop.is_set():
                due = start + seq * interval
                while due <= time.monotonic():
                    _SEQ.pack_into(payload, 0, seq)
                    self.log.sent_ns[seq] = time.time_ns()
                    with contextlib.suppress(OSError):  # no route for a moment: lost
                        self._sock.sendto(payload, self._to)
                    seq += 1
                    due = start + seq * interval
                self._stop.wait(max(0.0, due - time.monotonic()))
        finally:
            self._sending_done.set()

    def _receive(self) -> None:
        buffer = bytearray(2048)
        space = socket.CMSG_SPACE(48)
        drain_until: float | None = None
        while drain_until is None or time.monotonic() < drain_until:
            if drain_until is None and self._sending_done.is_set():
                drain_until = time.monotonic() + DRAIN_S
            readable, _, _ = select.select([self._sock], [], [], 0.05)
            if not readable:
                continue
            try:
                length, ancillary, _flags, peer = self._sock.recvmsg_into([buffer], space)
            except (BlockingIOError, InterruptedError):
                continue
            except OSError:
                return
            if peer[0] != self._expected or length < _SEQ.size:
                continue
            seq = _SEQ.unpack_from(buffer, 0)[0]
            if seq in self.log.sent_ns and seq not in self.log.replied_ns:
                self.log.replied_ns[seq] = kernel_stamp(ancillary) or time.time_ns()
