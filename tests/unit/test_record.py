"""The JSON record: what the recorder writes is what the analysis reads, old records included.

``data/record_before_figure.json`` is a run saved by pytest-nfv before records carried their
metric's catalogue entry (``figure``): a deployment, boot, memory and round-trip test recorded
through the plugin as it was, with ``--benchmark-json``. Saved histories of that form are what
the gate compares against, so they must keep reading the same.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from pytest_nfv.analysis.gate import compare_runs
from pytest_nfv.analysis.gate_config import GateConfig
from pytest_nfv.analysis.history import load_run, run_from_json
from pytest_nfv.analysis.scorecard import render_scorecard
from pytest_nfv.errors import HistoryError, NfvUsageError
from pytest_nfv.harness.stats import summarize
from pytest_nfv.model import METRICS, Metric
from pytest_nfv.record import (
    benchmark_info,
    budget_fields,
    read_benchmark,
    read_figure,
    series_fields,
)

SAVED = Path(__file__).parent / "data" / "record_before_figure.json"


def _by_metric(path: Path) -> dict[tuple[str, str], Any]:
    run = load_run(path)
    return {(k.requirement, k.metric): r for k, r in run.records.items()}


def test_a_record_saved_before_it_carried_its_figure_reads_as_it_did() -> None:
    raw = json.loads(SAVED.read_text(encoding="utf-8"))
    assert all("figure" not in b["extra_info"] for b in raw["benchmarks"])
    records = _by_metric(SAVED)
    assert sorted(records) == [
        ("deployment", "memory"),
        ("instantiation", "boot_makespan"),
        ("instantiation", "boot_per_instance"),
        ("instantiation", "memory"),
        ("instantiation", "memory_kernel"),
        ("instantiation", "memory_pss"),
        ("monitoring", "direct_response_time"),
        ("monitoring", "proxy_overhead"),
        ("monitoring", "response_time"),
    ]
    for (requirement, metric), record in records.items():
        assert record.figure == METRICS[requirement][metric]  # the catalogue fills it in
        assert record.unit == record.figure.unit
    assert not records["instantiation", "boot_per_instance"].per_round
    assert not records["deployment", "memory"].per_round
    assert records["instantiation", "boot_makespan"].per_round
    kernel = records["instantiation", "memory_kernel"]
    assert kernel.parts == {"instances": 0.5, "kernel": 0.2}
    assert kernel.verdict == "kept"
    assert kernel.key.n == 2
    response = records["monitoring", "response_time"]
    assert response.key.size == 64
    assert response.percentiles is not None
    assert response.percentiles["n"] == 40
    assert response.budget_limit == pytest.approx(1e-3 + 0.04e-3 * 64 / 1024)


def test_a_saved_record_is_judged_and_scored_as_before() -> None:
    run = load_run(SAVED)
    result = compare_runs(run, run, GateConfig())
    assert not result.failed
    gated = {c.key.metric for c in result.comparisons}
    assert "boot_per_instance" not in gated  # pooled over instances: not gated
    assert {"boot_makespan", "memory_kernel", "response_time"} <= gated
    card = render_scorecard([run]).splitlines()
    assert any(line.startswith("| host memory spent for N (N=2) | 0.7 MiB ± ") for line in card)
    assert not any(line.startswith("| host MemAvailable drop") for line in card)


def _written(figure: Metric, **more: Any) -> dict[str, Any]:
    summary = summarize([0.010, 0.011, 0.012, 0.013], converged=True)
    primary = series_fields(
        summary,
        figure,
        budget=budget_fields(0.02, "s", "mean", "measured", "budgets.toml:3"),
        verdict="kept",
        insufficient=False,
        per_round=True,
        extra={"method": "a test's own fact"},
        **more,
    )
    info = benchmark_info(
        backend="netns",
        engine="kernel 6.1",
        requirement="deployment",
        metric="custom",
        n=4,
        size=None,
        primary=primary,
        secondary={},
    )
    return {"name": "test_custom[4]", "extra_info": json.loads(json.dumps(info))}


def test_what_is_written_is_read_back_with_its_figure() -> None:
    figure = Metric(
        "time",
        "custom figure",
        "A figure no catalogue of the reading process has",
        lower_is_better=False,
        role="primary",
        axis="n",
        panel="custom",
    )
    bench = _written(figure, parts={"guest": 0.5})
    (record,) = read_benchmark(bench, "run.json")
    assert record.figure == figure
    assert record.unit == "s"
    assert record.key.label() == "deployment/custom N=4"
    assert record.budget_limit == 0.02
    assert record.parts == {"guest": 0.5}
    assert record.percentiles is None  # a round's figure, not a round trip
    assert bench["extra_info"]["method"] == "a test's own fact"


def test_a_round_trip_records_its_distribution() -> None:
    bench = _written(METRICS["monitoring"]["proxy_overhead"])
    (record,) = read_benchmark(bench, "run.json")
    assert record.percentiles is not None
    assert set(record.percentiles) == {"n", "p50", "p90", "p99", "p99.9", "max"}


def test_the_new_writer_keeps_every_key_the_saved_format_has() -> None:
    """Older readers (an older pytest-nfv, pytest-benchmark's compare) read new records."""
    raw = json.loads(SAVED.read_text(encoding="utf-8"))
    saved = next(b for b in raw["benchmarks"] if b["name"] == "test_proxy_memory")["extra_info"]
    new = _written(METRICS["deployment"]["memory"])["extra_info"]
    assert set(saved) - {"method"} <= set(new)
    assert set(new) - set(saved) == {"figure"}


def test_a_figure_unknown_or_malformed_falls_back_plainly() -> None:
    plain = read_figure("monitoring", "jitter", "s", {})
    assert (plain.dimension, plain.label, plain.role, plain.lower_is_better) == (
        "time",
        "jitter",
        "supporting",
        True,
    )
    odd = read_figure(
        "instantiation",
        "boot_makespan",
        "s",
        {"figure": {"role": "leading", "pooling": "yes", "label": 7, "axis": "size"}},
    )
    expected = METRICS["instantiation"]["boot_makespan"]
    assert (odd.role, odd.pooling, odd.label, odd.axis) == (
        expected.role,
        expected.pooling,
        expected.label,
        "size",
    )


def test_a_run_of_records_without_figures_still_loads_from_json() -> None:
    raw = json.loads(SAVED.read_text(encoding="utf-8"))
    run = run_from_json(raw, "saved.json")
    assert run.echo == raw["machine_info"]["nfv"]["echo"]


def test_a_figure_better_higher_ranks_the_higher_backend_first() -> None:
    from pytest_nfv.analysis.scorecard import score

    rate = Metric("time", "custom rate", "Higher is better here", lower_is_better=False,
                  role="primary")  # fmt: skip
    benches = []
    for backend, scale in (("netns", 1.0), ("coreos", 3.0)):
        bench = _written(rate)
        info = bench["extra_info"]
        info["backend"] = backend
        info["samples"] = [s * scale for s in info["samples"]]
        benches.append(bench)
    run = run_from_json({"benchmarks": benches, "datetime": "2026-12-07T10:00:00"}, "r.json")
    verdict = score([run], "deployment")
    assert verdict.ranks == {"coreos": 1, "netns": 2}
    assert verdict.best == "coreos"


def test_the_catalogue_is_consistent() -> None:
    """Every secondary stands in for a primary of its own requirement, in the same unit and
    drawn on the same panel; every panel has one primary."""
    for metrics in METRICS.values():
        for metric in metrics.values():
            if metric.role != "secondary":
                continue
            assert metric.stands_in_for is not None
            primary = metrics[metric.stands_in_for]
            assert primary.role == "primary"
            assert (primary.unit, primary.panel, primary.axis) == (
                metric.unit,
                metric.panel,
                metric.axis,
            )
    panels = [(m.panel, r) for r, ms in METRICS.items() for m in ms.values() if m.role == "primary"]
    drawn = [panel for panel, _ in panels if panel is not None]
    assert len(drawn) == len(set(drawn))


def test_a_catalogue_entry_that_contradicts_itself_is_refused() -> None:
    with pytest.raises(NfvUsageError, match="a panel needs an axis"):
        Metric("time", "x", "y", panel="x")
    with pytest.raises(NfvUsageError, match="stands in for a primary"):
        Metric("memory", "x", "y", role="secondary")
    with pytest.raises(NfvUsageError, match="stands in for a primary"):
        Metric("memory", "x", "y", role="primary", stands_in_for="memory")


def test_the_run_s_own_facts_are_read_beside_its_records() -> None:
    from pytest_nfv.record import canary_entry, extend_canary, read_run_facts

    raw = json.loads(SAVED.read_text(encoding="utf-8"))
    facts = read_run_facts(raw["machine_info"], "saved.json")
    assert facts.host is not None
    assert facts.host[1] == raw["machine_info"]["nfv"]["host"]["cores"]
    assert facts.echo == raw["machine_info"]["nfv"]["echo"]
    entry = canary_entry([0.001, 0.002], "a loop")
    extend_canary(entry, [0.003])
    written = {"nfv": {"canary": {"cpu_loop": entry}, "injected": {"HOLD": "30"}}}
    facts = read_run_facts(json.loads(json.dumps(written)), "run.json")
    assert facts.canary == {"cpu_loop": (0.001, 0.002, 0.003)}
    assert facts.injected == {"HOLD": "30"}
    assert facts.host is None
    with pytest.raises(HistoryError, match=r"run\.json: machine_info nfv: canary is not a table"):
        read_run_facts({"nfv": {"canary": [1.0]}}, "run.json")
