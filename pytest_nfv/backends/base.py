"""The backend protocol: what every virtualization must offer the suites, and nothing more.

A backend hides its engine (pyroute2, the Docker SDK, libvirt) behind these few verbs, imports
that engine lazily, and translates the engine's errors at its boundary. It is a context
manager: leaving it removes everything it started, in any order of failure. Everything it
creates is named or labelled with its ``RunIdentity`` so that ``reap`` -- the crash-recovery
path behind ``pytest-nfv cleanup`` -- can remove exactly the resources of dead runs.

The probes need only two things from a backend: the network namespace from which instances
answer ICMP (``probe_netns``), and for the testbed, the namespaces of hosts A and B. So every
backend, however it runs its instances, presents them on a network reachable from a namespace.

The protocol and every optional capability (declared protocols, never found with ``getattr``)
are one module on purpose, though it is longer than most: it is the whole contract a backend
author implements, read in one place.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

from pytest_nfv.backends.migration import ColdMigration, LiveMigration, ProgressCallback
from pytest_nfv.backends.variant import ProxyVariant
from pytest_nfv.errors import NfvUsageError
from pytest_nfv.host.identity import RunIdentity
from pytest_nfv.host.reap import CleanupReport
from pytest_nfv.model import ECHO_CHOICES, EchoProtocol, Instance, InstanceSpec, PathMode, Testbed

__all__ = [
    "Backend",
    "BackendSettings",
    "BootDeadlines",
    "BudgetChoice",
    "ChargedKernelMemory",
    "CleanupReport",
    "Consoles",
    "EngineInfo",
    "EngineMemory",
    "EngineProcesses",
    "EngineTargets",
    "HostCapacity",
    "IcmpEchoProxy",
    "KernelMemory",
    "Migratable",
    "ProbeInterval",
    "ProxyVariants",
    "StartCallback",
    "echo_protocol",
]

StartCallback = Callable[[InstanceSpec], None]
"""Called by ``Backend.start`` just before each instance's start request goes out."""


@dataclass(frozen=True)
class EngineInfo:
    """What runs the instances, for the report header and the benchmark record."""

    name: str
    version: str
    notes: tuple[str, ...] = ()

    def describe(self) -> str:
        extra = f" ({'; '.join(self.notes)})" if self.notes else ""
        return f"{self.name} {self.version}{extra}"


@dataclass(frozen=True)
class BackendSettings:
    """The options a built-in backend is built with, and nothing else of the session's.

    The plugin resolves them (``NfvSettings.backend_settings``); a backend never sees pytest's
    configuration, so the backends stay below the plugin and can be built without one
    (benchmarks, tests).
    """

    image: str | None = None
    kernel: Path | None = None
    docker_url: str | None = None
    libvirt_uri: str | None = None
    domain_template: Path | None = None
    boot_timeout_s: float = 60.0


@dataclass(frozen=True)
class EngineTargets:
    """Which engines a reap looks at: the same ones a run with these options would use.

    None means the backend's default (``$DOCKER_HOST`` or the local socket; ``qemu:///system``
    for osv, ``xen:///system`` for clickos). A reap finds an absent engine empty, not an error.
    """

    docker_url: str | None = None
    libvirt_uri: str | None = None


@runtime_checkable
class Backend(Protocol):
    """One virtualization solution, as the suites drive it.

    Lifecycle: ``open`` (may raise ``BackendUnavailable``), any number of start/stop and
    testbed calls, ``close`` (idempotent; removes all that is left).
    """

    name: str
    identity: RunIdentity

    def open(self) -> None:
        """Probe the host and set up shared infrastructure (a switch, a network).

        Raises:
            BackendUnavailable: with what was probed and what is missing.
        """

    def close(self) -> None:
        """Remove every resource this backend created and still holds."""

    def engine(self) -> EngineInfo:
        """Engine name and version (valid after ``open``)."""

    @property
    def probe_netns(self) -> str | None:
        """Namespace path from which instance addresses answer ICMP (None: the caller's)."""

    def plan(self, count: int) -> list[InstanceSpec]:
        """Names and addresses for ``count`` new VNF instances (reserved until stopped)."""

    def release(self, specs: Sequence[InstanceSpec]) -> None:
        """Give back the addresses of planned instances that were never started.

        ``plan`` reserves; ``stop`` frees what ``start`` started, and a failed ``start`` frees
        all it was given. A caller that plans and then starts nothing, or starts the
        instances some other way (a benchmark driving the engine itself), returns the
        addresses here, so the next ``plan`` hands them out again. Specs of instances this
        backend runs are left alone: their addresses stay reserved until ``stop``.
        """

    def start(self, specs: Sequence[InstanceSpec], on_start: StartCallback) -> list[Instance]:
        """Issue the start requests, calling ``on_start(spec)`` just before each one.

        Returns when every request was issued; readiness is the prober's business.

        All or nothing: when the engine refuses one start, the instances this call already
        started are stopped and the addresses of all of ``specs`` are free again before the
        error propagates, so a failed round leaves nothing running beside the next one.

        Raises:
            BackendError: the engine refused.
        """

    def stop(self, instances: Sequence[Instance]) -> None:
        """Stop and remove ``instances`` (and release their addresses)."""

    def deploy_testbed(self) -> Testbed:
        """Hosts A, B and B2 with their responders; the proxy VNF comes from ``start_proxy``."""

    def start_proxy(self, testbed: Testbed, on_start: StartCallback) -> Instance:
        """Start the proxy VNF instance (Algorithm 1) between A and B."""

    def stop_proxy(self, proxy: Instance) -> None:
        """Stop the proxy VNF instance."""

    def set_path(self, testbed: Testbed, mode: PathMode) -> None:
        """``proxy``: the VNF forwards; ``direct``: the same hop forwards without the VNF."""

    def reconfigure_proxy(self, testbed: Testbed, host_b_is_b2: bool) -> None:
        """Point the running proxy VNF at B2 (True) or back at B (False); returns when acked."""

    def memory_pids(self, instance: Instance) -> Sequence[int]:
        """Host processes whose memory is the instance's (for PSS attribution)."""


@runtime_checkable
class EngineMemory(Protocol):
    """Optional: a backend whose engine accounts each instance's memory itself.

    A container's cgroup, a domain's balloon statistics: the engine's own view, which PSS of
    host processes cannot give for instances that are more than processes. Backends that
    offer it get it recorded beside the host's before/after figure.
    """

    def engine_memory_mib(self, instances: Sequence[Instance]) -> list[float]:
        """Each instance's memory as the engine counts it, in MiB, in the order given."""


@runtime_checkable
class KernelMemory(Protocol):
    """Optional: a backend whose instances' memory the kernel (or hypervisor) accounts itself.

    The kernel's own count of everything the instances hold, kernel objects included, which
    neither PSS (processes only) nor the host's ``MemAvailable`` (everything on the host) is:
    a memory cgroup of the run (netns), each container's cgroup (coreos), each QEMU domain's
    cgroup (osv), the hypervisor's count per domain (clickos).
    """

    @property
    def kernel_memory_method(self) -> str | None:
        """How the figure is taken, for the record; None where this host cannot give it."""

    def kernel_memory_mib(self, instances: Sequence[Instance]) -> float:
        """What the kernel accounts for these running instances, in MiB.

        Raises:
            BackendError: it cannot be read (an instance is gone, no cgroup to read).
        """


@runtime_checkable
class ChargedKernelMemory(Protocol):
    """Optional: the kernel-memory part of ``KernelMemory``'s figure.

    Creating an instance also allocates kernel objects that no instance's cgroup is charged
    for (sysfs and procfs nodes of its devices, a veth the engine's daemon made in its own
    cgroup); the host's kernel counters grow by them. Telling them apart needs what the
    instances' cgroups were charged of kernel memory.
    """

    def charged_kernel_mib(self, instances: Sequence[Instance]) -> float:
        """The kernel memory charged to these instances' cgroups, in MiB.

        Raises:
            BackendError: it cannot be read.
        """


@runtime_checkable
class EngineProcesses(Protocol):
    """Optional: a backend whose engine runs host processes for its instances.

    An engine's memory is part of what an instance costs the host: a helper it starts per
    instance outside the instance's cgroup (Docker's ``containerd-shim``), and what its
    daemons grow by as they track more instances. Neither is in the instances' cgroups.
    """

    def engine_daemon_pids(self) -> Sequence[int]:
        """The engine's long-lived processes on this host (daemons), present or not."""

    def engine_helper_pids(self, instances: Sequence[Instance]) -> Sequence[int]:
        """Processes the engine runs for these instances outside their cgroups."""


@runtime_checkable
class IcmpEchoProxy(Protocol):
    """Optional: a backend whose proxy VNF carries ICMP echo from A to B and back.

    Algorithm 1 rewrites the destination of any IP packet, so a proxy that works on frames
    carries an echo request as it carries a UDP datagram, and host B's kernel answers it: the
    round trip then times the path alone, without the wake-ups of a user-space responder on B
    (and, through a user-space proxy, of the proxy once more). A proxy that relays UDP at the
    socket layer cannot. A backend that says True also keeps the proxy host's own kernel from
    answering the echo requests addressed to the proxy, so that every reply A gets is B's,
    carried back by the VNF. A backend without this member is taken not to carry ICMP echo.
    """

    @property
    def proxy_carries_icmp_echo(self) -> bool:
        """Whether echo sent to the proxy reaches B through the VNF, and only B answers it."""


@runtime_checkable
class ProxyVariants(Protocol):
    """Optional: a backend that runs a second variant (B) of its proxy VNF beside the first.

    Both stand at the same hop, one forwarding while the other is paused, so that a session
    can time A and B round by round under the same conditions (``--nfv-proxy-b``). B is
    started paused after A (``start_proxy``) and goes with it (``stop_proxy``).
    """

    def start_proxy_b(self, testbed: Testbed, variant: ProxyVariant) -> Instance:
        """Start variant B beside the running proxy VNF, paused.

        Raises:
            BackendError: A is not running, or B would not start.
        """

    def stop_proxy_b(self, proxy_b: Instance) -> None:
        """Stop variant B (A then forwards whenever the path is proxied)."""

    def use_proxy_b(self, testbed: Testbed, use: bool) -> None:
        """Make B (True) or A (False) the variant that forwards when the path is proxied; at
        once if it is proxied now, else from the next ``set_path(testbed, "proxy")``."""


@runtime_checkable
class BootDeadlines(Protocol):
    """Optional: a backend that knows its instances boot slowly on this host.

    A guest emulated by TCG needs seconds of host CPU to boot, and the guests already running
    take their share: how long ``starting`` new ones may take grows with them and shrinks
    with the host's CPUs. With ``--nfv-boot-timeout auto`` the deadline is the larger of
    this and the floor (60 s); a deadline the user gave is kept as given.
    """

    def boot_deadline_s(self, starting: int) -> float:
        """Seconds ``starting`` new instances may take to answer, beside those running now."""

    @property
    def boot_deadline_rule(self) -> str:
        """How ``boot_deadline_s`` is reckoned here, for the report header."""


@runtime_checkable
class HostCapacity(Protocol):
    """Optional: a backend that knows, before it opens, how many instances this host holds.

    Guests emulated by TCG take CPU even idle: past some N the host has none left to boot or
    measure with, and every larger N only fails. When the user did not choose N, the default
    list stops at this many, and the header says why.
    """

    def most_instances(self) -> tuple[int, str] | None:
        """The largest N worth running here and why; None: no limit known."""


@runtime_checkable
class ProbeInterval(Protocol):
    """Optional: a backend whose instances want a slower readiness probe than the default.

    VMs that take seconds to boot gain nothing from the default sub-millisecond pace, and on a
    small host the flood of echo requests (one per waiting instance per interval, from a
    real-time prober) takes CPU from the very guests being timed. Backends without it are
    probed at the prober's default interval.
    """

    @property
    def probe_interval_s(self) -> float:
        """Seconds between two echo requests to one waiting instance."""


@runtime_checkable
class BudgetChoice(Protocol):
    """Optional: a backend that knows better than its name which shipped budgets fit.

    The paper's figures hold for what the paper ran: OSv on KVM, ClickOS on Xen. Where the
    backend runs something else (a stand-in guest, an emulated CPU), its name's default
    budgets would judge it by figures it was never meant to meet. The plugin asks once when
    the session is configured (from cheap checks) and again once the backend is open and
    knows what runs; ``--nfv-budgets`` overrides both.
    """

    def budget_choice(self) -> tuple[Path, str] | None:
        """The budgets file that fits and why; None: the backend's default budgets."""


@runtime_checkable
class Consoles(Protocol):
    """Optional: a backend whose instances have a console the host can read.

    A VM that never answers says why on its console (a kernel panic, a program it could not
    load, an address it took that nobody planned), and the console goes with the domain: a
    failure's message carries its last lines, read before the instance is stopped.
    """

    def console_tail(self, instance: Instance, lines: int = 20) -> str | None:
        """The last ``lines`` lines of the instance's console; None if there is none."""


@runtime_checkable
class Migratable(Protocol):
    """Optional: a backend that can say whether, and how, it moves a running instance.

    The paper's case for ClickOS against CoreOS rests on migration; a backend that declares
    this is measured moving its proxy VNF while traffic flows through it. One that cannot move
    instances on this host (no working CRIU) or where moving means nothing (a namespace's
    process) says why in ``migration_block``, and the figure is "not measured" with that
    reason rather than missing.
    """

    def migration_block(self) -> str | None:
        """Why this backend cannot move instances here (after ``open``); None: it can."""

    def migrate_live(
        self, instance: Instance, on_progress: ProgressCallback | None = None
    ) -> LiveMigration:
        """Move ``instance`` while it runs; returns the engine's figures and the moved instance.

        A move that fails half-way leaves no destination behind, and the source running (or
        stopped and released, and the error says so).

        Raises:
            BackendUnavailable: ``migration_block`` gives a reason, or this host cannot move
                an instance live though it can save and restore one (the reason says why).
            BackendError: the move failed.
        """

    def save_restore(self, instance: Instance) -> ColdMigration:
        """Save ``instance`` to a file, restore it from that file; the figures of both.

        Raises:
            BackendUnavailable: ``migration_block`` gives a reason.
            BackendError: saving or restoring failed (a saved instance not restored is gone).
        """


def echo_protocol(backend: object, choice: str) -> EchoProtocol:
    """What the testbed's timed requests are for the user's ``choice`` (``ECHO_CHOICES``).

    ``auto``: ICMP echo answered by B's kernel where the backend's proxy carries it, else UDP
    to B's echo responder; ``udp``: UDP on every backend (one protocol to compare them on).

    Raises:
        NfvUsageError: ``icmp`` on a backend whose proxy does not carry it, or an unknown choice.
    """
    if choice not in ECHO_CHOICES:
        raise NfvUsageError(f"{choice!r} is not one of {', '.join(ECHO_CHOICES)}")
    carries = isinstance(backend, IcmpEchoProxy) and backend.proxy_carries_icmp_echo
    if choice == "udp" or (choice == "auto" and not carries):
        return "udp"
    if not carries:
        name = getattr(backend, "name", type(backend).__name__)
        raise NfvUsageError(
            f"icmp: the {name} backend's proxy VNF does not carry ICMP echo to host B; "
            "use auto or udp (UDP to host B's echo responder)"
        )
    return "icmp"
