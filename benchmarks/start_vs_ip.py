"""Starting 128 netns instances: the netns backend next to one `ip` process per command.

Run as root: ``python benchmarks/start_vs_ip.py [--n 128] [--rounds 3]``.

Both build the same thing (namespace, veth to a bridge in a switch namespace, address, links
up) and both are timed from the first request to the last instance answering an ICMP echo
from the switch namespace, with the same prober. The `ip` variant is what a shell script
would do (`ip netns add`, `ip link add ... netns`, `ip -n ... addr add`, ...), without the
VNF process, so it is if anything favoured.
"""

from __future__ import annotations

import argparse
import ipaddress
import statistics
import subprocess
import time

from pytest_nfv.backends.netns.backend import NetnsBackend
from pytest_nfv.harness.lab import Lab
from pytest_nfv.harness.probes.icmp import EchoProber
from pytest_nfv.host.identity import RunIdentity
from pytest_nfv.host.namespaces import namespace_path


def ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True)


def ip_round(n: int) -> float:
    sw = "nfvbench-ipsw"
    names = [f"nfvbench-ip{k}" for k in range(n)]
    addresses = [ipaddress.IPv4Address("10.214.1.0") + k for k in range(n)]
    try:
        ip("netns", "add", sw)
        ip("-n", sw, "link", "add", "br0", "type", "bridge")
        ip("-n", sw, "addr", "add", "10.214.0.1/16", "dev", "br0")
        ip("-n", sw, "link", "set", "br0", "up")
        with EchoProber(namespace_path(sw)) as prober:
            prober.begin(60)
            start = time.perf_counter()
            for k, (name, address) in enumerate(zip(names, addresses, strict=True)):
                prober.started(address)
                ip("netns", "add", name)
                ip(
                    "-n",
                    sw,
                    "link",
                    "add",
                    f"v{k}",
                    "type",
                    "veth",
                    "peer",
                    "name",
                    "eth0",
                    "netns",
                    name,
                )
                ip("-n", sw, "link", "set", f"v{k}", "master", "br0", "up")
                ip("-n", name, "addr", "add", f"{address}/16", "dev", "eth0")
                ip("-n", name, "link", "set", "eth0", "up")
            result = prober.finish()
            elapsed = time.perf_counter() - start
        if result.unanswered:
            raise RuntimeError(f"{len(result.unanswered)} ip-built instances never answered")
        return elapsed
    finally:
        for name in [*names, sw]:
            subprocess.run(["ip", "netns", "del", name], capture_output=True, check=False)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=128)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    ours, theirs = [], []
    with NetnsBackend(RunIdentity.new()) as backend, EchoProber(backend.probe_netns) as prober:
        lab = Lab(backend, prober, 60)
        for _ in range(args.rounds):
            ours.append(lab.boot_round(args.n).makespan_s)
            theirs.append(ip_round(args.n))
    print(f"N={args.n}, {args.rounds} rounds interleaved, makespan to last echo reply:")
    print(f"  netns backend (pyroute2, VNF process): {statistics.fmean(ours):.3f} s  {ours}")
    print(f"  one ip process per command           : {statistics.fmean(theirs):.3f} s  {theirs}")
    print(f"  ratio ip/backend: {statistics.fmean(theirs) / statistics.fmean(ours):.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
