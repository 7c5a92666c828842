"""``--nfv-compare=REF``: the gate at the end of a real run, on the real netns backend.

One real run records a baseline; edited copies of it then stand for a much faster past (the
run must fail as a regression), a much slower one (it must pass) and another host (refused).
"""

from __future__ import annotations

import json
import os
from typing import Any

import pytest
import synthetic_runs as sr
from test_plugin import BOOT_TEST

USAGE_ERROR = int(pytest.ExitCode.USAGE_ERROR)
RUN_ARGS = (
    "--nfv-instances",
    "1,2",
    "--nfv-packet-sizes",
    "64",
    "--nfv-max-rounds",
    "5",
    "--nfv-ci-width",
    "0.001",  # every figure takes all 5 rounds: 5 against 5 can reach p = 1/252
    "--nfv-max-seconds",
    "5",
    "-p",
    "no:cacheprovider",
)


def test_missing_baseline_is_a_usage_error_before_anything_runs(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile("def test_never() -> None:\n    raise AssertionError('ran')\n")
    result = pytester.runpytest_inprocess("--nfv-compare", "gone.json")
    assert result.ret == USAGE_ERROR
    result.stderr.fnmatch_lines(["*--nfv-compare: gone.json: no such file*"])


def test_corrupt_baseline_is_a_usage_error_naming_it(pytester: pytest.Pytester) -> None:
    pytester.makepyfile("def test_never() -> None:\n    raise AssertionError('ran')\n")
    bad = pytester.path / "0001_bad.json"
    bad.write_text('{"benchmarks": [', encoding="utf-8")
    result = pytester.runpytest_inprocess("--nfv-compare", str(bad))
    assert result.ret == USAGE_ERROR
    result.stderr.fnmatch_lines([f"*--nfv-compare: {bad}: not valid JSON (line 1, column 17*"])


def test_a_corrupt_calibration_is_a_usage_error_before_anything_runs(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile("def test_never() -> None:\n    raise AssertionError('ran')\n")
    baseline = pytester.path / "baseline.json"
    baseline.write_text(json.dumps(sr.make_run(1, count=5)), encoding="utf-8")
    (pytester.path / "cal.json").write_text("{", encoding="utf-8")
    settings = pytester.path / "gate.toml"
    settings.write_text('calibration = "cal.json"\n', encoding="utf-8")
    result = pytester.runpytest_inprocess(
        "--nfv-compare", str(baseline), "--nfv-gate", str(settings)
    )
    assert result.ret == USAGE_ERROR
    result.stderr.fnmatch_lines([f"*--nfv-compare: {pytester.path}/cal.json: not valid JSON*"])


def test_bad_gate_settings_are_a_usage_error(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest_inprocess("--nfv-gate", "absent.toml")
    assert result.ret == USAGE_ERROR
    assert "--nfv-gate" in result.stderr.str()


GENEROUS = (
    '[instantiation.boot_makespan]\nunit = "s"\nbase = 60\nsource = "generous"\n'
    '[instantiation.boot_per_instance]\nunit = "s"\nbase = 60\nsource = "generous"\n'
)


def _run(pytester: pytest.Pytester, *extra: str) -> Any:
    """The boot test on the real backend; budgets out of the way (this is about the gate)."""
    budgets = pytester.path / "generous.toml"
    budgets.write_text(GENEROUS, encoding="utf-8")
    return pytester.runpytest_subprocess(
        *RUN_ARGS, "--nfv-budgets", str(budgets), *extra, timeout=120
    )


def _scaled(data: dict[str, Any], factor: float) -> dict[str, Any]:
    copy = json.loads(json.dumps(data))
    for bench in copy["benchmarks"]:
        info = bench["extra_info"]
        info["samples"] = [s * factor for s in info["samples"]]
        for series in info.get("secondary", {}).values():
            series["samples"] = [s * factor for s in series["samples"]]
    return copy


@pytest.fixture
def recorded(pytester: pytest.Pytester) -> dict[str, Any]:
    if os.geteuid() != 0:
        pytest.skip("a real netns run needs root")
    pytester.makepyfile(test_boot=BOOT_TEST)
    out = pytester.path / "first.json"
    result = _run(pytester, f"--benchmark-json={out}")
    result.assert_outcomes(passed=2)
    data: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))
    return data


def _gate_run(pytester: pytest.Pytester, baseline: dict[str, Any], *extra: str) -> Any:
    path = pytester.path / "baseline.json"
    path.write_text(json.dumps(baseline), encoding="utf-8")
    return _run(pytester, "--nfv-compare", str(path), *extra)


def test_a_run_much_slower_than_its_baseline_fails_with_the_table(
    pytester: pytest.Pytester, recorded: dict[str, Any]
) -> None:
    result = _gate_run(pytester, _scaled(recorded, 1e-3))
    assert result.ret == int(pytest.ExitCode.TESTS_FAILED)
    result.assert_outcomes(passed=2)  # the tests passed; the gate failed the session
    result.stdout.fnmatch_lines(
        [
            "*= nfv regression gate =*",
            "pytest-nfv compare: this run against baseline *baseline.json",
            "verdict *benchmark *backend *baseline *current *change *floor *p *detectable*",
        ]
    )
    # The makespans (one per round) regress, and so do the per-instance times of N=1 (one
    # instance: one per round too); those of N=2 (two per round, pooled) are not gated.
    lines = result.stdout.lines
    regressions = "\n".join(line for line in lines if line.startswith("REGRESSION"))
    for label in ("boot_makespan N=1", "boot_makespan N=2", "boot_per_instance N=1"):
        assert f"instantiation/{label} " in regressions
    assert "boot_per_instance N=2" not in regressions
    result.stdout.fnmatch_lines(["FAIL: 3 regression(s), 3 compared, 1 not gated*"])


def test_a_run_faster_than_its_baseline_passes(
    pytester: pytest.Pytester, recorded: dict[str, Any]
) -> None:
    result = _gate_run(pytester, _scaled(recorded, 1e3))
    assert result.ret == int(pytest.ExitCode.OK)
    result.stdout.fnmatch_lines(
        ["*= nfv regression gate =*", "PASS: 0 regression(s), 3 compared, 1 not gated*"]
    )


def test_another_host_is_refused_unless_marked(
    pytester: pytest.Pytester, recorded: dict[str, Any]
) -> None:
    other = _scaled(recorded, 1e3)
    other["machine_info"]["nfv"]["host"]["cpu_model"] = "Some Other CPU"
    result = _gate_run(pytester, other)
    assert result.ret == int(pytest.ExitCode.TESTS_FAILED)
    result.stdout.fnmatch_lines(
        ["nfv gate: cannot compare: *different hosts or methods (cpu_model: *"]
    )
    settings = pytester.path / "gate.toml"
    settings.write_text('hosts = "mark"\n', encoding="utf-8")
    result = _gate_run(pytester, other, "--nfv-gate", str(settings))
    assert result.ret == int(pytest.ExitCode.OK)
    result.stdout.fnmatch_lines(["DIFFERENT HOSTS*cpu_model*Some Other CPU*", "PASS: *"])


def test_the_runner_s_calibration_judges_a_one_baseline_run(
    pytester: pytest.Pytester, recorded: dict[str, Any]
) -> None:
    """A calibration of this host (three A/A copies of the recorded run) found beside the
    saved runs: the gate says it used it, flags the 1000x slower run, and states what each
    row could have detected."""
    from pytest_nfv.analysis.calibration import calibrate
    from pytest_nfv.analysis.calibration_file import save_calibration
    from pytest_nfv.analysis.history import run_from_json

    sessions = [run_from_json(_scaled(recorded, f), f"aa{f}") for f in (1.0, 1.02, 0.98)]
    storage = pytester.path / "storage"
    save_calibration(storage / "nfv-calibration.json", calibrate(sessions))
    result = _gate_run(pytester, _scaled(recorded, 1e-3), f"--benchmark-storage=file://{storage}")
    assert result.ret == int(pytest.ExitCode.TESTS_FAILED)
    result.stdout.fnmatch_lines(
        [
            "*= nfv regression gate =*",
            f"thresholds: calibrated on this runner ({storage}/nfv-calibration.json, 3 A/A "
            "sessions, *",
            "  netns instantiation/boot_makespan: flags beyond +*",
            "could have missed: effects up to +*",
            "FAIL: *regression(s)*",
        ]
    )
