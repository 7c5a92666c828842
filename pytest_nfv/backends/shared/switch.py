"""The switch: one namespace with a bridge that the netns, osv and clickos backends plug into.

Topology, all of it inside namespaces the switch creates (the host's root namespace is never
touched, which matters on hosts where dockerd sets the root FORWARD policy to DROP)::

    switch ns  "<run>-sw":  bridge br0 10.213.0.1/16  <- the ICMP prober sits here
        |-- v<k>  == eth0 of a namespace (netns instance k, the netns proxy)
        |-- tap   moved in from the root namespace (an osv VM's NIC)
        |-- uplink to a dom0 bridge (clickos' domains)
        |-- host A    "<run>-hosta"        10.213.0.3   requests from here
        |-- host B    "<run>-hostb"        10.213.0.4   UDP echo
        `-- host B2   "<run>-hostb2"       10.213.0.5   UDP echo (reconfiguration target)

Instances get 10.213.1.0 + k; the proxy VNF, whatever runs it, is 10.213.0.2.

Every port has unicast flooding off and a static FDB entry, and the switch namespace knows
every instance's MAC in advance: the prober can fire an echo request at an instance that
does not exist yet without that request being flooded to 127 other ports or waiting on ARP's
one-second retry.

Namespaces are created in-process (``namespaces.inside_new``), not by forking ``ip``: a fork
and exec per instance would cost more than the rest of its creation.

The switch is a component, not a backend: each backend that uses it holds one, registers
its run, and says what runs on the switch's ports. The address plan and the kernel's constants
are ``shared.topology``; hosts A, B and B2 are ``shared.hosts``, reached through the switch.
What stays here is longer than most modules and one class on purpose: the bridge, its ports,
their FDB entries and the neighbour table are one state behind one netlink socket in the
switch namespace, one port counter and one lock, and every method here changes that state.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import subprocess
import sys
import threading
from collections.abc import Container, Sequence
from dataclasses import dataclass, field
from typing import Any

from pytest_nfv.backends.base import CleanupReport
from pytest_nfv.backends.shared.addressing import AddressPool
from pytest_nfv.backends.shared.hosts import TestbedHosts
from pytest_nfv.backends.shared.responder import Responder, launch_helper
from pytest_nfv.backends.shared.topology import (
    BRIDGE,
    BRIDGE_MAC,
    ECHO_PORT,
    ETH0_INDEX,
    FIRST_PORT_INDEX,
    GATEWAY,
    HOST_A,
    HOST_B,
    LO_INDEX,
    MAC_PREFIX,
    NTF_MASTER,
    NUD_NOARP,
    NUD_PERMANENT,
    PROXY,
    QUIET_SYSCTLS,
    SUBNET,
    Route,
    refusals_as,
)
from pytest_nfv.errors import BackendError, BackendUnavailable
from pytest_nfv.host.capabilities import has_netns_capabilities
from pytest_nfv.host.identity import PREFIX, RunIdentity
from pytest_nfv.host.namespaces import (
    entered,
    inside_new,
    kill_members,
    list_namespaces,
    namespace_inodes,
    namespace_path,
    pids_by_namespace,
    remove_namespace,
    set_sysctl_here,
)
from pytest_nfv.host.processes import stop_processes
from pytest_nfv.host.reap import ReapRule
from pytest_nfv.model import InstanceSpec, Testbed

__all__ = [
    "BRIDGE",
    "BRIDGE_MAC",
    "ECHO_PORT",
    "GATEWAY",
    "HOST_A",
    "HOST_B",
    "MAC_PREFIX",
    "NUD_PERMANENT",
    "PROXY",
    "SUBNET",
    "Port",
    "Route",
    "Switch",
    "reap_namespaces",
]


@dataclass
class Port:
    """A namespace on the switch (by a veth) and the processes started in it."""

    name: str
    index: int
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)


class Switch:
    """The bridge namespace, its address plan, and hosts A, B and B2.

    Args:
        identity: the run every namespace is named after.
        owner: the backend using the switch, as error messages name it.
        bridge_mac: a fixed MAC for the bridge (a VM guest is told it in advance).
    """

    def __init__(self, identity: RunIdentity, owner: str, bridge_mac: str | None = None) -> None:
        self.identity = identity
        self.owner = owner
        self._bridge_mac = bridge_mac
        self._namespace: str | None = None
        self._sw: Any = None  # pyroute2 IPRoute inside the switch namespace
        self._bridge_index = 0
        self._addresses = AddressPool(SUBNET, MAC_PREFIX)
        self._ports: dict[str, Port] = {}
        self._port_counter = 0
        self._port_group = 0
        self._taps = threading.Lock()  # plug_tap runs in worker threads
        self._hosts = TestbedHosts(self)

    # ---- lifecycle ----------------------------------------------------------------------

    def open(self) -> None:
        """Create the switch namespace and its bridge, with the prober's address.

        Raises:
            BackendUnavailable: the host cannot create network namespaces.
            BackendError: the namespace exists but the bridge could not be built.
        """
        self._check_host()
        name = self.identity.name("sw")
        try:
            with inside_new(name) as sw:
                self._namespace, self._sw = name, sw
                self._build_bridge(sw)
        except Exception as exc:
            created = self._namespace is not None
            with contextlib.suppress(BackendError):
                self.close()
            if not created:
                raise BackendUnavailable(
                    f"{self.owner} backend: this host refuses to create a network namespace "
                    f"({exc}); a container without CAP_SYS_ADMIN or a read-only /run are the "
                    "usual causes"
                ) from exc
            if isinstance(exc, BackendError):
                raise
            raise BackendError(f"cannot build the {self.owner} switch: {exc}") from exc

    def _build_bridge(self, sw: Any) -> None:
        for key, value in QUIET_SYSCTLS:
            set_sysctl_here(key, value)
        sw.link("add", ifname=BRIDGE, kind="bridge", br_stp_state=0, br_forward_delay=0)
        self._bridge_index = sw.link_lookup(ifname=BRIDGE)[0]
        sw.addr("add", index=self._bridge_index, address=str(GATEWAY), prefixlen=SUBNET.prefixlen)
        if self._bridge_mac is not None:
            sw.link("set", index=self._bridge_index, address=self._bridge_mac)
        sw.link("set", index=self._bridge_index, state="up")
        sw.link("set", index=LO_INDEX, state="up")

    def _check_host(self) -> None:
        if not sys.platform.startswith("linux"):
            raise BackendUnavailable(
                f"{self.owner} backend needs Linux network namespaces; this is {sys.platform}"
            )
        if not has_netns_capabilities():
            raise BackendUnavailable(
                f"{self.owner} backend needs CAP_SYS_ADMIN and CAP_NET_ADMIN (run as root): "
                f"effective uid is {os.geteuid()} and /proc/self/status CapEff lacks them"
            )
        if not os.path.exists("/proc/self/ns/net"):
            raise BackendUnavailable(
                f"{self.owner} backend: /proc/self/ns/net is missing (no CONFIG_NET_NS)"
            )

    def close(self) -> None:
        """Remove every namespace on the switch, then the switch; each step runs.

        Ends with a sweep of the run's namespaces that the switch lost track of.

        Raises:
            BackendError: something refused to go; the message lists what.
        """
        errors: list[str] = []
        try:
            self.remove(list(self._ports.values()))
        except BackendError as exc:
            errors.append(str(exc))
        self._ports.clear()
        if self._sw is not None:
            self._sw.close()
            self._sw = None
        if self._namespace is not None:
            with contextlib.suppress(BackendError):
                kill_members(namespace_inodes([self._namespace]))
            remove_namespace(self._namespace)
            self._namespace = None
        self._hosts.testbed = None
        errors += reap_namespaces(ReapRule.own_run(self.identity.run_id)).errors
        if errors:
            raise BackendError("; ".join(errors))

    @property
    def namespace(self) -> str:
        """The switch namespace's name (what ``ip netns`` lists)."""
        if self._namespace is None:
            raise BackendError(f"the {self.owner} switch is not open")
        return self._namespace

    @property
    def probe_netns(self) -> str:
        """The switch namespace's path: the prober and whatever speaks to a guest stand here."""
        return namespace_path(self.namespace)

    def _require_sw(self) -> Any:
        if self._sw is None:
            raise BackendError(f"the {self.owner} switch is not open")
        return self._sw

    # ---- addresses ----------------------------------------------------------------------

    def plan(self, count: int) -> list[InstanceSpec]:
        """Names, addresses and MACs of ``count`` new instances (reserved until released)."""
        return self._addresses.plan(count, self.identity)

    def release(self, address: ipaddress.IPv4Address) -> None:
        """Give a stopped instance's address back to the plan."""
        self._addresses.release(address)

    def release_planned(self, specs: Sequence[InstanceSpec], running: Container[str]) -> None:
        """Give back the addresses of ``specs`` that never started (``Backend.release``);
        those ``running`` names are kept until their instance stops."""
        for spec in specs:
            if spec.name not in running:
                self._addresses.release(spec.address)

    # ---- ports --------------------------------------------------------------------------

    def add_namespace(
        self,
        spec: InstanceSpec,
        argv: Sequence[str] | None = None,
        routes: Sequence[Route] = (),
        sysctls: Sequence[tuple[str, str]] = (),
        neighbours: Sequence[tuple[ipaddress.IPv4Address, str]] = (),
    ) -> Port:
        """A new namespace ``spec.name`` on the switch, with ``argv`` running inside.

        Namespace, process, veth to the switch, address, routes; eth0 up comes last, so the
        namespace answers once all of it is there.

        Args:
            spec: the namespace's name, address and MAC.
            argv: the process to start inside (stdin and stdout are pipes), or None.
            routes: host routes to add.
            sysctls: ``net.*`` values to set, beyond IPv6 off.
            neighbours: static ARP entries (address, MAC) on eth0.

        Raises:
            BackendError: the kernel refused; what was made of the namespace is gone again
                (a name that existed before is left alone: it is not ours).
        """
        sw = self._require_sw()
        self._port_counter += 1
        port = Port(spec.name, FIRST_PORT_INDEX + self._port_counter)
        refused = f"cannot start {self.owner} namespace {spec.name}"
        with refusals_as(refused), inside_new(spec.name) as ipr:
            self._ports[spec.name] = port  # created: from here on it is ours to remove
            try:
                for key, value in (*QUIET_SYSCTLS, *sysctls):
                    set_sysctl_here(key, value)
                if argv:
                    port.processes.append(
                        launch_helper(
                            argv,
                            on_path=spec.role != "vnf",
                            stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL,
                            close_fds=True,
                            bufsize=0,
                        )
                    )
                # The port is born enslaved and up; it carries nothing until eth0 is up.
                sw.link(
                    "add",
                    ifname=f"v{self._port_counter}",
                    index=port.index,
                    kind="veth",
                    master=self._bridge_index,
                    state="up",
                    peer={
                        "ifname": "eth0",
                        "index": ETH0_INDEX,
                        "net_ns_fd": spec.name,
                        "address": spec.mac,
                    },
                )
                self._learn_port(sw, port.index, spec)
                ipr.link("set", index=LO_INDEX, state="up")
                ipr.addr(
                    "add",
                    index=ETH0_INDEX,
                    address=str(spec.address),
                    prefixlen=SUBNET.prefixlen,
                )
                for address, mac in neighbours:
                    _static_neighbour(ipr, address, mac, ETH0_INDEX)
                ipr.link("set", index=ETH0_INDEX, state="up")
                for destination, gateway in routes:
                    ipr.route("add", dst=f"{destination}/32", gateway=str(gateway), oif=ETH0_INDEX)
            except BaseException:
                self._discard(port)
                raise
            finally:
                ipr.close()
        return port

    def _discard(self, port: Port) -> None:
        """Undo a port whose start failed part-way: its processes, veth (if made) and name."""
        self._ports.pop(port.name, None)
        with contextlib.suppress(BackendError):
            stop_processes(port.processes)
        with contextlib.suppress(Exception):
            self._require_sw().link("del", index=port.index)
        with contextlib.suppress(BackendError):
            kill_members(namespace_inodes([port.name]))
            remove_namespace(port.name)

    def plug_tap(self, tap: str, spec: InstanceSpec, *, learn: bool = True) -> None:
        """Move ``tap`` from the root namespace onto the bridge, with static FDB and ARP.

        ``learn=False`` leaves the instance's MAC where it is (on the port of the instance
        being migrated to this tap); ``learn_tap`` moves it once the instance has moved.

        Safe from worker threads: pyroute2 sockets answer for the namespace of the thread
        that made them, so this opens its own pair (root, switch) under one lock.

        Raises:
            BackendError: the tap does not exist or the kernel refused.
        """
        from pyroute2 import IPRoute

        switch = self.namespace
        refused = f"cannot put tap {tap} of {spec.name} on the switch"
        with refusals_as(refused), self._taps, IPRoute() as root:
            found = root.link_lookup(ifname=tap)
            if not found:
                raise BackendError(f"no tap {tap} for {spec.name} in the root namespace")
            root.link("set", index=found[0], net_ns_fd=switch)
            with entered(namespace_path(switch)):
                sw = IPRoute()
            try:
                index = sw.link_lookup(ifname=tap)[0]
                sw.link("set", index=index, master=self._bridge_index, state="up")
                if learn:
                    self._learn_port(sw, index, spec)
                else:
                    sw.brport("set", index=index, unicast_flood=0)
            finally:
                sw.close()

    def learn_tap(self, tap: str, spec: InstanceSpec) -> None:
        """Send ``spec``'s MAC (and its ARP entry) to ``tap``, a port on the bridge already.

        Raises:
            BackendError: the tap is not on the switch or the kernel refused.
        """
        from pyroute2 import IPRoute

        with refusals_as(f"cannot move {spec.name} to tap {tap}"), self._taps:
            with entered(namespace_path(self.namespace)):
                sw = IPRoute()
            try:
                found = sw.link_lookup(ifname=tap)
                if not found:
                    raise BackendError(f"no tap {tap} of {spec.name} on the switch")
                self._learn_port(sw, found[0], spec)
            finally:
                sw.close()

    def _learn_port(self, sw: Any, index: int, spec: InstanceSpec) -> None:
        """No flooding to the port; its MAC in the bridge's table and the switch's ARP."""
        sw.brport("set", index=index, unicast_flood=0)
        sw.fdb("replace", ifindex=index, lladdr=spec.mac, flags=NTF_MASTER, state=NUD_NOARP)
        _static_neighbour(sw, spec.address, spec.mac, self._bridge_index)

    def add_neighbour(self, address: ipaddress.IPv4Address, mac: str) -> None:
        """A static ARP entry in the switch, for an instance behind a port not its own."""
        _static_neighbour(self._require_sw(), address, mac, self._bridge_index)

    def remove_neighbour(self, address: ipaddress.IPv4Address, mac: str) -> None:
        """Forget ``add_neighbour``'s entry; a closed switch or a missing entry is fine."""
        if self._sw is not None:
            with contextlib.suppress(Exception):
                self._sw.neigh("del", dst=str(address), lladdr=mac, ifindex=self._bridge_index)

    def remove(self, ports: Sequence[Port]) -> None:
        """Tear down namespaces together: processes, then their ports in one batch, then names.

        Deleting a veth costs an RCU grace period; one group delete pays it once for the whole
        batch instead of once per instance, and leaves no port (or its static FDB entry) to be
        reaped later by the kernel's asynchronous namespace cleanup, which the next round
        would otherwise be measured against.
        """
        if not ports:
            return
        for port in ports:
            self._ports.pop(port.name, None)
        stop_processes([proc for port in ports for proc in port.processes])
        names = [port.name for port in ports]
        kill_members(namespace_inodes(names))
        self._delete_ports([port.index for port in ports])
        for name in names:
            remove_namespace(name)

    def _delete_ports(self, indexes: Sequence[int]) -> None:
        sw = self._sw
        if sw is None:
            return
        self._port_group = (self._port_group % 0x7FFFFFF0) + 1
        try:
            for index in indexes:
                sw.link("set", index=index, group=self._port_group)
            sw.link("del", group=self._port_group)
        except Exception as exc:
            raise BackendError(f"cannot delete {len(indexes)} switch ports: {exc}") from exc

    # ---- testbed hosts (``shared.hosts``) ---------------------------------------------

    @property
    def responder(self) -> Responder:
        """Hosts B and B2's UDP responder (chosen, and if need be built, on first use)."""
        return self._hosts.responder

    def deploy_hosts(
        self,
        *,
        proxy_netns: str | None = None,
        hosts_know_proxy: bool = False,
        proxy_relays: bool = False,
    ) -> Testbed:
        """Hosts A, B and B2 on this switch, routed through the proxy (``TestbedHosts.deploy``,
        which says what the arguments do). Deployed once; later calls return the same testbed.
        """
        return self._hosts.deploy(
            proxy_netns=proxy_netns, hosts_know_proxy=hosts_know_proxy, proxy_relays=proxy_relays
        )

    def route_hosts_via(self, gateway: ipaddress.IPv4Address | None) -> None:
        """Route A to B and B2, and them back to A, through ``gateway`` (None: directly).

        Raises:
            BackendError: the hosts are not deployed, or the kernel refused.
        """
        self._hosts.route_via(gateway)


def _static_neighbour(ipr: Any, address: ipaddress.IPv4Address, mac: str, index: int) -> None:
    """A permanent ARP entry, so a probe never waits on ARP's one-second retry."""
    ipr.neigh("replace", dst=str(address), lladdr=mac, ifindex=index, state=NUD_PERMANENT)


def reap_namespaces(rule: ReapRule, *, dry_run: bool = False) -> CleanupReport:
    """Remove the namespaces (and their processes) of the runs ``rule`` takes.

    Args:
        rule: which runs go (see ``pytest_nfv.host.reap``).
        dry_run: only report what would be removed (``cleanup --dry-run``).
    """
    report = CleanupReport()
    doomed = [name for name in list_namespaces(PREFIX) if rule.takes_name(name, name, report)]
    members = pids_by_namespace(doomed)
    for name in doomed:
        if dry_run:
            report.removed.append(f"netns {name} ({len(members.get(name, []))} processes)")
            continue
        try:
            kill_members(namespace_inodes([name]))
            remove_namespace(name)
            report.removed.append(f"netns {name}")
        except BackendError as exc:
            report.errors.append(str(exc))
    return report
