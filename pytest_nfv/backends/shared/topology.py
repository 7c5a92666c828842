"""The switch's topology as numbers: the address plan, the interface indexes and the kernel's
constants that the switch and the testbed hosts on it both build with.

Apart from ``switch`` so that the hosts A, B and B2 (``shared.hosts``) and the backends that
address the switch's ports read the plan without importing the component that builds it;
the drawing of the topology is in ``shared.switch``'s docstring.
"""

from __future__ import annotations

import contextlib
import ipaddress
from collections.abc import Iterator

from pytest_nfv.errors import BackendError

__all__ = [
    "BRIDGE",
    "BRIDGE_MAC",
    "ECHO_PORT",
    "ETH0_INDEX",
    "FIRST_PORT_INDEX",
    "GATEWAY",
    "HOST_A",
    "HOST_B",
    "HOST_B2",
    "LO_INDEX",
    "MAC_PREFIX",
    "NTF_MASTER",
    "NUD_NOARP",
    "NUD_PERMANENT",
    "PROXY",
    "QUIET_SYSCTLS",
    "SCOPE_LINK",
    "STREAM_PORT",
    "SUBNET",
    "Route",
    "refusals_as",
]

SUBNET = ipaddress.IPv4Network("10.213.0.0/16")
GATEWAY = SUBNET[1]
PROXY, HOST_A, HOST_B, HOST_B2 = SUBNET[2], SUBNET[3], SUBNET[4], SUBNET[5]
MAC_PREFIX = "02:4e:46"
BRIDGE_MAC = "02:4e:46:00:00:01"
"""The bridge's MAC where a backend fixes it (``Switch(bridge_mac=...)``): an instance or guest
told it in advance answers the prober without an ARP broadcast, which the bridge would deliver
to every port (N instances asking: N² deliveries, all on the CPU of whoever sent the probe)."""
ECHO_PORT = 7
STREAM_PORT = 9
"""UDP port of a throughput stream at host B (discard), where B's receiver counts it: apart
from ``ECHO_PORT``, so a stream is never echoed back through the path it loads. A proxy that
relays at the socket layer (the osv relay) passes this port on to B as well."""
BRIDGE = "br0"
NUD_PERMANENT = 0x80
NUD_NOARP = 0x40  # a "static" bridge FDB entry; "permanent" would mean the bridge's own MAC
NTF_MASTER = 0x04
SCOPE_LINK = 253
# Interface indexes are chosen, not looked up: each lookup is a netlink round trip, and in a
# fresh namespace lo is always 1.
LO_INDEX = 1
ETH0_INDEX = 2
FIRST_PORT_INDEX = 1000  # put the entry in the bridge's table, not the port's own
QUIET_SYSCTLS = (
    ("net.ipv6.conf.all.disable_ipv6", "1"),
    ("net.ipv6.conf.default.disable_ipv6", "1"),
)

Route = tuple[ipaddress.IPv4Address, ipaddress.IPv4Address]
"""A host route inside a namespace: (destination, gateway)."""


@contextlib.contextmanager
def refusals_as(what: str) -> Iterator[None]:
    """The kernel's refusals (pyroute2's netlink errors, OSError) as a ``BackendError``."""
    try:
        yield
    except BackendError:
        raise
    except Exception as exc:
        raise BackendError(f"{what}: {exc}") from exc
