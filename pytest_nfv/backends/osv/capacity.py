"""What this host can ask of osv guests: boot deadlines, how many, and which budgets judge them.

Kept apart from the domains' lifecycle: each answer follows from the accelerator alone (KVM,
or TCG's emulated CPU, as ``osv.kvm`` decided it, or guessed before ``open`` from cheap
checks) and from which guest runs, never from a domain's state.
"""

from __future__ import annotations

import os
from pathlib import Path

from pytest_nfv.backends.osv.kvm import KvmVerdict, quick_verdict
from pytest_nfv.resources import budgets_file

__all__ = [
    "TCG_BOOT_CPU_S",
    "TCG_IDLE_CPU",
    "boot_deadline_rule",
    "boot_deadline_s",
    "budget_choice",
    "emulated",
    "most_instances",
]

TCG_BOOT_CPU_S = 5.0
TCG_IDLE_CPU = 0.06
"""Under TCG, what a stand-in guest costs the host: CPU-seconds to boot and a share of a CPU
while it idles, as ``benchmarks/osv_tcg_boot.py`` found them with guests booting beside as
many running (benchmarks/RESULTS.md, "Stand-in guests under TCG: what a boot and an idle
guest cost"). An OSv image costs less; these bound it from above."""
TCG_DEADLINE_MARGIN = 3.0
TCG_IDLE_SHARE = 0.5
"""The default N stops where the idle guests would take half the host's CPUs."""


def emulated(kvm: KvmVerdict | None) -> bool:
    """Whether guests run under TCG: ``kvm`` once ``open`` decided, a quick guess before."""
    verdict = kvm if kvm is not None else quick_verdict()
    return verdict is not None and not verdict.usable


def budget_choice(standin: bool, kvm: KvmVerdict | None) -> tuple[Path, str] | None:
    """The shipped budgets that fit what runs, and why; before ``open`` from cheap checks.

    The paper's OS^v figures hold for OSv on KVM only: the stand-in guest (a Debian kernel
    in 96 MiB) and TCG (an emulated CPU) are judged by figures measured on them.
    """
    verdict = kvm if kvm is not None else quick_verdict()
    if standin:
        stem, why = "osv-standin", "the stand-in guest runs, not OSv: its own figures"
    elif verdict is not None and verdict.usable:
        stem, why = "osv", "OSv on KVM: the paper's OS^v figures"
    elif verdict is not None:
        stem, why = "osv-tcg", f"OSv under TCG ({verdict.reason}): figures measured there"
    else:
        stem, why = "osv", "OSv, KVM not yet probed: the paper's OS^v figures"
    path = budgets_file(stem)
    return None if path is None else (path, why)


def boot_deadline_s(kvm: KvmVerdict | None, starting: int, running: int) -> float:
    """Under TCG: three times the CPU ``starting`` new guests need to boot over the CPUs the
    ``running`` ones leave idle; under KVM, nothing beyond the floor."""
    if not emulated(kvm):
        return 0.0
    cpus = len(os.sched_getaffinity(0))
    left = max(cpus - TCG_IDLE_CPU * running, 0.1 * cpus)
    return TCG_DEADLINE_MARGIN * starting * TCG_BOOT_CPU_S / left


def boot_deadline_rule(kvm: KvmVerdict | None) -> str:
    if not emulated(kvm):
        return "KVM (or not yet known): no longer"
    return (
        f"under TCG {TCG_DEADLINE_MARGIN:g} x {TCG_BOOT_CPU_S:g} CPU-s per guest booting, "
        f"over the CPUs the running guests leave ({TCG_IDLE_CPU:g} CPU each)"
    )


def most_instances(kvm: KvmVerdict | None) -> tuple[int, str] | None:
    """Under TCG: where idle guests would take half the CPUs."""
    if not emulated(kvm):
        return None
    cpus = len(os.sched_getaffinity(0))
    most = int(TCG_IDLE_SHARE * cpus / TCG_IDLE_CPU)
    return most, (
        f"under TCG an idle guest takes ~{TCG_IDLE_CPU:g} CPU here, so {most} of them take "
        f"{TCG_IDLE_SHARE:.0%} of the {cpus} CPUs"
    )
