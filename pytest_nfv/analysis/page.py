"""One offline HTML page of saved runs: the figures, the scorecard and every figure's verdict.

A CI artifact is opened by someone who did not run the job, often without the tools to read
JSON. ``index.html`` sits beside the PNG files it shows (relative links, no script or style
from anywhere else), so the report directory opens in any browser, offline, as it is.
A small inline script marks an image that did not load, so a missing figure shows as missing
instead of as a blank space.
"""

from __future__ import annotations

import html
import math
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from pytest_nfv.analysis.history import Record, Run
from pytest_nfv.analysis.scorecard import WHY, cell_text, score
from pytest_nfv.analysis.selection import backends_of, oldest_first
from pytest_nfv.errors import NfvUsageError
from pytest_nfv.model import REQUIREMENTS
from pytest_nfv.units import display_unit, format_value

__all__ = ["render_page", "verdict_of", "write_page"]

_ORDER = ("kept", "blown", "inconclusive", "not judged")
"""The verdict words in the order the plugin's summary counts them."""

_STYLE = """
body { font-family: sans-serif; margin: 2em; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; }
th, td { border: 1px solid #bbb; padding: 0.25em 0.6em; text-align: left; }
table.verdicts td, table.verdicts th { font-size: 0.85em; overflow-wrap: anywhere; }
img { max-width: 100%; height: auto; }
th { background: #eee; }
td.kept { color: #126b12; } td.blown { color: #b00; font-weight: bold; }
td.inconclusive { color: #a60; } td.not-judged { color: #666; }
figure { display: inline-block; margin: 0 1em 1em 0; }
img.missing { outline: 3px solid #b00; min-width: 20em; min-height: 5em; }
"""

_IMAGE_CHECK = """
window.addEventListener("load", function () {
  var images = document.querySelectorAll("img"), loaded = 0;
  images.forEach(function (img) {
    if (img.complete && img.naturalWidth > 0) { loaded += 1; }
    else { img.classList.add("missing"); img.alt = "missing figure: " + img.getAttribute("src"); }
  });
  document.body.setAttribute("data-images", loaded + "/" + images.length);
  document.body.setAttribute("data-width", document.documentElement.scrollWidth);
});
"""


def verdict_of(record: Record) -> str:
    """The record's budget verdict: the one the run wrote, else derived from its limit."""
    if record.verdict is not None:
        return record.verdict
    within = record.within_budget
    return "not judged" if within is None else ("kept" if within else "blown")


def _e(text: object) -> str:
    return html.escape(str(text))


def _figure_text(record: Record) -> str:
    unit = display_unit(record.unit, record.mean)
    text = format_value(record.mean, unit)
    half = record.ci_half_width
    if half is not None and math.isfinite(half):
        text += f" ± {format_value(half, unit)}"
    return text


def _distribution_text(record: Record) -> str:
    """``p50/p90/p99/p99.9/max 71/95/160/240/310 µs (n=412)`` for a round-trip figure."""
    table = dict(record.percentiles or {})
    count = table.pop("n", None)
    if not table:
        return "-"
    unit = display_unit(record.unit, table.get("p50", record.mean))
    values = "/".join(format_value(v, unit).rsplit(" ", 1)[0] for v in table.values())
    shown_unit = format_value(0.0, unit).rsplit(" ", 1)[-1]
    counted = "" if count is None else f" (n={count:g})"
    return f"{'/'.join(table)} {values} {shown_unit}{counted}"


def _budget_text(record: Record) -> str:
    if record.budget_limit is None:
        return "-"
    unit = display_unit(record.unit, record.budget_limit)
    return f"{record.budget_statistic or 'mean'} ≤ {format_value(record.budget_limit, unit)}"


def _table(head: Sequence[str], rows: Sequence[Sequence[str]], classes: str = "") -> list[str]:
    out = [f'<table class="{classes}">' if classes else "<table>", "<tr>"]
    out += [f"<th>{_e(h)}</th>" for h in head]
    out.append("</tr>")
    for row in rows:
        out.append("<tr>" + "".join(row) + "</tr>")
    out.append("</table>")
    return out


def _scorecard(runs: Sequence[Run]) -> list[str]:
    backends = backends_of(runs)
    verdicts = [score(runs, r) for r in REQUIREMENTS]
    summary = [
        [
            f"<td>{_e(v.requirement)}</td>",
            f"<td>{_e(v.best or ('none' if v.rows else '-'))}</td>",
            f"<td>{_e(v.reason)}</td>",
        ]
        for v in verdicts
    ]
    out = ["<h2>Scorecard: which backend fits each requirement</h2>"]
    out += _table(["requirement", "fits best", "why"], summary, "scorecard")
    for v in verdicts:
        out.append(
            f"<h3>{_e(v.requirement)}</h3><p>Why these figures: {_e(WHY[v.requirement])}.</p>"
        )
        rows = []
        for figure, where, cells in v.rows:
            label = figure.label + (f" ({where})" if where else "")
            rows.append(
                [f"<td>{_e(label)}</td>"]
                + [f"<td>{_e(cell_text(cells.get(b)))}</td>" for b in backends]
            )
        status = [f"<td>{_e(v.budgets[b].describe())}</td>" for b in backends]
        rows.append(["<td>budgets</td>", *status])
        out += _table(["figure", *backends], rows)
    return out


def _verdicts(runs: Sequence[Run]) -> list[str]:
    head = [
        "run",
        "requirement",
        "metric",
        "backend",
        "N",
        "size",
        "mean ± 95% CI",
        "rounds",
        "converged",
        "p50/p90/p99/p99.9/max",
        "budget",
        "verdict",
    ]
    rows = []
    counts: Counter[str] = Counter()
    for number, run in enumerate(oldest_first(runs), start=1):
        for key, record in sorted(run.records.items()):
            verdict = verdict_of(record)
            counts[verdict] += 1
            converged = "-" if record.converged is None else ("yes" if record.converged else "no")
            cells = [
                str(number),
                key.requirement,
                key.metric,
                key.backend,
                "-" if key.n is None else str(key.n),
                "-" if key.size is None else f"{key.size} B",
                _figure_text(record),
                str(len(record.samples)),
                converged,
                _distribution_text(record),
                _budget_text(record),
            ]
            rows.append(
                [f"<td>{_e(c)}</td>" for c in cells]
                + [f'<td class="{verdict.replace(" ", "-")}">{_e(verdict)}</td>']
            )
    words = [w for w in _ORDER if counts[w]] + sorted(set(counts) - set(_ORDER))
    tally = ", ".join(f"{counts[w]} {w}" for w in words) or "no figures"
    out = ["<h2>Every figure and its budget verdict</h2>", f"<p>{_e(tally)}.</p>"]
    return out + _table(head, rows, "verdicts")


def render_page(runs: Sequence[Run], figures: Sequence[tuple[str, str]]) -> str:
    """The page as text; ``figures`` are ``(file name beside the page, title)`` pairs."""
    described = "; ".join(
        f"{number}: {r.label} ({', '.join(r.backends)}, {r.datetime or 'no date'})"
        for number, r in enumerate(oldest_first(runs), start=1)
    )
    out = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        "<title>pytest-nfv report</title>",
        f"<style>{_STYLE}</style>",
        f"<script>{_IMAGE_CHECK}</script>",
        "</head><body>",
        "<h1>pytest-nfv report</h1>",
        f"<p>Runs: {_e(described)}. Lower is better; mean ± 95% CI half-width.</p>",
        "<h2>Figures</h2>",
    ]
    if figures:
        for name, title in figures:
            out.append(
                f'<figure><img src="{_e(name)}" alt="{_e(title)}">'
                f"<figcaption>{_e(title)}</figcaption></figure>"
            )
    else:
        out.append("<p>No figures: written without matplotlib (--no-figures).</p>")
    out += _scorecard(runs)
    out += _verdicts(runs)
    out.append("</body></html>")
    return "\n".join(out) + "\n"


def write_page(runs: Sequence[Run], out: Path, figures: Sequence[tuple[str, str]]) -> Path:
    """Write ``index.html`` into ``out`` (which holds the figures) and return its path.

    Raises:
        NfvUsageError: the page cannot be written.
    """
    path = out / "index.html"
    try:
        path.write_text(render_page(runs, figures), encoding="utf-8")
    except OSError as exc:
        raise NfvUsageError(f"{path}: cannot write the page ({exc})") from None
    return path
