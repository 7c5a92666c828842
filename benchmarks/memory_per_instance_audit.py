"""What one more instance costs the host, against what the memory figure counts of it.

Run as root on an idle host (coreos: with dockerd up)::

    python benchmarks/memory_per_instance_audit.py --backend coreos [--low 20] [--high 128]
        [--rounds 3] [--settle-seconds 10]

Per round: the backend opens with its testbed-free lab, ``--low`` instances start and the
host settles, then more start up to ``--high`` and it settles again. Between the two points,
per added instance:

- **host used**: growth of MemTotal - MemAvailable (everything the host spent, noisy);
- **figure**: what the instantiation suite judges as ``memory_kernel``: what the host spends
  for the instances (``harness.host_spend``), and below it each of its parts (the fixed
  part's growth is zero by construction: it is read once, before the population);
- **instances' PSS**: the instances' own processes, beside.

It measures; it judges nothing. The figures go to ``benchmarks/RESULTS.md``.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Sequence
from pathlib import Path

import psutil

from pytest_nfv.backends import make_builtin
from pytest_nfv.backends.base import BackendSettings, KernelMemory, ProbeInterval
from pytest_nfv.harness.host_spend import SpendBaseline, host_spend, spend_baseline
from pytest_nfv.harness.lab import Lab, instance_memory_mib
from pytest_nfv.harness.probes.icmp import EchoProber
from pytest_nfv.harness.probes.memory import settled_available_mib
from pytest_nfv.host.identity import RunIdentity
from pytest_nfv.model import Instance
from pytest_nfv.units import MIB


def used_mib() -> float:
    total = float(psutil.virtual_memory().total) / MIB
    return total - settled_available_mib(timeout_s=10.0)


def meminfo_mib(field: str) -> float:
    for line in Path("/proc/meminfo").read_text().splitlines():
        name, _, value = line.partition(":")
        if name == field:
            return int(value.split()[0]) / 1024
    raise KeyError(field)


def point(lab: Lab, instances: Sequence[Instance], since: SpendBaseline) -> dict[str, float]:
    backend = lab.backend
    reading = {"host used": used_mib()}
    if isinstance(backend, KernelMemory) and backend.kernel_memory_method:
        spend = host_spend(backend, instances, backend.kernel_memory_mib(instances), since)
        reading["figure (what the host spends)"] = spend.total_mib
        reading.update({f"- {name}": value for name, value in spend.parts().items()})
    reading["instances' PSS (beside)"] = instance_memory_mib(backend, instances)
    reading["host reclaimable slab (beside)"] = meminfo_mib("SReclaimable")
    return reading


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--backend", default="netns")
    parser.add_argument("--low", type=int, default=20)
    parser.add_argument("--high", type=int, default=128)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--settle-seconds", type=float, default=10.0)
    parser.add_argument("--boot-timeout", type=float, default=600.0)
    args = parser.parse_args()
    slopes: dict[str, list[float]] = {}
    for _ in range(args.rounds):
        backend = make_builtin(args.backend, RunIdentity.new(), BackendSettings())
        assert backend is not None, args.backend
        backend.open()
        try:
            prober_args = (backend.probe_interval_s,) if isinstance(backend, ProbeInterval) else ()
            with EchoProber(backend.probe_netns, *prober_args) as prober:
                lab = Lab(backend, prober, boot_timeout_s=args.boot_timeout)
                running: list[Instance] = []
                try:
                    since = spend_baseline(backend)
                    running += lab.start_ready(args.low)
                    time.sleep(args.settle_seconds)
                    low = point(lab, running, since)
                    running += lab.start_ready(args.high - args.low)
                    time.sleep(args.settle_seconds)
                    high = point(lab, running, since)
                finally:
                    backend.stop(running)
        finally:
            backend.close()
        added = args.high - args.low
        for key in low:
            slopes.setdefault(key, []).append((high[key] - low[key]) / added)
        print(" | ".join(f"{k} {v[-1]:.3f}" for k, v in slopes.items()), flush=True)
    print(f"\nper added instance, N={args.low} -> {args.high}, {args.rounds} rounds "
          f"({args.backend}), MiB:")  # fmt: skip
    print("| what | mean | min | max |")
    print("| --- | --- | --- | --- |")
    for key, values in slopes.items():
        print(f"| {key} | {statistics.fmean(values):.3f} | {min(values):.3f} | {max(values):.3f} |")


if __name__ == "__main__":
    main()
