"""The probe stream through the proxy VNF while it moves: the gap before each reply.

A live migration's downtime as the hypervisor reports it and as traffic sees it differ (the
destination must load and run, the switch must learn the new port); one line per run and
backend of each reply's gap since the one before, over the stream's time, shows where the
difference lies. Drawn from the timelines the records carry, not from a metric's name.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from pytest_nfv.analysis.history import Run
from pytest_nfv.analysis.report import FigureInfo, Series, load_pyplot, save_figure
from pytest_nfv.analysis.selection import oldest_first

__all__ = ["GAPS_TITLE", "write_gaps_figure"]

GAPS_TITLE = "Probe stream through the proxy VNF during a live migration: gap before each reply"


def write_gaps_figure(runs: Sequence[Run], out: Path) -> list[FigureInfo]:
    """``migration_gaps.png``, where runs recorded a migration's timeline (else nothing).

    Raises:
        NfvUsageError: matplotlib is missing, or the figure cannot be written.
    """
    series = [
        Series(
            record.key.backend,
            tuple((t, gap * 1e3, 0.0) for t, gap in record.timeline),
            run.label,
        )
        for run in oldest_first(runs)
        for record in run.records.values()
        if record.timeline
    ]
    if not series:
        return []
    plt = load_pyplot()
    fig, ax = plt.subplots(figsize=(7.0, 4.5), dpi=110)
    for line in series:
        ax.plot([p[0] for p in line.points], [p[1] for p in line.points], label=line.label)
    ax.set_xlabel("seconds since the stream's first request")
    ax.set_ylabel("gap before the reply (ms)")
    ax.set_title(GAPS_TITLE, fontsize=9)
    ax.legend(title="backend", fontsize=8)
    fig.tight_layout()
    return [save_figure(plt, fig, out / "migration_gaps.png", GAPS_TITLE, series)]
