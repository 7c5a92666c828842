"""The host canary in the regression gate: a slower host is told apart from slower code."""

from __future__ import annotations

import random
from typing import Any

import synthetic_runs as sr

from pytest_nfv.analysis.gate import (
    HOST_DRIFT,
    NOISE,
    REGRESSION,
    compare_runs,
)
from pytest_nfv.analysis.gate_canary import canary_drift
from pytest_nfv.analysis.gate_config import GateConfig
from pytest_nfv.analysis.gate_render import format_text
from pytest_nfv.analysis.history import Run, run_from_json
from pytest_nfv.cli.compare import EXIT_HOST_DRIFT
from pytest_nfv.cli.main import main

RESPONSE: sr.Spec = ("monitoring", "response_time", "s", None, 64, 100e-6, "x")
MEMORY: sr.Spec = ("instantiation", "memory_kernel", "MiB", 8, None, 3.0, "x")


def _canary(rng: random.Random, cpu: float, path: float) -> dict[str, Any]:
    return {
        "cpu_loop": {"unit": "s", "samples": [cpu * rng.uniform(0.98, 1.02) for _ in range(15)]},
        "direct_path": {"unit": "s", "samples": [path * rng.uniform(0.9, 1.1) for _ in range(40)]},
    }


def _data(seed: int, response: float, cpu: float = 5e-3, path: float = 60e-6) -> dict[str, Any]:
    """A run: response time around ``response``, memory steady, canaries around their centers."""
    rng = random.Random(seed)
    data = sr.run_json(
        [
            sr.benchmark(RESPONSE, [response * rng.uniform(0.97, 1.03) for _ in range(20)]),
            sr.benchmark(MEMORY, [3.0 + rng.uniform(-0.01, 0.01) for _ in range(5)]),
        ]
    )
    data["machine_info"]["nfv"]["canary"] = _canary(rng, cpu, path)
    return data


def _run(seed: int, response: float, **canary: float) -> Run:
    return run_from_json(_data(seed, response, **canary), f"run{seed}")


def test_a_quiet_host_shows_no_drift_and_the_verdicts_stand() -> None:
    result = compare_runs(_run(1, 100e-6), _run(2, 300e-6), GateConfig())
    assert [d.name for d in result.drift] == ["cpu_loop", "direct_path"]
    assert not result.host_slower
    assert [c.verdict for c in result.regressions] == [REGRESSION]
    assert "host canary: cpu_loop" in format_text(result)
    assert "no drift beyond their floors" in format_text(result)


def test_worse_only_as_far_as_the_slower_host_explains_is_host_drift() -> None:
    """The host runs its CPU canary 2.2x slower and its kernel path 5x, the response time is
    2x slower: labelled host drift (not passed, not the code's regression), and memory is not
    touched by it. The host is taken to be slower by the lesser of the two, 2.2x."""
    result = compare_runs(_run(1, 100e-6), _run(2, 200e-6, cpu=11e-3, path=300e-6), GateConfig())
    assert [d.name for d in result.host_slower] == ["cpu_loop", "direct_path"]
    assert result.host_slowdown is not None
    assert 2.1 < result.host_slowdown < 2.3
    assert [c.verdict for c in result.comparisons if c.key.metric == "response_time"] == [
        HOST_DRIFT
    ]
    assert not result.regressions
    assert result.failed
    text = format_text(result)
    assert "HOST DRIFT" in text
    assert "1 worse as far as host drift explains" in text
    assert text.splitlines()[-1].startswith("FAIL: 0 regression(s)")


def test_worse_beyond_what_the_host_explains_stays_a_regression() -> None:
    """Canaries 2x and 5x slower, response time 4x: the code regressed on a slower host."""
    result = compare_runs(_run(1, 100e-6), _run(2, 400e-6, cpu=10e-3, path=300e-6), GateConfig())
    assert [d.name for d in result.host_slower] == ["cpu_loop", "direct_path"]
    assert [c.verdict for c in result.regressions] == [REGRESSION]
    assert not result.host_drift


def test_one_canary_slower_alone_explains_nothing() -> None:
    """The CPU loop caught a slow moment (2.2x) but the kernel path ran as before: that is no
    host drift, and a response time 2x slower stays the code's regression. (On the reference
    host the loop swings between two speeds for seconds at a time; letting it alone excuse
    every record let a real slowdown through as the host's fault.)"""
    result = compare_runs(_run(1, 100e-6), _run(2, 200e-6, cpu=11e-3), GateConfig())
    assert [d.name for d in result.host_slower] == ["cpu_loop"]
    assert result.host_slowdown is None
    assert [c.verdict for c in result.regressions] == [REGRESSION]
    assert not result.host_drift
    text = format_text(result)
    assert "not host drift: every canary must slow beyond its floor, and direct_path did not" in (
        text
    )
    assert "not host drift: only some canaries slowed (cpu_loop x2.2" in text


def test_a_canary_within_its_floor_is_not_drift() -> None:
    baseline, current = _run(1, 100e-6), _run(2, 100e-6, cpu=5.5e-3)
    cpu = canary_drift(baseline, current, GateConfig())[0]
    assert cpu.name == "cpu_loop"
    assert cpu.p < 0.01  # significant, but 10% is inside the floor
    assert 1.05 < cpu.ratio < 1.15
    assert not cpu.slower
    assert canary_drift(baseline, current, GateConfig(canary_floor=0.05))[0].slower


def test_with_history_the_canary_is_judged_across_runs() -> None:
    """Earlier runs whose canaries spread widely make a 2x slower canary ordinary."""
    baseline = _run(1, 100e-6)
    history = [_run(3, 100e-6, cpu=10.5e-3), _run(4, 100e-6, cpu=2.5e-3)]
    current = _run(2, 100e-6, cpu=10e-3)
    cpu = next(
        d for d in canary_drift(baseline, current, GateConfig(), history) if d.name == "cpu_loop"
    )
    assert cpu.runs == 3
    assert not cpu.slower
    assert next(
        d for d in canary_drift(baseline, current, GateConfig()) if d.name == "cpu_loop"
    ).slower


def test_a_run_without_canary_says_so() -> None:
    plain = sr.run_json([sr.benchmark(RESPONSE, [100e-6] * 10)])
    result = compare_runs(run_from_json(plain, "old"), _run(2, 100e-6), GateConfig())
    assert result.drift == ()
    assert "host canary: none in old: a slower host cannot be told" in format_text(result)
    assert {c.verdict for c in result.comparisons} == {NOISE}


def test_an_injected_slowdown_is_named_in_the_output() -> None:
    data = _data(2, 100e-6)
    data["machine_info"]["nfv"]["injected"] = {"NFV_PROXY_HOLD_US": "30"}
    result = compare_runs(_run(1, 100e-6), run_from_json(data, "slowed"), GateConfig())
    assert "slowed ran with a slowdown injected on purpose (NFV_PROXY_HOLD_US=30)" in format_text(
        result
    )


def test_compare_exits_3_on_host_drift_alone(tmp_path: Any, capsys: Any) -> None:
    import json

    base, cur = tmp_path / "a.json", tmp_path / "b.json"
    base.write_text(json.dumps(_data(1, 100e-6)))
    cur.write_text(json.dumps(_data(2, 200e-6, cpu=11e-3, path=300e-6)))
    assert main(["compare", str(base), str(cur)]) == EXIT_HOST_DRIFT == 3
    assert "host drift" in capsys.readouterr().out
    cur.write_text(json.dumps(_data(2, 400e-6, cpu=6.5e-3)))
    assert main(["compare", str(base), str(cur)]) == 1
