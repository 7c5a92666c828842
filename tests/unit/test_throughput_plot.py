"""The rate-vs-loss figure of saved throughput records: a real PNG per backend, its points
read back from every search's trials."""

from __future__ import annotations

from pathlib import Path

import pytest
import synthetic_runs as sr

from pytest_nfv.analysis.history import Run, run_from_json
from pytest_nfv.analysis.throughput_plot import loss_series, write_throughput_figures


def _throughput_run(backend: str, trials: list[list[float]], stamp: str) -> Run:
    spec = ("monitoring", "ndr_frame_interval", "s", None, 64, 0.0, "steady")
    bench = sr.benchmark(spec, [3e-5, 3.1e-5, 2.9e-5], backend)
    bench["extra_info"]["searches"] = [{"trials": trials}, {"trials": [["bad"], [1, 1, 0, 0]]}]
    return run_from_json(sr.run_json([bench], stamp=stamp), f"{backend}.json")


def test_every_trial_becomes_a_point_of_offered_rate_and_loss(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    run = _throughput_run(
        "netns", [[1e5, 1e5, 100_000, 99_000], [3e4, 3e4, 30_000, 30_000]], "2026-12-07T10:00"
    )
    (series,) = loss_series([run], "netns")
    assert series.label == "64 B"
    assert series.points == ((100.0, pytest.approx(1.0), 0.0), (30.0, 0.0, 0.0))
    (figure,) = write_throughput_figures([run], tmp_path)
    assert figure.path == tmp_path / "throughput_netns.png"
    assert figure.path.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")


def test_a_run_without_throughput_records_draws_no_figure(tmp_path: Path) -> None:
    spec = ("monitoring", "response_time", "s", None, 64, 0.0, "steady")
    run = run_from_json(sr.run_json([sr.benchmark(spec, [1e-4] * 3)]), "r.json")
    assert write_throughput_figures([run], tmp_path) == []
