"""Run-level statistics: one figure per session, compared on the log scale.

Rounds of one session are not independent draws of the session's figure: where the
processes were scheduled, cache and frequency state and what else ran hold for a whole
session, and on a shared host they move a session's median by more than its own rounds'
spread suggests. Every test here therefore takes one number per session (its median) and
treats the sessions as the sample:

- ``welch``: two independent sets of sessions (A and B, interleaved on one host), Welch's t
  on their log medians;
- ``paired``: one set of sessions each of which timed both variants round by round, a
  one-sample t on each session's log ratio B/A;
- ``prediction``: one new session against k earlier ones (a saved history), a Student-t
  prediction test;
- ``calibrated``: one new session against one baseline, with the run-to-run spread taken
  from A/A sessions on the same runner (``analysis.calibration``).

Log scale, because what differs between sessions scales a figure (a slower core, a busier
host) rather than adding to it; a figure that is not positive in every session (an overhead
that can read below zero) is compared on its own scale instead, and the effect is then a
difference, reported relative to A's mean.

Every result carries the smallest effect it could have detected with 80% power at its alpha
(``Effect.detectable``): a pass then says what it could have missed, and a verdict on too
little evidence is visible as such rather than read as "no change".
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pytest_nfv.errors import HistoryError

__all__ = [
    "POWER",
    "Effect",
    "calibrated",
    "detectable_shift",
    "paired",
    "prediction",
    "sigma_upper",
    "tolerance_bound",
    "welch",
]

POWER = 0.8
"""The power at which a detectable effect is stated."""
CONFIDENCE = 0.95
"""Two-sided confidence of the intervals printed beside each effect."""


@dataclass(frozen=True)
class Effect:
    """How far B lies from A, run by run, and what the evidence could have shown.

    On the log scale (``log_scale``) ``estimate``, ``low``, ``high`` and ``detectable`` are
    log ratios B/A; otherwise differences B - A in the figures' unit, and ``reference`` is
    A's mean so that they can be told as a share of it.
    """

    estimate: float
    low: float
    high: float
    p: float
    """One-sided: the chance of an effect at least this far in the worse direction if
    nothing changed (two-sided when the test was asked for both directions)."""
    df: float
    sd: float
    """Spread of one session's figure (pooled over A and B where there are two sets)."""
    n_a: int
    n_b: int
    detectable: float
    """Smallest shift in the worse direction found with ``POWER`` at the test's alpha."""
    alpha: float
    log_scale: bool = True
    reference: float = 1.0
    method: str = ""

    def _relative(self, value: float) -> float:
        if self.log_scale:
            return math.exp(value) - 1.0
        return value / abs(self.reference) if self.reference else math.copysign(math.inf, value)

    @property
    def relative(self) -> float:
        """The effect as a share of A: +0.2 is 20% worse for a time."""
        return self._relative(self.estimate)

    @property
    def relative_interval(self) -> tuple[float, float]:
        return self._relative(self.low), self._relative(self.high)

    @property
    def relative_detectable(self) -> float:
        return self._relative(self.detectable)


def _t() -> Any:
    from scipy import stats as scipy_stats  # only when judging: pytest start-up stays light

    return scipy_stats.t


def detectable_shift(
    sd: float, df: float, scale: float, alpha: float, power: float = POWER
) -> float:
    """The shift a one-sided t test at ``alpha`` finds with ``power``: ``(t_a + t_b) sd scale``.

    ``scale`` turns one session's spread into the standard error of the compared quantity
    (``sqrt(1/n_a + 1/n_b)`` for two sets of sessions, ``sqrt(1 + 1/k)`` for one new session
    against k earlier ones). The noncentral t is approximated by the shifted central one,
    which is within a few percent at the degrees of freedom used here.
    """
    if not math.isfinite(sd) or df <= 0:
        return math.inf
    t = _t()
    return float((t.ppf(1.0 - alpha, df) + t.ppf(power, df)) * sd * scale)


def _logs(values: Sequence[float]) -> list[float]:
    return [math.log(v) for v in values]


def _positive(*groups: Sequence[float]) -> bool:
    return all(v > 0 for group in groups for v in group)


def _check_finite(*groups: Sequence[float]) -> None:
    if not all(math.isfinite(v) for group in groups for v in group):
        raise HistoryError("a session's figure is not a finite number")


@dataclass(frozen=True)
class _Sides:
    """What every test here settles first about the two sides it compares: how many
    sessions each holds, the scale they are compared on, and what a raw-scale effect is
    relative to (the reference side's mean)."""

    n_a: int
    n_b: int
    log_scale: bool
    reference: float


def _sides(reference: Sequence[float], other: Sequence[float]) -> _Sides:
    """The ``_Sides`` of ``reference`` (A, the earlier sessions, the baseline) and ``other``.

    Raises:
        HistoryError: a figure that is not finite.
    """
    _check_finite(reference, other)
    log_scale = _positive(reference, other)
    mean = 1.0 if log_scale else statistics.fmean(reference)
    return _Sides(len(reference), len(other), log_scale, mean)


def _p(worse_t: float, df: float, two_sided: bool) -> float:
    t = _t()
    if two_sided:
        return float(min(1.0, 2.0 * t.sf(abs(worse_t), df)))
    return float(t.sf(worse_t, df))


@dataclass(frozen=True)
class _Evidence:
    """What every test here has in common: an estimate, its standard error, the spread it
    comes from and the scale that turns that spread into the error."""

    estimate: float
    se: float
    df: float
    sd: float
    scale: float
    sides: _Sides
    method: str


def _effect(e: _Evidence, alpha: float, worse_sign: float, two_sided: bool) -> Effect:
    """The interval, p and detectable change of ``e``; no spread at all makes any change in
    the worse direction certain and leaves nothing undetectable."""
    if e.se == 0 or not math.isfinite(e.se):
        worse = e.estimate * worse_sign
        p = 0.0 if worse > 0 or (two_sided and worse != 0) else 1.0
        return Effect(
            e.estimate, e.estimate, e.estimate, p, e.df, 0.0, e.sides.n_a, e.sides.n_b, 0.0,
            alpha, e.sides.log_scale, e.sides.reference, e.method,
        )  # fmt: skip
    half = float(_t().ppf(0.5 + CONFIDENCE / 2.0, e.df)) * e.se
    return Effect(
        estimate=e.estimate,
        low=e.estimate - half,
        high=e.estimate + half,
        p=_p(e.estimate * worse_sign / e.se, e.df, two_sided),
        df=e.df,
        sd=e.sd,
        n_a=e.sides.n_a,
        n_b=e.sides.n_b,
        detectable=detectable_shift(e.sd, e.df, e.scale, alpha),
        alpha=alpha,
        log_scale=e.sides.log_scale,
        reference=e.sides.reference,
        method=e.method,
    )


def welch(
    a: Sequence[float],
    b: Sequence[float],
    *,
    alpha: float,
    worse_sign: float = 1.0,
    two_sided: bool = False,
) -> Effect:
    """Welch's t test of B's session figures against A's (log scale where all are positive).

    Args:
        a: one figure per A session (its median).
        b: one figure per B session.
        alpha: the level the detectable effect is stated at.
        worse_sign: +1 when higher is worse (times, memory), -1 otherwise.
        two_sided: p for a change either way.

    Raises:
        HistoryError: fewer than two sessions on a side, or a figure that is not finite.
    """
    if len(a) < 2 or len(b) < 2:
        raise HistoryError(f"need at least 2 sessions a side, got {len(a)} and {len(b)}")
    sides = _sides(a, b)
    xa, xb = (_logs(a), _logs(b)) if sides.log_scale else (list(a), list(b))
    na, nb = len(xa), len(xb)
    va, vb = statistics.variance(xa), statistics.variance(xb)
    estimate = statistics.fmean(xb) - statistics.fmean(xa)
    se2 = va / na + vb / nb
    pooled_sd = math.sqrt(((na - 1) * va + (nb - 1) * vb) / (na + nb - 2))
    denominator = (va / na) ** 2 / (na - 1) + (vb / nb) ** 2 / (nb - 1)
    spread = se2 > 0 and denominator > 0  # spreads too small to square are none
    evidence = _Evidence(
        estimate=estimate,
        se=math.sqrt(se2) if spread else 0.0,
        df=se2**2 / denominator if spread else float(na + nb - 2),
        sd=pooled_sd,
        scale=math.sqrt(1 / na + 1 / nb),
        sides=sides,
        method="Welch t on session medians",
    )
    return _effect(evidence, alpha, worse_sign, two_sided)


def paired(
    a: Sequence[float],
    b: Sequence[float],
    *,
    alpha: float,
    worse_sign: float = 1.0,
    two_sided: bool = False,
) -> Effect:
    """A one-sample t test of each session's B against its own A (sessions that timed both).

    ``a[i]`` and ``b[i]`` come from session ``i``, which alternated the variants round by
    round: what the host did during that session moved both, and the session's log ratio
    B/A leaves it out. The sessions are the sample, so a ratio that one session's state
    happened to skew does not pass for the variants' difference.

    Raises:
        HistoryError: fewer than two sessions, unequal lengths, or a non-finite figure.
    """
    if len(a) != len(b):
        raise HistoryError(f"paired sessions: {len(a)} figures of A but {len(b)} of B")
    if len(a) < 2:
        raise HistoryError(f"need at least 2 sessions, got {len(a)}")
    sides = _sides(a, b)
    diffs = (
        [math.log(y) - math.log(x) for x, y in zip(a, b, strict=True)]
        if sides.log_scale
        else [y - x for x, y in zip(a, b, strict=True)]
    )
    n = len(diffs)
    sd = statistics.stdev(diffs)
    evidence = _Evidence(
        estimate=statistics.fmean(diffs),
        se=sd / math.sqrt(n),
        df=float(n - 1),
        sd=sd,
        scale=1.0 / math.sqrt(n),
        sides=sides,
        method="paired t on session ratios",
    )
    return _effect(evidence, alpha, worse_sign, two_sided)


def prediction(
    current: float,
    earlier: Sequence[float],
    *,
    alpha: float,
    worse_sign: float = 1.0,
    sd: float | None = None,
    df: float | None = None,
) -> Effect:
    """One new session against ``earlier`` sessions of unchanged code: a prediction test.

    ``t = (x - mean) / (s sqrt(1 + 1/k))``: the question is whether the new session lies
    outside where the next session of unchanged code would land. ``sd`` and ``df`` may come
    from a pooled estimate (a family of records); by default the earlier sessions' own.

    Raises:
        HistoryError: fewer than two earlier sessions, or a non-finite figure.
    """
    k = len(earlier)
    if k < 2:
        raise HistoryError(f"a prediction test needs at least 2 earlier sessions, got {k}")
    sides = _sides(earlier, [current])
    xs = _logs(earlier) if sides.log_scale else list(earlier)
    x = math.log(current) if sides.log_scale else current
    spread = statistics.stdev(xs) if sd is None else sd
    scale = math.sqrt(1.0 + 1.0 / k)
    evidence = _Evidence(
        estimate=x - statistics.fmean(xs),
        se=spread * scale,
        df=float(k - 1) if df is None else df,
        sd=spread,
        scale=scale,
        sides=sides,
        method="prediction t on session medians",
    )
    return _effect(evidence, alpha, worse_sign, False)


def sigma_upper(sd: float, df: float, confidence: float = CONFIDENCE) -> float:
    """An upper ``confidence`` bound on the true spread from an estimate on ``df`` degrees of
    freedom: ``s sqrt(df / chi2_(1-confidence, df))``. Few A/A runs give a loose bound, and
    the threshold built on it is wider for that: a runner pays for thin calibration with a
    coarser gate, not with false alarms."""
    if df <= 0 or not math.isfinite(sd):
        return math.inf
    from scipy import stats as scipy_stats

    return float(sd * math.sqrt(df / scipy_stats.chi2.ppf(1.0 - confidence, df)))


def tolerance_bound(
    sd: float, df: float, coverage: float, confidence: float = CONFIDENCE, scale: float = 1.0
) -> float:
    """One-sided upper tolerance bound of a zero-mean normal difference with spread
    ``sd * scale``: with ``confidence``, at least ``coverage`` of future A/A differences lie
    below it. ``scale`` is ``sqrt(2)`` for one session against one baseline session."""
    from scipy import stats as scipy_stats

    return float(scipy_stats.norm.ppf(coverage) * sigma_upper(sd, df, confidence) * scale)


def calibrated(
    current: float,
    baseline: float,
    *,
    sd: float,
    df: float,
    alpha: float,
    worse_sign: float = 1.0,
) -> Effect:
    """One session against one baseline session, with the runner's own run-to-run spread.

    ``sd`` (and its ``df``) is the spread of one session's log figure between A/A sessions of
    unchanged code on this runner; the difference of two sessions spreads by ``sd sqrt(2)``.

    Raises:
        HistoryError: a non-finite figure.
    """
    sides = _sides([baseline], [current])
    scale = math.sqrt(2.0)
    evidence = _Evidence(
        estimate=math.log(current / baseline) if sides.log_scale else current - baseline,
        se=sd * scale if sd > 0 and df > 0 else 0.0,
        df=df,
        sd=sd,
        scale=scale,
        sides=sides,
        method="calibrated t, one baseline",
    )
    return _effect(evidence, alpha, worse_sign, False)
