"""Hosts A, B and B2 of Fig. 1: three namespaces on the switch, B and B2 echoing.

Apart from the switch because they are one use of its ports, not part of the bridge: the
switch plugs in whatever a backend asks for (instances, a proxy, a VM's tap), while these
hosts are the testbed's, deployed once per run and routed through the proxy, or straight
to each other while the proxy is being replaced. A backend reaches them through its
``Switch`` (``deploy_hosts``, ``route_hosts_via``), which holds one ``TestbedHosts``.
"""

from __future__ import annotations

import ipaddress
import subprocess
from collections.abc import Sequence
from typing import Protocol

from pytest_nfv.backends.shared.addressing import mac_for
from pytest_nfv.backends.shared.responder import Responder, responder
from pytest_nfv.backends.shared.topology import (
    ECHO_PORT,
    ETH0_INDEX,
    HOST_A,
    HOST_B,
    HOST_B2,
    MAC_PREFIX,
    PROXY,
    SCOPE_LINK,
    Route,
    refusals_as,
)
from pytest_nfv.errors import BackendError
from pytest_nfv.host.identity import RunIdentity
from pytest_nfv.host.namespaces import entered, namespace_path
from pytest_nfv.host.processes import expect_line
from pytest_nfv.model import Endpoint, InstanceSpec, Testbed

__all__ = ["HostPorts", "TestbedHosts"]


class _Started(Protocol):
    @property
    def processes(self) -> Sequence[subprocess.Popen[bytes]]: ...


class HostPorts(Protocol):
    """What the hosts need of the switch they stand on (``shared.switch.Switch`` is one):
    a protocol, so that the switch holds its hosts without the two importing each other."""

    identity: RunIdentity
    owner: str

    def add_namespace(
        self,
        spec: InstanceSpec,
        argv: Sequence[str] | None = ...,
        routes: Sequence[Route] = ...,
        sysctls: Sequence[tuple[str, str]] = ...,
        neighbours: Sequence[tuple[ipaddress.IPv4Address, str]] = ...,
    ) -> _Started: ...


class TestbedHosts:
    """Hosts A, B and B2 on ``switch``, and the testbed they make with its proxy.

    Args:
        switch: the switch whose ports the hosts are.
    """

    def __init__(self, switch: HostPorts) -> None:
        self._switch = switch
        self._responder: Responder | None = None
        self.testbed: Testbed | None = None
        """The deployed testbed; None before ``deploy`` and after the switch closed."""

    @property
    def responder(self) -> Responder:
        """Hosts B and B2's UDP responder (chosen, and if need be built, on first use)."""
        if self._responder is None:
            self._responder = responder()
        return self._responder

    def deploy(
        self,
        *,
        proxy_netns: str | None = None,
        hosts_know_proxy: bool = False,
        proxy_relays: bool = False,
    ) -> Testbed:
        """Hosts A, B and B2 (B and B2 with echo responders), routed through the proxy.

        The proxy itself is the backend's to start, at ``PROXY`` with the testbed's MAC for
        it. Deployed once; later calls return the same testbed.

        Args:
            proxy_netns: where the proxy's namespace is (default: its own, named after it).
            hosts_know_proxy: give the hosts a static ARP entry for the proxy, whose VNF may
                not answer ARP itself.
            proxy_relays: the proxy is a relay at the socket layer (``Testbed.proxy_relays``).
        """
        if self.testbed is not None:
            return self.testbed
        no_redirects = (
            ("net.ipv4.conf.all.accept_redirects", "0"),
            ("net.ipv4.conf.default.accept_redirects", "0"),
        )
        echo = self.responder.argv(ECHO_PORT)
        proxy_mac = mac_for(PROXY, MAC_PREFIX)
        neighbours = ((PROXY, proxy_mac),) if hosts_know_proxy else ()
        endpoints = {}
        for role, address, routes in (
            ("hosta", HOST_A, ((HOST_B, PROXY), (HOST_B2, PROXY))),
            ("hostb", HOST_B, ((HOST_A, PROXY),)),
            ("hostb2", HOST_B2, ((HOST_A, PROXY),)),
        ):
            spec = InstanceSpec(
                self._switch.identity.name(role), address, mac_for(address, MAC_PREFIX), "host"
            )
            port = self._switch.add_namespace(
                spec, None if role == "hosta" else echo, routes, no_redirects, neighbours
            )
            for proc in port.processes:
                expect_line(proc, "ready", f"echo responder in {spec.name}")
            endpoints[role] = Endpoint(spec.name, address, spec.mac, namespace_path(spec.name))
        proxy_name = self._switch.identity.name("proxy")
        self.testbed = Testbed(
            endpoints["hosta"],
            endpoints["hostb"],
            endpoints["hostb2"],
            Endpoint(
                proxy_name,
                PROXY,
                proxy_mac,
                namespace_path(proxy_name) if proxy_netns is None else proxy_netns,
            ),
            ECHO_PORT,
            proxy_relays,
        )
        return self.testbed

    def route_via(self, gateway: ipaddress.IPv4Address | None) -> None:
        """Route A to B and B2, and them back to A, through ``gateway`` (None: directly).

        Raises:
            BackendError: the hosts are not deployed, or the kernel refused.
        """
        from pyroute2 import IPRoute

        testbed = self.testbed
        if testbed is None:
            raise BackendError(f"the {self._switch.owner} testbed hosts are not deployed")
        a, b, b2 = testbed.host_a, testbed.host_b, testbed.host_b2
        with refusals_as(f"cannot route the {self._switch.owner} testbed hosts"):
            for host, destinations in ((a, (b, b2)), (b, (a,)), (b2, (a,))):
                with entered(host.netns_path):
                    ipr = IPRoute()
                try:
                    for destination in destinations:
                        dst = f"{destination.address}/32"
                        if gateway is None:
                            ipr.route("replace", dst=dst, oif=ETH0_INDEX, scope=SCOPE_LINK)
                        else:
                            ipr.route("replace", dst=dst, gateway=str(gateway), oif=ETH0_INDEX)
                finally:
                    ipr.close()
