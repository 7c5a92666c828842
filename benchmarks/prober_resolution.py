"""The ICMP prober's resolution and its own CPU cost while N netns instances boot.

Run as root: ``python benchmarks/prober_resolution.py [--counts 1,8,32,128] [--rounds 5]
[--cpus auto|PATH,PROBER]``.

Three probers at the default pace (first probes every 0.25 ms, a silent target's gap growing
to a sixteenth of its wait, at most 1.5 ms) are set up on one netns backend and used in turn,
round by round (the order reversed every other round), so all see the same host: the C child
pinned as a suite run pins it (the prober on a CPU of its own, the starts it times on
another: ``host.cpus``), the C child not pinned, and the Python child pinned. Per round:
the worst gap between two probes of one waiting instance, the resolution (the largest gap
before the probe an instance first answered), the prober's on-CPU time and its run-queue
wait (``/proc/<pid>/schedstat``, nanoseconds as the scheduler counts them) over the round's
wall time, as a share of one core, and the host's steal time over the round (``/proc/stat``:
time the hypervisor ran something else on this guest's CPUs).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

from pytest_nfv.backends.netns import NetnsBackend
from pytest_nfv.harness.lab import Lab
from pytest_nfv.harness.probes.icmp import EchoProber
from pytest_nfv.host.cpus import CpuPlan, configure, plan_cpus
from pytest_nfv.host.identity import RunIdentity


def schedstat(pid: int) -> tuple[int, int]:
    """(ns on CPU, ns runnable but waiting for a CPU) of ``pid``."""
    on_cpu, waiting, _slices = Path(f"/proc/{pid}/schedstat").read_text().split()
    return int(on_cpu), int(waiting)


def steal_ms() -> float:
    """The host's steal time so far, all CPUs (ms)."""
    ticks = int(Path("/proc/stat").read_text().split("\n")[0].split()[8])
    return ticks * 1000 / os.sysconf("SC_CLK_TCK")


Figures = tuple[float, float, float, float, float]


def one_round(lab: Lab, plan: CpuPlan, n: int) -> Figures:
    """(worst gap s, resolution s, prober CPU share, its run-queue wait share, steal ms)."""
    pid = lab.prober.pid
    assert pid is not None
    configure(plan)  # where the starts run
    (cpu, wait), wall, steal = schedstat(pid), time.monotonic_ns(), steal_ms()
    round_ = lab.boot_round(n)
    (cpu2, wait2), wall = schedstat(pid), time.monotonic_ns() - wall
    return (
        round_.resolution_s,
        round_.answer_gap_s,
        (cpu2 - cpu) / wall,
        (wait2 - wait) / wall,
        steal_ms() - steal,
    )


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--counts", default="1,8,32,128")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--cpus", default="auto", help="the pinned plan: auto or PATH,PROBER")
    args = parser.parse_args()
    counts = [int(c) for c in args.counts.split(",")]
    pinned, unpinned = plan_cpus(args.cpus), plan_cpus("off")
    variants = {
        "C pinned": (pinned, True),
        "C free": (unpinned, True),
        "Py pinned": (pinned, False),
    }
    plans = {name: plan for name, (plan, _native) in variants.items()}
    print(f"pinned: {pinned.describe()}")
    with NetnsBackend(RunIdentity.new()) as backend:
        labs: dict[str, Lab] = {}
        try:
            for name, (plan, native) in variants.items():
                configure(plan)  # the prober is pinned (or not) as it starts
                prober = EchoProber(backend.probe_netns, native=native).__enter__()
                print(f"{name}: {prober.kind}")
                labs[name] = Lab(backend, prober, 30)
            print(
                f"{'N':>4} {'prober':>10} {'worst gap ms':>13} {'resolution ms':>14} "
                f"{'CPU %':>6} {'waiting %':>9} {'steal ms':>8}"
            )
            for n in counts:
                figures: dict[str, list[Figures]] = {p: [] for p in plans}
                for k in range(args.rounds):
                    order = list(labs.items())
                    for name, lab in order if k % 2 else reversed(order):  # ABC CBA: no side first
                        figures[name].append(one_round(lab, plans[name], n))
                for name, rounds in figures.items():
                    gap = max(r[0] for r in rounds) * 1e3
                    resolution = max(r[1] for r in rounds) * 1e3
                    cpu = statistics.fmean(r[2] for r in rounds) * 100
                    waiting = statistics.fmean(r[3] for r in rounds) * 100
                    steal = max(r[4] for r in rounds)
                    print(
                        f"{n:>4} {name:>10} {gap:>13.2f} {resolution:>14.2f} {cpu:>6.1f} "
                        f"{waiting:>9.1f} {steal:>8.0f}"
                    )
        finally:
            for lab in labs.values():
                lab.prober.__exit__()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
