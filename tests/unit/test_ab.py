"""The A/B judgement on synthetic sessions with known session-to-session spread and shifts.

Each synthetic session draws its own state (a log-normal factor shared by all its rounds,
``SESSION_SD``, the spread measured between sessions of the monitoring suite here) and then
its rounds around it: the situation in which a within-run test alarms on unchanged code.
"""

from __future__ import annotations

import math
import random
from typing import Any

import pytest

from pytest_nfv.analysis.ab import (
    BELOW_FLOOR,
    INCONSISTENT,
    REGRESSION,
    AbConfig,
    judge_paired,
    judge_sessions,
)
from pytest_nfv.analysis.ab_render import format_markdown, format_text, result_json
from pytest_nfv.analysis.history import Run, run_from_json
from pytest_nfv.errors import HistoryError, NfvUsageError
from tests.synthetic_runs import HOST, benchmark, run_json

SESSION_SD = 0.1
SIZES = (64, 1400)
CENTERS = {"response_time": 110e-6, "direct_response_time": 25e-6, "proxy_overhead": 85e-6}


def _session(
    rng: random.Random,
    factors: dict[tuple[str, int], float] | None = None,
    variant: dict[tuple[str, int], float] | None = None,
    host: dict[str, Any] | None = None,
    rounds: int = 200,
    backend: str = "netns",
) -> Run:
    state = rng.lognormvariate(0, SESSION_SD)
    benches = []
    for metric, center in CENTERS.items():
        for size in SIZES:
            spec = ("monitoring", metric, "s", None, size, center, "noisy")
            scale = state * (factors or {}).get((metric, size), 1.0)
            values = [center * scale * rng.lognormvariate(0, 0.3) for _ in range(rounds)]
            benches.append(benchmark(spec, values, backend))
            if variant is not None:  # a secondary series of the same test, as the suite has
                vscale = state * variant.get((metric, size), 1.0)
                vvalues = [center * vscale * rng.lognormvariate(0, 0.3) for _ in range(rounds)]
                benches[-1]["extra_info"]["secondary"] = {
                    f"variant_{metric}": {"samples": vvalues, "unit": "s"}
                }
    return run_from_json(run_json(benches, host=host), f"s{rng.random():.6f}")


def _sides(
    seed: int, n: int, factors: dict[tuple[str, int], float] | None = None
) -> tuple[list[Run], list[Run]]:
    rng = random.Random(seed)
    a = [_session(rng) for _ in range(n)]
    b = [_session(rng, factors) for _ in range(n)]
    return a, b


def _slower(share: float, metrics: tuple[str, ...] = ("response_time",)) -> dict[Any, float]:
    return {(m, s): 1.0 + share for m in metrics for s in SIZES}


def test_same_code_rarely_alarms_when_sessions_differ() -> None:
    """A within-run test would alarm on most of these pairs; the run-level one keeps alpha."""
    alarms = sum(judge_sessions(*_sides(seed, 12), AbConfig()).failed for seed in range(100))
    assert alarms <= 4  # alpha 0.01: 1 expected; 4 of 100 is p < 0.02 under a true 1%


def test_a_twenty_percent_slowdown_is_seen_as_often_as_its_stated_power() -> None:
    """At a session spread of 0.1, twelve sessions a side state about +20% as detectable
    with 80% power; the share of comparisons that see +20% must agree."""
    factors = _slower(0.2, ("response_time", "proxy_overhead"))
    results = [judge_sessions(*_sides(seed, 12, factors), AbConfig()) for seed in range(50)]
    stated = sorted(
        f.effect.relative_detectable
        for r in results
        for f in r.families
        if f.family[2] == "response_time"
    )[25]
    assert 0.15 < stated < 0.3
    assert sum(r.failed for r in results) >= 35


def test_three_sessions_a_side_cannot_see_twenty_percent_and_say_so() -> None:
    a, b = _sides(1, 3, _slower(0.2))
    result = judge_sessions(a, b, AbConfig())
    family = next(f for f in result.families if f.family[2] == "response_time")
    assert family.effect.relative_detectable > 0.2
    assert "could have missed changes up to" in format_text(result)


def test_a_regression_of_one_size_only_is_seen_by_its_figure() -> None:
    """The family mean halves a change of one size; the figure's own test still sees it."""
    a, b = _sides(3, 12, {("response_time", 1400): 1.5})
    result = judge_sessions(a, b, AbConfig())
    family = next(f for f in result.families if f.family[2] == "response_time")
    by_size = {f.key.size: f.verdict for f in family.figures}
    assert by_size[1400] == REGRESSION
    assert family.verdict == REGRESSION


def test_sizes_that_move_apart_are_inconsistent_not_a_family_regression() -> None:
    factors = {("response_time", 64): 1.12, ("response_time", 1400): 0.97}
    config = AbConfig(alpha=0.2, floor=0.01)
    a, b = _sides(5, 40, factors)
    result = judge_sessions(a, b, config)
    family = next(f for f in result.families if f.family[2] == "response_time")
    assert not family.consistent
    assert family.verdict in (INCONSISTENT, REGRESSION)
    assert family.verdict != REGRESSION or any(f.verdict == REGRESSION for f in family.figures)


def test_a_significant_change_under_the_floor_passes_and_says_why() -> None:
    a, b = _sides(7, 60, _slower(0.08))
    result = judge_sessions(a, b, AbConfig(floor=0.5))
    family = next(f for f in result.families if f.family[2] == "response_time")
    assert family.verdict == BELOW_FLOOR
    assert not result.failed


def test_paired_sessions_see_a_small_change_the_session_spread_hides() -> None:
    """Each session times both variants: its own state cancels in its ratio."""
    rng = random.Random(11)
    runs = [_session(rng, variant=_slower(0.1)) for _ in range(5)]
    result = judge_paired(runs, AbConfig())
    assert result.form == "paired"
    family = next(f for f in result.families if f.family[2] == "response_time")
    assert family.verdict == REGRESSION
    same = [_session(rng, variant={}) for _ in range(5)]
    assert not judge_paired(same, AbConfig()).failed


def test_paired_needs_variant_series() -> None:
    rng = random.Random(2)
    with pytest.raises(HistoryError, match="--nfv-proxy-b"):
        judge_paired([_session(rng), _session(rng)], AbConfig())


def test_sessions_from_another_host_are_refused() -> None:
    rng = random.Random(4)
    other = {**HOST, "cores": 2}
    a = [_session(rng), _session(rng)]
    b = [_session(rng), _session(rng, host=other)]
    with pytest.raises(HistoryError, match="not measured alike"):
        judge_sessions(a, b, AbConfig())


def test_too_few_sessions_is_an_error_not_a_pass() -> None:
    a, b = _sides(1, 2)
    with pytest.raises(HistoryError, match="at least 2 sessions"):
        judge_sessions(a[:1], b, AbConfig())


def test_a_figure_missing_from_one_session_is_left_out_and_listed() -> None:
    a, b = _sides(8, 3)
    first = a[0]
    dropped = dict(first.records)
    key = next(k for k in dropped if k.size == 1400 and k.metric == "proxy_overhead")
    del dropped[key]
    a[0] = Run(first.source, first.label, first.datetime, first.fingerprint, dropped)
    result = judge_sessions(a, b, AbConfig())
    assert any("proxy_overhead" in line and "2 of 3" not in line for line in result.left_out)
    assert key not in {f.key for fam in result.families for f in fam.figures}


@pytest.mark.parametrize(("alpha", "floor"), [(0.0, 0.05), (1.0, 0.05), (0.01, -0.1)])
def test_bad_settings_are_usage_errors(alpha: float, floor: float) -> None:
    with pytest.raises(NfvUsageError):
        AbConfig(alpha=alpha, floor=floor)


def test_renderings_carry_every_family_and_the_evidence() -> None:
    a, b = _sides(9, 4, _slower(0.5))
    result = judge_sessions(a, b, AbConfig())
    text = format_text(result, "A: x | B: y")
    assert "4 sessions of A and 4 of B" in text
    assert "Welch t" in text
    for family in ("response_time", "proxy_overhead", "direct_response_time"):
        assert f"monitoring/{family} (netns)" in text
    assert text.splitlines()[-1].startswith(("FAIL", "PASS"))
    markdown = format_markdown(result)
    assert markdown.count("\n| ") >= 9
    data = result_json(result)
    assert data["families"][0]["figures"][0]["detectable_relative"] > 0
    assert math.isfinite(data["families"][0]["relative"])


def test_two_backends_are_compared_figure_by_figure() -> None:
    rng = random.Random(12)
    a = [_session(rng) for _ in range(6)]
    b = [_session(rng, _slower(1.0), backend="coreos") for _ in range(6)]
    result = judge_sessions(a, b, AbConfig())
    family = next(f for f in result.families if f.family[2] == "response_time")
    assert family.label() == "monitoring/response_time (netns vs coreos)"
    assert family.verdict == REGRESSION
    assert family.effect.relative == pytest.approx(1.0, abs=0.3)
