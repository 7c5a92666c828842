"""The paper's experiments, each as one round that returns plain numbers.

A ``Lab`` joins a backend to the probes. Its methods are single rounds; repetition belongs
to ``repeat.repeat_until_converged`` and judgement to ``budgets``, so each of the three can be
read (and tested) on its own. The instances' rounds (boot, memory, growth) are here; the
testbed's (deployment, reconfiguration, response time through the proxy VNF) are
``harness.proxy_path``'s, which runs on a lab's backend.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import NamedTuple

from pytest_nfv.backends.base import (
    Backend,
    BootDeadlines,
    Consoles,
    EngineMemory,
    KernelMemory,
)
from pytest_nfv.errors import BootTimeout, ProbeError
from pytest_nfv.harness.host_spend import HostSpend, host_spend, spend_baseline, spend_method
from pytest_nfv.harness.probes.icmp import EchoProber
from pytest_nfv.harness.probes.memory import pss_mib, settled_available_mib
from pytest_nfv.host.cpus import harness_cpus, pinned_thread
from pytest_nfv.model import Instance, InstanceSpec

__all__ = [
    "BootRound",
    "GrowthPoint",
    "Lab",
    "MemoryRound",
    "console_tail",
    "instance_memory_mib",
]


@dataclass(frozen=True)
class BootRound:
    """One boot of N instances started together.

    ``makespan_s`` runs from the first start request to the last first-reply; each
    ``per_instance_s`` from that instance's own start request to its own first reply.
    """

    makespan_s: float
    per_instance_s: tuple[float, ...]
    resolution_s: float = 0.0
    """Longest gap between probes of a waiting instance: no figure here is finer than this."""
    answer_gap_s: float = 0.0
    """Largest gap before the probe an instance first answered (within ``resolution_s``)."""
    prober_cpu_share: float = 0.0
    """The prober's CPU over the round, as a share of one core (its own clock: ``probes.icmp``)."""


@dataclass(frozen=True)
class MemoryRound:
    """Host memory consumed by N running instances, and their processes' PSS.

    ``engine_mib`` is each instance's memory as the engine itself counts it (a container's
    cgroup), for backends that offer it (``EngineMemory``); empty otherwise.
    """

    host_delta_mib: float
    pss_mib: float
    engine_mib: tuple[float, ...] = ()
    kernel_mib: float | None = None
    """What the kernel accounts for the N running instances (``KernelMemory`` backends),
    kernel objects included; None for other backends."""


def instance_memory_mib(backend: Backend, instances: Sequence[Instance]) -> float:
    """What the instances themselves hold: their host processes' PSS.

    Instances with no host process at all (a Xen domain) have no PSS; for them the engine's
    own accounting (``EngineMemory``) is the only per-instance figure there is.
    """
    pids = [pid for i in instances for pid in backend.memory_pids(i)]
    if not pids and instances and isinstance(backend, EngineMemory):
        return float(sum(backend.engine_memory_mib(instances)))
    return pss_mib(pids)


class Lab:
    """The harness for one backend: boots, memory, and the proxy testbed.

    Args:
        backend: an opened backend.
        prober: a running ``EchoProber`` in ``backend.probe_netns``.
        boot_timeout_s: how long N instances may take to answer before ``BootTimeout``.
        progress: told each step of a boot (``5 of 16 instances answered``), for a person
            watching a round that takes a minute; it must not block.
    """

    def __init__(
        self,
        backend: Backend,
        prober: EchoProber,
        boot_timeout_s: float,
        progress: Callable[[str], None] | None = None,
        backend_deadlines: bool = False,
    ) -> None:
        self.backend = backend
        self.prober = prober
        self.boot_timeout_s = boot_timeout_s
        self.progress = progress
        self.backend_deadlines = backend_deadlines

    def boot_deadline_s(self, starting: int) -> float:
        """How long ``starting`` new instances may take: ``boot_timeout_s``, or the backend's
        longer deadline for them where it has one and ``backend_deadlines`` lets it."""
        if self.backend_deadlines and isinstance(self.backend, BootDeadlines):
            return max(self.boot_timeout_s, self.backend.boot_deadline_s(starting))
        return self.boot_timeout_s

    def boot(self, specs: Sequence[InstanceSpec]) -> tuple[list[Instance], BootRound]:
        """Start ``specs`` together, probing each from its start request to its first reply.

        Raises:
            BootTimeout: some never answered (those started are stopped first).
            BackendError: the engine refused a start; the backend has stopped what it had
                started and freed every address of ``specs``, and the prober waits no more.
        """
        deadline_s = self.boot_deadline_s(len(specs))
        self.prober.begin(deadline_s)
        first_request: list[int] = []
        report = self.progress
        total = len(specs)
        requested = 0

        def on_start(spec: InstanceSpec) -> None:
            nonlocal requested
            if not first_request:
                first_request.append(time.time_ns())
            self.prober.started(spec.address)
            requested += 1
            if report is not None:
                report(f"{requested} of {total} instances started")

        def on_reply(answered: int) -> None:
            if report is not None:
                report(f"{answered} of {total} instances answered")

        try:
            # The starts run on the path's CPU, off the prober's (see host.cpus).
            with pinned_thread(harness_cpus().path):
                instances = self.backend.start(specs, on_start)
        except BaseException:
            # The backend took back what it started; do not wait out the timeout for
            # addresses that were announced but never came up.
            with contextlib.suppress(ProbeError):
                self.prober.cancel()
            raise
        result = self.prober.finish(on_reply)
        if result.unanswered or len(result.replies_ns) < len(instances):
            silent = [i for i in instances if i.address in set(result.unanswered)]
            console = console_tail(self.backend, silent[0]) if silent else ""
            self.backend.stop(instances)
            shown = ", ".join(str(a) for a in result.unanswered[:5])
            raise BootTimeout(
                f"{len(result.unanswered)} of {len(specs)} instances did not answer "
                f"ICMP echo within {deadline_s:.0f} s ({shown}){console}"
            )
        per_instance = tuple((result.replies_ns[i.address] - i.start_ns) / 1e9 for i in instances)
        makespan = (max(result.replies_ns.values()) - first_request[0]) / 1e9
        return instances, BootRound(
            makespan,
            per_instance,
            result.max_probe_gap_s,
            result.resolution_s,
            result.prober_cpu_share,
        )

    def start_ready(self, n: int) -> list[Instance]:
        """N new instances, started together and all answering; the caller stops them."""
        instances, _ = self.boot(self.backend.plan(n))
        return instances

    def boot_round(self, n: int) -> BootRound:
        """Start N instances together, time them to their first echo reply, stop them."""
        instances, round_ = self.boot(self.backend.plan(n))
        self.backend.stop(instances)
        return round_

    @contextlib.contextmanager
    def running(self, n: int) -> Iterator[list[Instance]]:
        """N instances, started and answering, for as long as the body runs."""
        instances, _ = self.boot(self.backend.plan(n))
        try:
            yield instances
        finally:
            self.backend.stop(instances)

    def _pss(self, instances: Sequence[Instance]) -> float:
        return instance_memory_mib(self.backend, instances)

    def _engine(self, instances: Sequence[Instance]) -> tuple[float, ...]:
        if not isinstance(self.backend, EngineMemory):
            return ()
        return tuple(self.backend.engine_memory_mib(instances))

    def _kernel(self, instances: Sequence[Instance]) -> float | None:
        if not isinstance(self.backend, KernelMemory) or self.kernel_memory_method is None:
            return None
        return self.backend.kernel_memory_mib(instances)

    @property
    def kernel_memory_method(self) -> str | None:
        """How the kernel's figure of the instances' memory is taken; None where there is none."""
        if not isinstance(self.backend, KernelMemory):
            return None
        return self.backend.kernel_memory_method

    @property
    def host_spend_method(self) -> str | None:
        """How the figure of what the host spends for the instances is made (``memory_growth``);
        None where the kernel does not account them."""
        method = self.kernel_memory_method
        return None if method is None else spend_method(self.backend, method)

    @property
    def counts_kernel_memory(self) -> bool:
        """Whether the kernel (or hypervisor) accounts the backend's instances' memory here."""
        return self.kernel_memory_method is not None

    def memory_round(self, n: int) -> MemoryRound:
        """Available memory before, N instances up and answering, available memory after;
        what the kernel accounts for the N instances while they run."""
        before = settled_available_mib()
        with self.running(n) as instances:
            after = settled_available_mib()
            kernel = self._kernel(instances)
            pss = self._pss(instances)
            engine = self._engine(instances)
        return MemoryRound(before - after, pss, engine, kernel)

    def memory_growth(self, counts: Sequence[int]) -> list[GrowthPoint]:
        """Grow one population through ``counts`` (ascending), reading memory at each step.

        Returns a ``GrowthPoint`` per step: the points a per-instance slope is fitted to,
        taken in one pass so that every point shares the same baseline. Where the kernel
        accounts the instances, the figure is what the host spends for them
        (``harness.host_spend``: the instances' cgroups and the engine's per-instance cost),
        and the engine's own count (the same cgroups through a slower API) is not read again.
        """
        points: list[GrowthPoint] = []
        started: list[Instance] = []
        by_kernel = self.counts_kernel_memory
        baseline = settled_available_mib()
        since = spend_baseline(self.backend) if by_kernel else None
        try:
            for count in sorted(set(counts)):
                more, _ = self.boot(self.backend.plan(count - len(started)))
                started += more
                now = settled_available_mib()
                kernel = self._kernel(started)
                spend = (
                    host_spend(self.backend, started, kernel, since)
                    if kernel is not None and since is not None
                    else None
                )
                pss = self._pss(started)
                engine = () if by_kernel else self._engine(started)
                points.append(
                    GrowthPoint(
                        count,
                        baseline - now,
                        pss,
                        sum(engine) if engine else None,
                        spend.total_mib if spend is not None else kernel,
                        spend,
                    )
                )
        finally:
            self.backend.stop(started)
        return points


def console_tail(backend: Backend, instance: Instance) -> str:
    """The end of ``instance``'s console, as lines to append to a failure's message; empty
    where the backend keeps none (``Consoles``)."""
    if not isinstance(backend, Consoles):
        return ""
    tail = backend.console_tail(instance)
    if not tail:
        return ""
    indented = "\n".join(f"    {line}" for line in tail.splitlines())
    return f"\nthe console of {instance.spec.name} ends:\n{indented}"


class GrowthPoint(NamedTuple):
    """One step of ``Lab.memory_growth`` (MiB); a field is None where it is not counted."""

    n: int
    host_mib: float
    """The host's ``MemAvailable`` drop since before the population."""
    pss_mib: float
    """The instances' own processes."""
    engine_mib: float | None
    """The instances as their engine counts them."""
    kernel_mib: float | None
    """What the host spends for the instances, kernel-accounted where it can be: the total of
    ``spend`` where there is one."""
    spend: HostSpend | None = None
    """``kernel_mib`` by part."""
