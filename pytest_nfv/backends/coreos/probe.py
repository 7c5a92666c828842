"""The probe container: where the ICMP prober stands, and the neighbour table it reads.

The probe container knows every instance's MAC before it exists (the MAC is derived from
the address and given to Docker at create), so early probes neither wait on ARP's one-second
retry nor depend on when the engine's bridge learns the port. Its namespace is pinned
(``Containers.pin_netns``) so that the path the prober enters stays the probe's.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from typing import Any

from pytest_nfv.backends.coreos.containers import HOLD, QUIET, Containers, Held, pinned_path
from pytest_nfv.backends.coreos.testbed import eth0_of
from pytest_nfv.errors import BackendError
from pytest_nfv.host.namespaces import entered
from pytest_nfv.model import InstanceSpec

__all__ = ["NUD_PERMANENT", "Probe"]

NUD_PERMANENT = 0x80


class Probe:
    """The run's probe container, started by ``start`` and let go by ``close``."""

    def __init__(self) -> None:
        self.held: Held | None = None
        self._ipr: Any = None
        self._eth0 = 0
        self._known: set[ipaddress.IPv4Address] = set()

    def start(self, containers: Containers, address: ipaddress.IPv4Address) -> Held:
        """Run the probe container (the caller checks it is local), before ``pin``."""
        self.held = containers.run(
            containers.identity.name("probe"), "probe", address, HOLD, sysctls=QUIET
        )
        return self.held

    def pin(self, containers: Containers) -> None:
        """Pin its namespace and open a netlink socket inside it."""
        assert self.held is not None
        containers.pin_netns(self.held)
        with entered(self.netns):
            from pyroute2 import IPRoute

            self._ipr = IPRoute()
        self._eth0 = eth0_of(self._ipr)

    @property
    def netns(self) -> str:
        if self.held is None:
            raise BackendError("coreos backend is not open")
        return pinned_path(self.held)

    def learn_neighbours(self, specs: Sequence[InstanceSpec]) -> None:
        """Tell the probe's namespace every planned MAC, so no probe waits on ARP."""
        ipr = self._ipr
        if ipr is None:
            raise BackendError("coreos backend is not open")
        for spec in specs:
            if spec.address in self._known:
                continue
            try:
                ipr.neigh(
                    "replace",
                    dst=str(spec.address),
                    lladdr=spec.mac,
                    ifindex=self._eth0,
                    state=NUD_PERMANENT,
                )
            except Exception as exc:
                raise BackendError(
                    f"cannot add a neighbour entry for {spec.address}: {exc}"
                ) from exc
            self._known.add(spec.address)

    def close(self) -> None:
        """Close the netlink socket; the container goes with the run's others."""
        if self._ipr is not None:
            self._ipr.close()
            self._ipr = None
        self.held = None
