"""A saved round-trip figure's distribution is read back and shown on the HTML page."""

from __future__ import annotations

from typing import Any

from pytest_nfv.analysis.history import run_from_json
from pytest_nfv.analysis.page import render_page
from pytest_nfv.record import read_benchmark


def _bench(percentiles: Any) -> dict[str, Any]:
    info: dict[str, Any] = {
        "backend": "netns",
        "requirement": "monitoring",
        "metric": "response_time",
        "packet_size": 64,
        "unit": "s",
        "samples": [100e-6, 110e-6, 120e-6],
        "verdict": "kept",
    }
    if percentiles is not None:
        info["percentiles"] = percentiles
    return {"name": "test_response_time[64B]", "extra_info": info}


TABLE = {"n": 3, "p50": 110e-6, "p90": 118e-6, "p99": 119.8e-6, "p99.9": 119.98e-6, "max": 120e-6}


def test_a_record_keeps_the_distribution_it_was_saved_with() -> None:
    (record,) = read_benchmark(_bench(TABLE), "run.json")
    assert record.percentiles == TABLE
    (old,) = read_benchmark(_bench(None), "run.json")
    assert old.percentiles is None
    (odd,) = read_benchmark(_bench({"p50": "fast", "p99": 1e-4}), "run.json")
    assert odd.percentiles == {"p99": 1e-4}


def test_the_page_shows_the_distribution_beside_the_mean() -> None:
    run = run_from_json({"benchmarks": [_bench(TABLE)]}, "run.json", "run")
    page = render_page([run], [])
    assert "<th>p50/p90/p99/p99.9/max</th>" in page
    assert "p50/p90/p99/p99.9/max 110/118/120/120/120 µs (n=3)" in page
    older = render_page([run_from_json({"benchmarks": [_bench(None)]}, "old.json", "old")], [])
    assert "<td>-</td>" in older
