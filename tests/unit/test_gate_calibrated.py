"""The one-baseline gate with this runner's calibration, and what every verdict could have
seen: the thresholds it says it used, per record and in one summary line."""

from __future__ import annotations

import math
import random
from dataclasses import replace
from pathlib import Path

import pytest
import synthetic_runs as sr
from scipy import stats as scipy_stats

from pytest_nfv.analysis import runlevel
from pytest_nfv.analysis.calibration import (
    CalibrationFile,
    calibrate,
)
from pytest_nfv.analysis.calibration_file import load_calibration, save_calibration
from pytest_nfv.analysis.gate import (
    CALIBRATED,
    HISTORY,
    NOISE,
    REGRESSION,
    WITHIN_RUN,
    compare_runs,
    detectable_level,
)
from pytest_nfv.analysis.gate_config import GateConfig, load_gate_config
from pytest_nfv.analysis.gate_render import format_markdown, format_text, missed_line
from pytest_nfv.analysis.history import Run, run_from_json

RT: sr.Spec = ("monitoring", "response_time", "s", None, 64, 1e-4, "noisy")
BOOT: sr.Spec = ("instantiation", "boot_makespan", "s", 1, None, 0.01, "steady")
TRUE_SD = 0.05
"""Run-to-run spread of a session's log median in the synthetic A/A sessions."""


def _run(medians: dict[sr.Spec, float], name: str, kernel: str = "6.1.0-test") -> Run:
    """A run whose records have these medians (29 samples each, median exactly that)."""
    rng = random.Random(name)
    benchmarks = []
    for spec, median in medians.items():
        below = [median * math.exp(-abs(rng.gauss(0, 0.3))) for _ in range(14)]
        above = [median * math.exp(abs(rng.gauss(0, 0.3))) for _ in range(14)]
        benchmarks.append(sr.benchmark(spec, [*below, median, *above]))
    return run_from_json(sr.run_json(benchmarks, {**sr.HOST, "kernel": kernel}), name)


@pytest.fixture(scope="module")
def calibration_file(tmp_path_factory: pytest.TempPathFactory) -> CalibrationFile:
    """20 A/A sessions of the response time alone, on the synthetic host."""
    rng = random.Random(7)
    sessions = [
        _run({RT: 1e-4 * math.exp(rng.gauss(0, TRUE_SD))}, f"aa-{i:02d}.json") for i in range(20)
    ]
    path = tmp_path_factory.mktemp("cal") / "nfv-calibration.json"
    calibration = calibrate(sessions, arguments="suites", created="2026-12-07T09:00:00+00:00")
    return save_calibration(path, calibration)


def _config(calibration: CalibrationFile | None) -> GateConfig:
    return GateConfig(calibration=calibration)


def test_a_matching_runner_is_judged_by_its_calibrated_threshold(
    calibration_file: CalibrationFile,
) -> None:
    (family,) = calibration_file.entries[0].families.values()
    base = _run({RT: 1e-4}, "base")
    just_under = math.exp(family.threshold) * 0.99
    just_over = math.exp(family.threshold) * 1.01
    for ratio, verdict in ((just_under, NOISE), (just_over, REGRESSION)):
        result = compare_runs(base, _run({RT: 1e-4 * ratio}, "cur"), _config(calibration_file))
        (c,) = result.comparisons
        assert (c.basis, c.verdict) == (CALIBRATED, verdict)
        effect = runlevel.calibrated(
            1e-4 * ratio, 1e-4, sd=family.sd, df=family.df, alpha=0.001, worse_sign=1.0
        )
        assert c.p == pytest.approx(effect.p)
    # far beyond what 65% (the shipped floor) would let through, the threshold is finer
    assert math.exp(family.threshold) < 1.4


def test_the_header_says_which_thresholds_were_used(
    calibration_file: CalibrationFile,
) -> None:
    base, cur = _run({RT: 1e-4}, "base"), _run({RT: 1.05e-4}, "cur")
    text = format_text(compare_runs(base, cur, _config(calibration_file)))
    assert (
        f"thresholds: calibrated on this runner ({calibration_file.path}, 20 A/A sessions, "
        "2026-12-07, suites): a record regresses when its log ratio of medians" in text
    )
    assert "keeps 99.9% of same-code pairs under it with 95% confidence" in text
    assert "  netns monitoring/response_time: flags beyond +" in text
    assert "shipped coarse floors" not in text


def test_another_runner_falls_back_to_the_shipped_floors_and_says_why(
    calibration_file: CalibrationFile,
) -> None:
    base = _run({RT: 1e-4}, "base", kernel="6.9.0-other")
    cur = _run({RT: 1.3e-4}, "cur", kernel="6.9.0-other")
    result = compare_runs(base, cur, _config(calibration_file))
    (c,) = result.comparisons
    assert c.basis == WITHIN_RUN
    text = format_text(result)
    assert (
        f"shipped coarse floors: no calibration for this host fingerprint "
        f"({calibration_file.path} has 1: Synthetic CPU 3.6 GHz, 8 cores, 31.2 GiB, kernel "
        "6.1.0-test: kernel: 6.9.0-other vs 6.1.0-test)" in text
    )
    assert "thresholds: calibrated" not in text


def test_without_a_calibration_file_the_floors_say_where_it_was_looked_for(
    tmp_path: Path,
) -> None:
    absent = CalibrationFile(str(tmp_path / "nfv-calibration.json"), exists=False)
    base, cur = _run({RT: 1e-4}, "base"), _run({RT: 1e-4}, "cur")
    text = format_text(compare_runs(base, cur, _config(absent)))
    assert f"shipped coarse floors: no calibration file at {absent.path}. One baseline" in text


def test_a_family_the_calibration_lacks_keeps_the_floors_row_by_row(
    calibration_file: CalibrationFile,
) -> None:
    base = _run({RT: 1e-4, BOOT: 0.01}, "base")
    cur = _run({RT: 1e-4, BOOT: 0.01}, "cur")
    result = compare_runs(base, cur, _config(calibration_file))
    assert {c.key.metric: c.basis for c in result.comparisons} == {
        "response_time": CALIBRATED,
        "boot_makespan": WITHIN_RUN,
    }
    text = format_text(result)
    assert "thresholds: calibrated on this runner" in text
    assert (
        "shipped coarse floors for 1 record(s): netns instantiation/boot_makespan: not in "
        "this runner's calibration. One baseline: Mann-Whitney U" in text
    )


def test_history_keeps_its_prediction_test_even_with_a_calibration(
    calibration_file: CalibrationFile,
) -> None:
    runs = [_run({RT: 1e-4 * (1 + i / 50)}, f"r{i}") for i in range(4)]
    result = compare_runs(runs[0], runs[1], _config(calibration_file), runs[2:])
    assert [c.basis for c in result.comparisons] == [HISTORY]
    assert "thresholds: calibrated" not in format_text(result)


def test_every_row_states_the_effect_it_could_have_detected(
    calibration_file: CalibrationFile,
) -> None:
    (family,) = calibration_file.entries[0].families.values()
    base, cur = _run({RT: 1e-4}, "base"), _run({RT: 1.02e-4}, "cur")
    result = compare_runs(base, cur, _config(calibration_file))
    (c,) = result.comparisons
    c_effect = runlevel.calibrated(1.02e-4, 1e-4, sd=family.sd, df=family.df, alpha=0.001)
    z = scipy_stats.norm.ppf(0.8)
    expected = math.exp(family.threshold + z * math.sqrt(2) * family.sd) - 1
    assert c.detectable == pytest.approx(expected)
    text = format_text(result, everything=True)
    header = next(line for line in text.splitlines() if line.startswith("verdict"))
    assert header.split()[-2:] == ["p", "detectable"]
    row = next(line for line in text.splitlines() if line.startswith("ok"))
    assert row.rstrip().endswith(f"{expected:+.0%}")
    low, high = (math.exp(x) - 1 for x in (c_effect.low, c_effect.high))
    assert f"(+2 µs; 95% {low:+.0%}..{high:+.0%})" in row
    assert missed_line(result) == (
        f"could have missed: effects up to {expected:+.0%} (median over 1 record(s); "
        f"largest {expected:+.0%})"
    )
    lines = text.splitlines()
    assert lines[-2] == missed_line(result)
    assert lines[-1].startswith("PASS: ")
    share_12 = scipy_stats.norm.cdf((math.log(1.2) - family.threshold) / (math.sqrt(2) * family.sd))
    assert f"x1.2 {share_12:.0%}, x1.5 " in text
    assert missed_line(result) in format_markdown(result)


def test_one_uncalibrated_baseline_says_its_detectable_effect_is_unknown() -> None:
    base, cur = _run({RT: 1e-4}, "base"), _run({RT: 1e-4}, "cur")
    result = compare_runs(base, cur, GateConfig())
    (c,) = result.comparisons
    assert c.detectable is None
    assert "unknown (floor +40%)" in format_text(result, everything=True)
    assert missed_line(result) == (
        "could have missed: unknown for 1 record(s): no run-to-run spread (run pytest-nfv "
        "calibrate); their floors flag no change under +40%"
    )


def test_with_history_the_detectable_effect_is_the_prediction_test_s_at_alpha_over_m() -> None:
    rng = random.Random(3)
    medians = [1e-4 * math.exp(rng.gauss(0, 0.1)) for _ in range(8)]
    runs = [_run({RT: m, BOOT: 0.01 * m / 1e-4}, f"r{i}") for i, m in enumerate(medians)]
    config = GateConfig(floors={"*": replace(GateConfig().floors["*"], relative=0.0)})
    result = compare_runs(runs[0], runs[1], config, runs[2:])
    level = detectable_level(config, 2)
    assert level == pytest.approx(0.01 / 2)
    rt = next(c for c in result.comparisons if c.key.metric == "response_time")
    centers = [medians[0], *medians[2:]]
    effect = runlevel.prediction(medians[1], centers, alpha=level, worse_sign=1.0)
    assert rt.detectable == pytest.approx(math.exp(effect.detectable) - 1)
    assert "alpha/m = 0.01/2 = 0.005, the level Benjamini-Hochberg asks" in format_text(result)


def test_the_settings_file_names_a_calibration_beside_it(tmp_path: Path) -> None:
    settings = tmp_path / "gate.toml"
    settings.write_text('calibration = "cal/runner.json"\n', encoding="utf-8")
    assert load_gate_config(settings).calibration_path == tmp_path / "cal" / "runner.json"
    settings.write_text("calibration = 3\n", encoding="utf-8")
    with pytest.raises(Exception, match=r"calibration must be a file name, not 3"):
        load_gate_config(settings)


def test_the_calibrated_file_reads_back_as_written(calibration_file: CalibrationFile) -> None:
    assert load_calibration(Path(calibration_file.path)) == calibration_file
