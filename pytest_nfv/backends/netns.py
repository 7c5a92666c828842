"""The embedded default backend: each instance is a Linux network namespace with a VNF process.

Topology, all of it inside namespaces this backend creates (the host's root namespace is never
touched, which matters on hosts where dockerd sets the root FORWARD policy to DROP)::

    switch ns  "<run>-sw":  bridge br0 10.213.0.1/16  <- the ICMP prober sits here
        |-- v<k> == eth0 of "<run>-i<k>"   VNF instance k   10.213.1.0 + k
        |-- proxy ns  "<run>-proxy"        10.213.0.2   Algorithm 1 (pytest_nfv.vnf.proxy)
        |-- host A    "<run>-hosta"        10.213.0.3   requests from here
        |-- host B    "<run>-hostb"        10.213.0.4   UDP echo
        `-- host B2   "<run>-hostb2"       10.213.0.5   UDP echo (reconfiguration target)

Every bridge port has unicast flooding off and a static FDB entry, and the switch namespace
knows every instance's MAC in advance: the prober can fire an echo request at an instance
that does not exist yet without that request being flooded to 127 other ports or waiting on
ARP's one-second retry. An instance answers once its VNF process runs and its eth0 is up
with its address; that is the last step of its start.

Namespaces are created in-process (``namespaces.inside_new``), not by forking ``ip``: about
7 ms per instance instead of ~20.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import platform
import select
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from importlib.metadata import version as dist_version
from typing import Any

from pytest_nfv.backends.base import (
    BackendSettings,
    CleanupReport,
    EngineInfo,
    EngineTargets,
    StartCallback,
)
from pytest_nfv.errors import BackendError, BackendUnavailable
from pytest_nfv.host.capabilities import has_netns_capabilities
from pytest_nfv.host.identity import PREFIX, RunIdentity
from pytest_nfv.host.namespaces import (
    inside_new,
    kill_and_wait,
    list_namespaces,
    namespace_path,
    pids_by_namespace,
    remove_namespace,
    set_sysctl_here,
    write_sysctl,
)
from pytest_nfv.host.reap import ReapRule
from pytest_nfv.model import Endpoint, Instance, InstanceSpec, PathMode, Testbed

__all__ = ["NetnsBackend", "make", "reap"]

SUBNET = ipaddress.IPv4Network("10.213.0.0/16")
GATEWAY = SUBNET[1]
PROXY, HOST_A, HOST_B, HOST_B2 = SUBNET[2], SUBNET[3], SUBNET[4], SUBNET[5]
FIRST_INSTANCE = int(SUBNET[256])
ECHO_PORT = 7
NUD_PERMANENT = 0x80
NUD_NOARP = 0x40  # a "static" bridge FDB entry; "permanent" would mean the bridge's own MAC
NTF_MASTER = 0x04
# Interface indexes are chosen, not looked up: each lookup is a netlink round trip, and in a
# fresh namespace lo is always 1.
LO_INDEX = 1
ETH0_INDEX = 2
FIRST_PORT_INDEX = 1000  # put the entry in the bridge's table, not the port's own
DEFAULT_VNF_COMMAND = ("sleep", "infinity")
_QUIET_SYSCTLS = (
    ("net.ipv6.conf.all.disable_ipv6", "1"),
    ("net.ipv6.conf.default.disable_ipv6", "1"),
)


def mac_for(address: ipaddress.IPv4Address) -> str:
    """A locally administered MAC derived from the address, so no one has to ask ARP."""
    b = address.packed
    return f"02:4e:46:{b[1]:02x}:{b[2]:02x}:{b[3]:02x}"


@dataclass
class _Running:
    """What this backend holds for one started namespace."""

    name: str
    port_index: int
    processes: list[subprocess.Popen[bytes]]


class NetnsBackend:
    """Instances are network namespaces; see the module docstring for the topology."""

    name = "netns"

    def __init__(
        self, identity: RunIdentity, vnf_command: Sequence[str] = DEFAULT_VNF_COMMAND
    ) -> None:
        self.identity = identity
        self._vnf_command = tuple(vnf_command)
        self._switch: str | None = None
        self._bridge_index = 0
        self._running: dict[str, _Running] = {}
        self._free: list[int] = []
        self._next_address = FIRST_INSTANCE
        self._port_counter = 0
        self._port_group = 0
        self._testbed: Testbed | None = None
        self._proxy_running: _Running | None = None
        self._sw: Any = None  # pyroute2 IPRoute inside the switch namespace

    # ---- lifecycle ----------------------------------------------------------------------

    def open(self) -> None:
        self._check_host()
        self.identity.register(self.name)
        name = self.identity.name("sw")
        try:
            with inside_new(name) as sw:
                self._switch, self._sw = name, sw
                self._build_switch(sw)
        except Exception as exc:
            created = self._switch is not None
            self.close()
            if not created:
                raise BackendUnavailable(
                    f"netns backend: this host refuses to create a network namespace ({exc}); "
                    "a container without CAP_SYS_ADMIN or a read-only /run are the usual causes"
                ) from exc
            if isinstance(exc, BackendError):
                raise
            raise BackendError(f"cannot build the netns switch: {exc}") from exc

    def _build_switch(self, sw: Any) -> None:
        """The bridge every instance and testbed host plugs into, with the prober's address."""
        for key, value in _QUIET_SYSCTLS:
            set_sysctl_here(key, value)
        sw.link("add", ifname="br0", kind="bridge", br_stp_state=0, br_forward_delay=0)
        self._bridge_index = sw.link_lookup(ifname="br0")[0]
        sw.addr("add", index=self._bridge_index, address=str(GATEWAY), prefixlen=SUBNET.prefixlen)
        sw.link("set", index=self._bridge_index, state="up")
        sw.link("set", index=LO_INDEX, state="up")

    def _check_host(self) -> None:
        if not sys.platform.startswith("linux"):
            raise BackendUnavailable(
                f"netns backend needs Linux network namespaces; this is {sys.platform}"
            )
        if not has_netns_capabilities():
            raise BackendUnavailable(
                "netns backend needs CAP_SYS_ADMIN and CAP_NET_ADMIN (run as root): "
                f"effective uid is {os.geteuid()} and /proc/self/status CapEff lacks them"
            )
        if not os.path.exists("/proc/self/ns/net"):
            raise BackendUnavailable(
                "netns backend: /proc/self/ns/net is missing (no CONFIG_NET_NS)"
            )

    def close(self) -> None:
        """Stop everything, then remove the switch; each step runs even if one before failed."""
        errors: list[str] = []
        try:
            self._remove_all(list(self._running.values()))
        except BackendError as exc:
            errors.append(str(exc))
        self._running.clear()
        if self._proxy_running is not None:
            with contextlib.suppress(BackendError):
                self._remove(self._proxy_running)
            self._proxy_running = None
        if self._sw is not None:
            self._sw.close()
            self._sw = None
        if self._switch is not None:
            leftovers = pids_by_namespace([self._switch]).get(self._switch, [])
            with contextlib.suppress(BackendError):
                kill_and_wait(leftovers)
            remove_namespace(self._switch)
            self._switch = None
        self._testbed = None
        report = reap(ReapRule.own_run(self.identity.run_id))
        errors += report.errors
        self.identity.unregister()
        if errors:
            raise BackendError("netns teardown incomplete: " + "; ".join(errors))

    def __enter__(self) -> NetnsBackend:
        self.open()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def engine(self) -> EngineInfo:
        return EngineInfo(
            "linux-netns",
            platform.release(),
            (f"pyroute2 {dist_version('pyroute2')}", f"VNF: {' '.join(self._vnf_command)}"),
        )

    @property
    def probe_netns(self) -> str | None:
        return namespace_path(self._require_switch())

    def _require_switch(self) -> str:
        if self._switch is None:
            raise BackendError("netns backend is not open")
        return self._switch

    # ---- instances ----------------------------------------------------------------------

    def plan(self, count: int) -> list[InstanceSpec]:
        specs = []
        for _ in range(count):
            if self._free:
                value = self._free.pop(0)
            else:
                value = self._next_address
                self._next_address += 1
            address = ipaddress.IPv4Address(value)
            if address not in SUBNET or address == SUBNET.broadcast_address:
                raise BackendError(f"the netns backend's subnet {SUBNET} is full")
            role = f"i{value - FIRST_INSTANCE}"
            specs.append(InstanceSpec(self.identity.name(role), address, mac_for(address)))
        return specs

    def start(self, specs: Sequence[InstanceSpec], on_start: StartCallback) -> list[Instance]:
        started = []
        for spec in specs:
            on_start(spec)
            start_ns = time.time_ns()
            running = self._create(spec, list(self._vnf_command))
            started.append(
                Instance(
                    spec,
                    start_ns,
                    namespace_path(spec.name),
                    tuple(p.pid for p in running.processes),
                )
            )
        return started

    def stop(self, instances: Sequence[Instance]) -> None:
        runnings, addresses = [], []
        for instance in instances:
            running = self._running.pop(instance.name, None)
            if running is not None:  # stopping twice is harmless, and frees nothing twice
                runnings.append(running)
                addresses.append(instance.address)
        try:
            self._remove_all(runnings)
        finally:
            for address in addresses:
                self._release(address)

    def _release(self, address: ipaddress.IPv4Address) -> None:
        value = int(address)
        if value >= FIRST_INSTANCE:
            self._free.append(value)
            self._free.sort()

    def memory_pids(self, instance: Instance) -> Sequence[int]:
        return instance.pids

    def _create(
        self,
        spec: InstanceSpec,
        argv: list[str] | None,
        routes: Sequence[tuple[ipaddress.IPv4Address, ipaddress.IPv4Address]] = (),
        sysctls: Sequence[tuple[str, str]] = (),
    ) -> _Running:
        """Namespace, VNF process, veth to the switch, address, routes; eth0 up comes last."""
        sw = self._sw
        if sw is None:
            raise BackendError("netns backend is not open")
        self._port_counter += 1
        port = f"v{self._port_counter}"
        index = FIRST_PORT_INDEX + self._port_counter
        running = _Running(spec.name, index, [])
        self._running[spec.name] = running
        try:
            with inside_new(spec.name) as ipr:
                try:
                    for key, value in (*_QUIET_SYSCTLS, *sysctls):
                        set_sysctl_here(key, value)
                    if argv:
                        running.processes.append(
                            subprocess.Popen(
                                argv,
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
                        ifname=port,
                        index=index,
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
                    sw.brport("set", index=index, unicast_flood=0)
                    sw.fdb(
                        "replace", ifindex=index, lladdr=spec.mac, flags=NTF_MASTER, state=NUD_NOARP
                    )
                    sw.neigh(
                        "replace",
                        dst=str(spec.address),
                        lladdr=spec.mac,
                        ifindex=self._bridge_index,
                        state=NUD_PERMANENT,
                    )
                    ipr.link("set", index=LO_INDEX, state="up")
                    ipr.addr(
                        "add",
                        index=ETH0_INDEX,
                        address=str(spec.address),
                        prefixlen=SUBNET.prefixlen,
                    )
                    ipr.link("set", index=ETH0_INDEX, state="up")
                    for destination, gateway in routes:
                        ipr.route(
                            "add", dst=f"{destination}/32", gateway=str(gateway), oif=ETH0_INDEX
                        )
                finally:
                    ipr.close()
        except BackendError:
            raise
        except Exception as exc:
            raise BackendError(f"cannot start netns instance {spec.name}: {exc}") from exc
        return running

    def _remove(self, running: _Running) -> None:
        self._remove_all([running])

    def _remove_all(self, runnings: Sequence[_Running]) -> None:
        """Tear down namespaces together: processes, then their ports in one batch, then names.

        Deleting a veth costs an RCU grace period; one group delete pays it once for the whole
        batch instead of once per instance, and leaves no port (or its static FDB entry) to be
        reaped later by the kernel's asynchronous namespace cleanup, which the next round
        would otherwise be measured against.
        """
        if not runnings:
            return
        processes = [proc for running in runnings for proc in running.processes]
        for proc in processes:
            if proc.stdin:
                with contextlib.suppress(OSError):
                    proc.stdin.close()
        kill_and_wait([p.pid for p in processes])
        for proc in processes:
            with contextlib.suppress(Exception):
                proc.wait(timeout=1)
            if proc.stdout:
                proc.stdout.close()
        names = [running.name for running in runnings]
        stray = [pid for pids in pids_by_namespace(names).values() for pid in pids]
        kill_and_wait(stray)
        self._delete_ports([running.port_index for running in runnings])
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

    # ---- testbed ------------------------------------------------------------------------

    def deploy_testbed(self) -> Testbed:
        if self._testbed is not None:
            return self._testbed
        no_redirects = (
            ("net.ipv4.conf.all.accept_redirects", "0"),
            ("net.ipv4.conf.default.accept_redirects", "0"),
        )
        echo = [sys.executable, "-m", "pytest_nfv.vnf.echo", "--port", str(ECHO_PORT)]
        endpoints = {}
        for role, address, routes in (
            ("hosta", HOST_A, ((HOST_B, PROXY), (HOST_B2, PROXY))),
            ("hostb", HOST_B, ((HOST_A, PROXY),)),
            ("hostb2", HOST_B2, ((HOST_A, PROXY),)),
        ):
            spec = InstanceSpec(self.identity.name(role), address, mac_for(address), "host")
            running = self._create(spec, None if role == "hosta" else echo, routes, no_redirects)
            for proc in running.processes:
                _expect_line(proc, "ready", f"echo responder in {spec.name}")
            endpoints[role] = Endpoint(spec.name, address, spec.mac, namespace_path(spec.name))
        proxy_name = self.identity.name("proxy")
        self._testbed = Testbed(
            endpoints["hosta"],
            endpoints["hostb"],
            endpoints["hostb2"],
            Endpoint(proxy_name, PROXY, mac_for(PROXY), namespace_path(proxy_name)),
            ECHO_PORT,
        )
        return self._testbed

    def start_proxy(self, testbed: Testbed, on_start: StartCallback) -> Instance:
        if self._proxy_running is not None:
            raise BackendError("the proxy VNF is already running")
        spec = InstanceSpec(testbed.proxy.name, testbed.proxy.address, testbed.proxy.mac, "proxy")
        argv = [
            sys.executable,
            "-m",
            "pytest_nfv.vnf.proxy",
            "--iface",
            "eth0",
            "--host-a",
            str(testbed.host_a.address),
            "--mac-a",
            testbed.host_a.mac,
            "--host-b",
            str(testbed.host_b.address),
            "--mac-b",
            testbed.host_b.mac,
            "--sink-port",
            str(testbed.echo_port),
        ]
        sysctls = (
            ("net.ipv4.ip_forward", "0"),
            ("net.ipv4.conf.all.send_redirects", "0"),
            ("net.ipv4.conf.default.send_redirects", "0"),
        )
        on_start(spec)
        start_ns = time.time_ns()
        running = self._create(spec, argv, (), sysctls)
        del self._running[spec.name]
        self._proxy_running = running
        return Instance(
            spec, start_ns, testbed.proxy.netns_path, tuple(p.pid for p in running.processes)
        )

    def stop_proxy(self, proxy: Instance) -> None:
        running, self._proxy_running = self._proxy_running, None
        if running is not None:
            self._remove(running)

    def _proxy_command(self, command: str) -> None:
        running = self._proxy_running
        if running is None or not running.processes:
            raise BackendError("the proxy VNF is not running")
        proc = running.processes[0]
        assert proc.stdin is not None
        try:
            proc.stdin.write(command.encode() + b"\n")
            proc.stdin.flush()
        except BrokenPipeError as exc:
            raise BackendError(f"the proxy VNF exited (status {proc.poll()})") from exc
        _expect_line(proc, "ok", f"proxy VNF command {command!r}", skip=("ready",))

    def set_path(self, testbed: Testbed, mode: PathMode) -> None:
        if mode == "direct":
            self._proxy_command("pause")
            write_sysctl(testbed.proxy.netns_path, "net.ipv4.ip_forward", "1")
        else:
            write_sysctl(testbed.proxy.netns_path, "net.ipv4.ip_forward", "0")
            self._proxy_command("resume")

    def reconfigure_proxy(self, testbed: Testbed, host_b_is_b2: bool) -> None:
        target = testbed.host_b2 if host_b_is_b2 else testbed.host_b
        self._proxy_command(f"set-b {target.address} {target.mac}")


def _expect_line(
    proc: subprocess.Popen[bytes],
    expected: str,
    what: str,
    timeout: float = 10.0,
    skip: tuple[str, ...] = (),
) -> None:
    """Wait for a line from a VNF process; a dead or silent process is a BackendError.

    Lines in ``skip`` (the proxy's start-up ``ready``, which nobody waits for when its
    deployment is being timed on the wire instead) are passed over.
    """
    assert proc.stdout is not None
    line = ""
    deadline = time.monotonic() + timeout
    while True:
        readable, _, _ = select.select([proc.stdout], [], [], max(0.0, deadline - time.monotonic()))
        line = proc.stdout.readline().decode().strip() if readable else ""
        if not line or line not in skip:
            break
    if line != expected:
        status = proc.poll()
        raise BackendError(
            f"{what}: expected {expected!r}, got {line!r}"
            + (f" (exited with status {status})" if status is not None else "")
        )


def make(name: str, identity: RunIdentity, settings: BackendSettings) -> NetnsBackend:
    return NetnsBackend(identity)


def reap(
    rule: ReapRule, *, dry_run: bool = False, targets: EngineTargets | None = None
) -> CleanupReport:
    """Remove the namespaces (and their processes) of the runs ``rule`` takes.

    Args:
        rule: which runs go (see ``pytest_nfv.host.reap``).
        dry_run: only report what would be removed (``cleanup --dry-run``).
        targets: unused; namespaces are always local.
    """
    report = CleanupReport()
    doomed = [name for name in list_namespaces(PREFIX) if rule.takes_name(name, name, report)]
    members = pids_by_namespace(doomed)
    for name in doomed:
        if dry_run:
            report.removed.append(f"netns {name} ({len(members.get(name, []))} processes)")
            continue
        try:
            kill_and_wait(members.get(name, []))
            remove_namespace(name)
            report.removed.append(f"netns {name}")
        except BackendError as exc:
            report.errors.append(str(exc))
    return report
