"""Host memory: what N instances cost, two ways.

The paper's method is the host's available memory before and after instantiation; it sees
everything (kernel objects of namespaces and veths, engine daemons, page cache pressure) but is
noisy. Proportional set size (PSS) of each instance's processes attributes shared pages fairly
and is exact for what it covers, but misses kernel memory. Reporting both lets a reader see how
much of the cost is the instance's own processes.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from pathlib import Path

import psutil

from pytest_nfv.errors import ProbeError
from pytest_nfv.units import MIB

__all__ = [
    "HOST_KERNEL_FIELDS",
    "available_mib",
    "host_kernel_mib",
    "pss_mib",
    "settled_available_mib",
    "settled_host_kernel_mib",
]

HOST_KERNEL_FIELDS = ("SUnreclaim", "KernelStack", "PageTables", "SecPageTables", "Percpu")
"""``/proc/meminfo`` fields that hold the kernel's own allocations, host-wide: what a cgroup's
kernel memory counter charges. Reclaimable slab (dentry and inode caches) is left out: the
kernel gives it back under pressure, so it does not limit how many instances fit, and the
host's ``MemAvailable`` counts it as available too. ``VmallocUsed`` is left out as well:
vmapped stacks are in ``KernelStack`` already."""


def available_mib() -> float:
    """``MemAvailable`` of the host, in MiB."""
    return float(psutil.virtual_memory().available) / MIB


def settled_available_mib(
    tolerance_mib: float = 0.5, timeout_s: float = 3.0, pause_s: float = 0.05
) -> float:
    """``MemAvailable`` once two reads ``pause_s`` apart agree within ``tolerance_mib``.

    Tearing down namespaces frees memory asynchronously (the kernel's netns cleanup work);
    reading before that settles would charge the previous round's leftovers to the next one.
    Returns the last read when the timeout passes; the caller's statistics show the noise.
    """
    previous = available_mib()
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        time.sleep(pause_s)
        current = available_mib()
        if abs(current - previous) <= tolerance_mib:
            return current
        previous = current
    return previous


def host_kernel_mib(meminfo: Path = Path("/proc/meminfo")) -> float:
    """The kernel's own allocations host-wide (``HOST_KERNEL_FIELDS``), in MiB.

    Raises:
        ProbeError: the file cannot be read.
    """
    try:
        lines = meminfo.read_text().splitlines()
    except OSError as exc:
        raise ProbeError(f"cannot read {meminfo}: {exc}") from exc
    total_kib = 0
    for line in lines:
        name, _, value = line.partition(":")
        if name in HOST_KERNEL_FIELDS:
            total_kib += int(value.split()[0])
    return total_kib / 1024


def settled_host_kernel_mib(tolerance_mib: float = 0.25, timeout_s: float = 3.0) -> float:
    """``host_kernel_mib`` once two reads 50 ms apart agree within ``tolerance_mib``: the
    kernel frees a torn-down namespace's objects in its own time."""
    previous = host_kernel_mib()
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        time.sleep(0.05)
        current = host_kernel_mib()
        if abs(current - previous) <= tolerance_mib:
            return current
        previous = current
    return previous


def pss_mib(pids: Iterable[int]) -> float:
    """Sum of the PSS of ``pids``, in MiB.

    Raises:
        ProbeError: a process vanished or cannot be read (its memory would be missing).
    """
    total = 0
    for pid in pids:
        try:
            total += psutil.Process(pid).memory_full_info().pss
        except (psutil.NoSuchProcess, psutil.ZombieProcess) as exc:
            raise ProbeError(f"instance process {pid} vanished before its memory was read") from exc
        except psutil.AccessDenied as exc:
            raise ProbeError(f"no permission to read /proc/{pid}/smaps_rollup") from exc
    return total / MIB
