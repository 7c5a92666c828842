"""How the throughput suite's rounds read a search: the ceiling first, a search again below a
generator that fell short, and what the record and the summary say.

The generator here is arithmetic (allowed in a unit test only): the sender reaches
``ceiling`` frames/s straight to B, and only ``proxied_ceiling`` through the proxy (the CPU
it shares with the VNF), while the path drops every 100th frame above ``clean_fps``.
"""

from __future__ import annotations

import ipaddress
import time

import pytest

from pytest_nfv import model
from pytest_nfv.harness.traffic.generator import ReceiverCount, Stream, Trial
from pytest_nfv.harness.traffic.loaded import latency_under_load
from pytest_nfv.harness.traffic.search import CEILING_MARGIN
from pytest_nfv.harness.traffic.throughput import ThroughputRounds


def endpoint(name: str, last: int) -> model.Endpoint:
    return model.Endpoint(
        name, ipaddress.IPv4Address(f"10.9.0.{last}"), f"02:00:00:00:00:{last:02x}", ""
    )


TESTBED = model.Testbed(
    endpoint("a", 1), endpoint("b", 2), endpoint("b2", 3), endpoint("proxy", 4), echo_port=7
)


class ArithmeticGenerator:
    name = "arithmetic"

    def __init__(self, stream: Stream, ceiling: float, proxied: float, clean: float) -> None:
        straight = stream.destination == TESTBED.host_b.address
        self.ceiling = ceiling if straight else proxied
        self.clean = clean

    def open(self) -> None:
        pass

    def close(self) -> None:
        pass

    def describe(self) -> str:
        return "arithmetic, smooth"

    def trial(self, frame_size: int, offered_fps: float, duration_s: float) -> Trial:
        achieved = min(offered_fps, self.ceiling)
        sent = round(achieved * duration_s)
        lost = max(0, sent - round(self.clean * duration_s)) // 100
        count = ReceiverCount(sent - lost, 0, 0, sent, 0, 0)
        return Trial(self.name, frame_size, offered_fps, duration_s, sent, achieved, count, "")


def rounds(ceiling: float, proxied: float, clean: float) -> ThroughputRounds:
    return ThroughputRounds(
        TESTBED, lambda stream: ArithmeticGenerator(stream, ceiling, proxied, clean), 64
    )


def test_the_search_offers_at_most_the_margin_below_the_generator_ceiling() -> None:
    measured = rounds(2e5, 2e5, 5e4)
    result = measured.search()
    assert measured.ceiling_fps == pytest.approx(2e5)
    assert result.max_fps == pytest.approx(2e5 * CEILING_MARGIN)
    assert result.ndr is not None
    assert result.pdr is not None
    assert result.ndr.fps < result.pdr.fps
    assert result.ndr.fps == pytest.approx(5e4, rel=0.06)


def test_a_sender_short_through_the_proxy_is_searched_again_below_what_it_achieved() -> None:
    measured = rounds(2e5, 1e5, 1e6)
    result = measured.search()
    assert result.stopped is None
    assert result.ndr is not None
    assert result.ndr.at_ceiling
    assert result.max_fps == pytest.approx(1e5 * CEILING_MARGIN)
    assert any("generator limit" in note for note in result.notes)
    info = measured.record_info()
    assert info["generator_ceiling_fps"] == pytest.approx(2e5)
    (search,) = info["searches"]
    assert search["ndr"]["at_generator_ceiling"] is True
    assert search["trials"][0][:2] == [pytest.approx(1.9e5), pytest.approx(1e5)]
    assert search["ndr"]["bps_l1"] == search["ndr"]["fps"] * 84 * 8
    assert "at the generator's ceiling" in measured.summary_note()


def test_the_summary_note_lists_every_search() -> None:
    measured = rounds(2e5, 2e5, 5e4)
    measured.search()
    measured.search()
    note = measured.summary_note()
    assert note.startswith("NDR kfps per search ")
    assert note.split(";")[0].count(",") == 1
    assert "ceiling 200.0 kfps" in note


class SleepingGenerator(ArithmeticGenerator):
    """Takes as long as a trial would, so round trips interleave with it."""

    def trial(self, frame_size: int, offered_fps: float, duration_s: float) -> Trial:
        time.sleep(duration_s)
        return super().trial(frame_size, offered_fps, duration_s)


def test_round_trips_interleave_with_a_stream_at_each_share_of_the_ndr() -> None:
    generator = SleepingGenerator(Stream.through_proxy(TESTBED), 1e6, 1e6, 1e6)
    calls = []

    def round_trip() -> float:
        calls.append(time.monotonic())
        time.sleep(0.01)
        return 1e-4 * len(calls)

    taken = latency_under_load(generator, round_trip, 64, 5e4, duration_s=0.3)
    assert [t.share for t in taken] == [0.1, 0.5, 0.9]
    assert [t.trial.offered_fps for t in taken] == [pytest.approx(5e3), 2.5e4, 4.5e4]
    for loaded in taken:
        info = loaded.info()
        assert 5 <= info["n"] <= 25  # only while the stream runs, after it settled
        assert info["p50_s"] <= info["p99_s"] <= info["max_s"]
        assert loaded.describe().startswith(f"{loaded.share:.0%}: p50/p99/max ")


def test_a_search_stopped_at_the_generator_limit_every_time_reports_lower_bounds() -> None:
    """Through the proxy the sender reaches only 30% of its straight ceiling, and each try
    below what it achieved falls short again (it achieves 90% of whatever it is offered)."""

    class Starved(ArithmeticGenerator):
        def trial(self, frame_size: int, offered_fps: float, duration_s: float) -> Trial:
            if self.ceiling == 2e5:  # straight to B: the ceiling
                return super().trial(frame_size, offered_fps, duration_s)
            sent = round(offered_fps * 0.9 * duration_s)
            count = ReceiverCount(sent, 0, 0, sent, 0, 0)
            return Trial("starved", frame_size, offered_fps, duration_s, sent, sent / duration_s,
                         count, "")  # fmt: skip

    measured = ThroughputRounds(TESTBED, lambda stream: Starved(stream, 2e5, 6e4, 1e9), 64)
    result = measured.search()
    assert result.stopped is not None
    assert result.stopped.startswith("generator limit")
    assert result.ndr is not None
    assert result.pdr is not None
    assert result.ndr.at_ceiling
    assert result.ndr.fps == result.trials[-1].achieved_fps
    assert len(result.notes) == 3  # searched again lower three times
    assert "1 search(es) stopped at the generator limit" in measured.summary_note()
