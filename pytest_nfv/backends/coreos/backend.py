"""The CoreOS setup of the paper: every VNF is a container on one Docker engine.

Topology, all of it on one labelled, ``internal`` Docker bridge network this run creates (a
/20 out of 10.214.0.0/16, which the netns backend's 10.213.0.0/16 never touches)::

    network "<run>-net"  10.214.N.0/20, gateway .1 (Docker's)
        |-- probe     "<run>-probe"   .2    the ICMP prober and its neighbour table live here
        |-- proxy     "<run>-proxy"   .3    iptables rules of proxy_vnf/iptables (Algorithm 1)
        |-- host A    "<run>-hosta"   .4    requests from here
        |-- host B    "<run>-hostb"   .5    UDP echo
        |-- host B2   "<run>-hostb2"  .6    UDP echo (reconfiguration target)
        `-- VNF k     "<run>-i<k>"    .1.0 + k

Probe traffic never leaves the network: the prober runs in the probe container's network
namespace, host A's requester socket is opened in host A's, and hosts B and B2 echo from a
process placed in theirs; all of them reached through ``/proc/<container pid>/ns/net``. That
is why the engine must run on this host: a remote engine starts its containers where this
host's probes cannot stand, and ``open`` says so instead of pretending (see ``_local_pid``).

The probe container knows every instance's MAC before it exists (the MAC is derived from the
address and given to Docker at create), so early probes neither wait on ARP's one-second
retry nor depend on when the engine's bridge learns the port.

Everything the run creates carries labels with its identity (``io.pytest-nfv.run``, ``.pid``,
``.role``) and a name ``nfv-<run>-p<pid>-<role>``; ``reap`` removes exactly those of dead
runs. The image is the exception: a content-addressed cache (``coreos.image``), kept.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pytest_nfv.backends.base import BackendSettings, EngineInfo, EngineTargets, StartCallback
from pytest_nfv.backends.coreos.engine import (
    LABEL_PID,
    LABEL_ROLE,
    LABEL_RUN,
    client_for,
    reap,
    remove_network,
    target_of,
)
from pytest_nfv.backends.coreos.image import LABEL_OWNER, OWNER, ensure
from pytest_nfv.backends.shared.addressing import AddressPool, mac_for
from pytest_nfv.backends.shared.parallel import all_or_nothing, map_together
from pytest_nfv.backends.shared.responder import Responder, launch_helper, responder
from pytest_nfv.backends.shared.teardown import Teardown
from pytest_nfv.errors import BackendError, BackendUnavailable
from pytest_nfv.host.cgroups import (
    Hierarchy,
    cgroup_of_process,
    kernel_bytes,
    memory_hierarchy,
    working_set_bytes,
)
from pytest_nfv.host.identity import RunIdentity
from pytest_nfv.host.namespaces import entered
from pytest_nfv.host.processes import expect_line, pids_named, stop_processes
from pytest_nfv.host.reap import ReapRule
from pytest_nfv.model import Endpoint, Instance, InstanceSpec, PathMode, Testbed
from pytest_nfv.units import MIB

__all__ = [
    "LABEL_PID",
    "LABEL_ROLE",
    "LABEL_RUN",
    "CoreosBackend",
    "DockerHandles",
    "make",
    "reap",
]

POOL = ipaddress.IPv4Network("10.214.0.0/16")
SUBNET_PREFIX = 20
MAC_PREFIX = "02:4e:44"
"""Instance MACs: derived from the address like the switch's, under a prefix of their own."""
ECHO_PORT = 7
DEFAULT_PARALLEL = 8
ENGINE_TIMEOUT_S = 120
HOLD = ("sleep", "2147483647")
ENGINE_DAEMONS = ("dockerd", "containerd")
SHIM_PREFIX = "containerd-shim"
"""Docker runs one shim per container (``containerd-shim-runc-v2``) as its main process's parent."""
_QUIET = {"net.ipv6.conf.all.disable_ipv6": "1", "net.ipv6.conf.default.disable_ipv6": "1"}
_HOST_SYSCTLS = {
    **_QUIET,
    "net.ipv4.conf.all.accept_redirects": "0",
    "net.ipv4.conf.default.accept_redirects": "0",
    "net.ipv4.conf.eth0.accept_redirects": "0",
}
_PROXY_SYSCTLS = {
    **_QUIET,
    "net.ipv4.ip_forward": "1",
    "net.ipv4.conf.all.send_redirects": "0",
    "net.ipv4.conf.default.send_redirects": "0",
    "net.ipv4.conf.eth0.send_redirects": "0",
}


@dataclass(frozen=True)
class DockerHandles:
    """What an open coreos backend runs its containers with, read-only.

    A benchmark that compares the backend with the plain Docker SDK starts its own containers
    on the same engine, network and image, so that only the way they are started differs.
    """

    client: Any
    """The ``docker.DockerClient`` of the run (the backend's connection settings)."""
    network: str
    """The run's internal bridge network, on which every instance and the probe stand."""
    image: str
    """The tag of the image every container of the run is created from."""


@dataclass
class _Held:
    """A container this backend created and has not removed yet."""

    name: str
    container_id: str
    pid: int = 0
    netns_fd: int = -1
    """The container's network namespace, held open once pinned (see ``_pin_netns``)."""


CONTAINER_START_S = 0.5
"""At least what dockerd took per container on a 2-core host (docs/backends/coreos.md), so
that the boot deadline it gives (``BootDeadlines``) fails no start that was merely slow."""
DEADLINE_MARGIN = 3.0


class CoreosBackend:
    """Instances are Docker containers; see the module docstring for the topology."""

    name = "coreos"
    proxy_carries_icmp_echo = True
    """The proxy's DNAT rule translates any IP packet A sends it, echo included, and B's
    replies pass untracked, so A gets B's own echo reply (``IcmpEchoProxy``); translated in
    PREROUTING, an echo request never reaches the proxy container's own stack."""

    def __init__(
        self,
        identity: RunIdentity,
        docker_url: str | None = None,
        image: str | None = None,
        parallel: int = DEFAULT_PARALLEL,
    ) -> None:
        self.identity = identity
        self._url = docker_url
        self._image_option = image
        self._parallel = max(1, parallel)
        self._client: Any = None
        self._api: Any = None
        self._image = ""
        self._version = ""
        self._network: str | None = None
        self._subnet: ipaddress.IPv4Network | None = None
        self._held: dict[str, _Held] = {}
        self._probe: _Held | None = None
        self._probe_ipr: Any = None
        self._probe_eth0 = 0
        self._known_neighbours: set[ipaddress.IPv4Address] = set()
        self._addresses: AddressPool | None = None
        self._testbed: Testbed | None = None
        self._echoes: list[subprocess.Popen[bytes]] = []
        self._proxy: _Held | None = None
        self._lock = threading.Lock()
        self._responder: Responder | None = None

    # ---- lifecycle ----------------------------------------------------------------------

    def open(self) -> None:
        self._client = client_for(self._url, ENGINE_TIMEOUT_S)
        self._api = self._client.api
        try:
            self._version = str(self._client.version().get("Version", "unknown"))
            self._image = self._image_option or ensure(self._client)
            self.identity.register(self.name)
            self._create_network()
            self._probe = self._run(
                self.identity.name("probe"), "probe", self._addr(2), HOLD, sysctls=_QUIET
            )
            self._local_pid(self._probe)
            self._pin_netns(self._probe)
            with entered(self.probe_netns or ""):
                from pyroute2 import IPRoute

                self._probe_ipr = IPRoute()
            self._probe_eth0 = _eth0(self._probe_ipr)
        except (BackendUnavailable, BackendError):
            self.close()
            raise
        except Exception as exc:
            self.close()
            raise BackendError(f"cannot set up the coreos network: {exc}") from exc

    def _create_network(self) -> None:
        """The run's internal network, on the first /20 of the pool no other network holds."""
        from docker.errors import APIError
        from docker.types import IPAMConfig, IPAMPool

        name = self.identity.name("net")
        for subnet in POOL.subnets(new_prefix=SUBNET_PREFIX):
            ipam = IPAMConfig(pool_configs=[IPAMPool(subnet=str(subnet))])
            try:
                self._api.create_network(
                    name, driver="bridge", internal=True, ipam=ipam, labels=self._labels("net")
                )
            except APIError as exc:
                if "overlap" in str(exc).lower():
                    continue
                raise BackendError(f"cannot create network {name}: {exc}") from exc
            self._network, self._subnet = name, subnet
            self._addresses = AddressPool(subnet, MAC_PREFIX)
            return
        raise BackendError(f"every /{SUBNET_PREFIX} of {POOL} is taken by other Docker networks")

    def _local_pid(self, held: _Held) -> None:
        """Refuse an engine whose containers run on another host: the probes could not reach.

        The container's main process must be visible here and sit in the container's cgroup
        (the path this host reads names the container id, whatever its cgroup namespace).
        """
        if not _in_its_cgroup(held):
            raise BackendUnavailable(
                f"coreos backend: the Docker engine at {target_of(self._url)} runs its "
                "containers on another host; boot and response-time probes must run "
                "inside the containers' network namespaces, so this backend drives a local "
                "engine only (a tcp:// URL to this same host works)"
            )

    def close(self) -> None:
        """Stop the echoes, remove every container, then the network; each step runs."""
        teardown = Teardown(self.name)
        with contextlib.suppress(BackendError):
            stop_processes(self._echoes)
        self._echoes.clear()
        if self._probe_ipr is not None:
            self._probe_ipr.close()
            self._probe_ipr = None
        if self._api is not None:
            teardown.step(lambda: self._remove_all(list(self._held.values())))
            if self._network is not None:
                try:
                    remove_network(self._api, self._network)
                except Exception as exc:
                    teardown.note([f"cannot remove network {self._network}: {exc}"])
        for held in self._held.values():
            _unpin_netns(held)
        self._held.clear()
        self._network = None
        self._probe = self._proxy = None
        self._testbed = None
        if self._client is not None:
            own = ReapRule.own_run(self.identity.run_id)
            teardown.note(reap(own, targets=EngineTargets(self._url)).errors)
            self._client.close()
            self._client = self._api = None
            self.identity.unregister()
        teardown.finish()

    def __enter__(self) -> CoreosBackend:
        self.open()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @property
    def docker(self) -> DockerHandles:
        """The run's engine connection, network and image (valid while open), for whoever
        drives the engine beside the backend (a benchmark's plain SDK loop) on the same terms.

        Raises:
            BackendError: the backend is not open.
        """
        if self._client is None or self._network is None or not self._image:
            raise BackendError("coreos backend is not open")
        return DockerHandles(self._client, self._network, self._image)

    def engine(self) -> EngineInfo:
        target = target_of(self._url)
        if not self._version:
            return EngineInfo("docker", "(not connected yet)", (f"engine {target}",))
        return EngineInfo("docker", self._version, (f"engine {target}", f"image {self._image}"))

    @property
    def probe_netns(self) -> str | None:
        if self._probe is None:
            raise BackendError("coreos backend is not open")
        return _pinned_path(self._probe)

    def _pin_netns(self, held: _Held) -> None:
        """Hold the container's network namespace open, so that a path to it stays its.

        ``/proc/<pid>/ns/net`` names whatever process has that pid when it is opened, and a
        pid is reused once its process is gone. The namespace is opened once, and only kept
        if the pid still was the container's own process after the open (its cgroup names
        the container); every later entry goes through the descriptor.

        Raises:
            BackendError: the container's process is gone.
        """
        try:
            fd = os.open(f"/proc/{held.pid}/ns/net", os.O_RDONLY | os.O_CLOEXEC)
        except OSError as exc:
            raise BackendError(f"container {held.name} has no process any more: {exc}") from exc
        if not _in_its_cgroup(held):
            os.close(fd)
            raise BackendError(f"container {held.name} lost its process {held.pid}")
        held.netns_fd = fd

    # ---- containers ---------------------------------------------------------------------

    def _addr(self, offset: int) -> ipaddress.IPv4Address:
        if self._subnet is None:
            raise BackendError("coreos backend is not open")
        return self._subnet[offset]

    def _labels(self, role: str) -> dict[str, str]:
        return {
            LABEL_OWNER: OWNER,
            LABEL_RUN: self.identity.run_id,
            LABEL_PID: str(self.identity.owner_pid),
            LABEL_ROLE: role,
        }

    def _create(
        self,
        name: str,
        role: str,
        address: ipaddress.IPv4Address,
        command: Sequence[str],
        sysctls: dict[str, str] | None = None,
        environment: dict[str, str] | None = None,
        cap_add: Sequence[str] = (),
    ) -> _Held:
        api = self._api
        try:
            created = api.create_container(
                self._image,
                command=list(command),
                name=name,
                labels=self._labels(role),
                mac_address=mac_for(address, MAC_PREFIX),
                environment=environment,
                host_config=api.create_host_config(
                    network_mode=self._network, sysctls=sysctls, cap_add=list(cap_add) or None
                ),
                networking_config=api.create_networking_config(
                    {self._network: api.create_endpoint_config(ipv4_address=str(address))}
                ),
            )
        except Exception as exc:
            raise BackendError(f"cannot create container {name}: {exc}") from exc
        held = _Held(name, created["Id"])
        with self._lock:
            self._held[name] = held
        return held

    def _start(self, held: _Held) -> None:
        try:
            self._api.start(held.container_id)
        except Exception as exc:
            raise BackendError(f"cannot start container {held.name}: {exc}") from exc

    def _run(
        self,
        name: str,
        role: str,
        address: ipaddress.IPv4Address,
        command: Sequence[str],
        **kw: Any,
    ) -> _Held:
        held = self._create(name, role, address, command, **kw)
        self._start(held)
        held.pid = int(self._api.inspect_container(held.container_id)["State"]["Pid"])
        return held

    def _remove_all(self, helds: Sequence[_Held]) -> None:
        """Remove containers one request at a time.

        dockerd 20.10 loses endpoint-count decrements when containers of one network go
        concurrently (moby/moby#42119): the emptied network then refuses removal until the
        daemon restarts. One at a time it does not (4 rounds of 64 containers leaked with 8
        removals in flight, and did not one by one); removal is outside every measured interval.
        """
        from docker.errors import NotFound

        failures: list[str] = []
        for held in helds:
            try:
                self._api.remove_container(held.container_id, force=True, v=True)
            except NotFound:
                pass
            except Exception as exc:
                failures.append(f"{held.name}: {exc}")
            with self._lock:
                self._held.pop(held.name, None)
            _unpin_netns(held)
        if failures:
            raise BackendError("cannot remove containers: " + "; ".join(failures[:5]))

    # ---- instances ----------------------------------------------------------------------

    def plan(self, count: int) -> list[InstanceSpec]:
        if self._addresses is None:
            raise BackendError("coreos backend is not open")
        specs = self._addresses.plan(count, self.identity)
        self._learn_neighbours(specs)
        return specs

    def release(self, specs: Sequence[InstanceSpec]) -> None:
        """The probe's neighbour entries stay: a planned address comes back with its MAC."""
        if self._addresses is None:
            return
        with self._lock:
            unheld = [spec for spec in specs if spec.name not in self._held]
        for spec in unheld:
            self._addresses.release(spec.address)

    def _learn_neighbours(self, specs: Sequence[InstanceSpec]) -> None:
        """Tell the probe's namespace every planned MAC, so no probe waits on ARP."""
        ipr = self._probe_ipr
        if ipr is None:
            raise BackendError("coreos backend is not open")
        for spec in specs:
            if spec.address in self._known_neighbours:
                continue
            try:
                ipr.neigh(
                    "replace",
                    dst=str(spec.address),
                    lladdr=spec.mac,
                    ifindex=self._probe_eth0,
                    state=0x80,
                )
            except Exception as exc:
                raise BackendError(
                    f"cannot add a neighbour entry for {spec.address}: {exc}"
                ) from exc
            self._known_neighbours.add(spec.address)

    def start(self, specs: Sequence[InstanceSpec], on_start: StartCallback) -> list[Instance]:
        def one(spec: InstanceSpec) -> tuple[_Held, int]:
            with self._lock:
                on_start(spec)
            start_ns = time.time_ns()
            held = self._create(spec.name, "vnf", spec.address, HOLD)
            self._start(held)
            return held, start_ns

        def pid_of(held: _Held) -> int:
            try:
                return int(self._api.inspect_container(held.container_id)["State"]["Pid"])
            except Exception as exc:
                raise BackendError(f"cannot inspect container {held.name}: {exc}") from exc

        with all_or_nothing(specs, self._remove_specs, self._release_address):
            started = map_together(one, specs, self._parallel)
            # Only once every request is out: looking up pids must not delay a start.
            pids = map_together(pid_of, [held for held, _ in started], self._parallel)
        instances = []
        for spec, (held, start_ns), pid in zip(specs, started, pids, strict=True):
            held.pid = pid
            instances.append(Instance(spec, start_ns, f"/proc/{pid}/ns/net", (pid,)))
        return instances

    def _remove_specs(self, specs: Sequence[InstanceSpec]) -> None:
        """Remove the containers of ``specs`` that were created (a start that failed)."""
        self._remove_all([self._held[s.name] for s in specs if s.name in self._held])

    def _release_address(self, address: ipaddress.IPv4Address) -> None:
        if self._addresses is not None:
            self._addresses.release(address)

    def stop(self, instances: Sequence[Instance]) -> None:
        helds = [self._held[i.name] for i in instances if i.name in self._held]
        try:
            self._remove_all(helds)
        finally:
            for instance in instances:
                if self._addresses is not None and any(h.name == instance.name for h in helds):
                    self._addresses.release(instance.address)

    def boot_deadline_s(self, starting: int) -> float:
        """``BootDeadlines``: three times what dockerd took per container here."""
        return DEADLINE_MARGIN * CONTAINER_START_S * starting

    @property
    def boot_deadline_rule(self) -> str:
        return f"{DEADLINE_MARGIN:g} x {CONTAINER_START_S:g} s per container started"

    def memory_pids(self, instance: Instance) -> Sequence[int]:
        """The container's main process and its descendants, as this host sees them."""
        import psutil

        pids = []
        for pid in instance.pids:
            with contextlib.suppress(psutil.NoSuchProcess):
                pids += [pid, *(c.pid for c in psutil.Process(pid).children(recursive=True))]
        return pids

    @property
    def kernel_memory_method(self) -> str | None:
        hierarchy = memory_hierarchy()
        if hierarchy is None:
            return None
        return (
            f"sum over the containers' memory cgroups of {hierarchy.usage_file} less inactive "
            "page cache, kernel memory included"
        )

    def kernel_memory_mib(self, instances: Sequence[Instance]) -> float:
        """What the kernel charges to the containers' own cgroups, summed, in MiB.

        Read from each cgroup's files (the engine's cgroup driver names them; the container's
        process says where), not from the engine's stats call, which takes a second each.

        Raises:
            BackendError: no memory controller, or a container is gone.
        """
        return self._sum_over_cgroups(instances, working_set_bytes)

    def charged_kernel_mib(self, instances: Sequence[Instance]) -> float:
        """``ChargedKernelMemory``: the kernel memory charged to the containers' cgroups.

        Raises:
            BackendError: no memory controller, or a container is gone.
        """
        return self._sum_over_cgroups(instances, kernel_bytes)

    def _sum_over_cgroups(
        self, instances: Sequence[Instance], read: Callable[[Path, Hierarchy], int]
    ) -> float:
        hierarchy = memory_hierarchy()
        if hierarchy is None:
            raise BackendError("no memory cgroup controller on this host")
        total = 0
        for instance in instances:
            held = self._held.get(instance.name)
            if held is None or not held.pid:
                raise BackendError(f"{instance.name} is not running here")
            total += read(cgroup_of_process(held.pid, hierarchy), hierarchy)
        return total / MIB

    def engine_daemon_pids(self) -> Sequence[int]:
        """``EngineProcesses``: dockerd and containerd, on this host (a remote engine's are
        not here to read, and count nothing)."""
        return pids_named(ENGINE_DAEMONS)

    def engine_helper_pids(self, instances: Sequence[Instance]) -> Sequence[int]:
        """``EngineProcesses``: each container's ``containerd-shim``, the parent of its main
        process, which lives in the daemon's cgroup, not the container's."""
        import psutil

        found = []
        for instance in instances:
            for pid in instance.pids:
                with contextlib.suppress(psutil.NoSuchProcess):
                    parent = psutil.Process(pid).parent()
                    if parent is not None and parent.name().startswith(SHIM_PREFIX):
                        found.append(parent.pid)
        return found

    def engine_memory_mib(self, instances: Sequence[Instance]) -> list[float]:
        """Each container's own memory as its cgroup counts it, from the engine's stats.

        Computed as ``docker stats`` does: usage minus inactive page cache.
        """

        def one(instance: Instance) -> float:
            held = self._held.get(instance.name)
            if held is None:
                raise BackendError(f"{instance.name} is not running")
            try:
                stats = self._api.stats(held.container_id, stream=False, one_shot=True)
            except Exception as exc:
                raise BackendError(f"cannot read stats of {held.name}: {exc}") from exc
            memory = stats.get("memory_stats", {})
            usage = float(memory.get("usage", 0))
            detail = memory.get("stats", {})
            inactive = float(detail.get("total_inactive_file", detail.get("inactive_file", 0)))
            if not usage:
                raise BackendError(f"the engine reports no memory usage for {held.name}")
            return (usage - inactive if inactive < usage else usage) / MIB

        return map_together(one, instances, self._parallel)

    # ---- testbed ------------------------------------------------------------------------

    def deploy_testbed(self) -> Testbed:
        if self._testbed is not None:
            return self._testbed
        proxy = self._addr(3)
        endpoints = {}
        for role, offset in (("hosta", 4), ("hostb", 5), ("hostb2", 6)):
            address = self._addr(offset)
            held = self._run(self.identity.name(role), "host", address, HOLD, sysctls=_HOST_SYSCTLS)
            self._pin_netns(held)
            netns = _pinned_path(held)
            routes = (self._addr(5), self._addr(6)) if role == "hosta" else (self._addr(4),)
            _route_via(netns, routes, proxy)
            if role != "hosta":
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
            endpoints[role] = Endpoint(held.name, address, mac_for(address, MAC_PREFIX), netns)
        # The proxy's namespace exists only while its container runs: each start_proxy's
        # Instance carries it; the testbed's endpoint gives where to send, not where to stand.
        name = self.identity.name("proxy")
        self._testbed = Testbed(
            endpoints["hosta"],
            endpoints["hostb"],
            endpoints["hostb2"],
            Endpoint(name, proxy, mac_for(proxy, MAC_PREFIX), ""),
            ECHO_PORT,
        )
        return self._testbed

    def start_proxy(self, testbed: Testbed, on_start: StartCallback) -> Instance:
        if self._proxy is not None:
            raise BackendError("the proxy VNF is already running")
        spec = InstanceSpec(testbed.proxy.name, testbed.proxy.address, testbed.proxy.mac, "proxy")
        environment = {
            "PROXY_A": str(testbed.host_a.address),
            "PROXY_B": str(testbed.host_b.address),
            "PROXY_SELF": str(testbed.proxy.address),
        }
        on_start(spec)
        start_ns = time.time_ns()
        held = self._run(
            spec.name,
            "proxy",
            spec.address,
            ("/proxy/start",),
            sysctls=_PROXY_SYSCTLS,
            environment=environment,
            cap_add=("NET_ADMIN",),
        )
        self._proxy = held
        return Instance(spec, start_ns, f"/proc/{held.pid}/ns/net", (held.pid,))

    def stop_proxy(self, proxy: Instance) -> None:
        held, self._proxy = self._proxy, None
        if held is not None:
            self._remove_all([held])

    def _apply(self, *arguments: str) -> None:
        """Run ``/proxy/apply`` inside the proxy container; returns once it said ``ok``."""
        held = self._proxy
        if held is None:
            raise BackendError("the proxy VNF is not running")
        try:
            exec_id = self._api.exec_create(held.container_id, ["/proxy/apply", *arguments])
            output = self._api.exec_start(exec_id).decode(errors="replace").strip()
            code = self._api.exec_inspect(exec_id).get("ExitCode")
        except Exception as exc:
            raise BackendError(f"cannot reconfigure the proxy VNF: {exc}") from exc
        if code != 0 or output.splitlines()[-1:] != ["ok"]:
            raise BackendError(f"/proxy/apply {' '.join(arguments)} failed ({code}): {output}")

    def set_path(self, testbed: Testbed, mode: PathMode) -> None:
        """Nothing to switch: the direct path is host A addressing B itself.

        Host A routes B (and B2) through the proxy container either way, and the proxy's
        rules stay installed; they translate only what is addressed to the proxy, and let
        what A addresses to B itself pass untracked, so a plain request crosses the same hop
        and the same kernel forwarding without the VNF's rewrite (or the connection tracking
        the rewrite needs). Switching costs no engine request, so the proxied and the plain
        sample of a pair are taken under the same conditions.
        """
        if self._proxy is None:
            raise BackendError("the proxy VNF is not running")

    def reconfigure_proxy(self, testbed: Testbed, host_b_is_b2: bool) -> None:
        target = testbed.host_b2 if host_b_is_b2 else testbed.host_b
        self._apply(str(testbed.host_a.address), str(target.address), str(testbed.proxy.address))


def _eth0(ipr: Any) -> int:
    found = ipr.link_lookup(ifname="eth0")
    if not found:
        raise BackendError("the probe container has no eth0")
    return int(found[0])


def _route_via(
    netns: str, destinations: Sequence[ipaddress.IPv4Address], gateway: ipaddress.IPv4Address
) -> None:
    """Host routes through the proxy inside one of our containers (Fig. 1's wiring)."""
    from pyroute2 import IPRoute

    with entered(netns):
        ipr = IPRoute()
    try:
        index = _eth0(ipr)
        for destination in destinations:
            ipr.route("add", dst=f"{destination}/32", gateway=str(gateway), oif=index)
    except BackendError:
        raise
    except Exception as exc:
        raise BackendError(f"cannot route via the proxy in {netns}: {exc}") from exc
    finally:
        ipr.close()


def make(name: str, identity: RunIdentity, settings: BackendSettings) -> CoreosBackend:
    return CoreosBackend(identity, settings.docker_url, settings.image)


def _pinned_path(held: _Held) -> str:
    """A path to the container's pinned namespace, valid while this process holds it."""
    if held.netns_fd < 0:
        raise BackendError(f"the namespace of container {held.name} is not held")
    return f"/proc/{os.getpid()}/fd/{held.netns_fd}"


def _unpin_netns(held: _Held) -> None:
    if held.netns_fd >= 0:
        with contextlib.suppress(OSError):
            os.close(held.netns_fd)
        held.netns_fd = -1


def _in_its_cgroup(held: _Held) -> bool:
    """Whether ``held.pid`` is (still) a process of the container: its cgroup names it."""
    try:
        with open(f"/proc/{held.pid}/cgroup") as cgroup:
            return held.container_id in cgroup.read()
    except OSError:
        return False
