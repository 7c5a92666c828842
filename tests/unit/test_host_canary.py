"""The host canary's timing, and the proxy's held-frame slowdown: their logic and checks."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from pytest_nfv.analysis.gate_config import GateConfig, load_gate_config
from pytest_nfv.errors import NfvUsageError
from pytest_nfv.host.canary import cpu_loop_seconds, timed_rounds
from pytest_nfv.record import canary_entry
from pytest_nfv.vnf.proxy import HOLD_ENV, hold, hold_from_env, parse_args


def test_timed_rounds_discard_the_warm_up() -> None:
    calls = iter(range(10))
    assert timed_rounds(lambda: float(next(calls)), rounds=3, warm_up=2) == (2.0, 3.0, 4.0)


def test_the_cpu_loop_is_timed_in_seconds() -> None:
    samples = cpu_loop_seconds(rounds=4, warm_up=1)
    assert len(samples) == 4
    assert all(0 < s < 5 for s in samples)
    entry = canary_entry(samples, "loop")
    assert entry["unit"] == "s"
    assert entry["samples"] == list(samples)


def test_hold_from_env_reads_whole_microseconds() -> None:
    assert hold_from_env({}) == 0
    assert hold_from_env({HOLD_ENV: " 30 "}) == 30
    for bad in ("-1", "3.5", "30us", "100001"):
        with pytest.raises(NfvUsageError, match=HOLD_ENV):
            hold_from_env({HOLD_ENV: bad})


def test_hold_waits_at_least_as_long_as_asked() -> None:
    started = time.perf_counter_ns()
    hold(200_000)
    assert time.perf_counter_ns() - started >= 200_000


def test_the_proxy_takes_a_hold() -> None:
    common = ["--host-a", "10.0.0.1", "--mac-a", "02:00:00:00:00:01"]
    common += ["--host-b", "10.0.0.2", "--mac-b", "02:00:00:00:00:02"]
    assert parse_args(common).hold_us == 0
    assert parse_args([*common, "--hold-us", "30"]).hold_us == 30


def test_canary_floor_from_the_gate_file(tmp_path: Path) -> None:
    path = tmp_path / "gate.toml"
    path.write_text("canary_floor = 0.4\n")
    assert load_gate_config(path).canary_floor_for("cpu_loop") == 0.4
    assert GateConfig().canary_floor_for("cpu_loop") == 0.8
    assert GateConfig().canary_floor_for("direct_path") == 0.7
    path.write_text('canary_floor = "x"\n')
    with pytest.raises(NfvUsageError, match="canary_floor must be a number"):
        load_gate_config(path)
    with pytest.raises(NfvUsageError, match="canary_floor"):
        GateConfig(canary_floor=-1)
