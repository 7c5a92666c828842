"""Repeat a measurement until its 95% confidence interval is narrow enough, or a cap is hit.

The paper repeats every measurement "until guarantee a minimum confidence interval of 95%".
We make that precise: after each round the Student-t interval of the mean is computed; we stop
once its half-width is at most ``ci_width`` times the mean (after ``min_rounds``), or when
``max_rounds`` or ``max_seconds`` is reached. Whether it converged is part of the result, so a
figure that merely ran out of time is never presented as a tight one.
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from pytest_nfv.errors import NfvUsageError, ProbeError

__all__ = ["StopRule", "Summary", "repeat_until_converged", "summarize", "t_half_width"]

CONFIDENCE = 0.95


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


def summarize(
    samples: Sequence[float],
    *,
    converged: bool | None = None,
    ci_width: float | None = None,
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
        converged = ci_width is not None and _within(half, mean, ci_width)
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


def _within(half_width: float, mean: float, ci_width: float) -> bool:
    if math.isinf(half_width):
        return False
    if mean == 0:
        return half_width == 0
    return half_width <= ci_width * abs(mean)


@dataclass(frozen=True)
class StopRule:
    """When to stop repeating: CI narrow enough, or a cap reached.

    Args:
        ci_width: target half-width of the 95% CI as a fraction of the mean (0 < w < 1).
        max_rounds: hard cap on rounds.
        max_seconds: wall-clock cap; checked between rounds, so one slow round may overrun it.
        min_rounds: rounds always taken before convergence is judged (at least 2).
    """

    ci_width: float = 0.05
    max_rounds: int = 30
    max_seconds: float = 60.0
    min_rounds: int = 5

    def __post_init__(self) -> None:
        if not 0 < self.ci_width < 1:  # nan fails this too
            raise NfvUsageError(f"ci_width must be in (0, 1), got {self.ci_width}")
        if self.max_rounds < 1:
            raise NfvUsageError(f"max_rounds must be >= 1, got {self.max_rounds}")
        if not self.max_seconds > 0:  # also refuses nan, which would never stop anything
            raise NfvUsageError(f"max_seconds must be > 0, got {self.max_seconds}")
        if self.min_rounds < 2:
            raise NfvUsageError(f"min_rounds must be >= 2, got {self.min_rounds}")

    def decide(self, samples: Sequence[float], elapsed_s: float) -> str | None:
        """Why to stop now (``converged``, ``max_rounds``, ``max_seconds``), or None to go on."""
        n = len(samples)
        if n >= min(self.min_rounds, self.max_rounds) and _within(
            t_half_width(samples), statistics.fmean(samples), self.ci_width
        ):
            return "converged"
        if n >= self.max_rounds:
            return "max_rounds"
        if elapsed_s >= self.max_seconds:
            return "max_seconds"
        return None


def repeat_until_converged(
    measure_once: Callable[[], float],
    rule: StopRule,
    *,
    clock: Callable[[], float] = time.monotonic,
) -> Summary:
    """Call ``measure_once`` until ``rule`` says stop; return the summary of what it measured.

    ``measure_once`` returns one sample per call; side data (per-instance times, say) is the
    caller's to collect in a closure, so this loop stays about when to stop and nothing else.
    """
    samples: list[float] = []
    started = clock()
    while True:
        samples.append(float(measure_once()))
        elapsed = clock() - started
        reason = rule.decide(samples, elapsed)
        if reason is not None:
            return summarize(
                samples,
                converged=reason == "converged",
                stop_reason=reason,
                elapsed_s=elapsed,
            )
