"""Throughput of Fig. 1's testbed as a suite measures it: repeated NDR/PDR searches.

A round of the throughput figure is one whole search (``search.search_ndr_pdr``) through the
proxy VNF: a search is the unit whose result varies from one to the next (PDR is known to
wobble on virtualised hosts), so the figure's interval is taken over searches, never over
the trials inside one, which MLRsearch chose by looking at each other's results.

Before the first round the generator's ceiling is taken on the same testbed, host A straight
to host B over the switch, no hop between: a search offers at most ``CEILING_MARGIN`` of it,
so that what it finds is the path's limit and not the sender's. A search that still stops at
the generator's limit (the sender fell short of what it was offered, as it does when the
host's CPUs are busy) is searched again once below the rate the sender did achieve, and
says so; a search whose NDR is at its maximum says it is a lower bound (the generator's
limit, not the path's).

The suite records the figure as the time per frame at the NDR (``1 / NDR``): the one shape
a budget, an interval and the regression gate already read the right way round (lower is
better), with the rates themselves (frames/s, bit/s at layer 2 and with the 20 B of layer-1
overhead per frame) beside it in the record.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from pytest_nfv.harness.traffic.generator import L1_OVERHEAD_BYTES, Stream, TrafficGenerator
from pytest_nfv.harness.traffic.loaded import LoadedLatency, latency_under_load
from pytest_nfv.harness.traffic.search import (
    CEILING_MARGIN,
    PDR_LOSS,
    GoalRate,
    SearchResult,
    SearchSettings,
    generator_ceiling,
    search_ndr_pdr,
)
from pytest_nfv.model import Testbed

__all__ = [
    "LOWERED_SEARCHES",
    "GeneratorMaker",
    "ThroughputRounds",
    "rate_info",
    "search_info",
    "suite_search",
]

LOWERED_SEARCHES = 3
"""How often a search that stopped at the generator's limit is tried again, each time below
what the sender last achieved: a sender sharing two CPUs with the VNF reaches less through
the proxy than straight to B, and less again while the host is busy."""

GeneratorMaker = Callable[[Stream], TrafficGenerator]
"""Builds the session's generator (not yet opened) for a stream: registry or plugin hook."""


CEILING_TRIALS = 2
CEILING_TRIAL_S = 0.5
"""The generator's ceiling on the testbed: the least of two half-second unpaced trials."""


def suite_search(frame_size: int, max_fps: float) -> SearchSettings:
    """A suite's search: coarser than a benchmark's, its final trials still 1 s long.

    MLRsearch's goal: the bound a search reports rests on at least one trial of 1 s; its
    ``relative_width`` is 5% rather than 1%, since the searches' spread is far wider than
    that anyway, and one final trial settles a bound (``duration_sum_s``).
    """
    return SearchSettings(
        frame_size=frame_size,
        max_fps=max_fps,
        min_fps=min(1000.0, max_fps / 10),
        initial_duration_s=0.2,
        duration_sum_s=1.0,
        relative_width=0.05,
    )


def rate_info(rate: GoalRate | None) -> dict[str, Any] | None:
    """One goal's rate as JSON-ready fields, or None where the search found none."""
    if rate is None:
        return None
    return {
        "fps": rate.fps,
        "bps_l2": rate.bps_l2,
        "bps_l1": rate.bps_l1,
        "loss_ratio": rate.loss_ratio,
        "at_generator_ceiling": rate.at_ceiling,
        "conditional_fps": rate.conditional_fps,
    }


def search_info(result: SearchResult) -> dict[str, Any]:
    """A search as JSON-ready fields: its rates, why it stopped, and every trial it ran."""
    top = max(result.trials, key=lambda t: t.offered_fps, default=None)
    return {
        "ndr": rate_info(result.ndr),
        "pdr": rate_info(result.pdr),
        "stopped": result.stopped,
        "max_fps": result.max_fps,
        "trial_count": result.trial_count,
        "search_s": round(result.search_s, 3),
        "notes": list(result.notes),
        "top_trial": None
        if top is None
        else {"offered_fps": top.offered_fps, "achieved_fps": top.achieved_fps},
        # (offered, achieved, sent, received) per trial: the rate-vs-loss plot's points
        "trials": [
            [round(t.offered_fps, 1), round(t.achieved_fps, 1), t.sent, t.received]
            for t in result.trials
        ],
    }


@dataclass
class ThroughputRounds:
    """One frame size's searches through the proxy VNF, a search per round.

    Args:
        testbed: Fig. 1's testbed, its proxy VNF forwarding.
        make: the session's generator.
        frame_size: bytes per frame, FCS included.
        settings: a search's settings for a frame size and a maximum rate.
    """

    testbed: Testbed
    make: GeneratorMaker
    frame_size: int
    settings: Callable[[int, float], SearchSettings] = suite_search
    ceiling_fps: float | None = None
    generator: str = ""
    pacing: str = ""
    results: list[SearchResult] = field(default_factory=list)
    loaded: list[LoadedLatency] = field(default_factory=list)

    def take_ceiling(self) -> float:
        """The generator's ceiling on this testbed, A straight to B (taken once).

        Raises:
            TrafficError: a trial failed.
        """
        if self.ceiling_fps is None:
            straight = self.make(Stream.direct(self.testbed.host_a, self.testbed.host_b))
            straight.open()
            try:
                self.generator, self.pacing = straight.name, straight.describe()
                self.ceiling_fps, _ = generator_ceiling(
                    straight,
                    self.frame_size,
                    CEILING_TRIAL_S,
                    CEILING_TRIALS,
                )
            finally:
                straight.close()
        return self.ceiling_fps

    def search(self) -> SearchResult:
        """One search through the proxy VNF (one round); again lower (``LOWERED_SEARCHES``
        times at most) while it stops at the generator's limit.

        A search that still stops there reports what its last trial shows: the path
        forwarded all the sender achieved (NDR) or lost no more than the PDR allows of it
        (PDR), so each is at least that rate, marked at the generator's ceiling (a lower
        bound, the sender's limit, not the path's); ``stopped`` keeps the reason.

        Raises:
            TrafficError: a trial failed (its sender or receiver died or fell silent).
        """
        max_fps = self.take_ceiling() * CEILING_MARGIN
        generator = self.make(Stream.through_proxy(self.testbed))
        generator.open()
        try:
            result = search_ndr_pdr(generator, self.settings(self.frame_size, max_fps))
            for _ in range(LOWERED_SEARCHES):
                if result.stopped is None or not result.trials:
                    break
                lowered = result.trials[-1].achieved_fps * CEILING_MARGIN
                again = search_ndr_pdr(generator, self.settings(self.frame_size, lowered))
                note = f"a search stopped ({result.stopped}); searched again up to "
                note += f"{lowered:,.0f} fps"
                result = SearchResult(
                    again.frame_size,
                    again.generator,
                    again.max_fps,
                    again.ndr,
                    again.pdr,
                    result.trials + again.trials,
                    result.search_s + again.search_s,
                    again.stopped,
                    (*result.notes, note, *again.notes),
                )
        finally:
            generator.close()
        if result.stopped is not None and result.trials:
            result = _at_generator_limit(result)
        self.results.append(result)
        return result

    def under_load(self, round_trip: Callable[[], float]) -> list[LoadedLatency]:
        """Round trips under 10%, 50% and 90% of the mean NDR of the searches so far
        (``loaded.latency_under_load``); none where no search found an NDR.

        Raises:
            TrafficError: a trial failed.
            ProbeError: a round trip got no reply.
        """
        found = [r.ndr.fps for r in self.results if r.ndr is not None]
        if not found:
            return []
        generator = self.make(Stream.through_proxy(self.testbed))
        generator.open()
        try:
            ndr = sum(found) / len(found)
            self.loaded = latency_under_load(generator, round_trip, self.frame_size, ndr)
        finally:
            generator.close()
        return self.loaded

    def record_info(self) -> dict[str, Any]:
        """What the record keeps beside the figure: the generator, its ceiling, every search."""
        return {
            "frame_size": self.frame_size,
            "generator": self.generator,
            "pacing": self.pacing,
            "generator_ceiling_fps": self.ceiling_fps,
            "l1_overhead_bytes": L1_OVERHEAD_BYTES,
            "bit_rates": "bps_l2: the frame, FCS included; bps_l1: plus 20 B per frame of "
            "preamble, start delimiter and inter-frame gap",
            "searches": [search_info(r) for r in self.results],
            "latency_under_load": [taken.info() for taken in self.loaded],
        }

    def summary_note(self) -> str:
        """The rates as a person reads them, per search, for the terminal summary."""

        def rates(pick: Callable[[SearchResult], GoalRate | None]) -> str:
            shown = []
            for result in self.results:
                rate = pick(result)
                if rate is None:
                    shown.append("generator limit" if result.stopped else "none")
                else:
                    shown.append(f"{rate.fps / 1e3:,.1f}" + ("+" if rate.at_ceiling else ""))
            return ", ".join(shown)

        ceiling = f"{self.ceiling_fps / 1e3:,.1f}" if self.ceiling_fps else "?"
        text = f"NDR kfps per search {rates(lambda r: r.ndr)}; PDR {rates(lambda r: r.pdr)}"
        text += f"; generator {self.generator} ceiling {ceiling} kfps"
        if any(r.ndr is not None and r.ndr.at_ceiling for r in self.results):
            text += " (+: at the generator's ceiling, a lower bound)"
        limited = sum(r.stopped is not None for r in self.results)
        if limited:
            text += f"; {limited} search(es) stopped at the generator limit"
        if self.loaded:
            text += "\n      round trips under load (share of NDR): "
            text += "; ".join(taken.describe() for taken in self.loaded)
        return text


def _at_generator_limit(result: SearchResult) -> SearchResult:
    """A stopped search's rates as lower bounds at what its last trial achieved."""
    last = result.trials[-1]

    def bound(loss_ratio: float) -> GoalRate | None:
        if last.loss_ratio > loss_ratio:
            return None
        return GoalRate(loss_ratio, last.achieved_fps, last.frame_size, True, last.achieved_fps)

    return replace(result, ndr=bound(0.0), pdr=bound(PDR_LOSS))
