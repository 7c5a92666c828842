"""A memory cgroup per run, so the kernel itself says what the run's instances cost.

The host's ``MemAvailable`` moves with anything else on the host by far more than a
namespace with a veth costs (benchmarks/RESULTS.md, "Memory of N netns instances, by the
run's cgroup"), and that cost is almost all kernel memory (the namespace's
structures, the veth pair, sysctl tables). A memory cgroup charges exactly what its tasks
allocate, kernel objects included, so instances created by a task inside the run's cgroup are
measured by the kernel's own counter:

- cgroup v1 (a separate ``memory`` hierarchy): ``memory.usage_in_bytes``, which includes kernel
  memory. Only the creating *thread* is moved in (v1 tasks are threads): kernel objects it
  allocates and the processes it forks are charged there. Anonymous pages go to the cgroup of
  the address space's owner, so the harness's own heap growth is charged there too while its
  main thread creates instances (little in a warm process, more in its first rounds).
  The counter is read after ``memory.force_empty``, which drains the per-CPU charge stock (up
  to 64 pre-charged pages per CPU: on a few CPUs, more fuzz than one instance costs);
  with no swap it can only drop page cache.
- cgroup v2: ``memory.current``; v2 moves whole processes, so the run's process is moved in
  while it creates instances. Tested here only up to that boundary: this host has v1.

A backend may give each population of instances a fresh cgroup inside the run's (``child``):
tearing namespaces down is asynchronous, and what an earlier population still held while the
kernel's cleanup work ran would otherwise be counted against the next one.

Each cgroup is named after the run (``nfv-<run>-p<pid>-mem``) like every other resource, so a
run killed with SIGKILL leaves a cgroup the next run's reap removes (``reap_cgroups``).
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from pytest_nfv.errors import BackendError
from pytest_nfv.host.identity import PREFIX, RunIdentity
from pytest_nfv.host.reap import CleanupReport, ReapRule
from pytest_nfv.units import MIB

__all__ = [
    "MemoryCgroup",
    "cgroup_of_process",
    "kernel_bytes",
    "memory_hierarchy",
    "pss_anon_bytes",
    "reap_cgroups",
    "working_set_bytes",
]

CGROUP_ROOT = Path(os.environ.get("PYTEST_NFV_CGROUP_ROOT", "/sys/fs/cgroup"))


@dataclass(frozen=True)
class Hierarchy:
    """Where memory cgroups live on this host, and which interface they speak."""

    root: Path
    version: int

    @property
    def usage_file(self) -> str:
        return "memory.usage_in_bytes" if self.version == 1 else "memory.current"

    @property
    def members_file(self) -> str:
        """Where a task is written to join: threads in v1, processes in v2."""
        return "tasks" if self.version == 1 else "cgroup.procs"


def memory_hierarchy(base: Path | None = None) -> Hierarchy | None:
    """The host's memory controller: v1 hierarchy, v2 with memory enabled, or None."""
    base = CGROUP_ROOT if base is None else base
    if (base / "memory" / "memory.usage_in_bytes").is_file():
        return Hierarchy(base / "memory", 1)
    try:
        enabled = (base / "cgroup.subtree_control").read_text().split()
    except OSError:
        return None
    return Hierarchy(base, 2) if "memory" in enabled else None


def _current_cgroup(hierarchy: Hierarchy) -> Path:
    """The cgroup of the calling thread in ``hierarchy`` (to return to after charging)."""
    return _memory_cgroup_in(Path("/proc/thread-self/cgroup").read_text(), hierarchy)


def _memory_cgroup_in(proc_cgroup: str, hierarchy: Hierarchy) -> Path:
    """The memory cgroup named by a ``/proc/<pid>/cgroup`` text, under ``hierarchy.root``."""
    for line in proc_cgroup.splitlines():
        _, controllers, path = line.split(":", 2)
        if (hierarchy.version == 1 and "memory" in controllers.split(",")) or (
            hierarchy.version == 2 and controllers == ""
        ):
            return hierarchy.root / path.lstrip("/")
    return hierarchy.root


def pss_anon_bytes(pids: Sequence[int]) -> int:
    """The anonymous memory of these processes, shared pages split among sharers, in bytes.

    Raises:
        BackendError: a process is gone or cannot be read.
    """
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/smaps_rollup") as rollup:
                for line in rollup:
                    if line.startswith("Pss_Anon:"):
                        total += int(line.split()[1]) * 1024
                        break
        except (OSError, ValueError) as exc:
            raise BackendError(f"cannot read the memory of process {pid}: {exc}") from exc
    return total


def cgroup_of_process(pid: int, hierarchy: Hierarchy) -> Path:
    """The memory cgroup process ``pid`` is charged to (a container's, a QEMU domain's).

    Read from ``/proc/<pid>/cgroup``, so it holds whatever names the engine's cgroup driver
    gives (``docker/<id>``, ``machine/<domain>.libvirt-qemu``, ``machine.slice/...``).

    Raises:
        BackendError: the process is gone or its cgroup is not under ``hierarchy``.
    """
    try:
        path = _memory_cgroup_in(Path(f"/proc/{pid}/cgroup").read_text(), hierarchy)
    except OSError as exc:
        raise BackendError(f"cannot read the cgroup of process {pid}: {exc}") from exc
    if path == hierarchy.root or not (path / hierarchy.usage_file).is_file():
        raise BackendError(f"process {pid} has no memory cgroup of its own under {hierarchy.root}")
    return path


def working_set_bytes(path: Path, hierarchy: Hierarchy) -> int:
    """What the kernel charges to cgroup ``path`` less its inactive page cache, in bytes.

    The usage counter (kernel memory included) minus file pages nobody used lately, as
    ``docker stats`` shows a container: a binary's pages are charged to whichever instance
    read them first, and are dropped under pressure before anything an instance holds. The
    counter is read as it is (an engine's cgroup is not ours to reclaim with
    ``memory.force_empty``), so it may hold up to 64 pages per CPU charged ahead.

    Raises:
        BackendError: the cgroup cannot be read (it is gone, or is not a memory cgroup).
    """
    inactive_key = "total_inactive_file" if hierarchy.version == 1 else "inactive_file"
    try:
        usage = int((path / hierarchy.usage_file).read_text())
        stat = dict(
            line.split(maxsplit=1) for line in (path / "memory.stat").read_text().splitlines()
        )
        inactive = int(stat.get(inactive_key, "0"))
    except (OSError, ValueError) as exc:
        raise BackendError(f"cannot read memory of cgroup {path}: {exc}") from exc
    return usage - inactive if inactive < usage else usage


V2_KERNEL_PARTS = ("kernel_stack", "pagetables", "percpu", "sock", "slab", "vmalloc")
"""cgroup v2 ``memory.stat`` fields that add up to ``kernel`` on kernels that lack that field."""


def kernel_bytes(path: Path, hierarchy: Hierarchy) -> int:
    """The kernel memory charged to cgroup ``path`` (slab, stacks, page tables), in bytes.

    What the cgroup's usage holds beside its tasks' pages: the part the host's own kernel
    counters (``/proc/meminfo``) also show, so that kernel memory charged to no instance can
    be told from the host's growth (``harness.host_spend``).

    Raises:
        BackendError: the cgroup cannot be read.
    """
    try:
        if hierarchy.version == 1:
            return int((path / "memory.kmem.usage_in_bytes").read_text())
        stat = dict(
            line.split(maxsplit=1) for line in (path / "memory.stat").read_text().splitlines()
        )
        if "kernel" in stat:
            return int(stat["kernel"])
        return sum(int(stat.get(part, "0")) for part in V2_KERNEL_PARTS)
    except (OSError, ValueError) as exc:
        raise BackendError(f"cannot read the kernel memory of cgroup {path}: {exc}") from exc


class MemoryCgroup:
    """One run's memory cgroup: what is created while ``charged`` is counted in it.

    Args:
        path: the cgroup's directory.
        hierarchy: the memory hierarchy it lives in.
    """

    def __init__(self, path: Path, hierarchy: Hierarchy) -> None:
        self.path = path
        self.hierarchy = hierarchy

    @classmethod
    def create(cls, identity: RunIdentity, role: str = "mem") -> MemoryCgroup:
        """Make the run's cgroup ``nfv-<run>-p<pid>-<role>`` at the top of the hierarchy.

        Raises:
            BackendError: the host has no memory controller, or it refused the cgroup.
        """
        hierarchy = memory_hierarchy()
        if hierarchy is None:
            raise BackendError(f"no memory cgroup controller under {CGROUP_ROOT}")
        path = hierarchy.root / identity.name(role)
        try:
            path.mkdir()
        except OSError as exc:
            raise BackendError(f"cannot create memory cgroup {path}: {exc}") from exc
        return cls(path, hierarchy)

    def child(self, name: str) -> MemoryCgroup:
        """A fresh cgroup ``name`` inside this one (v2: with the memory controller enabled).

        Raises:
            BackendError: the kernel refused it.
        """
        path = self.path / name
        try:
            if self.hierarchy.version == 2:
                (self.path / "cgroup.subtree_control").write_text("+memory")
            path.mkdir()
        except OSError as exc:
            raise BackendError(f"cannot create memory cgroup {path}: {exc}") from exc
        return MemoryCgroup(path, self.hierarchy)

    def describe(self) -> str:
        return f"cgroup v{self.hierarchy.version} {self.path} ({self.hierarchy.usage_file})"

    def usage_bytes(self) -> int:
        """The kernel's count of what is charged to the cgroup now, kernel memory included.

        Raises:
            BackendError: the cgroup cannot be read.
        """
        try:
            if self.hierarchy.version == 1:  # drain the per-CPU charge stock first
                (self.path / "memory.force_empty").write_text("0")
            return int((self.path / self.hierarchy.usage_file).read_text())
        except (OSError, ValueError) as exc:
            raise BackendError(f"cannot read memory of cgroup {self.path}: {exc}") from exc

    def anon_bytes(self) -> int:
        """Anonymous pages charged to the cgroup (v1 ``total_rss``, v2 ``anon``), in bytes.

        Raises:
            BackendError: the cgroup cannot be read.
        """
        key = "total_rss" if self.hierarchy.version == 1 else "anon"
        try:
            for line in (self.path / "memory.stat").read_text().splitlines():
                name, value = line.split(maxsplit=1)
                if name == key:
                    return int(value)
        except (OSError, ValueError) as exc:
            raise BackendError(f"cannot read memory.stat of cgroup {self.path}: {exc}") from exc
        raise BackendError(f"memory.stat of cgroup {self.path} has no {key}")

    def kernel_mib(self) -> float:
        """The kernel memory charged to the cgroup (``kernel_bytes``), in MiB.

        Raises:
            BackendError: the cgroup cannot be read.
        """
        return kernel_bytes(self.path, self.hierarchy) / MIB

    def settled_mib(self, tolerance_bytes: int = 16384, timeout_s: float = 2.0) -> float:
        """The usage once two reads 20 ms apart agree within ``tolerance_bytes``, in MiB.

        Namespace teardown is asynchronous (the kernel's cleanup work frees it later), so a
        read right after stopping instances would still count part of them.
        """
        previous = self.usage_bytes()
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            time.sleep(0.02)
            current = self.usage_bytes()
            if abs(current - previous) <= tolerance_bytes:
                return current / MIB
            previous = current
        return previous / MIB

    @contextlib.contextmanager
    def charged(self) -> Iterator[None]:
        """Run the body with the calling thread (v1) or process (v2) inside the cgroup.

        Kernel objects and processes created in the body are charged to it for good; the
        caller goes back to its own cgroup afterwards.

        Raises:
            BackendError: the kernel refused the move.
        """
        v1 = self.hierarchy.version == 1
        task = str(threading.get_native_id() if v1 else os.getpid())
        home = _current_cgroup(self.hierarchy)
        members = self.hierarchy.members_file
        try:
            (self.path / members).write_text(task)
        except OSError as exc:
            raise BackendError(f"cannot move task {task} into {self.path}: {exc}") from exc
        try:
            yield
        finally:
            (home / members).write_text(task)

    def remove(self, timeout_s: float = 5.0) -> None:
        """Remove the cgroup, and those inside it, once their tasks are gone.

        Raises:
            BackendError: one still has tasks after ``timeout_s``.
        """
        _remove(self.path, timeout_s)


def _remove(path: Path, timeout_s: float) -> None:
    """Remove ``path`` after the cgroups inside it (a cgroup with children cannot go)."""
    with contextlib.suppress(OSError):
        for inner in path.iterdir():
            if inner.is_dir():
                _remove(inner, timeout_s)
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            path.rmdir()
            return
        except FileNotFoundError:
            return
        except OSError as exc:
            if time.monotonic() >= deadline:
                raise BackendError(f"cannot remove memory cgroup {path}: {exc}") from exc
            time.sleep(0.05)


def _kill_members(path: Path) -> None:
    """SIGKILL what is left in a dead run's cgroup: only tasks that run created live there."""
    with contextlib.suppress(OSError):
        for inner in path.iterdir():
            if inner.is_dir():
                _kill_members(inner)
    try:
        pids = [int(p) for p in (path / "cgroup.procs").read_text().split()]
    except (OSError, ValueError):
        return
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, 9)


def reap_cgroups(rule: ReapRule, *, dry_run: bool = False) -> CleanupReport:
    """Remove the memory cgroups of the runs ``rule`` takes (and any task left inside).

    Args:
        rule: which runs go (see ``pytest_nfv.host.reap``).
        dry_run: only report what would be removed.
    """
    report = CleanupReport()
    hierarchy = memory_hierarchy()
    if hierarchy is None:
        return report
    for path in sorted(hierarchy.root.glob(f"{PREFIX}*")):
        label = f"cgroup {path}"
        if not path.is_dir() or not rule.takes_name(path.name, label, report):
            continue
        if dry_run:
            report.removed.append(label)
            continue
        _kill_members(path)
        try:
            _remove(path, timeout_s=2.0)
            report.removed.append(label)
        except BackendError as exc:
            report.errors.append(str(exc))
    return report
