"""Thresholds for a one-baseline comparison, from A/A sessions on the runner itself.

One session against one baseline session cannot tell from the two runs alone how far a
session's figure moves when nothing changed: rounds of one session share its scheduling,
cache and frequency state, so their spread says nothing about the next session. That spread
is a property of the runner (its CPU, kernel, neighbours) and of the metric on it, so it is
measured there: N sessions of the same code and arguments back to back (A/A), one figure per
session and record (its median), compared on the log scale.

Per metric family (backend, requirement, metric), the spread of one session's log median is
pooled over the family's records (its N and packet sizes), ``sum((k_i - 1) s_i^2) /
sum(k_i - 1)``: how far a figure moves relative to its size depends on the path it times much
more than on the N or size, and pooling gives the estimate the degrees of freedom a handful
of sessions per record would not. The threshold is a one-sided upper tolerance bound of the
log ratio of two sessions (``runlevel.tolerance_bound`` with scale ``sqrt(2)``): with the
stated confidence, at least the stated coverage of future same-code pairs stay under it. It
is a bound derived from the spread, never the largest movement seen, so it neither grows
with the number of A/A sessions nor hangs on one unlucky pair, and thin calibration pays
with a wider bound (the upper confidence limit of the spread), not with false alarms.

A calibration describes the runner it was measured on and nothing else: it is keyed by the
host fingerprint (CPU, cores, memory, kernel, engines, response-time requests) and the
gate uses it only when both compared runs carry that fingerprint. One file may hold the
calibrations of several runners, or of several argument sets on one; reading and writing it
is ``analysis.calibration_file``.
"""

from __future__ import annotations

import datetime
import math
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pytest_nfv.analysis.history import HostFingerprint, RecordKey, Run
from pytest_nfv.analysis.runlevel import POWER, tolerance_bound
from pytest_nfv.errors import HistoryError, NfvUsageError

__all__ = [
    "DEFAULT_CONFIDENCE",
    "DEFAULT_COVERAGE",
    "Calibration",
    "CalibrationFile",
    "FamilyCalibration",
    "Thresholds",
    "calibrate",
    "describe",
    "family_label",
    "family_of",
    "pooled_log_spreads",
]

"""The calibration file's name under the benchmark storage (``.benchmarks``)."""
DEFAULT_COVERAGE = 0.999
"""Share of same-code pairs, per record, that the threshold keeps under it."""
DEFAULT_CONFIDENCE = 0.95
"""Confidence that the threshold reaches that coverage, given the A/A sessions it saw."""
PAIR_SCALE = math.sqrt(2.0)
"""One session against one baseline session: the log ratio of two sessions spreads by
``sqrt(2)`` times one session's spread."""
MIN_SESSIONS = 3

Family = tuple[str, str, str]
"""(backend, requirement, metric)."""


def family_of(key: RecordKey) -> Family:
    return (key.backend, key.requirement, key.metric)


def family_label(family: Family) -> str:
    """``netns monitoring/response_time``: how a line of output names a family."""
    backend, requirement, metric = family
    return f"{backend} {requirement}/{metric}"


def _norm() -> Any:
    from scipy import stats as scipy_stats  # only when judging: pytest start-up stays light

    return scipy_stats.norm


@dataclass(frozen=True)
class FamilyCalibration:
    """The run-to-run spread of one metric family on one runner, and its threshold.

    ``sd`` and ``threshold`` are on the log scale: ``threshold`` is the log ratio (current
    median / baseline median) beyond which a record of the family is flagged.
    """

    family: Family
    sd: float
    df: int
    sessions: int
    records: int
    threshold: float
    coverage: float
    confidence: float

    def flagged_share(self, ratio: float, threshold: float | None = None) -> float:
        """The share of one-session comparisons flagged when the figure truly moved by
        ``ratio`` (1.2: 20% worse): ``Phi((log ratio - threshold) / (sqrt(2) sd))``."""
        limit = self.threshold if threshold is None else threshold
        if self.sd <= 0:
            return 1.0 if math.log(ratio) > limit else 0.0
        return float(_norm().cdf((math.log(ratio) - limit) / (PAIR_SCALE * self.sd)))

    def detectable(self, threshold: float | None = None, power: float = POWER) -> float:
        """The log ratio flagged with ``power``: ``threshold + z_power sqrt(2) sd``."""
        limit = self.threshold if threshold is None else threshold
        return float(limit + _norm().ppf(power) * PAIR_SCALE * self.sd)


@dataclass(frozen=True)
class Calibration:
    """The A/A calibration of one runner (fingerprint) and one set of pytest arguments."""

    fingerprint: HostFingerprint
    arguments: str
    """The pytest arguments the sessions ran with, as the user gave them ("" if unknown)."""
    created: str
    sessions: int
    coverage: float
    confidence: float
    families: Mapping[Family, FamilyCalibration]
    left_out: Mapping[Family, str] = field(default_factory=dict)
    """Families not calibrated, with the reason (the gate keeps the shipped floors there)."""
    sources: tuple[str, ...] = ()

    @property
    def date(self) -> str:
        return self.created[:10]


def _positive_in_every_session(values: Sequence[float]) -> bool:
    return all(v > 0 for v in values)


def pooled_log_spreads(
    runs: Sequence[Run],
) -> tuple[dict[Family, tuple[float, int, int, int]], dict[Family, str]]:
    """Per family, the pooled run-to-run variance of log medians, its degrees of freedom,
    the most sessions any of its records was in, and its number of records; and the
    families left out, with the reason.

    A family whose median is not positive in every session (an overhead that can read below
    zero) is left out rather than mixed into a log-scale estimate: its spread in its own unit
    differs from record to record, so one pooled figure would describe none of them.
    Series with several samples per round are left out too, since the gate does not gate
    them.
    """
    medians: dict[RecordKey, list[float]] = {}
    pooled_series: set[Family] = set()
    for run in runs:
        for key, record in run.records.items():
            if not record.per_round:
                pooled_series.add(family_of(key))
                continue
            medians.setdefault(key, []).append(record.median)
    by_family: dict[Family, list[list[float]]] = {}
    for key, values in sorted(medians.items()):
        by_family.setdefault(family_of(key), []).append(values)
    spreads: dict[Family, tuple[float, int, int, int]] = {}
    left_out: dict[Family, str] = {
        family: "several samples per round (pooled or repeated reads): not gated"
        for family in pooled_series - set(by_family)
    }
    for family, groups in by_family.items():
        if not all(_positive_in_every_session(values) for values in groups):
            left_out[family] = (
                "its median is not positive in every session: no log-scale spread; "
                "the shipped floors apply"
            )
            continue
        total = 0.0
        df = 0
        for values in groups:
            if len(values) < 2:
                continue
            logs = [math.log(v) for v in values]
            total += statistics.variance(logs) * (len(logs) - 1)
            df += len(logs) - 1
        if df == 0:
            left_out[family] = "no record of it was in two sessions"
            continue
        spreads[family] = (total / df, df, max(len(v) for v in groups), len(groups))
    return spreads, left_out


def _check_sessions(runs: Sequence[Run]) -> HostFingerprint:
    if len(runs) < MIN_SESSIONS:
        raise HistoryError(
            f"a calibration needs at least {MIN_SESSIONS} A/A sessions, got {len(runs)}"
        )
    first = runs[0]
    if first.fingerprint is None:
        raise HistoryError(
            f"{first.source}: no host fingerprint: a calibration must say which runner it describes"
        )
    for run in runs:
        if run.injected:
            shown = ", ".join(f"{k}={v}" for k, v in sorted(run.injected.items()))
            raise HistoryError(
                f"{run.source}: ran with a slowdown injected on purpose ({shown}): not an "
                "A/A session"
            )
        if run.fingerprint is None:
            raise HistoryError(f"{run.source}: no host fingerprint")
        differences = run.fingerprint.differences(first.fingerprint)
        if differences:
            raise HistoryError(
                f"{run.source} and {first.source} were not measured alike "
                f"({'; '.join(differences)}): A/A sessions come from one runner"
            )
    # The engines of every session: a backend one session used is part of the key.
    engines = sorted({e for run in runs if run.fingerprint for e in run.fingerprint.engines})
    return HostFingerprint(
        first.fingerprint.cpu_model,
        first.fingerprint.cores,
        first.fingerprint.memory_gib,
        first.fingerprint.kernel,
        tuple(engines),
        first.fingerprint.echo,
    )


def calibrate(
    runs: Sequence[Run],
    *,
    arguments: str = "",
    coverage: float = DEFAULT_COVERAGE,
    confidence: float = DEFAULT_CONFIDENCE,
    created: str | None = None,
) -> Calibration:
    """The calibration of the runner that measured ``runs``, A/A sessions of one code.

    Args:
        runs: one saved run per session, all of the same code, arguments and runner.
        arguments: the pytest arguments they ran with (kept to tell calibrations apart).
        coverage: share of same-code pairs each record's threshold keeps under it.
        confidence: confidence of that coverage, given the sessions seen.
        created: ISO time stamp (default: now, UTC).

    Raises:
        HistoryError: fewer than three sessions, a session without a host fingerprint, with
            a slowdown injected, or from another runner; or no family could be calibrated.
        NfvUsageError: coverage or confidence outside (0.5, 1).
    """
    for name, value in (("coverage", coverage), ("confidence", confidence)):
        if not 0.5 < value < 1:
            raise NfvUsageError(f"{name} {value} is not in (0.5, 1)")
    fingerprint = _check_sessions(runs)
    spreads, left_out = pooled_log_spreads(runs)
    if not spreads:
        reasons = "; ".join(f"{family_label(f)}: {why}" for f, why in sorted(left_out.items()))
        raise HistoryError(f"no metric family could be calibrated ({reasons or 'no records'})")
    families = {
        family: FamilyCalibration(
            family=family,
            sd=math.sqrt(variance),
            df=df,
            sessions=sessions,
            records=records,
            threshold=tolerance_bound(
                math.sqrt(variance), df, coverage, confidence, scale=PAIR_SCALE
            ),
            coverage=coverage,
            confidence=confidence,
        )
        for family, (variance, df, sessions, records) in sorted(spreads.items())
    }
    stamp = created or datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
    return Calibration(
        fingerprint=fingerprint,
        arguments=arguments,
        created=stamp,
        sessions=len(runs),
        coverage=coverage,
        confidence=confidence,
        families=families,
        left_out=dict(sorted(left_out.items())),
        sources=tuple(run.source for run in runs),
    )


@dataclass(frozen=True)
class Thresholds:
    """The calibrations a comparison may use: those of the runner both runs were measured
    on, newest first; ``note`` says why there are none."""

    path: str
    used: tuple[Calibration, ...] = ()
    note: str = ""

    def family(self, family: Family) -> tuple[Calibration, FamilyCalibration] | None:
        for entry in self.used:
            if family in entry.families:
                return entry, entry.families[family]
        return None

    def left_out(self, family: Family) -> str | None:
        for entry in self.used:
            if family in entry.left_out:
                return entry.left_out[family]
        return None


@dataclass(frozen=True)
class CalibrationFile:
    """A calibration file as read (``exists`` False: it was looked for and is absent)."""

    path: str
    entries: tuple[Calibration, ...] = ()
    exists: bool = True

    def select(self, *fingerprints: HostFingerprint | None) -> Thresholds:
        """The calibrations whose fingerprint every one of ``fingerprints`` matches."""
        if not self.exists:
            return Thresholds(self.path, note=f"no calibration file at {self.path}")
        if any(f is None for f in fingerprints):
            return Thresholds(self.path, note="a compared run carries no host fingerprint")
        mismatches: list[str] = []
        used = []
        for entry in self.entries:
            differences = list(
                dict.fromkeys(
                    d for f in fingerprints if f for d in f.differences(entry.fingerprint)
                )
            )
            if differences:
                mismatches.append(f"{entry.fingerprint.describe()}: {'; '.join(differences)}")
            else:
                used.append(entry)
        if used:
            used.sort(key=lambda e: e.created, reverse=True)
            return Thresholds(self.path, tuple(used))
        shown = " | ".join(dict.fromkeys(mismatches)) or "no calibration"
        return Thresholds(
            self.path,
            note=f"no calibration for this host fingerprint ({self.path} has "
            f"{len(self.entries)}: {shown})",
        )


def describe(calibration: Calibration) -> Iterable[str]:
    """One line per family: its spread and threshold, for the calibrate command's output."""
    for f in calibration.families.values():
        yield (
            f"{family_label(f.family)}: sd {f.sd:.3f} (log, {f.df} df, {f.records} record(s), "
            f"{f.sessions} sessions); flags beyond x{math.exp(f.threshold):.2f}; "
            f"x1.2 flagged in {f.flagged_share(1.2):.0%} of pairs, x1.5 in "
            f"{f.flagged_share(1.5):.0%}"
        )
    for family, why in calibration.left_out.items():
        yield f"{family_label(family)}: not calibrated: {why}"
