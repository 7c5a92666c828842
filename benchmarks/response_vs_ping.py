"""Response time by packet size: pytest-nfv's probe next to iputils ping on the same paths.

Run as root: ``python benchmarks/response_vs_ping.py [--rounds 200] [--sizes 64,1472,...]
[--backend netns|coreos]``.

Both tools run from host A of one testbed (netns by default; coreos: containers on a Docker
network, the proxy VNF being the iptables rules), interleaved size by size, so they see the
same host conditions. Two paths: *direct* (the proxy's hop forwards in the kernel) and
*proxy* (the Algorithm 1 VNF forwards). Our probe sends UDP to host B's echo; ping sends ICMP
echo, which host B's kernel answers. The two alternate in turns of 25 requests, and each
figure is given as the mean and the median of the replies' round trips (ping's as it prints
them, ours kernel-timestamped); on a shared host the median is the one a descheduled round
does not move. The ratio shows what our harness adds or saves against ping.
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
from pytest_nfv.host.namespaces import spawn_in, write_sysctl
from pytest_nfv.model import PathMode

_TIME = re.compile(r"time=([\d.]+) ms")
CHUNK = 25
"""Requests per turn: ours and ping alternate in turns this long, so both see the same host."""


def ping_times_ms(netns_path: str, target: str, size: int, count: int) -> list[float]:
    """Each reply's round trip as ping prints it (ms, to the microsecond)."""
    proc = spawn_in(
        netns_path,
        ["ping", "-n", "-c", str(count), "-i", "0.002", "-W", "1", "-s", str(size), target],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    out, _ = proc.communicate(timeout=120)
    times = [float(t) for t in _TIME.findall(out.decode())]
    if not times:
        raise RuntimeError(f"ping printed no reply: {out.decode()[-300:]}")
    return times


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
            if args.backend == "netns":
                # The proxy's own kernel would answer ping's echo addressed to it before the
                # VNF's copy reaches B: ping would time A -> proxy -> A, a shorter path than
                # ours. Silenced, ping's reply is B's, through the VNF both ways, as ours is.
                write_sysctl(tb.proxy.netns_path, "net.ipv4.icmp_echo_ignore_all", "1")
            print(
                f"{'size B':>7} {'path':>6} {'ours ms':>9} {'ping ms':>9} {'ratio':>6}"
                f" {'ours p50':>9} {'ping p50':>9} {'ratio':>6}"
            )
            for size in sizes:
                paths: tuple[tuple[PathMode, object], ...] = (
                    ("direct", tb.host_b.address),
                    ("proxy", tb.proxy.address),
                )
                for mode, target in paths:
                    ours: list[float] = []
                    theirs: list[float] = []
                    while len(ours) < args.rounds:
                        turn = min(CHUNK, args.rounds - len(ours))
                        ours += [path.round_trip(size, mode).seconds * 1e3 for _ in range(turn)]
                        path.set_mode(mode)
                        theirs += ping_times_ms(tb.host_a.netns_path, str(target), size, turn)
                    mean, their_mean = statistics.fmean(ours), statistics.fmean(theirs)
                    p50, their_p50 = statistics.median(ours), statistics.median(theirs)
                    print(
                        f"{size:>7} {mode:>6} {mean:>9.3f} {their_mean:>9.3f}"
                        f" {mean / their_mean:>6.2f} {p50:>9.3f} {their_p50:>9.3f}"
                        f" {p50 / their_p50:>6.2f}"
                    )
        finally:
            path.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
