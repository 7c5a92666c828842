"""Round-trip figures take hundreds of samples under their own caps, keep their distribution,
and may be held to a percentile budget; figures of expensive rounds keep the old caps."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

SUITES = Path(__file__).resolve().parents[2] / "suites"

KINDS_TEST = """
import random

import pytest


@pytest.mark.nfv_requirement("coexistence")
def test_round_trips(nfv_repeat) -> None:
    rng = random.Random(1)
    # a 5% interval of a 100 us mean with 40 us of spread needs about 250 round trips
    trips = nfv_repeat(lambda: rng.gauss(100e-6, 40e-6), "response_time", n=1, size=64)
    print(f"TRIPS={trips.rounds} {trips.stop_reason} {trips.converged}")


@pytest.mark.nfv_requirement("instantiation")
def test_boots(nfv_repeat) -> None:
    rng = random.Random(2)
    boots = nfv_repeat(lambda: rng.gauss(1.0, 0.4), "boot_makespan", n=1)
    print(f"BOOTS={boots.rounds} {boots.stop_reason} {boots.converged}")
"""


def _printed(result: pytest.RunResult, key: str) -> list[str]:
    line = next(line for line in result.outlines if f"{key}=" in line)
    return line.split(f"{key}=", 1)[1].split()[:3]


def test_round_trips_take_hundreds_and_boots_keep_their_caps(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_kinds=KINDS_TEST)
    result = pytester.runpytest_subprocess("-s", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)
    rounds, reason, converged = _printed(result, "TRIPS")
    assert 200 <= int(rounds) <= 1000
    assert (reason, converged) == ("converged", "True")
    assert _printed(result, "BOOTS") == ["30", "max_rounds", "False"]
    result.stdout.fnmatch_lines(["*round trips: at least 30, at most 1000 / 3 s per figure*"])


def test_round_trip_caps_come_from_their_options_and_ini(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_kinds=KINDS_TEST)
    pytester.makeini("[pytest]\nnfv_max_round_trips = 120\nnfv_max_round_trip_seconds = 60\n")
    result = pytester.runpytest_subprocess("-s", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)
    assert _printed(result, "TRIPS") == ["120", "max_rounds", "False"]
    result = pytester.runpytest_subprocess(
        "-s", "-p", "no:cacheprovider", "--nfv-max-round-trips", "80", "--nfv-max-rounds", "5"
    )
    result.assert_outcomes(passed=2)
    assert _printed(result, "TRIPS") == ["80", "max_rounds", "False"]
    assert _printed(result, "BOOTS")[:2] == ["5", "max_rounds"]


def test_a_bad_round_trip_ini_value_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nnfv_max_round_trip_seconds = soon\n")
    result = pytester.runpytest_inprocess()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*nfv_max_round_trip_seconds*'soon' is not a number of seconds*"])


PAIRS_TEST = """
import random

import pytest

from pytest_nfv import Series

pytestmark = pytest.mark.nfv_requirement("monitoring")


def test_pairs(nfv_repeat, nfv_record) -> None:
    rng = random.Random(3)

    def pair():
        proxied = rng.lognormvariate(-9.1, 0.25)
        plain = rng.lognormvariate(-10.5, 0.3)
        return {"response_time": proxied, "direct_response_time": plain,
                "proxy_overhead": proxied - plain}

    out = nfv_repeat.together(pair, {m: (m, None) for m in
                                     ("response_time", "direct_response_time", "proxy_overhead")})
    nfv_record.record(
        Series("response_time", out["response_time"], primary=True),
        Series("direct_response_time", out["direct_response_time"]),
        Series("proxy_overhead", out["proxy_overhead"]),
        size=64,
    )
"""

P99_BUDGETS = """
[monitoring.response_time]
unit = "us"
base = 1000
statistic = "p99"
source = "objective: 99% of round trips within 1 ms"

[monitoring.proxy_overhead]
unit = "us"
base = 50
statistic = "p90"
source = "tight on purpose"
"""


def test_percentile_budgets_judge_on_their_interval_and_records_keep_the_distribution(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(test_pairs=PAIRS_TEST)
    budgets = pytester.path / "budgets.toml"
    budgets.write_text(P99_BUDGETS, encoding="utf-8")
    out = pytester.path / "run.json"
    result = pytester.runpytest_subprocess(
        "-p", "no:cacheprovider", "--nfv-budgets", str(budgets), f"--benchmark-json={out}"
    )
    result.assert_outcomes(failed=1)  # the p90 of what the proxy adds is over 50 us
    result.stdout.fnmatch_lines(
        [
            "*response_time*p99 1*µs (mean*kept*p50/p90/p99/p99.9/max */*/*/*/* µs n=*",
            "*proxy_overhead*p90 *µs (mean*blown*",
            "*blown: monitoring/proxy_overhead on netns, packet 64 B: p90 * µs (mean *; "
            "p90 95% interval * µs .. * µs) > budget 50 µs*",
        ]
    )
    (bench,) = json.loads(out.read_text(encoding="utf-8"))["benchmarks"]
    info = bench["extra_info"]
    # a p99 budget keeps the rounds going until the p99 is bounded above (368 samples)
    assert info["rounds"] >= 368
    assert info["budget"]["statistic"] == "p99"
    assert info["verdict"] == "kept"
    for fields in (info, *info["secondary"].values()):
        table = fields["percentiles"]
        assert list(table) == ["n", "p50", "p90", "p99", "p99.9", "max"]
        assert table["n"] == info["rounds"] == len(fields["samples"])
        assert table["p50"] <= table["p90"] <= table["p99"] <= table["p99.9"] <= table["max"]
        assert isinstance(fields["converged"], bool)
    assert info["secondary"]["proxy_overhead"]["verdict"] == "blown"


@pytest.mark.skipif(os.geteuid() != 0, reason="the netns backend needs root")
def test_the_monitoring_suite_holds_each_figure_to_its_own_rule(
    pytester: pytest.Pytester,
) -> None:
    """The shipped suite on netns, one packet size, with a p90 budget: all three figures take
    the same rounds, each records its own convergence, and the p90 is judged. (A p99 needs
    368 pairs to be bounded above, more than a pair's path switches allow in the default
    seconds on a busy host; the fake pairs above show that case.)"""
    pytester.makepyfile(test_monitoring=(SUITES / "test_monitoring.py").read_text("utf-8"))
    budgets = pytester.path / "budgets.toml"
    budgets.write_text(
        '[monitoring.response_time]\nunit = "ms"\nbase = 100\nstatistic = "p90"\n'
        'source = "generous on purpose"\n',
        encoding="utf-8",
    )
    out = pytester.path / "run.json"
    result = pytester.runpytest_subprocess(
        "-p",
        "no:cacheprovider",
        "--backend=netns",
        "--nfv-packet-sizes=64",
        "--nfv-budgets",
        str(budgets),
        f"--benchmark-json={out}",
        "--deselect=test_monitoring.py::test_throughput",  # its own tests: tests/integration
    )
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*response_time*64B*p90 *kept*p50/p90/p99/p99.9/max*n=*"])
    (bench,) = json.loads(out.read_text(encoding="utf-8"))["benchmarks"]
    info = bench["extra_info"]
    assert info["budget"]["statistic"] == "p90"
    assert info["verdict"] == "kept"
    assert info["rounds"] >= 36  # the p90's interval needs that many to be bounded above
    secondary = info["secondary"]
    assert set(secondary) >= {"direct_response_time", "proxy_overhead"}
    for fields in (info, secondary["direct_response_time"], secondary["proxy_overhead"]):
        assert len(fields["samples"]) == info["rounds"]
        assert fields["percentiles"]["n"] == info["rounds"]
        assert isinstance(fields["converged"], bool)
        assert fields["stop_reason"] in ("converged", "max_rounds", "max_seconds")
