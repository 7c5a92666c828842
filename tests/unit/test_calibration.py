"""A runner's calibration from A/A sessions: the pooled spread, the tolerance bound and its
coverage, the file it lives in and the errors that name that file."""

from __future__ import annotations

import json
import math
import random
import statistics
from pathlib import Path

import pytest
import synthetic_runs as sr
from scipy import stats as scipy_stats

from pytest_nfv.analysis.calibration import (
    Calibration,
    CalibrationFile,
    calibrate,
    pooled_log_spreads,
)
from pytest_nfv.analysis.calibration_file import (
    find_calibration,
    load_calibration,
    save_calibration,
)
from pytest_nfv.analysis.history import Run, run_from_json
from pytest_nfv.analysis.runlevel import tolerance_bound
from pytest_nfv.errors import HistoryError, NfvUsageError

RT64: sr.Spec = ("monitoring", "response_time", "s", None, 64, 1e-4, "noisy")
RT1400: sr.Spec = ("monitoring", "response_time", "s", None, 1400, 2e-4, "noisy")
OVERHEAD: sr.Spec = ("monitoring", "proxy_overhead", "s", None, 64, 1e-5, "noisy")
POOLED: sr.Spec = ("instantiation", "boot_per_instance", "s", 2, None, 0.1, "steady")


def _around(median: float) -> list[float]:
    """Three samples whose median is exactly ``median``."""
    return [median * 0.9, median, median * 1.2]


def _session(
    medians: dict[sr.Spec, float], index: int, host: dict[str, object] | None = None
) -> Run:
    benchmarks = [sr.benchmark(spec, _around(m)) for spec, m in medians.items()]
    return run_from_json(sr.run_json(benchmarks, host), f"aa-{index:02d}.json")


def _sessions(medians: dict[sr.Spec, list[float]]) -> list[Run]:
    count = max(len(v) for v in medians.values())
    return [
        _session({spec: values[i] for spec, values in medians.items() if i < len(values)}, i)
        for i in range(count)
    ]


def test_the_spread_is_pooled_over_a_family_s_records_by_their_degrees_of_freedom() -> None:
    small = [1.0e-4, 1.1e-4, 0.9e-4, 1.05e-4]
    large = [2.0e-4, 2.4e-4, 2.2e-4]  # one session fewer: one degree of freedom fewer
    spreads, left_out = pooled_log_spreads(_sessions({RT64: small, RT1400: large}))
    var_small = statistics.variance([math.log(v) for v in small])
    var_large = statistics.variance([math.log(v) for v in large])
    variance, df, sessions, records = spreads[("netns", "monitoring", "response_time")]
    assert df == 3 + 2
    assert variance == pytest.approx((3 * var_small + 2 * var_large) / 5)
    assert (sessions, records) == (4, 2)
    assert left_out == {}


def test_a_family_not_positive_in_every_session_is_left_out_with_its_reason() -> None:
    runs = _sessions({RT64: [1e-4, 1.1e-4, 0.9e-4], OVERHEAD: [2e-6, -1e-6, 3e-6]})
    calibration = calibrate(runs, arguments="x", created="2026-12-07T10:00:00+00:00")
    assert ("netns", "monitoring", "response_time") in calibration.families
    reason = calibration.left_out[("netns", "monitoring", "proxy_overhead")]
    assert "not positive in every session" in reason


def test_series_with_several_samples_per_round_are_left_out() -> None:
    runs = _sessions({RT64: [1e-4, 1.1e-4, 0.9e-4], POOLED: [0.1, 0.11, 0.09]})
    calibration = calibrate(runs)
    assert (
        "several samples per round"
        in calibration.left_out[("netns", "instantiation", "boot_per_instance")]
    )


def test_the_threshold_is_a_tolerance_bound_of_one_session_against_one() -> None:
    medians = [1e-4 * math.exp(x) for x in (0.0, 0.1, -0.05, 0.2, -0.1)]
    calibration = calibrate(_sessions({RT64: medians}), coverage=0.99, confidence=0.9)
    family = calibration.families[("netns", "monitoring", "response_time")]
    sd = statistics.stdev([math.log(m) for m in medians])
    assert family.sd == pytest.approx(sd)
    assert family.df == 4
    assert family.threshold == pytest.approx(tolerance_bound(sd, 4, 0.99, 0.9, math.sqrt(2)))
    # wider than the plain 99% quantile of a pair with this sd: few sessions cost width
    assert family.threshold > scipy_stats.norm.ppf(0.99) * math.sqrt(2) * sd


def test_the_bound_covers_the_true_quantile_with_its_stated_confidence() -> None:
    """Seeded: 20 A/A sessions a calibration, 1000 calibrations. The threshold must lie above
    the true 0.999 quantile of a same-code pair's log ratio in about 95% of them; the largest
    movement seen among those sessions would fall below it in most."""
    true_sd = 0.1
    quantile = scipy_stats.norm.ppf(0.999) * math.sqrt(2) * true_sd
    covered = largest_covered = 0
    seeds = 1000
    for seed in range(seeds):
        rng = random.Random(seed)
        medians = [1e-4 * math.exp(rng.gauss(0, true_sd)) for _ in range(20)]
        family = calibrate(_sessions({RT64: medians})).families[
            ("netns", "monitoring", "response_time")
        ]
        covered += family.threshold > quantile
        logs = [math.log(m) for m in medians]
        largest_covered += max(logs) - min(logs) > quantile
    assert 0.93 <= covered / seeds <= 0.97
    assert largest_covered / seeds < 0.5


def test_the_predicted_share_flagged_matches_simulated_pairs() -> None:
    runs = _sessions({RT64: [1e-4 * math.exp(x) for x in (0.0, 0.1, -0.1, 0.05, -0.05, 0.02)]})
    family = calibrate(runs).families[("netns", "monitoring", "response_time")]
    rng = random.Random(1)
    for ratio in (1.2, 1.5, 2.0):
        pairs = [
            math.log(ratio) + rng.gauss(0, family.sd) - rng.gauss(0, family.sd)
            for _ in range(20000)
        ]
        share = sum(x > family.threshold for x in pairs) / len(pairs)
        assert share == pytest.approx(family.flagged_share(ratio), abs=0.015)
    assert family.flagged_share(math.exp(family.detectable())) == pytest.approx(0.8)


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"kernel": "5.10.0-old"}, r"aa-02\.json and aa-00\.json were not measured alike"),
        ({"cores": 2}, r"cores: 2 vs 8"),
    ],
)
def test_sessions_of_another_runner_are_refused(change: dict[str, object], problem: str) -> None:
    runs = _sessions({RT64: [1e-4, 1.1e-4, 0.9e-4]})
    runs[2] = _session({RT64: 1e-4}, 2, {**sr.HOST, **change})
    with pytest.raises(HistoryError, match=problem):
        calibrate(runs)


def test_too_few_sessions_an_injected_slowdown_or_no_fingerprint_are_refused() -> None:
    with pytest.raises(HistoryError, match="at least 3 A/A sessions, got 2"):
        calibrate(_sessions({RT64: [1e-4, 1.1e-4]}))
    injected = sr.run_json([sr.benchmark(RT64, _around(1e-4))])
    injected["machine_info"]["nfv"]["injected"] = {"NFV_PROXY_HOLD_US": "40"}
    runs = [*_sessions({RT64: [1e-4, 1.1e-4]}), run_from_json(injected, "held.json")]
    with pytest.raises(HistoryError, match=r"held\.json: ran with a slowdown injected"):
        calibrate(runs)
    bare = sr.run_json([sr.benchmark(RT64, _around(1e-4))])
    del bare["machine_info"]["nfv"]
    runs = [run_from_json(bare, "bare.json"), *_sessions({RT64: [1e-4, 1.1e-4]})]
    with pytest.raises(HistoryError, match=r"bare\.json: no host fingerprint"):
        calibrate(runs)
    with pytest.raises(NfvUsageError, match=r"coverage 1\.5"):
        calibrate(_sessions({RT64: [1e-4, 1.1e-4, 0.9e-4]}), coverage=1.5)


def _calibration(kernel: str = "6.1.0-test", arguments: str = "a") -> Calibration:
    host = {**sr.HOST, "kernel": kernel}
    runs = [_session({RT64: 1e-4 * (1 + i / 20)}, i, host) for i in range(4)]
    return calibrate(runs, arguments=arguments, created="2026-12-07T10:00:00+00:00")


def test_the_file_round_trips_and_keeps_one_calibration_per_runner_and_arguments(
    tmp_path: Path,
) -> None:
    path = tmp_path / "cal.json"
    first = _calibration()
    saved = save_calibration(path, first)
    assert load_calibration(path) == saved
    (entry,) = saved.entries
    assert entry == Calibration(
        first.fingerprint,
        "a",
        first.created,
        4,
        first.coverage,
        first.confidence,
        first.families,
        first.left_out,
        first.sources,
    )
    save_calibration(path, _calibration())  # the same runner and arguments: replaced
    save_calibration(path, _calibration(arguments="b"))  # other arguments: beside it
    save_calibration(path, _calibration(kernel="6.9.0-other"))  # another runner: beside it
    entries = load_calibration(path).entries
    assert [(e.fingerprint.kernel, e.arguments) for e in entries] == [
        ("6.1.0-test", "a"),
        ("6.1.0-test", "b"),
        ("6.9.0-other", "a"),
    ]
    data = json.loads(path.read_text(encoding="utf-8"))
    assert (data["format"], data["version"]) == ("pytest-nfv-calibration", 1)
    assert not list(tmp_path.glob(".cal.json.*"))  # no temporary file left behind


def test_a_symlink_is_never_written_through(tmp_path: Path) -> None:
    target = tmp_path / "elsewhere.json"
    target.write_text("keep", encoding="utf-8")
    link = tmp_path / "cal.json"
    link.symlink_to(target)
    with pytest.raises(NfvUsageError, match=r"cal\.json: a symlink or not a regular file"):
        save_calibration(link, _calibration())
    assert target.read_text(encoding="utf-8") == "keep"


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ('{"format": "pytest-nfv-calibration", "version": 1, "calib', r"not valid JSON \(line 1"),
        ('{"benchmarks": []}', "not a pytest-nfv calibration file"),
        (
            '{"format": "pytest-nfv-calibration", "version": 99, "calibrations": []}',
            "calibration format version 99; this pytest-nfv reads version 1",
        ),
        (
            '{"format": "pytest-nfv-calibration", "version": 1, "calibrations": [{}]}',
            r"calibrations\[0\]: fingerprint is missing",
        ),
    ],
)
def test_a_corrupt_or_unknown_file_is_an_error_naming_it(
    tmp_path: Path, text: str, problem: str
) -> None:
    path = tmp_path / "cal.json"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(HistoryError, match=problem) as caught:
        load_calibration(path)
    assert str(path) in str(caught.value)
    with pytest.raises(HistoryError, match=problem):  # never overwritten: it may be wanted
        save_calibration(path, _calibration())
    assert path.read_text(encoding="utf-8") == text


def test_the_default_file_is_optional_a_named_one_is_not(tmp_path: Path) -> None:
    absent = find_calibration(None, tmp_path)
    assert absent == CalibrationFile(str(tmp_path / "nfv-calibration.json"), exists=False)
    assert absent.select(None).note == f"no calibration file at {absent.path}"
    with pytest.raises(HistoryError, match=r"gone\.json: no such calibration file"):
        find_calibration(tmp_path / "gone.json", tmp_path)


def test_a_calibration_is_used_only_for_the_runner_it_was_measured_on(tmp_path: Path) -> None:
    path = tmp_path / "cal.json"
    here = save_calibration(path, _calibration())
    fingerprint = _calibration().fingerprint
    assert here.select(fingerprint, fingerprint).used == here.entries
    elsewhere = _calibration(kernel="6.9.0-other").fingerprint
    thresholds = here.select(fingerprint, elsewhere)
    assert thresholds.used == ()
    assert thresholds.note.startswith(f"no calibration for this host fingerprint ({path} has 1:")
    assert "kernel: 6.9.0-other vs 6.1.0-test" in thresholds.note
    assert "carries no host fingerprint" in here.select(fingerprint, None).note
