"""Confidence intervals, summaries and the repeat-until-converged loop."""

from __future__ import annotations

import itertools
import math
import random
import statistics
from collections.abc import Callable, Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats as scipy_stats

from pytest_nfv.errors import NfvUsageError, ProbeError
from pytest_nfv.harness.repeat import StopRule, repeat_until_converged
from pytest_nfv.harness.stats import ABSOLUTE_FLOORS, summarize, t_half_width

RUNS = settings(max_examples=200, deadline=None)

values = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False)
sample_lists = st.lists(values, min_size=2, max_size=40)


def fake_measure(samples: Sequence[float]) -> Callable[[], float]:
    """A measurement that returns ``samples`` in turn, over and over."""
    it = itertools.cycle(samples)
    return lambda: next(it)


def fake_clock(step: float) -> Callable[[], float]:
    """A clock that advances ``step`` seconds every time it is read (first read: 0)."""
    ticks = itertools.count()
    return lambda: next(ticks) * step


# ------------------------------------------------------------------ t_half_width


@pytest.mark.parametrize("samples", [[], [1.0], [0.0], [-3.5]])
def test_half_width_is_infinite_below_two_samples(samples: list[float]) -> None:
    assert t_half_width(samples) == math.inf


@RUNS
@given(samples=sample_lists)
def test_half_width_matches_scipy_interval(samples: list[float]) -> None:
    n = len(samples)
    mean = statistics.fmean(samples)
    sem = statistics.stdev(samples) / math.sqrt(n)
    half = t_half_width(samples)
    if sem == 0:
        assert half == 0
        return
    low, high = scipy_stats.t.interval(0.95, n - 1, loc=mean, scale=sem)
    assert half == pytest.approx((high - low) / 2, rel=1e-9, abs=1e-9 * max(1.0, abs(mean)))
    assert half == pytest.approx(float(scipy_stats.t.ppf(0.975, n - 1)) * sem, rel=1e-12)


@RUNS
@given(
    # Subnormal samples (below 2.2e-308) lose their digits when squared, so no relative
    # tolerance holds there; no measured figure comes near them.
    samples=st.lists(
        st.floats(min_value=-1e3, max_value=1e3, allow_nan=False, allow_subnormal=False),
        min_size=2,
        max_size=40,
    ),
    factor=st.floats(min_value=1e-3, max_value=1e3),
)
def test_half_width_scales_linearly(samples: list[float], factor: float) -> None:
    scaled = t_half_width([factor * s for s in samples])
    spread = max(abs(s) for s in samples)
    assert scaled == pytest.approx(factor * t_half_width(samples), rel=1e-9, abs=1e-12 * spread)


@RUNS
@given(value=values, n=st.integers(min_value=2, max_value=50))
def test_half_width_of_constant_samples_is_zero(value: float, n: int) -> None:
    assert t_half_width([value] * n) == 0.0


def test_half_width_known_value() -> None:
    # n = 4, sd = 1.2909944..., t(0.975, 3) = 3.1824463...
    assert t_half_width([1.0, 2.0, 3.0, 4.0]) == pytest.approx(2.05426, abs=1e-5)


def test_half_width_narrows_with_lower_confidence() -> None:
    samples = [1.0, 2.0, 4.0, 8.0]
    assert t_half_width(samples, 0.90) < t_half_width(samples) < t_half_width(samples, 0.99)


# ------------------------------------------------------------------ summarize


@RUNS
@given(samples=st.lists(values, min_size=1, max_size=40))
def test_summarize_matches_statistics(samples: list[float]) -> None:
    summary = summarize(samples)
    assert summary.samples == tuple(samples)
    assert summary.rounds == len(samples)
    assert summary.mean == pytest.approx(statistics.mean(samples), rel=1e-12, abs=1e-6)
    assert summary.median == statistics.median(samples)
    assert summary.minimum == min(samples)
    assert summary.maximum == max(samples)
    expected_sd = statistics.stdev(samples) if len(samples) > 1 else 0.0
    assert summary.stdev == expected_sd
    assert summary.half_width == t_half_width(samples)
    assert summary.confidence == 0.95
    assert summary.converged is False  # neither given nor judged
    assert summary.statistic("mean") == summary.mean
    assert summary.statistic("median") == summary.median
    assert summary.statistic("max") == summary.maximum


def test_summarize_accepts_ints_and_keeps_floats() -> None:
    summary = summarize([1, 2, 3])
    assert summary.samples == (1.0, 2.0, 3.0)
    assert all(isinstance(s, float) for s in summary.samples)


def test_summarize_rejects_empty_input() -> None:
    with pytest.raises(ProbeError, match="no samples"):
        summarize([])


@pytest.mark.parametrize("name", ["min", "p95", "p99.0", "Mean", "", "stdev"])
def test_unknown_statistic_is_a_usage_error(name: str) -> None:
    with pytest.raises(NfvUsageError, match="unknown statistic"):
        summarize([1.0, 2.0]).statistic(name)


def test_relative_half_width_is_infinite_for_one_sample() -> None:
    summary = summarize([5.0])
    assert summary.half_width == math.inf
    assert summary.relative_half_width == math.inf
    assert summary.stdev == 0.0


def test_relative_half_width_uses_absolute_mean() -> None:
    summary = summarize([-10.0, -12.0, -11.0])
    assert summary.relative_half_width == pytest.approx(summary.half_width / 11.0)
    assert summary.relative_half_width > 0


def test_summarize_judges_convergence_against_ci_width() -> None:
    tight = [100.0, 100.1, 99.9, 100.0, 100.05]
    assert summarize(tight, ci_width=0.05).converged is True
    assert summarize([1.0, 100.0, 1.0, 100.0], ci_width=0.05).converged is False
    assert summarize([5.0], ci_width=0.5).converged is False
    assert summarize(tight, ci_width=0.05, converged=False).converged is False


# ------------------------------------------------------------------ StopRule


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"ci_width": 0.0}, "ci_width"),
        ({"ci_width": 1.0}, "ci_width"),
        ({"ci_width": -0.1}, "ci_width"),
        ({"ci_width": 1.5}, "ci_width"),
        ({"ci_width": math.nan}, "ci_width"),
        ({"max_rounds": 0}, "max_rounds"),
        ({"max_rounds": -3}, "max_rounds"),
        ({"max_seconds": 0.0}, "max_seconds"),
        ({"max_seconds": -1.0}, "max_seconds"),
        ({"min_rounds": 2}, "min_rounds"),
        ({"min_rounds": 0}, "min_rounds"),
        ({"absolute": -1e-6}, "absolute"),
        ({"absolute": math.nan}, "absolute"),
    ],
)
def test_stop_rule_validation(kwargs: dict[str, float], message: str) -> None:
    with pytest.raises(NfvUsageError, match=message):
        StopRule(**kwargs)  # type: ignore[arg-type]


def test_stop_rule_defaults_are_valid() -> None:
    rule = StopRule()
    assert (rule.ci_width, rule.max_rounds, rule.max_seconds, rule.min_rounds) == (
        0.05,
        30,
        30.0,
        3,
    )


def test_stop_rule_rejects_nan_max_seconds() -> None:
    with pytest.raises(NfvUsageError, match="max_seconds"):
        StopRule(max_seconds=math.nan)


# ------------------------------------------------------------------ repeat_until_converged


@pytest.mark.parametrize("min_rounds", [3, 5, 12])
@pytest.mark.parametrize("value", [3.0, 1e-9, -7.5, 42.0])
def test_constant_samples_converge_at_exactly_min_rounds(min_rounds: int, value: float) -> None:
    rule = StopRule(min_rounds=min_rounds, max_rounds=30, max_seconds=1e9)
    summary = repeat_until_converged(fake_measure([value]), rule, clock=fake_clock(0.001))
    assert summary.rounds == min_rounds
    assert summary.converged is True
    assert summary.stop_reason == "converged"
    assert summary.half_width == 0.0
    assert summary.mean == value


def test_noisy_samples_stop_at_max_rounds_unconverged() -> None:
    rule = StopRule(ci_width=0.05, min_rounds=3, max_rounds=10, max_seconds=1e9)
    summary = repeat_until_converged(
        fake_measure([1.0, 1000.0, 3.0, 700.0]), rule, clock=fake_clock(0.0)
    )
    assert summary.rounds == 10
    assert summary.converged is False
    assert summary.stop_reason == "max_rounds"
    assert summary.relative_half_width > 0.05


def test_slow_clock_stops_at_max_seconds() -> None:
    rule = StopRule(ci_width=0.05, min_rounds=3, max_rounds=100, max_seconds=25.0)
    summary = repeat_until_converged(fake_measure([1.0, 50.0]), rule, clock=fake_clock(10.0))
    # Clock: 0 at start, then 10, 20, 30 after rounds 1, 2, 3; 30 >= 25 stops it.
    assert summary.rounds == 3
    assert summary.converged is False
    assert summary.stop_reason == "max_seconds"
    assert summary.elapsed_s == 30.0


def test_convergence_is_judged_at_max_rounds_when_below_min_rounds() -> None:
    rule = StopRule(min_rounds=5, max_rounds=3, max_seconds=1e9)
    summary = repeat_until_converged(fake_measure([2.0]), rule, clock=fake_clock(0.0))
    assert summary.rounds == 3
    assert summary.stop_reason == "converged"


@pytest.mark.parametrize("max_rounds", [1, 2])
def test_fewer_than_three_rounds_never_converge_and_are_insufficient(max_rounds: int) -> None:
    rule = StopRule(max_rounds=max_rounds, max_seconds=1e9)
    summary = repeat_until_converged(fake_measure([2.0]), rule, clock=fake_clock(0.0))
    assert summary.rounds == max_rounds
    assert summary.converged is False
    assert summary.stop_reason == "max_rounds"
    assert summary.insufficient is True


def test_a_round_longer_than_max_seconds_still_gets_three_rounds() -> None:
    rule = StopRule(ci_width=0.05, max_rounds=30, max_seconds=1.0)
    summary = repeat_until_converged(fake_measure([5.0, 9.0]), rule, clock=fake_clock(100.0))
    assert summary.rounds == 3
    assert summary.stop_reason == "max_seconds"
    assert summary.insufficient is False


@pytest.mark.parametrize(
    ("dimension", "noise", "converges"),
    [("time", 1e-6, True), ("time", 20e-6, False), ("memory", 0.05, True), ("memory", 2, False)],
)
def test_the_absolute_floor_ends_series_near_zero(
    dimension: str, noise: float, converges: bool
) -> None:
    # Means near zero: a relative width of 5% could never be met.
    samples = [0.0, noise, -noise, noise / 2, -noise / 2]
    rule = StopRule(ci_width=0.05, max_rounds=20, max_seconds=1e9).for_dimension(dimension)
    summary = repeat_until_converged(fake_measure(samples), rule, clock=fake_clock(0.0))
    assert summary.converged is converges
    assert summary.rounds == (5 if converges else 20) or (converges and summary.rounds >= 3)
    assert rule.absolute == ABSOLUTE_FLOORS[dimension]
    relative_only = StopRule(ci_width=0.05, max_rounds=20, max_seconds=1e9)
    assert (
        repeat_until_converged(
            fake_measure(samples), relative_only, clock=fake_clock(0.0)
        ).converged
        is False
    )


def test_unknown_dimension_is_a_usage_error() -> None:
    with pytest.raises(NfvUsageError, match="dimension"):
        StopRule().for_dimension("bandwidth")


def test_a_narrow_ci_across_the_budget_keeps_measuring() -> None:
    # Mean ~1.0 with 1% noise: converges at 3 rounds without a limit, but its CI holds 1.0.
    samples = [0.99, 1.01, 1.0, 0.995, 1.005]
    rule = StopRule(ci_width=0.05, max_rounds=12, max_seconds=1e9)
    free = repeat_until_converged(fake_measure(samples), rule, clock=fake_clock(0.0))
    held = repeat_until_converged(fake_measure(samples), rule, limit=1.0, clock=fake_clock(0.0))
    assert (free.rounds, free.stop_reason) == (3, "converged")
    assert (held.rounds, held.stop_reason, held.converged) == (12, "max_rounds", True)
    # A limit well clear of the CI changes nothing.
    clear = repeat_until_converged(fake_measure(samples), rule, limit=2.0, clock=fake_clock(0.0))
    assert clear.rounds == 3


def test_a_limit_the_ci_leaves_after_more_rounds_ends_the_series() -> None:
    # Rounds 1-3 straddle 1.02; more rounds narrow the CI below it.
    samples = [1.0, 1.04, 0.99, 1.0, 1.0, 1.0, 1.0, 1.0]
    rule = StopRule(ci_width=0.05, max_rounds=30, max_seconds=1e9)
    summary = repeat_until_converged(fake_measure(samples), rule, limit=1.02, clock=fake_clock(0.0))
    assert 3 < summary.rounds < 30
    assert summary.stop_reason == "converged"
    assert summary.mean + summary.half_width <= 1.02


def test_measure_results_are_coerced_to_float() -> None:
    rule = StopRule(min_rounds=3, max_rounds=3, max_seconds=1e9)
    summary = repeat_until_converged(lambda: 7, rule, clock=fake_clock(0.0))
    assert summary.samples == (7.0, 7.0, 7.0)


# Means of exactly zero are kept out: see test_converged_zero_series_has_finite_relative_width.
nonzero_values = st.one_of(
    st.floats(min_value=1e-3, max_value=1e6), st.floats(min_value=-1e6, max_value=-1e-3)
)


@RUNS
@given(
    samples=st.lists(nonzero_values, min_size=1, max_size=12),
    ci_width=st.floats(min_value=1e-3, max_value=0.999),
    max_rounds=st.integers(min_value=1, max_value=40),
    min_rounds=st.integers(min_value=3, max_value=10),
    max_seconds=st.floats(min_value=0.5, max_value=100.0),
    step=st.floats(min_value=0.0, max_value=5.0),
)
def test_repeat_until_converged_properties(
    *,
    samples: list[float],
    ci_width: float,
    max_rounds: int,
    min_rounds: int,
    max_seconds: float,
    step: float,
) -> None:
    rule = StopRule(
        ci_width=ci_width, max_rounds=max_rounds, max_seconds=max_seconds, min_rounds=min_rounds
    )
    summary = repeat_until_converged(fake_measure(samples), rule, clock=fake_clock(step))

    assert 1 <= summary.rounds <= max_rounds
    assert summary.samples == tuple(itertools.islice(itertools.cycle(samples), summary.rounds))
    assert summary.stop_reason in {"converged", "max_rounds", "max_seconds"}
    assert summary.converged is (summary.stop_reason == "converged")
    assert summary.elapsed_s == pytest.approx(summary.rounds * step)
    if summary.converged:
        assert summary.rounds >= min(min_rounds, max_rounds)
        assert summary.relative_half_width <= ci_width
    if summary.stop_reason == "max_rounds":
        assert summary.rounds == max_rounds
    if summary.stop_reason == "max_seconds":
        assert summary.elapsed_s >= max_seconds
        assert summary.rounds >= min_rounds
    # It never stops early: every earlier round had a reason to go on.
    for k in range(1, summary.rounds):
        assert rule.decide(summary.samples[:k], k * step) is None


def test_converged_zero_series_has_finite_relative_width() -> None:
    rule = StopRule(ci_width=0.05, min_rounds=3, max_rounds=10, max_seconds=1e9)
    summary = repeat_until_converged(fake_measure([0.0]), rule, clock=fake_clock(0.0))
    assert summary.converged is True
    assert summary.relative_half_width <= rule.ci_width


# ------------------------------------------------------------------ statistical honesty


@pytest.mark.parametrize("seed", [1, 20240601])
def test_ci_covers_true_mean_95_percent_of_the_time(seed: int) -> None:
    rng = random.Random(seed)
    true_mean, sigma, n, trials = 50.0, 7.0, 10, 2000
    covered = 0
    for _ in range(trials):
        samples = [rng.gauss(true_mean, sigma) for _ in range(n)]
        mean = statistics.fmean(samples)
        if abs(mean - true_mean) <= t_half_width(samples):
            covered += 1
    assert 0.93 <= covered / trials <= 0.97
