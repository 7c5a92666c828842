"""What the coreos backend's containers cost in memory, and who else holds memory for them.

Kept apart from the container lifecycle: these only read (the containers' cgroups, the
engine's stats, the processes around them), and each reading is one of the memory
protocols of ``backends.base`` (``KernelMemory``, ``ChargedKernelMemory``,
``EngineProcesses``) that the backend answers by calling these.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from pytest_nfv.backends.coreos.containers import Held
from pytest_nfv.errors import BackendError
from pytest_nfv.host.cgroups import Hierarchy, cgroup_of_process, memory_hierarchy
from pytest_nfv.model import Instance
from pytest_nfv.units import MIB

__all__ = [
    "ENGINE_DAEMONS",
    "SHIM_PREFIX",
    "engine_helper_pids",
    "engine_memory_mib",
    "kernel_memory_method",
    "memory_pids",
    "sum_over_cgroups",
]

ENGINE_DAEMONS = ("dockerd", "containerd")
SHIM_PREFIX = "containerd-shim"
"""Docker runs one shim per container (``containerd-shim-runc-v2``) as its main process's parent."""


def memory_pids(instance: Instance) -> list[int]:
    """The container's main process and its descendants, as this host sees them."""
    import psutil

    pids = []
    for pid in instance.pids:
        with contextlib.suppress(psutil.NoSuchProcess):
            pids += [pid, *(c.pid for c in psutil.Process(pid).children(recursive=True))]
    return pids


def kernel_memory_method() -> str | None:
    hierarchy = memory_hierarchy()
    if hierarchy is None:
        return None
    return (
        f"sum over the containers' memory cgroups of {hierarchy.usage_file} less inactive "
        "page cache, kernel memory included"
    )


def sum_over_cgroups(
    helds: Sequence[Held | None],
    instances: Sequence[Instance],
    read: Callable[[Path, Hierarchy], int],
) -> float:
    """``read`` of each container's own cgroup (its process says where), summed, in MiB.

    Read from the cgroup's files (the engine's cgroup driver names them), not from the
    engine's stats call, which takes a second each.

    Raises:
        BackendError: no memory controller, or a container is gone.
    """
    hierarchy = memory_hierarchy()
    if hierarchy is None:
        raise BackendError("no memory cgroup controller on this host")
    total = 0
    for held, instance in zip(helds, instances, strict=True):
        if held is None or not held.pid:
            raise BackendError(f"{instance.name} is not running here")
        total += read(cgroup_of_process(held.pid, hierarchy), hierarchy)
    return total / MIB


def engine_helper_pids(instances: Sequence[Instance]) -> list[int]:
    """Each container's ``containerd-shim``, the parent of its main process, which lives in
    the daemon's cgroup, not the container's."""
    import psutil

    found = []
    for instance in instances:
        for pid in instance.pids:
            with contextlib.suppress(psutil.NoSuchProcess):
                parent = psutil.Process(pid).parent()
                if parent is not None and parent.name().startswith(SHIM_PREFIX):
                    found.append(parent.pid)
    return found


def engine_memory_mib(api: Any, held: Held | None, instance: Instance) -> float:
    """One container's own memory as its cgroup counts it, from the engine's stats.

    Computed as ``docker stats`` does: usage minus inactive page cache.

    Raises:
        BackendError: the container is not running, or the engine reports no usage.
    """
    if held is None:
        raise BackendError(f"{instance.name} is not running")
    try:
        stats = api.stats(held.container_id, stream=False, one_shot=True)
    except Exception as exc:
        raise BackendError(f"cannot read stats of {held.name}: {exc}") from exc
    memory = stats.get("memory_stats", {})
    usage = float(memory.get("usage", 0))
    detail = memory.get("stats", {})
    inactive = float(detail.get("total_inactive_file", detail.get("inactive_file", 0)))
    if not usage:
        raise BackendError(f"the engine reports no memory usage for {held.name}")
    return (usage - inactive if inactive < usage else usage) / MIB
