"""The JSON record of a measured series: written by the plugin, read back by the analysis.

pytest-benchmark's JSON is the record (its autosave, ``--benchmark-compare`` and storage work
unchanged); pytest-nfv's part of it is each entry's ``extra_info``: the test's experiment
(backend, requirement, N, packet size), its primary series' statistics and budget verdict, and
its other series under ``secondary``. This module is the one place those keys are spelled, on
both sides: the recorder writes through :func:`series_fields` and :func:`benchmark_info`, and
the analysis reads through :func:`read_benchmark`, so a key renamed here is renamed for both.
The run's own part (``machine_info["nfv"]``: the host's facts, the protocol the round trips
used, the host canaries, slowdowns injected on purpose) is written (:func:`write_run_info`)
and read (:func:`read_run_facts`) here too. Being both sides of one format is what makes the
module longer than most: split, the two sides could drift apart.

Each series also carries what its metric is (``figure``: dimension, label, direction, role,
pooling, axis, the catalogue's entry as the run knew it), so the analysis judges and draws a
series from its record and never from its name: a metric added to the catalogue reaches the
gate, the report and the scorecard without a line changed there. Records saved before they
carried ``figure`` are read with the catalogue's entry for their name, and a name the
catalogue does not know gets a plain entry from its unit: every saved history stays readable.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol, TypedDict

from pytest_nfv import model
from pytest_nfv.errors import HistoryError
from pytest_nfv.model import AXES, KINDS, POOLINGS, ROLES, Metric
from pytest_nfv.units import dimension_of

__all__ = [
    "TIMELINE",
    "BudgetFields",
    "NotMeasured",
    "Record",
    "RecordKey",
    "RunFacts",
    "SummaryLike",
    "benchmark_info",
    "budget_fields",
    "canary_entry",
    "extend_canary",
    "is_time_entry",
    "read_benchmark",
    "read_figure",
    "read_run_facts",
    "run_conditions",
    "series_fields",
    "write_run_info",
]

# --- writing -------------------------------------------------------------------------------


class SummaryLike(Protocol):
    """What a series' statistics give the record (``harness.stats.Summary`` is one)."""

    @property
    def samples(self) -> Sequence[float]: ...
    @property
    def mean(self) -> float: ...
    @property
    def median(self) -> float: ...
    @property
    def half_width(self) -> float: ...
    @property
    def confidence(self) -> float: ...
    @property
    def converged(self) -> bool: ...
    @property
    def stop_reason(self) -> str: ...
    @property
    def rounds(self) -> int: ...

    def percentiles(self) -> Mapping[str, float]: ...


class BudgetFields(TypedDict):
    """The budget a series was judged against, as the run resolved it."""

    limit: float
    unit: str
    statistic: str
    source: str
    file: str


def budget_fields(limit: float, unit: str, statistic: str, source: str, file: str) -> BudgetFields:
    """A series' ``budget`` table; ``file`` is ``path:line`` of the budget's entry."""
    return BudgetFields(limit=limit, unit=unit, statistic=statistic, source=source, file=file)


def series_fields(
    summary: SummaryLike,
    figure: Metric,
    *,
    budget: BudgetFields | None,
    verdict: str,
    insufficient: bool,
    per_round: bool,
    parts: Mapping[str, float] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """One series as JSON-ready fields, in its metric's base unit.

    A round-trip figure also gets its distribution (``percentiles``: p50, p90, p99, p99.9 and
    max, with ``n`` samples), interpolated between ranks as numpy does by default, so they can
    be recomputed from ``samples``.

    Args:
        summary: the measured series.
        figure: the catalogue's entry of its metric; it travels in the record.
        budget: the budget it was judged against, if any.
        verdict: the budget verdict (kept, blown, inconclusive, not judged).
        insufficient: too few rounds for a verdict.
        per_round: one sample per round (the regression gate compares only such series).
        parts: the figure by part (what the host spends, by part), in the base unit.
        extra: the test's own facts about the series (method, probe interval...).
    """
    half = summary.half_width
    fields: dict[str, Any] = {
        "unit": figure.unit,
        "samples": [round(s, 9) for s in summary.samples],
        "mean": summary.mean,
        "median": summary.median,
        "ci_level": summary.confidence,
        "ci_half_width": None if math.isinf(half) else half,
        "rounds": summary.rounds,
        "converged": summary.converged,
        "stop_reason": summary.stop_reason,
    }
    if figure.kind == "round_trip":
        fields["percentiles"] = {"n": summary.rounds, **summary.percentiles()}
    fields.update(extra or {})
    if parts:
        fields["breakdown_mib"] = dict(parts)
    fields.update(
        budget=budget,
        verdict=verdict,
        insufficient=insufficient,
        per_round=per_round,
        figure=asdict(figure),
    )
    return fields


def benchmark_info(
    *,
    backend: str,
    engine: str,
    requirement: str,
    metric: str,
    n: int | None,
    size: int | None,
    primary: Mapping[str, Any],
    secondary: Mapping[str, Mapping[str, Any]],
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """A test's whole ``extra_info``: its experiment, its primary series, the others beside.

    Args:
        backend: the backend's name.
        engine: the engine as it describes itself (version), for the host fingerprint.
        requirement: the management requirement the test gates.
        metric: the primary series' metric.
        n: the number of instances, if the experiment has one.
        size: the packet size in bytes, if the experiment has one.
        primary: :func:`series_fields` of the primary series.
        secondary: metric -> :func:`series_fields` of each other series.
        extra: the test's own facts about the experiment.
    """
    info: dict[str, Any] = {
        "backend": backend,
        "engine": engine,
        "requirement": requirement,
        "metric": metric,
        "n": n,
        "packet_size": size,
        **(extra or {}),
        **primary,
    }
    if secondary:
        info["secondary"] = {name: dict(fields) for name, fields in secondary.items()}
    return info


def is_time_entry(benchmark: Mapping[str, Any]) -> bool:
    """Whether a pytest-benchmark entry is a time (or not ours): its table prints only those."""
    info = benchmark.get("extra_info") or {}
    unit = info.get("unit") if isinstance(info, dict) else None
    return not isinstance(unit, str) or dimension_of(unit) in (None, "time")


def run_conditions(
    canary: Mapping[str, Any],
    proxy_b: str | None,
    injected: Mapping[str, str],
    not_measured: Sequence[NotMeasured] = (),
) -> dict[str, Any]:
    """What a run says about the conditions it ran in, beside the host's facts: its canaries
    (:func:`canary_entry` each), the variant B of the proxy VNF timed beside A, slowdowns
    injected on purpose, and the figures it could not take with the reason (pytest-benchmark
    saves no entry for a test that timed nothing, so they live here); each only when there is
    one."""
    conditions: dict[str, Any] = {}
    if canary:
        conditions["canary"] = dict(canary)
    if proxy_b is not None:
        conditions["proxy_b"] = proxy_b
    if injected:
        conditions["injected"] = dict(injected)
    if not_measured:
        conditions["not_measured"] = [
            {"requirement": n.requirement, "metrics": list(n.metrics), "reason": n.reason}
            for n in not_measured
        ]
    return conditions


@dataclass(frozen=True)
class NotMeasured:
    """Figures a run did not take, and why (a backend that cannot move its instances, an
    engine without the feature): a figure missing must never read as a figure kept."""

    requirement: str
    metrics: tuple[str, ...]
    reason: str


def write_run_info(
    machine_info: dict[str, Any],
    *,
    host: Mapping[str, object],
    echo: str,
    conditions: Mapping[str, Any],
    **facts: object,
) -> None:
    """The run's own part of the record into pytest-benchmark's ``machine_info``.

    Args:
        machine_info: pytest-benchmark's table, updated in place.
        host: the host's facts (``host.capabilities.HostFacts.as_dict``).
        echo: what the round trips were (``udp`` or ``icmp``).
        conditions: :func:`run_conditions`.
        facts: more facts of the run (backend, engine, pinned CPUs, prober, budgets file).
    """
    machine_info["nfv"] = {**facts, "host": dict(host), "echo": echo, **conditions}


def canary_entry(samples: Sequence[float], method: str) -> dict[str, Any]:
    """One host canary as a run records it (``machine_info["nfv"]["canary"][name]``)."""
    return {"unit": "s", "samples": [float(s) for s in samples], "method": method}


def extend_canary(entry: dict[str, Any], samples: Sequence[float]) -> None:
    """More samples of a canary already timed this run (the CPU loop, test by test)."""
    entry["samples"].extend(float(s) for s in samples)


# --- reading -------------------------------------------------------------------------------


TIMELINE = "gaps_over_time"
"""The key of a series' probe-stream timeline (a migration round's), ``[[t, gap], ...]``."""


@dataclass(frozen=True, order=True)
class RecordKey:
    """What makes two records the same experiment, so that comparing them means something.

    The key uses ``extra_info`` rather than the benchmark's ``fullname``, because the fullname
    changes with the path the suites were collected from (a clone's ``suites/`` or the
    wheel's ``pytest_nfv/suites``) while the experiment does not.
    """

    requirement: str
    metric: str
    backend: str
    n: int | None
    size: int | None
    test: str

    def label(self) -> str:
        """``coexistence/response_time N=16 1024B``: how a row of a table names it."""
        parts = [f"{self.requirement}/{self.metric}"]
        if self.n is not None:
            parts.append(f"N={self.n}")
        if self.size is not None:
            parts.append(f"{self.size}B")
        return " ".join(parts)

    def at(self, axis: str | None) -> int | None:
        """The key's value on ``axis`` (``n`` or ``size``); None without one."""
        return self.n if axis == "n" else self.size if axis == "size" else None


@dataclass(frozen=True)
class Record:
    """One measured series as a run saved it, in its own ``unit`` (``s`` or ``MiB``)."""

    key: RecordKey
    unit: str
    samples: tuple[float, ...]
    figure: Metric
    """What the metric is, as the run recorded it (or the catalogue says, for older runs)."""
    ci_half_width: float | None = None
    converged: bool | None = None
    engine: str = ""
    budget_limit: float | None = None
    budget_statistic: str = "mean"
    per_round: bool = True
    """One sample per round: samples independent enough for the regression gate."""
    verdict: str | None = None
    """The run's own budget verdict (kept, blown, inconclusive, not judged), when it wrote one."""
    percentiles: Mapping[str, float] | None = None
    """A round-trip figure's distribution as the run wrote it (p50 ... max, in ``unit``), with
    its sample count under ``n``; None for other figures and for runs that wrote none."""
    parts: Mapping[str, float] | None = None
    """The figure by part as the run wrote it (what the host spends for N instances, by part,
    in ``unit``); None for figures without one."""
    timeline: tuple[tuple[float, float], ...] | None = None
    """A migration's probe stream over time, as the run wrote it (``TIMELINE``): ``(t, gap)``
    seconds, each reply's time since the stream began and its gap since the reply before;
    None for other figures."""
    loss_curve: tuple[tuple[float, float], ...] | None = None
    """A throughput figure's trials, every search's, as (offered frames/s, loss ratio): the
    rate-vs-loss plot's points; None for other figures."""

    @property
    def mean(self) -> float:
        return math.fsum(self.samples) / len(self.samples)

    @property
    def median(self) -> float:
        return statistics.median(self.samples)

    def statistic(self, name: str) -> float:
        if name == "median":
            return self.median
        if name == "max":
            return max(self.samples)
        return self.mean

    @property
    def within_budget(self) -> bool | None:
        """Whether the figure kept its budget; ``None`` when it was not judged.

        The run's own verdict wins where it wrote one: an inconclusive figure is not within
        its budget, whatever its mean says. Older runs without one are judged by the limit.
        """
        if self.verdict is not None:
            return {"kept": True, "blown": False, "inconclusive": False}.get(self.verdict)
        if self.budget_limit is None:
            return None
        return self.statistic(self.budget_statistic) <= self.budget_limit


def _check(condition: bool, source: str, where: str, problem: str) -> None:
    if not condition:
        raise HistoryError(f"{source}: {where}: {problem}")


def _number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _optional_int(value: object, source: str, where: str, name: str) -> int | None:
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool):
        raise HistoryError(f"{source}: {where}: {name} is {value!r}, not an integer")
    return value


def _table(table: object) -> Mapping[str, float] | None:
    """A table of numbers of a series (``percentiles``, ``breakdown_mib``), its finite numbers
    only (an optional field: a malformed one is left out rather than refusing the whole
    file)."""
    if not isinstance(table, dict):
        return None
    kept = {str(k): float(v) for k, v in table.items() if _number(v)}
    return kept or None


def read_figure(requirement: str, metric: str, unit: str, fields: Mapping[str, Any]) -> Metric:
    """What a series' metric is: as its record says, else as the catalogue says, else plain.

    A run recorded its catalogue entry (``figure``) since that key exists; an older run's is
    the catalogue's entry for its name, and a metric the catalogue does not know (a user's
    own, or one since removed) a supporting, lower-is-better figure of its unit.
    """
    known = model.METRICS.get(requirement, {}).get(metric)
    plain = known or Metric(dimension_of(unit) or unit, metric, f"{requirement}/{metric}")
    raw = fields.get("figure")
    if not isinstance(raw, dict):
        return plain
    return Metric(**{**asdict(plain), **{k: v for k, v in raw.items() if _valid(k, v)}})


_TEXTS = frozenset({"dimension", "label", "description", "panel", "stands_in_for"})
_FLAGS = frozenset({"lower_is_better", "parts"})
_CHOICES: Mapping[str, tuple[object, ...]] = {
    "kind": KINDS,
    "role": ROLES,
    "axis": (*AXES, None),
    "pooling": POOLINGS,
}


def _valid(name: str, value: object) -> bool:
    """Whether a recorded ``figure`` field is one ``Metric`` has, of its type: a malformed one
    is left to the catalogue's (or the plain) value rather than refusing the whole file."""
    if name in _TEXTS:
        return isinstance(value, str) or (value is None and name in ("panel", "stands_in_for"))
    if name in _FLAGS:
        return isinstance(value, bool)
    return name in _CHOICES and value in _CHOICES[name]


def _series(
    base: RecordKey, metric: str, fields: Mapping[str, Any], engine: str, source: str, where: str
) -> Record:
    where = f"{where} {base.requirement}/{metric}"
    samples = fields.get("samples")
    _check(
        isinstance(samples, list) and len(samples) > 0 and all(_number(s) for s in samples),
        source,
        where,
        "samples are missing or not a non-empty list of finite numbers",
    )
    unit = fields.get("unit")
    _check(isinstance(unit, str) and bool(unit), source, where, "unit is missing")
    figure = read_figure(base.requirement, metric, str(unit), fields)
    budget = fields.get("budget")
    limit = budget.get("limit") if isinstance(budget, dict) else None
    half = fields.get("ci_half_width")
    per_round = fields.get("per_round")
    if not isinstance(per_round, bool):  # saved before the record said so itself
        per_round = figure.pooling == "per_round"
    return Record(
        key=RecordKey(base.requirement, metric, base.backend, base.n, base.size, base.test),
        unit=str(unit),
        samples=tuple(float(s) for s in samples),  # type: ignore[union-attr]
        figure=figure,
        ci_half_width=float(half) if isinstance(half, int | float) and _number(half) else None,
        converged=fields.get("converged") if isinstance(fields.get("converged"), bool) else None,
        engine=engine,
        budget_limit=float(limit) if isinstance(limit, int | float) and _number(limit) else None,
        budget_statistic=str(budget.get("statistic", "mean")) if isinstance(budget, dict) else "",
        per_round=per_round,
        verdict=str(fields["verdict"]) if isinstance(fields.get("verdict"), str) else None,
        percentiles=_table(fields.get("percentiles")),
        parts=_table(fields.get("breakdown_mib")),
        timeline=_timeline(fields.get(TIMELINE)),
        loss_curve=_loss_curve(fields.get("searches")),
    )


def _timeline(value: object) -> tuple[tuple[float, float], ...] | None:
    """A written timeline, or None where there is none or it is not pairs of numbers."""
    if not isinstance(value, list) or not value:
        return None
    pairs = []
    for pair in value:
        if not (isinstance(pair, list) and len(pair) == 2 and all(_number(v) for v in pair)):
            return None
        pairs.append((float(pair[0]), float(pair[1])))
    return tuple(pairs)


def _loss_curve(searches: object) -> tuple[tuple[float, float], ...] | None:
    """(offered, loss ratio) of every trial of a throughput record's searches (each trial
    saved as ``[offered, achieved, sent, received]``); a malformed trial is left out."""
    if not isinstance(searches, list):
        return None
    points = []
    for search in searches:
        trials = search.get("trials") if isinstance(search, dict) else None
        for trial in trials if isinstance(trials, list) else []:
            if not (isinstance(trial, list) and len(trial) == 4 and all(map(_number, trial))):
                continue
            offered, _achieved, sent, received = (float(v) for v in trial)
            if sent > 0:
                points.append((offered, max(0.0, sent - received) / sent))
    return tuple(points) or None


def read_benchmark(bench: Mapping[str, Any], source: str) -> list[Record]:
    """The primary and secondary records of one pytest-benchmark entry ([] if not ours).

    Raises:
        HistoryError: one of ours, malformed; the message names ``source`` and the entry.
    """
    info = bench.get("extra_info")
    if not isinstance(info, dict) or not all(
        k in info for k in ("backend", "requirement", "metric")
    ):
        return []
    name = str(bench.get("name", "?"))
    where = f"benchmark {name}"
    for k in ("backend", "requirement", "metric"):
        _check(isinstance(info[k], str) and bool(info[k]), source, where, f"{k} is not a name")
    base = RecordKey(
        requirement=info["requirement"],
        metric=info["metric"],
        backend=info["backend"],
        n=_optional_int(info.get("n"), source, where, "n"),
        size=_optional_int(info.get("packet_size"), source, where, "packet_size"),
        test=name.split("[", 1)[0],
    )
    engine = str(info.get("engine", ""))
    records = [_series(base, base.metric, info, engine, source, where)]
    secondary = info.get("secondary") or {}
    _check(isinstance(secondary, dict), source, where, "secondary is not a table")
    for metric, fields in secondary.items():
        _check(isinstance(fields, dict), source, where, f"secondary {metric} is not a table")
        records.append(_series(base, str(metric), fields, engine, source, where))
    return records


@dataclass(frozen=True)
class RunFacts:
    """What a saved run says about itself beside its records (``machine_info["nfv"]``).

    ``host`` is ``(cpu_model, cores, memory_gib, kernel)``, None where the run wrote none (or
    not all of it); ``echo`` the protocol its round trips used, None for runs saved before
    they said so; ``canary`` the host canaries it timed, seconds per sample, by name;
    ``injected`` the slowdowns injected on purpose while it measured.
    """

    host: tuple[str, int, float, str] | None = None
    echo: str | None = None
    canary: Mapping[str, tuple[float, ...]] = field(default_factory=dict)
    injected: Mapping[str, str] = field(default_factory=dict)
    not_measured: tuple[NotMeasured, ...] = ()


def read_run_facts(machine_info: object, source: str) -> RunFacts:
    """The run's facts from pytest-benchmark's ``machine_info``.

    Raises:
        HistoryError: a canary is malformed (a missing one is just absent): the gate would
            otherwise take a broken canary for a steady host.
    """
    nfv = machine_info.get("nfv") if isinstance(machine_info, dict) else None
    if not isinstance(nfv, dict):
        return RunFacts()
    echo = nfv.get("echo")
    injected = nfv.get("injected")
    return RunFacts(
        host=_host(nfv.get("host")),
        echo=echo if isinstance(echo, str) and echo else None,
        canary=_canaries(nfv.get("canary"), source),
        injected={str(k): str(v) for k, v in injected.items()}
        if isinstance(injected, dict)
        else {},
        not_measured=_not_measured(nfv.get("not_measured")),
    )


def _not_measured(raw: object) -> tuple[NotMeasured, ...]:
    if not isinstance(raw, list):
        return ()
    return tuple(
        NotMeasured(
            str(entry["requirement"]),
            tuple(str(m) for m in entry["metrics"]),
            str(entry["reason"]),
        )
        for entry in raw
        if isinstance(entry, dict)
        and isinstance(entry.get("metrics"), list)
        and {"requirement", "reason"} <= entry.keys()
    )


def _host(host: object) -> tuple[str, int, float, str] | None:
    if not isinstance(host, dict):
        return None
    try:
        return (
            str(host["cpu_model"]),
            int(host["cores"]),
            float(host["memory_gib"]),
            str(host["kernel"]),
        )
    except (KeyError, TypeError, ValueError):
        return None


def _canaries(raw: object, source: str) -> dict[str, tuple[float, ...]]:
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise HistoryError(f"{source}: machine_info nfv: canary is not a table")
    canaries = {}
    for name, entry in raw.items():
        samples = entry.get("samples") if isinstance(entry, dict) else None
        _check(
            isinstance(samples, list)
            and len(samples) > 0
            and all(_number(s) and s > 0 for s in samples),
            source,
            f"machine_info nfv canary {name}",
            "samples are missing or not a list of positive numbers",
        )
        canaries[str(name)] = tuple(float(s) for s in samples)  # type: ignore[union-attr]
    return canaries
