"""The regression gate: which differences between two runs are real regressions.

A change is a regression only when all three hold:

1. **significant**: the current run is worse than the baseline by a one-sided test (the
   Mann-Whitney U test of the raw samples within two runs, a prediction test on run medians
   with history; ``analysis.gate_stats`` says why each);
2. **controlled for many comparisons**: a run holds dozens of records, each tested, so the
   p-values are adjusted with Benjamini-Hochberg and compared with ``alpha``;
3. **larger than the noise floor**: the shift is beyond both the relative and the absolute
   floor of the metric (see ``gate_config``), in the worse direction.

Samples within two runs cannot show what differs between runs: where each process was
scheduled, cache and frequency state, what else ran. On a shared 2-core host most of the
variance of a response time is there, so a within-run test alone alarms on the same code. Hence
the run is the unit wherever runs can be told apart:

- **with history** (the baseline and at least one earlier run of the same code, ``--history``):
  each run contributes one number per record, its median. The current run's median is tested
  against the spread of those medians with a one-sided Student-t *prediction* test,
  ``t = (m - mean) / (s * sqrt(1 + 1/k))`` with ``k - 1`` degrees of freedom for ``k`` runs:
  the question is whether the new run lies outside where the next run of unchanged code would
  land. Within-run noise is inside ``s`` already, since each earlier median carries its own.
- **with one baseline and this runner's calibration** (``analysis.calibration``: A/A
  sessions on the runner, keyed by its host fingerprint, which both runs must carry): each
  record's run-level log ratio (current median / baseline median) is flagged beyond its
  family's threshold, a tolerance bound of same-code pairs on this runner. The p-value shown
  is the calibrated t of ``runlevel.calibrated``; the threshold decides, not the p-value.
- **with one baseline and no calibration** for this runner there is no run-to-run spread at
  all: the within-run U test runs, which cannot see what differs between runs and is
  significant on the same code, so what decides is the floor, raised to
  ``GateConfig.single_baseline`` (default ``SINGLE_BASELINE_FLOORS``): coarse shipped floors,
  not this runner's noise. The output says which thresholds each comparison used.

Every compared record states what it could have seen: the smallest change for the worse
found with 80% power with the evidence at hand (with history, the prediction test's at the
level Benjamini-Hochberg reaches when one record changes, ``alpha / m``; with a calibration,
``threshold + z_0.8 sqrt(2) sd``; never less than its floor), and "unknown" with one
uncalibrated baseline. A pass then says what it could have missed.

Only series with one sample per round are gated. A pooled series (each instance's boot time
in every round) or repeated reads of one quantity (the PSS of one process, read each round)
has samples that are not independent, and any test on them is overconfident; they are listed
as not gated.

With ``two_sided`` the tests are two-sided and significant changes for the better beyond the
floor are flagged too: the baseline is stale and should be renewed.

The three kinds of evidence share one judgement loop (``_judge``: tests, Benjamini-Hochberg,
floors, the host canary's second pass), which is why they live in one module. The tests
themselves are ``analysis.gate_stats``, the host canaries' drift ``analysis.gate_canary``, and
how a verdict is laid out for a log or a job summary ``analysis.gate_render``.

A test cannot be more certain than its sample counts allow: with 5 and 5 samples the smallest
one-sided p-value there is is 1/252. Rows that could not have reached significance are marked
``low n``, so a pass is never mistaken for evidence of no change.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

from pytest_nfv.analysis import runlevel
from pytest_nfv.analysis.calibration import (
    FamilyCalibration,
    Thresholds,
    family_of,
)
from pytest_nfv.analysis.gate_canary import CanaryDrift, canary_drift, host_slowdown, scaled
from pytest_nfv.analysis.gate_config import Floor, GateConfig
from pytest_nfv.analysis.gate_stats import (
    between_runs_p,
    bh_adjust,
    hodges_lehmann,
    log_spread,
    pooled_spreads,
    smallest_p,
    u_test_p,
)
from pytest_nfv.analysis.history import Record, RecordKey, Run
from pytest_nfv.errors import HistoryError

__all__ = [
    "Comparison",
    "GateResult",
    "calibrated_threshold",
    "compare_runs",
    "detectable_level",
]

REGRESSION = "REGRESSION"
IMPROVED = "improved"
MIN_SAMPLES = 3
"""Fewer samples per run than this make a row ``low n`` whatever its p-value (stats.MIN_ROUNDS)."""
NOISE = "ok"
BELOW_FLOOR = "ok (< floor)"
HOST_DRIFT = "host drift"
"""Worse beyond its floor, but not once the current run is scaled back by how much slower
its host canary ran: a slower host explains it as well as slower code does."""
WITHIN_RUN = "within-run"
"""One baseline, no calibration: the U test on raw samples and the coarse shipped floors."""
HISTORY = "history"
"""The baseline and earlier runs: a prediction test on run medians."""
CALIBRATED = "calibrated"
"""One baseline and this runner's A/A calibration: the run-level log ratio against the
family's threshold."""


@dataclass(frozen=True)
class Comparison:
    """One record in both runs, and the verdict on it."""

    key: RecordKey
    baseline: Record
    current: Record
    shift: float
    """Hodges-Lehmann shift, current - baseline, in the records' unit."""
    threshold: float
    p: float
    q: float = 1.0
    verdict: str = NOISE
    low_n: bool = False
    worse_sign: float = 1.0
    """+1 when higher is worse (time, memory), -1 for a higher-is-better metric."""
    basis: str = WITHIN_RUN
    """Which evidence judged it: ``WITHIN_RUN``, ``HISTORY`` or ``CALIBRATED``."""
    detectable: float | None = None
    """The smallest change for the worse found with 80% power, as a share of the baseline
    (+0.3: 30% higher for a lower-is-better figure, -0.2 for a higher-is-better one), never
    less than the floor; None: unknown (one baseline, no run-to-run spread)."""
    interval: tuple[float, float] | None = None
    """95% interval of the run-level change as a share of the baseline (calibrated rows)."""

    @property
    def floor_relative(self) -> float:
        """The floor as a share of the baseline: the least change flagged at all."""
        center = abs(self.baseline.median)
        return self.threshold / center if center else math.inf

    @property
    def looks_worse(self) -> bool:
        """Beyond the floor in the worse direction, whether or not significant."""
        return self.shift * self.worse_sign > self.threshold

    @property
    def relative(self) -> float:
        center = self.baseline.median
        return self.shift / abs(center) if center else math.copysign(math.inf, self.shift)


@dataclass(frozen=True)
class GateResult:
    baseline: Run
    current: Run
    config: GateConfig
    comparisons: tuple[Comparison, ...]
    missing: tuple[RecordKey, ...] = ()
    added: tuple[RecordKey, ...] = ()
    host_differences: tuple[str, ...] = field(default=())
    history: int = 0
    """How many earlier runs besides the baseline the run-to-run spread was estimated from."""
    not_gated: tuple[RecordKey, ...] = ()
    """Records in both runs with more than one sample per round (pooled, repeated reads)."""
    drift: tuple[CanaryDrift, ...] = ()
    """The host canaries both runs timed, and whether the host got slower by them."""
    no_canary: tuple[str, ...] = ()
    """Runs (sources) without a host canary: a slower host cannot be told apart there."""
    thresholds: Thresholds | None = None
    """The calibrations this comparison could use (one baseline); None: none was given."""
    level: float = 0.0
    """The one-sided level a history row's detectable effect is stated at (``alpha / m``)."""

    @property
    def calibrated(self) -> list[Comparison]:
        return [c for c in self.comparisons if c.basis == CALIBRATED]

    @property
    def regressions(self) -> list[Comparison]:
        return [c for c in self.comparisons if c.verdict == REGRESSION]

    @property
    def host_drift(self) -> list[Comparison]:
        """Records worse beyond their floor only as far as the slower host explains."""
        return [c for c in self.comparisons if c.verdict == HOST_DRIFT]

    @property
    def host_slower(self) -> list[CanaryDrift]:
        """The canaries that slowed beyond their floors (host drift only if all did)."""
        return [d for d in self.drift if d.slower]

    @property
    def host_slowdown(self) -> float | None:
        """How much slower the host ran by every canary (``host_slowdown``); None: no drift."""
        return host_slowdown(self.drift)

    @property
    def improvements(self) -> list[Comparison]:
        return [c for c in self.comparisons if c.verdict == IMPROVED]

    @property
    def failed(self) -> bool:
        return bool(self.regressions or self.improvements or self.host_drift)


def _host_differences(baseline: Run, current: Run) -> list[str]:
    if baseline.fingerprint is None or current.fingerprint is None:
        which = [r.source for r in (baseline, current) if r.fingerprint is None]
        return [f"no host fingerprint in {', '.join(which)}"]
    return current.fingerprint.differences(baseline.fingerprint)


def _verdict(c: Comparison, config: GateConfig, worse_sign: float) -> str:
    if c.q > config.alpha:
        return NOISE
    worse_by = c.shift * worse_sign
    if worse_by > c.threshold:
        return REGRESSION
    if config.two_sided and -worse_by > c.threshold:
        return IMPROVED
    return BELOW_FLOOR


def _floor(config: GateConfig, key: RecordKey, unit: str, single: bool) -> Floor:
    floor = config.floor_for(key, unit)
    lifted = config.single_baseline_for(key, unit) if single else None
    if lifted is None:
        return floor
    return Floor(max(floor.relative, lifted.relative), max(floor.absolute, lifted.absolute))


def _relative_worse(log_or_diff: float, sign: float, effect: runlevel.Effect) -> float:
    """A worse-direction shift (log ratio, or a difference) as a signed share of A."""
    if effect.log_scale:
        return math.exp(sign * log_or_diff) - 1.0
    reference = abs(effect.reference)
    return sign * log_or_diff / reference if reference else sign * math.inf


def _at_least_floor(detectable: float, c: Comparison) -> float:
    """The detectable change, never below the floor (the least change flagged at all)."""
    return c.worse_sign * max(abs(detectable), c.floor_relative)


def _log_floor(relative: float, sign: float) -> float:
    """A relative floor as a log ratio in the worse direction."""
    if sign > 0:
        return math.log1p(relative)
    return -math.log1p(-relative) if relative < 1 else math.inf


def calibrated_threshold(
    family: FamilyCalibration, config: GateConfig, key: RecordKey, unit: str, sign: float
) -> float:
    """The family's threshold, or the ordinary relative floor if that asks for more (a change
    the settings call too small to fail a build for stays unflagged)."""
    return max(family.threshold, _log_floor(config.floor_for(key, unit).relative, sign))


def _calibrated(
    key: RecordKey,
    base: Record,
    cur: Record,
    sign: float,
    family: FamilyCalibration,
    config: GateConfig,
) -> Comparison:
    """One record judged by its run-level log ratio against this runner's threshold."""
    threshold = calibrated_threshold(family, config, key, base.unit, sign)
    effect = runlevel.calibrated(
        cur.median,
        base.median,
        sd=family.sd,
        df=family.df,
        alpha=1.0 - family.coverage,
        worse_sign=sign,
    )
    p = min(1.0, 2.0 * min(effect.p, 1.0 - effect.p)) if config.two_sided else effect.p
    worse = effect.estimate * sign
    if worse > threshold:
        verdict = REGRESSION
    elif config.two_sided and -worse > threshold:
        verdict = IMPROVED
    else:
        verdict = NOISE
    center = abs(base.median)
    in_unit = center * (math.exp(threshold) - 1.0 if sign > 0 else 1.0 - math.exp(-threshold))
    return Comparison(
        key=key,
        baseline=base,
        current=cur,
        shift=cur.median - base.median,
        threshold=in_unit,
        p=p,
        q=p,
        verdict=verdict,
        worse_sign=sign,
        basis=CALIBRATED,
        detectable=math.exp(sign * family.detectable(threshold)) - 1.0,
        interval=effect.relative_interval,
    )


def _judge(
    baseline: Run,
    current: Run,
    gated: Sequence[RecordKey],
    config: GateConfig,
    history: Sequence[Run],
    thresholds: Thresholds | None = None,
) -> list[Comparison]:
    """The verdict on each of ``gated``: the tests, Benjamini-Hochberg, the floors; or, with
    one baseline and this runner's calibration, the family's threshold."""
    draft: list[tuple[Comparison, float, int]] = []
    calibrated: list[Comparison] = []
    all_centers = {
        key: [run.records[key].median for run in (baseline, *history) if key in run.records]
        for key in gated
    }
    pooled = pooled_spreads(all_centers)
    for key in gated:
        base, cur = baseline.records[key], current.records[key]
        if base.unit != cur.unit:
            raise HistoryError(
                f"{key.label()}: unit {cur.unit} in {current.source} but {base.unit} in "
                f"{baseline.source}"
            )
        sign = 1.0 if config.worse_is_higher(key, cur.figure.lower_is_better) else -1.0
        centers = all_centers[key]
        found = thresholds.family(family_of(key)) if thresholds and len(centers) < 2 else None
        if found is not None and base.median > 0 and cur.median > 0:
            calibrated.append(_calibrated(key, base, cur, sign, found[1], config))
            continue
        if len(centers) >= 2:  # the run is the unit
            family = pooled.get(family_of(key))
            p = between_runs_p(cur.median, centers, sign, family)
            if config.two_sided:
                p = min(1.0, 2.0 * min(p, between_runs_p(cur.median, centers, -sign, family)))
            shift = cur.median - math.fsum(centers) / len(centers)
        else:
            if config.two_sided:
                p = u_test_p(cur.samples, base.samples, "two-sided")
            else:
                p = u_test_p(cur.samples, base.samples, "greater" if sign > 0 else "less")
            shift = hodges_lehmann(cur.samples, base.samples)
        comparison = Comparison(
            key=key,
            baseline=base,
            current=cur,
            shift=shift,
            threshold=_floor(config, key, base.unit, len(centers) < 2).threshold(base.median),
            p=p,
            worse_sign=sign,
            basis=HISTORY if len(centers) >= 2 else WITHIN_RUN,
        )
        draft.append((comparison, sign, len(centers)))
    qs = bh_adjust([c.p for c, _, _ in draft])
    level = config.alpha / max(len(draft), 1)
    detect_at = detectable_level(config, len(draft))
    done = []
    for (draft_c, sign, runs), q in zip(draft, qs, strict=True):
        n1, n2 = len(draft_c.current.samples), len(draft_c.baseline.samples)
        too_few = (
            runs < 3
            if runs >= 2
            else smallest_p(n1, n2, config.two_sided) > level or min(n1, n2) < MIN_SAMPLES
        )
        c = replace(draft_c, q=q, low_n=too_few)
        if runs >= 2:
            detectable = _history_detectable(c, all_centers[c.key], pooled, detect_at)
            c = replace(c, detectable=detectable)
        done.append(replace(c, verdict=_verdict(c, config, sign)))
    order = {key: i for i, key in enumerate(gated)}
    return sorted([*done, *calibrated], key=lambda c: order[c.key])


def detectable_level(config: GateConfig, m: int) -> float:
    """The one-sided level a record's test meets when it alone changed among ``m``: the
    Bonferroni level ``alpha / m`` that Benjamini-Hochberg's first step asks for (halved
    again when the test is two-sided)."""
    return config.alpha / max(m, 1) / (2.0 if config.two_sided else 1.0)


def _history_detectable(
    c: Comparison,
    centers: Sequence[float],
    pooled: Mapping[tuple[str, str, str], tuple[float, int]],
    level: float,
) -> float:
    """The prediction test's detectable change for ``c`` with the spread the verdict used."""
    on_log = c.current.median > 0 and min(centers) > 0
    values = [math.log(v) for v in centers] if on_log else list(centers)
    spread, df = log_spread(values, on_log, pooled.get(family_of(c.key)))
    effect = runlevel.prediction(
        c.current.median,
        centers,
        alpha=level,
        worse_sign=c.worse_sign,
        sd=spread,
        df=float(df),
    )
    return _at_least_floor(_relative_worse(effect.detectable, c.worse_sign, effect), c)


def compare_runs(
    baseline: Run, current: Run, config: GateConfig, history: Sequence[Run] = ()
) -> GateResult:
    """Compare every record the two runs share and that has one sample per round.

    Args:
        baseline: the run to compare against.
        current: the run under judgement.
        config: alpha, floors, directions, host policy, and this runner's calibration
            (used with one baseline when both runs carry its host fingerprint).
        history: earlier runs (of the same code, on the same host); with the baseline, their
            medians give each record's run-to-run spread, and the run becomes the unit.

    Raises:
        HistoryError: the runs come from different hosts (or timed different requests) and
            ``config.hosts`` is ``refuse``,
            or they share no record (nothing compared must never read as a pass).
    """
    differences = _host_differences(baseline, current)
    for earlier in history:
        differences += [f"{earlier.source}: {d}" for d in _host_differences(earlier, current)]
    if differences and config.hosts == "refuse":
        raise HistoryError(
            f"{current.source} and {baseline.source} were not measured alike: different "
            f"hosts or methods ({'; '.join(differences)}); compare anyway with --hosts mark"
        )
    shared = sorted(set(baseline.records) & set(current.records))
    if not shared:
        raise HistoryError(
            f"{current.source} shares no benchmark with {baseline.source} "
            f"(backends {', '.join(current.backends)} vs {', '.join(baseline.backends)})"
        )
    gated = [k for k in shared if baseline.records[k].per_round and current.records[k].per_round]
    not_gated = tuple(k for k in shared if k not in set(gated))
    if not gated:
        raise HistoryError(
            f"{current.source} and {baseline.source} share only series with several samples "
            "per round, which are not gated: nothing was compared"
        )
    thresholds = (
        config.calibration.select(baseline.fingerprint, current.fingerprint)
        if config.calibration is not None and not history
        else None
    )
    done = _judge(baseline, current, gated, config, history, thresholds)
    drift = canary_drift(baseline, current, config, history)
    explained = host_slowdown(drift)
    if explained is not None and any(c.verdict == REGRESSION for c in done):
        # Judge again as if the current run had the baseline's host: what stays a regression
        # is more than the slower host explains; the rest is labelled, neither passed nor
        # failed as the code's.
        again = _judge(
            baseline, scaled(current, 1.0 / explained), gated, config, history, thresholds
        )
        still = {c.key for c in again if c.verdict == REGRESSION}
        done = [
            replace(c, verdict=HOST_DRIFT) if c.verdict == REGRESSION and c.key not in still else c
            for c in done
        ]
    no_canary = tuple(r.source for r in (baseline, current) if not r.canary)
    return GateResult(
        baseline=baseline,
        current=current,
        config=config,
        comparisons=tuple(done),
        drift=drift,
        no_canary=no_canary,
        missing=tuple(sorted(set(baseline.records) - set(current.records))),
        added=tuple(sorted(set(current.records) - set(baseline.records))),
        host_differences=tuple(differences),
        history=len(history),
        not_gated=not_gated,
        thresholds=thresholds,
        level=detectable_level(config, sum(c.basis != CALIBRATED for c in done)),
    )
