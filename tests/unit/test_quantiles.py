"""Percentiles: their point value, their distribution-free interval, and a stop rule and a
budget that hold a percentile rather than the mean."""

from __future__ import annotations

import math
import random
import statistics
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats as scipy_stats

from pytest_nfv.errors import BudgetExceeded, BudgetFileError, NfvUsageError
from pytest_nfv.harness.budget_file import load_budgets
from pytest_nfv.harness.budgets import (
    STATISTICS,
    Budget,
    assess,
    judge,
    metric_kind,
)
from pytest_nfv.harness.repeat import StopRule, repeat_until_converged, straddles
from pytest_nfv.harness.stats import (
    PERCENTILES,
    interval,
    quantile,
    quantile_interval,
    summarize,
)
from pytest_nfv.harness.together import repeat_together
from pytest_nfv.model import METRICS

finite = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False)


# ------------------------------------------------------------------ point values


@settings(max_examples=200, deadline=None)
@given(
    samples=st.lists(finite, min_size=1, max_size=60), q=st.sampled_from([*PERCENTILES.values()])
)
def test_quantile_is_numpys_default(samples: list[float], q: float) -> None:
    expected = float(np.quantile(np.array(samples), q))
    assert quantile(sorted(samples), q) == pytest.approx(expected, rel=1e-9, abs=1e-9)


@settings(max_examples=100, deadline=None)
@given(samples=st.lists(finite, min_size=1, max_size=60))
def test_p50_is_the_median(samples: list[float]) -> None:
    summary = summarize(samples)
    assert summary.statistic("p50") == pytest.approx(statistics.median(samples), abs=1e-9)


def test_percentiles_table_holds_every_percentile_and_the_max() -> None:
    summary = summarize([float(i) for i in range(1, 1001)])
    table = summary.percentiles()
    assert list(table) == ["p50", "p90", "p99", "p99.9", "max"]
    assert table["p50"] == pytest.approx(500.5)
    assert table["p99"] == pytest.approx(990.01)
    assert table["max"] == 1000.0


# ------------------------------------------------------------------ intervals


def _old_median_interval(samples: list[float]) -> tuple[float, float]:
    """The median's interval as stats.interval computed it before percentiles existed."""
    n = len(samples)
    k = int(scipy_stats.binom.ppf(0.025, n, 0.5))
    while k > 0 and scipy_stats.binom.cdf(k - 1, n, 0.5) > 0.025:
        k -= 1
    if k < 1:
        return -math.inf, math.inf
    ordered = sorted(samples)
    return ordered[k - 1], ordered[n - k]


@pytest.mark.parametrize("n", [1, 5, 6, 7, 12, 30, 101, 1000])
def test_median_interval_is_unchanged(n: int) -> None:
    rng = random.Random(n)
    samples = [rng.expovariate(1.0) for _ in range(n)]
    assert interval(summarize(samples), "median") == _old_median_interval(samples)


@pytest.mark.parametrize(
    ("name", "bounded_from"),
    [("median", 6), ("p90", 36), ("p99", 368), ("p99.9", 3688)],
)
def test_upper_side_is_unbounded_below_enough_samples(name: str, bounded_from: int) -> None:
    q = 0.5 if name == "median" else PERCENTILES[name]
    rng = random.Random(7)
    few = [rng.random() for _ in range(bounded_from - 1)]
    assert quantile_interval(few, q)[1] == math.inf
    enough = [*few, rng.random()]
    assert math.isfinite(quantile_interval(enough, q)[1])
    # the lower side of a high percentile is bounded long before
    if q > 0.5:
        assert math.isfinite(quantile_interval(few, q)[0])


def test_no_samples_is_an_unbounded_interval() -> None:
    assert quantile_interval([], 0.99) == (-math.inf, math.inf)


@pytest.mark.parametrize("q", [0.0, 1.0, -0.5, 1.5, math.nan])
def test_a_quantile_outside_the_unit_interval_is_refused(q: float) -> None:
    with pytest.raises(NfvUsageError, match="quantile"):
        quantile_interval([1.0, 2.0], q)


@pytest.mark.parametrize(("q", "n"), [(0.5, 40), (0.9, 200), (0.99, 600)])
def test_interval_covers_the_true_quantile_about_95_percent_of_the_time(q: float, n: int) -> None:
    """Exponential(1) draws, 600 seeded series: the true quantile is -ln(1 - q)."""
    true = -math.log(1.0 - q)
    rng = random.Random(20240 + n)
    draws = 600
    covered = 0
    for _ in range(draws):
        low, high = quantile_interval([rng.expovariate(1.0) for _ in range(n)], q)
        covered += low <= true <= high
    # at least 95% by construction (a little more: order statistics are discrete); 600 draws
    # put 3 standard errors at about 2.7 points
    assert 0.92 <= covered / draws <= 0.995


@settings(max_examples=150, deadline=None)
@given(samples=st.lists(finite, min_size=1, max_size=400))
def test_intervals_are_order_statistics_rising_with_the_percentile(
    samples: list[float],
) -> None:
    """Both ends are samples (or unbounded), in order, and neither falls as the percentile
    rises. (The interpolated point value may lie below the lower end: with few samples the
    data already say the p99 is above all but the largest.)"""
    previous = (-math.inf, -math.inf)
    for q in (0.5, *PERCENTILES.values()):
        low, high = quantile_interval(samples, q)
        assert low <= high
        assert low in samples or low == -math.inf
        assert high in samples or high == math.inf
        assert low >= previous[0]
        assert high >= previous[1]
        previous = (low, high)


@settings(max_examples=60, deadline=None)
@given(samples=st.lists(finite, min_size=1, max_size=300), extra=st.integers(1, 300))
def test_more_samples_never_unbound_a_side(samples: list[float], extra: int) -> None:
    more = samples * (1 + extra // len(samples))
    for q in PERCENTILES.values():
        low, high = quantile_interval(samples, q)
        low2, high2 = quantile_interval(more, q)
        assert math.isfinite(low2) or not math.isfinite(low)
        assert math.isfinite(high2) or not math.isfinite(high)


# ------------------------------------------------------------------ stop rule


def test_straddles_a_percentile_limit_until_its_interval_clears_it() -> None:
    rng = random.Random(3)
    samples = [rng.gauss(100.0, 5.0) for _ in range(200)]
    assert straddles(samples, 1000.0, "p99")  # p99 unbounded above at 200 samples
    assert not straddles(samples, 1000.0, "mean")
    assert not straddles(samples, 50.0, "p99")  # the lower side is already over 50: blown
    more = samples + [rng.gauss(100.0, 5.0) for _ in range(300)]
    assert not straddles(more, 1000.0, "p99")
    assert not straddles(more, 1000.0, "max")  # a maximum is a fact
    with pytest.raises(NfvUsageError, match="unknown statistic"):
        straddles(samples, 1.0, "p95")


def test_stop_rule_goes_on_while_a_p99_budget_straddles() -> None:
    rng = random.Random(11)
    rule = StopRule(ci_width=0.05, max_rounds=2000, max_seconds=1e9, min_rounds=30)
    summary = repeat_until_converged(
        lambda: rng.gauss(100.0, 10.0), rule, limit=1000.0, statistic="p99", clock=lambda: 0.0
    )
    assert summary.converged
    assert summary.stop_reason == "converged"
    assert 368 <= summary.rounds <= 380  # the first length that bounds p99, at a checkpoint
    free = repeat_until_converged(lambda: rng.gauss(100.0, 10.0), rule, clock=lambda: 0.0)
    assert free.rounds == 30


def test_stop_rule_stops_at_its_cap_while_a_p99_9_interval_is_unbounded() -> None:
    rng = random.Random(5)
    rule = StopRule(ci_width=0.05, max_rounds=1000, max_seconds=1e9, min_rounds=30)
    summary = repeat_until_converged(
        lambda: rng.gauss(100.0, 10.0), rule, limit=1000.0, statistic="p99.9", clock=lambda: 0.0
    )
    assert (summary.rounds, summary.stop_reason, summary.converged) == (1000, "max_rounds", True)


def test_each_figure_of_a_round_holds_its_own_statistic() -> None:
    rng = random.Random(9)
    rule = StopRule(ci_width=0.05, max_rounds=1000, max_seconds=1e9, min_rounds=30)
    out = repeat_together(
        lambda: {"a": rng.gauss(100.0, 10.0), "b": rng.gauss(100.0, 10.0)},
        {"a": (rule, 1000.0, "p99"), "b": (rule, None)},
        clock=lambda: 0.0,
    )
    assert out["a"].rounds == out["b"].rounds >= 368
    assert out["a"].stop_reason == "converged"
    assert out["b"].stop_reason == "converged"


def test_long_series_are_tested_at_checkpoints_not_every_round() -> None:
    """Past 50 samples the convergence test runs each ~2% of growth: a converged series of
    120 samples is reported at 120 (a checkpoint) but not at 121."""
    rule = StopRule(ci_width=0.5, max_rounds=10_000, max_seconds=1e9, min_rounds=3)
    samples = [1.0, 1.1] * 60
    assert rule.decide(samples, 0.0) == "converged"
    assert rule.decide([*samples, 1.0], 0.0) is None
    assert rule.decide([*samples, 1.0, 1.1], 0.0) == "converged"


# ------------------------------------------------------------------ catalogue and budgets


def test_catalogue_declares_each_metrics_kind_once() -> None:
    round_trips = {
        (requirement, metric)
        for requirement, specs in METRICS.items()
        for metric, spec in specs.items()
        if spec.kind == "round_trip"
    }
    assert round_trips >= {
        ("monitoring", "response_time"),
        ("monitoring", "direct_response_time"),
        ("monitoring", "proxy_overhead"),
        ("coexistence", "response_time"),
    }
    # boots, deployments and memory are rounds, whatever else joins the catalogue
    for requirement, specs in METRICS.items():
        for metric, spec in specs.items():
            if spec.dimension == "memory" or "boot" in metric or requirement == "deployment":
                assert spec.kind == "round", (requirement, metric)
    assert metric_kind("instantiation", "boot_makespan") == "round"
    assert metric_kind("deployment", "boot_time") == "round"
    with pytest.raises(NfvUsageError, match="unknown requirement/metric"):
        metric_kind("monitoring", "latency")


def test_statistics_offer_the_percentiles() -> None:
    assert STATISTICS == ("mean", "median", "max", "p50", "p90", "p99", "p99.9")


def _p99_budget(limit_us: float) -> Budget:
    return Budget(
        requirement="monitoring",
        metric="response_time",
        unit="us",
        base=limit_us,
        statistic="p99",
        source="an operator's latency objective",
    )


def _round_trips(n: int, seed: int = 1) -> list[float]:
    rng = random.Random(seed)
    return [rng.lognormvariate(math.log(100e-6), 0.2) for _ in range(n)]


@pytest.mark.parametrize(
    ("limit_us", "n", "verdict"),
    [
        (1000.0, 1000, "kept"),  # p99 ~ 160 us, its interval wholly under 1 ms
        (1000.0, 200, "inconclusive"),  # too few round trips to bound a p99 from above
        (120.0, 200, "blown"),  # its lower side is already over 120 us
        (100.0, 1000, "blown"),
    ],
)
def test_a_p99_budget_is_judged_on_the_p99_interval(limit_us: float, n: int, verdict: str) -> None:
    summary = summarize(_round_trips(n), converged=True)
    judgement = assess(
        _p99_budget(limit_us),
        summary,
        requirement="monitoring",
        metric="response_time",
        dimension="time",
        backend="netns",
        size_bytes=64,
    )
    assert judgement.verdict == verdict
    assert judgement.statistic == "p99"
    assert judgement.value == pytest.approx(summary.statistic("p99"))
    assert judgement.percentiles is not None
    assert list(judgement.percentiles) == ["p50", "p90", "p99", "p99.9", "max"]
    if verdict == "inconclusive":
        assert "too few samples to bound its p99 from above" in judgement.message
    if verdict != "kept":
        assert judgement.message.startswith("monitoring/response_time on netns, packet 64 B: p99 ")
        assert "p99 95% interval" in judgement.message


def test_a_blown_p99_budget_raises_naming_the_statistic() -> None:
    with pytest.raises(BudgetExceeded, match=r"p99 1\d\d µs"):
        judge(_p99_budget(100.0), summarize(_round_trips(1000)), backend="netns")


def test_a_figure_of_rounds_keeps_no_distribution() -> None:
    judgement = assess(
        None,
        summarize([1.0, 1.1, 1.2]),
        requirement="instantiation",
        metric="boot_makespan",
        dimension="time",
        backend="netns",
    )
    assert judgement.percentiles is None


def _budget_file(tmp_path: Path, statistic: str) -> Path:
    path = tmp_path / "budgets.toml"
    path.write_text(
        "[monitoring.response_time]\n"
        'unit = "us"\n'
        "base = 500\n"
        'source = "objective"\n'
        f'statistic = "{statistic}"\n',
        encoding="utf-8",
    )
    return path


@pytest.mark.parametrize("statistic", ["p50", "p90", "p99", "p99.9"])
def test_budget_files_accept_the_percentiles(tmp_path: Path, statistic: str) -> None:
    book = load_budgets(_budget_file(tmp_path, statistic))
    budget = book.get("monitoring", "response_time")
    assert budget is not None
    assert budget.statistic == statistic


@pytest.mark.parametrize(
    ("statistic", "hint"),
    [("p95", "did you mean"), ("P99", "did you mean 'p99'"), ("99th", "expected one of")],
)
def test_a_bad_statistic_name_says_which_are_offered(
    tmp_path: Path, statistic: str, hint: str
) -> None:
    with pytest.raises(BudgetFileError) as info:
        load_budgets(_budget_file(tmp_path, statistic))
    message = str(info.value)
    assert f"monitoring.response_time.statistic: unknown statistic {statistic!r}" in message
    assert hint in message
    assert "mean, median, max, p50, p90, p99, p99.9" in message
