"""VM/container instantiation: how fast N instances boot, and what they cost in memory.

Boot time is the paper's: from the start request to the first ICMP echo reply, N instances
started together; the makespan is the gate, each instance's own time is kept beside it. One
untimed boot of one instance comes first in a session (``warmed_lab``).
Memory is what the host spends for N running instances, kernel-accounted where it can be:
what the kernel charges to the instances (netns: the population's memory cgroup; coreos: the
containers' cgroups; osv: the domains' cgroups; clickos: the hypervisor's count) and what the
engine spends for them outside those (``harness.host_spend``), with its parts in the record;
the host's available memory before
and after (the paper's method) and the instances' own processes' PSS stand beside it, with
the per-instance slope over N. One population grown through every N per round serves all of
them.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from pytest_nfv import Lab, NfvSettings, Recorder, Repeat, Series, summarize
from pytest_nfv.harness.growth import SharedGrowth

pytestmark = pytest.mark.nfv_requirement("instantiation")


def test_boot_time(warmed_lab: Lab, nfv_n: int, nfv_repeat: Repeat, nfv_record: Recorder) -> None:
    per_instance: list[float] = []
    resolution: list[float] = []
    prober_cpu: list[float] = []

    def one_boot() -> float:
        result = warmed_lab.boot_round(nfv_n)
        per_instance.extend(result.per_instance_s)
        resolution.append(result.resolution_s)
        prober_cpu.append(result.prober_cpu_share)
        return result.makespan_s

    makespan = nfv_repeat(one_boot, "boot_makespan")
    nfv_record.record(
        Series(
            "boot_makespan",
            makespan,
            primary=True,
            extra={
                "probe_interval_s": warmed_lab.prober.interval_s,
                "worst_probe_gap_s": max(resolution),
                "prober_cpu_share": max(prober_cpu),
            },
        ),
        Series("boot_per_instance", summarize(per_instance)),
        n=nfv_n,
    )


def _kernel_first(kernel: Series | None, host: Series, *others: Series) -> tuple[Series, ...]:
    """The kernel's figure is the primary one where the backend has it; the host's beside it."""
    if kernel is None:
        return (replace(host, primary=True), *others)
    return (replace(kernel, primary=True), host, *others)


def test_memory(
    nfv_lab: Lab,
    nfv_n: int,
    nfv_settings: NfvSettings,
    nfv_repeat: Repeat,
    nfv_record: Recorder,
    nfv_memory_growth: SharedGrowth,
) -> None:
    """Memory of N instances, read at N on one population grown through every N per round:
    what the kernel accounts (where it does) decides when to stop and is what the budget
    judges; host MemAvailable before/after (the paper's) stays beside it."""
    growth = nfv_memory_growth.figures(nfv_repeat.together)
    measured = growth.summaries[nfv_n]
    width = nfv_settings.stop_rule.ci_width
    engine = growth.column(nfv_n, 3)
    engine_series = (
        [
            Series(
                "memory_engine",
                summarize(engine),
                extra={"method": "sum of the instances' memory as their engine counts it"},
            )
        ]
        if engine
        else []
    )
    shared = {"rounds_shared_by": "every N: one population grown through all of them"}
    nfv_record.record(
        *_kernel_first(
            Series(
                "memory_kernel",
                measured,
                extra={"method": nfv_lab.host_spend_method, **shared},
                parts=growth.breakdown(nfv_n),
            )
            if growth.by_kernel
            else None,
            Series(
                "memory",
                measured
                if not growth.by_kernel
                else summarize(growth.column(nfv_n, 1), ci_width=width, absolute=0.25),
                extra={"method": "host MemAvailable before - after N running instances", **shared},
            ),
            Series(
                "memory_pss",
                summarize(growth.column(nfv_n, 2)),
                extra={"method": "sum of PSS of the instances' processes"},
            ),
            *engine_series,
        ),
        n=nfv_n,
    )


def test_memory_per_instance(
    nfv_lab: Lab,
    nfv_settings: NfvSettings,
    nfv_repeat: Repeat,
    nfv_record: Recorder,
    nfv_memory_growth: SharedGrowth,
) -> None:
    """Least-squares slope of memory over N, from the same growing population per round."""
    counts = nfv_settings.instances
    if len(set(counts)) < 2:
        pytest.skip("a slope over N needs at least two values in --nfv-instances")
    growth = nfv_memory_growth.figures(nfv_repeat.together)
    assert growth.slope is not None
    width = nfv_settings.stop_rule.ci_width
    engine_slopes = growth.slopes(3)
    engine_series = (
        [Series("memory_engine_per_instance", summarize(engine_slopes))] if engine_slopes else []
    )
    host_method = {
        "method": "slope of host MemAvailable drop over N",
        "points": [list(points) for points in growth.rounds],
    }
    metric = nfv_memory_growth.slope_metric
    nfv_record.record(
        *_kernel_first(
            Series(
                metric,
                growth.slope,
                extra={"method": f"slope over N of {nfv_lab.host_spend_method}"},
                parts=growth.breakdown_slopes(),
            )
            if growth.by_kernel
            else None,
            Series(
                "memory_per_instance",
                growth.slope
                if not growth.by_kernel
                else summarize(growth.slopes(1), ci_width=width),
                extra=host_method,
            ),
            Series("memory_pss_per_instance", summarize(growth.slopes(2))),
            *engine_series,
        ),
        n=max(counts),
    )
