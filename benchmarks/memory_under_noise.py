"""Instance memory while another process allocates and frees a few hundred MiB in a loop.

Run as root from a clone: ``python benchmarks/memory_under_noise.py [--noise-mib 300]
[--instances 1,128] [--backend netns]``.

Runs the memory tests of ``suites/test_instantiation.py`` twice, quiet and then beside a noise
process (its own process, outside the run's memory cgroup) that touches and frees
``--noise-mib`` MiB every 0.2 s, and prints each figure per instance: what the kernel
charged to the instances' cgroup and the host's MemAvailable drop (the paper's method), each with
its 95% CI half-width, rounds and budget verdict. The kernel's figure should not move with the
noise; the host's does.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from pytest_nfv.record import read_benchmark

SUITE = Path(__file__).resolve().parents[1] / "suites" / "test_instantiation.py"

NOISE = """
import time
mib = int({mib})
while True:
    block = bytearray(mib * 1024 * 1024)
    for i in range(0, len(block), 4096):
        block[i] = 1
    time.sleep(0.2)
    del block
    time.sleep(0.2)
"""


def run_suite(backend: str, instances: str, out: Path) -> float:
    started = time.monotonic()
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            str(SUITE),
            "-k",
            "test_memory and not per_instance",
            f"--backend={backend}",
            f"--nfv-instances={instances}",
            "-p",
            "no:cacheprovider",
            "-q",
            f"--benchmark-json={out}",
        ],
        check=False,
        stdout=subprocess.DEVNULL,
    )
    return time.monotonic() - started


def rows(path: Path) -> list[str]:
    lines = []
    for bench in json.loads(path.read_text())["benchmarks"]:
        series = {r.key.metric: r for r in read_benchmark(bench, str(path))}
        for metric in ("memory_kernel", "memory"):
            if metric not in series:
                continue
            s = series[metric]
            n = s.key.n or 1
            half = s.ci_half_width
            rel = f"{half / abs(s.mean):.1%}" if half is not None and s.mean else "n/a"
            lines.append(
                f"{n:>4} {metric:>14} {s.mean / n:>10.3f} {(half or float('nan')) / n:>9.3f}"
                f" {rel:>7} {len(s.samples):>6} {s.verdict or '-':>12}"
            )
    return lines


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--noise-mib", type=int, default=300)
    parser.add_argument("--instances", default="1,128")
    parser.add_argument("--backend", default="netns")
    args = parser.parse_args()
    header = (
        f"{'N':>4} {'figure':>14} {'MiB/inst':>10} {'+-/inst':>9} {'+-/mean':>7} "
        f"{'rounds':>6} {'verdict':>12}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        quiet = Path(tmp) / "quiet.json"
        noisy = Path(tmp) / "noisy.json"
        took = run_suite(args.backend, args.instances, quiet)
        print(f"quiet ({took:.0f} s)\n{header}", *rows(quiet), sep="\n")
        noise = subprocess.Popen([sys.executable, "-c", NOISE.format(mib=args.noise_mib)])
        try:
            took = run_suite(args.backend, args.instances, noisy)
        finally:
            noise.kill()
            noise.wait()
        print(f"\nbeside {args.noise_mib} MiB allocated and freed every 0.2 s ({took:.0f} s)")
        print(header, *rows(noisy), sep="\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
