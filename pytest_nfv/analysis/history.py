"""Saved runs read back: pytest-benchmark JSON files and storage names, as pytest-nfv records.

The regression gate, the figures and the scorecard all start here, so a missing, truncated or
foreign file fails once, in one place, with the file named: a CI log that says
``.benchmarks/…/0003_x.json: not valid JSON (line 12, column 5)`` is actionable, a traceback
from deep inside a comparison is not, and a file that silently yields nothing is worse.

A record is one measured series of one test (the primary series of a pytest-benchmark entry, or
one of the secondary series beside it in ``extra_info``), matched across runs by
``(backend, requirement, metric, N, packet size, test function)``; ``pytest_nfv.record`` reads
each entry, this module the files and runs around them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pytest_nfv.errors import HistoryError
from pytest_nfv.record import (
    NotMeasured,
    Record,
    RecordKey,
    RunFacts,
    read_benchmark,
    read_run_facts,
)

__all__ = [
    "HostFingerprint",
    "Record",
    "RecordKey",
    "Run",
    "load_run",
    "read_json_file",
    "resolve_ref",
    "run_from_json",
]


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
    not_measured: tuple[NotMeasured, ...] = ()
    """Figures the run did not take, and why (a backend that cannot move its instances)."""

    @property
    def backends(self) -> list[str]:
        return sorted({key.backend for key in self.records})


def _check(condition: bool, source: str, where: str, problem: str) -> None:
    if not condition:
        raise HistoryError(f"{source}: {where}: {problem}")


def _fingerprint(facts: RunFacts, records: Sequence[Record]) -> HostFingerprint | None:
    if facts.host is None:
        return None
    engines = sorted({(r.key.backend, r.engine) for r in records if r.engine})
    cpu_model, cores, memory_gib, kernel = facts.host
    return HostFingerprint(
        cpu_model, cores, memory_gib, kernel, engines=tuple(engines), echo=facts.echo or "udp"
    )


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
        for record in read_benchmark(bench, source):
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
    facts = read_run_facts(data.get("machine_info"), source)
    return Run(
        source=source,
        label=label or Path(source).stem,
        datetime=stamp if isinstance(stamp, str) else None,
        fingerprint=_fingerprint(facts, list(records.values())),
        records=records,
        canary=facts.canary,
        injected=facts.injected,
        echo=facts.echo,
        not_measured=facts.not_measured,
    )


def load_run(path: Path) -> Run:
    """Read one pytest-benchmark JSON file.

    Raises:
        HistoryError: the file is missing, unreadable, not JSON, or holds no pytest-nfv
            records; the message names the file.
    """
    data = read_json_file(path, empty="empty file, not a pytest-benchmark JSON record")
    return run_from_json(data, str(path))


def read_json_file(path: Path, what: str = "file", *, empty: str = "", hint: str = "") -> Any:
    """The JSON in ``path``, every way of failing to get it said as one ``HistoryError``
    that names the file: what the analysis reads (runs, calibrations) fails the same way.

    Args:
        path: the file.
        what: what a missing file is called ("no such calibration file").
        empty: when given, a blank file is refused with this message rather than as bad JSON.
        hint: appended to the message of a file that is not JSON (what to do about it).

    Raises:
        HistoryError: missing, unreadable, blank (with ``empty``), or not JSON.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise HistoryError(f"{path}: no such {what}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise HistoryError(f"{path}: cannot be read ({exc})") from None
    if empty and not text.strip():
        raise HistoryError(f"{path}: {empty}")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise HistoryError(
            f"{path}: not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg}){hint}"
        ) from None


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
