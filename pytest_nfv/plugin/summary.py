"""The terminal summary: every figure of the run in its unit, with its evidence and verdict.

pytest-benchmark's table speaks only of time, so it cannot show a MiB figure, and it says
nothing about budgets. This section does, per management requirement: each figure as a person
reads it (µs, ms, s, MiB), mean ± 95% CI half-width, rounds, whether the interval converged,
the budget it was held to and the verdict (kept, blown, inconclusive, not judged), then the
count of each verdict. A round-trip figure ends its row with its distribution (p50, p90, p99,
p99.9 and max over its n samples): a latency objective is a tail, which the mean hides.
A run that recorded nothing says why: the skip reasons, which pytest hides by default, are
exactly what an operator of a host without the engine needs to read.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

import pytest

from pytest_nfv.harness.budgets import VERDICTS, Judgement
from pytest_nfv.model import REQUIREMENTS
from pytest_nfv.plugin.state import nfv_state_key
from pytest_nfv.record import NotMeasured
from pytest_nfv.units import base_unit, display_unit, format_value

__all__ = [
    "failure_reasons",
    "format_distribution",
    "format_judgement",
    "render_not_measured",
    "render_summary",
    "skip_reasons",
]

TITLE = "nfv: figures and budget verdicts"


def _where(judgement: Judgement) -> str:
    parts = []
    if judgement.n is not None:
        parts.append(f"N={judgement.n}")
    if judgement.size_bytes is not None:
        parts.append(f"{judgement.size_bytes}B")
    return " ".join(parts)


def format_judgement(judgement: Judgement) -> list[str]:
    """One figure as the columns of its summary row (metric, where, figure, evidence, ...)."""
    unit = display_unit(base_unit(judgement.dimension), judgement.value)
    half = judgement.half_width
    ci = "± ?" if math.isinf(half) or math.isnan(half) else f"± {format_value(half, unit)}"
    if judgement.statistic == "mean":
        figure = f"mean {format_value(judgement.value, unit)} {ci}"
    else:
        figure = f"{judgement.statistic} {format_value(judgement.value, unit)} (mean {ci})"
    rounds = f"{judgement.rounds} round{'s' if judgement.rounds != 1 else ''}"
    evidence = f"{rounds}, {'converged' if judgement.converged else 'not converged'}"
    budget = (
        f"budget {judgement.limit_text.replace(' us', ' µs')}"
        if judgement.limit is not None
        else "no budget"
    )
    return [
        judgement.metric,
        _where(judgement),
        figure,
        evidence,
        budget,
        judgement.verdict,
        format_distribution(judgement),
    ]


def format_distribution(judgement: Judgement) -> str:
    """``p50/p90/p99/p99.9/max 71/95/160/240/310 µs n=412``, or "" for a figure without one.

    One unit for all five (the median's), so the tail reads as multiples of the middle.
    """
    shown = judgement.percentiles
    if not shown:
        return ""
    unit = display_unit(base_unit(judgement.dimension), shown.get("p50", judgement.value))
    names = "/".join(shown)
    values = "/".join(format_value(v, unit).rsplit(" ", 1)[0] for v in shown.values())
    shown_unit = format_value(0.0, unit).rsplit(" ", 1)[-1]
    return f"{names} {values} {shown_unit} n={judgement.rounds}"


def format_parts(judgement: Judgement) -> str:
    """``of which: instances 44.2 MiB, engine helpers 2.4 MiB``: the figure's parts."""
    parts = judgement.parts or {}
    unit = display_unit(base_unit(judgement.dimension), judgement.value)
    return "of which: " + ", ".join(f"{name} {format_value(v, unit)}" for name, v in parts.items())


def _table(rows: Sequence[list[str]]) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return [
        "  " + "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]


def render_summary(judgements: Sequence[Judgement]) -> list[str]:
    """The summary's lines: a block per requirement, then the count of each verdict.

    A verdict other than kept or not judged carries its one-line reason beneath its row, so
    the evidence for a blown or inconclusive figure is where the figure is.
    """
    lines: list[str] = []
    order = {r: i for i, r in enumerate(REQUIREMENTS)}
    by_requirement: dict[str, list[Judgement]] = {}
    for judgement in judgements:
        by_requirement.setdefault(judgement.requirement, []).append(judgement)
    for requirement in sorted(by_requirement, key=lambda r: (order.get(r, len(order)), r)):
        group = by_requirement[requirement]
        lines.append(f"{requirement}:")
        rows = [format_judgement(j) for j in group]
        for judgement, line in zip(group, _table(rows), strict=True):
            lines.append(line)
            if judgement.parts:
                lines.append(f"      {format_parts(judgement)}")
            if judgement.note:
                lines.append(f"      {judgement.note}")
            if judgement.verdict in ("blown", "inconclusive") and judgement.message:
                lines.append(f"      {judgement.verdict}: {judgement.message}")
    counts = Counter(j.verdict for j in judgements)
    others = sorted(set(counts) - set(VERDICTS))
    lines.append("verdicts: " + ", ".join(f"{counts[v]} {v}" for v in (*VERDICTS, *others)))
    return lines


def render_not_measured(entries: Sequence[NotMeasured]) -> list[str]:
    """One line per figure group a test could not take, with its reason."""
    return [f"not measured: {n.requirement}/{', '.join(n.metrics)}: {n.reason}" for n in entries]


def skip_reasons(reports: Iterable[Any]) -> list[tuple[str, int]]:
    """Distinct skip reasons of ``reports`` with how many tests gave each, most frequent first."""
    reasons: Counter[str] = Counter()
    for report in reports:
        longrepr = getattr(report, "longrepr", None)
        if isinstance(longrepr, tuple) and len(longrepr) == 3:
            reason = str(longrepr[2])
        else:
            reason = str(longrepr)
        reasons[reason.removeprefix("Skipped: ")] += 1
    return reasons.most_common()


def failure_reasons(reports: Iterable[Any]) -> list[tuple[str, int]]:
    """Distinct failure reasons (each report's exception with its message, else its last
    line) and how many gave each.

    Ninety tests that all failed for one missing engine say so in one line, in full, where
    pytest's short summary cuts each of the ninety to the terminal's width.
    """
    reasons: Counter[str] = Counter()
    for report in reports:
        crash = getattr(getattr(report, "longrepr", None), "reprcrash", None)
        message = str(getattr(crash, "message", "") or "")
        if message:
            # The exception and its whole message: the last line of a long traceback is only
            # its location (``lab.py:144: BootTimeout``). pytest.fail's "Failed: " adds nothing.
            reasons[message.strip().removeprefix("Failed: ")] += 1
            continue
        lines = [line for line in str(getattr(report, "longreprtext", "")).splitlines() if line]
        if lines:
            reasons[lines[-1].removeprefix("E").strip()] += 1
    return reasons.most_common()


nfv_tests_key = pytest.StashKey[frozenset[str]]()
"""Node ids of the collected tests that use a pytest-nfv fixture: the ones this summary is
about. A project's other tests failing or skipping is none of its business."""


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    config.stash[nfv_tests_key] = frozenset(
        item.nodeid
        for item in items
        if any(name.startswith("nfv_") for name in getattr(item, "fixturenames", ()))
    )


@pytest.hookimpl(trylast=True)
def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    state = config.stash.get(nfv_state_key, None)
    if state is None or config.get_verbosity() < -1:
        return
    judgements = state.judgements
    if judgements:
        blown = any(j.verdict == "blown" for j in judgements)
        terminalreporter.write_sep("=", TITLE, red=blown, green=not blown)
        for line in render_summary(judgements):
            terminalreporter.write_line(line)
        for line in render_not_measured(state.not_measured):
            terminalreporter.write_line(line)
        return
    for line in render_not_measured(state.not_measured):
        terminalreporter.write_line(line)
    ours = config.stash.get(nfv_tests_key, frozenset())
    skipped = [r for r in terminalreporter.stats.get("skipped", []) if r.nodeid in ours]
    failed = [
        r
        for outcome in ("failed", "error")
        for r in terminalreporter.stats.get(outcome, [])
        if getattr(r, "nodeid", None) in ours
    ]
    if not skipped and not failed:
        return
    terminalreporter.write_sep("=", f"{TITLE}: none recorded", red=True)
    if failed:
        terminalreporter.write_line(
            f"{len(failed)} test(s) failed or errored before recording a figure:"
        )
    for reason, count in failure_reasons(failed):
        first, *more = reason.splitlines()
        terminalreporter.write_line(f"failed ({count}): {first}")
        for line in more:  # a console's tail, say
            terminalreporter.write_line(f"    {line}")
    for reason, count in skip_reasons(skipped):
        terminalreporter.write_line(f"skipped ({count}): {reason}")
    if config.getoption("benchmark_json", None) or config.getoption("benchmark_autosave", None):
        terminalreporter.write_line("no figure was recorded, so no benchmark record was saved")
