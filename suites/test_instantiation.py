"""VM/container instantiation: how fast N instances boot, and what they cost in memory.

Boot time is the paper's: from the start request to the first ICMP echo reply, N instances
started together; the makespan is the gate, each instance's own time is kept beside it.
Memory is the host's available memory before and after N instances (the paper's method), with
the instances' own processes' PSS beside it, and the per-instance slope over N.
"""

from __future__ import annotations

import pytest
from scipy import stats as scipy_stats

from pytest_nfv import Lab, NfvSettings, Recorder, Repeat, Series, summarize

pytestmark = pytest.mark.nfv_requirement("instantiation")


def test_boot_time(nfv_lab: Lab, nfv_n: int, nfv_repeat: Repeat, nfv_record: Recorder) -> None:
    per_instance: list[float] = []
    resolution: list[float] = []

    def one_boot() -> float:
        result = nfv_lab.boot_round(nfv_n)
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
                "probe_interval_s": nfv_lab.prober.interval_s,
                "worst_probe_gap_s": max(resolution),
            },
        ),
        Series("boot_per_instance", summarize(per_instance), "time", per_round=False),
        n=nfv_n,
    )


def test_memory(nfv_lab: Lab, nfv_n: int, nfv_repeat: Repeat, nfv_record: Recorder) -> None:
    pss: list[float] = []
    engine: list[tuple[float, ...]] = []

    def one_population() -> float:
        result = nfv_lab.memory_round(nfv_n)
        pss.append(result.pss_mib)
        if result.engine_mib:
            engine.append(result.engine_mib)
        return result.host_delta_mib

    host = nfv_repeat(one_population, "memory")
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
        Series(
            "memory",
            host,
            "memory",
            primary=True,
            extra={"method": "host MemAvailable before - after N running instances"},
        ),
        Series(
            "memory_pss",
            summarize(pss),
            "memory",
            extra={"method": "sum of PSS of the instances' processes"},
        ),
        *engine_series,
        n=nfv_n,
    )


def test_memory_per_instance(
    nfv_lab: Lab, nfv_settings: NfvSettings, nfv_repeat: Repeat, nfv_record: Recorder
) -> None:
    """Least-squares slope of host memory over N, from one growing population per round."""
    counts = nfv_settings.instances
    if len(counts) < 2:
        pytest.skip("a slope over N needs at least two values in --nfv-instances")
    pss_slopes: list[float] = []
    engine_slopes: list[float] = []
    rounds: list[list[tuple[int, float, float, float | None]]] = []

    def one_growth() -> float:
        points = nfv_lab.memory_growth(counts)
        rounds.append(points)
        xs = [p[0] for p in points]
        pss_slopes.append(float(scipy_stats.linregress(xs, [p[2] for p in points]).slope))
        engine = [p[3] for p in points if p[3] is not None]
        if len(engine) == len(points):
            engine_slopes.append(float(scipy_stats.linregress(xs, engine).slope))
        return float(scipy_stats.linregress(xs, [p[1] for p in points]).slope)

    slope = nfv_repeat(one_growth, "memory_per_instance", n=max(counts))
    engine_series = (
        [Series("memory_engine_per_instance", summarize(engine_slopes), "memory")]
        if engine_slopes
        else []
    )
    nfv_record.record(
        Series(
            "memory_per_instance",
            slope,
            "memory",
            primary=True,
            extra={"method": "slope of host MemAvailable drop over N", "points": rounds},
        ),
        Series("memory_pss_per_instance", summarize(pss_slopes), "memory"),
        *engine_series,
        n=max(counts),
    )
