"""N containers: the coreos backend next to a plain docker-SDK start-and-ping loop.

Run as root with a Docker engine: ``python benchmarks/coreos_vs_sdk.py [--ns 1,8,32,128]
[--rounds 3] [--parallel 8]``.

Both start N containers of the same image on the same internal network with the same
parallelism, and both are timed from the first request to the last container answering an
ICMP echo, by the same prober in the same probe container. The plain loop is what a user
would write with the SDK: ``client.containers.run(image, ..., detach=True)`` per container in
a thread pool, then wait for the pings. Rounds are interleaved (ours, plain, ours, ...), so
both see the same host. Memory is the host's MemAvailable before and after each population,
read the same way for both; the backend also reads each container's cgroup from the engine.
"""

from __future__ import annotations

import argparse
import statistics
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from pytest_nfv.backends.coreos.backend import CoreosBackend
from pytest_nfv.harness.lab import Lab
from pytest_nfv.harness.probes.icmp import EchoProber
from pytest_nfv.harness.probes.memory import settled_available_mib
from pytest_nfv.host.identity import RunIdentity


def plain_round(
    backend: CoreosBackend, prober: EchoProber, n: int, parallel: int
) -> tuple[float, float]:
    """Makespan (s) and host memory drop (MiB) of N containers started with the plain SDK."""
    docker = backend.docker  # the same engine, network and image as the backend's
    client: Any = docker.client
    network = docker.network
    specs = backend.plan(n)  # addresses (and the probe's neighbour entries) like ours
    containers: list[Any] = []
    before = settled_available_mib()

    def run(index: int) -> Any:
        spec = specs[index]
        prober.started(spec.address)
        return client.containers.run(
            docker.image,
            ["sleep", "2147483647"],
            name=f"nfvbench-sdk-{index}",
            detach=True,
            network=network,
            mac_address=spec.mac,
            networking_config={
                network: client.api.create_endpoint_config(ipv4_address=str(spec.address))
            },
        )

    try:
        prober.begin(120)
        start = time.time_ns()
        with ThreadPoolExecutor(min(parallel, n)) as pool:
            containers = list(pool.map(run, range(n)))
        result = prober.finish()
        if result.unanswered:
            raise RuntimeError(f"{len(result.unanswered)} plain containers never answered")
        makespan = (max(result.replies_ns.values()) - start) / 1e9
        after = settled_available_mib()
        return makespan, before - after
    finally:
        for container in containers:  # one at a time, as the backend does (moby/moby#42119)
            container.remove(force=True)
        backend.release(specs)  # the backend never started them: their addresses only


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--ns", default="1,8,32,128")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--parallel", type=int, default=8)
    args = parser.parse_args()
    counts = [int(n) for n in args.ns.split(",")]
    backend = CoreosBackend(RunIdentity.new(), parallel=args.parallel)
    with backend, EchoProber(backend.probe_netns) as prober:
        lab = Lab(backend, prober, 120)
        print(f"{args.rounds} interleaved rounds per N, parallelism {args.parallel}; means:")
        print(
            f"{'N':>4} {'ours s':>8} {'plain s':>8} {'ours/plain':>10}  "
            f"{'ours MiB':>8} {'plain MiB':>9} {'cgroup MiB':>10} {'cgroup/inst':>11}"
        )
        for n in counts:
            ours_t, plain_t, ours_m, plain_m, cgroup = [], [], [], [], []
            for _ in range(args.rounds):
                ours_t.append(lab.boot_round(n).makespan_s)
                memory = lab.memory_round(n)
                ours_m.append(memory.host_delta_mib)
                cgroup.append(sum(memory.engine_mib))
                t, m = plain_round(backend, prober, n, args.parallel)
                plain_t.append(t)
                plain_m.append(m)
            mean = statistics.fmean
            print(
                f"{n:>4} {mean(ours_t):>8.3f} {mean(plain_t):>8.3f} "
                f"{mean(ours_t) / mean(plain_t):>10.2f}  {mean(ours_m):>8.1f} "
                f"{mean(plain_m):>9.1f} {mean(cgroup):>10.1f} {mean(cgroup) / n:>11.2f}"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
