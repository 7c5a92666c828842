"""NDR and PDR of a path, found by MLRsearch (FD.io CSIT's, from PyPI) over one generator.

One search finds both: the no-drop rate (loss 0) and the partial-drop rate (loss at most
``pdr_loss``, 0.5% by default), each as the relevant lower bound MLRsearch settles on. Its
early trials are short, its final ones last ``final_duration_s`` (1 s at least) and are
repeated until their durations add up to ``duration_sum_s``, as MLRsearch decides.

Two things the search itself would get wrong are caught here:

- A generator that could not send what it was offered: a trial whose achieved rate fell
  below ``achieved_floor`` of the offered one, and which lost no more than the PDR allows,
  stops the search at once, with "generator limit: offered X, achieved Y", and no NDR or
  PDR: it cannot vouch for the rate it was offered, and a bound taken from it would be the
  generator's ceiling taken for the path's. A short trial that lost more than the PDR allows
  is kept, as a failure at the offered rate: the path lost that much at a lower rate already,
  and loss only grows with the load (on two CPUs a VNF past its limit starves the sender).
- A path loss-free up to ``max_fps``: MLRsearch then finds no upper bound, and the NDR is
  reported with ``at_ceiling`` set: it is a lower bound, the most this generator could offer,
  not the path's limit.

Rates are frames per second; bit rates are given both at layer 2 (the frame, FCS included)
and at layer 1 (plus 20 B of preamble and inter-frame gap per frame).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pytest_nfv.errors import BackendUnavailable, NfvUsageError
from pytest_nfv.harness.traffic.generator import L1_OVERHEAD_BYTES, TrafficGenerator, Trial

__all__ = [
    "CEILING_MARGIN",
    "PDR_LOSS",
    "PROBE_FPS",
    "GoalRate",
    "SearchResult",
    "SearchSettings",
    "generator_ceiling",
    "search_ndr_pdr",
]

PROBE_FPS = 1e8
"""A rate no software sender reaches: offered, it makes a generator show its paced ceiling."""
PDR_LOSS = 0.005
"""The loss ratio a PDR allows unless a search says otherwise: 0.5%, as NFVbench and CSIT."""
CEILING_MARGIN = 0.95
"""Below its ceiling a search's maximum stays, so a generator's own jitter near its limit
does not stop a search the path would have let through."""


@dataclass(frozen=True)
class SearchSettings:
    """How one search runs.

    Args:
        frame_size: bytes per frame, FCS included.
        max_fps: the highest rate offered: the generator's ceiling (``generator_ceiling``),
            or less.
        min_fps: the lowest rate offered; a path that loses frames even there has no NDR.
        pdr_loss: the loss ratio the PDR allows.
        initial_duration_s: the first trials' duration.
        final_duration_s: the final trials' duration (1 s at least).
        duration_sum_s: how many seconds of final trials settle a bound (repeats).
        relative_width: how close the lower and upper bounds must come, relative.
        achieved_floor: the share of the offered rate a generator must achieve.
        search_max_s: the search gives up (an error) after this long.
        warmup_s: a first trial at ``max_fps`` whose result is not used (0: none).
    """

    frame_size: int
    max_fps: float
    min_fps: float = 1000.0
    pdr_loss: float = PDR_LOSS
    initial_duration_s: float = 0.25
    final_duration_s: float = 1.0
    duration_sum_s: float = 3.0
    relative_width: float = 0.01
    achieved_floor: float = 0.99
    search_max_s: float = 600.0
    warmup_s: float = 0.0

    def __post_init__(self) -> None:
        if self.final_duration_s < 1.0:
            raise NfvUsageError(f"final trials last 1 s at least, not {self.final_duration_s}")
        if not 0 < self.min_fps < self.max_fps:
            raise NfvUsageError(f"rates: need 0 < min {self.min_fps} < max {self.max_fps}")
        if not 0 < self.pdr_loss < 1:
            raise NfvUsageError(f"PDR loss ratio {self.pdr_loss}: expected 0 < ratio < 1")


@dataclass(frozen=True)
class GoalRate:
    """One goal's rate: the relevant lower bound MLRsearch found, in frames/s and bit/s."""

    loss_ratio: float
    fps: float
    frame_size: int
    at_ceiling: bool
    """No rate up to the search's maximum lost more than allowed: a lower bound only."""
    conditional_fps: float
    """MLRsearch's conditional throughput: the forwarded rate at that bound."""

    @property
    def bps_l2(self) -> float:
        """Bits per second of the frames themselves (FCS included)."""
        return self.fps * self.frame_size * 8

    @property
    def bps_l1(self) -> float:
        """Bits per second on a wire: each frame plus 20 B of preamble and gap."""
        return self.fps * (self.frame_size + L1_OVERHEAD_BYTES) * 8


@dataclass(frozen=True)
class SearchResult:
    """A search's outcome: NDR and PDR, or why there are none; every trial it ran."""

    frame_size: int
    generator: str
    max_fps: float
    ndr: GoalRate | None
    pdr: GoalRate | None
    trials: tuple[Trial, ...]
    search_s: float
    stopped: str | None = None
    """Why the search stopped without rates (a generator limit), else None."""
    notes: tuple[str, ...] = field(default=())

    @property
    def trial_count(self) -> int:
        return len(self.trials)

    def points(self) -> list[tuple[float, float]]:
        """(offered frames/s, loss ratio) of every trial, in order: a rate-vs-loss plot."""
        return [(t.offered_fps, t.loss_ratio) for t in self.trials]

    def describe(self) -> str:
        """One line for a log or a report."""
        head = f"{self.frame_size} B, {self.generator}, {self.trial_count} trials in "
        head += f"{self.search_s:.1f} s: "
        if self.stopped is not None:
            return head + self.stopped
        parts = []
        for label, rate in (("NDR", self.ndr), ("PDR", self.pdr)):
            if rate is None:
                parts.append(f"{label}: none, the path lost too much at the minimum rate")
                continue
            text = f"{label} {rate.fps:,.0f} fps ({rate.bps_l2 / 1e6:,.1f} Mbit/s L2, "
            text += f"{rate.bps_l1 / 1e6:,.1f} Mbit/s L1)"
            if rate.at_ceiling:
                text += " at the generator ceiling (a lower bound)"
            parts.append(text)
        return head + "; ".join(parts)


class _GeneratorLimit(Exception):
    """Raised inside MLRsearch's loop to stop it: the generator fell short."""

    def __init__(self, trial: Trial) -> None:
        super().__init__(
            f"generator limit: offered {trial.offered_fps:,.0f} fps, "
            f"achieved {trial.achieved_fps:,.0f} fps"
        )
        self.trial = trial


def search_ndr_pdr(
    generator: TrafficGenerator,
    settings: SearchSettings,
    debug: Callable[[str], None] | None = None,
) -> SearchResult:
    """Find the NDR and PDR of the path ``generator`` sends through.

    Args:
        generator: an opened generator; every trial goes through it.
        settings: the frame size, the rate range and MLRsearch's goals.
        debug: called with MLRsearch's progress lines (None: nowhere).

    Raises:
        BackendUnavailable: the MLRsearch package is not installed.
        TrafficError: a trial failed (its sender or receiver died or hung).
    """
    mlr = _mlrsearch()
    trials: list[Trial] = []
    short_but_lossy: list[Trial] = []

    class Measurer(mlr.AbstractMeasurer):  # type: ignore[misc, name-defined]
        def measure(self, intended_duration: float, intended_load: float) -> Any:
            trial = generator.trial(settings.frame_size, intended_load, intended_duration)
            trials.append(trial)
            if trial.short_of_offered(settings.achieved_floor):
                if trial.loss_ratio <= settings.pdr_loss:
                    raise _GeneratorLimit(trial)
                short_but_lossy.append(trial)
            # Loss against what was sent: no intended count, so nothing unsent is loss.
            return mlr.MeasurementResult(
                intended_duration=intended_duration,
                intended_load=intended_load,
                offered_count=trial.sent,
                forwarding_count=min(trial.received, trial.sent),
                offered_duration=max(intended_duration, trial.sent / trial.achieved_fps)
                if trial.achieved_fps
                else intended_duration,
            )

    goals = [_goal(mlr, settings, 0.0), _goal(mlr, settings, settings.pdr_loss)]
    config = mlr.Config()
    config.goals = goals
    # min first: MLRsearch checks each against the other's current value, and its default
    # min_load is above a slow path's whole range
    config.min_load = settings.min_fps
    config.max_load = settings.max_fps
    config.search_duration_max = settings.search_max_s
    config.warmup_duration = settings.warmup_s or None
    started = time.monotonic()
    try:
        results = mlr.MultipleLossRatioSearch(config=config).search(
            measurer=Measurer(), debug=debug or (lambda _line: None)
        )
    except _GeneratorLimit as limit:
        return SearchResult(
            settings.frame_size,
            generator.name,
            settings.max_fps,
            None,
            None,
            tuple(trials),
            time.monotonic() - started,
            str(limit),
        )
    elapsed = time.monotonic() - started
    ndr, pdr = (_rate(results[goal], goal.loss_ratio, settings) for goal in goals)
    notes: tuple[str, ...] = ()
    if short_but_lossy:
        notes = (
            f"{len(short_but_lossy)} trial(s) fell short of the offered rate but lost more "
            "than the PDR allows: kept as upper bounds (loss only grows with the load)",
        )
    return SearchResult(
        settings.frame_size,
        generator.name,
        settings.max_fps,
        ndr,
        pdr,
        tuple(trials),
        elapsed,
        notes=notes,
    )


def generator_ceiling(
    generator: TrafficGenerator, frame_size: int, duration_s: float = 1.0, repeats: int = 3
) -> tuple[float, list[Trial]]:
    """The least of ``repeats`` paced trials' achieved rates at ``PROBE_FPS``; the trials.

    Taken on the path the generator sends through: on a direct pair (``pair.veth_pair``) it
    is the generator's own ceiling; a search's ``max_fps`` is best set to ``CEILING_MARGIN``
    of it.

    Raises:
        TrafficError: a trial failed.
    """
    trials = [generator.trial(frame_size, PROBE_FPS, duration_s) for _ in range(repeats)]
    return min(t.achieved_fps for t in trials), trials


def _mlrsearch() -> Any:
    try:
        import MLRsearch
    except ImportError as exc:
        raise BackendUnavailable(
            "the NDR/PDR search needs the MLRsearch package (pip install MLRsearch==1.2.1)"
        ) from exc
    return MLRsearch


def _goal(mlr: Any, settings: SearchSettings, loss_ratio: float) -> Any:
    return mlr.SearchGoal(
        loss_ratio=loss_ratio,
        exceed_ratio=0.5,
        relative_width=settings.relative_width,
        initial_trial_duration=settings.initial_duration_s,
        final_trial_duration=settings.final_duration_s,
        duration_sum=settings.duration_sum_s,
        preceding_targets=2,
        expansion_coefficient=2,
        fail_fast=False,
    )


def _rate(result: Any, loss_ratio: float, settings: SearchSettings) -> GoalRate | None:
    lower = result.relevant_lower_bound
    if lower is None:
        return None
    throughput = result.conditional_throughput
    return GoalRate(
        loss_ratio,
        float(lower),
        settings.frame_size,
        result.relevant_upper_bound is None,
        float(throughput) if throughput is not None else float(lower),
    )
