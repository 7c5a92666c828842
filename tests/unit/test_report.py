"""Figures and the scorecard: real PNG and Markdown files with the expected series."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import synthetic_runs as sr

from pytest_nfv.analysis.history import Run, run_from_json
from pytest_nfv.analysis.migration_plot import write_gaps_figure
from pytest_nfv.analysis.report import load_pyplot, write_figures
from pytest_nfv.analysis.scorecard import BudgetStatus, render_scorecard, score
from pytest_nfv.errors import NfvUsageError

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _backend_run(
    backend: str,
    boot_per_n: float,
    memory_per_n: float,
    response: float,
    stamp: str,
    boot_limit: float | None = None,
) -> Run:
    benches = []
    for n in (1, 4, 16):
        boot = ("instantiation", "boot_makespan", "s", n, None, 0.0, "steady")
        benches.append(
            sr.benchmark(boot, [boot_per_n * n] * 3 + [boot_per_n * n * 1.01], backend, boot_limit)
        )
        memory = ("instantiation", "memory", "MiB", n, None, 0.0, "spiky")
        benches.append(sr.benchmark(memory, [memory_per_n * n] * 4, backend))
        coexist = ("coexistence", "memory", "MiB", n, None, 0.0, "spiky")
        benches.append(sr.benchmark(coexist, [memory_per_n * n + 1] * 4, backend))
    for size in (64, 1024, 65507):
        rt = ("monitoring", "response_time", "s", None, size, 0.0, "noisy")
        benches.append(sr.benchmark(rt, [response * (1 + size / 4096)] * 4, backend))
    return run_from_json(sr.run_json(benches, stamp=stamp), f"{backend}-{stamp[:10]}.json")


@pytest.fixture
def runs() -> list[Run]:
    return [
        _backend_run("clickos", 0.001, 6.0, 20e-6, "2026-11-20T10:00:00+00:00"),
        _backend_run("coreos", 0.002, 4.0, 200e-6, "2026-11-21T10:00:00+00:00"),
        _backend_run("coreos", 0.0025, 4.2, 210e-6, "2026-11-22T10:00:00+00:00"),
    ]


def test_figures_are_png_files_with_one_line_per_backend(runs: list[Run], tmp_path: Path) -> None:
    import matplotlib.image

    figures = {f.path.name: f for f in write_figures(runs, tmp_path)}
    assert sorted(figures) == [
        "boot_time.png",
        "memory.png",
        "memory_parts.png",
        "response_time.png",
        "trend_instantiation_boot_makespan.png",
    ]
    for figure in figures.values():
        assert figure.path.read_bytes()[:8] == PNG_SIGNATURE
        height, width, _ = matplotlib.image.imread(figure.path).shape
        assert (width, height) == (770, 495)
    boot = figures["boot_time.png"]
    assert [s.label for s in boot.series] == ["clickos", "coreos"]
    assert [s.run for s in boot.series] == ["clickos-2026-11-20", "coreos-2026-11-22"]
    coreos = boot.series[1]
    assert [p[0] for p in coreos.points] == [1, 4, 16]
    assert coreos.points[2][1] == pytest.approx(2.5 * 16 * (3 + 1.01) / 4)  # ms, newest run
    assert coreos.points[2][2] > 0  # the CI half-width is the error bar
    response = figures["response_time.png"]
    assert [p[0] for p in response.series[0].points] == [64, 1024, 65507]
    memory = figures["memory.png"]
    assert [p[1] for p in memory.series[0].points] == pytest.approx([6.0, 24.0, 96.0])
    # these runs hold no kernel-accounted figure: the host's reading stands in, and says so
    assert memory.series[0].label == "clickos, host MemAvailable drop"
    assert figures["memory_parts.png"].series == ()


def test_memory_draws_the_primary_figure_and_its_parts(tmp_path: Path) -> None:
    benches = []
    for n in (1, 128):
        host = ("instantiation", "memory", "MiB", n, None, 0.0, "spiky")
        benches.append(sr.benchmark(host, [-30.0, 40.0, 5.0], "coreos"))
        kernel = sr.benchmark(
            ("instantiation", "memory_kernel", "MiB", n, None, 0.0, "steady"),
            [3.9 * n] * 3,
            "coreos",
        )
        kernel["extra_info"]["breakdown_mib"] = {
            "instances": 0.3 * n,
            "engine helpers": 2.4 * n,
            "engine daemons' growth": 0.35 * n,
            "kernel memory charged to no instance": 0.85 * n,
            "engine daemons before (fixed, not in the figure)": 90.0,
        }
        benches.append(kernel)
    data = sr.run_json(benches)
    data["machine_info"]["nfv"]["echo"] = "icmp"
    run = run_from_json(data, "coreos.json")
    figures = {f.path.name: f for f in write_figures([run], tmp_path)}
    memory = figures["memory.png"]
    assert [s.label for s in memory.series] == ["coreos"]
    assert [p[1] for p in memory.series[0].points] == pytest.approx([3.9, 3.9 * 128])
    parts = figures["memory_parts.png"]
    assert [s.label for s in parts.series] == [
        "instances",
        "engine helpers",
        "engine daemons' growth",
        "kernel memory charged to no instance",
    ]  # at the largest N; the fixed cost is not per instance
    assert sum(s.points[0][1] for s in parts.series) == pytest.approx(3.9 * 128)
    assert parts.path.read_bytes()[:8] == PNG_SIGNATURE


def test_the_response_axis_names_the_protocol_that_ran(runs: list[Run]) -> None:
    from pytest_nfv.analysis.report import payload_label

    assert payload_label([dataclasses.replace(r, echo="icmp") for r in runs]) == (
        "ICMP echo payload (bytes)"
    )
    assert payload_label([dataclasses.replace(r, echo="udp") for r in runs]).startswith("UDP")
    mixed = [dataclasses.replace(runs[0], echo="icmp"), dataclasses.replace(runs[1], echo="udp")]
    assert "ICMP echo or UDP" in payload_label(mixed)


def test_trend_follows_one_metric_across_runs_in_time_order(
    runs: list[Run], tmp_path: Path
) -> None:
    figures = write_figures(list(reversed(runs)), tmp_path)
    trend = figures[-1]
    labels = [s.label for s in trend.series]
    assert labels == [f"{b} N={n}" for b in ("clickos", "coreos") for n in (1, 4, 16)]
    coreos_16 = trend.series[-1]
    assert [p[0] for p in coreos_16.points] == [1.0, 2.0]  # runs 2 and 3 in time order
    assert coreos_16.points[0][1] < coreos_16.points[1][1]


@pytest.mark.usefixtures("no_matplotlib")
def test_without_matplotlib_figures_say_what_to_install(tmp_path: Path, runs: list[Run]) -> None:
    with pytest.raises(NfvUsageError, match=r"pip install 'pytest-nfv\[report\]'"):
        load_pyplot()
    with pytest.raises(NfvUsageError, match="figures need matplotlib"):
        write_figures(runs, tmp_path / "out")
    assert "clickos" in render_scorecard(runs)  # the scorecard needs no matplotlib


def test_scorecard_picks_per_requirement_like_section_v(runs: list[Run]) -> None:
    instantiation = score(runs, "instantiation")
    # clickos boots 2.5x faster, coreos uses less memory: one figure each, a tie on ranks
    # broken by name; monitoring is clickos' alone (10x faster response).
    assert instantiation.ranks == {"clickos": 1 + 2, "coreos": 2 + 1}
    assert instantiation.best == "clickos"
    assert score(runs, "monitoring").best == "clickos"
    coexistence = score(runs, "coexistence")
    assert coexistence.best == "coreos"
    assert "best or tied-best on 1 of 1 figures" in coexistence.reason
    assert score(runs, "deployment").best is None


def test_a_backend_over_budget_does_not_fit_best() -> None:
    runs = [
        _backend_run("clickos", 0.001, 6.0, 20e-6, "2026-11-20T10:00:00+00:00", boot_limit=1e-4),
        _backend_run("coreos", 0.002, 6.0, 200e-6, "2026-11-21T10:00:00+00:00"),
    ]
    verdict = score(runs, "instantiation")
    assert verdict.best == "coreos"
    assert "over budget: clickos" in verdict.reason
    assert verdict.budgets["clickos"] == BudgetStatus(kept=0, blown=3)


def test_scorecard_markdown_has_a_summary_and_a_table_per_requirement(runs: list[Run]) -> None:
    text = render_scorecard(runs)
    lines = text.splitlines()
    assert lines[0] == "# NFV management requirements: which backend fits"
    assert "| requirement | fits best | why |" in lines
    assert "| monitoring | clickos | best or tied-best on 1 of 1 figures |" in lines
    for requirement in ("instantiation", "deployment", "monitoring", "coexistence"):
        assert f"## {requirement}" in lines
    row = next(line for line in lines if line.startswith("| boot time of N together (N=16)"))
    assert row.count("|") == 4  # figure, clickos, coreos
    assert "| 16 ms ± " in row
    assert "| 40.1 ms ± " in row  # coreos from its newest run
    assert "| budgets | no budgets | no budgets |" in lines


def test_a_newer_run_without_a_metric_does_not_blank_its_figure(
    runs: list[Run], tmp_path: Path
) -> None:
    """A run whose monitoring tests failed before recording: the figure keeps the last one."""
    boot_only = ("instantiation", "boot_makespan", "s", 1, None, 0.0, "steady")
    newest = run_from_json(
        sr.run_json(
            [sr.benchmark(boot_only, [0.005] * 4, "coreos")], stamp="2026-11-23T10:00:00+00:00"
        ),
        "coreos-broken.json",
    )
    figures = {f.path.name: f for f in write_figures([*runs, newest], tmp_path)}
    response = figures["response_time.png"]
    assert [(s.label, s.run) for s in response.series] == [
        ("clickos", "clickos-2026-11-20"),
        ("coreos", "coreos-2026-11-22"),
    ]
    boot = figures["boot_time.png"]
    assert boot.series[1].run == "coreos-broken"
    assert "| monitoring | clickos |" in render_scorecard([*runs, newest])


def test_no_backend_fits_when_every_backend_is_over_budget() -> None:
    runs = [
        _backend_run("clickos", 0.001, 6.0, 20e-6, "2026-11-20T10:00:00+00:00", boot_limit=1e-4),
        _backend_run("coreos", 0.002, 6.0, 200e-6, "2026-11-21T10:00:00+00:00", boot_limit=1e-4),
    ]
    verdict = score(runs, "instantiation")
    assert verdict.best is None
    assert verdict.reason == "none within budget (clickos, coreos)"
    lines = render_scorecard(runs).splitlines()
    assert "| instantiation | none | none within budget (clickos, coreos) |" in lines
    assert "**Fits best: none** (none within budget (clickos, coreos))." in lines


def test_the_runs_own_verdict_wins_over_its_limit() -> None:
    """An inconclusive figure is not within its budget, though its mean is under the limit."""
    run = _backend_run("coreos", 0.002, 6.0, 200e-6, "2026-11-21T10:00:00+00:00", boot_limit=1.0)
    record = next(r for k, r in run.records.items() if k.metric == "boot_makespan")
    assert record.within_budget is True
    inconclusive = dataclasses.replace(record, verdict="inconclusive")
    assert inconclusive.within_budget is False
    assert dataclasses.replace(record, verdict="not judged").within_budget is None
    assert dataclasses.replace(record, verdict="blown").within_budget is False


def test_inconclusive_budgets_are_not_blown_ones() -> None:
    """A backend whose figures are only inconclusive still fits, and the scorecard says how
    many of its budgets are unproven; "none within budget" is kept for blown ones."""
    run = _backend_run("netns", 0.001, 0.4, 20e-6, "2026-11-21T10:00:00+00:00", boot_limit=1.0)
    records = {
        k: dataclasses.replace(r, verdict="inconclusive") if k.metric == "boot_makespan" else r
        for k, r in run.records.items()
    }
    run = dataclasses.replace(run, records=records)
    verdict = score([run], "instantiation")
    assert verdict.best == "netns"
    assert verdict.budgets["netns"] == BudgetStatus(inconclusive=3)
    assert verdict.reason == "the only backend in these runs; 3 of its budgets inconclusive"
    assert "| budgets | 0/3 kept, 3 inconclusive |" in render_scorecard([run]).splitlines()


def test_a_migration_timeline_is_drawn_gap_by_gap(tmp_path: Path) -> None:
    bench = sr.benchmark(
        ("deployment", "migration_seen_downtime", "s", None, None, 0.0, "steady"),
        [0.17, 0.18, 0.16],
        "osv",
    )
    bench["extra_info"]["gaps_over_time"] = [[0.005, 0.005], [0.010, 0.005], [0.190, 0.180]]
    run = run_from_json(sr.run_json([bench]), "osv.json")
    (gaps,) = write_gaps_figure([run], tmp_path)
    assert gaps.path.name == "migration_gaps.png"
    assert [s.label for s in gaps.series] == ["osv"]
    assert [p[1] for p in gaps.series[0].points] == pytest.approx([5.0, 5.0, 180.0])
    assert gaps.path.read_bytes()[:8] == PNG_SIGNATURE
