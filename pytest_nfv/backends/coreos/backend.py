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

The probe container knows every instance's MAC before it exists (``coreos.probe``).

Everything the run creates carries labels with its identity (``io.pytest-nfv.run``, ``.pid``,
``.role``) and a name ``nfv-<run>-p<pid>-<role>``; ``reap`` removes exactly those of dead
runs. The image is the exception: a content-addressed cache (``coreos.image``), kept.

Just over the usual size, as the protocol's one facade: each method is a few lines that hand
over to the parts beside it (``coreos.containers``, ``coreos.memory``, ``coreos.testbed``,
``coreos.checkpoint``, ``coreos.engine``), and the class keeps only what they share, the
engine's handles and the address plan, which is why it is not split further.
"""

from __future__ import annotations

import ipaddress
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pytest_nfv.backends.base import BackendSettings, EngineInfo, EngineTargets, StartCallback
from pytest_nfv.backends.coreos import memory
from pytest_nfv.backends.coreos.checkpoint import (
    CHECKPOINT_METHOD,
    LIVE_REASON,
    checkpoint_and_restore,
    checkpoint_block,
    checkpoint_dir,
)
from pytest_nfv.backends.coreos.containers import (
    HOLD,
    MAC_PREFIX,
    Containers,
    Held,
    in_its_cgroup,
    labels_of,
    unpin_netns,
)
from pytest_nfv.backends.coreos.engine import (
    LABEL_PID,
    LABEL_ROLE,
    LABEL_RUN,
    client_for,
    reap,
    remove_network,
    target_of,
)
from pytest_nfv.backends.coreos.image import ensure
from pytest_nfv.backends.coreos.probe import Probe
from pytest_nfv.backends.coreos.testbed import DockerTestbed
from pytest_nfv.backends.migration import ColdMigration, LiveMigration, ProgressCallback
from pytest_nfv.backends.shared.addressing import AddressPool
from pytest_nfv.backends.shared.parallel import all_or_nothing, map_together
from pytest_nfv.backends.shared.teardown import Teardown
from pytest_nfv.errors import BackendError, BackendUnavailable
from pytest_nfv.host.cgroups import Hierarchy, kernel_bytes, working_set_bytes
from pytest_nfv.host.identity import RunIdentity
from pytest_nfv.host.processes import pids_named
from pytest_nfv.host.reap import ReapRule
from pytest_nfv.model import Instance, InstanceSpec, PathMode, Testbed

__all__ = [
    "LABEL_PID",
    "LABEL_ROLE",
    "LABEL_RUN",
    "MAC_PREFIX",
    "CoreosBackend",
    "DockerHandles",
    "make",
    "reap",
]

POOL = ipaddress.IPv4Network("10.214.0.0/16")
SUBNET_PREFIX = 20
DEFAULT_PARALLEL = 8
ENGINE_TIMEOUT_S = 120


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


CONTAINER_START_S = 0.5
"""At least what dockerd took per container on a 2-core host (docs/backends/coreos.md), so
that the boot deadline it gives (``BootDeadlines``) fails no start that was merely slow."""
DEADLINE_MARGIN = 3.0


class CoreosBackend:
    """Instances are Docker containers; see the module docstring for the topology.

    Its parts, each a module of this package: ``containers`` (create, pin, remove),
    ``probe`` (where the prober stands), ``testbed`` (hosts A, B, B2 and the proxy) and
    ``memory`` (the readings); this class holds the engine, the network and the plan.
    """

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
        self._containers: Containers | None = None
        self._testbed: DockerTestbed | None = None
        self._probe = Probe()
        self._addresses: AddressPool | None = None
        self._checkpoint_block: tuple[str] | None = None

    # ---- lifecycle ----------------------------------------------------------------------

    def open(self) -> None:
        self._client = client_for(self._url, ENGINE_TIMEOUT_S)
        self._api = self._client.api
        try:
            self._version = str(self._client.version().get("Version", "unknown"))
            self._image = self._image_option or ensure(self._client)
            self.identity.register(self.name)
            network = self._create_network()
            containers = Containers(self.identity, self._api, network, self._image)
            self._containers = containers
            self._testbed = DockerTestbed(containers, self._addr)
            self._local_pid(self._probe.start(containers, self._addr(2)))
            self._probe.pin(containers)
        except (BackendUnavailable, BackendError):
            self.close()
            raise
        except Exception as exc:
            self.close()
            raise BackendError(f"cannot set up the coreos network: {exc}") from exc

    def _create_network(self) -> str:
        """The run's internal network, on the first /20 of the pool no other network holds."""
        from docker.errors import APIError
        from docker.types import IPAMConfig, IPAMPool

        name = self.identity.name("net")
        for subnet in POOL.subnets(new_prefix=SUBNET_PREFIX):
            ipam = IPAMConfig(pool_configs=[IPAMPool(subnet=str(subnet))])
            try:
                self._api.create_network(
                    name,
                    driver="bridge",
                    internal=True,
                    ipam=ipam,
                    labels=labels_of(self.identity, "net"),
                )
            except APIError as exc:
                if "overlap" in str(exc).lower():
                    continue
                raise BackendError(f"cannot create network {name}: {exc}") from exc
            self._network, self._subnet = name, subnet
            self._addresses = AddressPool(subnet, MAC_PREFIX)
            return name
        raise BackendError(f"every /{SUBNET_PREFIX} of {POOL} is taken by other Docker networks")

    def _local_pid(self, held: Held) -> None:
        """Refuse an engine whose containers run on another host: the probes could not reach.

        The container's main process must be visible here and sit in the container's cgroup
        (the path this host reads names the container id, whatever its cgroup namespace).
        """
        if not in_its_cgroup(held):
            raise BackendUnavailable(
                f"coreos backend: the Docker engine at {target_of(self._url)} runs its "
                "containers on another host; boot and response-time probes must run "
                "inside the containers' network namespaces, so this backend drives a local "
                "engine only (a tcp:// URL to this same host works)"
            )

    def close(self) -> None:
        """Stop the echoes, remove every container, then the network; each step runs."""
        teardown = Teardown(self.name)
        if self._testbed is not None:
            self._testbed.close()
            self._testbed = None
        self._probe.close()
        containers, self._containers = self._containers, None
        if containers is not None:
            teardown.step(lambda: containers.remove_all(list(containers.held.values())))
        if self._api is not None and self._network is not None:
            try:
                remove_network(self._api, self._network)
            except Exception as exc:
                teardown.note([f"cannot remove network {self._network}: {exc}"])
        if containers is not None:
            containers.forget()
        self._network = None
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
        return self._probe.netns

    def _addr(self, offset: int) -> ipaddress.IPv4Address:
        if self._subnet is None:
            raise BackendError("coreos backend is not open")
        return self._subnet[offset]

    def _open_parts(self) -> tuple[Containers, DockerTestbed]:
        if self._containers is None or self._testbed is None:
            raise BackendError("coreos backend is not open")
        return self._containers, self._testbed

    # ---- instances ----------------------------------------------------------------------

    def plan(self, count: int) -> list[InstanceSpec]:
        if self._addresses is None:
            raise BackendError("coreos backend is not open")
        specs = self._addresses.plan(count, self.identity)
        self._probe.learn_neighbours(specs)
        return specs

    def release(self, specs: Sequence[InstanceSpec]) -> None:
        """The probe's neighbour entries stay: a planned address comes back with its MAC."""
        if self._addresses is None or self._containers is None:
            return
        with self._containers.lock:
            unheld = [spec for spec in specs if spec.name not in self._containers.held]
        for spec in unheld:
            self._addresses.release(spec.address)

    def start(self, specs: Sequence[InstanceSpec], on_start: StartCallback) -> list[Instance]:
        containers, _ = self._open_parts()

        def one(spec: InstanceSpec) -> tuple[Held, int]:
            with containers.lock:
                on_start(spec)
            start_ns = time.time_ns()
            held = containers.create(spec.name, "vnf", spec.address, HOLD)
            containers.start(held)
            return held, start_ns

        with all_or_nothing(specs, self._remove_specs, self._release_address):
            started = map_together(one, specs, self._parallel)
            # Only once every request is out: looking up pids must not delay a start.
            pids = map_together(containers.pid_of, [h for h, _ in started], self._parallel)
        instances = []
        for spec, (held, start_ns), pid in zip(specs, started, pids, strict=True):
            held.pid = pid
            instances.append(Instance(spec, start_ns, f"/proc/{pid}/ns/net", (pid,)))
        return instances

    def _remove_specs(self, specs: Sequence[InstanceSpec]) -> None:
        """Remove the containers of ``specs`` that were created (a start that failed)."""
        containers = self._containers
        if containers is not None:
            held = containers.held
            containers.remove_all([held[s.name] for s in specs if s.name in held])

    def _release_address(self, address: ipaddress.IPv4Address) -> None:
        if self._addresses is not None:
            self._addresses.release(address)

    def stop(self, instances: Sequence[Instance]) -> None:
        containers = self._containers
        if containers is None:
            return
        helds = [containers.held[i.name] for i in instances if i.name in containers.held]
        try:
            containers.remove_all(helds)
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

    # ---- memory (``coreos.memory``) -------------------------------------------------------

    def memory_pids(self, instance: Instance) -> Sequence[int]:
        """The container's main process and its descendants, as this host sees them."""
        return memory.memory_pids(instance)

    @property
    def kernel_memory_method(self) -> str | None:
        return memory.kernel_memory_method()

    def kernel_memory_mib(self, instances: Sequence[Instance]) -> float:
        """What the kernel charges to the containers' own cgroups, summed, in MiB.

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
        held = self._containers.held if self._containers is not None else {}
        return memory.sum_over_cgroups([held.get(i.name) for i in instances], instances, read)

    def engine_daemon_pids(self) -> Sequence[int]:
        """``EngineProcesses``: dockerd and containerd, on this host (a remote engine's are
        not here to read, and count nothing)."""
        return pids_named(memory.ENGINE_DAEMONS)

    def engine_helper_pids(self, instances: Sequence[Instance]) -> Sequence[int]:
        """``EngineProcesses``: each container's ``containerd-shim`` (``memory``)."""
        return memory.engine_helper_pids(instances)

    def engine_memory_mib(self, instances: Sequence[Instance]) -> list[float]:
        """Each container's own memory as its cgroup counts it, from the engine's stats."""
        containers, _ = self._open_parts()

        def one(instance: Instance) -> float:
            held = containers.held.get(instance.name)
            return memory.engine_memory_mib(containers.api, held, instance)

        return map_together(one, instances, self._parallel)

    # ---- testbed (``coreos.testbed``) -----------------------------------------------------

    def deploy_testbed(self) -> Testbed:
        return self._open_parts()[1].deploy()

    def start_proxy(self, testbed: Testbed, on_start: StartCallback) -> Instance:
        return self._open_parts()[1].start_proxy(testbed, on_start)

    def stop_proxy(self, proxy: Instance) -> None:
        if self._testbed is not None:
            self._testbed.stop_proxy()

    def set_path(self, testbed: Testbed, mode: PathMode) -> None:
        """Nothing to switch: host A addressing B itself is the direct path (``testbed``)."""
        self._open_parts()[1].set_path(mode)

    def reconfigure_proxy(self, testbed: Testbed, host_b_is_b2: bool) -> None:
        self._open_parts()[1].reconfigure_proxy(testbed, host_b_is_b2)

    # ---- migration (``Migratable``; Docker's checkpoint in ``coreos.checkpoint``) ---------

    def migration_block(self) -> str | None:
        """CRIU's and the daemon's word on checkpoints here (probed once per backend)."""
        if self._client is None:
            return "the coreos backend is not open"
        if self._checkpoint_block is None:
            self._checkpoint_block = (checkpoint_block(self._client.version()) or "",)
        return self._checkpoint_block[0] or None

    def migrate_live(
        self, instance: Instance, on_progress: ProgressCallback | None = None
    ) -> LiveMigration:
        """Never: Docker moves a container only by stopping it (``save_restore``)."""
        raise BackendUnavailable(self.migration_block() or LIVE_REASON)

    def save_restore(self, instance: Instance) -> ColdMigration:
        """Checkpoint the container with CRIU and start it from the checkpoint."""
        reason = self.migration_block()
        if reason is not None:
            raise BackendUnavailable(reason)
        containers = self._open_parts()[0]
        held = containers.held.get(instance.spec.name)
        if held is None:
            raise BackendError(f"{instance.name} is not a container this backend runs")
        name = self.identity.name("ckpt")
        save_s, restore_s, size = checkpoint_and_restore(
            self._api, held.container_id, name, checkpoint_dir(name)
        )
        unpin_netns(held)
        held.pid = containers.pid_of(held)
        containers.pin_netns(held)
        moved = Instance(instance.spec, instance.start_ns, f"/proc/{held.pid}/ns/net", (held.pid,))
        return ColdMigration(moved, save_s, restore_s, size, CHECKPOINT_METHOD)


def make(name: str, identity: RunIdentity, settings: BackendSettings) -> CoreosBackend:
    return CoreosBackend(identity, settings.docker_url, settings.image)
