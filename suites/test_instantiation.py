"""VM/container instantiation: how fast N instances boot, and what they cost in memory.

Boot time is the paper's: from the start request to the first ICMP echo reply, N instances
started together; the makespan is the gate, each instance's own time is kept beside it. One
untimed boot of one instance comes first in a session (``warmed_lab``).
Memory is what the kernel charged to the run's memory cgroup for N instances, kernel objects
included, where the backend creates its instances in one (netns); the host's available memory
before and after (the paper's method) and the instances' own processes' PSS stand beside it,
with the per-instance slope over N.
"""

from __future__ import annotations

from dataclasses import replace

import pytest
from scipy import stats as scipy_stats

from pytest_nfv import Lab, NfvSettings, Recorder, Repeat, Series, summarize
from pytest_nfv.harness.lab import GrowthPoint

pytestmark = pytest.mark.nfv_requirement("instantiation")


def test_boot_time(warmed_lab: Lab, nfv_n: int, nfv_repeat: Repeat, nfv_record: Recorder) -> None:
    per_instance: list[float] = []
    resolution: list[float] = []

    def one_boot() -> float:
        result = warmed_lab.boot_round(nfv_n)
        per_instance.extend(result.per_instance_s)
        resolution.append(result.resolution_s)
        return result.makespan_s

    makespan = nfv_repeat(one_boot, "boot_makespan")
    nfv_record.record(
        Series(
            "boot_makespan",
            makespan,
            "time",
            primary=True,
            extra={
                "probe_interval_s": warmed_lab.prober.interval_s,
                "worst_probe_gap_s": max(resolution),
            },
        ),
        Series("boot_per_instance", summarize(per_instance), "time", per_round=False),
        n=nfv_n,
    )


def _kernel_first(kernel: Series | None, host: Series, *others: Series) -> tuple[Series, ...]:
    """The kernel's figure is the primary one where the backend has it; the host's beside it."""
    if kernel is None:
        return (replace(host, primary=True), *others)
    return (replace(kernel, primary=True), host, *others)


KERNEL_METHOD = "what the kernel charged to the run's memory cgroup, kernel memory included"


def test_memory(
    nfv_lab: Lab,
    nfv_n: int,
    nfv_settings: NfvSettings,
    nfv_repeat: Repeat,
    nfv_record: Recorder,
) -> None:
    """Memory of N instances: the run's cgroup (where the backend has one) decides when to stop
    and is what the budget judges; host MemAvailable before/after (the paper's) stays beside."""
    by_kernel = nfv_lab.counts_kernel_memory
    host: list[float] = []
    pss: list[float] = []
    engine: list[tuple[float, ...]] = []

    def one_population() -> float:
        result = nfv_lab.memory_round(nfv_n)
        host.append(result.host_delta_mib)
        pss.append(result.pss_mib)
        if result.engine_mib:
            engine.append(result.engine_mib)
        if by_kernel:
            assert result.kernel_mib is not None
            return result.kernel_mib
        return result.host_delta_mib

    measured = nfv_repeat(one_population, "memory_kernel" if by_kernel else "memory")
    width = nfv_settings.stop_rule.ci_width
    engine_series = []
    if engine:  # the backend's engine counts each instance's memory itself (e.g. a cgroup)
        per_instance = [m for round_ in engine for m in round_]
        engine_series.append(
            Series(
                "memory_engine",
                summarize([sum(round_) for round_ in engine]),
                "memory",
                extra={
                    "method": "sum of the instances' memory as their engine counts it",
                    "per_instance_mib": {
                        "mean": sum(per_instance) / len(per_instance),
                        "min": min(per_instance),
                        "max": max(per_instance),
                    },
                },
            )
        )
    nfv_record.record(
        *_kernel_first(
            Series("memory_kernel", measured, "memory", extra={"method": KERNEL_METHOD})
            if by_kernel
            else None,
            Series(
                "memory",
                measured if not by_kernel else summarize(host, ci_width=width, absolute=0.25),
                "memory",
                extra={"method": "host MemAvailable before - after N running instances"},
            ),
            Series(
                "memory_pss",
                summarize(pss),
                "memory",
                extra={"method": "sum of PSS of the instances' processes"},
            ),
            *engine_series,
        ),
        n=nfv_n,
    )


def test_memory_per_instance(
    nfv_lab: Lab, nfv_settings: NfvSettings, nfv_repeat: Repeat, nfv_record: Recorder
) -> None:
    """Least-squares slope of memory over N, from one growing population per round."""
    counts = nfv_settings.instances
    if len(counts) < 2:
        pytest.skip("a slope over N needs at least two values in --nfv-instances")
    by_kernel = nfv_lab.counts_kernel_memory
    host_slopes: list[float] = []
    pss_slopes: list[float] = []
    engine_slopes: list[float] = []
    rounds: list[list[GrowthPoint]] = []

    def slope(xs: list[int], ys: list[float]) -> float:
        return float(scipy_stats.linregress(xs, ys).slope)

    def one_growth() -> float:
        points = nfv_lab.memory_growth(counts)
        rounds.append(points)
        xs = [p[0] for p in points]
        host_slopes.append(slope(xs, [p[1] for p in points]))
        pss_slopes.append(slope(xs, [p[2] for p in points]))
        engine = [p[3] for p in points if p[3] is not None]
        if len(engine) == len(points):
            engine_slopes.append(slope(xs, engine))
        if by_kernel:
            return slope(xs, [p[4] for p in points if p[4] is not None])
        return host_slopes[-1]

    metric = "memory_kernel_per_instance" if by_kernel else "memory_per_instance"
    measured = nfv_repeat(one_growth, metric, n=max(counts))
    width = nfv_settings.stop_rule.ci_width
    engine_series = (
        [Series("memory_engine_per_instance", summarize(engine_slopes), "memory")]
        if engine_slopes
        else []
    )
    host_method = {"method": "slope of host MemAvailable drop over N", "points": rounds}
    nfv_record.record(
        *_kernel_first(
            Series(metric, measured, "memory", extra={"method": f"slope over N of {KERNEL_METHOD}"})
            if by_kernel
            else None,
            Series(
                "memory_per_instance",
                measured if not by_kernel else summarize(host_slopes, ci_width=width),
                "memory",
                extra=host_method,
            ),
            Series("memory_pss_per_instance", summarize(pss_slopes), "memory"),
            *engine_series,
        ),
        n=max(counts),
    )
