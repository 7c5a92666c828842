"""How long stand-in guests take to boot under TCG, beside those already running.

Run as root with libvirtd up::

    python benchmarks/osv_tcg_boot.py [--steps 1,1,2,4,8,16] [--idle-seconds 5]

A growing population, as the memory suite grows one: each step boots that many new VMs
together while the earlier ones keep running, and records the step's makespan (start of the
first to the last first reply), the host CPU seconds the step used (``/proc/stat``), and,
before the next step, the CPU the running VMs use while idle. From these the osv backend's
boot deadline under TCG is reckoned (``OsvBackend.boot_deadline_s``); the figures go to
``benchmarks/RESULTS.md``.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

from pytest_nfv.backends.base import BackendSettings
from pytest_nfv.backends.osv.backend import OsvBackend
from pytest_nfv.harness.lab import Lab
from pytest_nfv.harness.probes.icmp import EchoProber
from pytest_nfv.host.identity import RunIdentity


def busy_cpu_seconds() -> float:
    """CPU seconds the whole host spent busy since boot: user, nice, system, irq, softirq and
    steal (guest time is already inside user)."""
    fields = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    busy = sum(fields[0:3]) + sum(fields[5:8])
    return busy / os.sysconf("SC_CLK_TCK")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--steps", default="1,1,2,4,8,16")
    parser.add_argument("--idle-seconds", type=float, default=5.0)
    parser.add_argument("--boot-timeout", type=float, default=600.0)
    args = parser.parse_args()
    steps = [int(v) for v in args.steps.split(",")]
    cpus = len(os.sched_getaffinity(0))
    with OsvBackend(RunIdentity.new(), BackendSettings()) as backend:
        print(f"engine: {backend.engine().describe()}; host CPUs {cpus}")
        with EchoProber(backend.probe_netns, backend.probe_interval_s) as prober:
            lab = Lab(backend, prober, boot_timeout_s=args.boot_timeout)
            running = []
            try:
                print("| running | booting | makespan s | CPU s of the step | idle CPU s/s after |")
                print("| --- | --- | --- | --- | --- |")
                for count in steps:
                    before = busy_cpu_seconds()
                    instances, result = lab.boot(backend.plan(count))
                    used = busy_cpu_seconds() - before
                    running_before = len(running)
                    running += instances
                    idle_from = busy_cpu_seconds()
                    time.sleep(args.idle_seconds)
                    idle = (busy_cpu_seconds() - idle_from) / args.idle_seconds
                    print(
                        f"| {running_before} | {count} | {result.makespan_s:.1f} | {used:.1f} "
                        f"| {idle:.2f} |"
                    )
            finally:
                backend.stop(running)


if __name__ == "__main__":
    main()
