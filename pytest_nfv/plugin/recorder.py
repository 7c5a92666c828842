"""Measurements into pytest-benchmark, so its JSON, autosave and ``compare`` work unchanged.

pytest-benchmark times a callable; our figures are timed elsewhere (kernel timestamps, an ICMP
prober in another process) and some are not times at all (MiB). So the measured samples are
fed to the fixture's own statistics object, one ``update`` per sample, exactly as its
``pedantic`` runner would feed durations. What goes into ``extra_info`` is
``pytest_nfv.record``'s; the unit is also in the group name, since pytest-benchmark's table
labels every column as time.

``Recorder`` (what the ``nfv_record`` fixture hands a test) is here too: the fixtures start
and stop what a test measures, the recorder stores and judges what it measured.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import KW_ONLY, dataclass, replace
from typing import Any

import pytest

from pytest_nfv.errors import BudgetExceeded, NfvError
from pytest_nfv.harness.budgets import Budget, Judgement, assess
from pytest_nfv.harness.stats import Summary
from pytest_nfv.model import Metric, metric_of
from pytest_nfv.plugin.state import NfvState, recorded_key
from pytest_nfv.record import (
    NotMeasured,
    benchmark_info,
    budget_fields,
    is_time_entry,
    series_fields,
)

__all__ = ["Recorder", "Series", "record_summary", "time_groups_only"]


def record_summary(benchmark: Any, summary: Summary, *, group: str, extra: dict[str, Any]) -> None:
    """Put ``summary``'s samples into the ``benchmark`` fixture's statistics.

    Raises:
        NfvError: the installed pytest-benchmark lacks the statistics hook used here.
    """
    benchmark.extra_info.update(extra)
    benchmark.group = group
    # Mark the fixture used, as pedantic() would, so it does not warn "not used at all".
    benchmark._mode = "pytest-nfv record_summary(...)"
    if getattr(benchmark, "disabled", False):
        return
    make_stats = getattr(benchmark, "_make_stats", None)
    if make_stats is None:
        raise NfvError(
            "this pytest-benchmark has no _make_stats(); pytest-nfv needs 5.3.1 or a later 5.x"
        )
    stats = make_stats(1)
    for sample in summary.samples:
        stats.update(sample)


def time_groups_only(groups: Iterable[tuple[Any, list[dict[str, Any]]]]) -> list[Any]:
    """pytest-benchmark's display groups without the entries whose unit is not a time.

    Its table prints every figure as seconds scaled to ns/us/ms, so a MiB figure would read
    as a duration; an entry without a pytest-nfv unit (a plain benchmark) stays.
    """
    kept = []
    for name, benchmarks in groups:
        timed = [b for b in benchmarks if is_time_entry(b)]
        if timed:
            kept.append((name, timed))
    return kept


@dataclass(frozen=True)
class Series:
    """One measured series of a test, in its metric's base unit (seconds or MiB).

    What the metric is (its dimension and unit, whether its samples pool several per round,
    its label and direction) is the metric catalogue's (``pytest_nfv.model.METRICS``), looked
    up under the test's requirement: a series names its metric and nothing that follows from
    it. ``primary`` is the one that becomes the pytest-benchmark statistics of the test; the
    others are kept in ``extra_info`` and judged all the same. ``parts`` is the figure by part
    (what the host spends for N instances: the instances' own, the engine's helpers, ...).
    """

    metric: str
    summary: Summary
    _: KW_ONLY
    primary: bool = False
    extra: dict[str, Any] | None = None
    parts: Mapping[str, float] | None = None
    note: str = ""
    """Shown beneath the figure's row in the terminal summary (a throughput's rates)."""


class Recorder:
    """Records a test's series into pytest-benchmark and judges each against its budget."""

    def __init__(self, request: pytest.FixtureRequest, benchmark: Any, state: NfvState) -> None:
        marker = request.node.get_closest_marker("nfv_requirement")
        if marker is None:
            raise pytest.UsageError(
                f"{request.node.nodeid} uses nfv_record without @pytest.mark.nfv_requirement(...)"
            )
        self.requirement: str = marker.args[0]
        # The fixture belongs to pytest-nfv from here on: a test that fails before it records
        # should report its failure, not also "benchmark fixture was not used".
        benchmark._mode = "pytest-nfv Recorder"
        self._benchmark = benchmark
        self._state = state
        self._request = request

    def budget(self, metric: str) -> Budget | None:
        return self._state.budgets.get(self.requirement, metric)

    def record(
        self,
        *series: Series,
        n: int | None = None,
        size: int | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        """Store every series, then judge each; blown budgets fail the test, one line each.

        Raises:
            NfvUsageError: a series names a metric the catalogue has not under this
                requirement.
            ValueError: not exactly one series is primary.
        """
        primaries = [s for s in series if s.primary]
        if len(primaries) != 1:
            raise ValueError("exactly one series must be primary")
        primary = primaries[0]
        state = self._state
        figures = {s.metric: metric_of(self.requirement, s.metric) for s in series}
        judgements = [
            replace(
                assess(
                    self.budget(s.metric),
                    s.summary,
                    requirement=self.requirement,
                    metric=s.metric,
                    dimension=figures[s.metric].dimension,
                    backend=state.settings.backend,
                    nodeid=self._request.node.nodeid,
                    n=n,
                    size_bytes=size,
                ),
                parts=dict(s.parts) if s.parts else None,
                note=s.note,
            )
            for s in series
        ]
        written = {
            s.metric: self._fields(s, figures[s.metric], judgement, primary, n, size)
            for s, judgement in zip(series, judgements, strict=True)
        }
        info = benchmark_info(
            backend=state.settings.backend,
            engine=state.backend.engine().describe(),
            requirement=self.requirement,
            metric=primary.metric,
            n=n,
            size=size,
            primary=written.pop(primary.metric),
            secondary=written,
            extra=extra,
        )
        group = f"{self.requirement}/{primary.metric} [{figures[primary.metric].unit}]"
        record_summary(self._benchmark, primary.summary, group=group, extra=info)
        recorded = self._request.config.stash.get(recorded_key, None)
        if recorded is not None:  # --nfv-compare gates this run at its end
            recorded.append({"name": self._request.node.name, "extra_info": dict(info)})
        state.judgements.extend(judgements)
        failing = {"blown", "inconclusive"} if state.settings.inconclusive == "fail" else {"blown"}
        failures = [j.message for j in judgements if j.verdict in failing]
        if failures:
            raise BudgetExceeded("\n".join(failures))

    def _fields(
        self,
        s: Series,
        figure: Metric,
        judgement: Judgement,
        primary: Series,
        n: int | None,
        size: int | None,
    ) -> dict[str, Any]:
        budget = self.budget(s.metric)
        return series_fields(
            s.summary,
            figure,
            budget=None
            if budget is None
            else budget_fields(
                budget.limit(n, size),
                figure.unit,
                budget.statistic,
                budget.source,
                f"{budget.path}:{budget.line}",
            ),
            verdict=judgement.verdict,
            insufficient=judgement.insufficient,
            # A series with more samples than its test had rounds pools several per round.
            per_round=figure.pooling != "repeated" and s.summary.rounds == primary.summary.rounds,
            parts=s.parts,
            extra=s.extra,
        )

    def not_measured(self, metrics: Sequence[str], reason: str) -> None:
        """Say that ``metrics`` were not taken here, and why (a backend that cannot move its
        instances, an engine without the feature): the terminal summary lists them with the
        reason, so that a figure missing is never read as a figure kept."""
        self._state.not_measured.append(NotMeasured(self.requirement, tuple(metrics), reason))
