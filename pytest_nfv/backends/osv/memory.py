"""What the osv backend's domains cost in memory: their cgroups, as the kernel charges them.

Kept apart from the domains' lifecycle: these only read. Each domain's QEMU runs in a
memory cgroup libvirt made for it; guest RAM the guest touched, QEMU's own heap and kernel
memory (page tables, the tap) are charged there.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from pytest_nfv.errors import BackendError
from pytest_nfv.host.cgroups import Hierarchy, cgroup_of_process, memory_hierarchy
from pytest_nfv.model import Instance
from pytest_nfv.units import MIB

__all__ = ["ENGINE_DAEMONS", "kernel_memory_method", "sum_over_domains"]

ENGINE_DAEMONS = ("libvirtd", "virtqemud", "virtlogd")


def kernel_memory_method(local: bool) -> str | None:
    """How ``sum_over_domains`` reads, for the record; None where it cannot (a remote URI)."""
    hierarchy = memory_hierarchy()
    if hierarchy is None or not local:
        return None
    return (
        f"sum over the domains' memory cgroups from libvirt of {hierarchy.usage_file} less "
        "inactive page cache, kernel memory included"
    )


def sum_over_domains(
    instances: Sequence[Instance], read: Callable[[Path, Hierarchy], int]
) -> float:
    """``read`` of each domain's cgroup (libvirt's, holding its QEMU), summed, in MiB.

    On a host where libvirt split the domain's memory cgroup into ``emulator`` and vCPU
    cgroups, the domain's is their parent.

    Raises:
        BackendError: no memory controller, or a domain's QEMU is gone.
    """
    hierarchy = memory_hierarchy()
    if hierarchy is None:
        raise BackendError("no memory cgroup controller on this host")
    total = 0
    for instance in instances:
        if not instance.pids:
            raise BackendError(f"{instance.name} has no QEMU process this host can see")
        path = cgroup_of_process(instance.pids[0], hierarchy)
        if path.name == "emulator":
            path = path.parent
        total += read(path, hierarchy)
    return total / MIB
