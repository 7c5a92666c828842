"""Several figures from one round: each stops by its own rule, the rounds by the last of them."""

from __future__ import annotations

import itertools

import pytest

from pytest_nfv.errors import ProbeError
from pytest_nfv.harness.stats import StopRule
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
