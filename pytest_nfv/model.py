"""The nouns every backend and probe shares, as frozen dataclasses.

Backends differ in how they start things; they agree on what they hand back: an address the
probes can reach, the network namespace from which it is reachable, and the processes that
make up the instance (for memory attribution). The management requirements are here too:
the harness files budgets under them and the analysis of saved runs reads them back, and
neither may import the other.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import Literal

__all__ = [
    "ECHO_CHOICES",
    "MAX_UDP_PAYLOAD",
    "MIN_PAYLOAD",
    "REQUIREMENTS",
    "EchoProtocol",
    "Endpoint",
    "Instance",
    "InstanceSpec",
    "PathMode",
    "Testbed",
]

MAX_UDP_PAYLOAD = 65507
"""The largest UDP payload in one IPv4 datagram (65535 - 20 - 8): the paper's "64 KB"."""
MIN_PAYLOAD = 8
"""Room for the sequence number a response-time request carries."""

REQUIREMENTS: tuple[str, ...] = ("instantiation", "deployment", "monitoring", "coexistence")
"""The four NFV management requirements of the paper, in its order: every benchmark gates one,
budgets are filed under them and the scorecard reads one table for each."""

PathMode = Literal["proxy", "direct"]

EchoProtocol = Literal["udp", "icmp"]
"""What host A's timed requests are: UDP datagrams to host B's echo responder, or ICMP echo
requests that host B's kernel answers itself."""
ECHO_CHOICES: tuple[str, ...] = ("auto", "udp", "icmp")
"""The user's choice of ``EchoProtocol``; ``auto``: ICMP where the proxy VNF carries it."""


@dataclass(frozen=True)
class InstanceSpec:
    """What to start: one VNF instance, its address on the testbed switch and its role.

    ``role`` is ``vnf`` for the N measured instances, ``proxy`` for the proxy VNF, ``host``
    for testbed hosts A and B.
    """

    name: str
    address: ipaddress.IPv4Address
    mac: str
    role: Literal["vnf", "proxy", "host"] = "vnf"


@dataclass(frozen=True)
class Instance:
    """A started instance.

    Args:
        spec: what was asked for.
        start_ns: ``time.time_ns()`` taken just before the start request went to the engine;
            boot time counts from here (CLOCK_REALTIME, comparable with kernel timestamps).
        netns_path: the network namespace the instance's interface lives in.
        pids: host processes that make up the instance (memory is attributed to these).
    """

    spec: InstanceSpec
    start_ns: int
    netns_path: str
    pids: tuple[int, ...] = field(default=())

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def address(self) -> ipaddress.IPv4Address:
        return self.spec.address


@dataclass(frozen=True)
class Endpoint:
    """A testbed host: where a socket must be opened to speak from it, and how to reach it."""

    name: str
    address: ipaddress.IPv4Address
    mac: str
    netns_path: str


@dataclass(frozen=True)
class Testbed:
    """Fig. 1 of the paper: host A -- proxy VNF -- host B, plus B2 for reconfiguration.

    Host A sends to ``proxy.address``; the proxy rewrites the destination to ``host_b`` (and
    B's replies back to A). ``host_b2`` is a second responder the deployment suite switches the
    proxy to, so a reconfiguration is observable on the wire. ``echo_port`` is the UDP port
    hosts B and B2 answer on.

    ``proxy_relays``: the proxy applies Algorithm 1 at the socket layer (a UDP relay, where
    the guest has no raw frames): B's replies reach A from the proxy's address, not from B's.
    The relay passes on only what the B it is set to sent, so a reply is still B's answer.
    """

    host_a: Endpoint
    host_b: Endpoint
    host_b2: Endpoint
    proxy: Endpoint
    echo_port: int
    proxy_relays: bool = False

    def replier(self, responder: Endpoint, through_proxy: bool) -> Endpoint:
        """Whose address A sees on ``responder``'s replies, through the proxy or not."""
        return self.proxy if through_proxy and self.proxy_relays else responder
