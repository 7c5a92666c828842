"""Several figures from one round: repeat until the stop rule lets every one of them stop.

One growing population serves the memory figure at every N (and the slope over N): a round
boots 1, then 2, 4, ... instances and reads each figure on the way. Each figure keeps its own
stop rule (its dimension's floor, its budget's limit) and its own verdict on convergence;
the rounds go on while any of them still needs more, so no figure stops on another's say.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable, Mapping
from typing import TypeVar

from pytest_nfv.errors import ProbeError
from pytest_nfv.harness.stats import StopRule, Summary, summarize

__all__ = ["repeat_together"]

Key = TypeVar("Key", bound=Hashable)


def repeat_together(
    measure_once: Callable[[], Mapping[Key, float]],
    rules: Mapping[Key, tuple[StopRule, float | None]],
    *,
    clock: Callable[[], float] = time.monotonic,
) -> dict[Key, Summary]:
    """Call ``measure_once`` (one sample per figure) until each figure's rule says stop.

    Args:
        measure_once: one round; returns a sample for every key of ``rules``.
        rules: per figure, its stop rule and the budget limit on its mean (or None), as
            ``StopRule.decide`` takes them.

    Returns:
        Each figure's summary: converged when its own interval is narrow enough, with the
        reason its rule gave at the last round.

    Raises:
        ProbeError: a round left a figure out.
    """
    samples: dict[Key, list[float]] = {key: [] for key in rules}
    started = clock()
    while True:
        values = measure_once()
        missing = [key for key in rules if key not in values]
        if missing:
            raise ProbeError(f"a round measured no sample of {missing}")
        for key in rules:
            samples[key].append(float(values[key]))
        elapsed = clock() - started
        reasons = {
            key: rule.decide(samples[key], elapsed, limit) for key, (rule, limit) in rules.items()
        }
        if all(reason is not None for reason in reasons.values()):
            return {
                key: summarize(
                    samples[key],
                    converged=rule.narrow_enough(samples[key]),
                    stop_reason=str(reasons[key]),
                    elapsed_s=elapsed,
                )
                for key, (rule, _) in rules.items()
            }
