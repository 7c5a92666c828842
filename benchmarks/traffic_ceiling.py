"""The traffic generators' own ceiling on this host: host A's namespace -> veth -> host B's.

Run as root: ``python benchmarks/traffic_ceiling.py [--sizes 64,1518] [--repeats 3]
[--duration 1]``.

No bridge and no proxy between them (``harness.traffic.pair``): what is measured is the
sender, the kernel's veth and host B's receiver, the most any path through a VNF can carry
with these tools here. Each generator runs in two modes: ``paced`` offers a rate no sender
reaches (``search.PROBE_FPS``), which shows the ceiling a search can use as its maximum
(trafgen: its ``--rate`` path, one ``sendto`` per frame; csender: its paced loop); ``unpaced``
asks for all the sender has (trafgen: TX_RING). Every frame is counted at B, so the table
also says whether the receiver kept up (frames lost, and of those, dropped at its socket).
"""

from __future__ import annotations

import argparse
import os
import platform

from pytest_nfv.harness.traffic.generator import UNPACED, Stream
from pytest_nfv.harness.traffic.pair import veth_pair
from pytest_nfv.harness.traffic.registry import make_generator
from pytest_nfv.harness.traffic.search import PROBE_FPS
from pytest_nfv.host.identity import RunIdentity

MODES = (("paced", PROBE_FPS), ("unpaced", UNPACED))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="64,1518", help="frame sizes, B (default: 64,1518)")
    parser.add_argument("--repeats", type=int, default=3, help="trials per cell (default: 3)")
    parser.add_argument("--duration", type=float, default=1.0, help="seconds (default: 1)")
    parser.add_argument("--generators", default="trafgen,csender", help="default: trafgen,csender")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    print(
        f"kernel {platform.release()}, {os.cpu_count()} CPUs, load average "
        + " ".join(f"{x:.2f}" for x in os.getloadavg())
    )
    print()
    print(
        "| generator | mode | frame B | runs (kfps) | min kfps | Mbit/s L1 at min | lost | "
        "of those at B's socket |"
    )
    print("|---|---|---|---|---|---|---|---|")
    notes: list[str] = []
    identity = RunIdentity.new()
    identity.register("traffic")
    try:
        with veth_pair(identity) as (a, b):
            for name in args.generators.split(","):
                generator = make_generator(name, Stream.direct(a, b))
                generator.open()
                notes.append(generator.describe())
                try:
                    for size in sizes:
                        for mode, rate in MODES:
                            trials = [
                                generator.trial(size, rate, args.duration)
                                for _ in range(args.repeats)
                            ]
                            rates = [t.achieved_fps for t in trials]
                            low = min(rates)
                            print(
                                f"| {name} | {mode} | {size} | "
                                + ", ".join(f"{r / 1e3:.0f}" for r in rates)
                                + f" | {low / 1e3:.0f} | {low * (size + 20) * 8 / 1e6:,.0f} | "
                                f"{sum(t.lost for t in trials)} of "
                                f"{sum(t.sent for t in trials)} | "
                                f"{sum(t.count.socket_drops for t in trials)} |"
                            )
                finally:
                    generator.close()
    finally:
        identity.unregister()
    print()
    for note in notes:
        print(f"- {note}")


if __name__ == "__main__":
    main()
