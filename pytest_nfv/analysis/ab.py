"""The A/B judgement: two variants measured on one host, the session as the unit.

Two forms of evidence, both with one figure per session (the median of its rounds):

- **sessions**: A and B ran as separate sessions, interleaved on one host (A B B A ...).
  Each figure is compared with Welch's t on the sessions' log medians: what the host did
  during a session moves that session's figure, and only other sessions show by how much.
- **paired**: every session timed both variants round by round (the monitoring suite with
  ``--nfv-proxy-b``): each session gives a log ratio B/A that its own host state has left
  out, and a one-sample t over the sessions judges it. Where the host swings within seconds,
  this is the form that sees a small change.

A regression is judged per metric family (one requirement's metric on one backend, across
its parameterisations: packet sizes, N). ``alpha`` is the false-alarm rate of the whole
comparison, split in two halves:

1. **the family test**: the mean over the family's parameterisations of each session's log
   figure, tested as above at ``alpha / 2`` shared by the families (Bonferroni). It must also
   be **consistent** (every parameterisation's estimate points the same, worse, way) and
   beyond the **effect floor**: a family whose sizes move in opposite directions is
   reported as inconsistent, not as a regression of the family;
2. **the figure tests**: each figure alone, Holm over all figures at ``alpha / 2``, so that a
   regression in one packet size, which the family mean dilutes, is still seen; it too must
   exceed the floor.

Every effect is printed with its 95% interval and the smallest effect the evidence could
have detected with 80% power at the level it was tested at: a pass says what it could have
missed.
"""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from pytest_nfv.analysis.history import RecordKey, Run
from pytest_nfv.analysis.runlevel import Effect, paired, welch
from pytest_nfv.errors import HistoryError, NfvUsageError

__all__ = [
    "VARIANT_PREFIX",
    "AbConfig",
    "AbResult",
    "FamilyVerdict",
    "FigureVerdict",
    "judge_paired",
    "judge_sessions",
]

REGRESSION = "REGRESSION"
IMPROVED = "improved"
INCONSISTENT = "inconsistent"
BELOW_FLOOR = "ok (< floor)"
NOISE = "ok"
VARIANT_PREFIX = "variant_"
"""A series timed through variant B in the same rounds as the series of the bare name."""

Family = tuple[str, str, str]
"""(backend, requirement, metric)."""


@dataclass(frozen=True)
class AbConfig:
    """What decides an A/B verdict.

    Args:
        alpha: false-alarm rate of the whole comparison (both halves, every family).
        floor: the smallest relative change worth failing for (0.05: 5%).
        two_sided: significant improvements beyond the floor fail too.
        higher_is_better: metrics (by name) for which more is better.
    """

    alpha: float = 0.01
    floor: float = 0.05
    two_sided: bool = False
    higher_is_better: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        if not 0 < self.alpha < 1:
            raise NfvUsageError(f"alpha {self.alpha} is not in (0, 1)")
        if not 0 <= self.floor < 10:
            raise NfvUsageError(f"effect floor {self.floor} is not in [0, 10)")

    def worse_sign(self, metric: str) -> float:
        return -1.0 if metric in self.higher_is_better else 1.0


@dataclass(frozen=True)
class FigureVerdict:
    """One figure (a record key) of A against B."""

    key: RecordKey
    unit: str
    a_center: float
    """A's figure: the mean of its sessions' medians (geometric on the log scale)."""
    b_center: float
    effect: Effect
    p_holm: float
    verdict: str


@dataclass(frozen=True)
class FamilyVerdict:
    """One metric family: its own test, its figures, and whether they agree."""

    family: Family
    effect: Effect
    figures: tuple[FigureVerdict, ...]
    consistent: bool
    verdict: str

    def label(self) -> str:
        backend, requirement, metric = self.family
        return f"{requirement}/{metric} ({backend})"


@dataclass(frozen=True)
class AbResult:
    """The comparison's verdicts, and the evidence they rest on."""

    form: str
    """``sessions`` or ``paired``."""
    config: AbConfig
    families: tuple[FamilyVerdict, ...]
    sessions_a: int
    sessions_b: int
    left_out: tuple[str, ...] = field(default=())
    """Records not in every session (so not compared), with the reason."""

    @property
    def family_alpha(self) -> float:
        return self.config.alpha / 2.0 / max(1, len(self.families))

    @property
    def figure_count(self) -> int:
        return sum(len(f.figures) for f in self.families)

    @property
    def regressions(self) -> list[FamilyVerdict]:
        return [f for f in self.families if f.verdict == REGRESSION]

    @property
    def improvements(self) -> list[FamilyVerdict]:
        return [f for f in self.families if f.verdict == IMPROVED]

    @property
    def failed(self) -> bool:
        return bool(self.regressions or (self.config.two_sided and self.improvements))


def _median_of(run: Run, key: RecordKey) -> float:
    return run.records[key].median


def _center(values: Sequence[float], log_scale: bool) -> float:
    if log_scale:
        return math.exp(statistics.fmean(math.log(v) for v in values))
    return statistics.fmean(values)


def _holm(pvalues: Sequence[float]) -> list[float]:
    """Holm-adjusted p-values, in the order given."""
    m = len(pvalues)
    order = sorted(range(m), key=lambda i: pvalues[i])
    adjusted = [1.0] * m
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * pvalues[i]))
        adjusted[i] = running
    return adjusted


def _direction(effect: Effect, sign: float, floor: float, two_sided: bool) -> str:
    """Beyond the floor, worse or (two-sided) better; else below the floor."""
    worse = effect.relative if sign > 0 else -effect.relative
    if worse > floor:
        return REGRESSION
    if two_sided and -worse > floor:
        return IMPROVED
    return BELOW_FLOOR


def _figure_verdict(effect: Effect, p_adj: float, level: float, sign: float, cfg: AbConfig) -> str:
    if p_adj > level:
        return NOISE
    return _direction(effect, sign, cfg.floor, cfg.two_sided)


def _family_score(columns: Sequence[Sequence[float]]) -> list[float]:
    """Per session, the mean over the family's figures (of their logs, where all positive)."""
    log_scale = all(v > 0 for column in columns for v in column)
    sessions = len(columns[0])
    score = []
    for s in range(sessions):
        values = [column[s] for column in columns]
        score.append(
            math.exp(statistics.fmean(math.log(v) for v in values))
            if log_scale
            else statistics.fmean(values)
        )
    return score


def _judge(
    form: str,
    figures: dict[RecordKey, tuple[list[float], list[float], str]],
    family_of: dict[RecordKey, str],
    cfg: AbConfig,
    sessions: tuple[int, int],
    left_out: list[str],
) -> AbResult:
    """Family tests, figure tests (Holm), consistency and floors over ``figures``.

    ``figures`` maps each compared key to A's and B's per-session figures and its unit;
    ``family_of`` names the metric each key's family is judged as.
    """
    if not figures:
        raise HistoryError(
            "the two variants share no figure measured in every session: nothing was compared"
            + (f" ({'; '.join(left_out[:5])})" if left_out else "")
        )
    test = welch if form == "sessions" else paired
    keys = sorted(figures)
    families: dict[Family, list[RecordKey]] = defaultdict(list)
    for key in keys:
        families[(key.backend, key.requirement, family_of[key])].append(key)
    family_alpha = cfg.alpha / 2.0 / len(families)
    figure_level = cfg.alpha / 2.0
    figure_alpha = figure_level / len(keys)  # Holm's first step: what one change must reach
    effects: dict[RecordKey, Effect] = {}
    for key in keys:
        a, b, _unit = figures[key]
        effects[key] = test(
            a,
            b,
            alpha=figure_alpha,
            worse_sign=cfg.worse_sign(family_of[key]),
            two_sided=cfg.two_sided,
        )
    holm = dict(zip(keys, _holm([effects[k].p for k in keys]), strict=True))
    verdicts = []
    for family, members in sorted(families.items()):
        sign = cfg.worse_sign(family[2])
        done = []
        for key in members:
            a, b, unit = figures[key]
            log_scale = effects[key].log_scale
            done.append(
                FigureVerdict(
                    key=key,
                    unit=unit,
                    a_center=_center(a, log_scale),
                    b_center=_center(b, log_scale),
                    effect=effects[key],
                    p_holm=holm[key],
                    verdict=_figure_verdict(effects[key], holm[key], figure_level, sign, cfg),
                )
            )
        score_a = _family_score([figures[k][0] for k in members])
        score_b = _family_score([figures[k][1] for k in members])
        fam = test(score_a, score_b, alpha=family_alpha, worse_sign=sign, two_sided=cfg.two_sided)
        consistent = all(effects[k].estimate * sign > 0 for k in members) or all(
            effects[k].estimate * sign < 0 for k in members
        )
        verdict = NOISE
        if fam.p <= family_alpha:
            verdict = _direction(fam, sign, cfg.floor, cfg.two_sided)
            if verdict in (REGRESSION, IMPROVED) and not consistent:
                verdict = INCONSISTENT
        if any(f.verdict == REGRESSION for f in done):
            verdict = REGRESSION
        elif verdict != REGRESSION and any(f.verdict == IMPROVED for f in done):
            verdict = IMPROVED
        verdicts.append(FamilyVerdict(family, fam, tuple(done), consistent, verdict))
    return AbResult(form, cfg, tuple(verdicts), sessions[0], sessions[1], tuple(left_out))


def _shared_keys(runs: Sequence[Run]) -> tuple[set[RecordKey], list[str]]:
    """Keys present in every run, and a line for each key some run lacks."""
    every = set.intersection(*(set(r.records) for r in runs))
    some = set.union(*(set(r.records) for r in runs))
    left_out = [
        f"{key.label()} ({key.backend}): in {sum(key in r.records for r in runs)} of "
        f"{len(runs)} sessions"
        for key in sorted(some - every)
    ]
    return every, left_out


def _check_alike(runs: Sequence[Run]) -> None:
    """All sessions from one host measured alike: a comparison across hosts is not A/B."""
    prints = [r.fingerprint for r in runs if r.fingerprint is not None]
    for run, fp in zip(runs, [r.fingerprint for r in runs], strict=True):
        if fp is None:
            raise HistoryError(f"{run.source}: no host fingerprint; cannot tell it ran here")
        diffs = fp.differences(prints[0])
        if diffs:
            raise HistoryError(
                f"{run.source} and {runs[0].source} were not measured alike ({'; '.join(diffs)})"
            )


def _as_backend(run: Run, backend: str) -> Run:
    """``run`` with its records keyed as if measured on ``backend`` (to compare backends)."""
    records = {replace(key, backend=backend): record for key, record in run.records.items()}
    return replace(run, records=records)


def _one_backend(runs: Sequence[Run], side: str) -> str:
    backends = {b for run in runs for b in run.backends}
    if len(backends) != 1:
        raise HistoryError(
            f"variant {side} measured {len(backends)} backends ({', '.join(sorted(backends))}): "
            "two backends are compared one against one"
        )
    return backends.pop()


def judge_sessions(a_runs: Sequence[Run], b_runs: Sequence[Run], config: AbConfig) -> AbResult:
    """A's sessions against B's, figure by figure and family by family.

    When A and B ran different backends (one each), B's figures are matched to A's by
    everything but the backend, and the families are named ``A-backend vs B-backend``.

    Raises:
        HistoryError: fewer than two sessions a side, sessions from different hosts or timed
            by different methods, or no figure that every session measured.
    """
    if len(a_runs) < 2 or len(b_runs) < 2:
        raise HistoryError(
            f"need at least 2 sessions of each variant, got {len(a_runs)} and {len(b_runs)}"
        )
    _check_alike([*a_runs, *b_runs])
    backend_a, backend_b = _one_backend(a_runs, "A"), _one_backend(b_runs, "B")
    if backend_a != backend_b:
        both = f"{backend_a} vs {backend_b}"
        a_runs = [_as_backend(r, both) for r in a_runs]
        b_runs = [_as_backend(r, both) for r in b_runs]
    keys, left_out = _shared_keys([*a_runs, *b_runs])
    figures = {
        key: (
            [_median_of(r, key) for r in a_runs],
            [_median_of(r, key) for r in b_runs],
            a_runs[0].records[key].unit,
        )
        for key in keys
    }
    family_of = {key: key.metric for key in keys}
    return _judge("sessions", figures, family_of, config, (len(a_runs), len(b_runs)), left_out)


def judge_paired(runs: Sequence[Run], config: AbConfig) -> AbResult:
    """Sessions that timed both variants in the same rounds: each ``variant_X`` series (B)
    against its ``X`` (A), session by session.

    Raises:
        HistoryError: fewer than two sessions, sessions from different hosts, or no session
            series of a variant B.
    """
    if len(runs) < 2:
        raise HistoryError(f"need at least 2 sessions, got {len(runs)}")
    _check_alike(runs)
    keys, left_out = _shared_keys(runs)
    figures: dict[RecordKey, tuple[list[float], list[float], str]] = {}
    family_of: dict[RecordKey, str] = {}
    for key in sorted(keys):
        if not key.metric.startswith(VARIANT_PREFIX):
            continue
        bare = key.metric.removeprefix(VARIANT_PREFIX)
        a_key = RecordKey(key.requirement, bare, key.backend, key.n, key.size, key.test)
        if a_key not in keys:
            left_out.append(f"{key.label()}: no {bare} series of variant A beside it")
            continue
        figures[a_key] = (
            [_median_of(r, a_key) for r in runs],
            [_median_of(r, key) for r in runs],
            runs[0].records[a_key].unit,
        )
        family_of[a_key] = bare
    if not figures:
        raise HistoryError(
            "no session holds a variant B series (variant_*): were the sessions run with "
            "--nfv-proxy-b?"
        )
    return _judge("paired", figures, family_of, config, (len(runs), len(runs)), left_out)
