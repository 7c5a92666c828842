"""Which CPU each of the harness's own processes runs on.

On a host with two or more CPUs the harness keeps its instruments apart from what they time
and from each other's wake-ups:

- the ICMP prober gets the last allowed CPU to itself (``prober``), while the start requests
  it times -- the namespaces, veths and processes a backend creates from this process -- run
  on the first (``path``), so creating instances never stands between the prober and its
  next probe;
- the processes on the measured path -- host A's requester, host B's responder and the
  proxy VNF -- share the first CPU (``path``). A request handed from one of them to the next
  then wakes a process on the CPU that is already carrying the packet, in the same softirq,
  instead of waking a sleeping CPU with an interrupt from the other: on a virtualized host
  that cross-CPU wake-up is what ping's kernel-answered echo never pays.

A process learns the plan from ``harness_cpus`` (``configure`` sets it for the session: the
plugin from ``--nfv-cpus``, a benchmark from its own flag); the default is ``auto``. With one
CPU, or ``off``, nothing is pinned and the scheduler places every process as it likes.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Set
from dataclasses import dataclass

from pytest_nfv.errors import NfvUsageError

__all__ = [
    "CpuPlan",
    "configure",
    "harness_cpus",
    "parse_cpus",
    "pin",
    "pinned_thread",
    "plan_cpus",
]


@dataclass(frozen=True)
class CpuPlan:
    """The CPU of the measured path's processes and the prober's; None: not pinned."""

    path: int | None
    prober: int | None
    allowed: frozenset[int] = frozenset()
    """Every CPU the session may use: an instance's own process runs on any of them, even
    when it was started from a thread pinned to the path's CPU."""

    def describe(self) -> str:
        if self.path is None and self.prober is None:
            return "not pinned"
        return (
            f"path (requester, responder, proxy VNF, starts) on CPU {self.path}, "
            f"prober on CPU {self.prober}"
        )

    def as_dict(self) -> dict[str, int | None]:
        return {"path_cpu": self.path, "prober_cpu": self.prober}


UNPINNED = CpuPlan(None, None)


def parse_cpus(text: str) -> str:
    """Check a ``--nfv-cpus`` value: ``auto``, ``off``, or ``PATH,PROBER`` (two CPU numbers).

    Raises:
        NfvUsageError: anything else.
    """
    value = text.strip().lower()
    if value in ("auto", "off"):
        return value
    parts = value.split(",")
    if len(parts) != 2 or not all(p.strip().isdigit() for p in parts):
        raise NfvUsageError(
            f"CPU choice {text!r}: expected auto, off, or PATH,PROBER (two CPU numbers, e.g. 0,1)"
        )
    return ",".join(p.strip() for p in parts)


def plan_cpus(choice: str = "auto", allowed: Set[int] | None = None) -> CpuPlan:
    """The plan for ``choice`` (see ``parse_cpus``) on a process allowed ``allowed`` CPUs.

    ``auto`` pins only where there are two CPUs or more to keep apart: the path on the lowest
    allowed CPU, the prober on the highest.

    Raises:
        NfvUsageError: an explicit CPU this process may not run on.
    """
    choice = parse_cpus(choice)
    cpus = sorted(os.sched_getaffinity(0) if allowed is None else allowed)
    if choice == "off":
        return UNPINNED
    if choice == "auto":
        return CpuPlan(cpus[0], cpus[-1], frozenset(cpus)) if len(cpus) >= 2 else UNPINNED
    path, prober = (int(p) for p in choice.split(","))
    missing = sorted({path, prober} - set(cpus))
    if missing:
        raise NfvUsageError(
            f"CPU choice {choice}: this process may not run on CPU "
            f"{', '.join(map(str, missing))} (allowed: {', '.join(map(str, cpus))})"
        )
    return CpuPlan(path, prober, frozenset(cpus))


_plan: CpuPlan | None = None


def configure(plan: CpuPlan) -> None:
    """Set the session's plan (before the backend, the prober or the testbed start)."""
    global _plan
    _plan = plan


def harness_cpus() -> CpuPlan:
    """The session's plan; ``auto`` until ``configure`` chose another."""
    global _plan
    if _plan is None:
        _plan = plan_cpus("auto")
    return _plan


def pin(pid: int, cpus: int | Set[int] | None) -> None:
    """Run process ``pid`` (its main thread) on ``cpus`` only; None or none leaves it alone."""
    if isinstance(cpus, int):
        cpus = {cpus}
    if cpus:
        os.sched_setaffinity(pid, cpus)


@contextlib.contextmanager
def pinned_thread(cpu: int | None) -> Iterator[None]:
    """Run the calling thread on ``cpu`` for the body, then give back its CPUs."""
    if cpu is None:
        yield
        return
    before = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {cpu})
    try:
        yield
    finally:
        os.sched_setaffinity(0, before)
