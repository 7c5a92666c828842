"""The NDR/PDR search's own logic, over a generator that is arithmetic, not traffic.

A fake generator is allowed here only: what is checked is how MLRsearch's answers are read
(a ceiling, a loss curve, a generator that falls short), not any sending.
"""

from __future__ import annotations

import pytest

from pytest_nfv.errors import NfvUsageError
from pytest_nfv.harness.traffic.generator import ReceiverCount, Trial
from pytest_nfv.harness.traffic.search import SearchSettings, search_ndr_pdr


class ArithmeticPath:
    """Sends up to ``ceiling`` frames/s; above ``clean_fps`` drops every 100th frame of the
    excess, so its loss grows from 0 towards 1% (0.5% at twice ``clean_fps``)."""

    name = "arithmetic"

    def __init__(self, ceiling: float, clean_fps: float | None = None) -> None:
        self.ceiling = ceiling
        self.clean_fps = clean_fps

    def open(self) -> None:
        pass

    def close(self) -> None:
        pass

    def describe(self) -> str:
        return "arithmetic"

    def trial(self, frame_size: int, offered_fps: float, duration_s: float) -> Trial:
        achieved = min(offered_fps, self.ceiling)
        sent = round(achieved * duration_s)
        lost = 0
        if self.clean_fps is not None and achieved > self.clean_fps:
            lost = (sent - round(self.clean_fps * duration_s)) // 100
        count = ReceiverCount(sent - lost, 0, 0, sent, 0, 0)
        return Trial(self.name, frame_size, offered_fps, duration_s, sent, achieved, count, "")


def test_a_loss_free_path_has_its_ndr_at_the_generator_ceiling_and_says_so() -> None:
    result = search_ndr_pdr(ArithmeticPath(1e6), SearchSettings(64, max_fps=9e5))
    assert result.stopped is None
    assert result.ndr is not None
    assert result.pdr is not None
    assert result.ndr.at_ceiling
    assert result.pdr.at_ceiling
    assert result.ndr.fps == pytest.approx(9e5, rel=0.01)
    assert "at the generator ceiling (a lower bound)" in result.describe()


def test_a_path_dropping_every_100th_frame_above_a_rate_has_its_ndr_below_its_pdr() -> None:
    result = search_ndr_pdr(ArithmeticPath(1e6, clean_fps=2e5), SearchSettings(64, 9e5))
    assert result.ndr is not None
    assert result.pdr is not None
    assert not result.ndr.at_ceiling
    assert not result.pdr.at_ceiling
    assert result.ndr.fps < result.pdr.fps
    assert result.ndr.fps == pytest.approx(2e5, rel=0.02)
    assert result.pdr.fps == pytest.approx(4e5, rel=0.02)  # 0.5% of loss at twice the clean rate
    # Rising durations, final ones of 1 s and repeated; every trial kept for the plot.
    durations = [t.duration_s for t in result.trials]
    assert durations[0] < 1.0
    assert max(durations) == 1.0
    assert durations.count(1.0) >= 2
    assert len(result.points()) == result.trial_count == len(result.trials)
    assert result.ndr.bps_l1 == result.ndr.fps * (64 + 20) * 8
    assert result.ndr.bps_l2 == result.ndr.fps * 64 * 8


def test_a_generator_short_of_the_offered_rate_stops_the_search_with_that_reason() -> None:
    result = search_ndr_pdr(ArithmeticPath(5e5), SearchSettings(64, max_fps=9e5))
    assert result.ndr is None
    assert result.pdr is None
    assert result.stopped == "generator limit: offered 900,000 fps, achieved 500,000 fps"
    assert result.trial_count == 1
    assert result.describe().endswith(result.stopped)


def test_a_short_final_trial_is_refused() -> None:
    with pytest.raises(NfvUsageError, match="1 s at least"):
        SearchSettings(64, 9e5, final_duration_s=0.5)


class StarvedPath(ArithmeticPath):
    """Past ``clean_fps`` the path drops 2% of what it gets and starves the sender: it
    achieves 95% of what it is offered there (a VNF past its limit on the sender's CPU)."""

    def trial(self, frame_size: int, offered_fps: float, duration_s: float) -> Trial:
        assert self.clean_fps is not None
        if offered_fps <= self.clean_fps:
            return super().trial(frame_size, offered_fps, duration_s)
        sent = round(offered_fps * 0.95 * duration_s)
        count = ReceiverCount(sent - sent // 50, 0, 0, sent, 0, 0)
        return Trial(self.name, frame_size, offered_fps, duration_s, sent, sent / duration_s,
                     count, "")  # fmt: skip


def test_a_short_trial_that_lost_more_than_the_pdr_allows_is_an_upper_bound() -> None:
    result = search_ndr_pdr(StarvedPath(1e6, clean_fps=2e5), SearchSettings(64, 9e5))
    assert result.stopped is None
    assert result.ndr is not None
    assert result.pdr is not None
    assert result.ndr.fps == pytest.approx(2e5, rel=0.02)
    assert not result.pdr.at_ceiling
    assert "kept as upper bounds" in result.notes[0]


def test_a_search_below_mlrsearchs_default_minimum_runs() -> None:
    """MLRsearch's own default minimum load is 9001/s: a slow path's whole range lies below."""
    result = search_ndr_pdr(ArithmeticPath(5e3), SearchSettings(64, max_fps=4750, min_fps=500))
    assert result.ndr is not None
    assert result.ndr.at_ceiling
