"""Run-level tests: their intervals cover, their alpha holds, their detectable effect is found
with the stated power, and a tolerance bound covers what it says, by seeded simulation."""

from __future__ import annotations

import math
import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pytest_nfv.analysis.runlevel import (
    calibrated,
    detectable_shift,
    paired,
    prediction,
    tolerance_bound,
    welch,
)
from pytest_nfv.errors import HistoryError


def _draw(rng: random.Random, n: int, shift: float = 0.0, sd: float = 0.1) -> list[float]:
    return [100.0 * math.exp(rng.gauss(shift, sd)) for _ in range(n)]


def test_welch_interval_covers_the_true_ratio() -> None:
    rng = random.Random(1)
    covered = 0
    for _ in range(400):
        e = welch(_draw(rng, 8), _draw(rng, 8, 0.2), alpha=0.01)
        covered += e.low <= 0.2 <= e.high
    assert 0.92 * 400 <= covered <= 0.98 * 400


def test_welch_false_alarms_stay_at_alpha() -> None:
    rng = random.Random(2)
    alarms = sum(welch(_draw(rng, 6), _draw(rng, 6), alpha=0.05).p <= 0.05 for _ in range(1000))
    assert 25 <= alarms <= 75


def test_the_detectable_effect_is_found_with_about_eighty_percent_power() -> None:
    rng = random.Random(3)
    shift = detectable_shift(0.1, 22, math.sqrt(2 / 12), 0.01)  # at the true spread
    found = sum(
        welch(_draw(rng, 12), _draw(rng, 12, shift), alpha=0.01).p <= 0.01 for _ in range(400)
    )
    assert 0.72 * 400 <= found <= 0.88 * 400
    stated = welch(_draw(rng, 12), _draw(rng, 12), alpha=0.01)
    assert stated.detectable == pytest.approx(shift, rel=0.5)  # from the estimated spread


def test_paired_sees_what_each_session_shares() -> None:
    rng = random.Random(4)
    states = [rng.gauss(0, 0.3) for _ in range(5)]  # sessions far apart
    a = [100 * math.exp(s + rng.gauss(0, 0.01)) for s in states]
    b = [100 * math.exp(s + 0.05 + rng.gauss(0, 0.01)) for s in states]
    assert paired(a, b, alpha=0.01).p < 0.001
    assert welch(a, b, alpha=0.01).p > 0.05  # the unpaired test cannot see it


def test_prediction_flags_a_run_outside_its_history() -> None:
    history = [100.0, 104.0, 97.0, 101.0, 99.0]
    assert prediction(130.0, history, alpha=0.01).p < 0.01
    assert prediction(101.0, history, alpha=0.01).p > 0.3


def test_tolerance_bound_covers_its_share_with_its_confidence() -> None:
    """From 20 A/A sessions, the bound lies above the true 0.999 quantile of a pair's
    difference in at least ~95% of calibrations."""
    rng = random.Random(5)
    true_quantile = 3.090232 * 0.1 * math.sqrt(2)
    above = 0
    for _ in range(500):
        sessions = [rng.gauss(0, 0.1) for _ in range(20)]
        mean = sum(sessions) / 20
        sd = math.sqrt(sum((x - mean) ** 2 for x in sessions) / 19)
        above += tolerance_bound(sd, 19, 0.999, scale=math.sqrt(2)) >= true_quantile
    assert above >= 0.93 * 500


def test_calibrated_one_baseline_uses_the_given_spread() -> None:
    e = calibrated(120.0, 100.0, sd=0.05, df=19, alpha=0.01)
    assert e.relative == pytest.approx(0.2)
    assert e.p < 0.01
    assert calibrated(120.0, 100.0, sd=0.3, df=19, alpha=0.01).p > 0.1


@given(
    st.lists(st.floats(-50, 50, allow_nan=False), min_size=2, max_size=10),
    st.lists(st.floats(-50, 50, allow_nan=False), min_size=2, max_size=10),
)
def test_figures_at_or_below_zero_are_compared_on_their_own_scale(
    a: list[float], b: list[float]
) -> None:
    if all(v > 0 for v in a + b):
        a = [*a, -1.0]
    e = welch(a, b, alpha=0.05)
    assert not e.log_scale
    assert e.low <= e.estimate <= e.high
    assert 0.0 <= e.p <= 1.0


def test_too_few_or_non_finite_figures_are_errors() -> None:
    with pytest.raises(HistoryError):
        welch([1.0], [1.0, 2.0], alpha=0.01)
    with pytest.raises(HistoryError):
        paired([1.0, 2.0], [1.0], alpha=0.01)
    with pytest.raises(HistoryError):
        welch([1.0, math.inf], [1.0, 2.0], alpha=0.01)
    with pytest.raises(HistoryError):
        prediction(1.0, [1.0], alpha=0.01)
