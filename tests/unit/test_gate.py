"""The regression gate on synthetic histories with known noise and known shifts."""

from __future__ import annotations

import math
import random
import statistics

import pytest
import synthetic_runs as sr
from scipy import stats as scipy_stats

from pytest_nfv.analysis.gate import (
    BELOW_FLOOR,
    IMPROVED,
    NOISE,
    REGRESSION,
    compare_runs,
)
from pytest_nfv.analysis.gate_config import Floor, GateConfig
from pytest_nfv.analysis.gate_render import format_markdown, format_text, summary
from pytest_nfv.analysis.gate_stats import (
    between_runs_p,
    bh_adjust,
    hodges_lehmann,
    pooled_spreads,
    smallest_p,
)
from pytest_nfv.analysis.history import RecordKey, Run, run_from_json
from pytest_nfv.errors import HistoryError

BOOT: sr.Spec = ("instantiation", "boot_makespan", "s", 16, None, 0.12, "steady")
WITHIN = GateConfig(single_baseline={})
"""The within-run test with the ordinary floors only: its own mechanics, not the default."""
PSS: sr.Spec = ("instantiation", "memory_pss", "MiB", 16, None, 2.6, "quiet")
RT: sr.Spec = ("monitoring", "response_time", "s", None, 1024, 1.4e-4, "noisy")


def _run(
    benchmarks: list[dict[str, object]], name: str, host: dict[str, object] | None = None
) -> Run:
    return run_from_json(sr.run_json(benchmarks, host), name)


def _pair(
    spec: sr.Spec, base: list[float], cur: list[float], config: GateConfig | None = None
) -> tuple[str, float]:
    result = compare_runs(
        _run([sr.benchmark(spec, base)], "base"),
        _run([sr.benchmark(spec, cur)], "cur"),
        config or GateConfig(),
    )
    (c,) = result.comparisons
    return c.verdict, c.relative


def test_bh_adjust_matches_the_step_up_rule() -> None:
    p = [0.01, 0.04, 0.03, 0.005]
    # sorted: 0.005 (x4/1=0.02), 0.01 (x4/2=0.02), 0.03 (x4/3=0.04), 0.04 (x4/4=0.04)
    assert bh_adjust(p) == pytest.approx([0.02, 0.04, 0.04, 0.02])
    assert bh_adjust([0.9, 0.95]) == pytest.approx([0.95, 0.95])
    assert bh_adjust([]) == []


def test_hodges_lehmann_is_the_median_pairwise_difference() -> None:
    assert hodges_lehmann([3.0, 4.0], [1.0, 2.0]) == pytest.approx(2.0)
    assert hodges_lehmann([1.0, 2.0, 100.0], [1.0, 2.0, 3.0]) == pytest.approx(0.0)


def test_smallest_p_is_the_exact_u_test_limit() -> None:
    assert smallest_p(5, 5, two_sided=False) == pytest.approx(1 / 252)
    assert smallest_p(5, 5, two_sided=True) == pytest.approx(2 / 252)
    assert smallest_p(1, 30, two_sided=False) == 1.0
    exact = scipy_stats.mannwhitneyu([10, 11, 12, 13, 14], [1, 2, 3, 4, 5], alternative="greater")
    assert exact.pvalue == pytest.approx(1 / 252)


def _false_alarms(seeds: range) -> tuple[int, int]:
    """Runs with any alarm among pure-noise pairs: at the default alpha, and at 0.001."""
    at_default = strict = 0
    for seed in seeds:
        base = run_from_json(sr.make_run(2 * seed), "base")
        cur = run_from_json(sr.make_run(2 * seed + 1), "cur")
        result = compare_runs(base, cur, GateConfig())
        at_default += bool(result.regressions)
        strict += any(c.q <= 0.001 for c in result.regressions)
    return at_default, strict


def test_pure_noise_over_many_seeds_keeps_the_false_alarm_rate_of_a_whole_run() -> None:
    """300 pairs of whole runs (37 records each: boot, memory, PSS, response times) drawn from
    the same distributions. BH keeps P(any alarm in a run) <= alpha; the floors add margin."""
    seeds = range(300)
    at_default, strict = _false_alarms(seeds)
    assert at_default <= 0.01 * len(seeds), f"{at_default} false-alarm runs of {len(seeds)}"
    assert strict == 0, f"alpha=0.001: {strict} false-alarm runs of {len(seeds)}"


def test_detects_a_ten_percent_shift_with_the_suites_round_count() -> None:
    """Boot makespan 10% slower at every N, CV ~9%, 30 rounds (the default cap), among a whole
    run of unchanged records: found in nearly every seed, and nothing else is flagged."""
    found = 0
    for seed in range(60):
        base = run_from_json(sr.make_run(5000 + 2 * seed, count=30), "base")
        slower = {("instantiation", "boot_makespan"): 1.10}
        cur = run_from_json(sr.make_run(5001 + 2 * seed, factor=slower, count=30), "cur")
        result = compare_runs(base, cur, WITHIN)
        flagged = {c.key.metric for c in result.regressions}
        assert flagged <= {"boot_makespan"}, flagged
        found += "boot_makespan" in flagged
    assert found >= 57, f"detected in {found} of 60 seeds"


def test_a_single_shifted_record_is_found_and_its_size_reported() -> None:
    rng = random.Random(7)
    base = sr.samples(rng, 0.12, "steady", 30)
    cur = [v * 1.10 for v in sr.samples(rng, 0.12, "steady", 30)]
    verdict, relative = _pair(BOOT, base, cur, WITHIN)
    assert verdict == REGRESSION
    assert relative == pytest.approx(0.10, abs=0.05)
    assert _pair(BOOT, base, cur)[0] == BELOW_FLOOR  # one baseline: under the run-to-run floor


def test_faster_is_not_a_regression_and_two_sided_calls_it_an_improvement() -> None:
    rng = random.Random(3)
    base = sr.samples(rng, 0.12, "steady", 30)
    cur = [v * 0.8 for v in sr.samples(rng, 0.12, "steady", 30)]
    assert _pair(BOOT, base, cur)[0] == NOISE
    assert _pair(BOOT, base, cur, GateConfig(two_sided=True, single_baseline={}))[0] == IMPROVED


def test_a_higher_is_better_metric_regresses_downwards() -> None:
    spec: sr.Spec = ("monitoring", "throughput", "s", None, None, 1.0, "steady")
    rng = random.Random(4)
    base = sr.samples(rng, 1.0, "steady", 30)
    lower = [v * 0.8 for v in sr.samples(rng, 1.0, "steady", 30)]
    config = GateConfig(higher_is_better=frozenset({"throughput"}), single_baseline={})
    assert _pair(spec, base, lower, config)[0] == REGRESSION
    higher = [v * 1.25 for v in sr.samples(rng, 1.0, "steady", 30)]
    assert _pair(spec, base, higher, config)[0] == NOISE


def test_a_significant_change_under_the_floor_passes_and_says_so() -> None:
    rng = random.Random(5)
    base = sr.samples(rng, 2.6, "quiet", 30)
    cur = [v * 1.03 for v in sr.samples(rng, 2.6, "quiet", 30)]  # 3%: clear, but < 5% floor
    assert _pair(PSS, base, cur, GateConfig(floors={"memory": Floor(0.05)}))[0] == BELOW_FLOOR
    assert _pair(PSS, base, cur, GateConfig(floors={"memory": Floor(0.01)}))[0] == REGRESSION


def test_the_absolute_floor_guards_figures_near_zero() -> None:
    spec: sr.Spec = ("instantiation", "memory", "MiB", 1, None, 0.0, "spiky")
    base = [0.0, 0.01, 0.0, -0.01] * 8
    cur = [0.3, 0.31, 0.29, 0.3] * 8  # +0.3 MiB: "infinitely" more, but under 1 MiB
    verdict, relative = _pair(spec, base, cur)
    assert verdict == BELOW_FLOOR
    assert math.isinf(relative)


def test_too_few_samples_are_marked_low_n_not_silently_passed() -> None:
    base, cur = [0.10, 0.11, 0.12], [0.5, 0.51, 0.52]
    result = compare_runs(
        _run([sr.benchmark(BOOT, base)], "base"),
        _run([sr.benchmark(BOOT, cur)], "cur"),
        GateConfig(),
    )
    (c,) = result.comparisons
    assert c.low_n
    assert c.verdict == NOISE
    assert "(low n)" in format_text(result)
    assert "too few samples" in summary(result)


def test_identical_constant_samples_are_no_change() -> None:
    assert _pair(PSS, [8.5] * 5, [8.5] * 5)[0] == NOISE


def test_different_hosts_are_refused_or_marked() -> None:
    other = {**sr.HOST, "cores": 2, "cpu_model": "Other CPU"}
    base = _run([sr.benchmark(BOOT, [0.1] * 10)], "base.json")
    cur = _run([sr.benchmark(BOOT, [0.1] * 10)], "cur.json", other)
    with pytest.raises(HistoryError, match=r"different hosts.*cpu_model.*cores.*--hosts mark"):
        compare_runs(base, cur, GateConfig())
    result = compare_runs(base, cur, GateConfig(hosts="mark"))
    assert any("cores: 2 vs 8" in d for d in result.host_differences)
    assert "DIFFERENT HOSTS" in format_text(result)


def test_runs_timed_with_different_requests_are_refused_or_marked() -> None:
    """ICMP echo answered by B's kernel and UDP to B's responder are different work: a run of
    one is no baseline for the other. Runs saved before ``echo`` was recorded timed UDP."""
    base = _run([sr.benchmark(RT, [1.4e-4] * 10)], "base.json")  # no echo: UDP
    icmp = sr.run_json([sr.benchmark(RT, [0.9e-4] * 10)])
    icmp["machine_info"]["nfv"]["echo"] = "icmp"
    cur = run_from_json(icmp, "cur.json")
    with pytest.raises(HistoryError, match=r"\(echo\): icmp vs udp.*--hosts mark"):
        compare_runs(base, cur, GateConfig())
    result = compare_runs(base, cur, GateConfig(hosts="mark"))
    assert result.host_differences == ("response-time requests (echo): icmp vs udp",)
    udp = sr.run_json([sr.benchmark(RT, [1.4e-4] * 10)])
    udp["machine_info"]["nfv"]["echo"] = "udp"
    assert not compare_runs(base, run_from_json(udp, "udp.json"), GateConfig()).host_differences


def test_memory_a_little_different_is_the_same_host() -> None:
    near = {**sr.HOST, "memory_gib": sr.HOST["memory_gib"] + 0.3}  # type: ignore[operator]
    base = _run([sr.benchmark(BOOT, [0.1] * 10)], "base")
    cur = _run([sr.benchmark(BOOT, [0.1] * 10)], "cur", near)
    assert compare_runs(base, cur, GateConfig()).host_differences == ()


def test_runs_with_nothing_in_common_are_an_error_not_a_pass() -> None:
    base = _run([sr.benchmark(BOOT, [0.1] * 10)], "base.json")
    cur = _run([sr.benchmark(PSS, [2.0] * 10)], "cur.json")
    with pytest.raises(HistoryError, match=r"cur\.json shares no benchmark with base\.json"):
        compare_runs(base, cur, GateConfig())


def test_missing_and_new_records_are_counted() -> None:
    rng = random.Random(1)
    base = _run(
        [sr.benchmark(BOOT, sr.samples(rng, 0.1, "steady", 10)), sr.benchmark(PSS, [2.0] * 5)],
        "base",
    )
    cur = _run([sr.benchmark(BOOT, sr.samples(rng, 0.1, "steady", 10))], "cur")
    result = compare_runs(base, cur, GateConfig())
    assert [k.metric for k in result.missing] == ["memory_pss"]
    assert "1 only in baseline" in summary(result)


def test_tables_name_every_flagged_row() -> None:
    base = run_from_json(sr.make_run(11, count=30), "base.json")
    cur = run_from_json(
        sr.make_run(12, factor={("deployment", "boot_time"): 1.5}, count=30), "cur.json"
    )
    result = compare_runs(base, cur, WITHIN)
    text = format_text(result)
    assert text.splitlines()[0].endswith("cur.json against baseline base.json")
    row = next(line for line in text.splitlines() if line.startswith(REGRESSION))
    assert "deployment/boot_time" in row
    assert "netns" in row
    assert text.splitlines()[-1].startswith(
        "FAIL: 1 regression(s), 36 compared, 1 not gated (pooled or repeated reads)"
    )  # deployment/memory: the proxy's PSS read again each round
    markdown = format_markdown(result)
    assert markdown.count("\n| ") == 2 + 36  # header, rule, and every compared row
    assert "**FAIL**" in markdown


def _quiet_run(center: float, seed: int, name: str) -> Run:
    rng = random.Random(seed)
    return _run([sr.benchmark(BOOT, sr.samples(rng, center, "quiet", 30))], name)


def test_with_history_the_run_is_the_unit() -> None:
    """Each run is tight (CV 1.5%), but runs of the same code sit at 0.095-0.12 s: an 18%
    change is significant within two runs, yet inside where the next run would land."""
    baseline = _quiet_run(0.100, 1, "base")
    history = [_quiet_run(0.120, 2, "h1"), _quiet_run(0.095, 3, "h2")]
    drifted = _quiet_run(0.118, 4, "cur")
    alone = compare_runs(baseline, drifted, WITHIN)
    assert alone.comparisons[0].verdict == REGRESSION
    with_history = compare_runs(baseline, drifted, GateConfig(), history)
    (c,) = with_history.comparisons
    assert c.verdict == NOISE
    assert c.low_n is False
    assert "the medians of the baseline and 2 earlier run(s)" in format_text(with_history)
    much_slower = _quiet_run(0.300, 5, "cur")
    assert compare_runs(baseline, much_slower, GateConfig(), history).regressions


def test_between_runs_p_is_a_prediction_test() -> None:
    earlier = [1.0, 1.1, 0.9, 1.0]
    # On logs: t = (log 1.3 - mean) / (sd * sqrt(1 + 1/4)), 3 degrees of freedom
    logs = [math.log(e) for e in earlier]
    t = (math.log(1.3) - statistics.fmean(logs)) / (statistics.stdev(logs) * math.sqrt(1.25))
    assert between_runs_p(1.3, earlier, 1.0) == pytest.approx(scipy_stats.t.sf(t, 3))
    # Figures at or below zero (a memory delta) stay on the linear scale.
    shifted = [e - 1.0 for e in earlier]
    t = 0.3 / (statistics.stdev(shifted) * math.sqrt(1.25))
    assert between_runs_p(0.3, shifted, 1.0) == pytest.approx(scipy_stats.t.sf(t, 3))
    assert between_runs_p(-0.3, shifted, -1.0) == pytest.approx(scipy_stats.t.sf(t, 3))
    assert between_runs_p(1.3, [1.0], 1.0) == 1.0
    assert between_runs_p(1.3, [1.0, 1.0], 1.0) == 0.0
    assert between_runs_p(1.0, [1.0, 1.0], 1.0) == 1.0


#: A run's worth of per-round series: response times by size, boot makespan by N, deployment.
RUN_SPECS: list[sr.Spec] = [
    *[("monitoring", "response_time", "s", None, z, 130e-6, "x") for z in (64, 1024, 65507)],
    *[("monitoring", "direct_response_time", "s", None, z, 60e-6, "x") for z in (64, 1024)],
    *[("instantiation", "boot_makespan", "s", n, None, 0.008 * n + 0.002, "x") for n in (1, 8)],
    *[("instantiation", "boot_makespan", "s", n, None, 0.008 * n + 0.002, "x") for n in (64,)],
    ("deployment", "boot_time", "s", None, None, 0.08, "x"),
    ("deployment", "reconfigure_time", "s", None, None, 250e-6, "x"),
]


def _varying_run(
    rng: random.Random, name: str, run_sd: float, slower: float = 1.0, rounds: int = 20
) -> Run:
    """One run where each record sits off its center by a run effect (lognormal, ``run_sd``)
    and rounds vary by 9% around that: most of the variance is between runs, as on a host."""
    benchmarks = []
    for spec in RUN_SPECS:
        scale = slower if spec[1] == "response_time" else 1.0
        level = spec[5] * scale * rng.lognormvariate(0, run_sd)
        values = [level * rng.lognormvariate(0, 0.09) for _ in range(rounds)]
        benchmarks.append(sr.benchmark(spec, values))
    return _run(benchmarks, name)


def _alarms(seeds: range, run_sd: float, slower: float, history: int) -> tuple[int, int]:
    """Runs with any alarm, and runs where a slowed record was flagged."""
    any_alarm = found = 0
    for seed in seeds:
        rng = random.Random(seed)
        baseline = _varying_run(rng, "base", run_sd)
        earlier = [_varying_run(rng, f"h{i}", run_sd) for i in range(history)]
        current = _varying_run(rng, "cur", run_sd, slower)
        result = compare_runs(baseline, current, GateConfig(), earlier)
        flagged = {c.key for c in result.regressions}
        any_alarm += bool(flagged)
        found += any(k.metric == "response_time" for k in flagged)
    return any_alarm, found


def test_run_to_run_variance_raises_no_more_false_alarms_than_alpha() -> None:
    """Unchanged code, runs 8% apart (CV between runs), 9% within: with 4 earlier runs the
    gate alarms in at most alpha of whole comparisons; the within-run test alone cries wolf."""
    seeds = range(300)
    alarms, _ = _alarms(seeds, run_sd=0.08, slower=1.0, history=3)
    assert alarms <= 0.01 * len(seeds), f"{alarms} false-alarm runs of {len(seeds)}"
    within = 0
    for seed in range(40):
        rng = random.Random(seed)
        base, cur = _varying_run(rng, "base", 0.08), _varying_run(rng, "cur", 0.08)
        within += bool(compare_runs(base, cur, WITHIN).regressions)
    assert within >= 20, f"the within-run test alarmed in only {within} of 40"


def test_a_twenty_percent_shift_is_found_across_runs() -> None:
    """Response times 20% slower at every size, runs 4% apart, the baseline and 8 earlier
    runs: the gate fails on them in 86 of 100 seeds (70 with each record's own run-to-run
    spread alone; a test that knew the spread exactly would reach about 82% per record).
    Power grows with the number of earlier runs kept and shrinks with their spread: see
    docs/statistics.md."""
    seeds = range(100)
    _, found = _alarms(seeds, run_sd=0.04, slower=1.20, history=8)
    assert found >= 80, f"found in {found} of {len(seeds)}"


def test_a_metric_s_records_share_their_run_to_run_spread() -> None:
    """Pooled over a metric's records: the variance of log medians, weighted by degrees of
    freedom; records of other metrics, and non-positive ones, stay apart."""
    keys = [RecordKey("monitoring", "response_time", "netns", None, z, "t") for z in (64, 1024)]
    other = RecordKey("instantiation", "boot_makespan", "netns", 1, None, "t")
    zero = RecordKey("monitoring", "proxy_overhead", "netns", None, 64, "t")
    centers = {
        keys[0]: [1.0, 1.1, 0.9],
        keys[1]: [2.0, 2.4],
        other: [0.1, 0.2],
        zero: [0.0, 1e-6],
    }
    pooled = pooled_spreads(centers)
    own = [statistics.variance([math.log(v) for v in centers[k]]) for k in keys]
    assert pooled[("netns", "monitoring", "response_time")] == pytest.approx(
        ((own[0] * 2 + own[1] * 1) / 3, 3)
    )
    assert set(pooled) == {
        ("netns", "monitoring", "response_time"),
        ("netns", "instantiation", "boot_makespan"),
    }
    # A record's own spread is shrunk towards its family's others, never replaced by them.
    tight = between_runs_p(1.15, centers[keys[0]], 1.0)
    family = pooled[("netns", "monitoring", "response_time")]
    assert between_runs_p(1.15, centers[keys[0]], 1.0, family) != tight


def test_series_with_several_samples_per_round_are_not_gated() -> None:
    pooled: sr.Spec = ("instantiation", "boot_per_instance", "s", 16, None, 0.1, "steady")
    base = _run([sr.benchmark(BOOT, [0.1] * 10), sr.benchmark(pooled, [0.1] * 160)], "b")
    cur = _run([sr.benchmark(BOOT, [0.1] * 10), sr.benchmark(pooled, [0.5] * 160)], "c")
    result = compare_runs(base, cur, GateConfig())
    assert [c.key.metric for c in result.comparisons] == ["boot_makespan"]
    assert [k.metric for k in result.not_gated] == ["boot_per_instance"]
    assert "1 not gated (pooled or repeated reads)" in summary(result)
    only_pooled = _run([sr.benchmark(pooled, [0.1] * 160)], "p")
    with pytest.raises(HistoryError, match="nothing was compared"):
        compare_runs(only_pooled, only_pooled, GateConfig())


def test_one_baseline_without_calibration_says_its_floors_are_coarse_shipped_ones() -> None:
    base, cur = _quiet_run(0.1, 1, "base"), _quiet_run(0.1, 2, "cur")
    text = format_text(compare_runs(base, cur, GateConfig()))
    assert "shipped coarse floors: no calibration given. One baseline: Mann-Whitney U" in text
    assert "monitoring.response_time 40%" in text
    assert "time 65%: set above the largest same-code movement seen" in text
    assert "not this runner's spread; run pytest-nfv calibrate on this runner" in text
    assert "run-to-run spread of unchanged code" not in text  # the old, untrue claim


def test_one_baseline_floor_is_the_most_specific_measured_one() -> None:
    """The monitoring figures have their own measured spread; other times keep the general."""
    config = GateConfig()
    response = RecordKey("monitoring", "response_time", "netns", None, 64, "t")
    boot = RecordKey("instantiation", "boot_makespan", "netns", 1, None, "t")
    coexisting = RecordKey("coexistence", "response_time", "netns", 8, 64, "t")
    assert config.single_baseline_for(response, "s") == Floor(0.4, 10e-6)
    assert config.single_baseline_for(boot, "s") == Floor(0.65, 10e-6)
    assert config.single_baseline_for(coexisting, "s") == Floor(0.65, 10e-6)
    assert config.single_baseline_for(boot, "MiB") is None


def test_history_from_another_host_is_refused() -> None:
    other = {**sr.HOST, "kernel": "5.10.0-old"}
    baseline = _quiet_run(0.1, 1, "base")
    rng = random.Random(2)
    elsewhere = _run([sr.benchmark(BOOT, sr.samples(rng, 0.1, "quiet", 30))], "old.json", other)
    with pytest.raises(HistoryError, match=r"old\.json: kernel: 6\.1\.0-test vs 5\.10\.0-old"):
        compare_runs(baseline, _quiet_run(0.1, 3, "cur"), GateConfig(), [elsewhere])
