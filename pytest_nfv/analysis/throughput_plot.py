"""Rate against loss, one figure per backend: every trial of the throughput searches.

The NDR and PDR are where a path starts to lose frames; the figure shows how it gets there:
each trial a search ran through the proxy VNF (offered frames/s against the share of frames
lost), one colour per frame size, from the newest saved run of each backend that has any.
A path that loses nothing until the generator's ceiling shows as points on the zero line
only. The loss axis is symmetric-log, so the 0.5% a PDR allows and no loss at all are both
readable.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pytest_nfv.analysis.history import Run
from pytest_nfv.analysis.report import FigureInfo, Series, load_pyplot, save_figure
from pytest_nfv.analysis.selection import backends_of, newest_first

__all__ = ["loss_series", "write_throughput_figures"]


def loss_series(runs: Sequence[Run], backend: str) -> list[Series]:
    """One series per throughput figure and frame size: (offered kfps, loss %, 0) of every
    trial of ``backend``'s newest run whose records carry trials.

    Records are found by what they carry (a loss curve), not by a metric's name, so that a
    new throughput figure in the catalogue is drawn without a change here.
    """
    for run in newest_first(runs):
        records = [
            record
            for key, record in sorted(run.records.items())
            if key.backend == backend and record.loss_curve
        ]
        if records:
            break
    else:
        return []
    many = len({r.key.metric for r in records}) > 1
    series = []
    for record in sorted(records, key=lambda r: (r.key.metric, r.key.size or 0)):
        points = tuple((fps / 1e3, loss * 100, 0.0) for fps, loss in record.loss_curve or ())
        label = f"{record.key.size} B" + (f" ({record.key.metric})" if many else "")
        series.append(Series(label, points, run.label))
    return series


def write_throughput_figures(runs: Sequence[Run], out: Path) -> list[FigureInfo]:
    """``throughput_<backend>.png`` for each backend with throughput trials in ``runs``.

    Raises:
        NfvUsageError: matplotlib is missing, or a figure cannot be written.
    """
    written = []
    for backend in backends_of(runs):
        series = loss_series(runs, backend)
        if not series:
            continue
        plt = load_pyplot()
        title = f"{backend}: loss against offered rate, every trial of the NDR/PDR searches"
        fig = _draw(plt, series, title)
        written.append(save_figure(plt, fig, out / f"throughput_{backend}.png", title, series))
    return written


def _draw(plt: Any, series: Sequence[Series], title: str) -> Any:
    fig, ax = plt.subplots(figsize=(7.0, 4.5), dpi=110)
    for line in series:
        ax.scatter([p[0] for p in line.points], [p[1] for p in line.points], s=14, label=line.label)
    ax.axhline(0.5, color="grey", linestyle="--", linewidth=0.8, label="PDR's 0.5% loss")
    ax.set_yscale("symlog", linthresh=0.01)
    ax.set_ylim(-0.002, 100)  # no loss sits on the floor; nothing is below it
    ax.set_xlabel("offered rate (kframes/s)")
    ax.set_ylabel("frames lost (%)")
    ax.set_title(title, fontsize=9)
    ax.legend(title="frame size", fontsize=8)
    fig.tight_layout()
    return fig
