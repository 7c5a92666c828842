"""Repeat a measurement until its 95% confidence interval is narrow enough, or a cap is hit.

The paper repeats every measurement "until guarantee a minimum confidence interval of 95%".
We make that precise: after each round the Student-t interval of the mean is computed; we stop
once its half-width is at most ``max(ci_width * |mean|, absolute)`` (after ``min_rounds``), or
when ``max_rounds`` or ``max_seconds`` is reached. Whether it converged is part of the result,
so a figure that merely ran out of time is never presented as a tight one.

Why an absolute floor: a width relative to the mean never converges for a quantity near zero
(a memory delta of a namespace, what a proxy adds to a round trip), so those series always ran
to the cap while their interval was already far finer than anything the budget or the gate can
resolve. The floor per dimension (``ABSOLUTE_FLOORS``) is that resolution: 2 us of time (a
kernel timestamp's jitter on a busy host) and 0.25 MiB of memory (a few namespaces).

Why at least three rounds: with two samples the t quantile is 12.7 and one outlier decides
everything; a series with fewer than ``MIN_ROUNDS`` samples is *insufficient* and no verdict
(budget or regression gate) may pass on it. ``max_seconds`` never cuts a series below that
minimum, even when one round outlasts it.

Where a budget applies, the loop also keeps going (up to the caps) while the interval of the
budget's statistic (mean, median or a percentile) still straddles the limit: a narrow interval
that cannot tell kept from blown is not an answer yet.

Percentiles (``p50``, ``p90``, ``p99``, ``p99.9``): an operator's latency objective is a tail,
and a tail is not the mean plus anything. Their interval is distribution-free, between two
order statistics (binomial), like the median's; a side that the samples cannot bound is
infinite, so a p99.9 needs thousands of samples before anything can be said to be under it.

Why the convergence test is not run after every round of a long series: a series of cheap
round trips runs to hundreds of samples, and a test over all of them after each one would
cost more than the round trips themselves. Past ``CHECK_EVERY_ROUND_UP_TO`` samples it runs
each time the series has grown by about 2%, so a series stops at most that much later than it
could have; the caps are still checked after every round.
"""

from __future__ import annotations

import functools
import math
import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from types import MappingProxyType

from pytest_nfv.errors import NfvUsageError, ProbeError

__all__ = [
    "ABSOLUTE_FLOORS",
    "MIN_ROUNDS",
    "PERCENTILES",
    "STATISTICS",
    "StopRule",
    "Summary",
    "interval",
    "quantile",
    "quantile_interval",
    "repeat_until_converged",
    "straddles",
    "summarize",
    "t_half_width",
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

CHECK_EVERY_ROUND_UP_TO = 50
"""Series length up to which convergence is tested after every round (see the module note)."""


def _unknown_statistic(name: str) -> NfvUsageError:
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


def _fast_half_width(samples: Sequence[float], confidence: float = CONFIDENCE) -> float:
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
        raise _unknown_statistic(name)

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
    raise _unknown_statistic(name)


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
            and _within(half, mean, ci_width, absolute)
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


def _within(half_width: float, mean: float, ci_width: float, absolute: float = 0.0) -> bool:
    if not math.isfinite(half_width):
        return False
    return half_width <= max(ci_width * abs(mean), absolute)


def straddles(samples: Sequence[float], limit: float, statistic: str = "mean") -> bool:
    """Whether the 95% CI of ``statistic`` of ``samples`` still holds ``limit`` (kept or blown
    open). A maximum never does: whether a round exceeded the limit is already known.

    Raises:
        NfvUsageError: an unknown statistic.
    """
    if statistic == "mean":
        half = _fast_half_width(samples)
        mean = math.fsum(samples) / len(samples)
        low, high = mean - half, mean + half
    elif statistic == "max":
        return False
    elif statistic == "median":
        low, high = quantile_interval(samples, 0.5)
    elif statistic in PERCENTILES:
        low, high = quantile_interval(samples, PERCENTILES[statistic])
    else:
        raise _unknown_statistic(statistic)
    return low <= limit < high


def _checkpoint(n: int) -> bool:
    """Whether to test a series of ``n`` samples for convergence now (see the module note)."""
    return n <= CHECK_EVERY_ROUND_UP_TO or n % (n // CHECK_EVERY_ROUND_UP_TO) == 0


@dataclass(frozen=True)
class StopRule:
    """When to stop repeating: CI narrow enough (relative or absolute), or a cap reached.

    Args:
        ci_width: target half-width of the 95% CI as a fraction of the mean (0 < w < 1).
        max_rounds: hard cap on rounds. Below ``MIN_ROUNDS`` every figure is insufficient.
        max_seconds: wall-clock cap; checked between rounds and only once ``min_rounds`` were
            taken, so a slow round may overrun it.
        min_rounds: rounds always taken (unless ``max_rounds`` is lower), at least 3.
        absolute: a half-width that is narrow enough whatever the mean, in the series' base
            unit; ``for_dimension`` sets it from ``ABSOLUTE_FLOORS``.
    """

    ci_width: float = 0.05
    max_rounds: int = 30
    max_seconds: float = 30.0
    min_rounds: int = MIN_ROUNDS
    absolute: float = 0.0

    def __post_init__(self) -> None:
        if not 0 < self.ci_width < 1:  # nan fails this too
            raise NfvUsageError(f"ci_width must be in (0, 1), got {self.ci_width}")
        if self.max_rounds < 1:
            raise NfvUsageError(f"max_rounds must be >= 1, got {self.max_rounds}")
        if not self.max_seconds > 0:  # also refuses nan, which would never stop anything
            raise NfvUsageError(f"max_seconds must be > 0, got {self.max_seconds}")
        if self.min_rounds < MIN_ROUNDS:
            raise NfvUsageError(f"min_rounds must be >= {MIN_ROUNDS}, got {self.min_rounds}")
        if not self.absolute >= 0:
            raise NfvUsageError(f"absolute must be >= 0, got {self.absolute}")

    def for_dimension(self, dimension: str) -> StopRule:
        """This rule with the absolute floor of ``dimension`` (``time`` or ``memory``).

        Raises:
            NfvUsageError: an unknown dimension.
        """
        if dimension not in ABSOLUTE_FLOORS:
            raise NfvUsageError(f"unknown dimension {dimension!r}: use time or memory")
        return replace(self, absolute=ABSOLUTE_FLOORS[dimension])

    def narrow_enough(self, samples: Sequence[float]) -> bool:
        """At least ``MIN_ROUNDS`` samples and a CI within the relative or absolute width."""
        return len(samples) >= MIN_ROUNDS and _within(
            _fast_half_width(samples),
            math.fsum(samples) / len(samples),
            self.ci_width,
            self.absolute,
        )

    def decide(
        self,
        samples: Sequence[float],
        elapsed_s: float,
        limit: float | None = None,
        statistic: str = "mean",
        added: int = 1,
    ) -> str | None:
        """Why to stop now (``converged``, ``max_rounds``, ``max_seconds``), or None to go on.

        Args:
            samples: what was measured so far.
            elapsed_s: seconds since the first round started.
            limit: a budget's limit, if one applies: while the CI of its ``statistic``
                straddles it the series is not done, however narrow.
            statistic: the statistic the budget holds (one of ``STATISTICS``).
            added: samples the last round added (a block of round trips adds several): the
                convergence test runs if the series passed a checkpoint anywhere among them.
        """
        n = len(samples)
        if (
            n >= min(self.min_rounds, self.max_rounds)
            and (any(_checkpoint(m) for m in range(n - added + 1, n + 1)) or n >= self.max_rounds)
            and self.narrow_enough(samples)
            and (limit is None or not straddles(samples, limit, statistic))
        ):
            return "converged"
        if n >= self.max_rounds:
            return "max_rounds"
        if n >= self.min_rounds and elapsed_s >= self.max_seconds:
            return "max_seconds"
        return None


def repeat_until_converged(
    measure_once: Callable[[], float],
    rule: StopRule,
    *,
    limit: float | None = None,
    statistic: str = "mean",
    clock: Callable[[], float] = time.monotonic,
) -> Summary:
    """Call ``measure_once`` until ``rule`` says stop; return the summary of what it measured.

    ``measure_once`` returns one sample per call; side data (per-instance times, say) is the
    caller's to collect in a closure, so this loop stays about when to stop and nothing else.
    ``limit`` is a budget on ``statistic`` the series is held to (see ``StopRule.decide``).
    ``converged`` in the result says whether the CI got narrow enough, whatever the reason
    for stopping.
    """
    samples: list[float] = []
    started = clock()
    while True:
        samples.append(float(measure_once()))
        elapsed = clock() - started
        reason = rule.decide(samples, elapsed, limit, statistic)
        if reason is not None:
            return summarize(
                samples,
                converged=rule.narrow_enough(samples),
                stop_reason=reason,
                elapsed_s=elapsed,
            )
