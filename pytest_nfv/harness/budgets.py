"""Budgets per NFV management requirement: the limit formula and the verdict from a figure's CI.

A budget is a limit that may grow with the number of instances ``N`` and the packet size, so
one file can gate a whole sweep. Every budget must say where its number came from (``source``):
a limit nobody can justify gets loosened until it gates nothing. Reading and validating the
TOML file is ``harness.budget_file``'s job; this module holds what a loaded budget is and how
it judges, so the plugin's summary and the verdict tests need no parser.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Literal

from pytest_nfv import model
from pytest_nfv.errors import BudgetExceeded, NfvUsageError
from pytest_nfv.harness.stats import MIN_ROUNDS, PERCENTILES, STATISTICS, Summary
from pytest_nfv.model import Kind, metric_of
from pytest_nfv.units import factor, format_value, significant, to_base

__all__ = [
    "STATISTICS",
    "VERDICTS",
    "Budget",
    "BudgetBook",
    "Judgement",
    "Verdict",
    "assess",
    "judge",
    "metric_kind",
]


def metric_kind(requirement: str, metric: str) -> Kind:
    """The kind of ``requirement``/``metric`` (its stop rule's caps follow from it).

    Raises:
        NfvUsageError: not a metric of the catalogue (``pytest_nfv.model.METRICS``).
    """
    return metric_of(requirement, metric).kind


@dataclass(frozen=True)
class Budget:
    """One limit, in the file's ``unit``: ``base + per_instance * N + per_kib * KiB``."""

    requirement: str
    metric: str
    unit: str
    base: float
    per_instance: float = 0.0
    per_kib: float = 0.0
    statistic: str = "mean"
    source: str = ""
    path: Path = Path("<budgets>")
    line: int = 1

    def __post_init__(self) -> None:
        factor(self.unit)
        if self.statistic not in STATISTICS:
            raise NfvUsageError(
                f"unknown statistic {self.statistic!r}: use {', '.join(STATISTICS)}"
            )

    def _terms(self, n: int | None, size_bytes: int | None) -> tuple[float, float]:
        """N and KiB to plug in; a missing one is an error only if the budget depends on it.

        Silently taking 0 would turn a scaling budget into a much tighter flat one.
        """
        where = f"budget {self.requirement}/{self.metric} ({self.path}:{self.line})"
        if self.per_instance != 0 and n is None:
            raise NfvUsageError(f"{where} grows with the instance count N, but no N was given")
        if self.per_kib != 0 and size_bytes is None:
            raise NfvUsageError(f"{where} grows with the packet size, but no size was given")
        if (n or 0) < 0 or (size_bytes or 0) < 0:
            raise NfvUsageError(f"{where}: N and packet size must not be negative")
        return float(n or 0), (size_bytes or 0) / 1024.0

    def limit(self, n: int | None, size_bytes: int | None) -> float:
        """The limit in the base unit (seconds or MiB) for ``n`` instances and packet size.

        Args:
            n: number of instances, needed when ``per_instance`` is non-zero.
            size_bytes: packet size in bytes, needed when ``per_kib`` is non-zero.

        Raises:
            NfvUsageError: the budget depends on a quantity that was not given, or it is negative.
        """
        count, kib = self._terms(n, size_bytes)
        return to_base(self.base + self.per_instance * count + self.per_kib * kib, self.unit)

    def describe_limit(self, n: int | None, size_bytes: int | None) -> str:
        """The formula and its value in the file's unit, e.g. ``"50 ms + 15 ms*N = 1970 ms"``.

        Raises:
            NfvUsageError: as :meth:`limit`.
        """
        parts = [f"{significant(self.base)} {self.unit}"]
        if self.per_instance != 0:
            parts.append(f"{significant(self.per_instance)} {self.unit}*N")
        if self.per_kib != 0:
            parts.append(f"{significant(self.per_kib)} {self.unit}*KiB")
        total = format_value(self.limit(n, size_bytes), self.unit)
        return total if len(parts) == 1 else f"{' + '.join(parts)} = {total}"


def _no_budgets() -> Mapping[tuple[str, str], Budget]:
    return MappingProxyType({})


@dataclass(frozen=True)
class BudgetBook:
    """All budgets of one backend, keyed by ``(requirement, metric)``."""

    path: Path | None = None
    backend: str | None = None
    budgets: Mapping[tuple[str, str], Budget] = field(default_factory=_no_budgets)

    def __post_init__(self) -> None:
        object.__setattr__(self, "budgets", MappingProxyType(dict(self.budgets)))

    @classmethod
    def empty(cls) -> BudgetBook:
        """A book with no budgets, for runs that measure without gating."""
        return cls()

    def __len__(self) -> int:
        return len(self.budgets)

    def get(self, requirement: str, metric: str) -> Budget | None:
        """The budget for ``requirement``/``metric``, or None when the file sets none.

        Raises:
            NfvUsageError: the pair is not a known metric; a typo must not read as "no budget".
        """
        if metric not in model.METRICS.get(requirement, {}):
            raise NfvUsageError(f"unknown requirement/metric {requirement}/{metric}")
        return self.budgets.get((requirement, metric))


Verdict = Literal["kept", "blown", "inconclusive", "not judged"]
VERDICTS: tuple[Verdict, ...] = ("kept", "blown", "inconclusive", "not judged")
"""The words a figure's budget verdict is given in, everywhere: terminal, record, report.

``kept``: the 95% interval of the figure lies wholly within its limit; ``blown``: wholly
over it (the test fails); ``inconclusive``: the interval holds the limit even after the caps,
or the figure has too few rounds for an interval at all (a failure only with
``--nfv-inconclusive=fail``); ``not judged``: no budget names the figure."""


@dataclass(frozen=True)
class Judgement:
    """One figure held to its budget (or to none): what the terminal summary and record show.

    ``value`` and ``half_width`` are in the base unit of ``dimension`` (seconds or MiB);
    ``limit`` is too, or ``None`` when no budget names the figure. ``message`` explains a
    verdict other than ``kept`` in one line. ``insufficient``: fewer rounds than any verdict
    may rest on (see ``stats.MIN_ROUNDS``); such a figure is never ``kept``.
    """

    requirement: str
    metric: str
    dimension: str
    nodeid: str
    n: int | None
    size_bytes: int | None
    statistic: str
    value: float
    half_width: float
    rounds: int
    converged: bool
    limit: float | None
    limit_text: str
    verdict: Verdict
    message: str = ""
    insufficient: bool = False
    percentiles: Mapping[str, float] | None = None
    parts: Mapping[str, float] | None = None
    """The figure by part, in its base unit (what the host spends for N instances: the
    instances, the engine's helpers, ...), where the record keeps a breakdown."""
    note: str = ""
    """What a person reads beneath the figure's row (a throughput figure's rates)."""
    """A round-trip figure's distribution (``Summary.percentiles``, base unit; its sample
    count is ``rounds``), else None."""


def _verdict(budget: Budget, summary: Summary, limit: float) -> Verdict:
    """Kept when the statistic's 95% interval is wholly within the limit, blown when wholly
    over it, else inconclusive. A NaN is not comparable with any limit, so it blows it."""
    measured = summary.statistic(budget.statistic)
    if math.isnan(measured):
        return "blown"
    if budget.statistic == "max":  # an observed round over the limit is a fact, not an estimate
        if measured > limit:
            return "blown"
        return "inconclusive" if summary.insufficient else "kept"
    if summary.insufficient:
        return "inconclusive"
    low, high = summary.interval(budget.statistic)
    if low > limit:
        return "blown"
    if high <= limit:
        return "kept"
    return "inconclusive"


def _message(
    budget: Budget,
    summary: Summary,
    verdict: Verdict,
    *,
    backend: str,
    n: int | None,
    size_bytes: int | None,
) -> str:
    """One line: what, where, the figure with its evidence, the budget and where it came from."""
    where = f"{budget.requirement}/{budget.metric} on {backend}"
    if n is not None:
        where += f", N={n}"
    if size_bytes is not None:
        where += f", packet {size_bytes} B"
    unit = budget.unit
    rounds = f"{summary.rounds} round{'s' if summary.rounds != 1 else ''}"
    half = "?" if math.isinf(summary.half_width) else format_value(summary.half_width, unit)
    ci = f"{format_value(summary.mean, unit)} ± {half}"
    measured = summary.statistic(budget.statistic)
    quantile = budget.statistic == "median" or budget.statistic in PERCENTILES
    low, high = summary.interval(budget.statistic) if quantile else (measured, measured)
    if budget.statistic == "mean":
        figure = f"mean {ci} ({rounds})"
    elif quantile:
        bounds = " .. ".join("?" if math.isinf(v) else format_value(v, unit) for v in (low, high))
        figure = (
            f"{budget.statistic} {format_value(measured, unit)} (mean {ci}, {rounds}; "
            f"{budget.statistic} 95% interval {bounds})"
        )
    else:
        figure = f"{budget.statistic} {format_value(measured, unit)} (mean {ci}, {rounds})"
    if not summary.converged:
        figure += " (not converged)"
    limit = budget.describe_limit(n, size_bytes)
    source = f"[{budget.path}:{budget.line}: {' '.join(budget.source.split())}]"
    if verdict == "blown":
        return f"{where}: {figure} > budget {limit} {source}"
    if summary.insufficient:
        why = f"too few rounds for a 95% interval (at least {MIN_ROUNDS})"
    elif quantile and math.isinf(high):
        why = (
            f"too few samples to bound its {budget.statistic} from above, so its 95% "
            "interval holds the limit"
        )
    else:
        why = "its 95% interval holds the limit"
    return f"{where}: {figure} vs budget {limit}: inconclusive, {why} {source}"


def assess(
    budget: Budget | None,
    summary: Summary,
    *,
    requirement: str,
    metric: str,
    dimension: str,
    backend: str,
    nodeid: str = "",
    n: int | None = None,
    size_bytes: int | None = None,
) -> Judgement:
    """The verdict of one figure against its budget, without raising.

    The verdict rests on the 95% interval of the budget's statistic, not on its point value:
    a mean whose interval straddles the limit would otherwise pass or fail by luck.

    Args:
        budget: the figure's budget, or ``None`` (the verdict is then ``not judged``).
        summary: the measured series, in the base unit.
        requirement, metric, dimension: what the figure is.
        backend: backend name for the message.
        nodeid: the test that measured it.
        n: number of instances, if the measurement had one.
        size_bytes: packet size in bytes, if the measurement had one.

    Raises:
        NfvUsageError: the budget depends on ``n`` or ``size_bytes`` and it was not given.
    """
    if budget is None:
        statistic, limit, limit_text = "mean", None, ""
        verdict: Verdict = "not judged"
        message = "no budget names this figure"
    else:
        statistic = budget.statistic
        limit, limit_text = budget.limit(n, size_bytes), budget.describe_limit(n, size_bytes)
        verdict = _verdict(budget, summary, limit)
        message = (
            ""
            if verdict == "kept"
            else _message(budget, summary, verdict, backend=backend, n=n, size_bytes=size_bytes)
        )
    return Judgement(
        requirement=requirement,
        metric=metric,
        dimension=dimension,
        nodeid=nodeid,
        n=n,
        size_bytes=size_bytes,
        statistic=statistic,
        value=summary.statistic(statistic),
        half_width=summary.half_width,
        rounds=summary.rounds,
        converged=summary.converged,
        limit=limit,
        limit_text=limit_text,
        verdict=verdict,
        message=message,
        insufficient=summary.insufficient,
        percentiles=(
            summary.percentiles() if _kind_of(requirement, metric) == "round_trip" else None
        ),
    )


def _kind_of(requirement: str, metric: str) -> Kind | None:
    spec = model.METRICS.get(requirement, {}).get(metric)
    return None if spec is None else spec.kind


def judge(
    budget: Budget,
    summary: Summary,
    *,
    backend: str,
    n: int | None = None,
    size_bytes: int | None = None,
) -> Verdict:
    """Fail when the figure's 95% interval lies wholly over the budget; else its verdict.

    The CI half-width shown is that of the mean, so for median/max it is shown beside the mean
    rather than beside a figure it does not describe.

    Args:
        budget: the budget to hold the figure to.
        summary: the measured series, in the base unit.
        backend: backend name for the message.
        n: number of instances, if the measurement had one.
        size_bytes: packet size in bytes, if the measurement had one.

    Returns:
        ``kept`` or ``inconclusive``.

    Raises:
        BudgetExceeded: the figure is over (or not comparable with, e.g. NaN) the limit.
        NfvUsageError: the budget depends on ``n`` or ``size_bytes`` and it was not given.
    """
    verdict = _verdict(budget, summary, budget.limit(n, size_bytes))
    if verdict == "blown":
        raise BudgetExceeded(
            _message(budget, summary, verdict, backend=backend, n=n, size_bytes=size_bytes)
        )
    return verdict
