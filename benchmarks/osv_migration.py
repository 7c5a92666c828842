"""Live and cold migration of the osv backend's proxy VNF, under host A's probe stream.

Run as root with libvirtd up (under ``flock /tmp/nfv-heavy.lock`` on a shared host)::

    python benchmarks/osv_migration.py [--live 5] [--cold 3] [--rate 200]

One testbed, one proxy VM; it is migrated ``--live`` times in a row (each move to a new QEMU
on this host, ``backends.osv.migration``) and saved and restored ``--cold`` times, with host A
sending ``--rate`` UDP requests a second through it. Each move prints the engine's figures
(QEMU's total time, downtime, setup time, bytes, dirty-sync passes) beside the stream's
(longest gap between replies, replies lost); then mean, standard deviation, min and max over
the moves, and the machine it ran on. The figures go to ``benchmarks/RESULTS.md``.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
from collections.abc import Sequence
from pathlib import Path

from pytest_nfv.backends.base import BackendSettings
from pytest_nfv.backends.osv.backend import OsvBackend
from pytest_nfv.harness.lab import Lab
from pytest_nfv.harness.migration import MigrationRounds
from pytest_nfv.harness.probes.icmp import EchoProber
from pytest_nfv.harness.proxy_path import ProxyPath
from pytest_nfv.host.identity import RunIdentity
from pytest_nfv.units import MIB


def machine() -> str:
    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        "unknown CPU",
    )
    memory = Path("/proc/meminfo").read_text().splitlines()[0].split()[1]
    load = " ".join(f"{v:.2f}" for v in os.getloadavg())
    return (
        f"{model}, {len(os.sched_getaffinity(0))} CPUs, {int(memory) // 1024} MiB, "
        f"{platform.platform()}, load average {load}"
    )


def spread(name: str, values: Sequence[float], unit: str) -> str:
    sd = statistics.stdev(values) if len(values) > 1 else 0.0
    return (
        f"| {name} | {len(values)} | {statistics.mean(values):.3f} | {sd:.3f} "
        f"| {min(values):.3f} | {max(values):.3f} | {unit} |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--live", type=int, default=5)
    parser.add_argument("--cold", type=int, default=3)
    parser.add_argument("--rate", type=float, default=200.0)
    args = parser.parse_args()
    print(f"machine: {machine()}")
    with OsvBackend(RunIdentity.new(), BackendSettings()) as backend:
        print(f"engine: {backend.engine().describe()}")
        with EchoProber(backend.probe_netns, backend.probe_interval_s) as prober:
            path = ProxyPath(Lab(backend, prober, boot_timeout_s=120), 60, echo="udp")
            try:
                rounds = MigrationRounds(path, args.rate)
                print("| move | total s | QEMU downtime s | setup s | MiB moved | passes "
                      "| stream gap s | lost / sent |")  # fmt: skip
                print("| --- | --- | --- | --- | --- | --- | --- | --- |")
                live = []
                for k in range(args.live):
                    r = rounds.live()
                    live.append(r)
                    e = r.engine
                    print(
                        f"| live {k + 1} | {e.total_s:.3f} | {e.downtime_s:.3f} | {e.setup_s:.3f} "
                        f"| {e.transferred_bytes / MIB:.1f} | {e.iterations} "
                        f"| {r.seen.longest_gap_s:.3f} | {r.seen.lost} / {r.seen.sent} |"
                    )
                cold = []
                for k in range(args.cold):
                    c = rounds.cold()
                    cold.append(c)
                    print(
                        f"| cold {k + 1} | {c.engine.total_s:.3f} (save {c.engine.save_s:.3f}, "
                        f"restore {c.engine.restore_s:.3f}) | - | - "
                        f"| image {c.engine.image_bytes / MIB:.1f} | - "
                        f"| {c.seen.longest_gap_s:.3f} | {c.seen.lost} / {c.seen.sent} |"
                    )
                if live:
                    print(f"settings: {live[-1].engine.settings}; {live[-1].engine.method}")
            finally:
                path.close()
    print()
    print("| figure | moves | mean | sd | min | max | unit |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    if live:
        print(spread("live: total time (QEMU)", [r.engine.total_s for r in live], "s"))
        print(spread("live: downtime (QEMU)", [r.engine.downtime_s for r in live], "s"))
        print(spread("live: downtime (stream gap)", [r.seen.longest_gap_s for r in live], "s"))
        print(spread("live: replies lost", [float(r.seen.lost) for r in live], "replies"))
        moved = [r.engine.transferred_bytes / MIB for r in live]
        print(spread("live: moved", moved, "MiB"))
    if cold:
        print(spread("cold: save + restore", [c.engine.total_s for c in cold], "s"))
        print(spread("cold: downtime (stream gap)", [c.seen.longest_gap_s for c in cold], "s"))
        print(spread("cold: image", [c.engine.image_bytes / MIB for c in cold], "MiB"))
    print(f"machine after: {machine()}")


if __name__ == "__main__":
    main()
