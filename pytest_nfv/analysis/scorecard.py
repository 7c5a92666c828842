"""Which backend fits which management requirement: section V of the paper as a table.

The paper maps its three metrics onto four requirements and reasons per requirement: boot time
and memory for instantiation, (re)configuration time and memory for deployment, response time
for monitoring, memory and response time side by side for coexistence. The scorecard does the
same with the figures of saved runs: for each requirement, each backend's figures at the
largest N / packet size every backend measured, whether the backend kept its budgets, and the
backend that fits best.

"Best" is decided plainly, so a reader can redo it: on each figure a backend ranks 1 plus the
number of backends that are lower *beyond both confidence intervals* (a difference inside the
noise is a tie, as it should be; "better" is lower unless the figure's record says higher);
the backend with the lowest sum of ranks among those within their budgets wins. Which figures
a requirement is judged on comes from the records themselves (each carries its metric's role,
label and axis), so a metric added to the catalogue joins the table with no change here.
Migration is ranked like any figure where runs measured it, and the paper's claims about it
are judged after the tables (``claims``); qualities the numbers cannot show (tooling, a shell
in the guest), which the paper weighs too, are left to the reader.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from pytest_nfv.analysis.claims import judge_all, render_claims
from pytest_nfv.analysis.history import Record, Run
from pytest_nfv.analysis.selection import backends_of, newest_first, newest_records, oldest_first
from pytest_nfv.model import METRICS, REQUIREMENTS
from pytest_nfv.units import display_unit, format_value

__all__ = ["WHY", "Figure", "Verdict", "cell_text", "figures_of", "render_scorecard", "score"]


@dataclass(frozen=True)
class Figure:
    """A figure a requirement is judged on; ``at`` picks the largest common N or size."""

    requirement: str
    metric: str
    label: str
    at: str | None = None  # "n", "size" or None
    fallback: str | None = None
    """The metric taken for a backend whose runs lack ``metric`` (the host's memory reading
    where the kernel accounts nothing)."""


def figures_of(runs: Sequence[Run], requirement: str) -> tuple[Figure, ...]:
    """The figures ``requirement`` is judged on: every primary metric its records hold, each
    with the secondary metric that stands in for it where a backend lacks it.

    What a metric is comes from its record (``Record.figure``), so a metric the catalogue
    gained since is scored like the others; rows follow the catalogue's order, then names.
    """
    primaries: dict[str, Figure] = {}
    stand_ins: dict[str, tuple[str, str, str | None]] = {}
    for run in runs:
        for key, record in sorted(run.records.items()):
            figure = record.figure
            if key.requirement != requirement:
                continue
            if figure.role == "primary":
                primaries.setdefault(
                    key.metric, Figure(requirement, key.metric, figure.label, figure.axis)
                )
            elif figure.role == "secondary" and figure.stands_in_for:
                stand_ins.setdefault(figure.stands_in_for, (key.metric, figure.label, figure.axis))
    for metric, (stand_in, label, axis) in stand_ins.items():
        shown = primaries.get(metric, Figure(requirement, metric, label, axis))
        primaries[metric] = replace(shown, fallback=stand_in)
    order = list(METRICS.get(requirement, {}))
    return tuple(
        primaries[m]
        for m in sorted(primaries, key=lambda m: (order.index(m) if m in order else len(order), m))
    )


WHY = {
    "instantiation": "instances must come up fast, and the operator must know the memory "
    "each one takes before placing it (V-A)",
    "deployment": "placing and reconfiguring a VNF must be quick and cheap in memory (V-B)",
    "monitoring": "a VNF's response time bounds how fast its state can be read (V-C)",
    "coexistence": "memory decides how many VNFs share a server; response time how well "
    "they serve each other (V-D)",
}


@dataclass(frozen=True)
class Cell:
    record: Record
    where: str  # "N=16", "65507B", ""


@dataclass(frozen=True)
class BudgetStatus:
    """A backend's budget verdicts for one requirement: inconclusive is not blown."""

    kept: int = 0
    blown: int = 0
    inconclusive: int = 0

    @property
    def judged(self) -> int:
        return self.kept + self.blown + self.inconclusive

    def describe(self) -> str:
        if not self.judged:
            return "no budgets"
        text = f"{self.kept}/{self.judged} kept"
        if self.blown:
            text += f", {self.blown} blown"
        if self.inconclusive:
            text += f", {self.inconclusive} inconclusive"
        return text


@dataclass(frozen=True)
class Verdict:
    """The scorecard of one requirement."""

    requirement: str
    rows: tuple[tuple[Figure, str, dict[str, Cell]], ...]
    budgets: dict[str, BudgetStatus]
    ranks: dict[str, int]
    best: str | None
    reason: str


def _candidates(runs: Sequence[Run], backend: str, figure: Figure) -> list[Record]:
    for metric in (figure.metric, figure.fallback):
        found = newest_records(runs, backend, figure.requirement, metric) if metric else None
        if found:
            return found[1]
    return []


def _budget_status(runs: Sequence[Run], backend: str, requirement: str) -> BudgetStatus:
    """The verdicts of the newest run of ``backend`` that has ``requirement``."""
    for run in newest_first(runs):
        records = [
            r
            for k, r in run.records.items()
            if k.backend == backend and k.requirement == requirement
        ]
        if records:
            verdicts = [
                r.verdict
                if r.verdict in ("kept", "blown", "inconclusive")
                else {True: "kept", False: "blown", None: None}[r.within_budget]
                for r in records
            ]
            return BudgetStatus(
                verdicts.count("kept"), verdicts.count("blown"), verdicts.count("inconclusive")
            )
    return BudgetStatus()


def _pick(figure: Figure, by_backend: dict[str, list[Record]]) -> tuple[str, dict[str, Cell]]:
    """Each backend's record at the largest N (or size) that every backend measured."""
    if figure.at is None:
        return "", {b: Cell(rs[0], "") for b, rs in by_backend.items() if rs}
    attr = figure.at
    measured = [{getattr(r.key, attr) for r in rs} - {None} for rs in by_backend.values() if rs]
    common: set[int] = set.intersection(*measured) if measured else set()
    if not common:
        return "", {}
    at = max(common)
    where = f"N={at}" if attr == "n" else f"{at}B"
    cells = {}
    for backend, records in by_backend.items():
        # at one N, coexistence has a response time per size: take the largest size
        chosen = sorted(
            (r for r in records if getattr(r.key, attr) == at), key=lambda r: r.key.size or 0
        )
        if chosen:
            cells[backend] = Cell(chosen[-1], where)
    sizes = [c.record.key.size for c in cells.values() if c.record.key.size is not None]
    if attr == "n" and sizes:
        where += f", {max(sizes)}B"
    return where, cells


def _rank(cells: dict[str, Cell]) -> dict[str, int]:
    """1 plus the number of backends better beyond both intervals, in the direction each
    record says its metric improves (lower, unless it is a figure like a throughput)."""

    def bounds(c: Cell) -> tuple[float, float]:
        half = c.record.ci_half_width or 0.0
        low, high = c.record.mean - half, c.record.mean + half
        return (low, high) if c.record.figure.lower_is_better else (-high, -low)

    ranks = {}
    for backend, cell in cells.items():
        low, _ = bounds(cell)
        ranks[backend] = 1 + sum(
            1 for other, c in cells.items() if other != backend and bounds(c)[1] < low
        )
    return ranks


def score(runs: Sequence[Run], requirement: str) -> Verdict:
    """The scorecard of ``requirement``: each figure from the newest run that measured it."""
    backends = backends_of(runs)
    rows = []
    totals = dict.fromkeys(backends, 0)
    for figure in figures_of(runs, requirement):
        by_backend = {b: _candidates(runs, b, figure) for b in backends}
        where, cells = _pick(figure, by_backend)
        if not cells:
            continue
        rows.append((figure, where, cells))
        for backend, rank in _rank(cells).items():
            totals[backend] += rank
        for backend in backends:
            if backend not in cells:
                totals[backend] += len(backends)  # not measured: ranks last
    budgets = {b: _budget_status(runs, b, requirement) for b in backends}
    eligible = [b for b in backends if not budgets[b].blown]
    if not rows:
        return Verdict(requirement, (), budgets, {}, None, "no figures for it in these runs")
    if not eligible:  # naming a winner among backends that all failed would read as a fit
        over = ", ".join(backends)
        return Verdict(
            requirement, tuple(rows), budgets, totals, None, f"none within budget ({over})"
        )
    best = min(eligible, key=lambda b: (totals[b], b))
    if len(backends) == 1:
        reason = "the only backend in these runs"
    else:
        firsts = sum(1 for _, _, cells in rows if _rank(cells).get(best) == 1)
        reason = f"best or tied-best on {firsts} of {len(rows)} figures"
        if eligible != backends:
            reason += f"; over budget: {', '.join(b for b in backends if b not in eligible)}"
    if budgets[best].inconclusive:  # not blown, not proven either: the reader should know
        reason += f"; {budgets[best].inconclusive} of its budgets inconclusive"
    return Verdict(requirement, tuple(rows), budgets, totals, best, reason)


def cell_text(cell: Cell | None) -> str:
    """A scorecard cell: mean ± CI in a readable unit, flagged when not within budget."""
    if cell is None:
        return "-"
    record = cell.record
    unit = display_unit(record.unit, record.mean)
    text = format_value(record.mean, unit)
    if record.ci_half_width is not None:
        text += f" ± {format_value(record.ci_half_width, unit)}"
    if record.verdict == "inconclusive":
        return text + " (budget inconclusive)"
    flag = record.within_budget
    return text + (" (over budget)" if flag is False else "")


def render_scorecard(runs: Sequence[Run]) -> str:
    """The scorecard as Markdown: a summary table, then one table per requirement."""
    backends = backends_of(runs)
    verdicts = [score(runs, requirement) for requirement in REQUIREMENTS]
    ordered = oldest_first(runs)
    lines = [
        "# NFV management requirements: which backend fits",
        "",
        "Runs: "
        + ", ".join(
            f"{r.label} ({', '.join(r.backends)}, {r.datetime or 'no date'})" for r in ordered
        )
        + ". Each figure comes from the newest run that measured it. Lower is better unless "
        "a figure says otherwise; mean ± 95% CI half-width.",
        "",
        "| requirement | fits best | why |",
        "| --- | --- | --- |",
    ]
    for v in verdicts:
        best = v.best or ("none" if v.rows else "-")
        lines.append(f"| {v.requirement} | {best} | {v.reason} |")
    for v in verdicts:
        lines += ["", f"## {v.requirement}", "", f"Why these figures: {WHY[v.requirement]}.", ""]
        lines.append("| figure | " + " | ".join(backends) + " |")
        lines.append("| --- |" + " --- |" * len(backends))
        for figure, where, cells in v.rows:
            label = figure.label + (f" ({where})" if where else "")
            lines.append(
                f"| {label} | " + " | ".join(cell_text(cells.get(b)) for b in backends) + " |"
            )
        lines.append("| budgets | " + " | ".join(v.budgets[b].describe() for b in backends) + " |")
        lines += ["", f"**Fits best: {v.best or 'none'}** ({v.reason})."]
    lines += render_claims(judge_all(runs))
    return "\n".join(lines) + "\n"
