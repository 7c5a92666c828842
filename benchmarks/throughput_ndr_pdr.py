"""NDR and PDR through the proxy VNF, beside the same hop forwarded by the kernel.

Run as root on an idle host (coreos: with dockerd up)::

    python benchmarks/throughput_ndr_pdr.py --backend netns [--sizes 64,512,1518,imix] [--repeats 3]
        [--generator csender]

Fig. 1's testbed of the backend (host A, the proxy VNF, host B). Per frame size, first the
generator's ceiling on this testbed: A straight to B over the switch, no hop between
(``search.generator_ceiling``). Then, ``--repeats`` times and interleaved, MLRsearch's NDR
(loss 0) and PDR (loss at most 0.5%) on two paths, each offered at most 95% of that ceiling:

- **proxy**: frames addressed to the proxy, which the VNF rewrites to B (Algorithm 1);
- **direct**: frames addressed to B through the proxy's hop, forwarded by its kernel with the
  VNF paused (the backend's ``set_path(testbed, "direct")``).

Their ratio is the VNF's share, measured side by side. A path that stays loss-free up to the
maximum reports its NDR "at the ceiling": a lower bound, the generator's limit, not the path's.
Rates are frames per second; bit rates count the frame (FCS included) and, as "L1", 20 B more
per frame of preamble and gap. ``imix`` is the simple IMIX (7:4:1 frames of 64, 570 and
1518 B, sent in turn by ``csender-imix``), its rates reckoned at its mean frame (354 B). It
measures; it judges nothing.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics

from pytest_nfv.backends import make_builtin
from pytest_nfv.backends.base import BackendSettings, ProbeInterval
from pytest_nfv.harness.lab import Lab
from pytest_nfv.harness.probes.icmp import EchoProber
from pytest_nfv.harness.proxy_path import ProxyPath
from pytest_nfv.harness.traffic.generator import SIMPLE_IMIX, Stream, mix_mean
from pytest_nfv.harness.traffic.registry import make_generator
from pytest_nfv.harness.traffic.search import (
    CEILING_MARGIN,
    SearchResult,
    SearchSettings,
    generator_ceiling,
    search_ndr_pdr,
)
from pytest_nfv.host.identity import RunIdentity
from pytest_nfv.model import PathMode, Testbed


def streams(testbed: Testbed) -> dict[str, Stream]:
    """The straight stream (the ceiling) and the two paths through the hop."""
    proxy = Stream.through_proxy(testbed)
    direct = Stream(testbed.host_a, testbed.host_b.address, testbed.proxy.mac, testbed.host_b)
    return {"straight": Stream.direct(testbed.host_a, testbed.host_b), "proxy": proxy,
            "direct": direct}  # fmt: skip


def kfps(result: SearchResult, goal: str) -> str:
    rate = result.ndr if goal == "ndr" else result.pdr
    if rate is None:
        return f"none ({result.stopped})" if result.stopped else "none"
    return f"{rate.fps / 1e3:.1f}" + (" (at ceiling)" if rate.at_ceiling else "")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--backend", default="netns")
    parser.add_argument(
        "--sizes",
        default="64,512,1518,imix",
        help="frame sizes, B, or imix (default: 64,512,1518,imix)",
    )
    parser.add_argument("--repeats", type=int, default=3, help="searches per path and size")
    parser.add_argument("--generator", default="csender", help="default: csender")
    parser.add_argument("--final-seconds", type=float, default=1.0, help="final trials, s")
    args = parser.parse_args()
    sizes = [
        (s, args.generator) if s != "imix" else (s, "csender-imix") for s in args.sizes.split(",")
    ]
    print(
        f"kernel {platform.release()}, {os.cpu_count()} CPUs, load average "
        + " ".join(f"{x:.2f}" for x in os.getloadavg())
    )
    backend = make_builtin(args.backend, RunIdentity.new(), BackendSettings())
    assert backend is not None, args.backend
    backend.open()
    rows: list[str] = []
    try:
        interval = (backend.probe_interval_s,) if isinstance(backend, ProbeInterval) else ()
        with EchoProber(backend.probe_netns, *interval) as prober:
            path = ProxyPath(Lab(backend, prober, boot_timeout_s=600))
            try:
                by_path = streams(path.testbed)
                for label, generator_name in sizes:
                    size = mix_mean(SIMPLE_IMIX) if label == "imix" else int(label)
                    straight = make_generator(generator_name, by_path["straight"])
                    straight.open()
                    try:
                        ceiling, _ = generator_ceiling(straight, size)
                    finally:
                        straight.close()
                    settings = SearchSettings(
                        frame_size=size,
                        max_fps=ceiling * CEILING_MARGIN,
                        final_duration_s=args.final_seconds,
                    )
                    results: dict[str, list[SearchResult]] = {"proxy": [], "direct": []}
                    for _ in range(args.repeats):
                        for name in ("proxy", "direct"):
                            mode: PathMode = "direct" if name == "direct" else "proxy"
                            backend.set_path(path.testbed, mode)
                            generator = make_generator(generator_name, by_path[name])
                            generator.open()
                            try:
                                results[name].append(search_ndr_pdr(generator, settings))
                            finally:
                                generator.close()
                    backend.set_path(path.testbed, "proxy")
                    rows += _rows(args.backend, label, size, ceiling, results)
            finally:
                path.close()
    finally:
        backend.close()
    print()
    print(
        "| backend | frame B | ceiling kfps | path | NDR kfps per search | PDR kfps per search "
        "| NDR mean | PDR mean | NDR Mbit/s L1 | trials | search s |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    print("\n".join(rows))


def _rows(
    backend: str, label: str, size: int, ceiling: float, results: dict[str, list[SearchResult]]
) -> list[str]:
    rows = []
    for name, found in results.items():
        ndr = [r.ndr.fps for r in found if r.ndr is not None]
        pdr = [r.pdr.fps for r in found if r.pdr is not None]
        ndr_mean = statistics.fmean(ndr) if ndr else float("nan")
        rows.append(
            f"| {backend} | {label} | {ceiling / 1e3:.1f} | {name} | "
            + ", ".join(kfps(r, "ndr") for r in found)
            + " | "
            + ", ".join(kfps(r, "pdr") for r in found)
            + f" | {ndr_mean / 1e3:.1f} | "
            + (f"{statistics.fmean(pdr) / 1e3:.1f}" if pdr else "-")
            + f" | {ndr_mean * (size + 20) * 8 / 1e6:,.1f} | "
            + ", ".join(str(r.trial_count) for r in found)
            + " | "
            + ", ".join(f"{r.search_s:.0f}" for r in found)
            + " |"
        )
    return rows


if __name__ == "__main__":
    main()
