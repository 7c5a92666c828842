"""Response time by packet size: pytest-nfv's probe next to iputils ping on the same paths.

Run as root: ``python benchmarks/response_vs_ping.py [--rounds 200] [--sizes 64,1472,...]
[--backend netns|coreos]``.

Both tools run from host A of one testbed (netns by default; coreos: containers on a Docker
network, the proxy VNF being the iptables rules), interleaved size by size, so they see the
same host conditions. Two paths: *direct* (the proxy's hop forwards in the kernel) and
*proxy* (the Algorithm 1 VNF forwards). Our probe sends UDP to host B's echo; ping sends ICMP
echo, which host B's kernel answers. ping's figure is the mean it prints; ours is the mean of
kernel-timestamped round trips. The ratio shows what our harness adds or saves against ping.
"""

from __future__ import annotations

import argparse
import re
import statistics
import subprocess

from pytest_nfv.backends.coreos.backend import CoreosBackend
from pytest_nfv.backends.netns import NetnsBackend
from pytest_nfv.harness.lab import Lab, ProxyPath
from pytest_nfv.harness.probes.icmp import EchoProber
from pytest_nfv.host.identity import RunIdentity
from pytest_nfv.host.namespaces import spawn_in

_RTT = re.compile(r"rtt min/avg/max/mdev = ([\d.]+)/([\d.]+)/([\d.]+)/([\d.]+) ms")


def ping_mean_ms(netns_path: str, target: str, size: int, count: int) -> float:
    proc = spawn_in(
        netns_path,
        ["ping", "-q", "-n", "-c", str(count), "-i", "0.002", "-W", "1", "-s", str(size), target],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    out, _ = proc.communicate(timeout=120)
    match = _RTT.search(out.decode())
    if match is None:
        raise RuntimeError(f"ping printed no rtt line: {out.decode()[-300:]}")
    return float(match.group(2))


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--sizes", default="64,256,1024,1472,4096,16384,65507")
    parser.add_argument("--backend", choices=("netns", "coreos"), default="netns")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    kind = CoreosBackend if args.backend == "coreos" else NetnsBackend
    with kind(RunIdentity.new()) as backend, EchoProber(backend.probe_netns) as prober:
        path = ProxyPath(Lab(backend, prober, 30))
        tb = path.testbed
        try:
            print(f"{'size B':>7} {'path':>6} {'ours ms':>9} {'ping ms':>9} {'ours/ping':>9}")
            for size in sizes:
                for mode, target in (("direct", tb.host_b.address), ("proxy", tb.proxy.address)):
                    ours = statistics.fmean(
                        path.round_trip(size, mode).seconds * 1e3 for _ in range(args.rounds)
                    )
                    path.set_mode(mode)
                    theirs = ping_mean_ms(tb.host_a.netns_path, str(target), size, args.rounds)
                    print(f"{size:>7} {mode:>6} {ours:>9.3f} {theirs:>9.3f} {ours / theirs:>9.2f}")
        finally:
            path.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
