"""Saved runs read back: pytest-benchmark JSON files and storage names, as pytest-nfv records.

The regression gate, the figures and the scorecard all start here, so a missing, truncated or
foreign file fails once, in one place, with the file named: a CI log that says
``.benchmarks/…/0003_x.json: not valid JSON (line 12, column 5)`` is actionable, a traceback
from deep inside a comparison is not, and a file that silently yields nothing is worse.

A record is one measured series of one test (the primary series of a pytest-benchmark entry, or
one of the secondary series beside it in ``extra_info``), matched across runs by
``(backend, requirement, metric, N, packet size, test function)``. The key uses ``extra_info``
rather than the benchmark's ``fullname``, because the fullname changes with the path the suites
were collected from (a clone's ``suites/`` or the wheel's ``pytest_nfv/suites``) while the
experiment does not.
"""

from __future__ import annotations

import json
import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pytest_nfv.errors import HistoryError

__all__ = [
    "HostFingerprint",
    "Record",
    "RecordKey",
    "Run",
    "load_run",
    "resolve_ref",
    "run_from_json",
]


@dataclass(frozen=True, order=True)
class RecordKey:
    """What makes two records the same experiment, so that comparing them means something."""

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


@dataclass(frozen=True)
class Record:
    """One measured series as a run saved it, in its own ``unit`` (``s`` or ``MiB``)."""

    key: RecordKey
    unit: str
    samples: tuple[float, ...]
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
    """The figure by part as the run wrote it (``breakdown_mib``: what the host spends for N
    instances, by part, in ``unit``); None for figures without one."""
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


@dataclass(frozen=True)
class HostFingerprint:
    """The facts of a host and engine that move figures when they change.

    Memory is compared with a 2% tolerance: the total the kernel reports shifts by a few MiB
    between boots of the same machine, which is not a different host.

    ``echo`` is what host A's response-time requests were (``--nfv-echo`` resolved): UDP to
    B's responder and ICMP echo answered by B's kernel time different work, so their response
    times, first replies and direct-path canary are not one series. Runs saved before the
    record said so timed UDP.
    """

    cpu_model: str
    cores: int
    memory_gib: float
    kernel: str
    engines: tuple[tuple[str, str], ...] = ()
    echo: str = "udp"

    def differences(self, other: HostFingerprint) -> list[str]:
        """What differs from ``other``, one ``"field: this vs other"`` per difference."""
        diffs = []
        for name in ("cpu_model", "cores", "kernel"):
            mine, theirs = getattr(self, name), getattr(other, name)
            if mine != theirs:
                diffs.append(f"{name}: {mine} vs {theirs}")
        if abs(self.memory_gib - other.memory_gib) > 0.02 * max(self.memory_gib, other.memory_gib):
            diffs.append(f"memory_gib: {self.memory_gib:g} vs {other.memory_gib:g}")
        theirs_engines = dict(other.engines)
        for backend, engine in self.engines:
            if backend in theirs_engines and theirs_engines[backend] != engine:
                diffs.append(f"{backend} engine: {engine} vs {theirs_engines[backend]}")
        if self.echo != other.echo:
            diffs.append(f"response-time requests (echo): {self.echo} vs {other.echo}")
        return diffs

    def describe(self) -> str:
        return (
            f"{self.cpu_model}, {self.cores} cores, {self.memory_gib:.1f} GiB, kernel {self.kernel}"
        )


@dataclass(frozen=True)
class Run:
    """One saved run: where it came from, its host, and its records by key."""

    source: str
    label: str
    datetime: str | None
    fingerprint: HostFingerprint | None
    records: Mapping[RecordKey, Record] = field(default_factory=dict)
    canary: Mapping[str, tuple[float, ...]] = field(default_factory=dict)
    """The host canaries the run timed (``host.canary``), seconds per sample, by name."""
    injected: Mapping[str, str] = field(default_factory=dict)
    """Slowdowns injected on purpose while the run measured (``NFV_PROXY_HOLD_US``)."""
    echo: str | None = None
    """The protocol the run's round trips used (``icmp`` or ``udp``), where it wrote one."""

    @property
    def backends(self) -> list[str]:
        return sorted({key.backend for key in self.records})


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


#: Series that have more than one sample per round, for records saved before they said so
#: themselves (``per_round`` in their fields): each instance's boot time pooled over the rounds,
#: and the proxy VNF's PSS read again each round.
POOLED_SERIES = frozenset({("instantiation", "boot_per_instance"), ("deployment", "memory")})


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
    budget = fields.get("budget")
    limit = budget.get("limit") if isinstance(budget, dict) else None
    half = fields.get("ci_half_width")
    per_round = fields.get("per_round")
    if not isinstance(per_round, bool):
        per_round = (base.requirement, metric) not in POOLED_SERIES
    return Record(
        key=RecordKey(base.requirement, metric, base.backend, base.n, base.size, base.test),
        unit=str(unit),
        samples=tuple(float(s) for s in samples),  # type: ignore[union-attr]
        ci_half_width=float(half) if isinstance(half, int | float) and _number(half) else None,
        converged=fields.get("converged") if isinstance(fields.get("converged"), bool) else None,
        engine=engine,
        budget_limit=float(limit) if isinstance(limit, int | float) and _number(limit) else None,
        budget_statistic=str(budget.get("statistic", "mean")) if isinstance(budget, dict) else "",
        per_round=per_round,
        verdict=str(fields["verdict"]) if isinstance(fields.get("verdict"), str) else None,
        percentiles=_percentiles(fields.get("percentiles")),
        parts=_percentiles(fields.get("breakdown_mib")),
        loss_curve=_loss_curve(fields.get("searches")),
    )


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


def _percentiles(table: object) -> Mapping[str, float] | None:
    """A table of numbers of a series (``percentiles``, ``breakdown_mib``), its finite numbers
    only (an optional field: a malformed one is left out rather than refusing the whole
    file)."""
    if not isinstance(table, dict):
        return None
    kept = {str(k): float(v) for k, v in table.items() if _number(v)}
    return kept or None


def records_of_benchmark(bench: Mapping[str, Any], source: str) -> list[Record]:
    """The primary and secondary records of one pytest-benchmark entry ([] if not ours)."""
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


def _fingerprint(machine_info: object, records: Sequence[Record]) -> HostFingerprint | None:
    if not isinstance(machine_info, dict):
        return None
    nfv = machine_info.get("nfv")
    if not isinstance(nfv, dict) or not isinstance(host := nfv.get("host"), dict):
        return None
    engines = sorted({(r.key.backend, r.engine) for r in records if r.engine})
    try:
        return HostFingerprint(
            cpu_model=str(host["cpu_model"]),
            cores=int(host["cores"]),
            memory_gib=float(host["memory_gib"]),
            kernel=str(host["kernel"]),
            engines=tuple(engines),
            echo=str(nfv.get("echo") or "udp"),
        )
    except (KeyError, TypeError, ValueError):
        return None


def _canary(machine_info: object, source: str) -> dict[str, tuple[float, ...]]:
    """The run's host canaries; a malformed one is an error, a missing one just absent."""
    nfv = machine_info.get("nfv") if isinstance(machine_info, dict) else None
    raw = nfv.get("canary") if isinstance(nfv, dict) else None
    if raw is None:
        return {}
    _check(isinstance(raw, dict), source, "machine_info nfv", "canary is not a table")
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


def _injected(machine_info: object) -> dict[str, str]:
    nfv = machine_info.get("nfv") if isinstance(machine_info, dict) else None
    raw = nfv.get("injected") if isinstance(nfv, dict) else None
    return {str(k): str(v) for k, v in raw.items()} if isinstance(raw, dict) else {}


def _echo(machine_info: object) -> str | None:
    nfv = machine_info.get("nfv") if isinstance(machine_info, dict) else None
    echo = nfv.get("echo") if isinstance(nfv, dict) else None
    return echo if isinstance(echo, str) and echo else None


def run_from_json(data: object, source: str, label: str | None = None) -> Run:
    """A ``Run`` from parsed pytest-benchmark JSON (a file's content, or one built in-process).

    Raises:
        HistoryError: not pytest-benchmark JSON, no pytest-nfv records in it, a malformed
            record, or two records with the same key; the message names ``source``.
    """
    if not isinstance(data, dict):
        raise HistoryError(f"{source}: not a JSON object: not a pytest-benchmark JSON file")
    benchmarks = data.get("benchmarks")
    if not isinstance(benchmarks, list):
        raise HistoryError(f"{source}: no 'benchmarks' list: not a pytest-benchmark JSON file")
    records: dict[RecordKey, Record] = {}
    for bench in benchmarks:
        _check(isinstance(bench, dict), source, "benchmarks", "an entry is not an object")
        for record in records_of_benchmark(bench, source):
            _check(
                record.key not in records,
                source,
                f"benchmark {bench.get('name')}",
                f"a second record for {record.key.label()} ({record.key.test})",
            )
            records[record.key] = record
    _check(
        bool(records),
        source,
        "benchmarks",
        f"none of its {len(benchmarks)} entries is a pytest-nfv record "
        "(extra_info without backend/requirement/metric)",
    )
    stamp = data.get("datetime")
    return Run(
        source=source,
        label=label or Path(source).stem,
        datetime=stamp if isinstance(stamp, str) else None,
        fingerprint=_fingerprint(data.get("machine_info"), list(records.values())),
        records=records,
        canary=_canary(data.get("machine_info"), source),
        injected=_injected(data.get("machine_info")),
        echo=_echo(data.get("machine_info")),
    )


def load_run(path: Path) -> Run:
    """Read one pytest-benchmark JSON file.

    Raises:
        HistoryError: the file is missing, unreadable, not JSON, or holds no pytest-nfv
            records; the message names the file.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise HistoryError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise HistoryError(f"{path}: cannot be read ({exc})") from None
    if not text.strip():
        raise HistoryError(f"{path}: empty file, not a pytest-benchmark JSON record")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise HistoryError(
            f"{path}: not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})"
        ) from None
    return run_from_json(data, str(path))


def storage_dir(option: str | None) -> Path:
    """The directory of a pytest-benchmark ``--benchmark-storage`` value.

    Raises:
        HistoryError: a storage other than files (e.g. elasticsearch).
    """
    text = option or "file://./.benchmarks"
    if "://" in text:
        scheme, _, rest = text.partition("://")
        if scheme != "file":
            raise HistoryError(f"benchmark storage {text!r}: only file:// storage can be read")
        text = rest
    return Path(text)


def resolve_ref(ref: str, storage: Path, machine_id: str | None = None) -> Path:
    """The file a baseline reference names: a path, or a storage name like ``0001``.

    A name is looked up as pytest-benchmark does: ``NNNN`` (or ``NNNN_label``) in any machine
    directory under ``storage`` (the ``machine_id`` one only, when given), or
    ``<machine dir>/<name>`` for one spelled out.

    Raises:
        HistoryError: nothing matches, or several files do (they are listed).
    """
    path = Path(ref).expanduser()
    if path.is_file() or (ref.endswith(".json") and not any(ch in ref for ch in "*?[")):
        if not path.is_file() and not (storage / ref).is_file():
            raise HistoryError(f"{ref}: no such file (nor under {storage})")
        return path if path.is_file() else storage / ref
    if not storage.is_dir():
        raise HistoryError(f"{ref}: not a file, and there is no benchmark storage at {storage}")
    pattern = ref if ref.endswith(".json") else ref.rstrip("*") + "*.json"
    if "/" in ref:
        found = sorted(storage.glob(pattern))
    else:
        machines = [storage / machine_id] if machine_id else sorted(storage.glob("*/"))
        found = sorted(p for d in machines for p in d.glob(pattern)) + sorted(storage.glob(pattern))
    found = [p for p in found if p.is_file()]
    if not found:
        saved = sorted(storage.glob("*/*.json"), key=lambda p: p.name)[-5:]
        hint = ", ".join(str(p.relative_to(storage)) for p in saved) or "none"
        raise HistoryError(f"{ref}: no such file or saved run under {storage} (newest: {hint})")
    if len(found) > 1:
        shown = ", ".join(str(p) for p in found[:6])
        raise HistoryError(f"{ref}: names {len(found)} saved runs ({shown}); name one of them")
    return found[0]
