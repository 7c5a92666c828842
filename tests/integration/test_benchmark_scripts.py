"""The benchmark scripts behind benchmarks/RESULTS.md still run (tiny sizes, real engines)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"


@pytest.mark.parametrize(
    ("script", "args", "expected"),
    [
        ("start_vs_ip.py", ["--n", "3", "--rounds", "1"], "ratio ip/backend"),
        ("response_vs_ping.py", ["--rounds", "5", "--sizes", "64,3000"], "ping p50"),
        ("prober_resolution.py", ["--counts", "2", "--rounds", "2"], "resolution ms"),
        ("coreos_vs_sdk.py", ["--ns", "2", "--rounds", "1"], "ours/plain"),
        ("memory_under_noise.py", ["--instances", "1", "--noise-mib", "50"], "memory_kernel"),
        (
            "response_vs_ping.py",
            ["--backend", "coreos", "--rounds", "5", "--sizes", "64"],
            "ping",
        ),
        (
            "osv_vs_virsh.py",
            ["--counts", "1", "--sizes", "64", "--requests", "2"],
            "direct path (see the engine's notes)",
        ),
        (
            "traffic_ceiling.py",
            ["--sizes", "64", "--repeats", "1", "--duration", "0.2", "--generators", "csender"],
            "| csender | paced | 64 |",
        ),
        (
            "throughput_ndr_pdr.py",
            ["--sizes", "1518", "--repeats", "1"],
            "| netns | 1518 |",
        ),
        ("osv_tcg_boot.py", ["--steps", "1", "--idle-seconds", "0.5"], "| running | booting |"),
        ("osv_migration.py", ["--live", "1", "--cold", "1"], "| live: downtime (stream gap) | 1 |"),
        (
            "memory_per_instance_audit.py",
            ["--low", "1", "--high", "2", "--rounds", "1", "--settle-seconds", "0"],
            "per added instance",
        ),
        (
            "memory_per_instance_audit.py",
            ["--backend", "coreos", "--low", "1", "--high", "2", "--rounds", "1",
             "--settle-seconds", "0"],
            "| - engine helpers |",
        ),
    ],
)  # fmt: skip
def test_benchmark_script_runs(script: str, args: list[str], expected: str) -> None:
    if script.startswith("osv"):
        _skip_unless_answers(
            ["virsh", "-c", "qemu:///system", "version"],
            "libvirtd does not answer at qemu:///system (scripts/engines start libvirt)",
        )
    if script.startswith("coreos") or "coreos" in args:
        _skip_unless_answers(
            ["docker", "version"], "no Docker engine answers (scripts/engines start docker)"
        )
    done = subprocess.run(
        [sys.executable, str(BENCHMARKS / script), *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert expected in done.stdout
    listed = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=True)
    assert "nfvbench-" not in listed.stdout
    if script.startswith("coreos") or "coreos" in args:
        names = ["docker", "ps", "-a", "--filter", "name=nfvbench-", "--format", "{{.Names}}"]
        left = subprocess.run(names, capture_output=True, text=True, check=True)
        assert left.stdout.strip() == ""


def _skip_unless_answers(argv: list[str], reason: str) -> None:
    if subprocess.run(argv, capture_output=True, check=False).returncode != 0:
        pytest.skip(reason)


@pytest.mark.parametrize(
    ("script", "args", "expected"),
    [
        (
            "ab_targets.py",
            ["--comparisons", "1", "--sessions", "3", "--form", "paired", "--kinds", "aa,fix",
             "--fixed", "+3000us", "--sizes", "64", "--round-trip-seconds", "1"],
            "+3000us flagged in 1 of 1",
        ),
        (
            "gate_pairs.py",
            ["--pairs", "1", "--instances", "1", "--sizes", "64"],
            "targets (quiet in every pair, flagged in every pair) met:",
        ),
        (
            "calibrated_pairs.py",
            ["--calibration-sessions", "3", "--pairs", "1", "--sizes", "64", "--ratios", "1.5"],
            "same code: ",
        ),
    ],
)  # fmt: skip
def test_gate_benchmark_runs_into_a_directory_of_its_own(
    script: str, args: list[str], expected: str, tmp_path: Path
) -> None:
    """The A/B and calibrated-gate benchmarks, tiny, each into a private directory."""
    done = subprocess.run(
        [sys.executable, str(BENCHMARKS / script), "--out", str(tmp_path / "out"), *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert expected in done.stdout
    # the gate's targets are round trips: a throughput search in each session would cost
    # minutes and judge nothing (the calibration and the A/B verdicts list what they timed)
    verdicts = "".join(p.read_text() for p in (tmp_path / "out").rglob("ab.json"))
    assert "ndr_frame_interval" not in done.stdout + verdicts
