"""What a traffic generator is to the throughput search: a protocol and its trial.

A generator offers frames of one size at one rate for one duration from host A's namespace,
and reports a ``Trial``: what it was asked to offer, what it really sent (counted by the
sender, never assumed from the rate), and what host B's receiver counted of that stream.
Loss is counted against what was sent, and the achieved send rate stands beside the offered
one (NFVbench's rule), so a search can tell a generator that fell short from a path that
dropped.

The built-in generators (``trafgen``, ``csender``) and any a hardware runner brings are
found by name in one registry (``registry``).
"""

from __future__ import annotations

import ipaddress
import math
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from pytest_nfv.backends.shared.topology import STREAM_PORT
from pytest_nfv.errors import NfvUsageError
from pytest_nfv.model import Endpoint, Testbed

__all__ = [
    "FCS_BYTES",
    "IMIX",
    "L1_OVERHEAD_BYTES",
    "MAX_FRAME",
    "MIN_FRAME",
    "SIMPLE_IMIX",
    "STREAM_PORT",
    "UNPACED",
    "FrameSize",
    "ReceiverCount",
    "Stream",
    "TrafficGenerator",
    "Trial",
    "mix_mean",
    "payload_bytes",
]

FCS_BYTES = 4
"""A frame size counts the Ethernet FCS (RFC 2544's 64 B frame); software sends 4 B fewer."""
L1_OVERHEAD_BYTES = 20
"""Preamble, start delimiter and inter-frame gap: what a frame costs a wire beyond itself."""
HEADERS_BYTES = 14 + 20 + 8
"""Ethernet, IPv4 and UDP headers before the stream's payload."""
STAMP_BYTES = 16
"""The payload every stream frame starts with: tag, sequence number, send time."""
UNPACED = math.inf
"""The offered rate that asks a generator for all it can send: its own ceiling."""
MIN_FRAME = 64
MAX_FRAME = 1518


SIMPLE_IMIX: tuple[int, ...] = (64,) * 7 + (570,) * 4 + (1518,)
"""The simple IMIX of 7:4:1 frames of 64, 570 and 1518 B, in the order a mix is sent."""


def mix_mean(frames: tuple[int, ...]) -> int:
    """The mean frame size of a mix, rounded: the size its bit rates are reckoned at."""
    return round(sum(frames) / len(frames))


@dataclass(frozen=True)
class FrameSize:
    """One throughput search's frames: one size, or a mix sent in turn at its mean size.

    A mix's searches are recorded at its mean size (the size its bit rates are reckoned at),
    so a run that asks for a mix and for its mean size as a plain size is refused by the
    option that parses them: the two records would carry one key.
    """

    size: int
    mix: tuple[int, ...] | None = None

    @property
    def label(self) -> str:
        """``64B``, or ``imix`` for the simple IMIX (a test id and the summary's name)."""
        return "imix" if self.mix == SIMPLE_IMIX else f"{self.size}B"

    def describe(self) -> str:
        if self.mix is None:
            return f"{self.size} B"
        counts = {size: self.mix.count(size) for size in dict.fromkeys(self.mix)}
        parts = ", ".join(f"{n} x {size} B" for size, n in counts.items())
        return f"{self.label} ({parts} in turn; {self.size} B mean)"


IMIX = FrameSize(mix_mean(SIMPLE_IMIX), SIMPLE_IMIX)
"""The simple IMIX as a search's frames (``--nfv-frame-sizes ...,imix``)."""


def payload_bytes(frame_size: int) -> int:
    """UDP payload of a ``frame_size`` frame (FCS included in the size).

    Raises:
        NfvUsageError: a size outside 64..1518 bytes.
    """
    if not MIN_FRAME <= frame_size <= MAX_FRAME:
        raise NfvUsageError(f"frame size {frame_size} B: expected {MIN_FRAME}..{MAX_FRAME}")
    return frame_size - FCS_BYTES - HEADERS_BYTES


@dataclass(frozen=True)
class Stream:
    """Who sends to whom: A's namespace, the address and next hop its frames go to, B.

    Args:
        source: host A (frames leave its ``iface``, from its address and MAC).
        destination: the IPv4 address the frames carry (the proxy's: it rewrites them to B).
        next_hop_mac: the MAC the frames are sent to (the proxy's).
        sink: host B, where the receiver counts the stream.
        port: UDP destination port of the stream.
        iface: A's interface the frames leave from.
    """

    source: Endpoint
    destination: ipaddress.IPv4Address
    next_hop_mac: str
    sink: Endpoint
    port: int = STREAM_PORT
    iface: str = "eth0"

    @classmethod
    def through_proxy(cls, testbed: Testbed, port: int = STREAM_PORT) -> Stream:
        """A to B through the proxy VNF, as Fig. 1 sends: addressed to the proxy."""
        if port == testbed.echo_port:
            raise NfvUsageError(f"port {port} is B's echo responder's; choose another")
        return cls(testbed.host_a, testbed.proxy.address, testbed.proxy.mac, testbed.host_b, port)

    @classmethod
    def direct(cls, source: Endpoint, sink: Endpoint, port: int = STREAM_PORT) -> Stream:
        """A straight to B on one link (the generator's own ceiling, no VNF between)."""
        return cls(source, sink.address, sink.mac, sink, port)


@dataclass(frozen=True)
class ReceiverCount:
    """What host B's receiver counted of one stream (see ``receiver.c``)."""

    received: int
    """Distinct sequence numbers of the stream: duplicates are not counted twice."""
    duplicates: int
    reordered: int
    """Datagrams that came after one with a higher sequence number."""
    highest: int
    foreign: int
    """Datagrams on the port that were not of this stream (another trial's stragglers)."""
    socket_drops: int
    """Datagrams the kernel dropped at the receiver's own socket: loss the receiver caused."""
    latency_ns: tuple[int, float, int] | None = None
    """One-way delay (min, mean, max) from the sender's stamps; None where none was stamped."""


@dataclass(frozen=True)
class Trial:
    """One trial at one offered rate, as sent and as received.

    ``achieved_fps`` is ``sent`` over the trial's window: the longer of the duration asked
    for and the time the sender really took, so a sender that could not keep up shows it.
    """

    generator: str
    frame_size: int
    offered_fps: float
    duration_s: float
    sent: int
    achieved_fps: float
    count: ReceiverCount
    pacing: str
    """How the sender spaced its frames (smooth, or in bursts), for whoever reads the figure."""
    wire_tx: int | None = None
    """Frames A's interface counted out during the trial (stats64), a check on ``sent``."""

    @property
    def received(self) -> int:
        return self.count.received

    @property
    def lost(self) -> int:
        return max(0, self.sent - self.count.received)

    @property
    def loss_ratio(self) -> float:
        return self.lost / self.sent if self.sent else 0.0

    def short_of_offered(self, floor: float = 0.99) -> bool:
        """Whether the sender achieved less than ``floor`` of the offered rate."""
        return self.achieved_fps < floor * self.offered_fps


@runtime_checkable
class TrafficGenerator(Protocol):
    """Sends one stream's trials from host A and counts them at host B.

    Lifecycle: ``open`` (starts B's receiver; may raise ``BackendUnavailable`` where the
    tool is missing), any number of ``trial`` calls, ``close`` (idempotent).
    """

    name: str

    def open(self) -> None:
        """Get ready to send: build or find the tools, start B's receiver.

        Raises:
            BackendUnavailable: the sending tool is missing here.
            TrafficError: the receiver would not start.
        """

    def close(self) -> None:
        """Stop whatever the generator started."""

    def trial(self, frame_size: int, offered_fps: float, duration_s: float) -> Trial:
        """Offer ``offered_fps`` frames/s of ``frame_size`` B for ``duration_s`` seconds.

        Args:
            frame_size: bytes per frame, FCS included (64..1518).
            offered_fps: frames per second to offer.
            duration_s: the trial's length.

        Raises:
            TrafficError: the sender or the receiver failed or fell silent.
        """

    def describe(self) -> str:
        """The tool, its version and how it paces, for the record."""
