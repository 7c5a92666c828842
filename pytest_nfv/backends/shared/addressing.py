"""Instance addresses and the MACs derived from them, for every backend that plans its own.

The switch (netns, osv, clickos) and the coreos network hand out addresses the same way: VNF
instance ``k`` gets the ``256 + k``-th address of the network, the lowest free one first, so
that a stopped instance's address (and the static neighbour entry that goes with it) comes
back to the next one. Each derives an instance's MAC from its address under its own
locally administered prefix, so that nobody has to ask ARP and the two never collide.
"""

from __future__ import annotations

import bisect
import ipaddress

from pytest_nfv.errors import BackendError
from pytest_nfv.host.identity import RunIdentity
from pytest_nfv.model import InstanceSpec

__all__ = ["FIRST_INSTANCE_OFFSET", "AddressPool", "mac_for"]

FIRST_INSTANCE_OFFSET = 256
"""Instances start at ``x.y.1.0``: the first 256 addresses are the fabric's (gateway,
prober, proxy, testbed hosts)."""


def mac_for(address: ipaddress.IPv4Address, prefix: str) -> str:
    """A locally administered MAC: ``prefix`` (three octets) and the address's last three.

    Args:
        address: the instance's address.
        prefix: ``"02:4e:46"`` for the switch's instances, ``"02:4e:44"`` for coreos'.
    """
    b = address.packed
    return f"{prefix}:{b[1]:02x}:{b[2]:02x}:{b[3]:02x}"


class AddressPool:
    """Instance addresses of one network, reserved by ``plan`` until ``release``.

    Args:
        network: where the addresses come from.
        mac_prefix: the three octets every instance MAC starts with (see ``mac_for``).
    """

    def __init__(self, network: ipaddress.IPv4Network, mac_prefix: str) -> None:
        self.network = network
        self.mac_prefix = mac_prefix
        self._free: list[int] = []
        self._next = FIRST_INSTANCE_OFFSET

    def plan(self, count: int, identity: RunIdentity) -> list[InstanceSpec]:
        """Names, addresses and MACs for ``count`` new instances of ``identity``'s run.

        Raises:
            BackendError: the network has no address left.
        """
        specs = []
        for _ in range(count):
            if self._free:
                offset = self._free.pop(0)
            else:
                offset, self._next = self._next, self._next + 1
            if offset >= self.network.num_addresses - 1:  # the broadcast address, or beyond
                raise BackendError(f"the address plan {self.network} is full")
            address = self.network[offset]
            role = f"i{offset - FIRST_INSTANCE_OFFSET}"
            specs.append(
                InstanceSpec(identity.name(role), address, mac_for(address, self.mac_prefix))
            )
        return specs

    def release(self, address: ipaddress.IPv4Address) -> None:
        """Give an instance's address back; the lowest free one is planned next."""
        offset = int(address) - int(self.network.network_address)
        if FIRST_INSTANCE_OFFSET <= offset < self._next and offset not in self._free:
            bisect.insort(self._free, offset)
