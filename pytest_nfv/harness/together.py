"""Several figures from one round: repeat until the stop rule lets every one of them stop.

One growing population serves the memory figure at every N (and the slope over N): a round
boots 1, then 2, 4, ... instances and reads each figure on the way. Each figure keeps its own
stop rule (its dimension's floor, its kind's caps, its budget's limit) and its own verdict on
convergence; the rounds go on while any of them still needs more, so no figure stops on
another's say. The same holds for the round trips of the monitoring suite: the proxied and
the plain path, and what the proxy adds, are three figures of one pair of requests.

A round may give a figure a block of samples rather than one: the monitoring suite times
several round trips per path between two switches of path, because a switch costs a hundred
times what a round trip does. The caps count samples, so a block may take a figure past
``max_rounds`` by less than one block.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable, Mapping, Sequence
from typing import TypeVar

from pytest_nfv.errors import ProbeError
from pytest_nfv.harness.repeat import StopRule
from pytest_nfv.harness.stats import Summary, summarize

__all__ = ["Hold", "Taken", "repeat_together"]

Key = TypeVar("Key", bound=Hashable)

Hold = tuple[StopRule, float | None] | tuple[StopRule, float | None, str]
"""A figure's stop rule, its budget's limit (or None) and the statistic the budget holds
(``mean`` when left out), as ``StopRule.decide`` takes them."""


def _unpack(hold: Hold) -> tuple[StopRule, float | None, str]:
    if len(hold) == 3:
        return hold
    return hold[0], hold[1], "mean"


Taken = float | Sequence[float]
"""What a round gives a figure: one sample, or a block of them."""


def repeat_together(
    measure_once: Callable[[], Mapping[Key, Taken]],
    rules: Mapping[Key, Hold],
    *,
    clock: Callable[[], float] = time.monotonic,
) -> dict[Key, Summary]:
    """Call ``measure_once`` (one sample per figure) until each figure's rule says stop.

    Args:
        measure_once: one round; returns a sample, or a non-empty block of samples, for
            every key of ``rules``.
        rules: per figure, its stop rule, its budget's limit (or None) and, optionally, the
            statistic that limit holds (see ``Hold``).

    Returns:
        Each figure's summary: converged when its own interval is narrow enough, with the
        reason its rule gave at the last round.

    Raises:
        ProbeError: a round left a figure out or gave it an empty block.
    """
    holds = {key: _unpack(hold) for key, hold in rules.items()}
    samples: dict[Key, list[float]] = {key: [] for key in rules}
    started = clock()
    while True:
        values = measure_once()
        missing = [key for key in rules if key not in values]
        if missing:
            raise ProbeError(f"a round measured no sample of {missing}")
        added: dict[Key, int] = {}
        for key in rules:
            block = _block(values[key])
            if not block:
                raise ProbeError(f"a round measured an empty block of {key!r}")
            samples[key].extend(block)
            added[key] = len(block)
        elapsed = clock() - started
        reasons = {
            key: rule.decide(samples[key], elapsed, limit, statistic, added[key])
            for key, (rule, limit, statistic) in holds.items()
        }
        if all(reason is not None for reason in reasons.values()):
            return {
                key: summarize(
                    samples[key],
                    converged=rule.narrow_enough(samples[key]),
                    stop_reason=str(reasons[key]),
                    elapsed_s=elapsed,
                )
                for key, (rule, _, _) in holds.items()
            }


def _block(taken: Taken) -> list[float]:
    if isinstance(taken, Sequence):
        return [float(value) for value in taken]
    return [float(taken)]
