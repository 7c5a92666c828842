"""Round trips through the proxy VNF while it forwards a load: latency under load.

A VNF that keeps up with a stream may still hold each frame longer as its queue fills, so
the NDR alone does not say what a request meets at that rate. Here the generator offers a
share of the NDR just found (10%, 50% and 90% by default) for one trial, and host A's
requester interleaves its round trips (the monitoring suite's UDP or ICMP echo) with that
stream through the same proxy, one at a time until the trial ends. Their p50, p99 and
maximum are the figure; the trial's own loss stands beside them, so a share whose stream
lost frames is not read as a quiet path.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from pytest_nfv.harness.stats import quantile
from pytest_nfv.harness.traffic.generator import TrafficGenerator, Trial

__all__ = ["LOAD_SHARES", "LoadedLatency", "latency_under_load"]

LOAD_SHARES: tuple[float, ...] = (0.1, 0.5, 0.9)
"""Shares of the NDR the round trips are taken under."""
SETTLE_S = 0.1
"""The stream runs this long before the first round trip, so none is timed on an idle path."""


@dataclass(frozen=True)
class LoadedLatency:
    """Round trips taken under one share of the NDR, and the trial that loaded the path."""

    share: float
    trial: Trial
    round_trips_s: tuple[float, ...]

    def info(self) -> dict[str, Any]:
        """JSON-ready fields: the load, its loss, and the round trips' p50, p99 and maximum."""
        ordered = sorted(self.round_trips_s)
        return {
            "share_of_ndr": self.share,
            "offered_fps": self.trial.offered_fps,
            "achieved_fps": self.trial.achieved_fps,
            "loss_ratio": self.trial.loss_ratio,
            "n": len(ordered),
            "p50_s": quantile(ordered, 0.5) if ordered else None,
            "p99_s": quantile(ordered, 0.99) if ordered else None,
            "max_s": ordered[-1] if ordered else None,
        }

    def describe(self) -> str:
        """``50%: p50/p99/max 80/210/450 us n=96`` for the terminal summary."""
        info = self.info()
        if not info["n"]:
            return f"{self.share:.0%}: no round trip"
        shown = "/".join(f"{info[k] * 1e6:,.0f}" for k in ("p50_s", "p99_s", "max_s"))
        return f"{self.share:.0%}: p50/p99/max {shown} us n={info['n']}"


def latency_under_load(
    generator: TrafficGenerator,
    round_trip: Callable[[], float],
    frame_size: int,
    ndr_fps: float,
    shares: Sequence[float] = LOAD_SHARES,
    duration_s: float = 1.0,
) -> list[LoadedLatency]:
    """Round trips interleaved with a stream at each share of ``ndr_fps``.

    Args:
        generator: an opened generator sending through the proxy VNF.
        round_trip: one timed request through the same proxy; seconds.
        frame_size: the stream's frame size.
        ndr_fps: the NDR found for that size.
        shares: shares of ``ndr_fps`` to load the path with.
        duration_s: each trial's length.

    Raises:
        TrafficError: a trial failed.
        ProbeError: a round trip got no reply.
    """
    taken = []
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="nfv-load") as pool:
        for share in shares:
            ends = time.monotonic() + duration_s  # the sender's grace after it is no load
            sending = pool.submit(generator.trial, frame_size, share * ndr_fps, duration_s)
            time.sleep(SETTLE_S)
            seconds = []
            while not sending.done() and time.monotonic() < ends:
                seconds.append(round_trip())
            taken.append(LoadedLatency(share, sending.result(), tuple(seconds)))
    return taken
