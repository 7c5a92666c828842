"""Figures of saved runs in the paper's style (its Fig. 2), and a trend across runs.

The panels answer the operator's question backend by backend, one line per backend with 95%
confidence-interval error bars: boot time against the number of instances started together,
response time through the proxy VNF against the packet size, and what the host spends in
memory for N instances (the primary figure, kernel-accounted where it can be; the host's
MemAvailable reading only for a backend without one, and its line says so). Another shows
that memory by part at the largest N (the instances' own, the engine's helpers, ...), and the
last follows one metric across saved runs, so a drift shows before it breaks a budget.

Which metric a panel draws, against what, in which unit, and which metric stands in for it,
is read from the records (each carries its metric's catalogue entry), not from a list here:
a metric added to the catalogue with a ``panel`` gets its figure with no change to this
module.

matplotlib is an optional dependency (``pip install 'pytest-nfv[report]'``): the gate and the
scorecard work without it, and asking for figures without it is one clear error.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from pytest_nfv.analysis.history import Record, Run
from pytest_nfv.analysis.selection import backends_of, newest_records, oldest_first
from pytest_nfv.errors import NfvUsageError
from pytest_nfv.model import METRICS, Metric

__all__ = [
    "FigureInfo",
    "Panel",
    "Series",
    "load_pyplot",
    "panels_of",
    "save_figure",
    "write_figures",
]

INSTALL_HINT = "pip install 'pytest-nfv[report]'"

PAYLOADS = {"icmp": "ICMP echo payload (bytes)", "udp": "UDP payload (bytes)"}
"""The response-time axis by the protocol the runs' round trips used."""


@dataclass(frozen=True)
class Panel:
    """One figure of the paper: a metric against N or packet size."""

    name: str
    requirement: str
    metric: str
    axis: str  # "n" or "size"
    title: str
    ylabel: str
    scale: float  # record unit -> plotted unit
    fallback: str | None = None
    """The metric drawn for a backend whose runs lack ``metric`` (the host's reading where the
    kernel accounts nothing); its line says so, with ``fallback_label``."""
    fallback_label: str = ""
    parts: bool = False
    """Its records carry the figure by part: a stacked figure of them is drawn beside it."""
    log_y: bool = True
    """Backends differ by orders of magnitude (times); memory stays linear, as a host's
    reading can be 0 or below."""


def _plotted(figure: Metric) -> tuple[str, float]:
    """The unit a figure is drawn in and its size in the record's unit: times in ms."""
    return ("ms", 1e3) if figure.unit == "s" else (figure.unit, 1.0)


def panels_of(runs: Sequence[Run]) -> list[Panel]:
    """The panels to draw: one per ``panel`` a metric names, in its record or the catalogue.

    The catalogue's panels are drawn even when no run has their figure (the figure says "no
    data"), so the set of files does not depend on which tests ran; a record's panel unknown
    to the catalogue (a metric added since, or a user's) is drawn all the same, from what its
    record says it is.
    """
    members: dict[str, dict[tuple[str, str], Metric]] = {}
    for run in runs:
        for key, record in sorted(run.records.items()):
            if record.figure.panel is not None:
                members.setdefault(record.figure.panel, {})[(key.requirement, key.metric)] = (
                    record.figure
                )
    for requirement, metrics in METRICS.items():
        for metric, figure in metrics.items():
            if figure.panel is not None:
                members.setdefault(figure.panel, {}).setdefault((requirement, metric), figure)
    order = [
        (requirement, metric) for requirement, metrics in METRICS.items() for metric in metrics
    ]
    panels = []
    for name, figures in members.items():
        (requirement, metric), figure = min(
            figures.items(),
            key=lambda item: (item[1].role != "primary", _position(order, item[0]), item[0]),
        )
        stand_in = next(
            (
                (m, f)
                for (r, m), f in sorted(figures.items())
                if r == requirement and f.role == "secondary" and f.stands_in_for == metric
            ),
            None,
        )
        unit, scale = _plotted(figure)
        panels.append(
            Panel(
                name,
                requirement,
                metric,
                figure.axis or "n",
                figure.description,
                f"{figure.label} ({unit})",
                scale,
                fallback=None if stand_in is None else stand_in[0],
                fallback_label="" if stand_in is None else stand_in[1].label,
                parts=figure.parts,
                log_y=figure.is_time,
            )
        )
    return sorted(panels, key=lambda p: (_position(order, (p.requirement, p.metric)), p.name))


def _position(order: Sequence[tuple[str, str]], item: tuple[str, str]) -> int:
    return order.index(item) if item in order else len(order)


@dataclass(frozen=True)
class Series:
    """One plotted line: points ``(x, y, error)`` in the plotted unit."""

    label: str
    points: tuple[tuple[float, float, float], ...]
    run: str = ""
    """The saved run the points come from, shown in the legend."""


@dataclass(frozen=True)
class FigureInfo:
    """A written figure and what is on it, so a test (or a reader) can check its content."""

    path: Path
    title: str
    series: tuple[Series, ...]


def load_pyplot() -> ModuleType:
    """matplotlib's pyplot on the file-only Agg backend.

    Raises:
        NfvUsageError: matplotlib is not installed; the message says what to install.
    """
    try:
        import matplotlib
    except ImportError:
        raise NfvUsageError(f"figures need matplotlib: {INSTALL_HINT}") from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _point(record: Record, scale: float) -> tuple[float, float]:
    half = record.ci_half_width if record.ci_half_width is not None else 0.0
    return record.mean * scale, half * scale


def panel_series(panel: Panel, runs: Sequence[Run]) -> list[Series]:
    """The lines of ``panel``: one per backend, from its newest run, sorted by x."""
    lines = []
    for backend in backends_of(runs):
        label = backend
        found = newest_records(runs, backend, panel.requirement, panel.metric)
        if found is None and panel.fallback is not None:
            found = newest_records(runs, backend, panel.requirement, panel.fallback)
            label = f"{backend}, {panel.fallback_label or panel.fallback}"
        if found is None:
            continue
        run, records = found
        points: dict[float, tuple[float, float, float]] = {}
        for record in records:
            x = record.key.n if panel.axis == "n" else record.key.size
            if x is None or x in points:
                continue
            y, err = _point(record, panel.scale)
            points[x] = (float(x), y, err)
        if points:
            lines.append(Series(label, tuple(points[x] for x in sorted(points)), run.label))
    return lines


def parts_series(runs: Sequence[Run], panel: Panel) -> list[Series]:
    """``panel``'s figure per backend at its largest N, by part: one line per part, a point
    per backend (x: the backend's index in ``backends_of``), from its newest run."""
    parts: dict[str, dict[int, float]] = {}
    for index, backend in enumerate(backends_of(runs)):
        found = newest_records(runs, backend, panel.requirement, panel.metric)
        with_parts = [r for r in (found[1] if found else []) if r.parts and r.key.n is not None]
        if not with_parts:
            continue
        largest = max(with_parts, key=lambda r: r.key.n or 0)
        for name, value in (largest.parts or {}).items():
            if "fixed" not in name:  # paid once, not per instance: not in the figure
                parts.setdefault(name, {})[index] = value
    return [
        Series(name, tuple((float(i), v, 0.0) for i, v in sorted(values.items())))
        for name, values in parts.items()
    ]


def trend_series(runs: Sequence[Run], requirement: str, metric: str) -> list[Series]:
    """One line per backend and N/size: the metric's mean in each run, in run order."""
    ordered = oldest_first(runs)
    lines: dict[str, list[tuple[float, float, float]]] = {}
    order: dict[str, tuple[str, int, int]] = {}
    for index, run in enumerate(ordered):
        for key, record in sorted(run.records.items()):
            if (key.requirement, key.metric) != (requirement, metric):
                continue
            where = " ".join(
                p
                for p in (
                    key.backend,
                    f"N={key.n}" if key.n is not None else "",
                    f"{key.size}B" if key.size is not None else "",
                )
                if p
            )
            scale = 1e3 if record.unit == "s" else 1.0
            y, err = _point(record, scale)
            lines.setdefault(where, []).append((float(index), y, err))
            order[where] = (key.backend, key.n or 0, key.size or 0)
    return [Series(label, tuple(lines[label])) for label in sorted(lines, key=order.__getitem__)]


def _draw(
    plt: Any,
    series: Sequence[Series],
    title: str,
    xlabel: str,
    ylabel: str,
    log_x: bool,
    legend: str = "backend (run)",
    log_y: bool = False,
) -> Any:
    """One figure; ``log_y`` where backends differ by orders of magnitude (boot, response).

    On a log axis a lower error bar that reaches zero cannot be drawn: it is clipped at a
    tenth of the value, and the figure says so, rather than the point being dropped.
    """
    fig, ax = plt.subplots(figsize=(7.0, 4.5), dpi=110)
    markers = "osD^vP*X"
    log_y = log_y and all(p[1] > 0 for line in series for p in line.points)
    clipped = False
    for i, line in enumerate(series):
        xs = [p[0] for p in line.points]
        ys = [p[1] for p in line.points]
        errs = [p[2] for p in line.points]
        lower = [min(e, 0.9 * y) if log_y else e for y, e in zip(ys, errs, strict=True)]
        clipped = clipped or lower != errs
        label = f"{line.label} ({line.run})" if line.run else line.label
        ax.errorbar(
            xs, ys, yerr=[lower, errs], label=label, marker=markers[i % len(markers)], capsize=3
        )
    if log_y:
        ax.set_yscale("log")
    if clipped:
        ax.text(
            0.99,
            0.01,
            "lower error bars reaching 0 are clipped",
            ha="right",
            va="bottom",
            fontsize=7,
            transform=ax.transAxes,
        )
    if log_x and series:
        ax.set_xscale("log", base=2)
        ticks = sorted({p[0] for line in series for p in line.points})
        if ticks:  # the measured values themselves, not powers of two: 65507, not 2^16
            ax.set_xticks(ticks)
            ax.set_xticklabels([f"{t:g}" for t in ticks], rotation=30, ha="right")
            ax.minorticks_off()
    ax.set_title(title, fontsize=10)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(True, which="major", linestyle=":", linewidth=0.6)
    if series:
        ax.legend(title=legend, fontsize=8)
    else:
        ax.text(0.5, 0.5, "no data in these runs", ha="center", transform=ax.transAxes)
    fig.tight_layout()
    return fig


def write_figures(
    runs: Sequence[Run], out: Path, trend: tuple[str, str] | None = None
) -> list[FigureInfo]:
    """Write the panels, their parts and the trend figure as PNG files into ``out``.

    ``trend`` is the ``(requirement, metric)`` followed across runs; None: that of the first
    panel with data.

    Raises:
        NfvUsageError: matplotlib is missing, or ``out`` cannot be created.
    """
    plt = load_pyplot()
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise NfvUsageError(f"{out}: cannot create the output directory ({exc})") from None
    written = []
    panels = panels_of(runs)
    drawn = []
    for panel in panels:
        series = panel_series(panel, runs)
        xlabel = "instances (N)" if panel.axis == "n" else payload_label(runs)
        fig = _draw(plt, series, panel.title, xlabel, panel.ylabel, log_x=True, log_y=panel.log_y)
        written.append(save_figure(plt, fig, out / f"{panel.name}.png", panel.title, series))
        if series:
            drawn.append(panel)
    written += [_write_parts(plt, runs, out, panel) for panel in panels if panel.parts]
    first = (drawn or panels)[:1]
    requirement, metric = trend or next(((p.requirement, p.metric) for p in first), ("", ""))
    series = trend_series(runs, requirement, metric)
    ordered = oldest_first(runs)
    title = f"{requirement}/{metric} across {len(ordered)} saved run(s)"
    unit = next((s for s in ("ms", "MiB") if _trend_unit(runs, requirement, metric) == s), "")
    fig = _draw(plt, series, title, "saved run", f"{metric} ({unit})", False, "backend, N/size")
    ax = fig.axes[0]
    ax.set_xticks(range(len(ordered)))
    ax.set_xticklabels([r.label[:18] for r in ordered], rotation=30, ha="right", fontsize=7)
    fig.tight_layout()
    written.append(save_figure(plt, fig, out / f"trend_{requirement}_{metric}.png", title, series))
    return written


def payload_label(runs: Sequence[Run]) -> str:
    """The response-time axis: the payload of the protocol the runs used, or of both."""
    protocols = {run.echo for run in runs if run.echo}
    if len(protocols) == 1:
        return PAYLOADS.get(next(iter(protocols)), "payload (bytes)")
    return "payload (bytes; ICMP echo or UDP, as each run says)"


PARTS_TITLE = "What the host spends for the largest N, by part"


def _write_parts(plt: Any, runs: Sequence[Run], out: Path, panel: Panel) -> FigureInfo:
    """Stacked bars, one per backend: the instances' own memory, then the engine's parts."""
    series = parts_series(runs, panel)
    backends = backends_of(runs)
    fig, ax = plt.subplots(figsize=(7.0, 4.5), dpi=110)
    bottoms = [0.0] * len(backends)
    for line in series:
        xs = [int(p[0]) for p in line.points]
        heights = [p[1] for p in line.points]
        ax.bar(xs, heights, bottom=[bottoms[x] for x in xs], label=line.label)
        for x, height in zip(xs, heights, strict=True):
            bottoms[x] += height
    ax.set_xticks(range(len(backends)))
    ax.set_xticklabels(backends)
    ax.set_ylabel(panel.ylabel)
    ax.set_title(PARTS_TITLE, fontsize=10)
    if series:
        ax.legend(title="part", fontsize=8)
    else:
        ax.text(0.5, 0.5, "no parts in these runs", ha="center", transform=ax.transAxes)
    fig.tight_layout()
    return save_figure(plt, fig, out / f"{panel.name}_parts.png", PARTS_TITLE, series)


def _trend_unit(runs: Sequence[Run], requirement: str, metric: str) -> str:
    for run in runs:
        for key, record in run.records.items():
            if (key.requirement, key.metric) == (requirement, metric):
                return "ms" if record.unit == "s" else record.unit
    return ""


def save_figure(plt: Any, fig: Any, path: Path, title: str, series: Sequence[Series]) -> FigureInfo:
    """Write ``fig`` as a PNG, close it, and say what is on it.

    Raises:
        NfvUsageError: the file cannot be written.
    """
    try:
        fig.savefig(path, format="png")
    except OSError as exc:
        raise NfvUsageError(f"{path}: cannot write the figure ({exc})") from None
    finally:
        plt.close(fig)
    return FigureInfo(path, title, tuple(series))
