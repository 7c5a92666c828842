"""The significance tests under the regression gate's verdicts, free of records and runs.

- within one pair of runs: the one-sided Mann-Whitney U test (``u_test_p``), rank based
  because the samples of a shared host are skewed with heavy tails (one descheduled round
  reads many times the median), and the Hodges-Lehmann shift that goes with it; the exact
  test's smallest p for given counts (``smallest_p``) says when a row could not have been
  significant at all;
- across runs: the Student-t prediction test of one run's median against earlier runs'
  (``between_runs_p``), its spread shrunk towards the metric's pooled run-to-run variance
  (``pooled_spreads``);
- across records: Benjamini-Hochberg (``bh_adjust``), which keeps the chance of any alarm at
  ``alpha`` when nothing changed and finds a change that moved a family of records with far
  more power than Holm.

They take plain numbers so that each can be checked against scipy or a hand computation;
``analysis.gate`` decides which one a record gets and what a p-value means for its verdict.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence

from pytest_nfv.analysis.history import RecordKey

__all__ = [
    "between_runs_p",
    "bh_adjust",
    "hodges_lehmann",
    "log_spread",
    "pooled_spreads",
    "smallest_p",
    "u_test_p",
]


def hodges_lehmann(current: Sequence[float], baseline: Sequence[float]) -> float:
    """Median of all pairwise differences ``current[i] - baseline[j]``."""
    import numpy as np

    diffs = np.subtract.outer(np.asarray(current, float), np.asarray(baseline, float))
    return float(np.median(diffs))


def bh_adjust(pvalues: Sequence[float]) -> list[float]:
    """Benjamini-Hochberg adjusted p-values (q-values), in the order given."""
    m = len(pvalues)
    order = sorted(range(m), key=lambda i: pvalues[i])
    adjusted = [1.0] * m
    running = 1.0
    for rank in range(m, 0, -1):
        i = order[rank - 1]
        running = min(running, pvalues[i] * m / rank)
        adjusted[i] = min(1.0, running)
    return adjusted


def u_test_p(current: Sequence[float], baseline: Sequence[float], alternative: str) -> float:
    """Mann-Whitney U p-value; 1 when the samples cannot tell anything apart."""
    if len(current) < 2 or len(baseline) < 2 or len(set(current) | set(baseline)) == 1:
        return 1.0
    from scipy import stats as scipy_stats  # only when comparing: keeps imports light

    result = scipy_stats.mannwhitneyu(current, baseline, alternative=alternative)
    p = float(result.pvalue)
    return 1.0 if math.isnan(p) else p


def smallest_p(n1: int, n2: int, two_sided: bool) -> float:
    """The smallest p-value an exact U test can give for these sample counts."""
    if n1 < 2 or n2 < 2:
        return 1.0
    return min(1.0, (2.0 if two_sided else 1.0) / math.comb(n1 + n2, n1))


def between_runs_p(
    current: float,
    earlier: Sequence[float],
    worse_sign: float,
    pooled: tuple[float, int] | None = None,
) -> float:
    """One-sided p of a Student-t prediction test: is ``current`` beyond where the next run
    of unchanged code would land, given the ``earlier`` runs' centers?

    Needs two earlier runs (one degree of freedom); with identical earlier centers any change
    in the worse direction is significant (the floors then decide). Positive figures are
    compared on a log scale: what differs between runs scales a figure (a slower core, a
    busier host) rather than adding to it, so their logs are the closer to normal.

    ``pooled`` is a run-to-run variance of the logs and its degrees of freedom, estimated
    over a family of records (``pooled_spreads``). When the record is compared on the log
    scale, its own variance is shrunk towards the family's others, which weigh as much as
    the record's own runs at most: the estimate gains up to twice the degrees of freedom.
    Weighing the family more gains little power and raises false alarms (the records of a
    family then share one denominator and alarm together), as the seeded simulations of
    ``tests/unit/test_gate.py`` (``_alarms``) show when the weight is changed.
    """
    from scipy import stats as scipy_stats

    k = len(earlier)
    if k < 2:
        return 1.0
    on_log = current > 0 and min(earlier) > 0
    if on_log:  # run effects are multiplicative: test on log scale
        current, earlier = math.log(current), [math.log(e) for e in earlier]
    center = math.fsum(earlier) / k
    spread, df = log_spread(earlier, on_log, pooled)
    worse_by = (current - center) * worse_sign
    if spread == 0:
        return 0.0 if worse_by > 0 else 1.0
    t = worse_by / (spread * math.sqrt(1.0 + 1.0 / k))
    return float(scipy_stats.t.sf(t, df))


def log_spread(
    earlier: Sequence[float], on_log: bool, pooled: tuple[float, int] | None
) -> tuple[float, int]:
    """The run-to-run spread of ``earlier`` (logs when ``on_log``) and its degrees of freedom,
    shrunk towards the family's pooled variance as ``between_runs_p`` describes."""
    k = len(earlier)
    spread, df = statistics.stdev(earlier), k - 1
    if pooled is not None and on_log and pooled[1] > df:
        # the others of the family, weighted as at most as many runs as this record's own
        total, total_df = pooled
        others_df = total_df - df
        others = (total * total_df - spread**2 * df) / others_df
        weight = min(others_df, df)
        spread = math.sqrt((spread**2 * df + max(others, 0.0) * weight) / (df + weight))
        df = df + weight
    return spread, df


def pooled_spreads(
    centers: Mapping[RecordKey, Sequence[float]],
) -> dict[tuple[str, str, str], tuple[float, int]]:
    """Run-to-run variance of log medians pooled over each metric's records (all its N and
    sizes), with its degrees of freedom: ``sum((k_i - 1) * s_i**2) / sum(k_i - 1)``.

    How far a metric's figure moves from run to run, relative to its size, is a property of
    the metric on the host (the same processes, the same path), much less of the N or size it
    is measured at; its other records sharpen the estimate one record's few runs give
    (``between_runs_p``). Only records with positive medians in at least two runs take part.
    """
    sums: dict[tuple[str, str, str], tuple[float, int]] = {}
    for key, values in centers.items():
        if len(values) < 2 or min(values) <= 0:
            continue
        logs = [math.log(v) for v in values]
        family = (key.backend, key.requirement, key.metric)
        total, df = sums.get(family, (0.0, 0))
        sums[family] = (total + statistics.variance(logs) * (len(logs) - 1), df + len(logs) - 1)
    return {family: (total / df, df) for family, (total, df) in sums.items()}
