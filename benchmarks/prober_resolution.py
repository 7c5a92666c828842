"""The ICMP prober's resolution and its own CPU cost while N netns instances boot.

Run as root: ``python benchmarks/prober_resolution.py [--counts 1,8,32,128] [--rounds 5]
[--cpus auto|PATH,PROBER]``.

Three probers are set up on one netns backend and used in turn, round by round (the order
reversed every other round), so all see the same host, each pinned as a suite run pins it
(the prober on a CPU of its own, the starts it times on another: ``host.cpus``): the C child
at the default pace (first probes every 0.5 ms, a silent target's gap growing to a sixteenth
of its wait, at most 1.5 ms), the C child with first probes every 0.25 ms, and the Python
child at the default pace.

Per round: the worst gap between two probes of one waiting instance, the resolution (the
largest gap before the probe an instance first answered), the prober's on-CPU time and its
run-queue wait (``/proc/<pid>/schedstat``, nanoseconds as the scheduler counts them) over the
round's wall time, as a share of one core, and the host's steal time over the round
(``/proc/stat``: time the hypervisor ran something else on this guest's CPUs).

Beside every round runs the host's own floor: a second C prober on the same CPU,
probing every 0.5 ms a target that never answers (loopback in a private namespace whose
loopback is down: each probe is refused at once and nothing leaves it). It does nothing but
wake up on time, so its worst gap is how late this host lets any program on that CPU wake up
in the same window, whatever the prober does. A prober gap longer than 2 ms is the prober's
only where the floor's stayed shorter; the last column counts such rounds. ``--idle-seconds
S`` first runs the floor alone for S one-second windows, nothing else of ours running.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import time
from pathlib import Path

from pytest_nfv.backends.netns.backend import NetnsBackend
from pytest_nfv.harness.lab import Lab
from pytest_nfv.harness.probes.icmp import DEFAULT_PROBE_INTERVAL_S, EchoProber, prober_command
from pytest_nfv.host.cpus import CpuPlan, configure, pin, plan_cpus
from pytest_nfv.host.identity import RunIdentity
from pytest_nfv.host.namespaces import inside_new, namespace_path, remove_namespace, spawn_in

TARGET_GAP_S = 0.002
FLOOR_PACE_US = 500


def schedstat(pid: int) -> tuple[int, int]:
    """(ns on CPU, ns runnable but waiting for a CPU) of ``pid``."""
    on_cpu, waiting, _slices = Path(f"/proc/{pid}/schedstat").read_text().split()
    return int(on_cpu), int(waiting)


def steal_ms() -> float:
    """The host's steal time so far, all CPUs (ms)."""
    ticks = int(Path("/proc/stat").read_text().split("\n")[0].split()[8])
    return ticks * 1000 / os.sysconf("SC_CLK_TCK")


class HostFloor:
    """The C prober alone in a private namespace, waking every 0.5 ms for a silent target."""

    def __init__(self, namespace: str, cpu: int | None) -> None:
        argv, kind = prober_command(native=True)
        if not kind.startswith("C"):
            raise SystemExit(f"the host floor needs the C prober: {kind}")
        self._proc = spawn_in(
            namespace_path(namespace), argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE
        )
        if cpu is not None:
            pin(self._proc.pid, frozenset({cpu}))

    def _say(self, text: str) -> None:
        assert self._proc.stdin is not None
        self._proc.stdin.write(text.encode())
        self._proc.stdin.flush()

    def _line(self) -> str:
        assert self._proc.stdout is not None
        return self._proc.stdout.readline().decode().strip()

    def start(self) -> None:
        self._say(f"arm 3600 {FLOOR_PACE_US} {FLOOR_PACE_US} 0\ngo 127.0.0.1\n")
        assert self._line() == "armed"

    def stop(self) -> float:
        """The worst gap between two wake-ups since ``start`` (s)."""
        self._say("cancel\n")
        return int(self._line().split()[2]) / 1e6

    def close(self) -> None:
        self._proc.kill()
        self._proc.wait()


Figures = tuple[float, float, float, float, float, float]


def one_round(lab: Lab, plan: CpuPlan, n: int, floor: HostFloor) -> Figures:
    """(worst gap s, resolution s, CPU share, run-queue wait share, steal ms, floor gap s)."""
    pid = lab.prober.pid
    assert pid is not None
    configure(plan)  # where the starts run
    floor.start()
    (cpu, wait), wall, steal = schedstat(pid), time.monotonic_ns(), steal_ms()
    round_ = lab.boot_round(n)
    (cpu2, wait2), wall = schedstat(pid), time.monotonic_ns() - wall
    stolen = steal_ms() - steal
    return (
        round_.resolution_s,
        round_.answer_gap_s,
        (cpu2 - cpu) / wall,
        (wait2 - wait) / wall,
        stolen,
        floor.stop(),
    )


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--counts", default="1,8,32,128")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--cpus", default="auto", help="the pinned plan: auto or PATH,PROBER")
    parser.add_argument("--idle-seconds", type=int, default=0, help="the floor alone first")
    args = parser.parse_args()
    counts = [int(c) for c in args.counts.split(",")]
    plan = plan_cpus(args.cpus)
    pace = DEFAULT_PROBE_INTERVAL_S
    variants = {
        f"C {pace * 1e3:g} ms": (True, pace),
        "C 0.25 ms": (True, 0.00025),
        f"Py {pace * 1e3:g} ms": (False, pace),
    }
    print(f"CPUs: {plan.describe()}; load average {Path('/proc/loadavg').read_text().strip()}")
    with NetnsBackend(RunIdentity.new()) as backend:
        labs: dict[str, Lab] = {}
        silent = f"{backend.identity.prefix}-floor"
        with inside_new(silent) as ipr:
            ipr.close()
        floor = HostFloor(silent, plan.prober)
        try:
            idle = []
            for _ in range(args.idle_seconds):
                floor.start()
                time.sleep(1)
                idle.append(floor.stop() * 1e3)
            if idle:
                shown = " ".join(f"{gap:.1f}" for gap in idle)
                print(f"floor alone, worst gap per second (ms): {shown}")
            configure(plan)  # each prober is pinned as it starts
            for name, (native, interval) in variants.items():
                prober = EchoProber(backend.probe_netns, interval, native=native)
                prober.__enter__()
                print(f"{name}: {prober.kind}, first probes every {interval * 1e3:g} ms")
                labs[name] = Lab(backend, prober, 30)
            print(
                f"{'N':>4} {'prober':>10} {'worst gap ms':>12} {'floor gap ms':>12} "
                f"{'resolution ms':>13} {'CPU %':>6} {'waiting %':>9} {'steal ms':>8} "
                f"{'own >2ms':>8}"
            )
            for n in counts:
                figures: dict[str, list[Figures]] = {name: [] for name in labs}
                for k in range(args.rounds):
                    order = list(labs.items())
                    for name, lab in order if k % 2 else reversed(order):  # ABC CBA: no side first
                        figures[name].append(one_round(lab, plan, n, floor))
                for name, rounds in figures.items():
                    own = sum(r[0] > TARGET_GAP_S and r[5] <= TARGET_GAP_S for r in rounds)
                    print(
                        f"{n:>4} {name:>10} {max(r[0] for r in rounds) * 1e3:>12.2f} "
                        f"{max(r[5] for r in rounds) * 1e3:>12.2f} "
                        f"{max(r[1] for r in rounds) * 1e3:>13.2f} "
                        f"{statistics.fmean(r[2] for r in rounds) * 100:>6.1f} "
                        f"{statistics.fmean(r[3] for r in rounds) * 100:>9.1f} "
                        f"{max(r[4] for r in rounds):>8.0f} {own:>4} of {len(rounds)}"
                    )
                    pairs = " ".join(f"{r[0] * 1e3:.1f}/{r[5] * 1e3:.1f}" for r in rounds)
                    print(f"{'':>15} per round, prober/floor worst gap ms: {pairs}")
        finally:
            for lab in labs.values():
                lab.prober.__exit__()
            floor.close()
            remove_namespace(silent)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
