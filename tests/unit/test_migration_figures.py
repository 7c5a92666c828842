"""The figures of a migration round: the stream's gaps and QEMU's report, reduced."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pytest_nfv.backends.osv.migration import QEMU_NS, incoming_xml, live_figures
from pytest_nfv.errors import BackendError, ProbeError
from pytest_nfv.harness.migration import stream_view
from pytest_nfv.harness.probes.stream import StreamLog

_MS = 1_000_000


def _log(replied: list[int], sent: int = 10, interval_ms: int = 5) -> StreamLog:
    log = StreamLog(interval_ms / 1e3)
    log.sent_ns = {k: k * interval_ms * _MS for k in range(sent)}
    log.replied_ns = {k: k * interval_ms * _MS + _MS for k in replied}
    return log


def test_the_longest_gap_spans_the_lost_replies() -> None:
    view = stream_view(_log([0, 1, 2, 7, 8, 9]))
    assert (view.sent, view.lost) == (10, 4)
    assert view.longest_gap_s == pytest.approx(0.025)
    assert view.silence_s == pytest.approx(0.020)
    assert view.gaps[0] == pytest.approx((0.001, 0.001))


def test_a_stream_without_replies_is_no_figure() -> None:
    with pytest.raises(ProbeError, match="none of the probe stream's 10 requests"):
        stream_view(_log([]))
    with pytest.raises(ProbeError, match="sent nothing"):
        stream_view(StreamLog(0.005))


@given(st.sets(st.integers(0, 49), min_size=1))
def test_gaps_add_up_to_the_last_reply(replied: set[int]) -> None:
    view = stream_view(_log(sorted(replied), sent=50))
    assert view.lost == 50 - len(replied)
    assert sum(gap for _t, gap in view.gaps) == pytest.approx(view.gaps[-1][0])
    assert view.longest_gap_s >= 0.001


def test_the_destination_waits_for_the_state() -> None:
    root = ET.fromstring(incoming_xml("<domain type='qemu'><name>x</name></domain>"))
    args = [arg.get("value") for arg in root.iter(f"{{{QEMU_NS}}}arg")]
    assert args == ["-incoming", "defer"]


def test_qemu_report_in_seconds_and_bytes() -> None:
    info = {
        "status": "completed",
        "total-time": 631,
        "downtime": 234,
        "setup-time": 1,
        "ram": {"transferred": 65521228, "dirty-sync-count": 3},
    }
    figures = live_figures(info, {"downtime-limit": 300, "max-bandwidth": 134217728})
    assert figures["total_s"] == pytest.approx(0.631)
    assert figures["downtime_s"] == pytest.approx(0.234)
    assert (figures["transferred_bytes"], figures["iterations"]) == (65521228, 3)
    assert figures["settings"] == {"downtime-limit": "300", "max-bandwidth": "134217728"}
    with pytest.raises(BackendError, match="lacks its figures"):
        live_figures({"status": "completed"}, {})
