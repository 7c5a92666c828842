"""What the host spends for N running instances, and where it goes.

Capacity planning asks how many instances fit on a host, so the memory figure must count
everything the host spends for them, not only what their own cgroups hold. An engine spends
beside its instances: a helper process per instance outside the instance's cgroup (Docker's
``containerd-shim``), the growth of its daemons as they track more instances, and kernel
objects that no instance's cgroup is charged for (a veth a daemon created in its own cgroup,
sysfs and procfs nodes the kernel allocates without charging). The figure adds them to the
instances' own, each by the best count there is:

- **instances**: what the kernel charges to the instances' cgroups (``KernelMemory``);
- **engine helpers**: the PSS of the engine's per-instance processes (``EngineProcesses``):
  they sit in a cgroup shared with the rest of the host, so no cgroup counter can single
  them out;
- **engine daemons' growth**: the PSS of the engine's daemons now, less before the first
  instance of the population started;
- **kernel memory charged to no instance**: the growth of the host's unreclaimable kernel
  allocations (``/proc/meminfo``) since then, less the kernel memory the instances' cgroups
  were charged (``ChargedKernelMemory``). With the instances' part, the kernel side of the
  figure is thus the host's own growth: reclaimable caches a cgroup was charged for cancel
  out, as the kernel gives them back under pressure. It is never taken below zero: the first
  instances of a population fill slab pages the kernel already had, so the host's counters
  grow less than the instances' cgroups are charged until the kernel needs new pages, and a
  negative difference would take from the instances memory they do hold. It is a
  difference of host-wide readings, and resolves per instance over tens of instances.

The engine's daemons before the population (its fixed cost) are kept beside the figure and
not in it: they are paid once, not per instance. The last two parts are differences of
host-wide readings: on a busy host they carry the rest of the host's movement, which is why
the figure is meant for an idle one and its parts stay in the record.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from pytest_nfv.backends.base import Backend, ChargedKernelMemory, EngineProcesses
from pytest_nfv.harness.probes.memory import settled_host_kernel_mib
from pytest_nfv.model import Instance
from pytest_nfv.units import MIB

__all__ = ["HostSpend", "SpendBaseline", "host_spend", "spend_baseline", "spend_method"]

INSTANCES = "instances"
HELPERS = "engine helpers"
DAEMONS_GROWTH = "engine daemons' growth"
KERNEL_OUTSIDE = "kernel memory charged to no instance"
ENGINE_FIXED = "engine daemons before (fixed, not in the figure)"


@dataclass(frozen=True)
class SpendBaseline:
    """The host before a population's first instance starts."""

    host_kernel_mib: float
    daemons_mib: float


@dataclass(frozen=True)
class HostSpend:
    """What N running instances cost the host, by part (MiB); None: not counted here."""

    instances_mib: float
    helpers_mib: float | None
    daemons_growth_mib: float | None
    kernel_outside_mib: float | None
    engine_fixed_mib: float | None

    @property
    def engine_per_instance_mib(self) -> float:
        """The engine's share: everything in the figure beside the instances' own."""
        parts = (self.helpers_mib, self.daemons_growth_mib, self.kernel_outside_mib)
        return sum(part for part in parts if part is not None)

    @property
    def total_mib(self) -> float:
        """The figure: the instances and what the engine spends for them."""
        return self.instances_mib + self.engine_per_instance_mib

    def parts(self) -> dict[str, float]:
        """The counted parts by name, the fixed cost last; they add up to ``total_mib`` with
        the fixed cost left out."""
        named = {
            INSTANCES: self.instances_mib,
            HELPERS: self.helpers_mib,
            DAEMONS_GROWTH: self.daemons_growth_mib,
            KERNEL_OUTSIDE: self.kernel_outside_mib,
            ENGINE_FIXED: self.engine_fixed_mib,
        }
        return {name: value for name, value in named.items() if value is not None}


def _pss_mib(pids: Sequence[int]) -> float:
    """Sum of PSS of the processes still there: a daemon may restart, a helper may exit."""
    import psutil

    total = 0
    for pid in pids:
        try:
            total += psutil.Process(pid).memory_full_info().pss
        except (psutil.NoSuchProcess, psutil.ZombieProcess, psutil.AccessDenied):
            continue
    return total / MIB


def spend_baseline(backend: Backend) -> SpendBaseline:
    """Read the host before a population starts (after the last one's teardown settled)."""
    daemons = _pss_mib(backend.engine_daemon_pids()) if isinstance(backend, EngineProcesses) else 0
    return SpendBaseline(settled_host_kernel_mib(), daemons)


def host_spend(
    backend: Backend, instances: Sequence[Instance], instances_mib: float, since: SpendBaseline
) -> HostSpend:
    """What ``instances`` (the whole running population) cost the host now.

    Args:
        backend: the backend that runs them.
        instances: every running instance of the population ``since`` was read before.
        instances_mib: the kernel's count of the instances' own cgroups.
        since: the reading before the population's first instance started.

    Raises:
        BackendError: a cgroup cannot be read.
    """
    helpers = daemons_growth = fixed = kernel_outside = None
    if isinstance(backend, EngineProcesses):
        helpers = _pss_mib(backend.engine_helper_pids(instances))
        daemons_growth = _pss_mib(backend.engine_daemon_pids()) - since.daemons_mib
        fixed = since.daemons_mib
    if isinstance(backend, ChargedKernelMemory):
        kernel_growth = settled_host_kernel_mib() - since.host_kernel_mib
        kernel_outside = max(0.0, kernel_growth - backend.charged_kernel_mib(instances))
    return HostSpend(instances_mib, helpers, daemons_growth, kernel_outside, fixed)


def spend_method(backend: Backend, instances_method: str) -> str:
    """How the figure is made on this backend, for the record."""
    parts = [f"instances: {instances_method}"]
    if isinstance(backend, EngineProcesses):
        parts += [
            "engine helpers: PSS of the engine's per-instance processes outside the instances' "
            "cgroups",
            "engine daemons' growth: PSS of the engine's daemons less before the population",
        ]
    if isinstance(backend, ChargedKernelMemory):
        parts.append(
            "kernel memory charged to no instance: growth of the host's unreclaimable kernel "
            "allocations (/proc/meminfo SUnreclaim, KernelStack, PageTables, Percpu) since "
            "before the population, less the kernel memory charged to the instances' cgroups, "
            "never below zero"
        )
    else:
        parts.append("kernel memory charged to no instance: not counted on this backend")
    return "; ".join(parts)
