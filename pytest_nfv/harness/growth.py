"""One growing population per round serves the memory figures at every N, and the slope.

Booting N instances afresh for each N costs 1 + 2 + ... + 128 instance boots per round; one
population grown through every N (``Lab.memory_growth``) costs 128 and reads each N on the
way, with every point sharing one baseline. The rounds go on until the figure of every N (and
the per-instance slope) may stop by its own stop rule (``harness.together``); the tests of
each N then record their N's figure from the same rounds.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from pytest_nfv.harness.host_spend import ENGINE_FIXED
from pytest_nfv.harness.lab import GrowthPoint, Lab
from pytest_nfv.harness.stats import Summary

__all__ = ["GrowthFigures", "SharedGrowth", "slope"]

SLOPE = "slope"

Together = Callable[
    [Callable[[], Mapping[str, float]], Mapping[str, tuple[str, int | None]]],
    dict[str, Summary],
]
"""``Repeater.together``: rounds until each named figure (metric, N) may stop."""


def slope(xs: Sequence[int], ys: Sequence[float]) -> float:
    """Least-squares slope of ``ys`` over ``xs``: memory per instance."""
    from scipy import stats as scipy_stats  # here, not at import: pytest start-up stays fast

    return float(scipy_stats.linregress(xs, ys).slope)


def _key(n: int) -> str:
    return f"N={n}"


@dataclass(frozen=True)
class GrowthFigures:
    """What the shared rounds measured.

    ``by_kernel`` says whether the stop rule followed the kernel's figure (else the host's);
    ``rounds`` holds every round's points (``GrowthPoint``), in order.
    """

    counts: tuple[int, ...]
    by_kernel: bool
    summaries: Mapping[int, Summary]
    slope: Summary | None
    rounds: tuple[tuple[GrowthPoint, ...], ...]

    def column(self, n: int, index: int) -> list[float]:
        """One field of N's point in each round (1 host, 2 PSS, 3 engine, 4 kernel: what the
        host spends, kernel-accounted)."""
        values = [next(p for p in points if p[0] == n)[index] for points in self.rounds]
        return [float(v) for v in values if isinstance(v, int | float)]

    def breakdown(self, n: int) -> dict[str, float]:
        """The mean over rounds of each part of N's figure (``HostSpend.parts``), in MiB;
        empty where the figure has no parts."""
        return _mean_parts(
            [p.spend.parts() for points in self.rounds for p in points if p.n == n and p.spend]
        )

    def breakdown_slopes(self) -> dict[str, float]:
        """The mean over rounds of each part's slope over N: what one more instance adds to
        each part, in MiB."""
        per_round = []
        for points in self.rounds:
            spends = [p.spend for p in points]
            if len(points) < 2 or any(spend is None for spend in spends):
                continue
            parts = [spend.parts() for spend in spends if spend is not None]
            names = set.intersection(*(set(part) for part in parts)) - {ENGINE_FIXED}
            xs = [p.n for p in points]
            per_round.append({name: slope(xs, [part[name] for part in parts]) for name in names})
        return _mean_parts(per_round)

    def slopes(self, index: int) -> list[float]:
        """Per round, the slope over N of one field, for rounds where every point has it."""
        out = []
        for points in self.rounds:
            ys = [p[index] for p in points]
            if all(y is not None for y in ys):
                out.append(slope([p[0] for p in points], [float(y) for y in ys]))  # type: ignore[arg-type]
        return out


def _mean_parts(readings: Sequence[Mapping[str, float]]) -> dict[str, float]:
    """Each part's mean over the readings that have it, in the first reading's order."""
    if not readings:
        return {}
    return {
        name: sum(r[name] for r in readings if name in r) / sum(1 for r in readings if name in r)
        for name in readings[0]
    }


class SharedGrowth:
    """The growth rounds of one session, measured when first asked for and then reused.

    Args:
        lab: the lab whose backend grows the population.
        counts: every N of the run.
        metric: what the figure at each N is recorded as (``memory`` or ``memory_kernel``
            follow from whether the kernel accounts the instances).
        with_slope: also stop on the per-instance slope (it needs two or more counts).
    """

    def __init__(self, lab: Lab, counts: Sequence[int], *, with_slope: bool = True) -> None:
        self.lab = lab
        self.counts = tuple(sorted(set(counts)))
        self.with_slope = with_slope and len(self.counts) >= 2
        self._figures: GrowthFigures | None = None
        self._error: BaseException | None = None

    @property
    def by_kernel(self) -> bool:
        return self.lab.counts_kernel_memory

    @property
    def metric(self) -> str:
        return "memory_kernel" if self.by_kernel else "memory"

    @property
    def slope_metric(self) -> str:
        return f"{self.metric}_per_instance"

    def figures(self, together: Together) -> GrowthFigures:
        """The shared rounds' figures, measured now if no test asked before.

        Raises:
            whatever the first measurement raised (each N's test reports it, none retries).
        """
        if self._error is not None:
            raise self._error
        if self._figures is None:
            try:
                self._figures = self._measure(together)
            except Exception as exc:
                self._error = exc
                raise
        return self._figures

    def _measure(self, together: Together) -> GrowthFigures:
        field = 4 if self.by_kernel else 1
        rounds: list[tuple[GrowthPoint, ...]] = []

        def one_round() -> dict[str, float]:
            points = tuple(self.lab.memory_growth(self.counts))
            rounds.append(points)
            values: dict[str, float] = {}
            for point in points:
                value = point[field]
                if isinstance(value, int | float):
                    values[_key(point[0])] = float(value)
            if self.with_slope:
                values[SLOPE] = slope([p[0] for p in points], [values[_key(p[0])] for p in points])
            return values

        figures: dict[str, tuple[str, int | None]] = {
            _key(n): (self.metric, n) for n in self.counts
        }
        if self.with_slope:
            figures[SLOPE] = (self.slope_metric, max(self.counts))
        summaries = together(one_round, figures)
        return GrowthFigures(
            self.counts,
            self.by_kernel,
            {n: summaries[_key(n)] for n in self.counts},
            summaries.get(SLOPE),
            tuple(rounds),
        )
