"""The coreos testbed: hosts A, B and B2 and the proxy VNF as containers on the run's network.

Kept apart from the instances' lifecycle: the testbed is built once per session, routes
through the proxy container (Fig. 1's wiring) and reconfigures it with ``/proxy/apply``,
while the instances come and go round by round. Hosts B and B2 answer with the echo
responder (``backends.shared.responder``) placed in their network namespaces.
"""

from __future__ import annotations

import contextlib
import ipaddress
import subprocess
import time
from collections.abc import Callable, Sequence
from typing import Any

from pytest_nfv.backends.base import StartCallback
from pytest_nfv.backends.coreos.containers import (
    HOLD,
    MAC_PREFIX,
    QUIET,
    Containers,
    Held,
    pinned_path,
)
from pytest_nfv.backends.shared.addressing import mac_for
from pytest_nfv.backends.shared.responder import Responder, launch_helper, responder
from pytest_nfv.errors import BackendError
from pytest_nfv.host.namespaces import entered
from pytest_nfv.host.processes import expect_line, stop_processes
from pytest_nfv.model import Endpoint, Instance, InstanceSpec, PathMode, Testbed

__all__ = ["ECHO_PORT", "DockerTestbed", "eth0_of"]

ECHO_PORT = 7
_HOST_SYSCTLS = {
    **QUIET,
    "net.ipv4.conf.all.accept_redirects": "0",
    "net.ipv4.conf.default.accept_redirects": "0",
    "net.ipv4.conf.eth0.accept_redirects": "0",
}
_PROXY_SYSCTLS = {
    **QUIET,
    "net.ipv4.ip_forward": "1",
    "net.ipv4.conf.all.send_redirects": "0",
    "net.ipv4.conf.default.send_redirects": "0",
    "net.ipv4.conf.eth0.send_redirects": "0",
}


class DockerTestbed:
    """Hosts A, B, B2 and the proxy container of one run.

    Args:
        containers: the run's containers, where the hosts and the proxy are made.
        address: the network's address at an offset (``.3`` is the proxy's, ``.4``-``.6``
            the hosts').
    """

    def __init__(
        self, containers: Containers, address: Callable[[int], ipaddress.IPv4Address]
    ) -> None:
        self._containers = containers
        self._addr = address
        self._testbed: Testbed | None = None
        self._echoes: list[subprocess.Popen[bytes]] = []
        self._responder: Responder | None = None
        self.proxy: Held | None = None
        """The proxy VNF's container while it runs."""

    def close(self) -> None:
        """Stop the echo responders; the containers go with the run's others."""
        with contextlib.suppress(BackendError):
            stop_processes(self._echoes)
        self._echoes.clear()
        self.proxy = None
        self._testbed = None

    def deploy(self) -> Testbed:
        if self._testbed is not None:
            return self._testbed
        identity = self._containers.identity
        proxy = self._addr(3)
        endpoints = {}
        for role, offset in (("hosta", 4), ("hostb", 5), ("hostb2", 6)):
            address = self._addr(offset)
            held = self._containers.run(
                identity.name(role), "host", address, HOLD, sysctls=_HOST_SYSCTLS
            )
            self._containers.pin_netns(held)
            netns = pinned_path(held)
            routes = (self._addr(5), self._addr(6)) if role == "hosta" else (self._addr(4),)
            _route_via(netns, routes, proxy)
            if role != "hosta":
                self._start_echo(held, netns)
            endpoints[role] = Endpoint(held.name, address, mac_for(address, MAC_PREFIX), netns)
        # The proxy's namespace exists only while its container runs: each start_proxy's
        # Instance carries it; the testbed's endpoint gives where to send, not where to stand.
        name = identity.name("proxy")
        self._testbed = Testbed(
            endpoints["hosta"],
            endpoints["hostb"],
            endpoints["hostb2"],
            Endpoint(name, proxy, mac_for(proxy, MAC_PREFIX), ""),
            ECHO_PORT,
        )
        return self._testbed

    def _start_echo(self, held: Held, netns: str) -> None:
        if self._responder is None:
            self._responder = responder()
        proc = launch_helper(
            self._responder.argv(ECHO_PORT),
            netns,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            close_fds=True,
        )
        self._echoes.append(proc)
        expect_line(proc, "ready", f"echo responder in {held.name}")

    def start_proxy(self, testbed: Testbed, on_start: StartCallback) -> Instance:
        if self.proxy is not None:
            raise BackendError("the proxy VNF is already running")
        spec = InstanceSpec(testbed.proxy.name, testbed.proxy.address, testbed.proxy.mac, "proxy")
        environment = {
            "PROXY_A": str(testbed.host_a.address),
            "PROXY_B": str(testbed.host_b.address),
            "PROXY_SELF": str(testbed.proxy.address),
        }
        on_start(spec)
        start_ns = time.time_ns()
        held = self._containers.run(
            spec.name,
            "proxy",
            spec.address,
            ("/proxy/start",),
            sysctls=_PROXY_SYSCTLS,
            environment=environment,
            cap_add=("NET_ADMIN",),
        )
        self.proxy = held
        return Instance(spec, start_ns, f"/proc/{held.pid}/ns/net", (held.pid,))

    def stop_proxy(self) -> None:
        held, self.proxy = self.proxy, None
        if held is not None:
            self._containers.remove_all([held])

    def set_path(self, mode: PathMode) -> None:
        """Nothing to switch: the direct path is host A addressing B itself.

        Host A routes B (and B2) through the proxy container either way, and the proxy's
        rules stay installed; they translate only what is addressed to the proxy, and let
        what A addresses to B itself pass untracked, so a plain request crosses the same hop
        and the same kernel forwarding without the VNF's rewrite (or the connection tracking
        the rewrite needs). Switching costs no engine request, so the proxied and the plain
        sample of a pair are taken under the same conditions.
        """
        if self.proxy is None:
            raise BackendError("the proxy VNF is not running")

    def reconfigure_proxy(self, testbed: Testbed, host_b_is_b2: bool) -> None:
        target = testbed.host_b2 if host_b_is_b2 else testbed.host_b
        self._apply(str(testbed.host_a.address), str(target.address), str(testbed.proxy.address))

    def _apply(self, *arguments: str) -> None:
        """Run ``/proxy/apply`` inside the proxy container; returns once it said ``ok``."""
        held = self.proxy
        if held is None:
            raise BackendError("the proxy VNF is not running")
        api = self._containers.api
        try:
            exec_id = api.exec_create(held.container_id, ["/proxy/apply", *arguments])
            output = api.exec_start(exec_id).decode(errors="replace").strip()
            code = api.exec_inspect(exec_id).get("ExitCode")
        except Exception as exc:
            raise BackendError(f"cannot reconfigure the proxy VNF: {exc}") from exc
        if code != 0 or output.splitlines()[-1:] != ["ok"]:
            raise BackendError(f"/proxy/apply {' '.join(arguments)} failed ({code}): {output}")


def eth0_of(ipr: Any) -> int:
    """The index of a container's eth0, through an ``IPRoute`` opened in its namespace."""
    found = ipr.link_lookup(ifname="eth0")
    if not found:
        raise BackendError("the container has no eth0")
    return int(found[0])


def _route_via(
    netns: str, destinations: Sequence[ipaddress.IPv4Address], gateway: ipaddress.IPv4Address
) -> None:
    """Host routes through the proxy inside one of our containers (Fig. 1's wiring)."""
    from pyroute2 import IPRoute

    with entered(netns):
        ipr = IPRoute()
    try:
        index = eth0_of(ipr)
        for destination in destinations:
            ipr.route("add", dst=f"{destination}/32", gateway=str(gateway), oif=index)
    except BackendError:
        raise
    except Exception as exc:
        raise BackendError(f"cannot route via the proxy in {netns}: {exc}") from exc
    finally:
        ipr.close()
