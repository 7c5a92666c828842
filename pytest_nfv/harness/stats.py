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

Where a budget applies, the loop also keeps going (up to the caps) while the interval still
straddles the limit: a narrow interval that cannot tell kept from blown is not an answer yet.
"""

from __future__ import annotations

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
    "StopRule",
    "Summary",
    "interval",
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


def t_half_width(samples: Sequence[float], confidence: float = CONFIDENCE) -> float:
    """Half-width of the Student-t confidence interval of the mean.

    Returns ``inf`` for fewer than two samples: one sample says nothing about spread, and an
    infinite interval keeps that honest instead of pretending to a zero-width one.
    """
    n = len(samples)
    if n < 2:
        return math.inf
    from scipy import stats as scipy_stats  # here, not at import: pytest start-up stays fast

    sd = statistics.stdev(samples)
    t = float(scipy_stats.t.ppf(0.5 + confidence / 2.0, n - 1))
    return t * sd / math.sqrt(n)


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
        """The named statistic a budget is judged on (``mean``, ``median`` or ``max``)."""
        if name == "mean":
            return self.mean
        if name == "median":
            return self.median
        if name == "max":
            return self.maximum
        raise NfvUsageError(f"unknown statistic {name!r}: use mean, median or max")


def interval(summary: Summary, name: str) -> tuple[float, float]:
    """Where the named statistic lies, with 95% confidence, from ``summary``'s samples.

    ``mean``: the Student-t interval. ``median``: the distribution-free interval between two
    order statistics (binomial), which needs at least 6 samples, else it is unbounded.
    ``max``: the observed maximum itself; a budget on the maximum says no round may exceed
    it, and whether one did is a fact, not an estimate.

    Raises:
        NfvUsageError: an unknown statistic.
    """
    if name == "mean":
        return summary.mean - summary.half_width, summary.mean + summary.half_width
    if name == "max":
        return summary.maximum, summary.maximum
    if name != "median":
        raise NfvUsageError(f"unknown statistic {name!r}: use mean, median or max")
    from scipy import stats as scipy_stats

    n = len(summary.samples)
    tail = (1.0 - summary.confidence) / 2.0
    # Largest k with P(Binomial(n, 1/2) <= k - 1) <= tail: [x_(k), x_(n+1-k)] covers the median.
    k = int(scipy_stats.binom.ppf(tail, n, 0.5))
    while k > 0 and scipy_stats.binom.cdf(k - 1, n, 0.5) > tail:
        k -= 1
    if k < 1:
        return -math.inf, math.inf
    ordered = sorted(summary.samples)
    return ordered[k - 1], ordered[n - k]


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


def straddles(samples: Sequence[float], limit: float) -> bool:
    """Whether the 95% CI of the mean of ``samples`` still holds ``limit`` (kept or blown open)."""
    half = t_half_width(samples)
    mean = statistics.fmean(samples)
    return mean - half <= limit < mean + half


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
            t_half_width(samples), statistics.fmean(samples), self.ci_width, self.absolute
        )

    def decide(
        self, samples: Sequence[float], elapsed_s: float, limit: float | None = None
    ) -> str | None:
        """Why to stop now (``converged``, ``max_rounds``, ``max_seconds``), or None to go on.

        Args:
            samples: what was measured so far.
            elapsed_s: seconds since the first round started.
            limit: a budget on the mean, if one applies: while the CI straddles it the
                series is not done, however narrow.
        """
        n = len(samples)
        if (
            n >= min(self.min_rounds, self.max_rounds)
            and self.narrow_enough(samples)
            and (limit is None or not straddles(samples, limit))
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
    clock: Callable[[], float] = time.monotonic,
) -> Summary:
    """Call ``measure_once`` until ``rule`` says stop; return the summary of what it measured.

    ``measure_once`` returns one sample per call; side data (per-instance times, say) is the
    caller's to collect in a closure, so this loop stays about when to stop and nothing else.
    ``limit`` is a budget on the mean the series is held to (see ``StopRule.decide``).
    ``converged`` in the result says whether the CI got narrow enough, whatever the reason
    for stopping.
    """
    samples: list[float] = []
    started = clock()
    while True:
        samples.append(float(measure_once()))
        elapsed = clock() - started
        reason = rule.decide(samples, elapsed, limit)
        if reason is not None:
            return summarize(
                samples,
                converged=rule.narrow_enough(samples),
                stop_reason=reason,
                elapsed_s=elapsed,
            )
