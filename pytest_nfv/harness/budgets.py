"""Budgets per NFV management requirement, loaded from one TOML file per backend.

A budget is a limit that may grow with the number of instances ``N`` and the packet size, so
one file can gate a whole sweep. Every budget must say where its number came from (``source``):
a limit nobody can justify gets loosened until it gates nothing. Errors in the file name the
file, the line and the dotted key, because a CI log is often the only place anyone sees them,
and ``tomllib`` gives no positions, hence the small line locator below.
"""

from __future__ import annotations

import difflib
import json
import math
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Literal

from pytest_nfv.errors import BudgetExceeded, BudgetFileError, NfvUsageError
from pytest_nfv.harness.stats import MIN_ROUNDS, PERCENTILES, STATISTICS, Summary
from pytest_nfv.units import UNITS, factor, format_value, significant, to_base

__all__ = [
    "CATALOGUE",
    "KINDS",
    "METRICS",
    "STATISTICS",
    "VERDICTS",
    "Budget",
    "BudgetBook",
    "Judgement",
    "Kind",
    "MetricSpec",
    "Verdict",
    "assess",
    "judge",
    "load_budgets",
    "metric_kind",
]

Kind = Literal["round", "round_trip"]
"""What one sample of a figure costs, which decides its stop rule's caps.

``round``: a round boots, grows or deploys instances (seconds each), so a few tens of them is
all a run can afford. ``round_trip``: a sample is one request through the testbed (well under
a millisecond), so a figure takes hundreds until its interval is narrow, and its tail
(p99, p99.9) becomes measurable at all.
"""

KINDS: tuple[Kind, ...] = ("round", "round_trip")


@dataclass(frozen=True)
class MetricSpec:
    """One entry of the metric catalogue: what a figure measures and what a sample costs."""

    dimension: str  # "time" or "memory"
    kind: Kind = "round"


_ROUND_TRIP = MetricSpec("time", "round_trip")

#: requirement -> metric -> its spec: the one place a figure's dimension and kind are
#: declared; the requirements in the order of ``REQUIREMENTS``.
CATALOGUE: Mapping[str, Mapping[str, MetricSpec]] = MappingProxyType(
    {
        "instantiation": MappingProxyType(
            {
                "boot_makespan": MetricSpec("time"),
                "boot_per_instance": MetricSpec("time"),
                "memory": MetricSpec("memory"),
                "memory_per_instance": MetricSpec("memory"),
                "memory_pss": MetricSpec("memory"),
                "memory_pss_per_instance": MetricSpec("memory"),
                "memory_engine": MetricSpec("memory"),
                "memory_engine_per_instance": MetricSpec("memory"),
                "memory_kernel": MetricSpec("memory"),
                "memory_kernel_per_instance": MetricSpec("memory"),
            }
        ),
        "deployment": MappingProxyType(
            {
                "boot_time": MetricSpec("time"),
                "reconfigure_time": MetricSpec("time"),
                "memory": MetricSpec("memory"),
            }
        ),
        "monitoring": MappingProxyType(
            {
                "response_time": _ROUND_TRIP,
                "direct_response_time": _ROUND_TRIP,
                "proxy_overhead": _ROUND_TRIP,
                # --nfv-proxy-b: variant B's, timed round by round beside A's
                "variant_response_time": _ROUND_TRIP,
                "variant_proxy_overhead": _ROUND_TRIP,
                # throughput: 1 / NDR and 1 / PDR, a round being one whole search
                "ndr_frame_interval": MetricSpec("time"),
                "pdr_frame_interval": MetricSpec("time"),
            }
        ),
        "coexistence": MappingProxyType(
            {
                "memory": MetricSpec("memory"),
                "memory_kernel": MetricSpec("memory"),
                "response_time": _ROUND_TRIP,
            }
        ),
    }
)

#: requirement -> metric -> dimension (``CATALOGUE`` without the kinds).
METRICS: Mapping[str, Mapping[str, str]] = MappingProxyType(
    {
        requirement: MappingProxyType({metric: spec.dimension for metric, spec in specs.items()})
        for requirement, specs in CATALOGUE.items()
    }
)


def metric_kind(requirement: str, metric: str) -> Kind:
    """The kind of ``requirement``/``metric`` (its stop rule's caps follow from it).

    Raises:
        NfvUsageError: not a metric of the catalogue.
    """
    spec = CATALOGUE.get(requirement, {}).get(metric)
    if spec is None:
        raise NfvUsageError(f"unknown requirement/metric {requirement}/{metric}")
    return spec.kind


MAX_BUDGET_NUMBER = 1e9
"""Largest number a budget's field may hold, in its unit: larger ones are typos, and one near
the float limit overflows the limit to infinity, which no figure could ever blow."""
_FIELDS: tuple[str, ...] = ("unit", "base", "per_instance", "per_kib", "statistic", "source")


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
        if metric not in METRICS.get(requirement, {}):
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
    spec = CATALOGUE.get(requirement, {}).get(metric)
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


# --- loading -------------------------------------------------------------------------------

_PART = r"""(?:[A-Za-z0-9_-]+|"(?:[^"\\]|\\.)*"|'[^']*')"""
_DOTTED = rf"{_PART}(?:\s*\.\s*{_PART})*"
_PART_RE = re.compile(_PART)
_HEADER_RE = re.compile(rf"\s*\[\[?\s*({_DOTTED})\s*\]")
_ASSIGN_RE = re.compile(rf"\s*({_DOTTED})\s*=\s*")
_BARE_RE = re.compile(r"[A-Za-z0-9_-]+")
Key = tuple[str, ...]


def _split_key(dotted: str) -> Key:
    return tuple(p[1:-1] if p[0] in "\"'" else p for p in _PART_RE.findall(dotted))


def _dotted(key: Key) -> str:
    return ".".join(p if _BARE_RE.fullmatch(p) else json.dumps(p) for p in key) or "<document>"


def _skip_string(text: str, i: int) -> int:
    """Index just past the string starting at ``i`` (``len(text)`` if it does not close here)."""
    quote = text[i] * 3 if text.startswith(text[i] * 3, i) else text[i]
    j = i + len(quote)
    while j < len(text):
        if text[j] == "\\" and quote[0] == '"':
            j += 2
        elif text.startswith(quote, j):
            return j + len(quote)
        else:
            j += 1
    return len(text)


class _Locator:
    """Where each dotted key is defined: header tables, ``a.b = 1`` and one-line inline tables.

    A heuristic, not a TOML parser: its answers matter only for text ``tomllib`` accepted (and
    for naming the key near a syntax error), so it need not reject anything itself.
    """

    def __init__(self, text: str) -> None:
        self._lines: dict[Key, int] = {}
        self._context: dict[int, Key] = {}
        table: Key = ()
        closer: str | None = None  # delimiter of a multi-line string still open
        depth = 0  # brackets of a multi-line array still open
        for number, raw in enumerate(text.split("\n"), start=1):
            self._context[number] = table
            if closer is not None:
                closer = None if closer in raw else closer
                continue
            if depth > 0:
                depth, closer = self._scan(raw, depth)
                continue
            if header := _HEADER_RE.match(raw):
                table = _split_key(header.group(1))
                self._note(table, number)
            elif assign := _ASSIGN_RE.match(raw):
                key = table + _split_key(assign.group(1))
                self._note(key, number)
                value = raw[assign.end() :]
                if value.startswith("{"):
                    self._inline(key, value, number)
                depth, closer = self._scan(value, 0)

    def _note(self, key: Key, line: int) -> None:
        for cut in range(1, len(key) + 1):  # ``a.b.c = 1`` also defines tables a and a.b here
            self._lines.setdefault(key[:cut], line)
        self._context[line] = key

    @staticmethod
    def _scan(text: str, depth: int) -> tuple[int, str | None]:
        i = 0
        while i < len(text):
            ch = text[i]
            if ch in "\"'":
                end = _skip_string(text, i)
                if end == len(text) and text.startswith(ch * 3, i):
                    return depth, ch * 3
                i = end
                continue
            if ch == "#":
                break
            depth += (ch in "[{") - (ch in "]}")
            i += 1
        return max(depth, 0), None

    def _inline(self, prefix: Key, text: str, line: int) -> None:
        stack, i, expect_key, arrays = [prefix], 1, True, 0
        while i < len(text) and stack:
            if expect_key and arrays == 0:
                expect_key = False
                if m := _ASSIGN_RE.match(text, i):
                    key = stack[-1] + _split_key(m.group(1))
                    self._note(key, line)
                    i = m.end()
                    if text.startswith("{", i):
                        stack.append(key)
                        i, expect_key = i + 1, True
                    continue
            ch = text[i]
            if ch in "\"'":
                i = _skip_string(text, i)
                continue
            if ch == "#":
                return
            arrays += (ch == "[") - (ch == "]")
            if arrays == 0 and ch == ",":
                expect_key = True
            elif arrays == 0 and ch == "}":
                stack.pop()
            i += 1

    def line_of(self, key: Key) -> int:
        """Line defining ``key`` (or first using it as a table); else its nearest table; else 1."""
        if key in self._lines:
            return self._lines[key]
        for cut in range(len(key) - 1, 0, -1):
            if key[:cut] in self._lines:
                return self._lines[key[:cut]]
        return 1

    def key_at(self, line: int) -> Key:
        return self._context.get(line, ())


def _toml_type(value: object) -> str:
    names = {
        bool: "boolean",
        int: "integer",
        float: "float",
        str: "string",
        list: "array",
        dict: "table",
    }
    return names.get(type(value), "date/time")


def _suggest(word: str, choices: Mapping[str, object] | tuple[str, ...]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1)
    hint = f"did you mean {close[0]!r}? " if close else ""
    return f"{hint}expected one of {', '.join(choices)}"


class _File:
    """Validation state for one file, so every error carries the same ``file:line: key:``."""

    def __init__(self, path: Path, text: str) -> None:
        self.path, self.text = path, text
        self.locator = _Locator(text)

    def error(self, key: Key, problem: str, line: int | None = None) -> BudgetFileError:
        line = self.locator.line_of(key) if line is None else line
        return BudgetFileError(f"{self.path}:{line}: {_dotted(key)}: {problem}")

    def number(self, key: Key, value: object) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.error(key, f"expected a number, got {_toml_type(value)}")
        if not math.isfinite(value):
            raise self.error(key, f"must be a finite number, got {value}")
        if value < 0:
            raise self.error(key, f"must not be negative, got {value}")
        if value > MAX_BUDGET_NUMBER:
            raise self.error(
                key, f"must be at most {MAX_BUDGET_NUMBER:g}, got {value}: no limit is that large"
            )
        return float(value)

    def string(self, key: Key, value: object) -> str:
        if not isinstance(value, str):
            raise self.error(key, f"expected a string, got {_toml_type(value)}")
        return value

    def budget(self, requirement: str, metric: str, table: dict[str, object]) -> Budget:
        head = (requirement, metric)
        for name in table:
            if name not in _FIELDS:
                raise self.error((*head, name), f"unknown field; {_suggest(name, _FIELDS)}")
        for name in ("unit", "base", "source"):
            if name not in table:
                raise self.error((*head, name), "missing required field")
        unit = self.string((*head, "unit"), table["unit"])
        dimension = METRICS[requirement][metric]
        if unit not in UNITS[dimension]:
            allowed = ", ".join(UNITS[dimension])
            raise self.error((*head, "unit"), f"{unit!r} is not a {dimension} unit; use {allowed}")
        amounts = {
            name: self.number((*head, name), table.get(name, 0.0))
            for name in ("base", "per_instance", "per_kib")
        }
        statistic = self.string((*head, "statistic"), table.get("statistic", "mean"))
        if statistic not in STATISTICS:
            raise self.error(
                (*head, "statistic"),
                f"unknown statistic {statistic!r}; {_suggest(statistic, STATISTICS)}",
            )
        source = self.string((*head, "source"), table["source"])
        if not source.strip():
            raise self.error((*head, "source"), "must say where the number came from, got ''")
        return Budget(
            requirement=requirement,
            metric=metric,
            unit=unit,
            statistic=statistic,
            source=source,
            path=self.path,
            line=self.locator.line_of(head),
            **amounts,
        )


def load_budgets(path: Path, backend: str | None = None) -> BudgetBook:
    """Read and validate a budgets TOML file.

    Args:
        path: the file, e.g. ``fixtures/budgets/netns.toml``.
        backend: the backend the run measures; a file whose ``backend`` key names another is
            refused, since its limits would judge figures they were never meant for.

    Raises:
        BudgetFileError: the file is missing, unreadable, not TOML, breaks the schema, or is
            for another backend; the message is ``"{file}:{line}: {key}: {problem}"`` where a
            position is known.
    """
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise BudgetFileError(f"{path}: cannot read budgets file: {exc.strerror or exc}") from exc
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise BudgetFileError(f"{path}:{line}: <document>: not UTF-8 text") from exc
    file = _File(path, text)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        found = re.search(r"\(at line (\d+), column \d+\)", str(exc))
        line = int(found.group(1)) if found else max(1, len(text.rstrip("\n").split("\n")))
        problem = re.sub(r"\s*\(at (line \d+, column \d+|end of document)\)", "", str(exc))
        raise file.error(file.locator.key_at(line), f"TOML syntax: {problem}", line) from exc
    written_for: str | None = None
    budgets: dict[tuple[str, str], Budget] = {}
    for name, value in data.items():
        if name == "backend":
            written_for = file.string((name,), value)
            if backend is not None and written_for != backend:
                raise file.error(
                    (name,),
                    f"the file holds budgets of {written_for!r}, but the run measures "
                    f"{backend!r}; pass the budgets of {backend!r} with --nfv-budgets",
                )
        elif name not in METRICS:
            what = "requirement" if isinstance(value, dict) else "top-level key"
            raise file.error((name,), f"unknown {what}; {_suggest(name, ('backend', *METRICS))}")
        elif not isinstance(value, dict):
            raise file.error((name,), f"expected a table of metrics, got {_toml_type(value)}")
        else:
            for metric, table in value.items():
                if metric not in METRICS[name]:
                    hint = _suggest(metric, tuple(METRICS[name]))
                    raise file.error((name, metric), f"unknown metric for {name}; {hint}")
                if not isinstance(table, dict):
                    raise file.error(
                        (name, metric), f"expected a budget table, got {_toml_type(table)}"
                    )
                budgets[(name, metric)] = file.budget(name, metric, table)
    return BudgetBook(path=path, backend=written_for, budgets=budgets)
