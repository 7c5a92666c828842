"""Several figures from one round: each stops by its own rule, the rounds by the last of them."""

from __future__ import annotations

import itertools

import pytest

from pytest_nfv.errors import ProbeError
from pytest_nfv.harness.repeat import StopRule
from pytest_nfv.harness.together import repeat_together

RULE = StopRule(ci_width=0.05, max_rounds=10, max_seconds=1e9)


def _ticks() -> itertools.count[int]:
    return itertools.count()


def test_rounds_go_on_until_every_figure_may_stop() -> None:
    steady = iter([1.0] * 20)
    noisy = iter([1.0, 3.0, 1.0, 3.0, 2.0, 2.0, 2.0, 2.0, 2.0, 2.0, 2.0, 2.0])
    clock = _ticks()
    out = repeat_together(
        lambda: {"steady": next(steady), "noisy": next(noisy)},
        {"steady": (RULE, None), "noisy": (RULE, None)},
        clock=lambda: float(next(clock)),
    )
    assert out["steady"].rounds == out["noisy"].rounds > 3  # the steady one waited
    assert out["steady"].converged
    assert out["steady"].stop_reason == "converged"


def test_the_cap_stops_a_figure_that_never_converges_and_says_so() -> None:
    values = itertools.cycle([1.0, 5.0])
    out = repeat_together(
        lambda: {"a": 1.0, "b": next(values)},
        {"a": (RULE, None), "b": (RULE, None)},
        clock=lambda: 0.0,
    )
    assert out["b"].rounds == RULE.max_rounds
    assert (out["b"].converged, out["b"].stop_reason) == (False, "max_rounds")
    assert out["a"].converged


def test_a_figure_whose_interval_holds_its_limit_keeps_the_rounds_going() -> None:
    values = itertools.cycle([0.98, 1.02])
    out = repeat_together(
        lambda: {"a": next(values)}, {"a": (StopRule(0.05, 6, 1e9), 1.0)}, clock=lambda: 0.0
    )
    assert out["a"].rounds == 6
    assert out["a"].stop_reason == "max_rounds"


def test_a_round_that_leaves_a_figure_out_is_an_error() -> None:
    with pytest.raises(ProbeError, match="'b'"):
        repeat_together(lambda: {"a": 1.0}, {"a": (RULE, None), "b": (RULE, None)})


def test_a_round_may_give_a_block_and_the_caps_count_samples() -> None:
    rounds = 0

    def block_of_four() -> dict[str, list[float]]:
        nonlocal rounds
        rounds += 1
        return {"a": [1.0, 5.0, 1.0, 5.0], "b": [2.0, 2.0, 2.0, 2.0]}

    out = repeat_together(block_of_four, {"a": (RULE, None), "b": (RULE, None)}, clock=lambda: 0.0)
    assert rounds == 3  # 12 samples: the first block count at or past max_rounds (10)
    assert out["a"].rounds == out["b"].rounds == 12
    assert (out["a"].converged, out["a"].stop_reason) == (False, "max_rounds")
    assert out["b"].converged


def test_an_empty_block_is_an_error() -> None:
    with pytest.raises(ProbeError, match="empty block of 'a'"):
        repeat_together(lambda: {"a": []}, {"a": (RULE, None)})


def test_a_block_that_jumps_over_a_checkpoint_still_has_its_interval_tested() -> None:
    # Past 50 samples the interval is tested about every 2% of growth (at 151 samples, every
    # third); a block of 2 ending at 151 passed the checkpoint at 150 without ending on one.
    rule = StopRule(ci_width=0.05, max_rounds=1000, max_seconds=1e9)
    samples = [1.0] * 151
    assert rule.decide(samples, 0.0, added=1) is None  # 151 is no checkpoint
    assert rule.decide(samples, 0.0, added=2) == "converged"
