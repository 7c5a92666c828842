"""The terminal summary's rows, the progress throttle and the time-only benchmark table."""

from __future__ import annotations

import math
from dataclasses import replace
from types import SimpleNamespace
from typing import Any

from pytest_nfv.harness.budgets import Judgement, Verdict
from pytest_nfv.plugin.progress import TerminalProgress
from pytest_nfv.plugin.recorder import time_groups_only
from pytest_nfv.plugin.summary import failure_reasons, render_summary, skip_reasons


def _judgement(
    requirement: str,
    metric: str,
    dimension: str,
    value: float,
    verdict: Verdict,
    *,
    limit_text: str = "",
    half_width: float = 0.0,
    statistic: str = "mean",
    n: int | None = None,
    size: int | None = None,
    converged: bool = True,
    message: str = "",
) -> Judgement:
    return Judgement(
        requirement=requirement,
        metric=metric,
        dimension=dimension,
        nodeid="suites/test_x.py::test_x",
        n=n,
        size_bytes=size,
        statistic=statistic,
        value=value,
        half_width=half_width,
        rounds=7,
        converged=converged,
        limit=None if not limit_text else 1.0,
        limit_text=limit_text,
        verdict=verdict,
        message=message,
    )


JUDGEMENTS = [
    _judgement(
        "monitoring",
        "response_time",
        "time",
        45e-6,
        "kept",
        limit_text="2 ms",
        half_width=2e-6,
        size=64,
    ),
    _judgement(
        "instantiation",
        "boot_makespan",
        "time",
        0.0123,
        "blown",
        limit_text="5 ms + 1 ms*N = 9 ms",
        half_width=0.0004,
        n=4,
        message="instantiation/boot_makespan on netns, N=4: ... > budget",
    ),
    _judgement(
        "instantiation",
        "memory",
        "memory",
        96.5,
        "inconclusive",
        limit_text="100 MiB",
        half_width=7.25,
        n=4,
        converged=False,
        message="the CI straddles the limit",
    ),
    _judgement("coexistence", "memory", "memory", 3.2, "not judged", half_width=math.inf, n=4),
    _judgement(
        "deployment",
        "boot_time",
        "time",
        2.5,
        "kept",
        limit_text="10 s",
        statistic="max",
        half_width=0.1,
    ),
]


def test_summary_groups_by_requirement_in_their_order_with_units_and_evidence() -> None:
    lines = render_summary(JUDGEMENTS)
    headers = [line for line in lines if line.endswith(":") and not line.startswith(" ")]
    assert headers == ["instantiation:", "deployment:", "monitoring:", "coexistence:"]
    text = "\n".join(lines)
    assert "boot_makespan  N=4" in text
    assert "mean 12.3 ms ± 0.4 ms" in text
    assert "7 rounds, converged" in text
    assert "budget 5 ms + 1 ms*N = 9 ms" in text
    assert "mean 96.5 MiB ± 7.25 MiB" in text
    assert "not converged" in text
    assert "mean 45 µs ± 2 µs" in text
    assert "64B" in text
    assert "max 2.5 s (mean ± 0.1 s)" in text
    assert "mean 3.2 MiB ± ?" in text
    assert "no budget" in text
    row = next(line for line in lines if "response_time" in line)
    assert row.endswith("kept")


def test_summary_explains_blown_and_inconclusive_beneath_their_row_and_counts_all_four() -> None:
    lines = render_summary(JUDGEMENTS)
    blown = lines.index(next(line for line in lines if "boot_makespan" in line))
    assert lines[blown].endswith("blown")
    assert lines[blown + 1].strip().startswith("blown: instantiation/boot_makespan on netns")
    inconclusive = lines.index(next(line for line in lines if "96.5 MiB" in line))
    assert lines[inconclusive + 1].strip() == "inconclusive: the CI straddles the limit"
    assert lines[-1] == "verdicts: 2 kept, 1 blown, 1 inconclusive, 1 not judged"


def test_skip_reasons_are_distinct_and_counted() -> None:
    reports = [
        SimpleNamespace(longrepr=("x.py", 1, "Skipped: no Xen here")),
        SimpleNamespace(longrepr=("x.py", 2, "Skipped: no Xen here")),
        SimpleNamespace(longrepr=("y.py", 3, "Skipped: no Docker")),
    ]
    assert skip_reasons(reports) == [("no Xen here", 2), ("no Docker", 1)]


def test_failure_reasons_are_each_reports_error_line_counted() -> None:
    reports = [
        SimpleNamespace(longreprtext="--nfv-strict: no Docker engine answers at unix:///x"),
        SimpleNamespace(longreprtext="--nfv-strict: no Docker engine answers at unix:///x"),
        SimpleNamespace(longreprtext="def test():\n>       boom()\nE       OSError: gone\n"),
    ]
    assert failure_reasons(reports) == [
        ("--nfv-strict: no Docker engine answers at unix:///x", 2),
        ("OSError: gone", 1),
    ]


def test_a_failure_reason_is_the_exception_s_message_not_the_traceback_s_last_line() -> None:
    """A long traceback ends on its location (``lab.py:144: BootTimeout``); the crash entry
    has the exception with its whole message."""
    crash = SimpleNamespace(
        message="pytest_nfv.errors.BootTimeout: 19 of 32 instances did not answer\nconsole: x"
    )
    report = SimpleNamespace(
        longrepr=SimpleNamespace(reprcrash=crash),
        longreprtext="...\npytest_nfv/harness/lab.py:144: BootTimeout",
    )
    assert failure_reasons([report]) == [
        ("pytest_nfv.errors.BootTimeout: 19 of 32 instances did not answer\nconsole: x", 1)
    ]


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_progress_is_quiet_for_a_short_test_then_throttled() -> None:
    clock = FakeClock()
    lines: list[str] = []
    progress = TerminalProgress(lines.append, after_s=3.0, every_s=1.0, clock=clock)
    progress.begin("test_boot_time[N=16]")
    for step in range(23):  # 8 rounds a second (exact in binary) for 2.875 s: quiet
        clock.now += 0.125
        progress.round(step + 1, 30)
    assert lines == []
    for answered in range(1, 17):  # 16 steps over the next 2 s
        clock.now += 0.125
        progress.report(f"{answered} of 16 instances answered")
    assert lines == [
        "nfv: test_boot_time[N=16]: round 23 of at most 30: 1 of 16 instances answered (3 s)",
        "nfv: test_boot_time[N=16]: round 23 of at most 30: 9 of 16 instances answered (4 s)",
    ]
    progress.begin("test_memory[N=1]")  # a new test starts quiet again, without a round
    progress.report("1 of 1 instances started")
    clock.now += 3.5
    progress.report("1 of 1 instances answered")
    assert lines[-1] == "nfv: test_memory[N=1]: 1 of 1 instances answered (4 s)"


def _bench(name: str, unit: str | None) -> dict[str, Any]:
    return {"name": name, "extra_info": {} if unit is None else {"unit": unit}}


def test_pytest_benchmark_table_keeps_times_and_plain_benchmarks_only() -> None:
    groups = [
        ("instantiation/boot_makespan [s]", [_bench("test_boot_time[N=1]", "s")]),
        ("instantiation/memory [MiB]", [_bench("test_memory[N=32]", "MiB")]),
        (None, [_bench("test_plain", None), _bench("test_odd", "KiB")]),
    ]
    assert time_groups_only(groups) == [
        ("instantiation/boot_makespan [s]", [_bench("test_boot_time[N=1]", "s")]),
        (None, [_bench("test_plain", None)]),
    ]


def test_a_figure_with_parts_shows_them_beneath_its_row() -> None:
    memory = replace(
        _judgement("instantiation", "memory_kernel", "memory", 51.6, "kept", n=128),
        parts={"instances": 44.2, "kernel memory charged to no instance": 7.4},
    )
    lines = render_summary([memory])
    row = lines.index(next(line for line in lines if "memory_kernel" in line))
    assert lines[row + 1].strip() == (
        "of which: instances 44.2 MiB, kernel memory charged to no instance 7.4 MiB"
    )
