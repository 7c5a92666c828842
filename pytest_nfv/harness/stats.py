"""A series' summary and 95% intervals: what a repeated measurement stops on, a verdict reads.

The paper repeats every measurement "until guarantee a minimum confidence interval of 95%".
We make that precise (``harness.repeat``): after each round the Student-t interval of the
mean is computed; we stop once its half-width is at most ``max(ci_width * |mean|, absolute)``
(after ``min_rounds``), or when ``max_rounds`` or ``max_seconds`` is reached. Whether it
converged is part of the result, so a figure that merely ran out of time is never presented
as a tight one.

Why an absolute floor: a width relative to the mean never converges for a quantity near zero
(a memory delta of a namespace, what a proxy adds to a round trip), so those series always ran
to the cap while their interval was already far finer than anything the budget or the gate can
resolve. The floor per dimension (``ABSOLUTE_FLOORS``) is that resolution: 2 us of time (a
kernel timestamp's jitter on a busy host) and 0.25 MiB of memory (a few namespaces).

Why at least three rounds: with two samples the t quantile is 12.7 and one outlier decides
everything; a series with fewer than ``MIN_ROUNDS`` samples is *insufficient* and no verdict
(budget or regression gate) may pass on it. ``max_seconds`` never cuts a series below that
minimum, even when one round outlasts it.

Percentiles (``p50``, ``p90``, ``p99``, ``p99.9``): an operator's latency objective is a tail,
and a tail is not the mean plus anything. Their interval is distribution-free, between two
order statistics (binomial), like the median's; a side that the samples cannot bound is
infinite, so a p99.9 needs thousands of samples before anything can be said to be under it.

The loop that repeats a measurement and its caps are ``harness.repeat``; this module holds
what it stops on and what the budgets judge: a series' summary and intervals.
"""

from __future__ import annotations

import functools
import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType

from pytest_nfv.errors import NfvUsageError, ProbeError

__all__ = [
    "ABSOLUTE_FLOORS",
    "MIN_ROUNDS",
    "PERCENTILES",
    "STATISTICS",
    "Summary",
    "fast_half_width",
    "interval",
    "quantile",
    "quantile_interval",
    "summarize",
    "t_half_width",
    "unknown_statistic",
    "within",
]

CONFIDENCE = 0.95
MIN_ROUNDS = 3
"""Fewest samples a figure needs before any verdict may rest on it."""

#: Half-widths at which a series is resolved well enough whatever its mean, in base units
#: (seconds, MiB): below what a budget or the gate's floors can tell apart.
ABSOLUTE_FLOORS: Mapping[str, float] = MappingProxyType({"time": 2e-6, "memory": 0.25})

#: The percentiles a figure's distribution is described by and a budget may be held to,
#: by name, as the fraction of samples at or below them.
PERCENTILES: Mapping[str, float] = MappingProxyType(
    {"p50": 0.5, "p90": 0.9, "p99": 0.99, "p99.9": 0.999}
)

#: Every statistic a budget may name.
STATISTICS: tuple[str, ...] = ("mean", "median", "max", *PERCENTILES)


def unknown_statistic(name: str) -> NfvUsageError:
    return NfvUsageError(f"unknown statistic {name!r}: use {', '.join(STATISTICS)}")


@functools.lru_cache(maxsize=4096)
def _t_quantile(dof: int, confidence: float) -> float:
    """Student's t quantile, computed once per length: a long series asks for every length."""
    from scipy import stats as scipy_stats  # here, not at import: pytest start-up stays fast

    return float(scipy_stats.t.ppf(0.5 + confidence / 2.0, dof))


def t_half_width(samples: Sequence[float], confidence: float = CONFIDENCE) -> float:
    """Half-width of the Student-t confidence interval of the mean.

    Returns ``inf`` for fewer than two samples: one sample says nothing about spread, and an
    infinite interval keeps that honest instead of pretending to a zero-width one.
    """
    n = len(samples)
    if n < 2:
        return math.inf
    sd = statistics.stdev(samples)
    return _t_quantile(n - 1, confidence) * sd / math.sqrt(n)


def fast_half_width(samples: Sequence[float], confidence: float = CONFIDENCE) -> float:
    """:func:`t_half_width` in floating point (``statistics.stdev`` is exact and slow): what
    the stop rule tests after a round, where a series may be a thousand samples long."""
    n = len(samples)
    if n < 2:
        return math.inf
    mean = math.fsum(samples) / n
    variance = math.fsum((x - mean) * (x - mean) for x in samples) / (n - 1)
    return _t_quantile(n - 1, confidence) * math.sqrt(variance) / math.sqrt(n)


def quantile(ordered: Sequence[float], q: float) -> float:
    """The ``q`` quantile of sorted samples, interpolated between the two nearest ranks.

    The interpolation is the one numpy and R use by default (Hyndman and Fan's type 7), so a
    reader who recomputes a percentile from the saved samples gets the same number; at
    ``q = 0.5`` it is the median.
    """
    n = len(ordered)
    if n == 0:
        raise ProbeError("no samples were measured")
    position = (n - 1) * q
    low = math.floor(position)
    high = min(low + 1, n - 1)
    return ordered[low] + (position - low) * (ordered[high] - ordered[low])


@functools.lru_cache(maxsize=8192)
def _order_ranks(n: int, q: float, confidence: float) -> tuple[int, int]:
    """Ranks ``(l, u)`` (1-based) with ``P(x_(l) <= quantile <= x_(u)) >= confidence``.

    The count of samples at or below the true ``q`` quantile is Binomial(n, q) whatever the
    distribution, so the interval is exact in coverage, with ``(1 - confidence) / 2`` or less
    in each tail. ``l = 0`` or ``u = n + 1``: that side cannot be bounded with ``n`` samples.
    """
    from scipy import stats as scipy_stats  # here, not at import: pytest start-up stays fast

    tail = (1.0 - confidence) / 2.0
    binom = scipy_stats.binom
    # Largest l with P(B <= l - 1) <= tail.
    lower = int(binom.ppf(tail, n, q))
    while lower > 0 and binom.cdf(lower - 1, n, q) > tail:
        lower -= 1
    while lower < n and binom.cdf(lower, n, q) <= tail:
        lower += 1
    # Smallest u with P(B <= u - 1) >= 1 - tail; past n when even x_(n) is not enough.
    upper = int(binom.ppf(1.0 - tail, n, q)) + 1
    while upper > 1 and binom.cdf(upper - 2, n, q) >= 1.0 - tail:
        upper -= 1
    while upper <= n and binom.cdf(upper - 1, n, q) < 1.0 - tail:
        upper += 1
    return max(lower, 0), min(upper, n + 1)


def quantile_interval(
    samples: Sequence[float], q: float, confidence: float = CONFIDENCE
) -> tuple[float, float]:
    """Where the ``q`` quantile lies, with ``confidence``, between two order statistics.

    Distribution-free (it assumes only independent draws from one continuous distribution).
    A side the samples cannot bound is infinite: the median needs 6 samples for either side,
    a p99 about 370 for its upper side and a p99.9 about 3700.

    Raises:
        NfvUsageError: ``q`` is not within (0, 1).
    """
    if not 0 < q < 1:
        raise NfvUsageError(f"a quantile must be within (0, 1), got {q}")
    n = len(samples)
    if n == 0:
        return -math.inf, math.inf
    lower, upper = _order_ranks(n, q, confidence)
    ordered = sorted(samples)
    low = ordered[lower - 1] if lower >= 1 else -math.inf
    high = ordered[upper - 1] if upper <= n else math.inf
    return low, high


@dataclass(frozen=True)
class Summary:
    """Descriptive statistics of one measured series, in the series' own unit."""

    samples: tuple[float, ...]
    mean: float
    median: float
    stdev: float
    minimum: float
    maximum: float
    half_width: float
    confidence: float
    converged: bool
    stop_reason: str
    elapsed_s: float

    @property
    def rounds(self) -> int:
        return len(self.samples)

    @property
    def insufficient(self) -> bool:
        """Too few samples for an interval any verdict could rest on."""
        return self.rounds < MIN_ROUNDS or not math.isfinite(self.half_width)

    def interval(self, name: str) -> tuple[float, float]:
        """The 95% interval of the named statistic (see :func:`interval`)."""
        return interval(self, name)

    @property
    def relative_half_width(self) -> float:
        """Half-width as a fraction of the mean (``inf`` when the mean is zero or unknown)."""
        if math.isinf(self.half_width):
            return math.inf
        if self.mean == 0:
            return 0.0 if self.half_width == 0 else math.inf
        return self.half_width / abs(self.mean)

    def statistic(self, name: str) -> float:
        """The named statistic a budget is judged on (one of ``STATISTICS``).

        Raises:
            NfvUsageError: an unknown statistic.
        """
        if name == "mean":
            return self.mean
        if name == "median":
            return self.median
        if name == "max":
            return self.maximum
        if name in PERCENTILES:
            return quantile(sorted(self.samples), PERCENTILES[name])
        raise unknown_statistic(name)

    def percentiles(self) -> dict[str, float]:
        """Every percentile of ``PERCENTILES`` and the maximum: the figure's distribution."""
        ordered = sorted(self.samples)
        shown = {name: quantile(ordered, q) for name, q in PERCENTILES.items()}
        shown["max"] = ordered[-1]
        return shown


def interval(summary: Summary, name: str) -> tuple[float, float]:
    """Where the named statistic lies, with 95% confidence, from ``summary``'s samples.

    ``mean``: the Student-t interval. ``median`` and the percentiles: the distribution-free
    interval between two order statistics (:func:`quantile_interval`); the median needs at
    least 6 samples, else it is unbounded. ``max``: the observed maximum itself; a budget on
    the maximum says no round may exceed it, and whether one did is a fact, not an estimate.

    Raises:
        NfvUsageError: an unknown statistic.
    """
    if name == "mean":
        return summary.mean - summary.half_width, summary.mean + summary.half_width
    if name == "max":
        return summary.maximum, summary.maximum
    if name == "median":
        return quantile_interval(summary.samples, 0.5, summary.confidence)
    if name in PERCENTILES:
        return quantile_interval(summary.samples, PERCENTILES[name], summary.confidence)
    raise unknown_statistic(name)


def summarize(
    samples: Sequence[float],
    *,
    converged: bool | None = None,
    ci_width: float | None = None,
    absolute: float = 0.0,
    stop_reason: str = "",
    elapsed_s: float = 0.0,
    confidence: float = CONFIDENCE,
) -> Summary:
    """Summarize samples; convergence is given, or judged against ``ci_width`` when passed.

    Raises:
        ProbeError: no samples at all (a measurement that produced nothing is not a result).
    """
    if not samples:
        raise ProbeError("no samples were measured")
    values = tuple(float(s) for s in samples)
    half = t_half_width(values, confidence)
    mean = statistics.fmean(values)
    if converged is None:
        converged = (
            ci_width is not None
            and len(values) >= MIN_ROUNDS
            and within(half, mean, ci_width, absolute)
        )
    return Summary(
        samples=values,
        mean=mean,
        median=statistics.median(values),
        stdev=statistics.stdev(values) if len(values) > 1 else 0.0,
        minimum=min(values),
        maximum=max(values),
        half_width=half,
        confidence=confidence,
        converged=converged,
        stop_reason=stop_reason,
        elapsed_s=elapsed_s,
    )


def within(half_width: float, mean: float, ci_width: float, absolute: float = 0.0) -> bool:
    if not math.isfinite(half_width):
        return False
    return half_width <= max(ci_width * abs(mean), absolute)
