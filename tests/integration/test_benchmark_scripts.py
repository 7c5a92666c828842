"""The benchmark scripts behind benchmarks/RESULTS.md still run (tiny sizes, real netns)."""

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
        ("response_vs_ping.py", ["--rounds", "5", "--sizes", "64,3000"], "ours/ping"),
        (
            "osv_vs_virsh.py",
            ["--counts", "1", "--sizes", "64", "--requests", "2"],
            "same hop, guest kernel forwarding",
        ),
    ],
)
def test_benchmark_script_runs(script: str, args: list[str], expected: str) -> None:
    if script.startswith("osv"):
        answer = ["virsh", "-c", "qemu:///system", "version"]
        if subprocess.run(answer, capture_output=True, check=False).returncode != 0:
            pytest.skip(
                "libvirtd does not answer at qemu:///system (scripts/engines start libvirt)"
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
