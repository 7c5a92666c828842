"""The ICMP prober's resolution and its own CPU cost while N netns instances boot.

Run as root: ``python benchmarks/prober_resolution.py [--counts 1,8,32,128] [--rounds 5]``.

Two probers are set up on one netns backend and used in turn, round by round, so both see the
same host: the default pace (first probes every 0.25 ms, a silent target's gap growing to a
sixteenth of its wait, at most 1.5 ms) and a fixed 0.5 ms sweep of every waiting target, the
prober's earlier pace. Per round: the worst gap between two probes of one waiting instance,
the resolution (the largest gap before the probe an instance first answered), and the
prober's on-CPU time (``/proc/<pid>/schedstat``, nanoseconds as the scheduler counts them)
over the round's wall time, as a share of one core.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from pytest_nfv.backends.netns import NetnsBackend
from pytest_nfv.harness.lab import Lab
from pytest_nfv.harness.probes.icmp import EchoProber
from pytest_nfv.host.identity import RunIdentity


def on_cpu_ns(pid: int) -> int:
    return int(Path(f"/proc/{pid}/schedstat").read_text().split()[0])


def one_round(lab: Lab, n: int) -> tuple[float, float, float]:
    """(worst probe gap s, resolution s, prober CPU share of one core) for one boot of N."""
    pid = lab.prober.pid
    assert pid is not None
    cpu, wall = on_cpu_ns(pid), time.monotonic_ns()
    round_ = lab.boot_round(n)
    cpu, wall = on_cpu_ns(pid) - cpu, time.monotonic_ns() - wall
    return round_.resolution_s, round_.answer_gap_s, cpu / wall


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--counts", default="1,8,32,128")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    counts = [int(c) for c in args.counts.split(",")]
    paces = {"backoff": (0.00025, 0.0015), "fixed 0.5 ms": (0.0005, 0.0005)}
    with NetnsBackend(RunIdentity.new()) as backend:
        probers = {name: EchoProber(backend.probe_netns, *pace) for name, pace in paces.items()}
        labs = {name: Lab(backend, prober.__enter__(), 30) for name, prober in probers.items()}
        try:
            print(f"{'N':>4} {'pace':>12} {'worst gap ms':>13} {'resolution ms':>14} {'CPU %':>7}")
            for n in counts:
                figures: dict[str, list[tuple[float, float, float]]] = {p: [] for p in paces}
                for k in range(args.rounds):
                    order = list(labs.items())
                    for name, lab in order if k % 2 else reversed(order):  # ABBA: no side first
                        figures[name].append(one_round(lab, n))
                for name, rounds in figures.items():
                    gap = max(r[0] for r in rounds) * 1e3
                    resolution = max(r[1] for r in rounds) * 1e3
                    cpu = statistics.fmean(r[2] for r in rounds) * 100
                    print(f"{n:>4} {name:>12} {gap:>13.2f} {resolution:>14.2f} {cpu:>7.1f}")
        finally:
            for prober in probers.values():
                prober.__exit__()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
