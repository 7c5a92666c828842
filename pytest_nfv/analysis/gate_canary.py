"""Host drift: whether the host itself ran slower, by the canaries both runs timed.

A regression on a host that got slower between the runs is the host's as much as the code's.
The canaries (``host.canary``) time work the code under test cannot touch; when every one of
them slowed beyond its floor, ``analysis.gate`` judges the records again as if the current
run had the baseline's host (``scaled``), and what no longer fails is labelled host drift.
Apart from the gate because the canaries have their own tests and floors and the judgement
loop needs only their answer.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, replace

from pytest_nfv.analysis.gate_config import GateConfig
from pytest_nfv.analysis.gate_stats import between_runs_p, u_test_p
from pytest_nfv.analysis.history import Run
from pytest_nfv.units import dimension_of

__all__ = ["CanaryDrift", "canary_drift", "host_slowdown", "scaled"]


@dataclass(frozen=True)
class CanaryDrift:
    """One host canary in the current run against the baseline (and history)."""

    name: str
    reference: float
    """The baseline's median, or the mean of the baseline's and earlier runs' medians."""
    current: float
    p: float
    runs: int
    """How many runs the reference comes from (1: the baseline alone, within-run test)."""
    slower: bool

    @property
    def ratio(self) -> float:
        return self.current / self.reference


def canary_drift(
    baseline: Run, current: Run, config: GateConfig, history: Sequence[Run] = ()
) -> tuple[CanaryDrift, ...]:
    """Whether the host got slower, by each canary both runs timed.

    The tests are the records' (a prediction test on run medians with history, the one-sided
    U test on the samples with one baseline), at ``alpha`` unadjusted: a drift missed costs a
    mislabelled regression, a drift seen by mistake only a label. A canary must also be
    slower by more than its floor (``GateConfig.canary_floor_for``), the run-to-run movement
    of the canary itself between runs of unchanged code, to count.
    """
    drifts = []
    for name in sorted(set(baseline.canary) & set(current.canary)):
        samples = current.canary[name]
        now = statistics.median(samples)
        runs = [r for r in (baseline, *history) if name in r.canary]
        centers = [statistics.median(r.canary[name]) for r in runs]
        if len(centers) >= 2:
            p = between_runs_p(now, centers, 1.0)
            reference = math.fsum(centers) / len(centers)
        else:
            p = u_test_p(samples, baseline.canary[name], "greater")
            reference = centers[0]
        slower = p <= config.alpha and now > reference * (1.0 + config.canary_floor_for(name))
        drifts.append(CanaryDrift(name, reference, now, p, len(centers), slower))
    return tuple(drifts)


def host_slowdown(drift: Sequence[CanaryDrift]) -> float | None:
    """How much slower the host ran, as far as every canary agrees; None: no host drift.

    Every canary both runs timed must have slowed beyond its floor, and the host is taken to
    be slower only by the least of their slowdowns. One canary alone is not enough: each
    samples the host through one door (the interpreter's share of a core, the kernel's
    forwarding), and on a host whose speed swings from second to second (the CPU loop
    switches between two modes for seconds at a time: benchmarks/RESULTS.md, "Host drift
    needs every canary") one door can catch a slow moment that the figures did not live
    through. A drift that let one canary excuse every record would let a real regression
    through as the host's fault.
    """
    if not drift or not all(d.slower for d in drift):
        return None
    return min(d.ratio for d in drift)


def scaled(run: Run, factor: float) -> Run:
    """``run`` with every time sample multiplied by ``factor``: as if on the reference host."""
    records = {
        key: replace(r, samples=tuple(x * factor for x in r.samples))
        if dimension_of(r.unit) == "time"
        else r
        for key, r in run.records.items()
    }
    return replace(run, records=records)
