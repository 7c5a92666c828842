"""One growing population per round serves every N: figures per N, the slope, measured once."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import pytest

from pytest_nfv.errors import BootTimeout
from pytest_nfv.harness.growth import SharedGrowth
from pytest_nfv.harness.host_spend import HostSpend
from pytest_nfv.harness.lab import GrowthPoint
from pytest_nfv.harness.repeat import StopRule
from pytest_nfv.harness.stats import Summary
from pytest_nfv.harness.together import repeat_together

RULE = StopRule(ci_width=0.05, max_rounds=8, max_seconds=1e9, absolute=0.25)


class FakeLab:
    """Grows a population whose kernel figure is 0.35 MiB per instance plus a little jitter."""

    def __init__(self, by_kernel: bool = True, fail: bool = False) -> None:
        self.counts_kernel_memory = by_kernel
        self.calls = 0
        self.fail = fail

    def memory_growth(self, counts: Sequence[int]) -> list[GrowthPoint]:
        self.calls += 1
        if self.fail:
            raise BootTimeout("1 of 1 instances did not answer")
        jitter = 0.001 * (self.calls % 2)
        return [
            GrowthPoint(
                n,
                0.2 * n + 5 * jitter,
                0.1 * n,
                None,
                0.35 * n + jitter if self.counts_kernel_memory else None,
            )
            for n in counts
        ]


def _together(
    seen: list[Mapping[str, tuple[str, int | None]]],
) -> Callable[
    [Callable[[], Mapping[str, float]], Mapping[str, tuple[str, int | None]]], dict[str, Summary]
]:
    def together(
        once: Callable[[], Mapping[str, float]], figures: Mapping[str, tuple[str, int | None]]
    ) -> dict[str, Summary]:
        seen.append(figures)
        return repeat_together(once, {key: (RULE, None) for key in figures}, clock=lambda: 0.0)

    return together


def test_every_n_and_the_slope_come_from_the_same_rounds() -> None:
    lab: Any = FakeLab()
    seen: list[Mapping[str, tuple[str, int | None]]] = []
    growth = SharedGrowth(lab, [4, 1, 2, 2])
    figures = growth.figures(_together(seen))
    assert figures.counts == (1, 2, 4)
    assert seen == [
        {
            "N=1": ("memory_kernel", 1),
            "N=2": ("memory_kernel", 2),
            "N=4": ("memory_kernel", 4),
            "slope": ("memory_kernel_per_instance", 4),
        }
    ]
    assert lab.calls == len(figures.rounds) == figures.summaries[4].rounds >= 3
    assert figures.summaries[4].mean == pytest.approx(1.4, abs=0.01)
    assert figures.slope is not None
    assert figures.slope.mean == pytest.approx(0.35, abs=0.01)
    assert figures.column(2, 2) == [pytest.approx(0.2)] * lab.calls  # PSS at N=2, each round
    assert figures.slopes(3) == []  # no engine figure in any round
    assert growth.figures(_together(seen)) is figures
    assert lab.calls == len(figures.rounds)


def test_without_the_kernel_the_host_figure_decides_and_no_slope_with_one_count() -> None:
    lab: Any = FakeLab(by_kernel=False)
    seen: list[Mapping[str, tuple[str, int | None]]] = []
    figures = SharedGrowth(lab, [8]).figures(_together(seen))
    assert seen == [{"N=8": ("memory", 8)}]
    assert figures.slope is None
    assert not figures.by_kernel
    assert figures.summaries[8].mean == pytest.approx(1.6, abs=0.01)


def test_a_failed_measurement_is_reported_to_every_n_and_not_retried() -> None:
    lab: Any = FakeLab(fail=True)
    growth = SharedGrowth(lab, [1, 2])
    for _ in range(2):
        with pytest.raises(BootTimeout):
            growth.figures(_together([]))
    assert lab.calls == 1


def _spend(n: int) -> HostSpend:
    """0.3 MiB per instance of its own, a 2.4 MiB helper each, 0.3 MiB of daemon growth
    each, 0.1 MiB of kernel memory charged to no instance, 50 MiB of daemons before."""
    return HostSpend(0.3 * n, 2.4 * n, 0.3 * n, 0.1 * n, 50.0)


class SpendingLab(FakeLab):
    def memory_growth(self, counts: Sequence[int]) -> list[GrowthPoint]:
        self.calls += 1
        return [
            GrowthPoint(n, 3.0 * n, 0.05 * n, None, _spend(n).total_mib, _spend(n)) for n in counts
        ]


def test_the_figure_s_parts_are_kept_per_n_and_per_instance() -> None:
    lab: Any = SpendingLab()
    figures = SharedGrowth(lab, [20, 128]).figures(_together([]))
    assert figures.summaries[128].mean == pytest.approx(3.1 * 128)
    parts = figures.breakdown(128)
    assert list(parts) == [
        "instances",
        "engine helpers",
        "engine daemons' growth",
        "kernel memory charged to no instance",
        "engine daemons before (fixed, not in the figure)",
    ]
    fixed = parts.pop("engine daemons before (fixed, not in the figure)")
    assert fixed == pytest.approx(50.0)
    assert sum(parts.values()) == pytest.approx(figures.summaries[128].mean)  # adds up
    slopes = figures.breakdown_slopes()
    assert "engine daemons before (fixed, not in the figure)" not in slopes
    assert slopes["engine helpers"] == pytest.approx(2.4)
    assert sum(slopes.values()) == pytest.approx(figures.slope.mean if figures.slope else 0)


def test_no_parts_where_the_figure_has_none() -> None:
    lab: Any = FakeLab()
    figures = SharedGrowth(lab, [1, 2]).figures(_together([]))
    assert figures.breakdown(2) == {}
    assert figures.breakdown_slopes() == {}
