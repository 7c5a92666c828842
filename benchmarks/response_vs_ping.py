"""Response time by packet size: pytest-nfv's probe next to iputils ping on the same paths.

Run as root: ``python benchmarks/response_vs_ping.py [--rounds 200] [--sizes 64,1472,...]
[--backend netns|coreos] [--cpus auto|off|PATH,PROBER] [--echo auto|udp|icmp]``.

All tools run from host A of one testbed (netns by default; coreos: containers on a Docker
network, the proxy VNF being the iptables rules), interleaved size by size, so they see the
same host conditions. Two paths: *direct* (the proxy's hop forwards in the kernel) and
*proxy* (the Algorithm 1 VNF forwards). Three requesters take turns of 25 requests each:
ours as the suites time it (``ProxyPath``, with ``--echo`` as ``--nfv-echo``: on netns ICMP
echo that host B's kernel answers, on coreos UDP to B's responder), ours over UDP to host B's
echo responder beside it (so the user-space responder's share stays visible), and ping. Ours
are kernel-timestamped at both ends, ping's as it prints them. Each figure is given as the
mean and the median of the replies' round trips; on a shared host the median is the one a
descheduled round does not move.

The harness's CPU plan (``host.cpus``) applies as in a suite run: host A's requester, B's
responder, the proxy VNF -- and ping, launched the same way -- share the path's CPU.
"""

from __future__ import annotations

import argparse
import re
import statistics
import subprocess

from pytest_nfv.backends.coreos.backend import CoreosBackend
from pytest_nfv.backends.netns.backend import NetnsBackend
from pytest_nfv.backends.shared.responder import launch_helper
from pytest_nfv.harness.lab import Lab
from pytest_nfv.harness.probes.icmp import EchoProber
from pytest_nfv.harness.probes.response import ECHO_METHODS, RoundTrip
from pytest_nfv.harness.proxy_path import ProxyPath
from pytest_nfv.host.cpus import configure, harness_cpus, pinned_thread, plan_cpus
from pytest_nfv.host.identity import RunIdentity
from pytest_nfv.model import ECHO_CHOICES, PathMode

_TIME = re.compile(r"time=([\d.]+) ms")
CHUNK = 25
"""Requests per turn: ours and ping alternate in turns this long, so both see the same host."""


def ping_times_ms(netns_path: str, target: str, size: int, count: int) -> list[float]:
    """Each reply's round trip as ping prints it (ms, to the microsecond)."""
    proc = launch_helper(
        ["ping", "-n", "-c", str(count), "-i", "0.002", "-W", "1", "-s", str(size), target],
        netns_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    out, _ = proc.communicate(timeout=120)
    times = [float(t) for t in _TIME.findall(out.decode())]
    if not times:
        raise RuntimeError(f"ping printed no reply: {out.decode()[-300:]}")
    return times


def udp_time_ms(path: ProxyPath, udp: RoundTrip, size: int, mode: PathMode) -> float:
    """Our requester over UDP on ``mode``'s path, B's echo responder answering."""
    path.set_mode(mode)
    tb = path.testbed
    target = tb.proxy.address if mode == "proxy" else tb.host_b.address
    replier = tb.replier(tb.host_b, through_proxy=mode == "proxy")
    with pinned_thread(harness_cpus().path):
        return udp.measure(target, tb.echo_port, size, replier.address).seconds * 1e3


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--sizes", default="64,256,1024,1472,4096,16384,65507")
    parser.add_argument("--backend", choices=("netns", "coreos"), default="netns")
    parser.add_argument("--cpus", default="auto", help="auto, off, or PATH,PROBER")
    parser.add_argument("--echo", choices=ECHO_CHOICES, default="auto", help="as --nfv-echo")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    configure(plan_cpus(args.cpus))
    print(f"CPUs: {harness_cpus().describe()}")
    kind = CoreosBackend if args.backend == "coreos" else NetnsBackend
    with kind(RunIdentity.new()) as backend, EchoProber(backend.probe_netns) as prober:
        path = ProxyPath(Lab(backend, prober, 30), echo=args.echo)
        tb = path.testbed
        udp = RoundTrip(tb.host_a.netns_path, "udp")
        ours = path.protocol.upper()
        try:
            # On netns the proxy's own namespace ignores echo (the backend sets it), so ping's
            # replies through the proxy are B's, carried by the VNF both ways, as ours are.
            print(f"ours ({ours}): {ECHO_METHODS[path.protocol]}, as the suites time it")
            print(
                f"{'size B':>7} {'path':>6} | {ours:>6} {'UDP':>6} {'ping':>6} | "
                f"{ours + ' p50':>8} {'UDP p50':>7} {'ping p50':>8} | "
                f"{ours + '/ping':>9} {'UDP/ping':>8}"
            )
            for size in sizes:
                paths: tuple[tuple[PathMode, object], ...] = (
                    ("direct", tb.host_b.address),
                    ("proxy", tb.proxy.address),
                )
                for mode, target in paths:
                    timed: list[float] = []
                    beside: list[float] = []
                    theirs: list[float] = []
                    while len(timed) < args.rounds:
                        turn = min(CHUNK, args.rounds - len(timed))
                        timed += [path.round_trip(size, mode).seconds * 1e3 for _ in range(turn)]
                        beside += [udp_time_ms(path, udp, size, mode) for _ in range(turn)]
                        path.set_mode(mode)
                        theirs += ping_times_ms(tb.host_a.netns_path, str(target), size, turn)
                    means = [statistics.fmean(x) for x in (timed, beside, theirs)]
                    p50s = [statistics.median(x) for x in (timed, beside, theirs)]
                    print(
                        f"{size:>7} {mode:>6} | "
                        + " ".join(f"{m:>6.3f}" for m in means)
                        + f" | {p50s[0]:>8.3f} {p50s[1]:>7.3f} {p50s[2]:>8.3f} | "
                        f"{p50s[0] / p50s[2]:>9.2f} {p50s[1] / p50s[2]:>8.2f}"
                    )
        finally:
            udp.close()
            path.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
