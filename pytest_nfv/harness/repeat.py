"""Repeat a measurement until its 95% interval is narrow enough, or a cap is hit.

``StopRule`` says when to stop, ``repeat_until_converged`` runs the rounds; what a series'
interval is, and why at least three rounds and an absolute floor, is ``harness.stats``.
Apart from it because the stop rule is a setting the plugin builds from options and the
suites pass around, while the intervals are what the budgets judge with too.

Where a budget applies, the loop also keeps going (up to the caps) while the interval of the
budget's statistic (mean, median or a percentile) still straddles the limit: a narrow interval
that cannot tell kept from blown is not an answer yet.

Why the convergence test is not run after every round of a long series: a series of cheap
round trips runs to hundreds of samples, and a test over all of them after each one would
cost more than the round trips themselves. Past ``CHECK_EVERY_ROUND_UP_TO`` samples it runs
each time the series has grown by about 2%, so a series stops at most that much later than it
could have; the caps are still checked after every round.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from pytest_nfv.errors import NfvUsageError
from pytest_nfv.harness.stats import (
    ABSOLUTE_FLOORS,
    MIN_ROUNDS,
    PERCENTILES,
    Summary,
    fast_half_width,
    quantile_interval,
    summarize,
    unknown_statistic,
    within,
)

__all__ = ["CHECK_EVERY_ROUND_UP_TO", "StopRule", "repeat_until_converged", "straddles"]

CHECK_EVERY_ROUND_UP_TO = 50
"""Series length up to which convergence is tested after every round (see the module note)."""


def straddles(samples: Sequence[float], limit: float, statistic: str = "mean") -> bool:
    """Whether the 95% CI of ``statistic`` of ``samples`` still holds ``limit`` (kept or blown
    open). A maximum never does: whether a round exceeded the limit is already known.

    Raises:
        NfvUsageError: an unknown statistic.
    """
    if statistic == "mean":
        half = fast_half_width(samples)
        mean = math.fsum(samples) / len(samples)
        low, high = mean - half, mean + half
    elif statistic == "max":
        return False
    elif statistic == "median":
        low, high = quantile_interval(samples, 0.5)
    elif statistic in PERCENTILES:
        low, high = quantile_interval(samples, PERCENTILES[statistic])
    else:
        raise unknown_statistic(statistic)
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
        return len(samples) >= MIN_ROUNDS and within(
            fast_half_width(samples),
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
